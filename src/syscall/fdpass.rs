//! SCM_RIGHTS, the one way outlet passes a descriptor over a unix socket:
//! the pty master to a console socket (create, restore), the seccomp
//! notify fd to a listener, and the receiving side of `run`'s own console
//! socket. One fd per message, with a short payload naming it.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

/// One sendmsg carrying `data` and `fd`; the count of `data`'s bytes the
/// socket took (on a stream socket the caller sends any rest itself: the
/// fd already went with the first byte). The control message is built on
/// the stack: the init sends a seccomp listener its notify fd after its
/// filter is in, when nothing may allocate (the filter may deny brk and
/// mmap), and nix's `sendmsg` puts the control message in a `Vec`.
pub fn send_fd(
    sock: BorrowedFd,
    data: &[u8],
    fd: BorrowedFd,
    flags: MsgFlags,
) -> nix::Result<usize> {
    /// Room for CMSG_SPACE(one int) (24 bytes on 64-bit Linux), aligned
    /// as a `cmsghdr` must be.
    #[repr(C, align(8))]
    struct Space([u8; 32]);
    let mut space = Space([0; 32]);
    let raw = fd.as_raw_fd();
    let fd_len = std::mem::size_of_val(&raw) as libc::c_uint;
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data (pointers and integers, padding on
    // musl), for which all zeroes is a valid empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(fd_len) } as _;
    debug_assert!(msg.msg_controllen as usize <= std::mem::size_of::<Space>());
    // SAFETY: msg_control points at `space`, aligned for cmsghdr and at
    // least msg_controllen bytes long, so the first header and its data
    // (CMSG_LEN(int) <= CMSG_SPACE(int)) lie inside it; the fd is written
    // unaligned as CMSG_DATA does not promise an int's alignment.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fd_len) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), raw);
    }
    // SAFETY: msg and everything it points to (iov, data, space) live
    // across the call, which only reads them.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags.bits()) };
    nix::errno::Errno::result(n).map(|n| n as usize)
}

/// One message into `buf` (the payload's length is returned with the
/// fd), keeping the first fd it carries, received close-on-exec. Any
/// further fd in the same message is closed rather than leaked.
pub fn recv_fd(sock: BorrowedFd, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut first = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel just installed this fd for us; nothing
                // else owns it, and it is wrapped once.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                if first.is_none() {
                    first = Some(owned);
                }
            }
        }
    }
    Ok((msg.bytes, first))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;

    use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, socketpair};

    use super::{recv_fd, send_fd};

    #[test]
    fn the_fd_and_the_payload_arrive_together() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let n = send_fd(a.as_fd(), b"hello", file.as_fd(), MsgFlags::empty()).unwrap();
        assert_eq!(n, 5);
        let mut buf = [0u8; 16];
        let (got, fd) = recv_fd(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..got], b"hello");
        let fd = std::fs::File::from(fd.expect("an fd came with the message"));
        let (want, seen) = (file.metadata().unwrap(), fd.metadata().unwrap());
        assert_eq!((seen.dev(), seen.ino()), (want.dev(), want.ino()));
        // A second fd number for the same open file, not a copy of ours.
        assert_ne!(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            std::os::fd::AsRawFd::as_raw_fd(&file)
        );
    }
}

//! SCM_RIGHTS, the one way outlet passes a descriptor over a unix socket:
//! the pty master to a console socket (create, restore), the seccomp
//! notify fd to a listener, and the receiving side of `run`'s own console
//! socket. One fd per message, with a short payload naming it.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// One sendmsg carrying `data` and `fd`; the count of `data`'s bytes the
/// socket took (on a stream socket the caller sends any rest itself: the
/// fd already went with the first byte).
pub fn send_fd(
    sock: BorrowedFd,
    data: &[u8],
    fd: BorrowedFd,
    flags: MsgFlags,
) -> nix::Result<usize> {
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(data)],
        &[ControlMessage::ScmRights(&fds)],
        flags,
        None,
    )
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

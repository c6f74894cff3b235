//! The test's side of a seccomp notify listener (`linux.seccomp.
//! listenerPath`): accept the runtime's connection, read its message and
//! the notify fd, and answer the notified calls.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Accept one connection within `limit` (a listener that is never called
/// must fail the test, not hang it).
pub fn accept_within(l: &UnixListener, limit: Duration) -> Option<UnixStream> {
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + limit;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return Some(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// One message and the fds that came with it as SCM_RIGHTS, within
/// `limit`.
pub fn try_recv_with_fds(
    sock: &UnixStream,
    limit: Duration,
) -> nix::Result<(Vec<u8>, Vec<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    sock.set_read_timeout(Some(limit.max(Duration::from_millis(1))))
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(v) = c {
            // SAFETY: the kernel just installed these fds in this process;
            // nothing else owns them.
            fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let n = msg.bytes;
    buf.truncate(n);
    Ok((buf, fds))
}

/// As `try_recv_with_fds`, within 10 s or the test fails.
pub fn recv_with_fds(sock: &UnixStream) -> (Vec<u8>, Vec<OwnedFd>) {
    try_recv_with_fds(sock, Duration::from_secs(10)).expect("recvmsg from the runtime")
}

/// How the listener answers every notified call.
#[derive(Clone, Copy)]
pub enum Answer {
    /// Let the call go on in the kernel.
    Continue,
    /// Fail it with this errno.
    Errno(i32),
}

/// Answer every notification on `fd` until `stop`; returns the syscall
/// names seen.
pub fn answer_all(fd: OwnedFd, answer: Answer, stop: Arc<AtomicBool>) -> Vec<String> {
    let mut seen = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd, for the call.
        let n = unsafe { libc::poll(&mut p, 1, 20) };
        if n <= 0 || p.revents & libc::POLLIN == 0 {
            continue;
        }
        let Ok(req) = libseccomp::ScmpNotifReq::receive(fd.as_raw_fd()) else {
            continue;
        };
        seen.push(req.data.syscall.get_name().unwrap_or_default());
        let flags = libseccomp::ScmpNotifRespFlags::empty();
        let resp = match answer {
            Answer::Continue => libseccomp::ScmpNotifResp::new_continue(req.id, flags),
            Answer::Errno(errno) => libseccomp::ScmpNotifResp::new_error(req.id, -errno, flags),
        };
        // The container may be gone by now (ENOENT): not the test's concern.
        let _ = resp.respond(fd.as_raw_fd());
    }
    seen
}

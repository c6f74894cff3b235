//! The sync protocol between `outlet create` and the container's init, over a
//! SOCK_SEQPACKET socketpair (one message per send, never merged or split).
//!
//! child -> parent: `U` its user namespace exists (or none is needed): map it
//!                  and place it in its cgroup;
//!                  `H` mounts are done: run prestart/createRuntime hooks;
//!                  `R` ready, about to block on exec.fifo;
//!                  `E<message>` setup failed, the init exits.
//! parent -> child: `G<pid>` go on (the payload is the init's host pid);
//!                  after `R`: the container is recorded (state.json, pid
//!                  file), so the init may turn its death signal off; it
//!                  then closes its end, which `create` waits for.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result, bail};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};

pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the init sync")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

pub enum Msg {
    UserNs,
    Hooks,
    Ready,
    Error(String),
    Go(i32),
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let buf: Vec<u8> = match msg {
            Msg::UserNs => b"U".to_vec(),
            Msg::Hooks => b"H".to_vec(),
            Msg::Ready => b"R".to_vec(),
            Msg::Error(m) => {
                let mut v = b"E".to_vec();
                // A SEQPACKET message has a size limit; messages are short.
                v.extend_from_slice(&m.as_bytes()[..m.len().min(60_000)]);
                v
            }
            Msg::Go(pid) => format!("G{pid}").into_bytes(),
        };
        // SAFETY: buf is valid for its length; the fd is ours.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error()).context("sync: send");
        }
        Ok(())
    }

    /// None when the other side closed its end (it exited).
    pub fn recv(&self) -> Result<Option<Msg>> {
        // Room for the longest message, not zeroed: only what the kernel
        // writes is touched (a zeroed 64 KiB buffer cost both processes a
        // memset and 16 page faults per message).
        let mut buf: Vec<u8> = Vec::with_capacity(65_536);
        let n = loop {
            // SAFETY: the pointer is valid for writes of the capacity; recv
            // initialises the first n bytes, and only those are read below.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.capacity(),
                    0,
                )
            };
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break n;
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            // A peer that died with our last message unread (an init the
            // OOM killer took during setup) resets the connection: that is
            // its exit, as EOF is, and the caller explains it as one.
            if e.raw_os_error() == Some(libc::ECONNRESET) {
                return Ok(None);
            }
            return Err(e).context("sync: recv");
        }
        // SAFETY: recv wrote n (<= capacity) bytes.
        unsafe { buf.set_len(n as usize) };
        if n == 0 {
            return Ok(None);
        }
        let payload = String::from_utf8_lossy(&buf[1..]).into_owned();
        Ok(Some(match buf[0] {
            b'U' => Msg::UserNs,
            b'H' => Msg::Hooks,
            b'R' => Msg::Ready,
            b'E' => Msg::Error(payload),
            b'G' => Msg::Go(payload.parse().unwrap_or(0)),
            other => bail!("sync: unexpected message {:?}", other as char),
        }))
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

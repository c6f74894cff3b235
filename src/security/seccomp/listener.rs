//! SCMP_ACT_NOTIFY: the connection to `listenerPath`, and the message that
//! hands the listener the notify fd with the container's state.

use std::cell::Cell;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::sys::socket::{MsgFlags, send};

use super::Prepared;

/// Where to send the notify fd, and the connection once made. The
/// connection is taken (and closed) by `load` once the fd has gone, through
/// a shared reference: the init holds `Prepared` only by `&`, and must not
/// keep a socket of the host's while it waits for `start`.
pub(super) struct Listener {
    pub(super) path: PathBuf,
    pub(super) metadata: String,
    pub(super) conn: Cell<Option<OwnedFd>>,
    /// The host pid of the process loading the filter when it is not the
    /// state's (an `exec`'d process): runc sends that process's pid.
    pub(super) process_pid: Cell<Option<i32>>,
}

impl Prepared {
    /// The pid the listener's message names (`pid`, the process the notify
    /// fd filters) when it is not the state's `pid` (the init's): an
    /// `exec`'d process's host pid, which it cannot learn itself inside
    /// the container's pid namespace.
    pub fn set_process_pid(&self, pid: i32) {
        if let Some(l) = &self.listener {
            l.process_pid.set(Some(pid));
        }
    }

    /// Connect to `listenerPath` now, while the host path is reachable: in
    /// the parent before clone (the init inherits the socket) or in the init
    /// before pivot_root. The socket is O_CLOEXEC and closed by `load`; keep
    /// it out of any "close fds above 2" sweep that runs before `load`.
    pub fn connect_listener(&mut self) -> Result<()> {
        let Some(l) = self.listener.as_mut() else {
            return Ok(());
        };
        let conn = l.conn.get_mut();
        if conn.is_none() {
            *conn = Some(connect(&l.path)?);
        }
        Ok(())
    }

    /// Close this process's copy of the listener connection: the parent's,
    /// once the init has inherited it, so that the listener sees the
    /// connection end as soon as the init has sent the fd and closed its own.
    pub fn close_listener(&self) {
        if let Some(l) = &self.listener {
            drop(l.conn.take());
        }
    }

    /// The raw fd of the listener connection, for the caller's fd sweep.
    pub fn listener_fd(&self) -> Option<i32> {
        let l = self.listener.as_ref()?;
        let conn = l.conn.take();
        let fd = conn.as_ref().map(|c| c.as_raw_fd());
        l.conn.set(conn);
        fd
    }
}

/// The runtime-spec's "container process state", sent to the listener.
/// `pid` is the process's that loads the filter; the state's (the init's)
/// when None.
pub(super) fn process_state(state_json: &str, metadata: &str, pid: Option<i32>) -> Result<String> {
    let state: serde_json::Value =
        serde_json::from_str(state_json).context("linux.seccomp: container state is not JSON")?;
    let pid = match pid {
        Some(p) => serde_json::Value::from(p),
        None => state
            .get("pid")
            .cloned()
            .unwrap_or(serde_json::Value::from(0)),
    };
    Ok(serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata,
        "state": state,
    })
    .to_string())
}

pub(super) fn connect(path: &Path) -> Result<OwnedFd> {
    let sock = std::os::unix::net::UnixStream::connect(path).with_context(|| {
        format!(
            "linux.seccomp.listenerPath: connecting to {}",
            path.display()
        )
    })?;
    Ok(OwnedFd::from(sock))
}

/// `data` with the fd as SCM_RIGHTS, all of it: a listener reads the
/// state JSON to its end.
pub(super) fn send_fd(sock: BorrowedFd, data: &[u8], fd: BorrowedFd) -> std::io::Result<()> {
    let n = crate::syscall::fdpass::send_fd(sock, data, fd, MsgFlags::MSG_NOSIGNAL)?;
    // A stream socket may take the rest in more writes; the fd already
    // went with the first byte.
    let mut rest = &data[n..];
    while !rest.is_empty() {
        let m = send(sock.as_raw_fd(), rest, MsgFlags::MSG_NOSIGNAL)?;
        rest = &rest[m..];
    }
    Ok(())
}

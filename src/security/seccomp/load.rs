//! Loading the compiled filter in the init: one seccomp(2) call, then the
//! notify fd to the listener when the profile has one.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, anyhow};

use super::Prepared;
use super::listener::{connect, process_state, send_fd};
use crate::syscall::security::{SECCOMP_FILTER_FLAG_NEW_LISTENER, seccomp_set_mode_filter};

impl Prepared {
    /// Load the filter into the calling process. `state_json` is the OCI
    /// state, sent with the notify fd to `listenerPath` when the profile
    /// uses SCMP_ACT_NOTIFY; the connection is closed once it has gone, and
    /// so is our copy of the notify fd (a listener that has closed its own
    /// then makes notified syscalls fail with ENOSYS instead of hanging).
    pub fn load(&self, state_json: &str) -> Result<()> {
        let conn = match &self.listener {
            None => None,
            // Not connected earlier: connect now, before the filter could
            // forbid connect(2).
            Some(l) => Some(match l.conn.take() {
                Some(c) => c,
                None => connect(&l.path)?,
            }),
        };
        let message = match &self.listener {
            Some(l) => Some(process_state(state_json, &l.metadata, l.process_pid.get())?),
            None => None,
        };
        let mut flags = self.flags;
        if self.listener.is_some() {
            flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        }
        let notify_fd = install(&self.program, flags)?;
        if let (Some(fd), Some(conn), Some(msg)) = (notify_fd, &conn, message) {
            send_fd(conn.as_fd(), msg.as_bytes(), fd.as_fd()).with_context(|| {
                format!(
                    "linux.seccomp.listenerPath: sending the notify fd to {}",
                    self.listener_path().unwrap_or(Path::new("")).display()
                )
            })?;
        }
        drop(conn);
        Ok(())
    }
}

/// seccomp(SECCOMP_SET_MODE_FILTER): the notify fd when NEW_LISTENER is set.
fn install(program: &[libc::sock_filter], flags: u32) -> Result<Option<OwnedFd>> {
    match seccomp_set_mode_filter(program, flags) {
        Ok(fd) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => Err(anyhow!(
            "linux.seccomp: loading the filter: {e}: the kernel needs no_new_privs or \
             CAP_SYS_ADMIN; with process.noNewPrivileges false the filter must be loaded \
             before the capabilities drop CAP_SYS_ADMIN"
        )),
        Err(e) => {
            Err(e).with_context(|| format!("linux.seccomp: loading the filter (flags {flags:#x})"))
        }
    }
}

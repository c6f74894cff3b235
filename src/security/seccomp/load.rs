//! Loading the compiled filter in the init: one seccomp(2) call, then the
//! notify fd to the listener when the profile has one.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, anyhow};

use super::Prepared;
use super::listener::{connect, process_state, send_fd};

// <linux/seccomp.h>
const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;

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
            Some(l) => Some(process_state(state_json, &l.metadata)?),
            None => None,
        };
        let mut flags = self.flags;
        if self.listener.is_some() {
            flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        }
        let notify_fd = install(&self.program, flags)?;
        if let (Some(fd), Some(conn), Some(msg)) = (notify_fd, &conn, message) {
            send_fd(conn.as_raw_fd(), msg.as_bytes(), fd.as_raw_fd()).with_context(|| {
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
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies `prog.len` instructions from `prog.filter`,
    // which points into `program`, alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EACCES) {
            return Err(anyhow!(
                "linux.seccomp: loading the filter: {e}: the kernel needs no_new_privs or \
                 CAP_SYS_ADMIN; with process.noNewPrivileges false the filter must be loaded \
                 before the capabilities drop CAP_SYS_ADMIN"
            ));
        }
        return Err(e)
            .with_context(|| format!("linux.seccomp: loading the filter (flags {flags:#x})"));
    }
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the return value is a new fd we own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
    }
    Ok(None)
}

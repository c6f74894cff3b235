//! `kill`: signal the init through a pidfd checked against the recorded start
//! time (a recycled pid is never signalled), or every process of the cgroup.
//! After SIGKILL it waits (bounded) for the init to be gone, so that the
//! container reads `stopped` as soon as `kill` returns: callers run
//! `delete` (without --force) right after.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::cgroups::Cgroup;
use crate::state::{State, Status};
use crate::syscall;

/// How long `kill ... KILL` waits for the init to die: longer only for a
/// task stuck in an uninterruptible sleep, which then is not `stopped` yet.
const KILL_WAIT: Duration = Duration::from_secs(5);

pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let mut c = super::load(root, id)?;
    let init = if all {
        // Works after the init has exited too: what is left in the cgroup
        // still gets the signal.
        let cg = Cgroup::from_paths(c.state.cgroup.clone());
        if c.status == Status::Stopped && cg.pids().unwrap_or_default().is_empty() {
            bail!("container not running: {id}");
        }
        // Opened before the signal, so that the fd is our init's.
        let init = if c.status == Status::Stopped {
            None
        } else {
            open_init(&c.state).ok()
        };
        cg.kill_all(signal)
            .with_context(|| format!("signal {signal} to every process of {id}"))?;
        init
    } else {
        if c.status == Status::Stopped {
            bail!("container not running: {id}");
        }
        Some(signal_init(&c.state, signal)?)
    };
    // A frozen task acts on SIGKILL only once thawed (cgroup v1): waiting
    // would only delay. The lock is not held while waiting on the init.
    if signal == libc::SIGKILL
        && c.status != Status::Paused
        && let Some(pidfd) = init
    {
        c.dir.unlock();
        crate::logging::debug(|| format!("kill {id}: waiting for the init to exit"));
        if !wait_exit(&pidfd, KILL_WAIT)? {
            crate::logging::warn(&format!(
                "container {id}: the init has not exited {}s after SIGKILL",
                KILL_WAIT.as_secs()
            ));
        }
    }
    Ok(())
}

/// A pidfd of the init, checked to be ours: the pidfd pins the process, so
/// if the start time still matches after opening it, the fd refers to our
/// init and not to a process that reused its pid.
fn open_init(state: &State) -> Result<OwnedFd> {
    let pidfd = match syscall::pidfd_open(state.pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
            bail!("container not running: {}", state.id)
        }
        Err(e) => return Err(e).context("pidfd_open"),
    };
    if !crate::state::init_alive(state) {
        bail!("container not running: {}", state.id);
    }
    Ok(pidfd)
}

/// Signals the init; returns its pidfd.
pub fn signal_init(state: &State, signal: i32) -> Result<OwnedFd> {
    let pidfd = open_init(state)?;
    syscall::pidfd_send_signal(&pidfd, signal).map_err(|e| {
        if e.raw_os_error() == Some(libc::ESRCH) {
            anyhow::anyhow!("container not running: {}: no such process", state.id)
        } else {
            anyhow::Error::new(e).context(format!("send signal {signal} to {}", state.id))
        }
    })?;
    Ok(pidfd)
}

/// Waits until the process of `pidfd` has exited (a pidfd polls readable
/// then); false if it has not within `limit`.
pub fn wait_exit(pidfd: &OwnedFd, limit: Duration) -> Result<bool> {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(limit).unwrap_or(PollTimeout::MAX);
    loop {
        match poll(&mut fds, timeout) {
            Ok(n) => return Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll the init's pidfd"),
        }
    }
}

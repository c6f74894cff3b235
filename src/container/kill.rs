//! `kill`: signal the init through a pidfd checked against the recorded start
//! time (a recycled pid is never signalled), or every process of the cgroup.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cgroups::Cgroup;
use crate::state::{State, Status};
use crate::syscall;

pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let c = super::load(root, id)?;
    if all {
        // Works after the init has exited too: what is left in the cgroup
        // still gets the signal.
        let cg = Cgroup::from_paths(c.state.cgroup.clone());
        if c.status == Status::Stopped && cg.pids().unwrap_or_default().is_empty() {
            bail!("container not running: {id}");
        }
        return cg
            .kill_all(signal)
            .with_context(|| format!("signal {signal} to every process of {id}"));
    }
    if c.status == Status::Stopped {
        bail!("container not running: {id}");
    }
    signal_init(&c.state, signal)
}

pub fn signal_init(state: &State, signal: i32) -> Result<()> {
    let pidfd = match syscall::pidfd_open(state.pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
            bail!("container not running: {}", state.id)
        }
        Err(e) => return Err(e).context("pidfd_open"),
    };
    // The pidfd pins the process: if the start time still matches now, the
    // fd refers to our init and not to a process that reused its pid.
    if !crate::state::init_alive(state) {
        bail!("container not running: {}", state.id);
    }
    syscall::pidfd_send_signal(&pidfd, signal).map_err(|e| {
        if e.raw_os_error() == Some(libc::ESRCH) {
            anyhow::anyhow!("container not running: {}: no such process", state.id)
        } else {
            anyhow::Error::new(e).context(format!("send signal {signal} to {}", state.id))
        }
    })
}

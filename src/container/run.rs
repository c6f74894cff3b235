//! `run`: create + start in one process; unless detached, wait for the init
//! (our own child), forwarding the signals we receive, and exit with its
//! status (128+n for signal n), then delete the container unless --keep.

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::create::{CreateOpts, create};

pub fn run(o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    let created = create(o)?;
    let pid = created.state.pid;
    let id = created.state.id.clone();
    // Block forwarded signals before start so none is lost in between.
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    if !detach {
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).context("block signals")?;
    }
    // The lock is released so that `start` (and later `delete`) can take it.
    drop(created);
    if let Err(e) = super::start::start(o.root, o.id) {
        let _ = super::delete::delete(o.root, &id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = wait_forwarding(pid, &set)?;
    if !keep {
        super::delete::delete(o.root, &id, true)?;
    }
    Ok(code)
}

const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGALRM,
];

fn wait_forwarding(pid: i32, set: &SigSet) -> Result<i32> {
    let child = Pid::from_raw(pid);
    loop {
        // SIGCHLD may have come before it was blocked: look first.
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::ECHILD) => return Ok(0),
            Err(e) => return Err(e).context("wait for the container init"),
        }
        let sig = set.wait().context("sigwait")?;
        if sig != Signal::SIGCHLD {
            // The init is our unreaped child: its pid cannot be reused.
            let _ = nix::sys::signal::kill(child, sig);
        }
    }
}

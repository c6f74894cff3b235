//! `run`: create + start in one process; unless detached, wait for the init
//! (our own child), forwarding the signals we receive, and exit with its
//! status (128+n for signal n), then delete the container unless --keep.

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};

use super::create::{CreateOpts, create};

pub fn run(o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    let created = create(o)?;
    let pid = created.state.pid;
    let id = created.state.id.clone();
    // Block forwarded signals before start so none is lost in between.
    let mut set = SigSet::empty();
    for s in crate::signals::FORWARDED {
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
    let code = crate::signals::wait_forwarding(pid, &set)?;
    if !keep {
        super::delete::delete(o.root, &id, true)?;
    }
    Ok(code)
}

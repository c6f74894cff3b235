//! `run`: create + start in one process; unless detached, wait for the init
//! (our own child), forwarding the signals we receive, and exit with its
//! status (128+n for signal n), then delete the container unless --keep.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::Result;
use nix::sys::signal::SigSet;

use super::Opened;
use super::console::OwnConsole;
use super::create::{CreateOpts, Gate, create_loaded};
use crate::state::{Lookup, State, Status};

pub fn run(o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    crate::spec::check_id(o.id)?;
    let loaded = crate::spec::load(o.bundle, o.config)?;
    let own_console = own_console(o, &loaded, detach)?;
    let with_console;
    let o = match &own_console {
        Some(c) => {
            with_console = CreateOpts {
                console_socket: Some(c.path()),
                ..*o
            };
            &with_console
        }
        None => o,
    };
    let created = create_loaded(o, loaded, Gate::Pipe)?;
    crate::fault::pause("run:recorded");
    let pid = created.state.pid;
    let id = created.state.id.clone();
    // Block forwarded signals before start so none is lost in between.
    let set = if detach {
        SigSet::empty()
    } else {
        crate::signals::block_forwarded()?
    };
    // Started from what create knows: the state is not read back.
    let c = Opened {
        dir: created.dir,
        state: created.state,
        status: Status::Created,
    };
    let gate = created.gate;
    let master = match start_created(&c, gate.as_ref(), own_console.as_ref()) {
        Ok(m) => m,
        Err(e) => {
            drop(c);
            let _ = super::delete::delete(o.root, &id, true);
            return Err(e);
        }
    };
    if detach {
        return Ok(0);
    }
    // Others (kill, delete --force) may act on the container while it runs.
    let Opened { dir, state, .. } = c;
    drop(dir);
    let code = match master {
        Some(m) => super::console::relay(m, pid, &set)?,
        None => crate::signals::wait_forwarding(pid, &set)?,
    };
    if !keep {
        delete_stopped(o.root, state)?;
    }
    Ok(code)
}

/// A terminal with nobody to hand the pty to: outlet takes it itself and
/// relays it (with --detach there would be no one left to relay, so
/// create's own error about the missing socket stands).
fn own_console(
    o: &CreateOpts,
    loaded: &crate::spec::Validated,
    detach: bool,
) -> Result<Option<OwnConsole>> {
    let terminal = loaded
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if o.console_socket.is_none() && !detach && terminal {
        return Ok(Some(OwnConsole::new()?));
    }
    Ok(None)
}

/// Take the pty master when outlet is the console socket's peer (sized
/// before start, so the application never sees 0x0), then start.
fn start_created(
    c: &Opened,
    gate: Option<&OwnedFd>,
    own_console: Option<&OwnConsole>,
) -> Result<Option<OwnedFd>> {
    let master = match own_console {
        Some(console) => {
            let m = console.receive_master()?;
            super::console::copy_winsize(m.as_fd());
            // The pty master is ours now: the socket is of no further use.
            console.remove();
            Some(m)
        }
        None => None,
    };
    super::start::release(c, gate)?;
    super::start::poststart(c)?;
    Ok(master)
}

/// The init is reaped: the container is stopped, whatever its state file
/// says; only the lock is taken again.
fn delete_stopped(root: &Path, state: State) -> Result<()> {
    match crate::state::ContainerDir::open(root, &state.id) {
        Ok(dir) => super::delete::destroy(&Opened {
            dir,
            state,
            status: Status::Stopped,
        }),
        // Deleted meanwhile by someone else: nothing left to do.
        Err(e) if matches!(Lookup::of(&e), Some(Lookup::NotFound(_))) => Ok(()),
        Err(e) => Err(e),
    }
}

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
    // Without a console of its own to size first, nothing is left to do
    // between create and start: create puts the start byte in with
    // `Recorded` (see Gate::PipeOpened), blocking the forwarded signals
    // before, so that none is lost once the process runs.
    // OUTLET_RUN_GATE_LATE=1 (debug builds: the control of
    // tests/critpath_s10.rs) writes the byte at start, as before.
    let gate_kind = match own_console {
        None if !crate::fault::control("OUTLET_RUN_GATE_LATE") => {
            Gate::PipeOpened { block: !detach }
        }
        _ => Gate::Pipe,
    };
    let created = create_loaded(o, loaded, gate_kind)?;
    crate::fault::pause("run:recorded");
    let pid = created.state.pid;
    let id = created.state.id.clone();
    let set = match (detach, created.blocked) {
        (true, _) => SigSet::empty(),
        (false, Some(set)) => set,
        // Block forwarded signals before start so none is lost in between.
        (false, None) => crate::signals::block_forwarded()?,
    };
    // Started from what create knows: the state is not read back.
    let c = Opened {
        dir: created.dir,
        state: created.state,
        status: Status::Created,
    };
    let gate = created.gate;
    let opened = matches!(gate_kind, Gate::PipeOpened { .. });
    let master = match start_created(&c, gate.as_ref(), own_console.as_ref(), opened) {
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
/// before start, so the application never sees 0x0), then start (with
/// `opened`, create has let the init go already: only wait until it has
/// taken the byte, as start does).
fn start_created(
    c: &Opened,
    gate: Option<&OwnedFd>,
    own_console: Option<&OwnConsole>,
    opened: bool,
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
    match (opened, gate) {
        (true, Some(g)) => super::start::wait_opened(c, g)?,
        _ => super::start::release(c, gate)?,
    }
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

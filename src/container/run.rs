//! `run`: create + start in one process; unless detached, wait for the init
//! (our own child), forwarding the signals we receive, and exit with its
//! status (128+n for signal n), then delete the container unless --keep.

use anyhow::Result;
use nix::sys::signal::SigSet;

use super::console::OwnConsole;
use super::create::{CreateOpts, create_loaded};
use crate::state::{Lookup, Status};

pub fn run(o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    // A terminal with nobody to hand the pty to: outlet takes it itself and
    // relays it (with --detach there would be no one left to relay, so
    // create's own error about the missing socket stands).
    crate::spec::check_id(o.id)?;
    let loaded = crate::spec::load(o.bundle, o.config)?;
    let terminal = loaded
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let own_console = if o.console_socket.is_none() && !detach && terminal {
        Some(OwnConsole::new()?)
    } else {
        None
    };
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
    let created = create_loaded(o, loaded)?;
    let pid = created.state.pid;
    let id = created.state.id.clone();
    // Block forwarded signals before start so none is lost in between.
    let set = if detach {
        SigSet::empty()
    } else {
        crate::signals::block_forwarded()?
    };
    let master = match &own_console {
        Some(c) => match c.receive_master() {
            Ok(m) => {
                // Sized before start, so the application never sees 0x0.
                super::console::copy_winsize(std::os::fd::AsFd::as_fd(&m));
                Some(m)
            }
            Err(e) => {
                drop(created);
                let _ = super::delete::delete(o.root, &id, true);
                return Err(e);
            }
        },
        None => None,
    };
    if let Some(c) = &own_console {
        // The pty master is ours now: the socket is of no further use.
        c.remove();
    }
    // Started from what create knows: the state is not read back.
    let c = super::Loaded {
        dir: created.dir,
        state: created.state,
        status: Status::Created,
    };
    if let Err(e) = super::start::release(&c).and_then(|()| super::start::poststart(&c)) {
        drop(c);
        let _ = super::delete::delete(o.root, &id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    // Others (kill, delete --force) may act on the container while it runs.
    let super::Loaded { dir, state, .. } = c;
    drop(dir);
    let code = match master {
        Some(m) => super::console::relay(m, pid, &set)?,
        None => crate::signals::wait_forwarding(pid, &set)?,
    };
    if !keep {
        // The init is reaped: the container is stopped, whatever its state
        // file says; only the lock is taken again.
        match crate::state::ContainerDir::open(o.root, &id) {
            Ok(dir) => super::delete::destroy(&super::Loaded {
                dir,
                state,
                status: Status::Stopped,
            })?,
            // Deleted meanwhile by someone else: nothing left to do.
            Err(e) if matches!(Lookup::of(&e), Some(Lookup::NotFound(_))) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(code)
}

//! `delete`: only a stopped container, unless --force, which kills first
//! (thawing a paused one so that nothing survives). Removes the cgroup in
//! every hierarchy, runs poststop hooks, removes the state.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::Loaded;
use crate::cgroups::Cgroup;
use crate::state::{Lookup, Status};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match super::load(root, id) {
        Ok(c) => c,
        // Callers (containerd's shim, podman) force-delete containers that
        // are already gone; like runc, that is not an error.
        Err(e) if force && matches!(Lookup::of(&e), Some(Lookup::NotFound(_))) => return Ok(()),
        Err(e) if force && matches!(Lookup::of(&e), Some(Lookup::Creating(_))) => {
            // A create that died without cleaning up: --force clears it.
            let dir = crate::state::ContainerDir::open(root, id)?;
            return dir.remove();
        }
        Err(e) => return Err(e),
    };
    if c.status != Status::Stopped {
        if !force {
            bail!(
                "cannot delete container {id} that is not stopped: {} (use --force)",
                c.status.as_str()
            );
        }
        stop(&c)?;
    }
    destroy(&c)
}

/// SIGKILL everything and wait for the init to go.
pub fn stop(c: &Loaded) -> Result<()> {
    let cg = Cgroup::from_paths(c.state.cgroup.clone());
    // Only the container's own processes: the whole cgroup where it is
    // the container's alone, else the init (whose pid namespace, when the
    // container has one, dies with it). See kill::signal_all.
    if !c.state.cgroup.own_pid_ns && cg.owns() {
        let _ = cg.kill_all(libc::SIGKILL);
    }
    let _ = super::kill::signal_init(&c.state, libc::SIGKILL);
    if c.status == Status::Paused {
        // A frozen task does not act on SIGKILL until thawed.
        let _ = cg.freeze(false);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while crate::state::init_alive(&c.state) {
        if Instant::now() > deadline {
            bail!("container {} did not die within 10s of SIGKILL", c.state.id);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

pub fn destroy(c: &Loaded) -> Result<()> {
    let cg = Cgroup::from_paths(c.state.cgroup.clone());
    cg.destroy()?;
    let poststop = c.state.hooks.as_ref().and_then(|h| h.poststop().as_ref());
    if poststop.is_some_and(|v| !v.is_empty()) {
        let json = serde_json::to_string(&c.state.oci(Status::Stopped))?;
        if let Err(e) = crate::hooks::run_all("poststop", poststop, &json) {
            eprintln!("outlet: warning: {e:#}");
        }
    }
    c.dir.remove()
}

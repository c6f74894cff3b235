//! `delete`: only a stopped container, unless --force, which kills first
//! (thawing a paused one so that nothing survives). Removes the cgroup in
//! every hierarchy, runs poststop hooks, removes the state.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Opened;
use crate::cgroups::Cgroup;
use crate::state::{Lookup, Status};

/// How long a SIGKILLed init may take to die (a frozen one is thawed
/// first) before delete gives up and says so.
const DEATH_TIMEOUT: Duration = Duration::from_secs(10);
/// The poll interval of that wait: a killed process usually goes within
/// a millisecond or two.
const DEATH_POLL: Duration = Duration::from_millis(1);
/// How long an unrecorded init (no pid in the intent record) gets to die
/// of its death signal and leave the cgroup it was made in.
const UNRECORDED_INIT_TIMEOUT: Duration = Duration::from_secs(2);

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match super::load(root, id) {
        Ok(c) => c,
        // Callers (containerd's shim, podman) force-delete containers that
        // are already gone; like runc, that is not an error.
        Err(e) if force && matches!(Lookup::of(&e), Some(Lookup::NotFound(_))) => return Ok(()),
        // A create that died halfway, or a state file damaged since:
        // --force removes what the intent record says this container made.
        Err(e)
            if force
                && matches!(
                    Lookup::of(&e),
                    Some(Lookup::Creating(_) | Lookup::Damaged(..))
                ) =>
        {
            return remove_unrecorded(root, id, &e);
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

/// `delete --force` of a container without a usable state.json: kill the
/// init found through the intent record (pid and start time, through a
/// pidfd: never a bare pid), remove the cgroup directories it records, then
/// the state dir, and say what was done.
fn remove_unrecorded(root: &Path, id: &str, why: &anyhow::Error) -> Result<()> {
    let dir = crate::state::ContainerDir::open(root, id)?;
    let mut did = Vec::new();
    if let Some(intent) = dir.load_intent() {
        if intent.pid > 0 && kill_recorded_init(intent.pid, intent.init_start_time)? {
            did.push(format!("killed its init {}", intent.pid));
        }
        let cg = Cgroup::from_paths(intent.cgroup);
        if intent.pid <= 0 {
            // No init on record: it dies of its death signal, maybe not
            // yet, and until then it looks like someone else's process in
            // a cgroup this container made. A bounded wait for it (which a
            // cgroup shared with others pays in full) keeps the cgroup
            // from being left behind.
            let _ = cg.wait_created_empty(UNRECORDED_INIT_TIMEOUT);
        }
        if !cg.paths().is_empty() {
            cg.destroy()
                .with_context(|| format!("delete {id}: remove its cgroups"))?;
            did.push("removed its cgroups".to_string());
        }
    }
    crate::fault::point("delete:cgroup");
    dir.remove()?;
    did.push("removed its state dir".to_string());
    crate::logging::stderr(format_args!(
        "outlet: delete --force {id}: {why:#}; {}",
        did.join(", ")
    ));
    Ok(())
}

/// SIGKILL the recorded init if it is still the process that was recorded
/// (same start time, checked while a pidfd pins it), and wait for it to go.
/// False when it is already gone.
fn kill_recorded_init(pid: i32, start_time: u64) -> Result<bool> {
    let Ok(pidfd) = crate::syscall::pidfd_open(pid) else {
        return Ok(false);
    };
    let alive = || crate::process::pidstat::is_recorded(pid, start_time);
    if !alive() {
        return Ok(false);
    }
    crate::syscall::pidfd_send_signal(&pidfd, libc::SIGKILL)
        .with_context(|| format!("kill the recorded init {pid}"))?;
    let deadline = Instant::now() + DEATH_TIMEOUT;
    while alive() {
        if Instant::now() > deadline {
            bail!(
                "the recorded init {pid} did not die within {}s of SIGKILL",
                DEATH_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(DEATH_POLL);
    }
    Ok(true)
}

/// SIGKILL everything and wait for the init to go.
pub fn stop(c: &Opened) -> Result<()> {
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
    crate::fault::point("delete:killed");
    let deadline = Instant::now() + DEATH_TIMEOUT;
    while crate::state::init_alive(&c.state) {
        if Instant::now() > deadline {
            bail!(
                "container {} did not die within {}s of SIGKILL",
                c.state.id,
                DEATH_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(DEATH_POLL);
    }
    Ok(())
}

pub fn destroy(c: &Opened) -> Result<()> {
    let cg = Cgroup::from_paths(c.state.cgroup.clone());
    cg.destroy()?;
    crate::logging::debug(|| format!("delete {}: cgroup removed", c.state.id));
    crate::fault::point("delete:cgroup");
    let poststop = c.state.hooks.as_ref().and_then(|h| h.poststop().as_ref());
    if poststop.is_some_and(|v| !v.is_empty()) {
        let json = serde_json::to_string(&c.state.oci(Status::Stopped))?;
        crate::hooks::run_all_warn("poststop", poststop, &json);
    }
    c.dir.remove()
}

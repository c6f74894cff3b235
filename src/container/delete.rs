//! `delete`: a stopped or created container, a running or paused one only
//! with --force; whatever still runs is killed first (a paused one thawed,
//! so that nothing survives). Removes the cgroup in every hierarchy, runs
//! poststop hooks, removes the state.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Opened;
use crate::cgroups::{Cgroup, CgroupPaths};
use crate::state::{Lookup, Status};

/// How long a SIGKILLed init may take to die (a frozen one is thawed
/// first) before delete gives up and says so.
const DEATH_TIMEOUT: Duration = Duration::from_secs(10);
/// The poll interval of that wait: a killed process usually goes within
/// a millisecond or two.
const DEATH_POLL: Duration = Duration::from_millis(1);
/// How often that wait thaws the container's own frozen cgroups again.
const REFREEZE_POLL: Duration = Duration::from_millis(50);
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
        // A created container is deleted without --force, as runc and crun
        // do: containerd's shim deletes a task that never started with a
        // plain `delete` (its createdState.Delete), and a refusal there
        // leaves the init waiting forever. The runtime spec would refuse;
        // its callers rely on this. Running and paused ones still need
        // --force.
        if !force && c.status != Status::Created {
            bail!(
                "cannot delete container {id} that is not stopped: {} (use --force)",
                c.status.as_str()
            );
        }
        stop(&c)?;
        // Its init was alive in its unit until now: the unit is its own.
        return destroy_in(&c, Cgroup::from_paths(c.state.cgroup.clone()));
    }
    destroy(&c)
}

/// The cgroup a delete (or a kill --all after the init is gone) may act
/// on. A systemd unit of the recorded name
/// whose Description is not the recorded one is not the unit this
/// container started, but another's, started under the same name since
/// (this container's create died before starting its own, or its scope
/// went away when it stopped): neither it nor its cgroup is touched, and
/// nothing is left of ours to remove. A record without a Description
/// (an older outlet's) is taken as it is.
pub(super) fn own_cgroup(id: &str, paths: &CgroupPaths) -> Result<Cgroup> {
    let (Some(unit), Some(desc)) = (&paths.systemd_unit, &paths.systemd_description) else {
        return Ok(Cgroup::from_paths(paths.clone()));
    };
    match crate::cgroups::systemd::unit_is(unit, desc)
        .with_context(|| format!("container {id}: is systemd unit {unit} its own"))?
    {
        Some(true) => Ok(Cgroup::from_paths(paths.clone())),
        Some(false) => {
            crate::logging::stderr(format_args!(
                "outlet: container {id}: systemd unit {unit} is not the one this container \
                 started (another Description): left alone"
            ));
            Ok(Cgroup::from_paths(CgroupPaths::default()))
        }
        None => Ok(Cgroup::from_paths(CgroupPaths::default())),
    }
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
        let cg = own_cgroup(id, &intent.cgroup)?;
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
    // Until it is seen gone (a stat that failed to read is not that).
    while crate::process::pidstat::recorded(pid, start_time).unwrap_or(true) {
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
    use crate::process::pidstat;
    let cg = Cgroup::from_paths(c.state.cgroup.clone());
    // Only the container's own processes: the whole cgroup where it is
    // the container's alone, else the init (whose pid namespace, when the
    // container has one, dies with it). See kill::signal_all.
    let by_cgroup = !c.state.cgroup.own_pid_ns && cg.owns();
    // A cgroup the container froze below its own would keep its tasks,
    // and so its init, from dying (v1; see `thaw_below`).
    cg.thaw_below();
    if by_cgroup {
        let _ = cg.kill_all(libc::SIGKILL);
    }
    // An init still alive that nothing signalled will not die: say why
    // now, not after DEATH_TIMEOUT as "did not die" (faults_s8: delete,
    // pidfd_open failing with ENOMEM).
    if let Err(e) = super::kill::signal_init(&c.state, libc::SIGKILL)
        && !by_cgroup
        && crate::state::init_alive(&c.state)
    {
        return Err(e.context(format!("container {}: SIGKILL its init", c.state.id)));
    }
    if c.status == Status::Paused {
        // A frozen task does not act on SIGKILL until thawed.
        let _ = super::kill::end_frozen(&c.state, &cg);
    }
    crate::fault::point("delete:killed");
    let deadline = Instant::now() + DEATH_TIMEOUT;
    // A stat that could not be read is no death: taking it for one let
    // delete go on to a cgroup the dying init still held, which stayed
    // behind (faults_s8.rs `delete_survives_a_failing_syscall`, read
    // failing with EAGAIN).
    let pid = c.state.pid;
    let mut next_thaw = Instant::now() + REFREEZE_POLL;
    while pidstat::recorded(pid, c.state.init_start_time)
        .with_context(|| format!("container {}: read /proc/{pid}/stat", c.state.id))
        .or_else(|e| {
            if Instant::now() > deadline {
                Err(e)
            } else {
                Ok(true)
            }
        })?
    {
        // Again while it dies: a task of the container could freeze its
        // cgroup anew between the thaw above and the SIGKILL.
        if Instant::now() >= next_thaw {
            // The container's own cgroup too (a task that writes FROZEN
            // in a loop, tests/attack_s11.rs).
            super::kill::end_refreeze(&c.state, &cg);
            next_thaw = Instant::now() + REFREEZE_POLL;
        }
        if Instant::now() > deadline {
            bail!(
                "container {} did not die within {}s of SIGKILL",
                c.state.id,
                DEATH_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(DEATH_POLL);
    }
    // The init is gone: an exec helper frozen in the hybrid directory
    // now finds nothing to join (see `Cgroup::thaw_hybrid`).
    cg.thaw_hybrid();
    Ok(())
}

/// Remove a stopped container: its cgroup (only its own unit, see
/// `own_cgroup`), poststop hooks, its state.
pub fn destroy(c: &Opened) -> Result<()> {
    destroy_in(c, own_cgroup(&c.state.id, &c.state.cgroup)?)
}

fn destroy_in(c: &Opened, cg: Cgroup) -> Result<()> {
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

//! `kill`: signal the init through a pidfd checked against the recorded start
//! time (a recycled pid is never signalled), or (`--all`) every process of
//! the container, which is not always every process of its cgroup.
//! After SIGKILL it waits (bounded) for the init to be gone, so that the
//! container reads `stopped` as soon as `kill` returns: callers run
//! `delete` (without --force) right after.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::Opened;
use crate::cgroups::Cgroup;
use crate::state::{State, Status};
use crate::syscall;

/// How long `kill ... KILL` waits for the init to die: longer only for a
/// task stuck in an uninterruptible sleep, which then is not `stopped` yet.
const KILL_WAIT: Duration = Duration::from_secs(5);

pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let mut c = super::load(root, id)?;
    // Without a pid namespace of its own, the init's death takes no one
    // with it: SIGKILL goes to every process of the container, as runc
    // does (kill.bats "kill KILL [host pidns]"), also once the init is
    // gone, or `kill` would leave the rest running with no init to wait on.
    let all = all || (signal == libc::SIGKILL && !c.state.cgroup.own_pid_ns);
    let init = if all {
        signal_all(&c, signal)?
    } else {
        if c.status == Status::Stopped {
            bail!("container not running: {id}");
        }
        Some(signal_init(&c.state, signal)?)
    };
    // The lock is not held while waiting on the init.
    if signal == libc::SIGKILL
        && let Some(pidfd) = init
    {
        let cg = Cgroup::from_paths(c.state.cgroup.clone());
        if c.status == Status::Paused {
            // A frozen v1 task acts on SIGKILL only once thawed. Paused
            // is also what a container reads as when it froze its own
            // cgroup (a writable cgroupfs): it must not make itself proof
            // against `kill KILL`, which containerd's stop follows by
            // waiting for the init's exit. runc thaws here too. Debug
            // builds' OUTLET_KILL_LEAVES_FROZEN=1 (the control of
            // tests/attack_s11.rs) returns at once, as outlet did.
            if crate::fault::control("OUTLET_KILL_LEAVES_FROZEN") {
                return Ok(());
            }
            end_frozen(&c.state, &cg).with_context(|| format!("thaw {id} after SIGKILL"))?;
        }
        // A cgroup the container froze below its own would keep its
        // tasks, and so a pid namespace's init, from dying (v1; see
        // `Cgroup::thaw_below`): containerd waits for the init's exit
        // after this SIGKILL.
        cg.thaw_below();
        c.dir.unlock();
        crate::logging::debug(|| format!("kill {id}: waiting for the init to exit"));
        if wait_exit_thawing(&c.state, &cg, &pidfd)? {
            // Only now (see `Cgroup::thaw_hybrid`): a frozen exec helper
            // finds the container gone.
            cg.thaw_hybrid();
        } else {
            crate::logging::warn(&format!(
                "container {id}: the init has not exited {}s after SIGKILL",
                KILL_WAIT.as_secs()
            ));
        }
    }
    Ok(())
}

/// How often a wait for a SIGKILLed init looks for a cgroup frozen anew.
const REFREEZE_POLL: Duration = Duration::from_millis(50);

/// Thaw a frozen container whose init has SIGKILL pending, so that it
/// dies. Its other tasks get SIGKILL first, while still frozen: once
/// thawed, a task of the container that writes FROZEN in a loop freezes
/// the cgroup again before the init has run to its death (32 such
/// tasks won 6 races of 8 on this host), and nothing signalled them
/// yet: the pid namespace's zap comes only with the init's exit. With
/// SIGKILL pending, each dies at its first step out of the freezer.
/// Only the init's pid namespace is reached (signal_pid_ns): a task in
/// a pid namespace nested in the container's is left to the zap.
/// Without a pid namespace of its own the whole-cgroup kill did this.
/// Debug builds' OUTLET_KILL_THAWS_ONLY=1 (the control of
/// tests/attack_s11.rs) thaws once and signals no one, as outlet did.
pub fn end_frozen(state: &State, cg: &Cgroup) -> Result<()> {
    if state.cgroup.own_pid_ns && !thaws_only() {
        // The init may be gone already: the thaw below is still due.
        let _ = signal_pid_ns(state, cg, libc::SIGKILL);
    }
    cg.freeze(false)?;
    cg.thaw_below();
    Ok(())
}

fn thaws_only() -> bool {
    crate::fault::control("OUTLET_KILL_THAWS_ONLY")
}

/// `wait_exit` for up to KILL_WAIT, ending a freeze of the container (or
/// below it) that a task of it made after the SIGKILL.
fn wait_exit_thawing(state: &State, cg: &Cgroup, pidfd: &OwnedFd) -> Result<bool> {
    if thaws_only() {
        return wait_exit(pidfd, KILL_WAIT);
    }
    let deadline = std::time::Instant::now() + KILL_WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if wait_exit(pidfd, left.min(REFREEZE_POLL))? {
            return Ok(true);
        }
        if left <= REFREEZE_POLL {
            return Ok(false);
        }
        end_refreeze(state, cg);
    }
}

/// Once more while a SIGKILLed container dies (kill's and delete's waits):
/// a task of it may have frozen its own cgroup, or one below, anew.
pub fn end_refreeze(state: &State, cg: &Cgroup) {
    if !thaws_only() && cg.is_frozen().unwrap_or(false) {
        let _ = end_frozen(state, cg);
    } else {
        cg.thaw_below();
    }
}

/// `signal` to every process of the container and to no one else's. The
/// cgroup is signalled as a whole only when the container created it and
/// has no pid namespace of its own; a cgroup it joined, or shares with
/// others through the same cgroupsPath, holds processes that are not its
/// own. With its own pid namespace, its processes are that namespace's
/// (SIGKILL to the init takes the rest with it); without one, in a cgroup
/// it did not create, the init is all that can be told apart. Returns the
/// init's pidfd (opened before the signal) while it was alive.
///
/// A stopped container with nothing left to signal is not an error (runc
/// exits 0 there too): `--all` asks that no process of the container be
/// left without the signal, and none is; containerd's shim sends it after
/// the init has exited.
pub fn signal_all(c: &Opened, signal: i32) -> Result<Option<OwnedFd>> {
    let id = &c.state.id;
    // With its init gone, a systemd unit of the recorded name may be
    // another's by now: then nothing of this container is left to signal.
    let cg = if c.status == Status::Stopped {
        super::delete::own_cgroup(id, &c.state.cgroup)?
    } else {
        Cgroup::from_paths(c.state.cgroup.clone())
    };
    if !c.state.cgroup.own_pid_ns && cg.owns() {
        // Works after the init has exited too: what is left in the cgroup
        // still gets the signal.
        if c.status == Status::Stopped {
            let (pids, err) = cg.pids_reachable();
            if pids.is_empty() && err.is_none() {
                return Ok(None);
            }
        }
        // Opened before the signal, so that the fd is our init's.
        let init = if c.status == Status::Stopped {
            None
        } else {
            open_init(&c.state).ok()
        };
        cg.kill_all(signal)
            .with_context(|| format!("signal {signal} to every process of {id}"))?;
        return Ok(init);
    }
    if c.status == Status::Stopped {
        return Ok(None);
    }
    if signal == libc::SIGKILL || !c.state.cgroup.own_pid_ns {
        let init = signal_init(&c.state, signal)?;
        if signal == libc::SIGKILL && c.status == Status::Paused {
            // A frozen task does not act on SIGKILL until thawed (as the
            // whole-cgroup kill thaws too).
            cg.freeze(false)
                .with_context(|| format!("thaw {id} after SIGKILL"))?;
        }
        return Ok(Some(init));
    }
    let init = open_init(&c.state)?;
    signal_pid_ns(&c.state, &cg, signal)
        .with_context(|| format!("signal {signal} to every process of {id}"))?;
    Ok(Some(init))
}

/// The processes listed in the container's cgroup that live in the init's
/// pid namespace (the init among them); others sharing the cgroup are
/// skipped. Nested pid namespaces inside the container are not reached.
fn signal_pid_ns(state: &State, cg: &Cgroup, signal: i32) -> Result<()> {
    let ns = pid_ns_of(state.pid).context("the init's pid namespace")?;
    // Read after the namespace: a start time still matching means the
    // namespace read was the init's and not a recycled pid's.
    if !init_alive(state)? {
        bail!("container not running: {}", state.id);
    }
    // A list that fails in part still reaches what it lists: the error
    // comes after they all got the signal.
    let (pids, err) = cg.pids_reachable();
    for pid in pids {
        let Ok(pidfd) = syscall::pidfd_open(pid) else {
            continue;
        };
        // The pidfd pins the process it was opened for. If /proc/PID shows
        // our namespace, it is that process, or that process has exited
        // (and the signal below fails with ESRCH): never someone else.
        if pid_ns_of(pid).ok() != Some(ns) {
            continue;
        }
        match syscall::pidfd_send_signal(&pidfd, signal) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => return Err(e).with_context(|| format!("send signal {signal} to {pid}")),
        }
    }
    err.map_or(Ok(()), Err)
}

/// Whether the recorded init lives; a stat that could not be read is that
/// error, not "not running" (faults_s8: kill, openat failing).
fn init_alive(state: &State) -> Result<bool> {
    crate::process::pidstat::recorded(state.pid, state.init_start_time)
        .with_context(|| format!("container {}: read /proc/{}/stat", state.id, state.pid))
}

/// (device, inode) of the pid namespace of `pid`.
fn pid_ns_of(pid: i32) -> Result<(u64, u64)> {
    let path = format!("/proc/{pid}/ns/pid");
    let st = std::fs::metadata(&path).with_context(|| format!("stat {path}"))?;
    Ok((st.dev(), st.ino()))
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
    if !init_alive(state)? {
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

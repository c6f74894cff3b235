//! The processes in a container's cgroup: a child moving itself in, the
//! list, signalling them all, waiting for the cgroup to empty.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::v1::freezer::THAWED;
use super::walk::{self, Visitor, Where};
use super::{Cgroup, fs};

/// How long kill_all(SIGKILL) / destroy wait for the cgroup to empty.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

impl Cgroup {
    /// In the child given `self_join_files`: move the calling thread (the
    /// whole process, as it has no other) into each cgroup, and close the
    /// files, which the container must not keep.
    pub fn join_self(files: &[RawFd]) -> Result<()> {
        for &fd in files {
            let result = crate::syscall::cgroup::enter_by_fd(fd);
            let path = result
                .is_err()
                .then(|| std::fs::read_link(format!("/proc/self/fd/{fd}")));
            // Our copy of an fd that nothing else here uses.
            let _ = nix::unistd::close(fd);
            if let (Err(err), Some(path)) = (result, path) {
                let path = path.map_or_else(|_| format!("fd {fd}"), |p| p.display().to_string());
                return Err(
                    anyhow::Error::new(err).context(format!("cgroup: write \"0\" to {path}"))
                );
            }
        }
        Ok(())
    }

    /// Host pids of every process in the cgroup (and in cgroups the
    /// container made below it). A cgroup that is already gone has none.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let (pids, err) = self.pids_reachable();
        err.map_or(Ok(pids), Err)
    }

    /// `pids`, and whatever could be listed when a part of the tree could
    /// not: a caller that signals them all reaches those at least.
    pub fn pids_reachable(&self) -> (Vec<i32>, Option<anyhow::Error>) {
        let mut out = Vec::new();
        let err = match self.paths.procs_dir() {
            Some(dir) => collect_pids(dir, &mut out),
            None => None,
        };
        (out, err)
    }

    /// Signal every process in the cgroup (cgroup.kill for SIGKILL on v2).
    /// For SIGKILL, also waits until the cgroup is empty. Refused for a
    /// cgroup this container did not create (see `owns`). A list that
    /// fails in part is an error, but only once every pid it did reach
    /// got the signal.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if !self.owns() {
            bail!(
                "cgroup: refusing to signal every process in {}: this container did not create it",
                self.paths
                    .dirs()
                    .iter()
                    .find(|d| !self.paths.created(d))
                    .map_or_else(String::new, |d| d.display().to_string())
            );
        }
        if signal == libc::SIGKILL {
            if self.driver.get().kill_at_once(&self.paths)? {
                return self.wait_empty();
            }
            return self.kill_until_empty();
        }
        let (pids, err) = self.pids_reachable();
        crate::fault::pause("kill:listed");
        let sent = self.signal_still_listed(&pids, signal);
        err.or(sent).map_or(Ok(()), Err)
    }

    /// Signal each of `pids` that is still the process the list named:
    /// between the list and the signal a process may exit and its pid go
    /// to another, outside the container (a container without a pid
    /// namespace can run through pids at will), which a kill(2) by pid
    /// would then hit (tests/attack_s10.rs). So each gets a pidfd first,
    /// the cgroup is listed again, and only the pidfds whose pid is still
    /// listed get the signal: a pidfd names the process it was opened for,
    /// and if that one still had its pid when listed again, it is in the
    /// cgroup; if it is gone, the signal fails with ESRCH. In chunks, so
    /// that thousands of processes do not need thousands of fds at once.
    /// Debug builds' OUTLET_KILL_BY_PID=1 (the control) kills by pid.
    fn signal_still_listed(&self, pids: &[i32], signal: i32) -> Option<anyhow::Error> {
        if crate::fault::control("OUTLET_KILL_BY_PID") {
            return signal_each(pids, signal);
        }
        let mut first = None;
        for chunk in pids.chunks(256) {
            let mut fds: Vec<(i32, OwnedFd)> = Vec::with_capacity(chunk.len());
            for &pid in chunk {
                match crate::syscall::pidfd_open(pid) {
                    Ok(fd) => fds.push((pid, fd)),
                    // Gone already: nothing to signal.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    // Not signalled: say so (after the others got it).
                    Err(e) => {
                        first.get_or_insert(anyhow!("cgroup: pidfd_open({pid}): {e}"));
                    }
                }
            }
            if fds.is_empty() {
                continue;
            }
            let (mut now, err) = self.pids_reachable();
            if let Some(e) = err {
                first.get_or_insert(e);
            }
            now.sort_unstable();
            for (pid, fd) in fds {
                if now.binary_search(&pid).is_err() {
                    continue;
                }
                match crate::syscall::pidfd_send_signal(&fd, signal) {
                    Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                        first.get_or_insert(anyhow!("cgroup: signal {signal} to {pid}: {e}"));
                    }
                    _ => {}
                }
            }
        }
        first
    }

    /// SIGKILL without cgroup.kill: freeze so that nothing can fork between
    /// reading the list and signalling it, list again, kill, thaw (a frozen
    /// task only dies once thawed), and repeat until nothing is left. The
    /// first list, unfrozen, only says whether there is anything at all:
    /// an empty cgroup (a stopped container's delete) costs no freeze.
    fn kill_until_empty(&self) -> Result<()> {
        // Freezing and killing the cgroup would freeze and kill this very
        // process if it were inside (a `0` written to cgroup.procs).
        let me = std::process::id() as i32;
        let (first, unlisted) = self.pids_reachable();
        if first.contains(&me) {
            bail!(
                "cgroup: refusing to kill the cgroup's processes: this process ({me}) is one of them"
            );
        }
        // A part that could not be listed could hold this process: no
        // freeze then, which would stop it for good.
        let can_freeze = unlisted.is_none() && self.driver.get().can_freeze(&self.paths);
        let ok = fs::wait_until(KILL_TIMEOUT, || {
            let (pids, err) = self.pids_reachable();
            if pids.is_empty() {
                // Empty as far as it could be read: a part it could not
                // read is no reason to wait.
                return err.map_or(Ok(true), Err);
            }
            let frozen = can_freeze && self.freeze(true).is_ok();
            let (pids, err) = if frozen {
                self.pids_reachable()
            } else {
                (pids, err)
            };
            // Frozen, no listed process can exit and leave its pid to
            // another: kill(2) by pid is safe then, and cheaper.
            let sent = if frozen {
                signal_each(&pids, libc::SIGKILL)
            } else {
                self.signal_still_listed(&pids, libc::SIGKILL)
            };
            if frozen {
                self.freeze(false)?;
            }
            self.thaw_below();
            // Waiting would not make a part that cannot be listed empty.
            err.or(sent).map_or(Ok(false), Err)
        })?;
        if !ok {
            bail!(
                "cgroup: processes {:?} still alive {KILL_TIMEOUT:?} after SIGKILL",
                self.pids_reachable().0
            );
        }
        Ok(())
    }

    /// v1: thaw every freezer cgroup below the container's own. Given a
    /// writable cgroupfs, the container can freeze a cgroup it made below
    /// its own (`freezer.self_freezing`); thawing the container's cgroup
    /// leaves that one frozen, and a frozen task does not act on SIGKILL:
    /// its pid namespace's init then never finished dying and `delete
    /// --force` left the state, every cgroup and the processes behind
    /// (tests/attack_s10.rs). Best effort: what it cannot thaw shows up as
    /// the caller's "did not die". v2 needs none (a frozen task there dies
    /// of SIGKILL). Debug builds' OUTLET_NO_SUBTREE_THAW=1 is the control.
    pub fn thaw_below(&self) {
        let Some(top) = self.paths.v1.get("freezer") else {
            return;
        };
        if crate::fault::control("OUTLET_NO_SUBTREE_THAW") {
            return;
        }
        // Below a cgroup the container only joined (a pod's, a shared
        // cgroupsPath) are others' cgroups, a paused container's among
        // them: never thawed. Debug builds' OUTLET_THAW_JOINED=1 is the
        // control.
        let own = self.paths.systemd_unit.is_some() || self.paths.created(top);
        if !own && !crate::fault::control("OUTLET_THAW_JOINED") {
            return;
        }
        walk::walk(top, &mut ThawBelow { top: true });
    }

    /// A hybrid host: thaw the container's cgroup2 directory and every
    /// cgroup below it. outlet never freezes it (pause uses the v1
    /// freezer), but a container with CAP_SYS_ADMIN and a cgroup
    /// namespace mounts cgroup2 and can write its `cgroup.freeze`. Its own
    /// tasks still die of SIGKILL there; outlet's exec helper, placed in
    /// that directory by its clone before it joins anything else, does
    /// not get a signal and stayed frozen: the exec hung, `delete` left
    /// the directory with the helper in it, and the next container given
    /// that cgroup was created frozen (tests/attack_s14.rs). Only a
    /// directory the container created: one it joined is others' too.
    /// Called only once the init is dead (delete's stop, `kill KILL`'s
    /// wait, `destroy`): thawed earlier, the helper went on into the
    /// still living container and its exec succeeded under a `delete
    /// --force` (seen in CI without a pid namespace: the thaw came before
    /// the kill). The container's own tasks need no thaw to die.
    /// Debug builds' OUTLET_NO_HYBRID_THAW=1 is the control.
    pub fn thaw_hybrid(&self) {
        let Some(top) = self.paths.hybrid.as_deref() else {
            return;
        };
        if !self.paths.created(top) || crate::fault::control("OUTLET_NO_HYBRID_THAW") {
            return;
        }
        walk::walk(top, &mut ThawV2);
    }

    fn wait_empty(&self) -> Result<()> {
        if !fs::wait_until(KILL_TIMEOUT, || Ok(self.pids()?.is_empty()))? {
            bail!(
                "cgroup: processes {:?} still alive {KILL_TIMEOUT:?} after SIGKILL",
                self.pids()?
            );
        }
        Ok(())
    }

    /// Wait, up to `timeout`, until the directories this container created
    /// list no process; false if they still do. For a container whose init
    /// was never recorded: it is dying of its death signal, and until it
    /// has, `destroy` would take it for someone else's process and leave
    /// the directory.
    pub fn wait_created_empty(&self, timeout: Duration) -> Result<bool> {
        fs::wait_until(timeout, || {
            let mut pids = Vec::new();
            for dir in self
                .paths
                .dirs()
                .into_iter()
                .filter(|d| self.paths.created(d))
            {
                if let Some(e) = collect_pids(dir, &mut pids) {
                    return Err(e);
                }
            }
            Ok(pids.is_empty())
        })
    }
}

/// Signal each of `pids` (one that is gone already is fine), all of them
/// whatever fails; the first failure.
fn signal_each(pids: &[i32], signal: i32) -> Option<anyhow::Error> {
    let mut first = None;
    for &pid in pids {
        match crate::syscall::cgroup::kill(pid, signal) {
            Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                first.get_or_insert(anyhow!("cgroup: kill({pid}, {signal}): {e}"));
            }
            _ => {}
        }
    }
    first
}

/// Add the pids listed in `dir` and every cgroup below it to `out`, going
/// on past a part that fails (its error is returned).
fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Option<anyhow::Error> {
    walk::walk(dir, &mut Collect(out)).err
}

struct Collect<'a>(&'a mut Vec<i32>);

impl Visitor for Collect<'_> {
    fn enter(&mut self, dir: BorrowedFd, at: &Where) -> Result<()> {
        let list = fs::read_at(dir, c"cgroup.procs")
            .map_err(|e| anyhow!("cgroup: read {at}/cgroup.procs: {e}"))?;
        for line in list.iter().flat_map(|l| l.split(|&b| b == b'\n')) {
            if let Some(pid) = std::str::from_utf8(line)
                .ok()
                .and_then(|l| l.trim().parse().ok())
            {
                self.0.push(pid);
            }
        }
        Ok(())
    }
}

struct ThawBelow {
    top: bool,
}

impl Visitor for ThawBelow {
    fn enter(&mut self, dir: BorrowedFd, _at: &Where) -> Result<()> {
        if std::mem::take(&mut self.top) {
            return Ok(());
        }
        let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
        if let Ok(fd) =
            crate::syscall::fs::openat(dir.as_raw_fd(), c"freezer.state", flags, Mode::empty())
        {
            let _ = nix::unistd::write(&fd, THAWED.as_bytes());
        }
        Ok(())
    }
}

/// Writes 0 to `cgroup.freeze` in every cgroup2 directory of a walk, the
/// top included. Best effort, like `ThawBelow`.
struct ThawV2;

impl Visitor for ThawV2 {
    fn enter(&mut self, dir: BorrowedFd, _at: &Where) -> Result<()> {
        let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
        if let Ok(fd) =
            crate::syscall::fs::openat(dir.as_raw_fd(), c"cgroup.freeze", flags, Mode::empty())
        {
            let _ = nix::unistd::write(&fd, b"0");
        }
        Ok(())
    }
}

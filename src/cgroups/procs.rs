//! The processes in a container's cgroup: a child moving itself in, the
//! list, signalling them all, waiting for the cgroup to empty.

use std::os::fd::RawFd;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};

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
        let mut out = Vec::new();
        if let Some(dir) = self.paths.procs_dir() {
            collect_pids(dir, &mut out)?;
        }
        Ok(out)
    }

    /// Signal every process in the cgroup (cgroup.kill for SIGKILL on v2).
    /// For SIGKILL, also waits until the cgroup is empty. Refused for a
    /// cgroup this container did not create (see `owns`).
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
        for pid in self.pids()? {
            signal_pid(pid, signal)?;
        }
        Ok(())
    }

    /// SIGKILL without cgroup.kill: freeze so that nothing can fork between
    /// reading the list and signalling it, kill, thaw (a frozen task only
    /// dies once thawed), and repeat until nothing is left.
    fn kill_until_empty(&self) -> Result<()> {
        // Freezing and killing the cgroup would freeze and kill this very
        // process if it were inside (a `0` written to cgroup.procs).
        let me = std::process::id() as i32;
        if self.pids()?.contains(&me) {
            bail!(
                "cgroup: refusing to kill the cgroup's processes: this process ({me}) is one of them"
            );
        }
        let can_freeze = self.driver.get().can_freeze(&self.paths);
        let ok = fs::wait_until(KILL_TIMEOUT, || {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(true);
            }
            let frozen = can_freeze && self.freeze(true).is_ok();
            for &pid in &pids {
                signal_pid(pid, libc::SIGKILL)?;
            }
            if frozen {
                self.freeze(false)?;
            }
            Ok(false)
        })?;
        if !ok {
            bail!(
                "cgroup: processes {:?} still alive {KILL_TIMEOUT:?} after SIGKILL",
                self.pids()?
            );
        }
        Ok(())
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
                collect_pids(dir, &mut pids)?;
            }
            Ok(pids.is_empty())
        })
    }
}

/// Signal `pid`; one that is gone already is fine.
fn signal_pid(pid: i32, signal: i32) -> Result<()> {
    match crate::syscall::cgroup::kill(pid, signal) {
        Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
            bail!("cgroup: kill({pid}, {signal}): {e}")
        }
        _ => Ok(()),
    }
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let Some(text) = fs::read_opt(&dir.join("cgroup.procs"))? else {
        return Ok(());
    };
    for line in text.lines() {
        if let Ok(pid) = line.trim().parse() {
            out.push(pid);
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_pids(&entry.path(), out)?;
        }
    }
    Ok(())
}

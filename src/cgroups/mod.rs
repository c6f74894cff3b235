//! cgroups: one `Cgroup` handle over three backends (`backend.rs`): v1
//! cgroupfs (the controllers of a hybrid/legacy host), v2 cgroupfs
//! (unified), and a systemd scope over v2. Translation from the spec's
//! resources to (file, value) writes lives in `v1/` and `v2/`, one small
//! file per controller; the backends perform the writes and name the file
//! and value in any error. Callers never ask which backend they hold.

mod backend;
pub mod devices;
mod fs;
pub mod host;
mod plan;
mod procs;
mod record;
mod stats;
pub mod systemd;
pub mod v1;
pub mod v2;
mod walk;
mod write;

use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use oci_spec::runtime::LinuxResources;

use backend::Driver;
pub use devices::{DefaultDevice, default_allowed_devices};
pub use record::CgroupPaths;
pub use write::FileWrite;
pub(crate) use write::block_device;

/// How long freeze waits for every task to stop before giving up (and
/// thawing again): a task in an uninterruptible sleep can hold it up.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// A container's cgroup: its record (what state.json keeps) and the
/// backend that acts on it.
pub struct Cgroup {
    paths: CgroupPaths,
    driver: Driver,
}

impl Cgroup {
    /// Rebuild the handle from state.json.
    pub fn from_paths(paths: CgroupPaths) -> Cgroup {
        let driver = Driver::of(&paths);
        Cgroup { paths, driver }
    }

    fn with(paths: CgroupPaths, driver: Driver) -> Cgroup {
        Cgroup { paths, driver }
    }

    pub fn paths(&self) -> &CgroupPaths {
        &self.paths
    }

    /// Record that the container gets a pid namespace of its own (see
    /// `CgroupPaths::own_pid_ns`).
    pub fn set_own_pid_ns(&mut self, own: bool) {
        self.paths.own_pid_ns = own;
    }

    /// Did this container create its cgroup (see `CgroupPaths::owns`)?
    pub fn owns(&self) -> bool {
        self.paths.owns()
    }

    /// The directories `create` would make now, parents first. For the
    /// intent record, written before any of them exists.
    pub fn to_create(&self) -> Vec<PathBuf> {
        self.driver.get().to_create(&self.paths)
    }

    /// Create the cgroup and write every limit. On failure, removes the
    /// directories it created.
    pub fn create(&mut self, resources: Option<&LinuxResources>) -> Result<()> {
        let result = self.driver.get_mut().create(&mut self.paths, resources);
        if result.is_err() {
            for dir in self.paths.created.iter().rev() {
                // Nothing can be inside yet: a failure here only leaks.
                let _ = std::fs::remove_dir(dir);
            }
            self.paths.created.clear();
        }
        result
    }

    /// Let `create` leave the device program (v2: an eBPF program, whose
    /// load is most of the cgroup's cost) for `attach_deferred_devices`,
    /// which the caller must call before anything in the cgroup runs code
    /// other than outlet's own. False where nothing can be deferred.
    /// `cache`: the directory of the ids of loaded device programs, for a
    /// later create with the same rules to reuse (`v2::devices::reuse`).
    pub fn defer_devices(&mut self, cache: &Path) -> bool {
        self.driver.get_mut().defer_devices(cache)
    }

    /// The device program a deferred `create` left, loaded and attached.
    pub fn attach_deferred_devices(&self) -> Result<()> {
        self.driver.get().attach_deferred_devices(&self.paths)
    }

    /// An O_DIRECTORY fd of the container's cgroup for CLONE_INTO_CGROUP,
    /// where the backend can place a child at clone time (else use
    /// `self_join_files` or `add_pid`). The fd lives as long as this handle.
    pub fn clone_into_fd(&self) -> Option<RawFd> {
        self.driver.get().clone_into_fd(&self.paths)
    }

    /// Files for a new single-threaded child to move itself in with
    /// `join_self` before it does anything else (v1: cheaper than
    /// `add_pid`, see the v1 backend). None where `clone_into_fd` places
    /// the child, or a file cannot be opened (`add_pid` then says why).
    pub fn self_join_files(&self) -> Option<Vec<OwnedFd>> {
        self.driver.get().self_join_files(&self.paths)
    }

    /// Move `pid` into the container's cgroup in every hierarchy (with the
    /// systemd driver, at create: make the scope with `pid` in it).
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        self.driver.get().add_pid(&self.paths, pid)
    }

    /// Write new limits (for `update`). Devices are replaced only when the
    /// update names them.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        self.driver.get().apply(&self.paths, resources)
    }

    pub fn freeze(&self, frozen: bool) -> Result<()> {
        self.driver.get().freeze(&self.paths, frozen)
    }

    pub fn is_frozen(&self) -> Result<bool> {
        self.driver.get().is_frozen(&self.paths)
    }

    /// End what is left of the container in its cgroups and remove the
    /// directories it created, in every hierarchy, then the parents it
    /// created unless others still use them. What is left is killed
    /// through the cgroup only where that cannot hit anyone else's
    /// process: a cgroup the container created, and no pid namespace of
    /// its own (with one, its processes died with its init, and anything
    /// still inside belongs to others). A directory that still holds
    /// processes then is left in place, as runc leaves a non-empty cgroup;
    /// one the container did not create is never touched.
    pub fn destroy(&self) -> Result<()> {
        let dirs = self.paths.dirs();
        if !self.paths.own_pid_ns && self.owns() && dirs.iter().any(|d| d.exists()) {
            self.kill_all(libc::SIGKILL)?;
        }
        let mut first_err = self.driver.get().release(&self.paths).err();
        let deadline = fs::removal_deadline();
        for dir in dirs.iter().filter(|d| self.paths.created(d)) {
            // A frozen hybrid directory would keep outlet's own exec
            // helper, and so the directory (see `thaw_hybrid`): thawed
            // only once a plain rmdir has failed, so that the common
            // delete pays nothing for it.
            if Some(*dir) == self.paths.hybrid.as_deref() {
                if std::fs::remove_dir(dir).is_ok() {
                    continue;
                }
                self.thaw_hybrid();
            }
            if let Err(e) = fs::remove_tree(dir, deadline) {
                first_err.get_or_insert(e);
            }
        }
        for dir in self.paths.created.iter().rev() {
            if !dirs.contains(&dir.as_path())
                && let Err(e) = fs::remove_if_unused(dir)
            {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Statistics in runc's `events --stats` shape (the `data` object).
    pub fn stats(&self) -> Result<stats::Stats> {
        self.driver.get().stats(&self.paths)
    }

    /// How many times the kernel's OOM killer struck inside the cgroup.
    pub fn oom_kills(&self) -> Result<Option<u64>> {
        self.driver.get().oom_kills(&self.paths)
    }
}

#[cfg(test)]
pub mod test_util {
    use super::FileWrite;
    use oci_spec::runtime::LinuxResources;

    pub fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    pub fn pairs(w: &[FileWrite]) -> Vec<(&str, &str)> {
        w.iter().map(|w| (&*w.file, w.value.as_str())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cgroup this container only joined is never signalled as a whole.
    #[test]
    fn joined_cgroup_is_not_killed_through() {
        let joined = Cgroup::from_paths(CgroupPaths {
            v1: [("pids".to_owned(), PathBuf::from("/sys/fs/cgroup/pids/c1"))].into(),
            ..Default::default()
        });
        assert!(!joined.owns());
        let e = joined.kill_all(libc::SIGTERM).unwrap_err().to_string();
        assert!(e.contains("did not create it"), "{e}");
    }
}

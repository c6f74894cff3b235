//! The backend seam: what the three ways of keeping a container's cgroup
//! (v1 cgroupfs, v2 cgroupfs, a systemd scope over v2) do differently.
//! `Cgroup` holds one of them in a `Driver`, chosen from the record without
//! a syscall, and calls it through `&dyn Backend` (no box, no allocation).
//! What they share (ownership, listing and killing processes, removing
//! directories) is written once beside this, on the record.

use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use super::stats::Stats;
use anyhow::Result;
use oci_spec::runtime::LinuxResources;

use super::CgroupPaths;
use super::systemd::backend::Systemd;
use super::v1::backend::V1Fs;
use super::v2::backend::V2Fs;

/// Each method acts on the container's record `rec`; only `create` may
/// change it (the directories it made go to `rec.created`).
pub(super) trait Backend {
    /// The directories `create` will make, parents first: the intent
    /// record, written before any of them exists.
    fn to_create(&self, rec: &CgroupPaths) -> Vec<PathBuf> {
        rec.missing_dirs()
    }

    /// Make the cgroup and write every limit. On failure the caller removes
    /// what `rec.created` lists.
    fn create(&mut self, rec: &mut CgroupPaths, resources: Option<&LinuxResources>) -> Result<()>;

    /// Let the next `create` leave a device program for
    /// `attach_deferred_devices`: false where devices are not a program
    /// of outlet's own that a cgroup gets at `create` (v1 files, systemd).
    /// `cache`: where the ids of loaded programs are kept for reuse.
    fn defer_devices(&mut self, _cache: &Path) -> bool {
        false
    }

    /// The device program a deferred `create` left, loaded and attached.
    fn attach_deferred_devices(&self, _rec: &CgroupPaths) -> Result<()> {
        Ok(())
    }

    /// An O_DIRECTORY fd of the cgroup for CLONE_INTO_CGROUP, when the
    /// backend can place a child at clone time.
    fn clone_into_fd(&self, _rec: &CgroupPaths) -> Option<RawFd> {
        None
    }

    /// Files a new child writes "0" to, to move itself in (see
    /// `Cgroup::self_join_files`).
    fn self_join_files(&self, _rec: &CgroupPaths) -> Option<Vec<OwnedFd>> {
        None
    }

    /// Move `pid` into the cgroup in every hierarchy.
    fn add_pid(&self, rec: &CgroupPaths, pid: i32) -> Result<()> {
        let value = pid.to_string();
        for dir in rec.dirs() {
            super::fs::write(&dir.join("cgroup.procs"), &value)?;
        }
        Ok(())
    }

    /// Write new limits (`update`).
    fn apply(&self, rec: &CgroupPaths, resources: &LinuxResources) -> Result<()>;

    fn freeze(&self, rec: &CgroupPaths, frozen: bool) -> Result<()>;

    fn is_frozen(&self, rec: &CgroupPaths) -> Result<bool>;

    /// Can `freeze` work at all (v1 without a freezer hierarchy cannot)?
    fn can_freeze(&self, rec: &CgroupPaths) -> bool;

    /// SIGKILL every process in one step where the kernel can
    /// (`cgroup.kill`): true when done, false to signal them one by one.
    fn kill_at_once(&self, _rec: &CgroupPaths) -> Result<bool> {
        Ok(false)
    }

    /// Give the cgroup back before its directories are removed (the
    /// systemd scope is stopped).
    fn release(&self, _rec: &CgroupPaths) -> Result<()> {
        Ok(())
    }

    /// Statistics in runc's `events --stats` shape (the `data` object).
    fn stats(&self, rec: &CgroupPaths) -> Result<Stats>;

    /// How many times the kernel's OOM killer struck inside the cgroup;
    /// None without a memory controller.
    fn oom_kills(&self, rec: &CgroupPaths) -> Result<Option<u64>>;
}

// One per command, never moved in a loop: the systemd variant's pending
// limits kept inline cost nothing, where a box would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum Driver {
    V1(V1Fs),
    V2(V2Fs),
    Systemd(Systemd),
}

impl Driver {
    /// The backend that made `rec` (state.json names it by which fields
    /// are set); no cgroup at all acts as an empty v1 one.
    pub fn of(rec: &CgroupPaths) -> Driver {
        if rec.systemd_unit.is_some() {
            Driver::Systemd(Systemd::new(V2Fs::new(Path::new(super::host::ROOT))))
        } else if rec.unified.is_some() {
            Driver::V2(V2Fs::new(Path::new(super::host::ROOT)))
        } else {
            Driver::V1(V1Fs::default())
        }
    }

    pub fn get(&self) -> &dyn Backend {
        match self {
            Driver::V1(b) => b,
            Driver::V2(b) => b,
            Driver::Systemd(b) => b,
        }
    }

    pub fn get_mut(&mut self) -> &mut dyn Backend {
        match self {
            Driver::V1(b) => b,
            Driver::V2(b) => b,
            Driver::Systemd(b) => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// state.json names no backend: which fields are set does, and a
    /// container without any cgroup gets the v1 one, whose every
    /// operation is a no-op on no directories.
    #[test]
    fn the_record_picks_the_backend() {
        let v2 = CgroupPaths {
            unified: Some(PathBuf::from("/sys/fs/cgroup/c1")),
            ..Default::default()
        };
        let scope = CgroupPaths {
            systemd_unit: Some("outlet-c1.scope".to_owned()),
            ..v2.clone()
        };
        let v1 = CgroupPaths {
            v1: [("pids".to_owned(), PathBuf::from("/sys/fs/cgroup/pids/c1"))].into(),
            ..Default::default()
        };
        assert!(matches!(Driver::of(&v2), Driver::V2(_)));
        assert!(matches!(Driver::of(&scope), Driver::Systemd(_)));
        assert!(matches!(Driver::of(&v1), Driver::V1(_)));
        let none = CgroupPaths::default();
        let driver = Driver::of(&none);
        assert!(matches!(driver, Driver::V1(_)));
        assert!(driver.get().to_create(&none).is_empty());
        assert_eq!(
            driver.get().self_join_files(&none).map(|v| v.len()),
            Some(0)
        );
        assert!(!driver.get().is_frozen(&none).unwrap());
    }
}

//! cgroups: one `Cgroup` handle over the host's layout (unified v2, or the
//! v1 controllers of a hybrid/legacy host). Translation from the spec's
//! resources to (file, value) writes lives in `v1/` and `v2/`, one small file
//! per controller; this module performs the writes and names the file and
//! value in any error.
//!
//! INTERFACE STUB: the cgroups work replaces the bodies; the signatures are
//! what the lifecycle code calls.

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::path::PathBuf;

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

/// Where a container's cgroup lives on the host, resolved once at create time
/// (a relative cgroupsPath depends on the caller's own cgroup, so it must not
/// be resolved again by a later `delete` run from another cgroup).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupPaths {
    /// The container's directory on a unified (v2) host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unified: Option<PathBuf>,
    /// v1 controller name -> the container's directory in that hierarchy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub v1: BTreeMap<String, PathBuf>,
    /// Directories created by this container, parents first; removed in
    /// reverse order by `destroy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<PathBuf>,
}

pub struct Cgroup {
    paths: CgroupPaths,
}

impl Cgroup {
    /// Resolve `cgroupsPath` (absolute, relative to the caller's cgroup, or
    /// the default when empty) and validate `resources` against the host,
    /// without changing anything.
    pub fn plan(
        _cgroups_path: Option<&str>,
        _id: &str,
        _resources: Option<&LinuxResources>,
    ) -> Result<Cgroup> {
        bail!("cgroups: not implemented")
    }

    /// Rebuild the handle from state.json.
    pub fn from_paths(paths: CgroupPaths) -> Cgroup {
        Cgroup { paths }
    }

    pub fn paths(&self) -> &CgroupPaths {
        &self.paths
    }

    /// Create the directories (enabling controllers in each parent on v2)
    /// and write every limit. On failure, removes what it created.
    pub fn create(&mut self, _resources: Option<&LinuxResources>) -> Result<()> {
        bail!("cgroups: not implemented")
    }

    /// On v2, an O_DIRECTORY fd of the container's cgroup for
    /// CLONE_INTO_CGROUP; None on v1 (use `add_pid`).
    pub fn clone_into_fd(&self) -> Option<RawFd> {
        None
    }

    /// Move `pid` into the container's cgroup in every hierarchy.
    pub fn add_pid(&self, _pid: i32) -> Result<()> {
        bail!("cgroups: not implemented")
    }

    /// Write new limits (for `update`).
    pub fn apply(&self, _resources: &LinuxResources) -> Result<()> {
        bail!("cgroups: not implemented")
    }

    pub fn freeze(&self, _frozen: bool) -> Result<()> {
        bail!("cgroups: not implemented")
    }

    pub fn is_frozen(&self) -> Result<bool> {
        Ok(false)
    }

    /// Host pids of every process in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(Vec::new())
    }

    /// Signal every process in the cgroup (cgroup.kill for SIGKILL on v2).
    pub fn kill_all(&self, _signal: i32) -> Result<()> {
        Ok(())
    }

    /// Kill what is left, wait for it, remove the directories (retrying
    /// while the kernel still holds them), in every hierarchy.
    pub fn destroy(&self) -> Result<()> {
        Ok(())
    }

    /// Statistics in runc's `events --stats` shape.
    pub fn stats(&self) -> Result<serde_json::Value> {
        bail!("cgroups: not implemented")
    }
}

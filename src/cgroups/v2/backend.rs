//! The v2 cgroupfs backend: one directory, controllers enabled in every
//! parent, devices as an eBPF program, cgroup.freeze and cgroup.kill.

use std::cell::{Cell, OnceCell};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::cgroups::stats::Stats;
use anyhow::{Result, anyhow, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::backend::Backend;
use crate::cgroups::host::{self, Host};
use crate::cgroups::plan::{Inner, missing_controller};
use crate::cgroups::{CgroupPaths, FREEZE_TIMEOUT, FileWrite, devices, fs, stats, v2, write};

pub struct V2Fs {
    /// Where the v2 hierarchy is mounted: controllers are enabled from here down.
    root: PathBuf,
    /// The container's directory, opened once for CLONE_INTO_CGROUP and
    /// the eBPF device program.
    dir_fd: OnceCell<OwnedFd>,
    /// Set by `defer_devices`: `create` leaves the device rules here for
    /// `attach_deferred_devices` (create's parent attaches the program
    /// after the clone, while the init sets up); it holds the directory
    /// of the loaded programs' ids (`v2::devices::reuse`).
    defer: Option<PathBuf>,
    deferred: Cell<Option<Vec<devices::DeviceRule>>>,
}

/// The record for `inner` in the cgroup2 hierarchy at `root`, after
/// checking that every limit has its controller there. A relative path
/// sits under the *parent* of the caller's cgroup (as runc does: the
/// caller's own v2 cgroup holds processes, so it cannot enable controllers
/// for children).
pub(in crate::cgroups) fn plan(
    host: &Host,
    root: &Path,
    inner: &Inner,
    resources: Option<&LinuxResources>,
) -> Result<CgroupPaths> {
    let writes = v2::translate(resources)?;
    // Device rules are checked here so create cannot fail on them.
    devices::rules(resources, true)?;
    let mut needed: Vec<&str> = writes
        .iter()
        .map(|w| w.controller)
        .filter(|c| !c.is_empty())
        .collect();
    if !needed.is_empty() {
        needed.sort_unstable();
        needed.dedup();
        let avail = fs::read(&root.join("cgroup.controllers"))?;
        if let Some(c) = needed
            .iter()
            .find(|c| !avail.split_whitespace().any(|a| a == **c))
        {
            return Err(missing_controller(c, host));
        }
    }
    let base = if inner.absolute {
        root.to_path_buf()
    } else {
        let own = host::own_unified_cgroup()?;
        let parent = Path::new(&own).parent().unwrap_or(Path::new(""));
        root.join(parent.strip_prefix("/").unwrap_or(parent))
    };
    Ok(CgroupPaths {
        unified: Some(inner.under(&base)),
        ..Default::default()
    })
}

impl V2Fs {
    pub fn new(root: &Path) -> V2Fs {
        V2Fs {
            root: root.to_path_buf(),
            dir_fd: OnceCell::new(),
            defer: None,
            deferred: Cell::new(None),
        }
    }

    fn dir(rec: &CgroupPaths) -> Result<&Path> {
        rec.unified
            .as_deref()
            .ok_or_else(|| anyhow!("cgroup: not a cgroup v2 container"))
    }

    fn open_dir(&self, rec: &CgroupPaths) -> Result<&OwnedFd> {
        if let Some(fd) = self.dir_fd.get() {
            return Ok(fd);
        }
        let dir = Self::dir(rec)?;
        // O_DIRECTORY: CLONE_INTO_CGROUP and BPF_PROG_ATTACH take a
        // directory fd; std adds O_CLOEXEC.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir)
            .map_err(|e| anyhow!("cgroup: open {}: {e}", dir.display()))?;
        Ok(self.dir_fd.get_or_init(|| file.into()))
    }

    /// The device program for `resources` (with the defaults), then every
    /// file write: what a new cgroup gets once its directory exists.
    pub(in crate::cgroups) fn limit(
        &self,
        rec: &CgroupPaths,
        resources: Option<&LinuxResources>,
        writes: &[FileWrite],
    ) -> Result<()> {
        let rules = devices::rules(resources, true)?.expect("with defaults");
        v2::devices::apply(Self::dir(rec)?, self.open_dir(rec)?.as_fd(), &rules, false)?;
        write::perform(rec, writes)
    }

    /// Forget the directory fd (a failed create removes the directory).
    pub(in crate::cgroups) fn forget_dir(&mut self) {
        self.dir_fd = OnceCell::new();
    }
}

impl Backend for V2Fs {
    fn create(&mut self, rec: &mut CgroupPaths, resources: Option<&LinuxResources>) -> Result<()> {
        let dir = Self::dir(rec)?.to_path_buf();
        let writes = v2::translate(resources)?;
        let mut created = std::mem::take(&mut rec.created);
        let result = (|| {
            fs::mkdir_all(&dir, &mut created)?;
            enable_controllers(&self.root, &dir, &created, &writes)
        })();
        rec.created = created;
        result?;
        let result = if self.defer.is_some() {
            let rules = devices::rules(resources, true)?.expect("with defaults");
            self.deferred.set(Some(rules));
            self.open_dir(rec)
                .and_then(|_| write::perform(rec, &writes))
        } else {
            self.limit(rec, resources, &writes)
        };
        if result.is_err() {
            self.forget_dir();
        }
        result
    }

    fn defer_devices(&mut self, cache: &Path) -> bool {
        self.defer = Some(cache.to_path_buf());
        true
    }

    fn attach_deferred_devices(&self, rec: &CgroupPaths) -> Result<()> {
        // Both are set by a deferred create, and nothing else sets `deferred`.
        let (Some(rules), Some(cache)) = (self.deferred.take(), self.defer.as_deref()) else {
            return Ok(());
        };
        v2::devices::apply_new(Self::dir(rec)?, self.open_dir(rec)?.as_fd(), &rules, cache)
    }

    fn clone_into_fd(&self, rec: &CgroupPaths) -> Option<RawFd> {
        self.open_dir(rec).ok().map(AsRawFd::as_raw_fd)
    }

    /// Devices are replaced only when the update names them.
    fn apply(&self, rec: &CgroupPaths, resources: &LinuxResources) -> Result<()> {
        let kept = v2::cpu::keep_quota(resources, Self::dir(rec)?)?;
        let resources = kept.as_ref().unwrap_or(resources);
        let rules = devices::rules(Some(resources), false)?;
        let writes = v2::translate(Some(resources))?;
        if let Some(rules) = rules {
            v2::devices::apply(Self::dir(rec)?, self.open_dir(rec)?.as_fd(), &rules, true)?;
        }
        write::perform(rec, &writes)
    }

    fn freeze(&self, rec: &CgroupPaths, frozen: bool) -> Result<()> {
        let dir = Self::dir(rec)?;
        fs::write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        let events = dir.join("cgroup.events");
        let ok = fs::wait_until(FREEZE_TIMEOUT, || {
            Ok(fs::read(&events)?.lines().any(|l| l == want))
        })?;
        if !ok {
            if frozen {
                let _ = fs::write(&dir.join("cgroup.freeze"), "0");
            }
            bail!(
                "cgroup: {} did not report {want:?} within {FREEZE_TIMEOUT:?}",
                events.display()
            );
        }
        Ok(())
    }

    fn is_frozen(&self, rec: &CgroupPaths) -> Result<bool> {
        let state = fs::read_opt(&Self::dir(rec)?.join("cgroup.freeze"))?;
        Ok(state.is_some_and(|s| s.trim() == "1"))
    }

    fn can_freeze(&self, _rec: &CgroupPaths) -> bool {
        true
    }

    fn kill_at_once(&self, rec: &CgroupPaths) -> Result<bool> {
        let dir = Self::dir(rec)?;
        match fs::write_raw(&dir.join("cgroup.kill"), "1") {
            Ok(()) => Ok(true),
            // Gone already: nothing left to kill.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => Ok(true),
            // A kernel before 5.14: one by one.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(fs::write_error(&dir.join("cgroup.kill"), "1", &e)),
        }
    }

    fn stats(&self, rec: &CgroupPaths) -> Result<Stats> {
        stats::v2::collect(Self::dir(rec)?)
    }

    fn oom_kills(&self, rec: &CgroupPaths) -> Result<Option<u64>> {
        stats::oom_kill_count(Self::dir(rec)?, "memory.events")
    }
}

/// Enable in every level from the root down to `leaf`'s parent the
/// controllers that level offers, as runc does (so stats and later updates
/// find their files). A needed controller that cannot be enabled is an error.
fn enable_controllers(
    root: &Path,
    leaf: &Path,
    created: &[PathBuf],
    writes: &[FileWrite],
) -> Result<()> {
    let mut levels: Vec<&Path> = leaf
        .ancestors()
        .skip(1)
        .take_while(|p| p.starts_with(root))
        .collect();
    levels.reverse();
    for level in levels {
        let avail = fs::read(&level.join("cgroup.controllers"))?;
        let ctl = level.join("cgroup.subtree_control");
        let enabled = if created.iter().any(|c| c == level) {
            String::new()
        } else {
            fs::read(&ctl)?
        };
        let want: Vec<&str> = avail
            .split_whitespace()
            .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
            .collect();
        if want.is_empty() {
            continue;
        }
        let all = want
            .iter()
            .map(|c| format!("+{c}"))
            .collect::<Vec<_>>()
            .join(" ");
        if fs::write_raw(&ctl, &all).is_ok() {
            continue;
        }
        // One refused controller (e.g. cpu with realtime tasks) must not
        // block the others; only the ones the limits need are errors.
        for c in want {
            let v = format!("+{c}");
            if let Err(e) = fs::write_raw(&ctl, &v)
                && writes.iter().any(|w| w.controller == c)
            {
                return Err(fs::write_error(&ctl, &v, &e));
            }
        }
    }
    Ok(())
}

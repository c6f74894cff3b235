//! The v1 cgroupfs backend: one directory per hierarchy, limits through
//! `v1::translate`, the freezer hierarchy for pause, cpuset filled in.

use std::cell::OnceCell;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::cgroups::stats::Stats;
use anyhow::{Result, anyhow, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::backend::Backend;
use crate::cgroups::host::{self, Host};
use crate::cgroups::plan::{Inner, has_unified, missing_controller};
use crate::cgroups::{CgroupPaths, FREEZE_TIMEOUT, devices, fs, stats, v1, write};

#[derive(Default)]
pub struct V1Fs {
    /// The container's directory in a hybrid host's cgroup2 hierarchy,
    /// opened once for CLONE_INTO_CGROUP (None: there is none, or it
    /// could not be opened, and `add_pid` places the child).
    hybrid_fd: OnceCell<Option<OwnedFd>>,
}

/// The record for `inner` on a host with v1 `hierarchies`, after checking
/// that every limit has its controller here.
pub(in crate::cgroups) fn plan(
    host: &Host,
    hierarchies: &[host::Hierarchy],
    inner: &Inner,
    resources: Option<&LinuxResources>,
) -> Result<CgroupPaths> {
    if has_unified(resources) {
        bail!(
            "linux.resources.unified: needs a cgroup v2 host; this host is {}",
            host::describe(host)
        );
    }
    let has = |c: &str| {
        hierarchies
            .iter()
            .any(|h| h.controllers.iter().any(|x| x == c))
    };
    let spec_devices = resources.and_then(|r| r.devices().as_ref()).is_some();
    let rules = devices::rules(resources, has("devices") || spec_devices)?;
    let writes = v1::translate(resources, None, rules.as_deref())?;
    if let Some(w) = writes.iter().find(|w| !has(w.controller)) {
        return Err(missing_controller(w.controller, host));
    }
    let mut paths = CgroupPaths::default();
    for h in hierarchies {
        let dir = if inner.absolute {
            inner.under(&h.mount)
        } else {
            inner.under(&h.mount.join(h.own.trim_start_matches('/')))
        };
        if h.controllers.is_empty() {
            // Debug builds' OUTLET_NO_HYBRID_JOIN=1 leaves the container
            // in the caller's cgroup2 directory, as outlet did before
            // (tests/checkpoint.rs's control).
            if !crate::fault::control("OUTLET_NO_HYBRID_JOIN") {
                paths.hybrid = Some(dir);
            }
            continue;
        }
        for c in &h.controllers {
            paths.v1.insert(c.clone(), dir.clone());
        }
    }
    Ok(paths)
}

impl Backend for V1Fs {
    fn create(&mut self, rec: &mut CgroupPaths, resources: Option<&LinuxResources>) -> Result<()> {
        let mut created = std::mem::take(&mut rec.created);
        let result = (|| {
            for dir in rec.dirs() {
                fs::mkdir_all(dir, &mut created)?;
            }
            if let Some(freezer) = rec.v1.get("freezer") {
                refuse_frozen(freezer, &created)?;
            }
            if let Some(cpuset) = rec.v1.get("cpuset") {
                fill_cpusets(cpuset, &created)?;
            }
            let rules = devices::rules(resources, rec.v1.contains_key("devices"))?;
            write::perform(rec, &v1::translate(resources, None, rules.as_deref())?)
        })();
        rec.created = created;
        result
    }

    /// The `tasks` file of each hierarchy, opened for writing, for a new
    /// single-threaded child to move itself in with `Cgroup::join_self`
    /// before it does anything else. Why not `add_pid` from the parent: a
    /// write of another process's pid takes the kernel's global
    /// cgroup_threadgroup_rwsem for writing, whose first writer after a
    /// quiet spell waits out an RCU grace period (8-20 ms measured here,
    /// most of a create); a thread moving only itself ("0" to `tasks`)
    /// skips that lock. None when a file cannot be opened (`add_pid` then
    /// reports why).
    fn self_join_files(&self, rec: &CgroupPaths) -> Option<Vec<OwnedFd>> {
        rec.v1_dirs()
            .into_iter()
            .map(|dir| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(dir.join("tasks"))
                    .ok()
                    .map(OwnedFd::from)
            })
            .collect()
    }

    /// A hybrid host's cgroup2 directory is entered by the clone: a write
    /// of a pid to its cgroup.procs would take cgroup_threadgroup_rwsem
    /// for writing (see `self_join_files`), which `tasks` in v1 does not.
    /// The v1 hierarchies are joined by the child itself after it.
    fn clone_into_fd(&self, rec: &CgroupPaths) -> Option<RawFd> {
        let dir = rec.hybrid.as_deref()?;
        self.hybrid_fd
            .get_or_init(|| {
                std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_DIRECTORY)
                    .open(dir)
                    .ok()
                    .map(OwnedFd::from)
            })
            .as_ref()
            .map(AsRawFd::as_raw_fd)
    }

    /// Devices are replaced only when the update names them.
    fn apply(&self, rec: &CgroupPaths, resources: &LinuxResources) -> Result<()> {
        let rules = devices::rules(Some(resources), false)?;
        if has_unified(Some(resources)) {
            bail!(
                "linux.resources.unified: needs a cgroup v2 host; this container's cgroups are v1"
            );
        }
        let current = if v1::memory::needs_current_limit(resources) {
            let path = rec.dir_for("memory")?.join(v1::memory::LIMIT);
            let text = fs::read(&path)?;
            Some(
                text.trim()
                    .parse::<u64>()
                    .map_err(|e| anyhow!("cgroup: read {}: {text:?}: {e}", path.display()))?,
            )
        } else {
            None
        };
        write::perform(
            rec,
            &v1::translate(Some(resources), current, rules.as_deref())?,
        )
    }

    fn freeze(&self, rec: &CgroupPaths, frozen: bool) -> Result<()> {
        let state = rec.dir_for("freezer")?.join(v1::freezer::STATE);
        if !frozen {
            return fs::write(&state, v1::freezer::THAWED);
        }
        // Writing FROZEN again while FREEZING nudges the tasks that were
        // busy the first time (runc does the same).
        let ok = fs::wait_until(FREEZE_TIMEOUT, || {
            fs::write(&state, v1::freezer::FROZEN)?;
            Ok(v1::freezer::is_frozen(&fs::read(&state)?))
        })?;
        if !ok {
            let _ = fs::write(&state, v1::freezer::THAWED);
            bail!(
                "cgroup: {} did not become FROZEN within {FREEZE_TIMEOUT:?}",
                state.display()
            );
        }
        Ok(())
    }

    fn is_frozen(&self, rec: &CgroupPaths) -> Result<bool> {
        let Some(dir) = rec.v1.get("freezer") else {
            return Ok(false);
        };
        let state = fs::read_opt(&dir.join(v1::freezer::STATE))?;
        Ok(state.is_some_and(|s| v1::freezer::reads_paused(&s)))
    }

    fn can_freeze(&self, rec: &CgroupPaths) -> bool {
        rec.v1.contains_key("freezer")
    }

    fn stats(&self, rec: &CgroupPaths) -> Result<Stats> {
        stats::v1::collect(&rec.v1)
    }

    fn oom_kills(&self, rec: &CgroupPaths) -> Result<Option<u64>> {
        match rec.v1.get("memory") {
            Some(d) => stats::oom_kill_count(d, "memory.oom_control"),
            None => Ok(None),
        }
    }
}

/// A container placed in a cgroup that is already frozen would have its
/// init stop at its first step and never reach the sync: create hangs and
/// `delete --force` cannot kill it (seen: "the recorded init did not die
/// within 10s of SIGKILL"). So refuse, as runc does ("container's cgroup
/// unexpectedly frozen"). A new directory is frozen only when an ancestor
/// is, and then so is the nearest one that existed before this create:
/// that one is read (the hierarchy root has no freezer.state, so a
/// default path costs one failed open).
fn refuse_frozen(leaf: &Path, created: &[PathBuf]) -> Result<()> {
    let Some(old) = leaf.ancestors().find(|d| !created.iter().any(|c| c == d)) else {
        return Ok(());
    };
    let state = old.join(v1::freezer::STATE);
    match fs::read_opt(&state)? {
        Some(s) if v1::freezer::reads_paused(&s) => bail!(
            "cgroup: container's cgroup unexpectedly frozen: {} reads {}",
            state.display(),
            s.trim()
        ),
        _ => Ok(()),
    }
}

/// A v1 cpuset with an empty `cpuset.cpus` or `cpuset.mems` refuses
/// tasks (ENOSPC on the `tasks` write), and a new directory starts empty.
/// A parent can be left empty too (a plain `mkdir`, or a create that
/// died before filling it), which would poison every container below it.
/// So for each file: read upwards from the deepest directory not known to
/// be new until a value is found (the hierarchy root always has one), then
/// write it into every empty level below, parents first, as runc does.
/// Where the parents are fine this is one read per file and a write per
/// new directory, as before; only empty levels cost more.
fn fill_cpusets(leaf: &Path, created: &[PathBuf]) -> Result<()> {
    for file in [v1::cpuset::CPUS, v1::cpuset::MEMS] {
        let mut empty: Vec<&Path> = Vec::new();
        let mut value = None;
        for dir in leaf.ancestors() {
            if !created.iter().any(|c| c == dir) {
                let v = fs::read(&dir.join(file))?;
                if !v.trim().is_empty() {
                    value = Some(v);
                    break;
                }
            }
            empty.push(dir);
        }
        let value = value
            .ok_or_else(|| anyhow!("cgroup: no {file} above {} to copy into it", leaf.display()))?;
        for dir in empty.iter().rev() {
            fs::write(&dir.join(file), value.trim())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cpuset fill-in on plain files standing in for a hierarchy:
    /// root (filled) / a (empty, existed) / b (made now) / leaf (made
    /// now). Each file is read upwards to the first value and written into
    /// every empty level below; a filled level is never rewritten.
    #[test]
    fn fill_cpusets_copies_down_from_the_nearest_value() {
        let base = std::env::temp_dir().join(format!("outlet-unit-cpuset-{}", std::process::id()));
        let root = base.join("root");
        let (a, b) = (root.join("a"), root.join("a/b"));
        let leaf = b.join("leaf");
        std::fs::create_dir_all(&leaf).unwrap();
        let put = |d: &Path, cpus: &str, mems: &str| {
            std::fs::write(d.join(v1::cpuset::CPUS), cpus).unwrap();
            std::fs::write(d.join(v1::cpuset::MEMS), mems).unwrap();
        };
        put(&root, "0-3\n", "0\n");
        put(&a, "", "0\n");
        put(&b, "", "");
        put(&leaf, "", "");
        let get = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        let result = fill_cpusets(&leaf, &[b.clone(), leaf.clone()]);
        let seen: Vec<(String, String)> = [&root, &a, &b, &leaf]
            .iter()
            .map(|d| (get(d, v1::cpuset::CPUS), get(d, v1::cpuset::MEMS)))
            .collect();
        let _ = std::fs::remove_dir_all(&base);
        result.unwrap();
        assert_eq!(
            seen,
            [("0-3\n", "0\n"), ("0-3", "0\n"), ("0-3", "0"), ("0-3", "0"),]
                .map(|(c, m)| (c.to_owned(), m.to_owned()))
        );
    }
}

//! The systemd backend: a transient scope made over D-Bus once the init's
//! pid exists, then the v2 cgroupfs backend on the scope's directory for
//! what systemd has no property for (exact values, devices as eBPF).

use std::cell::Cell;
use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::cgroups::stats::Stats;
use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::backend::Backend;
use crate::cgroups::host::{self, Host};
use crate::cgroups::v2::backend::V2Fs;
use crate::cgroups::{CgroupPaths, FileWrite, devices, v2};

pub struct Systemd {
    fs: V2Fs,
    /// Between `create` and `add_pid`: the scope is made only once the
    /// init's pid exists, with these limits.
    pending: Option<PendingScope>,
    /// This create's StartTransientUnit succeeded. Until then the unit
    /// the record names is not ours: if it appeared after `plan` looked
    /// (someone else's, started in between) and our start failed on it,
    /// the rollback must neither kill what is in its cgroup nor stop it.
    started: Cell<bool>,
}

struct PendingScope {
    slice: String,
    resources: Option<LinuxResources>,
}

/// The record and backend for a scope under the v2 root, checked now and
/// made by `add_pid`.
pub(in crate::cgroups) fn plan(
    cgroups_path: Option<&str>,
    id: &str,
    resources: Option<&LinuxResources>,
) -> Result<(CgroupPaths, Systemd)> {
    let scope = super::scope(cgroups_path, id)?;
    let host = host::probe()?;
    let Host::Unified(root) = &host else {
        bail!(
            "--systemd-cgroup: the systemd cgroup driver needs a unified (cgroup v2) host; this host is {}",
            host::describe(&host)
        );
    };
    v2::translate(resources)?;
    devices::rules(resources, true)?;
    // A unit whose cgroup exists is someone else's (another container's
    // scope with the same cgroupsPath, a slice of the host's, init.scope):
    // systemd would refuse to start it, and the rollback of the failed
    // create would then kill what is in its cgroup and stop it.
    let dir = root.join(&scope.rel);
    if dir.exists() {
        bail!(
            "linux.cgroupsPath: the cgroup of systemd unit {} exists already ({}): outlet \
             starts a unit of its own, never one that runs",
            scope.unit,
            dir.display()
        );
    }
    let rec = CgroupPaths {
        unified: Some(root.join(&scope.rel)),
        systemd_unit: Some(scope.unit),
        systemd_description: Some(super::description(id)),
        ..Default::default()
    };
    let mut backend = Systemd::new(V2Fs::new(root));
    backend.pending = Some(PendingScope {
        slice: scope.slice,
        resources: None,
    });
    Ok((rec, backend))
}

impl Systemd {
    pub fn new(fs: V2Fs) -> Systemd {
        Systemd {
            fs,
            pending: None,
            started: Cell::new(false),
        }
    }

    /// A create whose start did not succeed (see `started`).
    fn unit_not_ours(&self) -> bool {
        self.pending.is_some() && !self.started.get()
    }

    fn unit(rec: &CgroupPaths) -> Result<&str> {
        match rec.systemd_unit.as_deref() {
            Some(u) => Ok(u),
            None => bail!("cgroup: not a systemd scope"),
        }
    }
}

impl Backend for Systemd {
    /// systemd makes (and removes) the scope and its slices.
    fn to_create(&self, _rec: &CgroupPaths) -> Vec<PathBuf> {
        Vec::new()
    }

    /// Nothing yet: the scope is made with the init in it (`add_pid`).
    fn create(&mut self, _rec: &mut CgroupPaths, resources: Option<&LinuxResources>) -> Result<()> {
        if let Some(p) = self.pending.as_mut() {
            p.resources = resources.cloned();
        }
        Ok(())
    }

    /// Not before the scope exists; a made one (an `exec` into the
    /// container) takes a child at clone time like plain v2.
    fn clone_into_fd(&self, rec: &CgroupPaths) -> Option<RawFd> {
        if self.pending.is_some() {
            return None;
        }
        self.fs.clone_into_fd(rec)
    }

    /// The create of a scope: made with `pid` in it, then every limit
    /// through its files (the exact values, and those systemd has no
    /// property for), devices as an eBPF program, as on plain v2.
    fn add_pid(&self, rec: &CgroupPaths, pid: i32) -> Result<()> {
        let Some(p) = &self.pending else {
            return self.fs.add_pid(rec, pid);
        };
        let resources = p.resources.as_ref();
        let writes = v2::translate(resources)?;
        let dir = rec.unified.as_deref().expect("systemd units are v2");
        let description = rec.systemd_description.as_deref().unwrap_or_default();
        super::start(Self::unit(rec)?, &p.slice, description, pid, &writes, dir)?;
        self.started.set(true);
        // Not host root (a user's systemd instance, also as uid 0 of a
        // user namespace), no device program can be loaded (CAP_SYS_ADMIN
        // of the initial namespace); the container is in a user namespace,
        // where no device node can be made, and host nodes keep their
        // owners' permissions (runc skips it alike).
        if !super::user_manager()? {
            self.fs.limit(rec, resources, &writes)
        } else {
            crate::cgroups::write::perform(rec, &writes).map_err(|e| undelegated(e, dir, &writes))
        }
    }

    /// The new limits as unit properties too, so that systemd does not
    /// undo the file writes on its next reload.
    fn apply(&self, rec: &CgroupPaths, resources: &LinuxResources) -> Result<()> {
        let dir = rec.unified.as_deref().expect("systemd units are v2");
        let kept = v2::cpu::keep_quota(resources, dir)?;
        let resources = kept.as_ref().unwrap_or(resources);
        super::set(Self::unit(rec)?, &v2::translate(Some(resources))?)?;
        self.fs.apply(rec, resources)
    }

    fn freeze(&self, rec: &CgroupPaths, frozen: bool) -> Result<()> {
        self.fs.freeze(rec, frozen)
    }

    fn is_frozen(&self, rec: &CgroupPaths) -> Result<bool> {
        self.fs.is_frozen(rec)
    }

    fn can_freeze(&self, rec: &CgroupPaths) -> bool {
        self.fs.can_freeze(rec)
    }

    fn kill_at_once(&self, rec: &CgroupPaths) -> Result<bool> {
        if self.unit_not_ours() {
            bail!(
                "systemd: this create did not start unit {}: nothing in its cgroup is killed",
                Self::unit(rec)?
            );
        }
        self.fs.kill_at_once(rec)
    }

    /// Stop the scope: systemd removes its directory. Not a unit this
    /// create failed to start.
    fn release(&self, rec: &CgroupPaths) -> Result<()> {
        if self.unit_not_ours() {
            return Ok(());
        }
        super::stop(Self::unit(rec)?)
    }

    fn stats(&self, rec: &CgroupPaths) -> Result<Stats> {
        self.fs.stats(rec)
    }

    fn oom_kills(&self, rec: &CgroupPaths) -> Result<Option<u64>> {
        self.fs.oom_kills(rec)
    }
}

/// A limit file the user's scope lacks: when its controller is not in the
/// scope's `cgroup.controllers`, say so, and how to grant it, rather than
/// only "no such file" (crun refuses alike, naming the controller; running
/// without the limit asked for is no option). Read only on that error.
fn undelegated(e: anyhow::Error, dir: &std::path::Path, writes: &[FileWrite]) -> anyhow::Error {
    let not_found = e
        .downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound);
    let Ok(Some(have)) = crate::cgroups::fs::read_opt(&dir.join("cgroup.controllers")) else {
        return e;
    };
    let have: Vec<&str> = have.split_whitespace().collect();
    let missing = writes
        .iter()
        .map(|w| w.controller)
        .find(|c| !c.is_empty() && !have.contains(c));
    match missing {
        Some(c) if not_found => {
            let who = match super::owner::manager() {
                Ok(super::owner::Manager::User { uid }) => format!("user@{uid}.service"),
                _ => "the user's systemd instance".to_owned(),
            };
            e.context(format!(
                "linux.resources: the {c} controller is not delegated to {who} (it has: {}); \
                 grant it with a drop-in for user@.service: [Service] Delegate={c} ...",
                have.join(" ")
            ))
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::TempDir;

    /// The rollback of a create whose start failed leaves the unit's
    /// cgroup alone: kill_at_once refuses (cgroup.kill, a file in a fake
    /// cgroup dir here, stays unwritten) and release asks nothing of
    /// systemd. Control: once the start succeeded, the same call writes
    /// cgroup.kill.
    #[test]
    fn a_unit_this_create_did_not_start_is_never_killed() {
        let d = TempDir::new("sd-notours");
        let kill = d.0.join("cgroup.kill");
        std::fs::write(&kill, "").unwrap();
        let rec = CgroupPaths {
            unified: Some(d.0.clone()),
            systemd_unit: Some("outlet-someone-else.scope".into()),
            ..Default::default()
        };
        let mut b = Systemd::new(V2Fs::new(&d.0));
        b.pending = Some(PendingScope {
            slice: "system.slice".into(),
            resources: None,
        });
        let e = b.kill_at_once(&rec).unwrap_err().to_string();
        assert!(e.contains("did not start"), "{e}");
        assert_eq!(std::fs::read_to_string(&kill).unwrap(), "");
        b.release(&rec).unwrap();

        b.started.set(true);
        assert!(b.kill_at_once(&rec).unwrap());
        assert_eq!(std::fs::read_to_string(&kill).unwrap(), "1");
    }

    fn missing(dir: &std::path::Path, file: &str) -> anyhow::Error {
        let path = dir.join(file);
        let e = std::fs::File::open(&path).unwrap_err();
        crate::cgroups::fs::write_error(&path, "4194304", &e)
    }

    /// A missing file of a controller the scope lacks names it and the
    /// drop-in; one of a controller it has (a file the kernel lacks) or a
    /// scope whose controllers cannot be read keeps the plain error.
    #[test]
    fn undelegated_controller_named() {
        let d = TempDir::new("undelegated");
        std::fs::write(d.0.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let writes = [
            FileWrite::new("memory", "memory.max", "1".into()),
            FileWrite::new("hugetlb", "hugetlb.2MB.max", "4194304".into()),
        ];
        let e = undelegated(missing(&d.0, "hugetlb.2MB.max"), &d.0, &writes);
        let text = format!("{e:#}");
        assert!(
            text.contains("the hugetlb controller is not delegated")
                && text.contains("Delegate=hugetlb"),
            "{text}"
        );
        assert!(text.contains("it has: cpu memory pids"), "{text}");
        assert!(
            text.contains("hugetlb.2MB.max"),
            "the file stays named: {text}"
        );
        let had = [FileWrite::new("memory", "memory.max", "1".into())];
        let e = undelegated(missing(&d.0, "memory.max"), &d.0, &had);
        assert!(!format!("{e:#}").contains("not delegated"), "{e:#}");
        std::fs::remove_file(d.0.join("cgroup.controllers")).unwrap();
        let e = undelegated(missing(&d.0, "hugetlb.2MB.max"), &d.0, &writes);
        assert!(!format!("{e:#}").contains("not delegated"), "{e:#}");
    }
}

//! `CgroupPaths`: where a container's cgroup lives and what it made, as
//! state.json records it, with the questions every backend and caller asks
//! of it (its directories, which it owns, where a controller's files are).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, anyhow, bail};
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
    /// On a hybrid host, the container's directory in the controller-less
    /// cgroup2 hierarchy at /sys/fs/cgroup/unified (the `0::` line of
    /// /proc/PID/cgroup), as runc makes it: no limit lives there and it is
    /// not mounted in the container; the clone places the child in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hybrid: Option<PathBuf>,
    /// Directories created by this container, parents first, in every
    /// hierarchy: what it owns. Only these are killed through and removed
    /// (in reverse order) by `destroy`; a directory that existed before
    /// (made by hand, by another container sharing the cgroupsPath) is
    /// left alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<PathBuf>,
    /// The container's init is the init of its own new pid namespace, so
    /// its processes are exactly that namespace's: they all die with the
    /// init, and whatever is still in the cgroup once the init is gone is
    /// someone else's (a host process or container sharing the
    /// cgroupsPath). `destroy` then never kills through the cgroup.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own_pid_ns: bool,
    /// The systemd scope holding `unified` (the systemd driver): systemd
    /// makes and removes the directory; `destroy` stops the unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    /// The Description outlet gives that unit: the container's id and a
    /// tag of this create's, on record before StartTransientUnit. A unit of
    /// the same name with another Description is not the one this
    /// container started (see `systemd::unit_is`), and a delete leaves it
    /// and its cgroup alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_description: Option<String>,
}

/// The v1 hierarchies where the list of processes is read, best first: the
/// ones a container cannot leave from the inside before the others.
const PROCS_FROM: &[&str] = &[
    "pids", "memory", "freezer", "devices", "cpu", "cpuset", "blkio",
];

impl CgroupPaths {
    /// No cgroup at all (a rootless container without a delegated one).
    pub fn is_empty(&self) -> bool {
        self.unified.is_none() && self.v1.is_empty()
    }

    /// The container's directories, one per hierarchy (co-mounted v1
    /// controllers share one).
    pub(super) fn dirs(&self) -> Vec<&Path> {
        if let Some(u) = &self.unified {
            return vec![u.as_path()];
        }
        let mut out = self.v1_dirs();
        out.extend(self.hybrid.as_deref());
        out
    }

    /// The v1 hierarchies' directories alone (each has a `tasks` file).
    pub(super) fn v1_dirs(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::with_capacity(self.v1.len() + 1);
        for p in self.v1.values() {
            if !out.contains(&p.as_path()) {
                out.push(p);
            }
        }
        out
    }

    /// Each hierarchy the container has a directory in: the v1 controller
    /// that names it (None for the one cgroup2 hierarchy), and the
    /// directory. What a `cgroup` mount inside the container shows, and
    /// what CRIU is told to restore into.
    pub fn hierarchies(&self) -> impl Iterator<Item = (Option<&str>, &Path)> {
        let unified = self.unified.iter().map(|d| (None, d.as_path()));
        unified.chain(self.v1.iter().map(|(c, d)| (Some(c.as_str()), d.as_path())))
    }

    /// The container's directory in the hierarchy of `controller`.
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        match &self.unified {
            Some(u) => Some(u),
            None => self.v1.get(controller).map(PathBuf::as_path),
        }
    }

    /// The directory a write for `controller` goes to.
    pub(super) fn dir_for(&self, controller: &str) -> Result<&Path> {
        self.controller_dir(controller).ok_or_else(|| {
            anyhow!(
                "cgroup: the {controller} controller is not available (cgroup v1 host without it)"
            )
        })
    }

    /// The directory whose cgroup.procs lists the container's processes.
    pub(super) fn procs_dir(&self) -> Option<&Path> {
        if let Some(u) = &self.unified {
            return Some(u);
        }
        PROCS_FROM
            .iter()
            .find_map(|c| self.v1.get(*c))
            .or_else(|| self.v1.values().next())
            .map(PathBuf::as_path)
    }

    pub(super) fn created(&self, dir: &Path) -> bool {
        self.created.iter().any(|c| c == dir)
    }

    /// Did this container create its directory in every hierarchy? Only
    /// then may it signal whatever is inside: a cgroup it merely joined
    /// holds processes that are not its own.
    pub fn owns(&self) -> bool {
        // A systemd scope is made for this container alone (systemd owns
        // the directory, so it is not in `created`).
        self.systemd_unit.is_some() || self.dirs().into_iter().all(|d| self.created(d))
    }

    /// The directories a cgroupfs create would make now: each planned
    /// directory and its missing parents, parents first (one stat per
    /// hierarchy when they exist).
    pub(super) fn missing_dirs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for dir in self.dirs() {
            let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
            for m in missing.into_iter().rev() {
                if !out.iter().any(|o| o == m) {
                    out.push(m.to_path_buf());
                }
            }
        }
        out
    }

    /// The cgroup an `exec` joins: the container's own, or with `--cgroup`
    /// an existing sub-cgroup of it (runc's `--cgroup path` for every
    /// controller, `controller[,controller]:path` for some, repeatable; `/`
    /// the container's own). A path may not leave the container's cgroup,
    /// and must exist: exec creates none.
    pub fn sub_cgroups(&self, specs: &[String]) -> Result<CgroupPaths> {
        // A hybrid host's cgroup2 directory stays the container's own: the
        // sub-cgroups named are v1 ones (runc's exec.bats makes them there).
        let mut paths = CgroupPaths {
            unified: self.unified.clone(),
            v1: self.v1.clone(),
            hybrid: self.hybrid.clone(),
            ..Default::default()
        };
        for spec in specs {
            let (controllers, sub) = match spec.split_once(':') {
                Some((c, p)) => (Some(c), p),
                None => (None, spec.as_str()),
            };
            // `/` (or `pids:/`) is the container's own cgroup, named
            // explicitly: runc's exec.bats joins it that way.
            let sub = Path::new(sub.trim_start_matches('/'));
            if sub.components().any(|c| !matches!(c, Component::Normal(_))) {
                bail!(
                    "--cgroup {spec:?}: bad sub cgroup path: it must name a sub-cgroup inside \
                     the container's cgroup"
                );
            }
            // Each --cgroup is relative to the container's own cgroup, also
            // when an earlier one named the same controller.
            for (dir, base) in self.sub_targets(spec, controllers, &mut paths)? {
                let joined = base.join(sub);
                // runc's exec.bats matches " adding pid " and "no such file
                // or directory" in the words of its failed cgroup.procs write.
                if !joined.is_dir() {
                    bail!(
                        "--cgroup {spec:?}: sub-cgroup {} does not exist (exec creates none): \
                         adding pid to it: no such file or directory",
                        joined.display()
                    );
                }
                *dir = joined;
            }
        }
        Ok(paths)
    }

    /// The directories of `paths` one `--cgroup` spec moves, each with the
    /// container's own directory it is relative to.
    fn sub_targets<'a>(
        &'a self,
        spec: &str,
        controllers: Option<&str>,
        paths: &'a mut CgroupPaths,
    ) -> Result<Vec<(&'a mut PathBuf, &'a Path)>> {
        let own = |(k, v): (&String, &'a mut PathBuf)| Some((v, self.v1.get(k)?.as_path()));
        let targets: Vec<_> = match (controllers, paths.unified.as_mut(), self.unified.as_deref()) {
            (None, Some(dir), Some(base)) => vec![(dir, base)],
            (Some(_), Some(_), _) => bail!(
                "--cgroup {spec:?}: controller:path is for cgroup v1; give only the path on a cgroup v2 host"
            ),
            (None, _, _) => paths.v1.iter_mut().filter_map(own).collect(),
            (Some(list), _, _) => {
                let names: Vec<&str> = list.split(',').collect();
                if let Some(bad) = names.iter().find(|n| !self.v1.contains_key(**n)) {
                    bail!(
                        "--cgroup {spec:?}: unknown controller {bad:?} (the container has no \
                         cgroup for it)"
                    );
                }
                paths
                    .v1
                    .iter_mut()
                    .filter(|(k, _)| names.contains(&k.as_str()))
                    .filter_map(own)
                    .collect()
            }
        };
        if targets.is_empty() {
            bail!("--cgroup {spec:?}: the container has no cgroup to join a sub-cgroup of");
        }
        Ok(targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// State files written before ownership was recorded still load, as
    /// a container without a pid namespace of its own (the old rule).
    #[test]
    fn old_state_cgroup_loads() {
        let old: CgroupPaths = serde_json::from_str(
            r#"{"v1":{"pids":"/sys/fs/cgroup/pids/c1"},"created":["/sys/fs/cgroup/pids/c1"]}"#,
        )
        .unwrap();
        assert!(!old.own_pid_ns);
        assert!(old.owns());
        let json = serde_json::to_string(&old).unwrap();
        assert!(!json.contains("own_pid_ns"), "{json}");
        let joined = CgroupPaths {
            v1: [("pids".to_owned(), PathBuf::from("/sys/fs/cgroup/pids/c1"))].into(),
            ..Default::default()
        };
        assert!(!joined.owns());
    }
}

//! Planning a container's cgroup: resolve `cgroupsPath` against the host's
//! layout and check `resources` against it, changing nothing. The backend
//! is chosen here: systemd when asked for, else what the host mounts.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use oci_spec::runtime::LinuxResources;

use super::backend::Driver;
use super::host::{self, Host};
use super::{Cgroup, systemd, v1, v2};

/// `cgroupsPath` normalised: `.` and empty components dropped, no `..`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Inner {
    /// Absolute: from the hierarchy's root; else from the caller's cgroup.
    pub absolute: bool,
    /// The components joined by `/`, without a leading one.
    pub rel: String,
}

impl Inner {
    pub fn under(&self, base: &Path) -> PathBuf {
        base.join(&self.rel)
    }
}

/// The default when None/empty is the relative path `<id>` (runc's
/// cgroupfs driver does the same); `..` refused rather than silently clamped.
pub(super) fn inner_path(cgroups_path: Option<&str>, id: &str) -> Result<Inner> {
    let p = cgroups_path.filter(|s| !s.is_empty()).unwrap_or(id);
    if !p.starts_with('/') && p.matches(':').count() == 2 {
        bail!(
            "linux.cgroupsPath {p:?}: a systemd slice:prefix:name path: pass --systemd-cgroup for the systemd cgroup driver, or use a filesystem path"
        );
    }
    let mut rel = String::with_capacity(p.len());
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => bail!("linux.cgroupsPath {p:?}: \"..\" would leave the cgroup hierarchy"),
            c => {
                if !rel.is_empty() {
                    rel.push('/');
                }
                rel.push_str(c);
            }
        }
    }
    if rel.is_empty() {
        bail!("linux.cgroupsPath {p:?}: names the root cgroup, which a container cannot own");
    }
    Ok(Inner {
        absolute: p.starts_with('/'),
        rel,
    })
}

pub(super) fn has_unified(r: Option<&LinuxResources>) -> bool {
    r.and_then(|r| r.unified().as_ref())
        .is_some_and(|u| !u.is_empty())
}

pub(super) fn missing_controller(ctrl: &str, host: &Host) -> anyhow::Error {
    anyhow!(
        "linux.resources: the {ctrl} controller is needed but not available on this host: {}",
        host::describe(host)
    )
}

impl Cgroup {
    /// Resolve `cgroupsPath` (absolute, relative to the caller's cgroup, or
    /// the default when empty) and validate `resources` against the host,
    /// without changing anything.
    pub fn plan(
        cgroups_path: Option<&str>,
        id: &str,
        resources: Option<&LinuxResources>,
    ) -> Result<Cgroup> {
        if systemd::enabled() {
            let (paths, backend) = systemd::backend::plan(cgroups_path, id, resources)?;
            return Ok(Cgroup::with(paths, Driver::Systemd(backend)));
        }
        let inner = inner_path(cgroups_path, id)?;
        let host = host::probe()?;
        match &host {
            Host::Unified(root) => {
                let paths = v2::backend::plan(&host, root, &inner, resources)?;
                Ok(Cgroup::from_paths(paths))
            }
            Host::Legacy(hierarchies) => {
                let paths = v1::backend::plan(&host, hierarchies, &inner, resources)?;
                Ok(Cgroup::from_paths(paths))
            }
        }
    }

    /// `plan` against the cgroup2 hierarchy mounted at `root` rather than
    /// the probed host layout: the cgroup2 mount of a hybrid host
    /// (/sys/fs/cgroup/unified), where the v2 code paths (controller
    /// enabling, eBPF devices, cgroup.freeze, cgroup.kill) can run for real.
    pub fn plan_unified_at(
        root: &Path,
        cgroups_path: Option<&str>,
        id: &str,
        resources: Option<&LinuxResources>,
    ) -> Result<Cgroup> {
        let inner = inner_path(cgroups_path, id)?;
        let host = Host::Unified(root.to_path_buf());
        let paths = v2::backend::plan(&host, root, &inner, resources)?;
        let backend = v2::backend::V2Fs::new(root);
        Ok(Cgroup::with(paths, Driver::V2(backend)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner(absolute: bool, rel: &str) -> Inner {
        Inner {
            absolute,
            rel: rel.to_owned(),
        }
    }

    #[test]
    fn cgroups_path_forms() {
        assert_eq!(inner_path(None, "c1").unwrap(), inner(false, "c1"));
        assert_eq!(inner_path(Some(""), "c1").unwrap(), inner(false, "c1"));
        assert_eq!(
            inner_path(Some("/a//b/./c/"), "c1").unwrap(),
            inner(true, "a/b/c")
        );
        assert_eq!(inner_path(Some("x/y"), "c1").unwrap(), inner(false, "x/y"));
        let e = inner_path(Some("system.slice:docker:abc"), "c1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pass --systemd-cgroup"), "{e}");
        let e = inner_path(Some("/a/../../etc"), "c1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"..\""), "{e}");
        assert!(inner_path(Some("/"), "c1").is_err());
    }
}

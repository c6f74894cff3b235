//! cgroups: one `Cgroup` handle over the host's layout (unified v2, or the
//! v1 controllers of a hybrid/legacy host). Translation from the spec's
//! resources to (file, value) writes lives in `v1/` and `v2/`, one small file
//! per controller; this module performs the writes and names the file and
//! value in any error.

pub mod devices;
mod fs;
pub mod host;
mod stats;
pub mod systemd;
pub mod v1;
pub mod v2;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use devices::{DefaultDevice, default_allowed_devices};
use host::Host;

/// `MAJ:MIN` of a blockIO device entry (v1 blkio and v2 io name devices
/// alike), refusing numbers that are no device.
pub(crate) fn block_device(field: &str, major: i64, minor: i64) -> Result<String> {
    if major < 0 || minor < 0 {
        bail!("linux.resources.blockIO.{field}: device {major}:{minor} is not a device number");
    }
    Ok(format!("{major}:{minor}"))
}

/// One write of `value` to `file` in the container's directory of
/// `controller` ("" for the core `cgroup.*` files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub controller: &'static str,
    pub file: Cow<'static, str>,
    pub value: String,
    /// Written instead when `file` does not exist (the BFQ and CFQ
    /// schedulers name their weight files differently).
    pub fallback: Option<(&'static str, String)>,
    /// A missing file is not an error: the write only restates the
    /// kernel's default (e.g. unlimited swap where swap is not accounted).
    pub optional: bool,
}

impl Write {
    pub fn new(
        controller: &'static str,
        file: impl Into<Cow<'static, str>>,
        value: String,
    ) -> Write {
        Write {
            controller,
            file: file.into(),
            value,
            fallback: None,
            optional: false,
        }
    }

    pub fn optional(mut self) -> Write {
        self.optional = true;
        self
    }

    pub fn or_else(mut self, file: &'static str, value: String) -> Write {
        self.fallback = Some((file, value));
        self
    }
}

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
}

pub struct Cgroup {
    paths: CgroupPaths,
    /// Where the v2 hierarchy is mounted: controllers are enabled from here down.
    v2_root: PathBuf,
    /// The v2 directory, opened once for CLONE_INTO_CGROUP and bpf attach.
    dir_fd: OnceCell<OwnedFd>,
    /// systemd driver, between `create` and `add_pid`: the scope is made
    /// only once the init's pid exists, with these limits.
    pending_scope: Option<PendingScope>,
}

struct PendingScope {
    slice: String,
    id: String,
    resources: Option<LinuxResources>,
}

/// How long freeze waits for every task to stop before giving up (and
/// thawing again): a task in an uninterruptible sleep can hold it up.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long kill_all(SIGKILL) / destroy wait for the cgroup to empty.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// The v1 hierarchies where the list of processes is read, best first: the
/// ones a container cannot leave from the inside before the others.
const PROCS_FROM: &[&str] = &[
    "pids", "memory", "freezer", "devices", "cpu", "cpuset", "blkio",
];

/// `cgroupsPath` normalised: the default when None/empty is the relative
/// path `<id>` (runc's cgroupfs driver does the same), `.` and empty
/// components dropped; `..` refused rather than silently clamped.
fn inner_path(cgroups_path: Option<&str>, id: &str) -> Result<(bool, String)> {
    let p = cgroups_path.filter(|s| !s.is_empty()).unwrap_or(id);
    if !p.starts_with('/') && p.matches(':').count() == 2 {
        bail!(
            "linux.cgroupsPath {p:?}: a systemd slice:prefix:name path: pass --systemd-cgroup for the systemd cgroup driver, or use a filesystem path"
        );
    }
    let mut out = String::with_capacity(p.len());
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => bail!("linux.cgroupsPath {p:?}: \"..\" would leave the cgroup hierarchy"),
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        bail!("linux.cgroupsPath {p:?}: names the root cgroup, which a container cannot own");
    }
    Ok((p.starts_with('/'), out))
}

fn join(base: &Path, rel: &str) -> PathBuf {
    base.join(rel.trim_start_matches('/'))
}

fn has_unified(r: Option<&LinuxResources>) -> bool {
    r.and_then(|r| r.unified().as_ref())
        .is_some_and(|u| !u.is_empty())
}

fn missing_controller(ctrl: &str, host: &Host) -> anyhow::Error {
    anyhow!(
        "linux.resources: the {ctrl} controller is needed but not available on this host: {}",
        host::describe(host)
    )
}

impl Cgroup {
    /// Resolve `cgroupsPath` (absolute, relative to the caller's cgroup, or
    /// the default when empty) and validate `resources` against the host,
    /// without changing anything.
    ///
    /// Relative paths sit under the caller's own cgroup in each v1
    /// hierarchy, and under the *parent* of the caller's cgroup on v2 (as
    /// runc does: the caller's own v2 cgroup holds processes, so it cannot
    /// enable controllers for children).
    pub fn plan(
        cgroups_path: Option<&str>,
        id: &str,
        resources: Option<&LinuxResources>,
    ) -> Result<Cgroup> {
        if systemd::enabled() {
            return Self::plan_systemd(cgroups_path, id, resources);
        }
        let (absolute, inner) = inner_path(cgroups_path, id)?;
        let host = host::probe()?;
        let mut paths = CgroupPaths::default();
        match &host {
            Host::Unified(root) => {
                return Self::plan_v2(root, absolute, &inner, resources, &host);
            }
            Host::Legacy(hierarchies) => {
                if has_unified(resources) {
                    bail!(
                        "linux.resources.unified: needs a cgroup v2 host; this host is {}",
                        host::describe(&host)
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
                for w in &writes {
                    if !has(w.controller) {
                        return Err(missing_controller(w.controller, &host));
                    }
                }
                for h in hierarchies {
                    let dir = if absolute {
                        join(&h.mount, &inner)
                    } else {
                        join(&join(&h.mount, &h.own), &inner)
                    };
                    for c in &h.controllers {
                        paths.v1.insert(c.clone(), dir.clone());
                    }
                }
            }
        }
        Ok(Cgroup::from_paths(paths))
    }

    /// The systemd driver's plan: a scope under the v2 root, checked now
    /// and made by `add_pid`.
    fn plan_systemd(
        cgroups_path: Option<&str>,
        id: &str,
        resources: Option<&LinuxResources>,
    ) -> Result<Cgroup> {
        let scope = systemd::scope(cgroups_path, id)?;
        let host = host::probe()?;
        let Host::Unified(root) = &host else {
            bail!(
                "--systemd-cgroup: the systemd cgroup driver needs a unified (cgroup v2) host; this host is {}",
                host::describe(&host)
            );
        };
        v2::translate(resources)?;
        devices::rules(resources, true)?;
        let mut cg = Cgroup::from_paths(CgroupPaths {
            unified: Some(root.join(&scope.rel)),
            systemd_unit: Some(scope.unit),
            ..Default::default()
        });
        cg.v2_root = root.clone();
        cg.pending_scope = Some(PendingScope {
            slice: scope.slice,
            id: id.to_owned(),
            resources: None,
        });
        Ok(cg)
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
        let (absolute, inner) = inner_path(cgroups_path, id)?;
        let host = Host::Unified(root.to_path_buf());
        Self::plan_v2(root, absolute, &inner, resources, &host)
    }

    fn plan_v2(
        root: &Path,
        absolute: bool,
        inner: &str,
        resources: Option<&LinuxResources>,
        host: &Host,
    ) -> Result<Cgroup> {
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
        let base = if absolute {
            root.to_path_buf()
        } else {
            let own = host::own_unified_cgroup()?;
            let parent = Path::new(&own)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            join(root, &parent.to_string_lossy())
        };
        let mut cg = Cgroup::from_paths(CgroupPaths {
            unified: Some(join(&base, inner)),
            ..Default::default()
        });
        cg.v2_root = root.to_path_buf();
        Ok(cg)
    }

    /// Rebuild the handle from state.json.
    pub fn from_paths(paths: CgroupPaths) -> Cgroup {
        Cgroup {
            paths,
            v2_root: PathBuf::from(host::ROOT),
            dir_fd: OnceCell::new(),
            pending_scope: None,
        }
    }

    pub fn paths(&self) -> &CgroupPaths {
        &self.paths
    }

    /// Record that the container gets a pid namespace of its own (see
    /// `CgroupPaths::own_pid_ns`).
    pub fn set_own_pid_ns(&mut self, own: bool) {
        self.paths.own_pid_ns = own;
    }

    fn created(&self, dir: &Path) -> bool {
        self.paths.created.iter().any(|c| c == dir)
    }

    /// Did this container create its directory in every hierarchy? Only
    /// then may it signal whatever is inside: a cgroup it merely joined
    /// holds processes that are not its own.
    pub fn owns(&self) -> bool {
        // A systemd scope is made for this container alone (systemd owns
        // the directory, so it is not in `created`).
        self.paths.systemd_unit.is_some() || self.dirs().into_iter().all(|d| self.created(d))
    }

    /// In the child given `self_join_files`: move the calling thread (the
    /// whole process, as it has no other) into each cgroup, and close the
    /// files, which the container must not keep.
    pub fn join_self(files: &[RawFd]) -> Result<()> {
        for &fd in files {
            // SAFETY: a one-byte write from a static buffer to an fd the
            // parent opened for us.
            let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
            let err = std::io::Error::last_os_error();
            let path = (n != 1).then(|| std::fs::read_link(format!("/proc/self/fd/{fd}")));
            // SAFETY: closing our copy of an fd nothing else here uses.
            unsafe { libc::close(fd) };
            if let Some(path) = path {
                let path = path.map_or_else(|_| format!("fd {fd}"), |p| p.display().to_string());
                return Err(
                    anyhow::Error::new(err).context(format!("cgroup: write \"0\" to {path}"))
                );
            }
        }
        Ok(())
    }

    /// The container's directories, one per hierarchy (co-mounted v1
    /// controllers share one).
    fn dirs(&self) -> Vec<&Path> {
        if let Some(u) = &self.paths.unified {
            return vec![u.as_path()];
        }
        let mut out: Vec<&Path> = Vec::with_capacity(self.paths.v1.len());
        for p in self.paths.v1.values() {
            if !out.contains(&p.as_path()) {
                out.push(p);
            }
        }
        out
    }

    /// The directories `create` would make now: each planned directory and
    /// its missing parents, parents first. For the intent record, written
    /// before any of them exists (one stat per hierarchy when they exist).
    pub fn to_create(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        if self.paths.systemd_unit.is_some() {
            // systemd makes (and removes) the scope and its slices.
            return out;
        }
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

    fn v1_dir(&self, controller: &str) -> Result<&Path> {
        self.paths
            .v1
            .get(controller)
            .map(PathBuf::as_path)
            .ok_or_else(|| anyhow!("cgroup: the {controller} controller is not available (cgroup v1 host without it)"))
    }

    /// The directory a write goes to.
    fn dir_for(&self, controller: &str) -> Result<&Path> {
        match &self.paths.unified {
            Some(u) => Ok(u),
            None => self.v1_dir(controller),
        }
    }

    fn perform(&self, writes: &[Write]) -> Result<()> {
        for w in writes {
            let dir = self.dir_for(w.controller)?;
            let path = dir.join(&*w.file);
            match fs::write_raw(&path, &w.value) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && w.fallback.is_some() => {
                    let (file, value) = w.fallback.as_ref().expect("checked");
                    fs::write(&dir.join(file), value)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && w.optional => {}
                Err(e) => return Err(fs::write_error(&path, &w.value, &e)),
            }
        }
        Ok(())
    }

    /// Create the directories (enabling controllers in each parent on v2)
    /// and write every limit. On failure, removes what it created.
    pub fn create(&mut self, resources: Option<&LinuxResources>) -> Result<()> {
        if let Some(p) = self.pending_scope.as_mut() {
            p.resources = resources.cloned();
            return Ok(());
        }
        let result = if self.paths.unified.is_some() {
            self.create_v2(resources)
        } else {
            self.create_v1(resources)
        };
        if let Err(e) = result {
            self.dir_fd = OnceCell::new();
            for dir in self.paths.created.iter().rev() {
                // Nothing can be inside yet: a failure here only leaks.
                let _ = std::fs::remove_dir(dir);
            }
            self.paths.created.clear();
            return Err(e);
        }
        Ok(())
    }

    fn create_v1(&mut self, resources: Option<&LinuxResources>) -> Result<()> {
        let mut created = std::mem::take(&mut self.paths.created);
        let result = (|| {
            for dir in self.dirs() {
                fs::mkdir_all(dir, &mut created)?;
            }
            if let Some(cpuset) = self.paths.v1.get("cpuset") {
                fill_cpusets(cpuset, &created)?;
            }
            let rules = devices::rules(resources, self.paths.v1.contains_key("devices"))?;
            self.perform(&v1::translate(resources, None, rules.as_deref())?)
        })();
        self.paths.created = created;
        result
    }

    fn create_v2(&mut self, resources: Option<&LinuxResources>) -> Result<()> {
        let dir = self.paths.unified.clone().expect("v2");
        let writes = v2::translate(resources)?;
        let mut created = std::mem::take(&mut self.paths.created);
        let result = (|| {
            fs::mkdir_all(&dir, &mut created)?;
            enable_controllers(&self.v2_root, &dir, &created, &writes)?;
            let fd = self.open_dir()?;
            let rules = devices::rules(resources, true)?.expect("with defaults");
            v2::devices::apply(&dir, fd.as_fd(), &rules, false)?;
            self.perform(&writes)
        })();
        self.paths.created = created;
        result
    }

    fn open_dir(&self) -> Result<&OwnedFd> {
        if let Some(fd) = self.dir_fd.get() {
            return Ok(fd);
        }
        let dir = self
            .paths
            .unified
            .as_ref()
            .ok_or_else(|| anyhow!("cgroup: not a cgroup v2 container"))?;
        // O_DIRECTORY: CLONE_INTO_CGROUP and BPF_PROG_ATTACH take a
        // directory fd; std adds O_CLOEXEC.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir)
            .map_err(|e| anyhow!("cgroup: open {}: {e}", dir.display()))?;
        Ok(self.dir_fd.get_or_init(|| file.into()))
    }

    /// On v2, an O_DIRECTORY fd of the container's cgroup for
    /// CLONE_INTO_CGROUP; None on v1 (use `add_pid`). The fd lives as long
    /// as this handle.
    pub fn clone_into_fd(&self) -> Option<RawFd> {
        self.paths.unified.as_ref()?;
        if self.pending_scope.is_some() {
            return None;
        }
        self.open_dir().ok().map(AsRawFd::as_raw_fd)
    }

    /// On v1, the `tasks` file of each hierarchy, opened for writing, for
    /// a new single-threaded child to move itself in with `join_self`
    /// before it does anything else. Why not `add_pid` from the parent: a
    /// write of another process's pid takes the kernel's global
    /// cgroup_threadgroup_rwsem for writing, whose first writer after a
    /// quiet spell waits out an RCU grace period (8-20 ms measured here,
    /// most of a create); a thread moving only itself ("0" to `tasks`)
    /// skips that lock. None on v2 (CLONE_INTO_CGROUP places the child) or
    /// when a file cannot be opened (`add_pid` then reports why).
    pub fn self_join_files(&self) -> Option<Vec<OwnedFd>> {
        if self.paths.unified.is_some() {
            return None;
        }
        self.dirs()
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

    /// Move `pid` into the container's cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        if let (Some(p), Some(unit)) = (&self.pending_scope, &self.paths.systemd_unit) {
            return self.start_scope(p, unit, pid);
        }
        let value = pid.to_string();
        for dir in self.dirs() {
            fs::write(&dir.join("cgroup.procs"), &value)?;
        }
        Ok(())
    }

    /// The systemd driver's create: the scope with `pid` in it, then every
    /// limit through its files (the exact values, and those systemd has no
    /// property for), devices as an eBPF program, as on plain v2.
    fn start_scope(&self, p: &PendingScope, unit: &str, pid: i32) -> Result<()> {
        let resources = p.resources.as_ref();
        let writes = v2::translate(resources)?;
        let dir = self
            .paths
            .unified
            .as_deref()
            .expect("systemd scopes are v2");
        systemd::start(unit, &p.slice, &p.id, pid, &writes, dir)?;
        // Not root (a user's systemd instance), no device program can be
        // loaded (CAP_SYS_ADMIN); the container is in a user namespace,
        // where no device node can be made, and host nodes keep their
        // owners' permissions (runc skips it alike).
        if nix::unistd::geteuid().is_root() {
            let rules = devices::rules(resources, true)?.expect("with defaults");
            v2::devices::apply(dir, self.open_dir()?.as_fd(), &rules, false)?;
        }
        self.perform(&writes)
    }

    /// Write new limits (for `update`). Devices are replaced only when the
    /// update names them.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        let rules = devices::rules(Some(resources), false)?;
        if let Some(dir) = &self.paths.unified {
            let writes = v2::translate(Some(resources))?;
            if let Some(unit) = &self.paths.systemd_unit {
                systemd::set(unit, &writes)?;
            }
            if let Some(rules) = rules {
                v2::devices::apply(dir, self.open_dir()?.as_fd(), &rules, true)?;
            }
            return self.perform(&writes);
        }
        if has_unified(Some(resources)) {
            bail!(
                "linux.resources.unified: needs a cgroup v2 host; this container's cgroups are v1"
            );
        }
        let current = if v1::memory::needs_current_limit(resources) {
            let path = self.v1_dir("memory")?.join(v1::memory::LIMIT);
            let text = fs::read(&path)?;
            Some(
                text.trim()
                    .parse::<u64>()
                    .map_err(|e| anyhow!("cgroup: read {}: {text:?}: {e}", path.display()))?,
            )
        } else {
            None
        };
        self.perform(&v1::translate(Some(resources), current, rules.as_deref())?)
    }

    pub fn freeze(&self, frozen: bool) -> Result<()> {
        if let Some(dir) = &self.paths.unified {
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
            return Ok(());
        }
        let dir = self.v1_dir("freezer")?;
        let state = dir.join(v1::freezer::STATE);
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

    pub fn is_frozen(&self) -> Result<bool> {
        let (path, frozen) = match &self.paths.unified {
            Some(dir) => (dir.join("cgroup.freeze"), "1"),
            None => match self.paths.v1.get("freezer") {
                Some(dir) => (dir.join(v1::freezer::STATE), v1::freezer::FROZEN),
                None => return Ok(false),
            },
        };
        Ok(fs::read_opt(&path)?.is_some_and(|s| s.trim() == frozen))
    }

    /// The directory whose cgroup.procs lists the container's processes.
    fn procs_dir(&self) -> Option<&Path> {
        if let Some(u) = &self.paths.unified {
            return Some(u);
        }
        PROCS_FROM
            .iter()
            .find_map(|c| self.paths.v1.get(*c))
            .or_else(|| self.paths.v1.values().next())
            .map(PathBuf::as_path)
    }

    /// Host pids of every process in the cgroup (and in cgroups the
    /// container made below it). A cgroup that is already gone has none.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        if let Some(dir) = self.procs_dir() {
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
                self.dirs()
                    .iter()
                    .find(|d| !self.created(d))
                    .map_or_else(String::new, |d| d.display().to_string())
            );
        }
        if signal == libc::SIGKILL {
            if let Some(dir) = &self.paths.unified {
                match fs::write_raw(&dir.join("cgroup.kill"), "1") {
                    Ok(()) => return self.wait_empty(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        if !dir.exists() {
                            return Ok(());
                        }
                        // Kernel before 5.14: signal one by one below.
                    }
                    Err(e) => return Err(fs::write_error(&dir.join("cgroup.kill"), "1", &e)),
                }
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
        let can_freeze = self.paths.unified.is_some() || self.paths.v1.contains_key("freezer");
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
            for dir in self.dirs().into_iter().filter(|d| self.created(d)) {
                collect_pids(dir, &mut pids)?;
            }
            Ok(pids.is_empty())
        })
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
        let dirs = self.dirs();
        if !self.paths.own_pid_ns && self.owns() && dirs.iter().any(|d| d.exists()) {
            self.kill_all(libc::SIGKILL)?;
        }
        let mut first_err = None;
        if let Some(unit) = &self.paths.systemd_unit
            && let Err(e) = systemd::stop(unit)
        {
            first_err = Some(e);
        }
        for dir in dirs.iter().filter(|d| self.created(d)) {
            if let Err(e) = fs::remove_tree(dir) {
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
    pub fn stats(&self) -> Result<serde_json::Value> {
        stats::collect(self)
    }

    /// How many times the kernel's OOM killer struck inside the cgroup.
    pub fn oom_kills(&self) -> Result<Option<u64>> {
        stats::oom_kills(self)
    }
}

/// Signal `pid`; one that is gone already is fine.
fn signal_pid(pid: i32, signal: i32) -> Result<()> {
    // SAFETY: kill(2) has no memory effects; pid comes from cgroup.procs.
    if unsafe { libc::kill(pid, signal) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            bail!("cgroup: kill({pid}, {signal}): {e}");
        }
    }
    Ok(())
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

/// Enable in every level from the root down to `leaf`'s parent the
/// controllers that level offers, as runc does (so stats and later updates
/// find their files). A needed controller that cannot be enabled is an error.
fn enable_controllers(
    root: &Path,
    leaf: &Path,
    created: &[PathBuf],
    writes: &[Write],
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

#[cfg(test)]
pub mod test_util {
    use super::Write;
    use oci_spec::runtime::LinuxResources;

    pub fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    pub fn pairs(w: &[Write]) -> Vec<(&str, &str)> {
        w.iter().map(|w| (&*w.file, w.value.as_str())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_path_forms() {
        assert_eq!(inner_path(None, "c1").unwrap(), (false, "c1".to_owned()));
        assert_eq!(
            inner_path(Some(""), "c1").unwrap(),
            (false, "c1".to_owned())
        );
        assert_eq!(
            inner_path(Some("/a//b/./c/"), "c1").unwrap(),
            (true, "a/b/c".to_owned())
        );
        assert_eq!(
            inner_path(Some("x/y"), "c1").unwrap(),
            (false, "x/y".to_owned())
        );
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

    /// State files written before ownership was recorded still load, as
    /// a container without a pid namespace of its own (the old rule).
    #[test]
    fn old_state_cgroup_loads() {
        let old: CgroupPaths = serde_json::from_str(
            r#"{"v1":{"pids":"/sys/fs/cgroup/pids/c1"},"created":["/sys/fs/cgroup/pids/c1"]}"#,
        )
        .unwrap();
        assert!(!old.own_pid_ns);
        let cg = Cgroup::from_paths(old);
        assert!(cg.owns());
        let json = serde_json::to_string(cg.paths()).unwrap();
        assert!(!json.contains("own_pid_ns"), "{json}");
        let joined = Cgroup::from_paths(CgroupPaths {
            v1: [("pids".to_owned(), PathBuf::from("/sys/fs/cgroup/pids/c1"))].into(),
            ..Default::default()
        });
        assert!(!joined.owns());
        let e = joined.kill_all(libc::SIGTERM).unwrap_err().to_string();
        assert!(e.contains("did not create it"), "{e}");
    }

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

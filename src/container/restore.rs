//! `restore`: bring a checkpointed container back with CRIU under an id
//! (the same or a new one), from a bundle: state dir and cgroup made and
//! limited first (the new config's limits hold, not the dumped ones), the
//! rootfs bound where CRIU can pivot into it, the dump's external mounts
//! mapped to the new bundle's sources, the init's stdio onto restore's own,
//! a terminal's pty slave replaced by a new pty whose master goes to
//! --console-socket. The restored init is outlet's child (CRIU's
//! --restore-sibling): with --detach outlet exits and the caller (a
//! subreaper shim) adopts it; without, outlet waits and exits with its
//! status, as `run` does.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::checkpoint::{self as ck, External, Record};
use super::criu::{CgroupsMode, CriuOptions, criu_failed, find_criu, run_criu};
use crate::cgroups::{Cgroup, CgroupPaths};
use crate::state::{ContainerDir, Intent, State, Status};

/// What `outlet restore` is asked to do, beside the shared options.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub criu: CriuOptions,
    /// The bundle; None: the current directory.
    pub bundle: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    /// Where the new pty master of a terminal container goes.
    pub console_socket: Option<PathBuf>,
    pub no_subreaper: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

/// Undo for a restore that fails halfway; the rootfs bind is always undone.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    mount: Option<PathBuf>,
    pid: Option<i32>,
}

impl Undo {
    fn unmount(&mut self) {
        if let Some(m) = self.mount.take() {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(&m);
        }
    }

    fn disarm(&mut self) {
        self.pid = None;
        self.cgroup = None;
        self.dir = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        self.unmount();
        if let Some(pid) = self.pid.take() {
            // The restored init is our unreaped child (CRIU's
            // --restore-sibling), so its pid cannot have been reused.
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Everything read and checked before the first side effect.
struct Plan {
    loaded: crate::spec::Validated,
    image: PathBuf,
    work: PathBuf,
    rec: Record,
    criu: PathBuf,
    cgroup: Cgroup,
    netns_path: Option<PathBuf>,
}

fn read_record(image: &Path) -> Result<Record> {
    if !image.join("inventory.img").is_file() {
        bail!(
            "--image-path {}: no CRIU checkpoint there (no inventory.img)",
            image.display()
        );
    }
    let f = image.join(ck::RECORD_FILE);
    let bytes = std::fs::read(&f)
        .with_context(|| format!("read {} (written by outlet checkpoint)", f.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not outlet's checkpoint record", f.display()))
}

/// The bundle's terminal setting must match the dump's, and a terminal
/// needs somewhere to send the new master.
fn check_terminal(
    id: &str,
    spec: &crate::spec::Spec,
    rec: &Record,
    o: &RestoreOptions,
) -> Result<()> {
    let terminal = spec
        .process()
        .as_ref()
        .context("process: missing")?
        .terminal()
        .unwrap_or(false);
    match (terminal, rec.tty.is_some(), o.console_socket.is_some()) {
        (true, true, true) | (false, false, false) => Ok(()),
        (true, false, _) => bail!(
            "restore {id}: process.terminal is true, but the checkpoint's init had no terminal"
        ),
        (false, true, _) => bail!(
            "restore {id}: the checkpoint's init had a terminal; the bundle's process.terminal is false"
        ),
        (true, true, false) => bail!("restore {id}: a terminal container needs --console-socket"),
        (false, false, true) => {
            bail!("restore {id}: --console-socket given, but process.terminal is false")
        }
    }
}

fn plan(root: &Path, id: &str, criu_flag: Option<&Path>, o: &RestoreOptions) -> Result<Plan> {
    crate::spec::check_id(id)?;
    if o.criu.lazy_pages {
        bail!("{}", ck::LAZY_REFUSED);
    }
    if o.criu.cgroups_mode == CgroupsMode::Strict {
        // Seen with CRIU 4.1: "cg: Abort restore of existing cgroups".
        bail!(
            "restore {id}: --manage-cgroups-mode strict is not supported: outlet makes the \
             container's cgroup with the bundle's limits before CRIU runs, and strict mode \
             makes CRIU abort on an existing cgroup; use soft, full or ignore"
        );
    }
    let bundle = o.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    let loaded = crate::spec::load(&bundle, None)?;
    // runc's order: the bundle, then a taken id, then the images
    // (`ContainerDir::create` still decides).
    if std::fs::symlink_metadata(root.join(id)).is_ok() {
        bail!("container with id exists: {id}");
    }
    let (image, work) = o.criu.dirs(Some(&loaded.bundle), false)?;
    let rec = read_record(&image)?;
    check_terminal(id, &loaded.spec, &rec, o)?;
    let criu = find_criu(criu_flag)?;
    let linux = loaded.spec.linux().as_ref();
    let resources = linux.and_then(|l| l.resources().as_ref());
    let cgroups_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup = Cgroup::plan(cgroups_path.as_deref(), id, resources)?;
    super::criu::check_cgroups_mode(o.criu.cgroups_mode, cgroup.paths())?;
    let netns_path = ck::netns_path(&loaded.spec);
    if rec.external_netns && netns_path.is_none() {
        bail!(
            "restore {id}: the checkpoint joined a network namespace by path; the bundle's config.json names none"
        );
    }
    Ok(Plan {
        loaded,
        image,
        work,
        rec,
        criu,
        cgroup,
        netns_path,
    })
}

/// The directory of each hierarchy relative to where it is mounted, for
/// CRIU's --cgroup-root (it takes paths inside the hierarchy).
fn cgroup_roots(paths: &CgroupPaths) -> Result<Vec<OsString>> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    let mounts = ck::mountinfo(&text);
    let rel = |dir: &Path, fstype: &str, ctrl: Option<&str>| -> Result<String> {
        let m = mounts
            .iter()
            .filter(|m| m.fstype == fstype)
            .filter(|m| ctrl.is_none_or(|c| m.super_opts.split(',').any(|o| o == c)))
            .find(|m| dir.starts_with(&m.mount_point))
            .with_context(|| format!("no {fstype} mount holds {}", dir.display()))?;
        let r = dir.strip_prefix(&m.mount_point).unwrap_or(dir);
        Ok(format!("/{}", r.display()))
    };
    let mut out = Vec::new();
    if let Some(u) = &paths.unified {
        out.extend(["--cgroup-root".into(), rel(u, "cgroup2", None)?.into()]);
    }
    for (ctrl, dir) in &paths.v1 {
        let r = rel(dir, "cgroup", Some(ctrl))?;
        out.extend(["--cgroup-root".into(), format!("{ctrl}:{r}").into()]);
    }
    Ok(out)
}

/// The source of a spec bind at `key` in the restoring bundle.
fn bind_source(key: &str, spec: &crate::spec::Spec, bundle: &Path) -> Result<PathBuf> {
    let m = spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|m| ck::is_bind(m) && m.destination().to_string_lossy().trim_end_matches('/') == key)
        .with_context(|| {
            format!(
                "restore: the checkpoint has a bind mount at {key}; the bundle's config.json mounts has none there"
            )
        })?;
    let s = m.source().clone().unwrap_or_default();
    Ok(if s.is_relative() { bundle.join(s) } else { s })
}

/// The host path each external mount of the dump is bound from now.
fn map_externals(p: &Plan, paths: &CgroupPaths, console: Option<&Path>) -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for (key, kind) in &p.rec.mounts {
        let src: PathBuf = match kind {
            External::Bind => bind_source(key, &p.loaded.spec, &p.loaded.bundle)?,
            External::Masked => PathBuf::from("/dev/null"),
            External::Cgroup { controllers } => controllers
                .iter()
                .find_map(|c| paths.v1.get(c))
                .cloned()
                .with_context(|| {
                    format!("restore: the checkpoint binds the cgroup hierarchy {key} ({controllers:?}); the new container has no cgroup there")
                })?,
            External::Console => console
                .context("restore: the checkpoint has a console; no new pty was made")?
                .to_path_buf(),
        };
        out.extend([
            "--external".into(),
            format!("mnt[{key}]:{}", src.display()).into(),
        ]);
    }
    Ok(out)
}

/// The spec's mount points that live on the rootfs itself, made where
/// missing (a fresh rootfs, as podman's --import gives, lacks what the
/// first create made, e.g. the /etc/hosts file a bind lands on): CRIU binds
/// onto them and fails otherwise. Made inside the root (RESOLVE_IN_ROOT:
/// the image is hostile); those under a fresh filesystem of the container
/// (/dev tmpfs, /proc, /sys) are CRIU's to restore and are skipped.
fn make_mount_points(spec: &crate::spec::Spec, root: &crate::rootfs::paths::Root) -> Result<()> {
    use crate::rootfs::paths::Kind;
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let fresh: Vec<&Path> = mounts
        .iter()
        .filter(|m| !ck::is_bind(m))
        .map(|m| m.destination().as_path())
        .collect();
    for m in mounts {
        let dest = m.destination();
        if fresh.iter().any(|f| dest != *f && dest.starts_with(f)) {
            continue;
        }
        let kind = match m.source() {
            Some(src) if ck::is_bind(m) && !src.is_dir() => Kind::File,
            _ => Kind::Dir,
        };
        root.resolve_or_create(dest, kind)
            .with_context(|| format!("restore: mount point {} in the rootfs", dest.display()))?;
    }
    Ok(())
}

/// Side effects, in order: state dir (with the intent), cgroup with the
/// bundle's limits, mount points, the rootfs bound on `criu-root`.
fn set_up(root: &Path, id: &str, p: &mut Plan) -> Result<(ContainerDir, Undo, Intent, PathBuf)> {
    let dir = ContainerDir::create(root, id)?;
    let mut undo = Undo {
        dir: Some(dir.path.clone()),
        cgroup: None,
        mount: None,
        pid: None,
    };
    let mut intent = Intent {
        cgroup: p.cgroup.paths().clone(),
        ..Default::default()
    };
    intent.cgroup.created = p.cgroup.to_create();
    dir.save_intent(&intent)?;
    let resources = p
        .loaded
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref());
    p.cgroup.create(resources)?;
    undo.cgroup = Some(Cgroup::from_paths(p.cgroup.paths().clone()));
    std::fs::create_dir_all(&p.work).with_context(|| format!("create {}", p.work.display()))?;
    crate::fault::pause("restore:rootfs");
    let rootfs = &p.loaded.rootfs;
    let root = match crate::rootfs::root_by_path_switch() {
        true => crate::rootfs::paths::Root::open(rootfs)?,
        false => crate::rootfs::paths::Root::from_fd(crate::rootfs::open_checked(rootfs)?, rootfs),
    };
    make_mount_points(&p.loaded.spec, &root)?;
    // CRIU wants the new root as a mount point of its own.
    let croot = dir.path.join("criu-root");
    std::fs::create_dir(&croot).with_context(|| format!("mkdir {}", croot.display()))?;
    bind_rootfs(&root, &croot)
        .with_context(|| format!("bind {} on {}", rootfs.display(), croot.display()))?;
    undo.mount = Some(croot.clone());
    Ok((dir, undo, intent, croot))
}

/// The rootfs `load` checked, bound on `croot` from the fd opened once
/// (no symlink followed): a path component swapped since for a link to a
/// host directory would otherwise give CRIU that directory as the root.
fn bind_rootfs(root: &crate::rootfs::paths::Root, croot: &Path) -> Result<()> {
    if crate::rootfs::root_by_path_switch() {
        let flags = nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC;
        nix::mount::mount(Some(root.path()), croot, None::<&str>, flags, None::<&str>)?;
        return Ok(());
    }
    let target = crate::syscall::openat2(
        libc::AT_FDCWD,
        croot,
        libc::O_PATH | libc::O_DIRECTORY,
        crate::syscall::RESOLVE_NO_SYMLINKS,
    )?;
    let tree = crate::rootfs::fdmount::clone_tree(root.fd(), true)?;
    crate::rootfs::fdmount::attach(&tree, &target)?;
    Ok(())
}

/// An fd criu inherits across its exec (not close-on-exec).
fn inheritable(f: &impl AsRawFd, what: &str) -> Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    fcntl(f.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .with_context(|| format!("{what}: keep open for criu"))?;
    Ok(())
}

/// A new pty for a terminal container: the master (for --console-socket),
/// the slave opened for criu to inherit, and the slave's path (the new
/// /dev/console source). Unlike at create, the pty comes from outlet's own
/// devpts, not the container's instance: criu needs the slave before the
/// container's mount namespace exists (and restores its devpts empty).
/// The container reaches this one pty only, through its fds and the
/// /dev/console bind.
struct Pty {
    master: nix::pty::PtyMaster,
    slave: File,
    path: PathBuf,
}

fn new_pty() -> Result<Pty> {
    use nix::fcntl::OFlag;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::fs::OpenOptionsExt;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context("open /dev/ptmx for the restored terminal")?;
    nix::pty::grantpt(&master).context("grantpt")?;
    nix::pty::unlockpt(&master).context("unlockpt")?;
    let path = PathBuf::from(nix::pty::ptsname_r(&master).context("ptsname")?);
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&path)
        .with_context(|| format!("open {}", path.display()))?;
    // The file opened is the pty slave of this master (an unlocked pty of
    // the caller's devpts, not a path the container can reach).
    let rdev = slave
        .metadata()
        .with_context(|| format!("fstat {}", path.display()))?
        .rdev();
    let index = path
        .file_name()
        .and_then(|n| n.to_str()?.parse::<u64>().ok());
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    if !(136..=143).contains(&major) || index != Some((major - 136) * 256 + minor) {
        bail!(
            "{}: not the slave of the new pty ({major}:{minor})",
            path.display()
        );
    }
    inheritable(&slave, "the pty slave")?;
    Ok(Pty {
        master,
        slave,
        path,
    })
}

/// The pty master to the caller over the console socket: one SCM_RIGHTS
/// message, its data the fd's name (what the shim and conmon expect).
fn send_master(socket: &Path, pty: &Pty) -> Result<()> {
    let sock = crate::tty::connect(socket)?;
    let name = pty.path.to_string_lossy();
    crate::syscall::fdpass::send_fd(
        sock.as_fd(),
        name.as_bytes(),
        pty.master.as_fd(),
        nix::sys::socket::MsgFlags::empty(),
    )
    .context("send the pty master over the console socket")?;
    Ok(())
}

/// The criu restore argv, and the fds criu must inherit (kept open until
/// criu is done).
fn criu_args(
    p: &Plan,
    o: &RestoreOptions,
    croot: &Path,
    pidfile: &Path,
    pty: Option<&Pty>,
) -> Result<(Vec<OsString>, Vec<OwnedFd>)> {
    let mut args: Vec<OsString> = vec!["restore".into()];
    args.extend([
        "-D".into(),
        p.image.clone().into(),
        "-W".into(),
        p.work.clone().into(),
    ]);
    args.extend(["-o".into(), "restore.log".into()]);
    args.extend(["--root".into(), croot.into()]);
    args.extend(["--restore-detached".into(), "--restore-sibling".into()]);
    args.extend(["--pidfile".into(), pidfile.into()]);
    o.criu.push_args(&mut args);
    args.extend(cgroup_roots(p.cgroup.paths())?);
    args.extend(map_externals(
        p,
        p.cgroup.paths(),
        pty.map(|t| t.path.as_path()),
    )?);
    let mut keep = stdio_copies(&p.rec, &mut args)?;
    if let (Some(pty), Some(key)) = (pty, &p.rec.tty) {
        let fd = pty.slave.as_raw_fd();
        args.extend(["--inherit-fd".into(), format!("fd[{fd}]:{key}").into()]);
    }
    if let Some(path) = p.netns_path.as_ref().filter(|_| p.rec.external_netns) {
        let f = File::open(path)
            .with_context(|| format!("linux.namespaces network path {}", path.display()))?;
        inheritable(&f, "the network namespace")?;
        let key = format!("fd[{}]:{}", f.as_raw_fd(), ck::EXT_NETNS);
        args.extend(["--inherit-fd".into(), key.into()]);
        keep.push(OwnedFd::from(f));
    }
    if let Some(p) = &o.lsm_profile {
        args.extend(["--lsm-profile".into(), p.into()]);
    }
    if let Some(c) = &o.lsm_mount_context {
        args.extend(["--lsm-mount-context".into(), c.into()]);
    }
    Ok((args, keep))
}

/// The init's stdio is handed to criu as copies of outlet's fds 0-2 at
/// fresh numbers, not as 0-2 themselves: criu closes what it inherits
/// once stored, and a shell job's restore still needs its own stdin.
fn stdio_copies(rec: &Record, args: &mut Vec<OsString>) -> Result<Vec<OwnedFd>> {
    use std::os::fd::AsFd;
    let mut keep = Vec::new();
    for (fd, key) in rec.stdio.iter().enumerate() {
        if key.is_empty() {
            continue;
        }
        let own = match fd {
            0 => std::io::stdin().as_fd().try_clone_to_owned(),
            1 => std::io::stdout().as_fd().try_clone_to_owned(),
            _ => std::io::stderr().as_fd().try_clone_to_owned(),
        }
        .with_context(|| format!("restore: fd {fd} for the restored init"))?;
        inheritable(&own, "stdio")?;
        let n = own.as_raw_fd();
        args.extend(["--inherit-fd".into(), format!("fd[{n}]:{key}").into()]);
        keep.push(own);
    }
    Ok(keep)
}

/// The state of the restored container (pid 0 / start time 0 for hooks
/// that run before it is recorded).
fn state_for(id: &str, p: &Plan, created: &str, pid: i32, init_start_time: u64) -> State {
    let spec = &p.loaded.spec;
    let linux = spec.linux().as_ref();
    State {
        oci_version: spec.version().clone(),
        id: id.to_string(),
        pid,
        bundle: p.loaded.bundle.clone(),
        rootfs: p.loaded.rootfs.clone(),
        created: created.to_string(),
        owner: crate::state::owner(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        init_start_time,
        cgroup: p.cgroup.paths().clone(),
        hooks: spec.hooks().clone(),
        namespaces: linux
            .and_then(|l| l.namespaces().as_ref())
            .map(|n| {
                n.iter()
                    .map(|n| crate::namespaces::proc_name(n.typ()).to_string())
                    .collect()
            })
            .unwrap_or_default(),
        use_terminal: p.rec.tty.is_some(),
        start_gate: None,
    }
}

/// With --manage-cgroups-mode ignore CRIU leaves the restored tasks in its
/// own cgroups, so criu is started in the container's (as runc does).
fn cgroup_procs(paths: &CgroupPaths) -> Result<Vec<OwnedFd>> {
    let mut dirs: Vec<&Path> = paths
        .unified
        .iter()
        .chain(&paths.hybrid)
        .map(PathBuf::as_path)
        .collect();
    for d in paths.v1.values() {
        if !dirs.contains(&d.as_path()) {
            dirs.push(d);
        }
    }
    dirs.iter()
        .map(|d| {
            let f = d.join("cgroup.procs");
            std::fs::OpenOptions::new()
                .write(true)
                .open(&f)
                .map(OwnedFd::from)
                .with_context(|| format!("open {}", f.display()))
        })
        .collect()
}

/// Runs criu restore; prestart and createRuntime hooks, when the spec has
/// any, from its setup-namespaces action (see restore_hooks). criu's stdio
/// is outlet's: the restored init's stdio is mapped onto it.
fn run(
    id: &str,
    p: &Plan,
    o: &RestoreOptions,
    args: Vec<OsString>,
    dir: &Path,
    created: &str,
) -> Result<()> {
    let what = format!("restore {id}");
    let log = p.work.join("restore.log");
    let hooks = p.loaded.spec.hooks().as_ref();
    let prestart = hooks
        .and_then(|h| h.prestart().as_ref())
        .filter(|v| !v.is_empty());
    let create_runtime = hooks
        .and_then(|h| h.create_runtime().as_ref())
        .filter(|v| !v.is_empty());
    let into_cgroups = if o.criu.cgroups_mode == CgroupsMode::Ignore {
        cgroup_procs(p.cgroup.paths())?
    } else {
        Vec::new()
    };
    if prestart.is_none() && create_runtime.is_none() {
        return run_criu(&p.criu, &args, &log, &what, false, into_cgroups);
    }
    let mut on_setup = |pid: i32| -> Result<()> {
        let json = serde_json::to_string(&state_for(id, p, created, pid, 0).oci(Status::Creating))?;
        crate::hooks::run_all("prestart", prestart, &json)?;
        crate::hooks::run_all("createRuntime", create_runtime, &json)
    };
    let status = super::restore_hooks::run(&p.criu, args, &what, dir, &mut on_setup, into_cgroups)?;
    if !status.success() {
        return Err(criu_failed(&p.criu, status, "", &log, &what));
    }
    Ok(())
}

/// Records the restored init (intent, state, config, pid file) and runs
/// poststart; returns its state.
fn record(
    id: &str,
    p: &Plan,
    o: &RestoreOptions,
    dir: &ContainerDir,
    mut intent: Intent,
    pid: i32,
    created: &str,
) -> Result<State> {
    let init_start_time = crate::process::pidstat::start_time(pid)
        .map(|(t, _)| t)
        .context("read the restored init's start time")?;
    intent.cgroup = p.cgroup.paths().clone();
    intent.pid = pid;
    intent.init_start_time = init_start_time;
    dir.save_intent(&intent)?;
    let state = state_for(id, p, created, pid, init_start_time);
    dir.save_config(&p.loaded.text)?;
    dir.save(&state)?;
    if let Some(f) = &o.pid_file {
        crate::syscall::write_pid_file(f, pid)
            .with_context(|| format!("pid file {}", f.display()))?;
    }
    let json = serde_json::to_string(&state.oci(Status::Running))?;
    let poststart = p
        .loaded
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().as_ref());
    crate::hooks::run_all_warn("poststart", poststart, &json);
    Ok(state)
}

fn read_pid(pidfile: &Path) -> Result<i32> {
    let pid = std::fs::read_to_string(pidfile)
        .with_context(|| format!("read {}", pidfile.display()))?
        .trim()
        .parse()
        .with_context(|| format!("{}: not a pid", pidfile.display()))?;
    let _ = std::fs::remove_file(pidfile);
    Ok(pid)
}

/// Without --detach: wait for the init as `run` does (signals forwarded,
/// orphans reaped unless --no-subreaper), then remove the container.
fn wait(root: &Path, id: &str, o: &RestoreOptions, state: State) -> Result<i32> {
    let set = crate::signals::block_forwarded()?;
    if !o.no_subreaper {
        // Orphans of the container come to us, not to PID 1.
        nix::sys::prctl::set_child_subreaper(true).context("become a subreaper")?;
    }
    let code = crate::signals::wait_forwarding(state.pid, &set)?;
    match ContainerDir::open(root, id) {
        Ok(dir) => super::delete::destroy(&super::Opened {
            dir,
            state,
            status: Status::Stopped,
        })?,
        Err(e)
            if matches!(
                crate::state::Lookup::of(&e),
                Some(crate::state::Lookup::NotFound(_))
            ) => {}
        Err(e) => return Err(e),
    }
    Ok(code)
}

pub fn restore(root: &Path, id: &str, criu_flag: Option<&Path>, o: &RestoreOptions) -> Result<i32> {
    let mut p = plan(root, id, criu_flag, o)?;
    let (dir, mut undo, intent, croot) = set_up(root, id, &mut p)?;
    let pty = p.rec.tty.as_ref().map(|_| new_pty()).transpose()?;
    let pidfile = dir.path.join("criu.pid");
    let (args, inherited) = criu_args(&p, o, &croot, &pidfile, pty.as_ref())?;
    let created = crate::logging::rfc3339_now();
    run(id, &p, o, args, &dir.path, &created)?;
    drop(inherited);
    let pid = read_pid(&pidfile)?;
    undo.pid = Some(pid);
    undo.unmount();
    if let (Some(pty), Some(socket)) = (&pty, &o.console_socket) {
        send_master(socket, pty)?;
    }
    drop(pty);
    let state = record(id, &p, o, &dir, intent, pid, &created)?;
    undo.disarm();
    drop(dir);
    if o.detach {
        return Ok(0);
    }
    wait(root, id, o, state)
}

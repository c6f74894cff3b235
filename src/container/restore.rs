//! `restore`: bring a checkpointed container back with CRIU under an id
//! (the same or a new one), from a bundle: state dir and cgroup made and
//! limited first (the new config's limits hold, not the dumped ones), the
//! rootfs bound where CRIU can pivot into it, the dump's external mounts
//! mapped to the new bundle's sources, the init's stdio onto restore's own.
//! The restored init is outlet's child (CRIU's --restore-sibling): with
//! --detach outlet exits and the caller (a subreaper shim) adopts it;
//! without, outlet waits and exits with its status, as `run` does.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::checkpoint::{self as ck, External, Record};
use crate::cgroups::{Cgroup, CgroupPaths};
use crate::cli::RestoreArgs;
use crate::state::{ContainerDir, Intent, State, Status};

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
}

impl Drop for Undo {
    fn drop(&mut self) {
        self.unmount();
        if let Some(pid) = self.pid.take() {
            // SAFETY: the restored init is our unreaped child (CRIU's
            // --restore-sibling), so its pid cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
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
    for (ctrl, dir) in paths.hierarchies() {
        // A v1 hierarchy is named by its controller, the cgroup2 one not.
        let r = match ctrl {
            Some(c) => format!("{c}:{}", rel(dir, "cgroup", Some(c))?),
            None => rel(dir, "cgroup2", None)?,
        };
        out.extend(["--cgroup-root".into(), r.into()]);
    }
    Ok(out)
}

/// The host path each external mount of the dump is bound from now.
fn map_externals(
    rec: &Record,
    spec: &crate::spec::Spec,
    bundle: &Path,
    paths: &CgroupPaths,
) -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for (key, kind) in &rec.mounts {
        let src: PathBuf = match kind {
            External::Bind => {
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
                if s.is_relative() { bundle.join(s) } else { s }
            }
            External::Masked => PathBuf::from("/dev/null"),
            External::Cgroup { controllers } => controllers
                .iter()
                .find_map(|c| paths.hierarchies().find(|(h, _)| *h == Some(c)))
                .map(|(_, dir)| dir.to_path_buf())
                .with_context(|| {
                    format!("restore: the checkpoint binds the cgroup hierarchy {key} ({controllers:?}); the new container has no cgroup there")
                })?,
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
fn make_mount_points(spec: &crate::spec::Spec, rootfs: &Path) -> Result<()> {
    use crate::rootfs::paths::{Kind, Root};
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let fresh: Vec<&Path> = mounts
        .iter()
        .filter(|m| !ck::is_bind(m))
        .map(|m| m.destination().as_path())
        .collect();
    let mut root = None;
    for m in mounts {
        let dest = m.destination();
        if fresh.iter().any(|f| dest != *f && dest.starts_with(f)) {
            continue;
        }
        let kind = match m.source() {
            Some(src) if ck::is_bind(m) && !src.is_dir() => Kind::File,
            _ => Kind::Dir,
        };
        if root.is_none() {
            root = Some(Root::open(rootfs)?);
        }
        let r = root.as_ref().expect("opened above");
        r.resolve_or_create(dest, kind)
            .with_context(|| format!("restore: mount point {} in the rootfs", dest.display()))?;
    }
    Ok(())
}

/// Runs criu restore and, when the spec has prestart or createRuntime
/// hooks, runs them as runc does: from CRIU's setup-namespaces action, with
/// the restored init's pid, while its tasks are still stopped (so a hook
/// can set up the network before the application runs again). The action
/// script is a few lines of sh that hand the pid over a fifo and wait for
/// outlet's answer; a failing hook fails the script, which aborts the
/// restore.
fn run_restore(
    criu: &Path,
    mut args: Vec<OsString>,
    log: &Path,
    what: &str,
    dir: &Path,
    hooks: Option<&mut dyn FnMut(i32) -> Result<()>>,
) -> Result<()> {
    let Some(on_setup) = hooks else {
        return ck::run_criu(criu, &args, log, what, false);
    };
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    let req = dir.join("hook.req");
    let ack = dir.join("hook.ack");
    for f in [&req, &ack] {
        nix::unistd::mkfifo(f, Mode::from_bits_truncate(0o600))
            .with_context(|| format!("mkfifo {}", f.display()))?;
    }
    let script = dir.join("hook.sh");
    let text = format!(
        "#!/bin/sh\n[ \"$CRTOOLS_SCRIPT_ACTION\" = setup-namespaces ] || exit 0\n\
         echo \"$CRTOOLS_INIT_PID\" > '{}' || exit 1\nread r < '{}'\n[ \"$r\" = ok ]\n",
        req.display(),
        ack.display()
    );
    std::fs::write(&script, text).with_context(|| format!("write {}", script.display()))?;
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .with_context(|| format!("chmod {}", script.display()))?;
    args.extend(["--action-script".into(), script.into()]);
    // Non-blocking: the open must not wait for a writer that may never come.
    let raw = nix::fcntl::open(
        &req,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {}", req.display()))?;
    // SAFETY: `open` just returned this fd and nothing else owns it.
    let reqfd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    crate::logging::debug(|| format!("{what}: {} {args:?}", criu.display()));
    let mut child = std::process::Command::new(criu)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("{what}: run {}", criu.display()))?;
    let mut got = Vec::new();
    let mut hook_err = None;
    let mut answered = false;
    let status = loop {
        if let Some(st) = child.try_wait().context("wait for criu")? {
            break st;
        }
        if answered {
            std::thread::sleep(std::time::Duration::from_millis(5));
            continue;
        }
        let mut pfd = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&reqfd),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(20u8));
        let mut buf = [0u8; 32];
        match nix::unistd::read(reqfd.as_raw_fd(), &mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => {}
        }
        if !got.contains(&b'\n') {
            continue;
        }
        let pid: i32 = String::from_utf8_lossy(&got).trim().parse().unwrap_or(0);
        let res = if pid > 0 {
            on_setup(pid)
        } else {
            Err(anyhow::anyhow!("CRIU's setup-namespaces gave no pid"))
        };
        let reply: &[u8] = if res.is_ok() { b"ok\n" } else { b"fail\n" };
        hook_err = res.err();
        // The script opens the ack fifo right after writing the pid.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match nix::fcntl::open(
                &ack,
                OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => {
                    // SAFETY: `open` just returned this fd and nothing else owns it.
                    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
                    let _ = nix::unistd::write(&fd, reply);
                    break;
                }
                Err(_)
                    if std::time::Instant::now() < deadline
                        && child.try_wait().ok().flatten().is_none() =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(e) => {
                    hook_err
                        .get_or_insert_with(|| anyhow::anyhow!("answer CRIU's action script: {e}"));
                    break;
                }
            }
        }
        answered = true;
    };
    for f in [dir.join("hook.sh"), req, ack] {
        let _ = std::fs::remove_file(f);
    }
    if let Some(e) = hook_err {
        return Err(e.context(format!("{what}: a hook failed at CRIU's setup-namespaces")));
    }
    if !status.success() {
        return Err(ck::criu_failed(criu, status, "", log, what));
    }
    Ok(())
}

pub fn restore(root: &Path, id: &str, criu_flag: Option<&Path>, a: &RestoreArgs) -> Result<i32> {
    crate::spec::check_id(id)?;
    ck::validate(&a.criu)?;
    let bundle = a.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    let loaded = crate::spec::load(&bundle, None)?;
    let spec = &loaded.spec;
    let process = spec.process().as_ref().context("process: missing")?;
    if process.terminal().unwrap_or(false) || a.console_socket.is_some() {
        bail!(
            "restore {id}: terminal containers (process.terminal, --console-socket) cannot be restored: \
             outlet drives CRIU through its CLI, which cannot hand back the pty master"
        );
    }
    let (image, work) = ck::dirs(&a.criu, Some(&loaded.bundle), false)?;
    if !image.join("inventory.img").is_file() {
        bail!(
            "--image-path {}: no CRIU checkpoint there (no inventory.img)",
            image.display()
        );
    }
    let rec_file = image.join(ck::RECORD_FILE);
    let rec: Record =
        serde_json::from_slice(&std::fs::read(&rec_file).with_context(|| {
            format!("read {} (written by outlet checkpoint)", rec_file.display())
        })?)
        .with_context(|| format!("{}: not outlet's checkpoint record", rec_file.display()))?;
    let criu = ck::find_criu(criu_flag)?;
    std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
    let linux = spec.linux().as_ref();
    let resources = linux.and_then(|l| l.resources().as_ref());
    let cgroups_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let mut cgroup = Cgroup::plan(cgroups_path.as_deref(), id, resources)?;
    let netns_path = linux
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|n| {
            n.iter()
                .find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
        })
        .and_then(|n| n.path().clone());
    if rec.external_netns && netns_path.is_none() {
        bail!(
            "restore {id}: the checkpoint joined a network namespace by path; the bundle's config.json names none"
        );
    }

    // Side effects start here.
    let dir = ContainerDir::create(root, id)?;
    let mut undo = Undo {
        dir: Some(dir.path.clone()),
        cgroup: None,
        mount: None,
        pid: None,
    };
    let mut intent = Intent {
        cgroup: cgroup.paths().clone(),
        ..Default::default()
    };
    intent.cgroup.created = cgroup.to_create();
    dir.save_intent(&intent)?;
    cgroup.create(resources)?;
    undo.cgroup = Some(Cgroup::from_paths(cgroup.paths().clone()));

    make_mount_points(spec, &loaded.rootfs)?;
    // CRIU wants the new root as a mount point of its own.
    let croot = dir.path.join("criu-root");
    std::fs::create_dir(&croot).with_context(|| format!("mkdir {}", croot.display()))?;
    nix::mount::mount(
        Some(&loaded.rootfs),
        &croot,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind {} on {}", loaded.rootfs.display(), croot.display()))?;
    undo.mount = Some(croot.clone());

    let pidfile = dir.path.join("criu.pid");
    let mut args: Vec<OsString> = vec!["restore".into()];
    args.extend([
        "-D".into(),
        image.clone().into(),
        "-W".into(),
        work.clone().into(),
    ]);
    args.extend(["-o".into(), "restore.log".into()]);
    args.extend(["--root".into(), croot.clone().into()]);
    args.extend(["--restore-detached".into(), "--restore-sibling".into()]);
    args.extend(["--pidfile".into(), pidfile.clone().into()]);
    ck::common_args(&a.criu, &mut args)?;
    args.extend(cgroup_roots(cgroup.paths())?);
    args.extend(map_externals(&rec, spec, &loaded.bundle, cgroup.paths())?);
    for (fd, key) in rec.stdio.iter().enumerate() {
        if !key.is_empty() {
            args.extend(["--inherit-fd".into(), format!("fd[{fd}]:{key}").into()]);
        }
    }
    // Kept open (not close-on-exec) for criu to inherit.
    let _netns: Option<OwnedFd> = match &netns_path {
        Some(p) if rec.external_netns => {
            let raw = nix::fcntl::open(
                p,
                nix::fcntl::OFlag::O_RDONLY,
                nix::sys::stat::Mode::empty(),
            )
            .with_context(|| format!("linux.namespaces network path {}", p.display()))?;
            // SAFETY: `open` just returned this fd and nothing else owns it.
            let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
            args.extend([
                "--inherit-fd".into(),
                format!("fd[{}]:{}", fd.as_raw_fd(), ck::EXT_NETNS).into(),
            ]);
            Some(fd)
        }
        _ => None,
    };
    if let Some(p) = &a.lsm_profile {
        args.extend(["--lsm-profile".into(), p.into()]);
    }
    if let Some(c) = &a.lsm_mount_context {
        args.extend(["--lsm-mount-context".into(), c.into()]);
    }

    let hooks = spec.hooks().as_ref();
    let prestart = hooks
        .and_then(|h| h.prestart().as_ref())
        .filter(|v| !v.is_empty());
    let create_runtime = hooks
        .and_then(|h| h.create_runtime().as_ref())
        .filter(|v| !v.is_empty());
    let created = crate::logging::rfc3339_now();
    let state_for = |pid: i32, init_start_time: u64| State {
        oci_version: spec.version().clone(),
        id: id.to_string(),
        pid,
        bundle: loaded.bundle.clone(),
        rootfs: loaded.rootfs.clone(),
        created: created.clone(),
        owner: crate::state::owner(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        init_start_time,
        cgroup: cgroup.paths().clone(),
        hooks: spec.hooks().clone(),
        namespaces: linux
            .and_then(|l| l.namespaces().as_ref())
            .map(|n| {
                n.iter()
                    .map(|n| crate::namespaces::proc_name(n.typ()).to_string())
                    .collect()
            })
            .unwrap_or_default(),
        use_terminal: false,
    };
    // prestart and createRuntime, as runc runs them on restore.
    let mut run_hooks = |pid: i32| -> Result<()> {
        let json = serde_json::to_string(&state_for(pid, 0).oci(Status::Creating))?;
        crate::hooks::run_all("prestart", prestart, &json)?;
        crate::hooks::run_all("createRuntime", create_runtime, &json)
    };
    let with_hooks: Option<&mut dyn FnMut(i32) -> Result<()>> =
        if prestart.is_some() || create_runtime.is_some() {
            Some(&mut run_hooks)
        } else {
            None
        };
    // criu's stdio is outlet's: the restored init's stdio is mapped onto it.
    run_restore(
        &criu,
        args,
        &work.join("restore.log"),
        &format!("restore {id}"),
        &dir.path,
        with_hooks,
    )?;
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .with_context(|| format!("read {}", pidfile.display()))?
        .trim()
        .parse()
        .with_context(|| format!("{}: not a pid", pidfile.display()))?;
    undo.pid = Some(pid);
    let _ = std::fs::remove_file(&pidfile);
    undo.unmount();
    let init_start_time = crate::process::pidstat::start_time(pid)
        .map(|(t, _)| t)
        .context("read the restored init's start time")?;
    intent.cgroup = cgroup.paths().clone();
    intent.pid = pid;
    intent.init_start_time = init_start_time;
    dir.save_intent(&intent)?;

    let state = state_for(pid, init_start_time);
    let json = serde_json::to_string(&state.oci(Status::Running))?;
    dir.save_config(&loaded.text)?;
    dir.save(&state)?;
    if let Some(p) = &a.pid_file {
        crate::syscall::write_atomic(p, pid.to_string().as_bytes())
            .with_context(|| format!("pid file {}", p.display()))?;
    }
    crate::hooks::run_all_warn(
        "poststart",
        hooks.and_then(|h| h.poststart().as_ref()),
        &json,
    );
    undo.pid = None;
    undo.cgroup = None;
    undo.dir = None;
    if a.detach {
        return Ok(0);
    }
    let set = crate::signals::block_forwarded()?;
    if !a.no_subreaper {
        // Orphans of the container come to us, not to PID 1.
        // SAFETY: PR_SET_CHILD_SUBREAPER only sets a flag of this process.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error()).context("become a subreaper");
        }
    }
    drop(dir);
    let code = crate::signals::wait_forwarding(pid, &set)?;
    match ContainerDir::open(root, id) {
        Ok(dir) => super::delete::destroy(&super::Loaded {
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

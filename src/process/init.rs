//! The container's init, from clone to execve. This code runs in the cloned
//! child (a copy of outlet's memory, single-threaded); it never returns: it
//! execs the application or reports an error to the parent and exits.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, PosixRlimit};

use crate::spec::{Process, Spec};

use super::sync::{Channel, Msg};
use crate::cgroups::CgroupPaths;
use crate::namespaces::{self, Plan};
use crate::rootfs;
use crate::security;
use crate::state::Status;

/// Everything the init needs, prepared by the parent before clone.
pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub plan: &'a Plan,
    /// Namespaces the clone itself created (the rest are unshared here).
    pub cloned: CloneFlags,
    pub cgroup: &'a CgroupPaths,
    /// v1: the `tasks` files to move ourselves into the cgroup with, first
    /// thing (see `Cgroup::self_join_files`); empty when the parent does it.
    pub join_cgroup: &'a [RawFd],
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one of our own.
    pub no_new_keyring: bool,
    pub id: &'a str,
    /// O_PATH fd of exec.fifo; reopened for writing through /proc.
    pub fifo: RawFd,
    pub seccomp: Option<&'a security::seccomp::Prepared>,
    pub preserve_fds: u32,
    pub has_runtime_hooks: bool,
    /// The OCI state for createContainer (creating), startContainer (created,
    /// as runc passes it: start has begun but the program is not running)
    /// hooks and a seccomp listener; the pid is filled in from `Go`.
    pub state_json: &'a dyn Fn(i32, Status) -> String,
    pub console_socket: Option<&'a Path>,
    /// The state dir's lock: the flock belongs to the open file, which the
    /// clone shares, so the init must close its copy or no later command
    /// could take the lock.
    pub lock_fd: RawFd,
    /// Bind mounts opened before the clone (see `mounts::open_binds`).
    pub binds: &'a [Option<rootfs::mounts::BindTree>],
}

pub fn run(args: &InitArgs, chan: &Channel) -> ! {
    let err = match setup_and_exec(args, chan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    // Before `Ready` the parent is listening; after it, `create` may be
    // gone and the init's stderr (the caller's) is where this can go.
    if chan.send(&Msg::Error(format!("{err:#}"))).is_err() {
        eprintln!("outlet: container init: {err:#}");
    }
    // SAFETY: _exit skips the parent's atexit handlers and buffered stdio,
    // which belong to the outlet process we were copied from.
    unsafe { libc::_exit(1) }
}

fn wait_go(chan: &Channel) -> Result<i32> {
    match chan.recv()? {
        Some(Msg::Go(pid)) => Ok(pid),
        Some(_) => bail!("sync: expected go"),
        None => bail!("sync: outlet exited during setup"),
    }
}

fn setup_and_exec(a: &InitArgs, chan: &Channel) -> Result<Infallible> {
    // SAFETY: closing our copy of an fd that nothing in the init uses.
    unsafe { libc::close(a.lock_fd) };
    // If `outlet create` dies during setup, so do we.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    crate::cgroups::Cgroup::join_self(a.join_cgroup)?;
    let process = a.spec.process().as_ref().context("process: missing")?;

    // Namespaces given by path are joined here (the pid namespace was
    // joined by the parent: it applies to children only); what the clone
    // did not create is unshared after.
    for (t, p) in &a.plan.join {
        if *t != LinuxNamespaceType::Pid {
            namespaces::join(*t, p)?;
        }
    }
    // The cgroup namespace must be made after the parent has moved us into
    // the container's cgroup, so it is left for after `Go`.
    let rest = a.plan.new & !a.cloned & !CloneFlags::CLONE_NEWPID & !CloneFlags::CLONE_NEWCGROUP;
    if !rest.is_empty() {
        nix::sched::unshare(rest).context("unshare namespaces")?;
    }
    chan.send(&Msg::UserNs)?;
    let host_pid = wait_go(chan)?;
    // Until execve we are a copy of outlet: non-dumpable, so nothing in the
    // container can open our /proc/PID/exe (the runtime's binary;
    // CVE-2019-5736 class); execve makes the application dumpable again.
    // Only now, after the id maps: a non-dumpable process's /proc files
    // belong to root, which an unprivileged parent could not write.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };

    let userns = a.plan.creates(LinuxNamespaceType::User) || a.plan.joins(LinuxNamespaceType::User);
    if userns {
        // Become the mapped root so that file ownership inside is right.
        nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .context("setresgid 0 in the user namespace")?;
        nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .context("setresuid 0 in the user namespace")?;
    }
    if a.plan.creates(LinuxNamespaceType::Cgroup) && !a.cloned.contains(CloneFlags::CLONE_NEWCGROUP)
    {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare cgroup namespace")?;
    }
    nix::unistd::setsid().context("setsid")?;
    if !a.no_new_keyring {
        join_session_keyring(a.id)?;
    }

    let has_mountns =
        a.plan.creates(LinuxNamespaceType::Mount) || a.plan.joins(LinuxNamespaceType::Mount);
    if !has_mountns {
        bail!("linux.namespaces: a mount namespace is required");
    }
    // Opened before pivot_root: the host's /proc is where exec.fifo can be
    // reopened by fd whatever the container mounts (closed at exec).
    let host_proc = crate::syscall::openat2(
        libc::AT_FDCWD,
        Path::new("/proc"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .context("open /proc")?;

    let setup = rootfs::Setup {
        spec: a.spec,
        rootfs: a.rootfs,
        cgroup: a.cgroup,
        userns,
        cgroupns: a.plan.creates(LinuxNamespaceType::Cgroup),
        binds: a.binds,
    };
    let prepared = rootfs::prepare(&setup)?;

    if a.has_runtime_hooks {
        chan.send(&Msg::Hooks)?;
        wait_go(chan)?;
    }
    let hooks = a.spec.hooks().as_ref();
    crate::hooks::run_all(
        "createContainer",
        hooks.and_then(|h| h.create_container().as_ref()),
        &(a.state_json)(host_pid, Status::Creating),
    )?;

    let console = match (process.terminal().unwrap_or(false), a.console_socket) {
        (true, Some(sock)) => Some(crate::tty::connect(sock)?),
        (true, None) => bail!("process.terminal is true but no --console-socket was given"),
        _ => None,
    };

    rootfs::pivot(a.rootfs, a.no_pivot)?;
    // Before finalize: it makes /proc/sys read-only (readonlyPaths), after
    // which every sysctl write failed with EROFS. runc orders it so too.
    if let Some(sysctl) = a.spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        for (k, v) in sysctl {
            let path = format!("/proc/sys/{}", k.replace('.', "/"));
            std::fs::write(&path, v).with_context(|| format!("linux.sysctl {k}={v}"))?;
        }
    }
    rootfs::finalize(a.spec, prepared)?;

    if let Some(sock) = console {
        crate::tty::setup_init_terminal(sock, process)?;
    }

    if let Some(h) = a.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).with_context(|| format!("hostname {h:?}"))?;
    }
    if let Some(d) = a.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: pointer and length of a live string.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(std::io::Error::last_os_error()).context(format!("domainname {d:?}"));
        }
    }
    for r in process.rlimits().iter().flatten() {
        set_rlimit(r)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .with_context(|| format!("process.oomScoreAdj {adj}"))?;
    }

    let exe = become_process(process, a.seccomp, &|| {
        (a.state_json)(host_pid, Status::Creating)
    })?;

    // From here the init outlives `create`, which exits as soon as it reads
    // Ready: the death signal must be off before that, not after.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
    chan.send(&Msg::Ready)?;
    wait_for_start(&host_proc, a.fifo)?;
    drop(host_proc);

    crate::hooks::run_all(
        "startContainer",
        hooks.and_then(|h| h.start_container().as_ref()),
        &(a.state_json)(host_pid, Status::Created),
    )?;

    exec_process(process, &exe, a.preserve_fds, a.seccomp, &|| {
        (a.state_json)(host_pid, Status::Created)
    })
}

/// The process's identity and confinement, the same for the init and for
/// `exec`: user and capabilities, cwd, no_new_privs, LSM labels, umask; the
/// seccomp filter too when no_new_privs is off (the kernel only takes a
/// filter without it from a process holding CAP_SYS_ADMIN, so it goes in
/// before the capabilities do; the rest then runs filtered, as with runc).
/// Returns the program to exec, looked up in the container.
pub fn become_process(
    process: &Process,
    seccomp: Option<&security::seccomp::Prepared>,
    state_json: &dyn Fn() -> String,
) -> Result<PathBuf> {
    let args = process.args().as_ref().context("process.args: missing")?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    if !nnp && let Some(filter) = seccomp {
        filter.load(&state_json())?;
    }
    switch_user(process)?;
    rootfs::paths::chdir_inside(process.cwd())?;
    let env = process.env().as_deref().unwrap_or(&[]);
    let exe = find_executable(&args[0], env)?;
    if nnp {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error()).context("no_new_privs");
        }
    }
    security::lsm::apply_exec_labels(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )?;
    if let Some(mask) = process.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    Ok(exe)
}

/// The last steps before execve, for the init and for `exec`: nothing of
/// the runtime's reaches the program but stdio and the fds the caller asked
/// to pass on, signals are reset, and the filter goes in last when
/// no_new_privs allows it.
pub fn exec_process(
    process: &Process,
    exe: &Path,
    preserve_fds: u32,
    seccomp: Option<&security::seccomp::Prepared>,
    state_json: &dyn Fn() -> String,
) -> Result<Infallible> {
    crate::syscall::cloexec_from(3 + preserve_fds).context("close_range")?;
    reset_signals();
    if process.no_new_privileges().unwrap_or(false)
        && let Some(filter) = seccomp
    {
        filter.load(&state_json())?;
    }
    let args = process.args().as_deref().unwrap_or(&[]);
    let env = process.env().as_deref().unwrap_or(&[]);
    exec(exe, args, env)
}

/// Block until `outlet start` opens exec.fifo for reading, then tell it we
/// are going on by writing one byte.
fn wait_for_start(host_proc: &OwnedFd, fifo: RawFd) -> Result<()> {
    let rel = CString::new(format!("self/fd/{fifo}")).expect("no NUL");
    // SAFETY: valid dirfd and NUL-terminated path; blocks until a reader.
    let fd = unsafe {
        libc::openat(
            host_proc.as_raw_fd(),
            rel.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open exec.fifo");
    }
    // SAFETY: writing one byte from a static buffer to our own fd.
    let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    let err = std::io::Error::last_os_error();
    // SAFETY: closing our own fd.
    unsafe { libc::close(fd) };
    if n != 1 {
        return Err(err).context("write exec.fifo");
    }
    Ok(())
}

pub fn set_rlimit(r: &PosixRlimit) -> Result<()> {
    let name = format!("{:?}", r.typ()).to_uppercase();
    let resource = match name.as_str() {
        "RLIMITAS" | "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMITCORE" | "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMITCPU" | "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMITDATA" | "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMITFSIZE" | "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMITLOCKS" | "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMITMEMLOCK" | "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMITMSGQUEUE" | "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMITNICE" | "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMITNOFILE" | "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMITNPROC" | "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMITRSS" | "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMITRTPRIO" | "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMITRTTIME" | "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMITSIGPENDING" | "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMITSTACK" | "RLIMIT_STACK" => libc::RLIMIT_STACK,
        other => bail!("process.rlimits: unknown type {other}"),
    };
    let lim = libc::rlimit {
        rlim_cur: r.soft(),
        rlim_max: r.hard(),
    };
    // SAFETY: a valid rlimit struct for the duration of the call.
    if unsafe { libc::setrlimit(resource, &lim) } != 0 {
        // The spec's spelling (RLIMIT_NOFILE), not the Debug one.
        let name = serde_json::to_value(r.typ())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or(name);
        return Err(std::io::Error::last_os_error()).with_context(|| {
            format!(
                "process.rlimits {name}: soft {} hard {}",
                r.soft(),
                r.hard()
            )
        });
    }
    Ok(())
}

/// Groups, gid, uid, with capabilities kept across the uid switch and then
/// set to exactly the spec's sets.
fn switch_user(process: &Process) -> Result<()> {
    let caps = process.capabilities().as_ref();
    security::capabilities::drop_bounding(caps)?;
    let user = process.user();
    let uid = user.uid();
    let gid = user.gid();
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("PR_SET_KEEPCAPS");
    }
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups is denied in a user namespace whose setgroups file says
    // deny; only fail when groups were really asked for.
    if let Err(e) = nix::unistd::setgroups(&groups)
        && !groups.is_empty()
    {
        return Err(e).context(format!("process.user.additionalGids {groups:?}"));
    }
    nix::unistd::setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))
        .with_context(|| format!("process.user.gid {gid}"))?;
    nix::unistd::setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
        .with_context(|| format!("process.user.uid {uid}"))?;
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    security::capabilities::apply(caps)
}

/// Look the program up in the container, with the process's PATH, so a
/// missing command fails `create` with a message callers show.
fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let not_found = || anyhow::anyhow!("exec: {arg0:?}: executable file not found in $PATH");
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match nix::unistd::access(&p, nix::unistd::AccessFlags::X_OK) {
            Ok(()) => Ok(p),
            Err(e) => Err(anyhow::anyhow!("exec: {arg0:?}: {}", e.desc())),
        };
    }
    let path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(arg0);
        if let Ok(md) = std::fs::metadata(&p)
            && md.is_file()
            && nix::unistd::access(&p, nix::unistd::AccessFlags::X_OK).is_ok()
        {
            return Ok(p);
        }
    }
    Err(not_found())
}

fn reset_signals() {
    // SAFETY: resetting dispositions and the mask of our own process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

fn exec(exe: &Path, args: &[String], env: &[String]) -> Result<Infallible> {
    let cexe = CString::new(exe.as_os_str().as_encoded_bytes()).context("program path has NUL")?;
    let cargs: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("process.args: NUL byte")?;
    let cenv: Vec<CString> = env
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("process.env: NUL byte")?;
    let e = nix::unistd::execve(&cexe, &cargs, &cenv).unwrap_err();
    Err(anyhow::anyhow!("exec {}: {}", exe.display(), e.desc()))
}

/// A session keyring of the container's own, as runc makes, so that keys of
/// the caller's session (or another container's) are not reachable inside.
/// Named after the container id, which is unique: joining by name would
/// share an existing keyring of that name.
fn join_session_keyring(id: &str) -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = CString::new(format!("_ses.{id}")).context("keyring name has NUL")?;
    // SAFETY: keyctl with a valid NUL-terminated name.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        // Kernels without keys, or seccomp'd callers (a nested runtime):
        // runc goes on without a keyring of its own too.
        if !matches!(
            e.raw_os_error(),
            Some(libc::ENOSYS) | Some(libc::EACCES) | Some(libc::EPERM)
        ) {
            return Err(e).context("join a new session keyring");
        }
    }
    Ok(())
}

//! The container's init, from clone to execve. This code runs in the cloned
//! child (a copy of outlet's memory, single-threaded); it never returns: it
//! execs the application or reports an error to the parent and exits.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::prctl;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use oci_spec::runtime::{LinuxNamespaceType, PosixRlimit};

use crate::spec::{Process, Spec};
use crate::syscall::process::CStrArray;

use super::procfs::ProcFs;
use super::sync::{Channel, Msg};
use crate::cgroups::CgroupPaths;
use crate::namespaces::{self, NsPlan};
use crate::rootfs;
use crate::security;
use crate::state::Status;

/// Everything the init needs, prepared by the parent before clone.
pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub plan: &'a NsPlan,
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
    /// exec.fifo, open for reading and writing: the init blocks reading
    /// it until `start` writes a byte (see `wait_for_start`). A fifo gives
    /// no path to any directory, and it is the one fd besides stdio and
    /// --preserve-fds that the created init holds.
    pub fifo: RawFd,
    pub seccomp: Option<&'a security::seccomp::Prepared>,
    pub preserve_fds: u32,
    pub has_runtime_hooks: bool,
    /// The OCI state for createContainer (creating), startContainer (created,
    /// as runc passes it: start has begun but the program is not running)
    /// hooks and a seccomp listener; the pid is filled in from `Placed`.
    pub state_json: &'a dyn Fn(i32, Status) -> String,
    pub console_socket: Option<&'a Path>,
    /// The state dir's lock: the flock belongs to the open file, which the
    /// clone shares, so the init must close its copy or no later command
    /// could take the lock.
    pub lock_fd: RawFd,
    /// Bind mounts opened before the clone (see `mounts::open_binds`).
    pub binds: &'a [Option<rootfs::mounts::BindTree>],
    /// The spec's mount options, parsed once by the parent.
    pub mount_options: &'a [rootfs::mounts::Options],
    /// Wait for `DevicesSet` before the container's /dev (the parent
    /// attaches the device program after the clone).
    pub devices_gate: bool,
}

pub fn run(args: &InitArgs, chan: Channel) -> ! {
    // The clone gave us a copy of the fd of the detached overlay that
    // outlet's binary runs from (a host directory, read-only): closed
    // before anything else, long before the container exists to look at
    // our fds, unless the pivot will put the mount below the old root
    // (see rootfs/pivot.rs and protected_exe::release_mount).
    if !rootfs::keeps_binary_mount(args.plan, args.no_pivot) {
        crate::security::protected_exe::release_mount();
    }
    crate::fault::panic_at("init:start");
    let mut chan = Some(chan);
    let err = match setup_and_exec(args, &mut chan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    // Before `Ready` the parent is listening; after it the channel is
    // closed, `create` may be gone, and the init's stderr (the caller's) is
    // where this can go. A parent already gone (the report's send or the
    // failure itself says so) said why itself, or was killed (faults_s8).
    let unsaid = match chan.as_ref().map(|c| c.send(&Msg::error(&err))) {
        None => true,
        Some(Ok(())) => false,
        Some(Err(e)) => !Channel::peer_gone(&e) && !Channel::peer_gone(&err),
    };
    if unsaid {
        crate::logging::stderr(format_args!("outlet: container init: {err:#}"));
    }
    crate::syscall::exit_now(1)
}

/// The parent's answer to `want`. Its end closed is EPIPE: no one to tell.
fn wait_for(chan: &Channel, want: &str) -> Result<Msg> {
    let gone = || format!("sync: outlet exited during setup, waiting for {want}");
    chan.recv()?
        .ok_or_else(|| anyhow::Error::new(Errno::EPIPE).context(gone()))
}

/// The init's steps, in order (DESIGN.md's process model): enter the
/// namespaces and the cgroup, become the container's root, set up the
/// root filesystem, configure and become the process, report ready, wait
/// for `start`, exec.
fn setup_and_exec(a: &InitArgs, chan_slot: &mut Option<Channel>) -> Result<Infallible> {
    let chan = chan_slot.as_ref().context("sync channel")?;
    let host_pid = enter_namespaces(a, chan)?;
    become_container_root(a)?;
    let process = a.spec.process().as_ref().context("process: missing")?;
    // Every write into /proc goes through a procfs of our own, made
    // before any spec mount or mask exists (in a user namespace the kernel
    // only allows a new procfs while a fully visible one is in sight), and
    // only when there is something to write: the common path pays nothing.
    let proc = if needs_procfs(a.spec, process) {
        Some(ProcFs::private()?)
    } else {
        None
    };
    set_up_rootfs(a, chan, host_pid, proc.as_ref())?;
    configure_process(a, process)?;
    let process = &*super::home::with_home(process)?;
    let mut became = become_process(process, a.seccomp, proc.as_ref())?;
    drop(proc);
    close_host_fds(a, chan)?;
    // From here on `kill` may target the init (created): let it die of
    // what it is sent, as runc's init does. Before a listener's filter,
    // which may not allow rt_sigaction.
    crate::syscall::process::exit_on_terminating_signals();
    let mut late_filter = load_filter_before_ready(a, host_pid, &mut became)?;
    report_ready(chan_slot)?;
    let start_hooks = a
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref());
    if start_hooks.is_some_and(|v| !v.is_empty()) {
        // The start byte stays in the gate until the hooks have passed:
        // `start` waits for it to be taken, so a failing hook (which ends
        // the init with the byte unread) fails `start` too, as the
        // runtime-spec asks ("MUST generate an error").
        if !crate::syscall::process::wait_readable(a.fifo).context("wait on exec.fifo")? {
            bail!("exec.fifo: end of file before start");
        }
        // The hook's path resolves in the container: the program is the
        // image's, and it runs under the container's filter, as runc runs
        // it, or it and whatever it leaves running are never filtered.
        if let Some(f) = late_filter.take_if(|_| !crate::fault::start_hooks_unfiltered()) {
            f.load("")?;
        }
        // The state is built only for hooks that will read it.
        crate::hooks::run_all_env(
            "startContainer",
            start_hooks,
            &(a.state_json)(host_pid, Status::Created),
            Some(process.env().as_deref().unwrap_or(&[]))
                .filter(|_| !crate::fault::hook_runtime_env()),
        )?;
    }
    wait_for_start(a.fifo)?;
    exec_process(
        became,
        late_filter,
        &|| (a.state_json)(host_pid, Status::Created),
        None,
    )
}

/// Into the cgroup and the namespaces: those given by path are joined (the
/// pid namespace was joined by the parent: it applies to children only),
/// what the clone did not create is unshared (a new pid namespace with a
/// fork: see init_fork.rs), then the parent maps our ids and places us. Returns our pid as the host sees it.
fn enter_namespaces(a: &InitArgs, chan: &Channel) -> Result<i32> {
    // Our copy of an fd that nothing in the init uses.
    let _ = nix::unistd::close(a.lock_fd);
    crate::fault::pause("init:entered");
    // If `outlet create` dies during setup, so do we.
    chan.die_with_parent()?;
    crate::cgroups::Cgroup::join_self(a.join_cgroup)?;
    crate::fault::pause("init:joined");
    if !a.plan.join.is_empty() {
        super::init_fork::join_all(a.plan, a.spec)?;
    }
    // The cgroup namespace must be made after the parent has moved us into
    // the container's cgroup, so it is left for after `Placed`.
    // The time namespace and a late ipc one: made in become_container_root.
    let later = namespaces::flag(LinuxNamespaceType::Time) | a.plan.late_ipc();
    let rest =
        a.plan.new & !a.cloned & !CloneFlags::CLONE_NEWPID & !CloneFlags::CLONE_NEWCGROUP & !later;
    if a.plan.creates(LinuxNamespaceType::Pid) && !a.cloned.contains(CloneFlags::CLONE_NEWPID) {
        // A joined user namespace must own the new pid namespace: made
        // here, after the joins, with pid 1 forked into it.
        super::init_fork::unshare_and_fork(rest, chan)?;
    } else if !rest.is_empty() {
        nix::sched::unshare(rest).context("unshare namespaces")?;
    }
    if super::network::lo_by_parent(a.plan) {
        let sock = super::network::lo_socket()?;
        chan.send_with_fd(&Msg::Unshared, std::os::fd::AsFd::as_fd(&sock))?;
    } else {
        chan.send(&Msg::Unshared)?;
    }
    match wait_for(chan, "placement")? {
        Msg::Placed { init_pid } => Ok(init_pid),
        other => bail!("sync: expected Placed, got {}", other.name()),
    }
}

/// Mapped and placed: the time and cgroup namespaces, root of the user
/// namespace, a session and a keyring of our own; and from here on
/// non-dumpable.
fn become_container_root(a: &InitArgs) -> Result<()> {
    // In the container's user namespace (which owns the time namespace),
    // before the init starts any process (hooks), and while still dumpable:
    // a non-dumpable task's /proc/self files belong to the host's root,
    // which a mapped root could not write timens_offsets as.
    namespaces::enter_new_time(a.spec.linux().as_ref(), a.plan)?;
    // Until execve we are a copy of outlet: non-dumpable, so nothing in the
    // container can open our /proc/PID/exe (the runtime's binary;
    // CVE-2019-5736 class); execve makes the application dumpable again.
    // Only now, after the id maps: a non-dumpable process's /proc files
    // belong to root, which an unprivileged parent could not write.
    prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
    namespaces::become_mapped_root(a.plan)?;
    if a.plan.creates(LinuxNamespaceType::Cgroup) && !a.cloned.contains(CloneFlags::CLONE_NEWCGROUP)
    {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare cgroup namespace")?;
    }
    nix::unistd::setsid().context("setsid")?;
    if !a.no_new_keyring {
        join_session_keyring(a.id)?;
    }
    Ok(())
}

/// Mounts, devices and masks; the runtime hooks and createContainer hooks
/// once the mounts are done; the terminal; pivot_root (or chroot), sysctls,
/// and the read-only steps that must come last.
fn set_up_rootfs(a: &InitArgs, chan: &Channel, host_pid: i32, proc: Option<&ProcFs>) -> Result<()> {
    let process = a.spec.process().as_ref().context("process: missing")?;
    // Under rootless podman the runtime itself is in a user namespace and
    // the spec asks for none: rootfs finds that out only where it matters
    // (a refused mknod, an id-mapped bind), sparing every other init a
    // stat of a /proc/self that is new to this process (~25 us).
    let userns = a.plan.creates(LinuxNamespaceType::User) || a.plan.joins(LinuxNamespaceType::User);
    let mountns =
        a.plan.creates(LinuxNamespaceType::Mount) || a.plan.joins(LinuxNamespaceType::Mount);
    let devices_set = || match wait_for(chan, "the device program")? {
        Msg::DevicesSet => Ok(()),
        other => bail!("sync: expected DevicesSet, got {}", other.name()),
    };
    let setup = rootfs::Setup {
        spec: a.spec,
        rootfs: a.rootfs,
        cgroup: a.cgroup,
        userns,
        cgroupns: a.plan.creates(LinuxNamespaceType::Cgroup),
        mountns,
        binds: a.binds,
        options: a.mount_options,
        devices: rootfs::DevicesGate::new(a.devices_gate.then_some(&devices_set)),
    };
    let prepared = rootfs::prepare(&setup)?;
    run_create_hooks(a, chan, host_pid)?;
    let console = match (process.terminal().unwrap_or(false), a.console_socket) {
        (true, Some(sock)) => Some(crate::tty::connect(sock)?),
        (true, None) => bail!("process.terminal is true but no --console-socket was given"),
        _ => None,
    };
    rootfs::pivot(&prepared, a.no_pivot, mountns)?;
    // Before finalize can make the root read-only.
    super::cwd::create_missing(process.cwd())?;
    if let (Some(sysctl), Some(proc)) = (
        a.spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()),
        proc,
    ) {
        for (k, v) in sysctl {
            let rel = ProcFs::sysctl_path(k);
            proc.write(&rel, v.as_bytes())
                .with_context(|| format!("linux.sysctl {k}={v}: writing /proc/{rel}"))?;
        }
    }
    rootfs::finalize(a.spec, prepared)?;
    if let Some(sock) = console {
        crate::tty::setup_init_terminal(sock, process)?;
    }
    Ok(())
}

/// prestart and createRuntime run in `create` (asked for over the
/// channel), then createContainer here, in the container's namespaces.
fn run_create_hooks(a: &InitArgs, chan: &Channel, host_pid: i32) -> Result<()> {
    if a.has_runtime_hooks {
        chan.send(&Msg::HooksDue)?;
        match wait_for(chan, "the runtime hooks")? {
            Msg::HooksDone => {}
            other => bail!("sync: expected HooksDone, got {}", other.name()),
        }
    }
    let hooks = a.spec.hooks().as_ref();
    // A hook without `env` gets the process's environment, not the
    // caller's: it runs in the container's namespaces, and runc's init
    // (which replaced its environment with the process's) gives it that.
    let env = a.spec.process().as_ref().and_then(|p| p.env().as_deref());
    crate::hooks::run_all_in(
        "createContainer",
        hooks.and_then(|h| h.create_container().as_ref()),
        &(a.state_json)(host_pid, Status::Creating),
        Some(env.unwrap_or(&[])).filter(|_| !crate::fault::hook_runtime_env()),
        Some(a.rootfs),
    )
}

/// What the container's namespaces hold for the process: hostname and
/// domain name, rlimits, scheduler, personality, memory policy, the
/// loopback, the stdio pipes' owner.
fn configure_process(a: &InitArgs, process: &Process) -> Result<()> {
    if let Some(h) = a.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).with_context(|| format!("hostname {h:?}"))?;
    }
    if let Some(d) = a.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        crate::syscall::process::set_domainname(d).with_context(|| format!("domainname {d:?}"))?;
    }
    for r in process.rlimits().iter().flatten() {
        set_rlimit(r)?;
    }
    super::scheduling::reset_affinity()?;
    super::scheduling::apply(process)?;
    let linux = a.spec.linux().as_ref();
    super::personality::apply(linux.and_then(|l| l.personality().as_ref()))?;
    super::mempolicy::apply(linux.and_then(|l| l.memory_policy().as_ref()))?;
    if a.plan.creates(LinuxNamespaceType::Network) && !super::network::lo_by_parent(a.plan) {
        super::network::loopback_up()?;
    }
    super::stdio::chown_pipes(process.user().uid())
}

/// The created init holds nothing of the host's: stdio, the fds the
/// caller asked to pass on, exec.fifo, the sync channel until Ready has
/// gone, and a seccomp listener's socket until the filter is in. Closed
/// here rather than marked close-on-exec, so that a process of the
/// container (or of a sibling sharing its pid namespace) looking at
/// /proc/1/fd while the container sits in "created" finds none.
fn close_host_fds(a: &InitArgs, chan: &Channel) -> Result<()> {
    let listener = a.seccomp.and_then(|s| s.listener_fd());
    let keep = [Some(a.fifo), Some(chan.raw_fd()), listener];
    crate::syscall::close_from_except(
        // LISTEN_FDS comes from the environment: near u32::MAX it wrapped
        // (release: stdio closed) or panicked (debug). Saturated: keep all.
        3u32.saturating_add(a.preserve_fds),
        &keep.into_iter().flatten().collect::<Vec<_>>(),
    )
    .context("close the runtime's fds")
}

/// A listener (SCMP_ACT_NOTIFY) gets its notify fd and the state while
/// the container is "creating", as runc sends it: callers wait for that
/// message before they call `start`, so the filter cannot wait for `start`
/// (it did, and such a caller hung). It goes in here, the last step before
/// Ready, and the syscalls the init makes after it are runc's too (its
/// filter also precedes the fifo wait): the sync channel's send and recv,
/// prctl, close, the exec.fifo read, reset signals, startContainer hooks
/// (which inherit the filter), capset, execve. A profile that denies one of
/// those fails with a listener; one that notifies on it waits for the
/// listener's answer.
///
/// An init that joined another container's pid namespace is in sight of
/// that container's processes for as long as it sits "created": without
/// no_new_privs its filter needs CAP_SYS_ADMIN, and `switch_user` left it
/// that (for root, every capability of the runtime) for the last step, so
/// a sibling with CAP_SYS_PTRACE could attach to it and act with them
/// (tests/pidjoin_s9.rs). Such an init loads its filter here, as with a
/// listener, and drops to the process's exact sets at once. Otherwise
/// nothing changes: the filter is returned, to be loaded after `start`,
/// just before execve.
fn load_filter_before_ready<'a>(
    a: &InitArgs<'a>,
    host_pid: i32,
    became: &mut Became,
) -> Result<Option<&'a security::seccomp::Prepared>> {
    let Some(f) = a.seccomp else { return Ok(None) };
    let listener = f.listener_path().is_some();
    let in_sight = a.plan.joins(LinuxNamespaceType::Pid)
        && became.late_caps.is_some()
        && !crate::fault::control("OUTLET_PIDJOIN_LATE_FILTER");
    if !listener && !in_sight {
        return Ok(Some(f));
    }
    crate::fault::fill_arena();
    let state = match listener {
        true => (a.state_json)(host_pid, Status::Creating),
        false => String::new(),
    };
    f.load(&state)?;
    if in_sight && let Some(caps) = became.late_caps.take() {
        security::capabilities::set_exact(caps)?;
    }
    Ok(None)
}

/// Ready; then the init outlives `create` only once `create` has recorded
/// it (state.json, pid file) and said so: until then a killed `create`
/// takes the init with it (the death signal), so no init is ever left that
/// nothing knows of. EOF here means `create` died first.
fn report_ready(chan_slot: &mut Option<Channel>) -> Result<()> {
    let chan = chan_slot.as_ref().context("sync channel")?;
    chan.send(&Msg::Ready)?;
    match chan.recv()? {
        Some(Msg::Recorded) => {}
        // create failed after Ready and says why itself (or was killed, and
        // our death signal follows): a line of ours would be a second one,
        // blaming create's exit (faults_s8.rs, rename failing with EAGAIN).
        None => crate::syscall::exit_now(1),
        Some(_) => bail!("sync: outlet create sent something else than Recorded"),
    }
    prctl::set_pdeathsig(None).context("PR_SET_PDEATHSIG")?;
    // Closing the channel tells `create` the death signal is off, so it may
    // exit without taking us along.
    drop(chan_slot.take());
    Ok(())
}

/// Only these make the init write into /proc (process.oomScoreAdj is
/// written by `create`, from the host's /proc).
fn needs_procfs(spec: &Spec, process: &Process) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.sysctl().as_ref())
        .is_some_and(|s| !s.is_empty())
        || wants_labels(process)
}

fn wants_labels(process: &Process) -> bool {
    let nonempty = |s: Option<&String>| s.is_some_and(|s| !s.is_empty());
    nonempty(process.apparmor_profile().as_ref()) || nonempty(process.selinux_label().as_ref())
}

/// What `become_process` leaves for `exec_process`: the program and its
/// argv/envp ready for execve (built before the seccomp filter, which may
/// allow no allocation), and the capset left for after the filter.
pub struct Became {
    exe: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    late_caps: Option<(u64, u64, u64)>,
}

/// The process's identity and confinement, the same for the init and for
/// `exec`: user and capabilities, cwd, the program looked up in the
/// container, no_new_privs, LSM labels, umask. Everything here can fail
/// for a reason the caller must hear from `create` (or `exec`), so all of
/// it comes before Ready; only the seccomp filter and what must follow it
/// are left for `exec_process`. `proc` is a verified procfs for the LSM
/// label writes (one is made here if needed and not given).
pub fn become_process(
    process: &Process,
    seccomp: Option<&security::seccomp::Prepared>,
    proc: Option<&ProcFs>,
) -> Result<Became> {
    let args = process.args().as_ref().context("process.args: missing")?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    // A procfs of our own for the label writes (`exec` has none yet): made
    // now, while we still hold CAP_SYS_ADMIN to mount it.
    let own_proc;
    let proc = match proc {
        None if wants_labels(process) => {
            own_proc = ProcFs::private().context("writing the process's LSM label")?;
            Some(&own_proc)
        }
        p => p,
    };
    // Without no_new_privs the kernel takes the filter only from a holder
    // of CAP_SYS_ADMIN: the capabilities keep it until the filter is in.
    // The cwd first with the runtime's rights, as runc: a directory that
    // root can enter and the user cannot (`docker run -u 1000 -w /root`).
    // Refused (EACCES), it is tried again as the user: a directory only
    // the user can enter (root squashed on NFS). Entering it grants the
    // user nothing: every lookup from there checks the user's rights.
    let early_cwd = rootfs::paths::chdir_inside(process.cwd());
    let late_caps = switch_user(process, !nnp && seccomp.is_some())?;
    match early_cwd {
        Err(e) if denied(&e) => rootfs::paths::chdir_inside(process.cwd())?,
        early => early?,
    }
    let env = process.env().as_deref().unwrap_or(&[]);
    let exe = find_executable(&args[0], env)?;
    let became = Became {
        exe: CString::new(exe.as_os_str().as_encoded_bytes()).context("program path has NUL")?,
        argv: cstrings(args).context("process.args: NUL byte")?,
        envp: cstrings(env).context("process.env: NUL byte")?,
        late_caps,
    };
    if nnp {
        prctl::set_no_new_privs().context("no_new_privs")?;
    }
    security::lsm::apply_exec_labels(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
        proc,
    )?;
    if let Some(mask) = process.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    Ok(became)
}

/// Was `err` the kernel refusing access (EACCES, EPERM)?
fn denied(err: &anyhow::Error) -> bool {
    let code = |e: &(dyn std::error::Error + 'static)| {
        e.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .or_else(|| e.downcast_ref::<nix::errno::Errno>().map(|e| *e as i32))
    };
    err.chain()
        .any(|e| matches!(code(e), Some(libc::EACCES | libc::EPERM)))
}

fn cstrings(v: &[String]) -> Result<Vec<CString>, std::ffi::NulError> {
    v.iter().map(|a| CString::new(a.as_bytes())).collect()
}

/// The last steps, for the init and for `exec`: fds of the runtime's that
/// are still open are marked close-on-exec (`cloexec_from`; the init has
/// closed its own before Ready), signals are reset, and the seccomp filter
/// goes in last. After the filter the process makes only these syscalls:
/// with a listener (SCMP_ACT_NOTIFY), sendmsg of the notify fd and close of
/// the connection; capset, when noNewPrivileges is false and the spec's
/// effective set lacks CAP_SYS_ADMIN (kept for the filter's sake); execve.
/// runc makes capset and execve after its filter too. `seccomp` is None
/// for an init whose filter went in before Ready (a listener's; see
/// `load_filter_for_listener`).
pub fn exec_process(
    became: Became,
    seccomp: Option<&security::seccomp::Prepared>,
    state_json: &dyn Fn() -> String,
    cloexec_from: Option<u32>,
) -> Result<Infallible> {
    crate::fault::fill_arena();
    if let Some(first) = cloexec_from {
        crate::syscall::cloexec_from(first).context("close_range")?;
    }
    reset_signals();
    let argv = CStrArray::new(&became.argv);
    let envp = CStrArray::new(&became.envp);
    // After the filter nothing may allocate, not even to report a failure:
    // the filter may deny brk and mmap, and an allocator that cannot grow
    // aborts. What a failure would say is written now.
    let failed_exec = format!(
        "outlet: container init: exec {}: ",
        became.exe.to_string_lossy()
    );
    let failed_caps = became.late_caps.map(|caps| {
        format!(
            "outlet: container init: {}: ",
            security::capabilities::describe(caps)
        )
    });
    if let Some(filter) = seccomp {
        // Only a listener is sent the state.
        let state = if filter.listener_path().is_some() {
            state_json()
        } else {
            String::new()
        };
        filter.load(&state)?;
    }
    crate::fault::panic_at("init:filtered");
    if let (Some(caps), Some(failed)) = (became.late_caps, &failed_caps)
        && let Err(e) = security::capabilities::set_exact_raw(caps)
    {
        die_after_filter(failed, e);
    }
    let e = crate::syscall::process::execve(&became.exe, &argv, &envp);
    die_after_filter(&failed_exec, e)
}

/// Ends the process after a failure past the seccomp filter, with `prefix`
/// (made before the filter) and the error's static text on stderr, one
/// line in one write from a stack buffer: no allocation, no lock (either
/// may need a syscall the filter denies), and no channel (the parent has
/// gone on after Ready). A denied write is lost.
fn die_after_filter(prefix: &str, e: std::io::Error) -> ! {
    let why = Errno::from_raw(e.raw_os_error().unwrap_or(0)).desc();
    crate::logging::stderr_parts(&[prefix, why]);
    crate::syscall::exit_now(1)
}

/// Block until `outlet start` writes a byte into exec.fifo, then close it:
/// `start` sees the last reader go and knows the init is on its way. The
/// fd is open for reading and writing, so the read blocks (we are a writer
/// ourselves) instead of seeing end-of-file.
fn wait_for_start(fifo: RawFd) -> Result<()> {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(fifo, &mut b) {
            Ok(1) => break,
            Ok(_) => bail!("exec.fifo: end of file before start"),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("read exec.fifo"),
        }
    }
    // Nothing uses the fd after this.
    let _ = nix::unistd::close(fifo);
    Ok(())
}

pub fn set_rlimit(r: &PosixRlimit) -> Result<()> {
    let name = format!("{:?}", r.typ()).to_uppercase();
    let resource = match name.as_str() {
        "RLIMITAS" | "RLIMIT_AS" => Resource::RLIMIT_AS,
        "RLIMITCORE" | "RLIMIT_CORE" => Resource::RLIMIT_CORE,
        "RLIMITCPU" | "RLIMIT_CPU" => Resource::RLIMIT_CPU,
        "RLIMITDATA" | "RLIMIT_DATA" => Resource::RLIMIT_DATA,
        "RLIMITFSIZE" | "RLIMIT_FSIZE" => Resource::RLIMIT_FSIZE,
        "RLIMITLOCKS" | "RLIMIT_LOCKS" => Resource::RLIMIT_LOCKS,
        "RLIMITMEMLOCK" | "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
        "RLIMITMSGQUEUE" | "RLIMIT_MSGQUEUE" => Resource::RLIMIT_MSGQUEUE,
        "RLIMITNICE" | "RLIMIT_NICE" => Resource::RLIMIT_NICE,
        "RLIMITNOFILE" | "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
        "RLIMITNPROC" | "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
        "RLIMITRSS" | "RLIMIT_RSS" => Resource::RLIMIT_RSS,
        "RLIMITRTPRIO" | "RLIMIT_RTPRIO" => Resource::RLIMIT_RTPRIO,
        "RLIMITRTTIME" | "RLIMIT_RTTIME" => Resource::RLIMIT_RTTIME,
        "RLIMITSIGPENDING" | "RLIMIT_SIGPENDING" => Resource::RLIMIT_SIGPENDING,
        "RLIMITSTACK" | "RLIMIT_STACK" => Resource::RLIMIT_STACK,
        other => bail!("process.rlimits: unknown type {other}"),
    };
    if let Err(e) = setrlimit(resource, r.soft(), r.hard()) {
        // The spec's spelling (RLIMIT_NOFILE), not the Debug one.
        let name = serde_json::to_value(r.typ())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or(name);
        return Err(std::io::Error::from(e)).with_context(|| {
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
/// set to exactly the spec's sets; or, when a seccomp filter still has to be
/// loaded without no_new_privs (`filter_needs_admin`), to the spec's sets
/// plus CAP_SYS_ADMIN, returning the exact sets for after the filter.
fn switch_user(process: &Process, filter_needs_admin: bool) -> Result<Option<(u64, u64, u64)>> {
    use crate::syscall::creds;
    let caps = process.capabilities().as_ref();
    security::capabilities::drop_bounding(caps)?;
    let user = process.user();
    let uid = user.uid();
    let gid = user.gid();
    prctl::set_keepcaps(true).context("PR_SET_KEEPCAPS")?;
    // Each gid once, as runc: the kernel keeps duplicates (sorted) and
    // /proc/PID/status would list them twice (tests/diff_runc_s11.rs).
    let mut groups: Vec<u32> = user.additional_gids().clone().unwrap_or_default();
    groups.sort_unstable();
    groups.dedup();
    let groups = groups.as_slice();
    // The raw calls: this process has one thread (the init, or `exec`'s
    // child after its fork), so musl's all-threads wrappers would only
    // add their signal masking. setgroups is denied in a user namespace
    // whose setgroups file says deny; only fail when groups were really
    // asked for.
    if let Err(e) = creds::setgroups(groups)
        && !groups.is_empty()
    {
        return Err(e).context(crate::spec::gids_in_message(groups));
    }
    creds::setresgid(gid).with_context(|| format!("process.user.gid {gid}"))?;
    creds::setresuid(uid).with_context(|| format!("process.user.uid {uid}"))?;
    prctl::set_keepcaps(false).context("PR_SET_KEEPCAPS")?;
    if filter_needs_admin {
        return security::capabilities::apply_keeping_admin(caps, uid == 0);
    }
    security::capabilities::apply(caps)?;
    Ok(None)
}

/// Whether execve would let the process run `p`, asked with its
/// effective ids and capabilities (AT_EACCESS): plain access(2) uses the
/// real ids and, for a non-root uid, no capabilities, so a user holding
/// CAP_DAC_OVERRIDE was refused a program only its owner may execute,
/// which the kernel runs (runc issue 3715).
///
/// musl asks faccessat2 for that. A seccomp filter already in force (exec
/// loads it before the lookup) may deny faccessat2 while allowing
/// access(2), and a kernel before 5.8 has no faccessat2: then ask as
/// before, by the real ids. EPERM is no answer access gives for X_OK.
fn may_exec(p: &Path) -> nix::Result<()> {
    use nix::unistd::AccessFlags;
    match nix::unistd::faccessat(None, p, AccessFlags::X_OK, nix::fcntl::AtFlags::AT_EACCESS) {
        Err(Errno::EPERM | Errno::ENOSYS) => nix::unistd::access(p, AccessFlags::X_OK),
        r => r,
    }
}

/// Look the program up in the container, with the process's PATH, so a
/// missing command fails `create` with a message callers show.
///
/// The wording is runc's, lower case: the docker CLI picks `run`'s exit
/// code by a case-sensitive match on "no such file or directory" (127) and
/// "permission denied" (126), and says 125 otherwise. A directory is not
/// executable even where access(2) lets root search it: EACCES, as runc.
fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let not_found = || anyhow::anyhow!("exec: {arg0:?}: executable file not found in $PATH");
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        let usable = match std::fs::metadata(&p) {
            Ok(md) if md.is_dir() => Err(Errno::EACCES),
            Ok(_) => may_exec(&p),
            Err(e) => Err(Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT))),
        };
        return match usable {
            Ok(()) => Ok(p),
            Err(Errno::ENOENT) => Err(anyhow::anyhow!(
                "exec: {arg0:?}: stat {arg0}: no such file or directory"
            )),
            Err(Errno::EACCES) => Err(anyhow::anyhow!("exec: {arg0:?}: permission denied")),
            Err(e) => Err(anyhow::anyhow!(
                "exec: {arg0:?}: {}",
                e.desc().to_lowercase()
            )),
        };
    }
    let path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    // A lookup that failed for another reason than absence or permission
    // (ENOMEM, EIO, ELOOP) is what the error must name: "not found" would
    // send the caller looking for a file that is there.
    let mut failed = None;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(arg0);
        let found = std::fs::metadata(&p)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
            .and_then(|md| match md.is_file() {
                true => may_exec(&p),
                false => Err(Errno::ENOENT),
            });
        match found {
            Ok(()) => return Ok(p),
            Err(Errno::ENOENT | Errno::ENOTDIR | Errno::EACCES) => {}
            Err(e) => failed = failed.or(Some((p, e))),
        }
    }
    match failed {
        Some((p, e)) => Err(anyhow::anyhow!(
            "exec: {arg0:?}: {}: {}",
            p.display(),
            e.desc()
        )),
        None => Err(not_found()),
    }
}

fn reset_signals() {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    crate::syscall::process::reset_signal_dispositions();
}

/// A session keyring of the container's own, as runc makes, so that keys of
/// the caller's session (or another container's) are not reachable inside.
/// Named after the container id, which is unique: joining by name would
/// share an existing keyring of that name.
fn join_session_keyring(id: &str) -> Result<()> {
    let name = CString::new(format!("_ses.{id}")).context("keyring name has NUL")?;
    match crate::syscall::process::join_session_keyring(&name) {
        // Kernels without keys, or seccomp'd callers (a nested runtime):
        // runc goes on without a keyring of its own too.
        Err(e)
            if !matches!(
                e.raw_os_error(),
                Some(libc::ENOSYS) | Some(libc::EACCES) | Some(libc::EPERM)
            ) =>
        {
            Err(e).context("join a new session keyring")
        }
        _ => Ok(()),
    }
}

//! `exec`: a new process in a running container. A helper child placed in the
//! container's cgroup joins all of the init's namespaces with one
//! setns(pidfd), then forks the real process with CLONE_PARENT so that it is
//! our child (we wait for it, or the caller's subreaper adopts it with
//! --detach) and lives in the container's pid namespace. Both stay
//! non-dumpable until execve, so nothing in the container can reach
//! /proc/PID/exe of the runtime (CVE-2019-5736 class).

use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::spec::{ExecSpec, Process};
use anyhow::{Context, Result, anyhow, bail};
use nix::sched::CloneFlags;
use nix::sys::prctl;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::exec_confine as confine;
pub use super::exec_inline::InlineProcess;
use super::exec_inline::inline_process;
use crate::cgroups::Cgroup;
use crate::process::spawn::{self, CgroupEntry, Spawned};
use crate::process::sync::{self, Msg};
use crate::state::Status;
use crate::syscall::{self, Forked};

/// What to run: a process.json as given, or the container's own process
/// with `exec`'s command-line overrides (built once the config is read).
pub enum ExecProcess<'a> {
    File(Box<Process>),
    Inline(InlineProcess<'a>),
}

pub struct ExecOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub process: ExecProcess<'a>,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// `--cgroup`: sub-cgroups of the container's to run the process in,
    /// as `path` (every controller) or `controller[,controller]:path`.
    pub sub_cgroups: &'a [String],
}

/// The config the container was created from, kept in its state dir: the
/// bundle's file may have been edited or removed since. Required: without
/// it the process would get neither the container's capabilities nor its
/// seccomp profile. Only what exec uses of it is read (spec/exec_view.rs).
fn container_spec(dir: &crate::state::ContainerDir) -> Result<ExecSpec> {
    let text = dir.load_config()?;
    crate::spec::exec_view(&text).with_context(|| {
        format!(
            "parse {}",
            dir.path.join(crate::state::CONFIG_FILE).display()
        )
    })
}

/// The lifecycle of `exec`, in order: validate, open what the process
/// needs while the host is in sight, spawn the helper into the container's
/// cgroup, wait for the process to be ready, record its pid, then wait for
/// it (unless detached).
pub fn exec(o: &ExecOpts) -> Result<i32> {
    let (c, spec) = load_running(o)?;
    let (pid, start) = (c.state.pid, c.state.init_start_time);
    exec_in(o, c, spec).map_err(|e| {
        if init_went(&e, pid, start) {
            e.context(format!("container {} stopped while exec joined it", o.id))
        } else {
            e
        }
    })
}

/// Whether `e` is the container going away under exec: the lock is let
/// go before the helper joins (see exec_in), and a `delete --force` or
/// `kill` meanwhile leaves it a cgroup or namespaces that are gone, whose
/// raw errno (ENODEV, ESRCH, ENOMEM) does not say why (tests/races_s9.rs
/// `exec_vs_delete_force`). An exiting init drops its namespaces before
/// its stat reads it dead: on those errnos only, it gets a moment.
fn init_went(e: &anyhow::Error, pid: i32, start: u64) -> bool {
    let gone_errno = e.chain().any(|c| {
        let errno = c
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .or_else(|| c.downcast_ref::<nix::errno::Errno>().map(|n| *n as i32));
        // ENOMEM: fork into a pid namespace whose init has died.
        matches!(errno, Some(libc::ESRCH | libc::ENODEV | libc::ENOMEM))
    });
    if !gone_errno {
        return false;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while crate::process::pidstat::is_recorded(pid, start) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    true
}

fn exec_in(o: &ExecOpts, c: super::Opened, spec: ExecSpec) -> Result<i32> {
    let process = process_to_run(o, &spec)?;
    crate::security::protected_exe::ensured()?;
    let mut t = Target::open(o, c, &spec, &process)?;
    let entry = CgroupEntry::of(&t.cgroup);
    let (parent_end, child_end) = sync::pair()?;
    // From here exec waits on processes in the container's cgroup, which
    // stay frozen in a paused container (--ignore-paused) until `resume`:
    // holding the lock across that wait would keep `resume` out forever.
    t.c.dir.unlock();
    // Signals meant for the process must not kill us before we can forward.
    let set = if o.detach {
        SigSet::empty()
    } else {
        crate::signals::block_forwarded()?
    };
    let console = t.console.take();
    let what = What {
        o,
        p: &process,
        seccomp: t.seccomp.as_ref(),
        state: &t.c.state,
        chroot: t.root_fd.as_ref().map(AsRawFd::as_raw_fd),
        linux: spec.linux(),
    };
    let initial = super::exec_affinity::Initial::apply(&process)?;
    let oom = super::exec_oom::OwnOom::apply(&process)?;
    let helper = spawn::spawn_placed(
        0,
        &entry,
        parent_end,
        child_end,
        "fork the exec helper",
        |chan, placed| {
            let cgroup = HelperCgroup {
                join: entry.join_fds(),
                placed,
            };
            helper_main(&what, &cgroup, &t.pidfd, t.flags, chan, console)
        },
    )?;
    drop(initial);
    drop(oom);
    crate::fault::point("exec:forked");
    drop(entry);
    let watch = Watch {
        helper: &helper,
        paused: t.c.status == Status::Paused && !o.detach,
        relay_pid: confine::pid_after_ready(&what, &confine::plan(&what)),
        pid_file: o.pid_file,
        cgroup: &t.cgroup,
    };
    if !helper.placed_without_us()
        && let Some(code) = place_helper(&watch, &t.cgroup)?
    {
        return Ok(code);
    }
    let (pid, pid_file) = match wait_for_ready(&watch)? {
        Started::Stopped(code) => return Ok(code),
        Started::Ready(pid, staged) => (pid, staged),
    };
    if let Err(e) = record(o, pid_file, t.seccomp.as_ref()) {
        // A caller told exec failed does not look after the process: it
        // must not run on unseen (a --detach one did, and a foreground
        // one too, with no one waiting for it), as runc kills it. Our own
        // unreaped child (CLONE_PARENT): its pid cannot have been reused.
        if !crate::fault::control("OUTLET_EXEC_KEEP_UNRECORDED") {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
        return Err(e);
    }
    if o.detach {
        return Ok(0);
    }
    drop(t.c);
    wait_for_process(pid, t.own_console, &set)
}

/// The container, which must be running (or created; or paused with
/// --ignore-paused), and the config it was created from.
fn load_running(o: &ExecOpts) -> Result<(super::Opened, ExecSpec)> {
    let c = super::load(o.root, o.id)?;
    match c.status {
        Status::Running | Status::Created => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => bail!("cannot exec in a paused container: {}", o.id),
        s => bail!("cannot exec in a {} container: {}", s.as_str(), o.id),
    }
    let spec = container_spec(&c.dir)?;
    Ok((c, spec))
}

/// The process as given (process.json) or built from the container's own
/// with the command line's overrides, validated.
fn process_to_run(o: &ExecOpts, spec: &ExecSpec) -> Result<Process> {
    let mut process = match &o.process {
        ExecProcess::File(p) => (**p).clone(),
        ExecProcess::Inline(a) => inline_process(spec, a)?,
    };
    // A process.json without `capabilities` gets the container's, as
    // runc gives it (its init falls back to the container's config): not
    // every capability outlet holds (tests/attack_s11.rs). Debug builds'
    // OUTLET_CAPS_ABSENT_KEEP_ALL=1 is the control.
    if process.capabilities().is_none() && !crate::fault::control("OUTLET_CAPS_ABSENT_KEEP_ALL") {
        let own = spec
            .process()
            .as_ref()
            .and_then(|p| p.capabilities().clone());
        process.capabilities = own;
    }
    // The process may run before the relay has the pty master to size it:
    // give it our terminal's size from the start.
    let relayed = process.terminal().unwrap_or(false) && o.console_socket.is_none() && !o.detach;
    if relayed && process.console_size.is_none() {
        process.console_size = super::console::stdin_size();
    }
    match process.args() {
        Some(a) if !a.is_empty() => {}
        _ => bail!("process.args: empty (the command to run is needed)"),
    }
    if process.terminal().unwrap_or(false) && o.console_socket.is_none() && o.detach {
        bail!("process.terminal is true but no --console-socket was given");
    }
    if let (false, Some(s)) = (process.terminal().unwrap_or(false), o.console_socket) {
        bail!("{}", crate::tty::no_terminal_to_send(s));
    }
    crate::security::capabilities::validate(process.capabilities().as_ref())?;
    crate::spec::process_fields::check_process(&process)?;
    Ok(process)
}

/// What the helper needs of the host, opened while it is in sight: the
/// console socket, a seccomp listener, the init (a pidfd), its namespaces
/// and root, and the cgroup to enter.
struct Target {
    c: super::Opened,
    own_console: Option<super::console::OwnConsole>,
    console: Option<std::os::unix::net::UnixStream>,
    seccomp: Option<crate::security::seccomp::Prepared>,
    pidfd: OwnedFd,
    flags: libc::c_int,
    /// The init's root (an fd of /proc/PID/root) when it is a chroot.
    root_fd: Option<OwnedFd>,
    cgroup: Cgroup,
}

impl Target {
    fn open(o: &ExecOpts, c: super::Opened, spec: &ExecSpec, p: &Process) -> Result<Target> {
        // A foreground terminal with nobody to hand the pty to: outlet
        // takes the master itself and relays it, as `run` does.
        let own_console = if p.terminal().unwrap_or(false) && o.console_socket.is_none() {
            Some(super::console::OwnConsole::new()?)
        } else {
            None
        };
        let console_socket = o.console_socket.or(own_console.as_ref().map(|c| c.path()));
        let mut seccomp = match spec.linux().seccomp() {
            Some(s) => Some(crate::security::seccomp::prepare_cached(
                s,
                &crate::state::seccomp_cache(o.root),
            )?),
            None => None,
        };
        if let Some(s) = seccomp.as_mut() {
            // listenerPath is a host path, out of sight once in the
            // container: connected here, the socket goes with the process
            // to its `load`.
            s.connect_listener()?;
        }
        // Connected here: once in the container's mount namespace the
        // socket's host path is out of sight.
        let console = match (p.terminal().unwrap_or(false), console_socket) {
            (true, Some(sock)) => Some(crate::tty::connect(sock)?),
            _ => None,
        };
        let pidfd = syscall::pidfd_open(c.state.pid).context("pidfd_open of the init")?;
        // A stat that could not be read is that error, not "not running".
        let alive = crate::process::pidstat::recorded(c.state.pid, c.state.init_start_time)
            .with_context(|| format!("container {}: read /proc/{}/stat", o.id, c.state.pid))?;
        if !alive {
            bail!("container not running: {}", o.id);
        }
        let flags = namespace_flags(c.state.pid, spec.linux().namespaces())?;
        let root_fd = chroot_of(&c.state)?;
        let cgroup = Cgroup::from_paths(c.state.cgroup.sub_cgroups(o.sub_cgroups)?);
        Ok(Target {
            c,
            own_console,
            console,
            seccomp,
            pidfd,
            flags,
            root_fd,
            cgroup,
        })
    }
}

/// A container without a mount namespace of its own has a chroot for a
/// root, which no setns gives: the process takes the init's root.
fn chroot_of(state: &crate::state::State) -> Result<Option<OwnedFd>> {
    if state.namespaces.iter().any(|n| n == "mnt") {
        return Ok(None);
    }
    let p = format!("/proc/{}/root", state.pid);
    syscall::openat2(
        libc::AT_FDCWD,
        Path::new(&p),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .map(Some)
    .with_context(|| format!("open the container's root {p}"))
}

/// The helper and, once forked, the process, watched from outlet.
struct Watch<'a> {
    helper: &'a Spawned,
    /// In a paused container (--ignore-paused) the helper and the process
    /// stay frozen until `resume`; SIGTERM and friends are blocked to be
    /// forwarded, so without a watch on them a foreground exec could not
    /// be stopped meanwhile. Only then: the common path pays nothing.
    paused: bool,
    /// The process waits for its own host pid to name itself to a seccomp
    /// listener.
    relay_pid: bool,
    pid_file: Option<&'a Path>,
    cgroup: &'a Cgroup,
}

/// How the wait for the process ended.
enum Started<'a> {
    Ready(i32, Option<syscall::StagedPidFile<'a>>), // the pid file staged
    /// A signal stopped a foreground exec in a paused container: the exit
    /// code to leave with.
    Stopped(i32),
}

impl Watch<'_> {
    fn stopped(&self, pid: Option<i32>) -> Result<Option<i32>> {
        if !self.paused {
            // On the stack: this runs for every message exec waits for.
            let both = [self.helper.pid, pid.unwrap_or(0)];
            let pids = &both[..if pid.is_some() { 2 } else { 1 }];
            super::exec_stall::wait_readable(self.helper.chan.as_fd(), self.cgroup, pids)?;
            return Ok(None);
        }
        let Some(sig) = crate::signals::readable_or_stop(self.helper.chan.as_fd())? else {
            return Ok(None);
        };
        // Our own unreaped children (the process by CLONE_PARENT): their
        // pids cannot have been reused. Frozen, they die at `resume`, so
        // they are not waited for.
        for p in std::iter::once(self.helper.pid).chain(pid) {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        Ok(Some(crate::signals::killed_code(sig)))
    }

    fn reap_helper(&self) {
        let _ = waitpid(Pid::from_raw(self.helper.pid), None);
    }
}

/// The helper reports `Unshared`: put it in the cgroup and let it go on
/// (only where neither the clone nor the helper itself can: otherwise the
/// helper goes on without this round trip). Some(code) when a signal
/// stopped a foreground exec in a paused container first.
fn place_helper(w: &Watch, cgroup: &Cgroup) -> Result<Option<i32>> {
    if let Some(code) = w.stopped(None)? {
        return Ok(Some(code));
    }
    match w.helper.chan.recv() {
        Ok(Some(Msg::Unshared)) => {
            if let Err(e) = w.helper.place(cgroup) {
                let _ = kill(Pid::from_raw(w.helper.pid), Signal::SIGKILL);
                w.reap_helper();
                return Err(e);
            }
            w.helper.chan.send(&Msg::HelperPlaced)?;
            Ok(None)
        }
        Ok(Some(Msg::Error { errno, context })) => {
            w.reap_helper();
            Err(sync::remote_error(errno, context))
        }
        _ => {
            let how = w.helper.how_it_ended();
            w.reap_helper();
            bail!("exec helper exited during setup{how}");
        }
    }
}

/// The helper reports the process's pid (ProcessPid) and the process
/// reports Ready (or an error) just before execve. Both write to the same
/// socket from different processes, so either may come first: under load
/// the process often reports before the helper. An error can come from
/// either; then read on until both have exited (EOF) so that a pid the
/// helper reports is still reaped.
fn wait_for_ready<'a>(w: &Watch<'a>) -> Result<Started<'a>> {
    let (mut pid, mut staged) = (None, None);
    let mut ready = false;
    let mut error = None;
    while !(ready && pid.is_some()) {
        if let Some(code) = w.stopped(pid)? {
            return Ok(Started::Stopped(code));
        }
        match w.helper.chan.recv()? {
            Some(Msg::ProcessPid(p)) => {
                if let Err(e) = process_pid_checked(p, pid) {
                    error.get_or_insert(e);
                    continue;
                }
                pid = Some(p);
                // Its inode made while the process sets up; linked after Ready.
                staged = w.pid_file.map(|f| syscall::StagedPidFile::new(f, p));
                // The helper closed its copy of the binary's overlay mount
                // before it forked: ours is the last, and its close waits
                // for an RCU grace period, now while the process starts.
                crate::security::protected_exe::release_mount();
                // The process names itself to a seccomp listener by its host
                // pid, which only the helper's fork saw: pass it on (the
                // process waits for it; see process_setup).
                if w.relay_pid {
                    let _ = w.helper.chan.send(&Msg::ProcessPid(p));
                }
            }
            Some(Msg::Ready) => ready = true,
            Some(Msg::Error { errno, context }) => {
                error.get_or_insert_with(|| sync::remote_error(errno, context));
            }
            Some(other) => {
                error.get_or_insert_with(|| anyhow!("sync: unexpected {} from exec", other.name()));
            }
            None => break,
        }
    }
    let how = if pid.is_none() && error.is_none() {
        w.helper.how_it_ended()
    } else {
        String::new()
    };
    w.reap_helper();
    crate::fault::point("exec:ready");
    let reap_process = |pid: Option<i32>| {
        if let Some(p) = pid {
            let _ = waitpid(Pid::from_raw(p), None);
        }
    };
    if let Some(e) = error {
        // Our own unreaped child (checked): not a reused pid. A process
        // whose setup failed is exiting anyway; one whose channel carried
        // a forgery must not run on unrecorded.
        if let Some(p) = pid {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        reap_process(pid);
        return Err(e);
    }
    match (pid, ready) {
        (Some(p), true) => Ok(Started::Ready(p, staged)),
        (None, _) => bail!("exec helper exited during setup{how}"),
        (Some(p), false) => {
            reap_process(Some(p));
            bail!("exec: the process exited during setup");
        }
    }
}

/// A `ProcessPid` is taken once, and only naming a child of ours. The
/// channel's other end is held by the process too, in the container's
/// pid namespace from its fork to its execve, where a container process
/// holding CAP_SYS_PTRACE can take the socket (pidfd_getfd) or make the
/// process write to it: a second `ProcessPid` naming a host process was
/// taken over the helper's and written to the pid file (the caller then
/// signals it as the exec's process), and a foreground exec returned at
/// once (no child of ours to wait for), the real process left unwatched
/// (tests/attack_s12.rs). The process is forked with
/// CLONE_PARENT, so waitid tells without reaping. Debug builds'
/// `OUTLET_EXEC_PID_UNCHECKED=1` is the control.
fn process_pid_checked(p: i32, had: Option<i32>) -> Result<()> {
    if crate::fault::control("OUTLET_EXEC_PID_UNCHECKED") {
        return Ok(());
    }
    if let Some(first) = had {
        bail!("sync: a second ProcessPid ({p}, after {first}) from exec: refused");
    }
    if p <= 0 {
        bail!("sync: ProcessPid {p} is no process: refused");
    }
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(Pid::from_raw(p)), flags) {
            Ok(_) => return Ok(()),
            // A signal (the child's own SIGCHLD) is no answer.
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => bail!("sync: ProcessPid {p} is not a child of ours ({e}): refused"),
        }
    }
}

/// The pid file, and the compiled filter kept for the next exec.
fn record(
    o: &ExecOpts,
    staged: Option<syscall::StagedPidFile>,
    seccomp: Option<&crate::security::seccomp::Prepared>,
) -> Result<()> {
    if let (Some(p), Some(f)) = (o.pid_file, staged) {
        f.commit()
            .with_context(|| format!("pid file {}", p.display()))?;
    }
    if let Some(s) = seccomp {
        s.remember();
    }
    Ok(())
}

/// A foreground exec: relay the terminal when outlet holds it, forward
/// signals, and return the process's exit code.
fn wait_for_process(
    pid: i32,
    own_console: Option<super::console::OwnConsole>,
    set: &SigSet,
) -> Result<i32> {
    let Some(console) = own_console else {
        return crate::signals::wait_forwarding(pid, set);
    };
    let master = match console.receive_master() {
        Ok(m) => m,
        Err(e) => {
            // Our own unreaped child (CLONE_PARENT): not a reused pid.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            return Err(e);
        }
    };
    drop(console);
    super::console::relay(master, pid, set)
}

/// The namespaces of the init that differ from ours: those are joined.
/// Those the config has create made new (all but time, which the init
/// enters on its own): they differ, without asking. The rest (inherited
/// from create's caller, joined by path, time) are compared link by link,
/// two readlinks each.
fn namespace_flags(pid: i32, listed: &[oci_spec::runtime::LinuxNamespace]) -> Result<libc::c_int> {
    let made = crate::namespaces::NsPlan::from_spec(listed).new
        & !crate::namespaces::flag(oci_spec::runtime::LinuxNamespaceType::Time);
    let mut flags = made.bits();
    for t in crate::namespaces::ALL {
        let k = crate::namespaces::kind(t);
        if made.contains(k.flag) {
            continue;
        }
        let name = k.proc;
        let theirs = match std::fs::read_link(format!("/proc/{pid}/ns/{name}")) {
            Ok(l) => l,
            // A kernel without time namespaces (before 5.6) has no link.
            Err(e) if name == "time" && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("read /proc/{pid}/ns/{name}")),
        };
        // Ours unread is not "different": joining a namespace we are in
        // already fails (setns EINVAL on our own user namespace) with an
        // error that hides this one (faults_s8: readlink failing).
        let ours = std::fs::read_link(format!("/proc/self/ns/{name}"))
            .with_context(|| format!("read /proc/self/ns/{name}"))?;
        if ours != theirs {
            flags |= k.flag.bits();
        }
    }
    Ok(flags)
}

/// What the exec process becomes, as the helper and the process see it.
pub(super) struct What<'a> {
    pub(super) o: &'a ExecOpts<'a>,
    pub(super) p: &'a Process,
    pub(super) seccomp: Option<&'a crate::security::seccomp::Prepared>,
    pub(super) state: &'a crate::state::State,
    /// The init's root (an fd of /proc/PID/root) when it is a chroot.
    pub(super) chroot: Option<RawFd>,
    /// The container's linux section: personality and memory policy
    /// apply to every process in it, as in runc's exec.
    pub(super) linux: &'a crate::spec::ExecLinux,
}

/// How the helper gets into the container's cgroup.
struct HelperCgroup<'a> {
    /// v1: the `tasks` files it writes itself into (`Cgroup::join_self`).
    join: &'a [i32],
    /// In the cgroup without outlet's help (the clone placed it, or
    /// `join`): then it does not wait for outlet's `HelperPlaced`.
    placed: bool,
}

fn helper_main(
    what: &What,
    cgroup: &HelperCgroup,
    pidfd: &std::os::fd::OwnedFd,
    flags: libc::c_int,
    chan: sync::Channel,
    console: Option<std::os::unix::net::UnixStream>,
) -> ! {
    let chan = &chan;
    crate::fault::panic_at("exec:helper");
    let plan = &confine::plan(what);
    let r = (|| -> Result<()> {
        // Our copy of the binary's overlay mount goes first, so that
        // outlet's is the last one when it closes it (see `release_mount`).
        if let Some(fd) = crate::security::protected_exe::kept_mount() {
            let _ = nix::unistd::close(fd);
        }
        prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
        crate::fault::pause("exec:entered");
        // A helper of an `outlet exec` already gone would run the process
        // in the container for no one.
        chan.die_with_parent()?;
        Cgroup::join_self(cgroup.join)?;
        crate::fault::pause("exec:joined");
        if !cgroup.placed {
            chan.send(&Msg::Unshared)?;
            match chan.recv()? {
                Some(Msg::HelperPlaced) => {}
                Some(other) => bail!("sync: expected HelperPlaced, got {}", other.name()),
                None => bail!("sync: outlet exited during exec setup"),
            }
        }
        super::exec_affinity::apply_final(what.p)?;
        // Nothing to join when the container shares all our namespaces
        // (setns of a pidfd with no flags is EINVAL).
        if flags != 0 {
            nix::sched::setns(pidfd, CloneFlags::from_bits_retain(flags))
                .map_err(std::io::Error::from)
                .context("setns into the container")?;
        }
        // The process is born in the container's pid namespace, where a
        // process of the container holding CAP_SYS_PTRACE could open its
        // fds: it gets none of ours (the init's pidfd, a cgroup v2
        // directory for CLONE_INTO_CGROUP, a caller's leaked fd) but what
        // it needs, closed here where the container cannot see us.
        let keep = [
            Some(chan.raw_fd()),
            console.as_ref().map(AsRawFd::as_raw_fd),
            what.seccomp.and_then(|s| s.listener_fd()),
            // The helper's, closed by `before_fork` once it has entered it.
            what.chroot,
        ];
        syscall::close_from_except(
            3u32.saturating_add(what.o.preserve_fds),
            &keep.into_iter().flatten().collect::<Vec<_>>(),
        )
        .context("close the runtime's fds")?;
        confine::before_fork(what, plan)?;
        let pid_pipe = confine::pid_pipe(what, plan)?;
        // The pid namespace applies to children: fork the real process as
        // a sibling (our parent's child).
        let (forked, _) = syscall::clone_process(libc::CLONE_PARENT as u64, None)
            .context("fork the exec process")?;
        match forked {
            Forked::Child => {
                let pid_from = pid_pipe.map(|(r, w)| {
                    drop(w);
                    r
                });
                process_main(what, plan, chan, console, pid_from)
            }
            Forked::Parent(pid) => {
                if let Some((_, w)) = pid_pipe {
                    confine::tell_pid(w, pid)?;
                }
                // clone returns the pid as seen from our own pid namespace,
                // still the host's (setns of a pid namespace only changes
                // where children are made): the host pid callers need.
                chan.send(&Msg::ProcessPid(pid))?;
                Ok(())
            }
        }
    })();
    if let Err(e) = r {
        let _ = chan.send(&Msg::error(&e));
        syscall::exit_now(1)
    }
    syscall::exit_now(0)
}

fn process_main(
    what: &What,
    plan: &confine::Plan,
    chan: &sync::Channel,
    console: Option<std::os::unix::net::UnixStream>,
    pid_from: Option<OwnedFd>,
) -> ! {
    let err = match process_setup(what, plan, chan, console, pid_from) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    // `outlet exec` gone: it said why itself, or was killed (faults_s8:
    // its recv failing with EAGAIN gave two lines, ours blaming its exit).
    if let Err(e) = chan.send(&Msg::error(&err))
        && !sync::Channel::peer_gone(&e)
    {
        crate::logging::stderr(format_args!("outlet: exec: {err:#}"));
    }
    syscall::exit_now(127)
}

fn process_setup(
    what: &What,
    plan: &confine::Plan,
    chan: &sync::Channel,
    console: Option<std::os::unix::net::UnixStream>,
    pid_from: Option<OwnedFd>,
) -> Result<Infallible> {
    let &What {
        p, state, linux, ..
    } = what;
    crate::fault::pause("exec:process");
    let state_json = || serde_json::to_string(&state.oci(Status::Running)).unwrap_or_default();
    let first = confine::first_in_process(what, plan, pid_from, &state_json)?;
    crate::fault::pause("exec:confined");
    // A filter loaded already is not loaded again.
    let seccomp = what.seccomp.filter(|_| !first.filtered);
    nix::unistd::setsid().context("setsid")?;
    if let Some(s) = console {
        crate::tty::setup_terminal(s, p)?;
    }
    for r in p.rlimits().iter().flatten() {
        crate::process::init::set_rlimit(r)?;
    }
    crate::process::scheduling::apply(p)?;
    if confine::attrs_in_process() {
        confine::inherited_attrs(linux)?;
    }
    crate::process::stdio::chown_pipes(p.user().uid())?;
    let p = &*crate::process::home::with_home(p)?;
    let became = crate::process::init::become_process(p, seccomp, first.proc.as_ref())?;
    chan.send(&Msg::Ready)?;
    if let Some(s) = seccomp.filter(|_| confine::pid_after_ready(what, plan)) {
        // outlet exec relays the helper's ProcessPid: our host pid.
        match chan.recv()? {
            Some(Msg::ProcessPid(pid)) => s.set_process_pid(pid),
            other => bail!(
                "sync: expected ProcessPid, got {}",
                other.map_or("EOF", |m| m.name())
            ),
        }
    }
    // The helper closed every other fd before the fork.
    crate::process::init::exec_process(became, seccomp, &state_json, None)
}

#[cfg(test)]
mod tests {
    /// The first `ProcessPid` must name a child: pid 1 and ourselves are
    /// refused, a child of ours (running or exited, unreaped) is taken,
    /// and a second one is refused whatever it names.
    #[test]
    fn process_pid_only_a_child_and_only_once() {
        let me = std::process::id() as i32;
        for p in [1, me, 0] {
            let e = super::process_pid_checked(p, None).unwrap_err();
            assert!(e.to_string().contains("refused"), "{p}: {e}");
        }
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        super::process_pid_checked(pid, None).unwrap();
        let e = super::process_pid_checked(pid, Some(pid)).unwrap_err();
        assert!(e.to_string().contains("a second ProcessPid"), "{e}");
        child.wait().unwrap();
    }
}

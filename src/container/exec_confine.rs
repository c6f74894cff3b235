//! What `exec`'s process holds when a container process could get hold of
//! it. It is forked into the container's pid namespace and sets itself up
//! there (terminal, rlimits, user switch) before execve; a container
//! process holding CAP_SYS_PTRACE can PTRACE_ATTACH to it all that time
//! (non-dumpable does not stop that holder) and run code with whatever it
//! holds. So the helper, still invisible to the container (its own pid is
//! in the host's pid namespace), does what needs the runtime's rights
//! before the fork and narrows the sets to the process's own plus what the
//! setup uses:
//!
//! - the chroot (a container without its own mount namespace);
//! - a seccomp filter loaded without no_new_privs (Docker's default:
//!   noNewPrivileges false), which the kernel takes only from a holder of
//!   CAP_SYS_ADMIN: loaded by the helper, inherited by the fork, so the
//!   process never holds CAP_SYS_ADMIN for it. The process's whole setup
//!   then runs under the filter, as runc's setns init does its user switch,
//!   capset and chdir under it in that case; the helper itself makes only
//!   prctl, capget/capset, clone3 (or clone on ENOSYS), sendmsg and exit
//!   after it. Allocation there comes from the bss arena.
//!
//! The container's personality and memory policy go in the helper too,
//! before that filter: both are inherited by the fork and kept across
//! execve, and Docker's profile allows personality(2) only for a few
//! values and set_mempolicy only to CAP_SYS_NICE, so under the filter the
//! process could not set them.
//!
//! Two steps still need CAP_SYS_ADMIN in the process itself, which are its
//! first, followed at once by dropping it from every set (`drop_admin`):
//!
//! - LSM labels: /proc/self/attr/exec is per task and is written by the
//!   process itself, in a procfs it mounts (one made by the helper would
//!   show the host's pid namespace, and a hijacked process could reach
//!   host processes through it). A filter without no_new_privs then goes
//!   in right after that mount, not before the fork: Docker's profile
//!   denies mount to a container without CAP_SYS_ADMIN;
//! - a listener's filter (SCMP_ACT_NOTIFY) without no_new_privs: the
//!   listener is told the process's host pid, known only after the fork
//!   (the helper writes it into a pipe right after the fork), and a filter loaded by the helper
//!   would have named the helper, and notified on the helper's syscalls.
//!
//! There CAP_SYS_ADMIN is held from the fork to the end of those steps (a
//! procfs mount; the wait for the helper's pipe; the filter load).

use anyhow::{Context, Result, bail};

use super::exec::What;
use crate::process::procfs::ProcFs;
use crate::security::capabilities as caps;
use std::os::fd::{AsRawFd, OwnedFd};

/// Where the filter of a process without no_new_privs goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Filter {
    /// No filter, or one that needs no capability (no_new_privs set): the
    /// last step before execve, as always.
    Late,
    /// Loaded by the helper before the fork.
    Helper,
    /// The process's first step (after the label's procfs): a listener's,
    /// once it knows its pid, and any with LSM labels.
    First,
}

pub(super) struct Plan {
    pub(super) filter: Filter,
    pub(super) labels: bool,
}

pub(super) fn plan(what: &What) -> Plan {
    let p = what.p;
    let labels = [p.apparmor_profile(), p.selinux_label()]
        .iter()
        .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()));
    let filter = match what.seccomp {
        _ if matches!(switch(), Switch::FullCaps | Switch::LateFilter) => Filter::Late,
        // Under Docker's profile the label's procfs could not be mounted
        // once the filter is in: it goes first, the filter after it.
        Some(s) if !p.no_new_privileges().unwrap_or(false) => {
            if s.listener_path().is_some() || labels {
                Filter::First
            } else {
                Filter::Helper
            }
        }
        _ => Filter::Late,
    };
    Plan { filter, labels }
}

/// The helper's part, after it joined the container and closed our fds,
/// just before it forks the process.
pub(super) fn before_fork(what: &What, plan: &Plan) -> Result<()> {
    if let Some(fd) = what.chroot {
        nix::unistd::fchdir(fd).context("enter the container's root")?;
        nix::unistd::chroot(".").context("chroot into the container's root")?;
        let _ = nix::unistd::close(fd);
    }
    if switch() != Switch::AttrsInProcess {
        inherited_attrs(what.linux)?;
    }
    if let (Filter::Helper, Some(s)) = (plan.filter, what.seccomp) {
        // No listener: the state is not sent anywhere.
        s.load("")?;
    }
    let p = what.p;
    let nnp = p.no_new_privileges().unwrap_or(false);
    match switch() {
        Switch::FullCaps => return Ok(()),
        Switch::LateFilter if what.seccomp.is_some() && !nnp => {
            let need = caps::SETUP | caps::SETUP_NICE | caps::SETUP_RESOURCE | caps::SETUP_ADMIN;
            return caps::narrow_for_setup(p.capabilities().as_ref(), need);
        }
        _ => {}
    }
    let mut need = caps::SETUP;
    if p.scheduler().is_some() || p.io_priority().is_some() {
        need |= caps::SETUP_NICE;
    }
    if p.rlimits().as_ref().is_some_and(|r| !r.is_empty()) {
        need |= caps::SETUP_RESOURCE;
    }
    if plan.labels || plan.filter == Filter::First {
        need |= caps::SETUP_ADMIN;
    }
    caps::narrow_for_setup(p.capabilities().as_ref(), need)
}

/// The container's personality and memory policy, for the helper and
/// every child it forks (the process's, in every plan).
pub(super) fn inherited_attrs(linux: &crate::spec::ExecLinux) -> Result<()> {
    crate::process::personality::apply(linux.personality())?;
    crate::process::mempolicy::apply(linux.memory_policy())
}

/// The debug switch's way back to setting them in the process, after a
/// filter the helper loaded (the test's control).
pub(super) fn attrs_in_process() -> bool {
    switch() == Switch::AttrsInProcess
}

/// What the process's first steps leave for `become_process`: its own
/// procfs for the label writes, and whether the filter is in already.
pub(super) struct First {
    pub(super) proc: Option<ProcFs>,
    pub(super) filtered: bool,
}

/// The process's first steps: those that need CAP_SYS_ADMIN, then drop it.
pub(super) fn first_in_process(
    what: &What,
    plan: &Plan,
    pid_from: Option<OwnedFd>,
    state_json: &dyn Fn() -> String,
) -> Result<First> {
    let proc = if plan.labels {
        Some(ProcFs::private().context("writing the process's LSM label")?)
    } else {
        None
    };
    let filtered = plan.filter != Filter::Late;
    if let (Filter::First, Some(s)) = (plan.filter, what.seccomp) {
        if let Some(r) = pid_from {
            s.set_process_pid(read_pid(r)?);
            s.load(&state_json())?;
        } else {
            s.load("")?;
        }
    }
    if (plan.labels || plan.filter == Filter::First)
        && !matches!(switch(), Switch::FullCaps | Switch::LateFilter)
    {
        caps::drop_admin(what.p.capabilities().as_ref())?;
    }
    Ok(First { proc, filtered })
}

/// The pipe through which the helper tells a process that loads a
/// listener's filter first its host pid, right after the fork: with
/// CAP_SYS_ADMIN held until then, a round trip through outlet was long
/// enough for a hunter in the container to attach (`Some((read, write))`).
pub(super) fn pid_pipe(what: &What, plan: &Plan) -> Result<Option<(OwnedFd, OwnedFd)>> {
    if plan.filter != Filter::First || what.seccomp.is_none_or(|s| s.listener_path().is_none()) {
        return Ok(None);
    }
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe for the pid")?;
    Ok(Some((r, w)))
}

/// The helper's end: the pid as clone returned it (the host's).
pub(super) fn tell_pid(w: OwnedFd, pid: i32) -> Result<()> {
    nix::unistd::write(&w, &pid.to_ne_bytes()).context("tell the process its pid")?;
    Ok(())
}

fn read_pid(r: OwnedFd) -> Result<i32> {
    let mut b = [0u8; 4];
    let mut got = 0;
    while got < b.len() {
        match nix::unistd::read(r.as_raw_fd(), &mut b[got..]) {
            Ok(0) => bail!("exec: the helper exited before telling the process its pid"),
            Ok(n) => got += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("read the pid from the helper"),
        }
    }
    Ok(i32::from_ne_bytes(b))
}

/// Does the process wait for its pid after Ready (a listener's filter
/// loaded last, with no_new_privs)?
pub(super) fn pid_after_ready(what: &What, plan: &Plan) -> bool {
    plan.filter == Filter::Late && what.seccomp.is_some_and(|s| s.listener_path().is_some())
}

/// The test-only ways back, so the attack tests can show what a
/// ptrace-capable container gets hold of without this file: "1" forks the
/// process with all of the runtime's capabilities; "late-filter" narrows
/// but loads a filter without no_new_privs last, keeping CAP_SYS_ADMIN
/// for it until then (the state before the helper loaded it);
/// "attrs-in-process" sets personality and memory policy in the process,
/// under a filter the helper loaded. Debug builds only: a release build
/// never makes the other variants.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(debug_assertions), allow(dead_code))]
enum Switch {
    Off,
    FullCaps,
    LateFilter,
    AttrsInProcess,
}

#[cfg(debug_assertions)]
fn switch() -> Switch {
    match std::env::var_os("OUTLET_EXEC_FULL_CAPS") {
        Some(v) if v == "1" => Switch::FullCaps,
        Some(v) if v == "late-filter" => Switch::LateFilter,
        Some(v) if v == "attrs-in-process" => Switch::AttrsInProcess,
        _ => Switch::Off,
    }
}

#[cfg(not(debug_assertions))]
fn switch() -> Switch {
    Switch::Off
}

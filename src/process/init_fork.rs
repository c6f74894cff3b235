//! The init's joins by path, and the one shape that needs a second
//! process: a user namespace joined by path while the container makes a
//! pid namespace of its own (a podman pod created with `--userns`, whose
//! other containers join the infra container's user namespace; Kubernetes
//! pods with `hostUsers: false`).
//!
//! A namespace is owned by the user namespace its maker was in when it
//! made it. A clone that made the pid namespace would make it in the
//! host's user namespace, and the container's root (root of the joined
//! one) would own nothing there: mounting its /proc fails with EPERM. So
//! the clone leaves CLONE_NEWPID out; the init (the "intermediate" here)
//! joins the user namespace and the others given by path, unshares the
//! new ones, pid included, and forks the real init with CLONE_PARENT,
//! pid 1 of the new pid namespace and a child of `create` (or `run`),
//! which reaps it. The intermediate sends that child's host pid over the
//! sync channel and exits: it runs a few syscalls, holds only what the
//! init held at its start, and is never in sight of the container's pid
//! namespace. runc's nsexec forks its init the same way.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use oci_spec::runtime::LinuxNamespaceType;

use super::sync::{Channel, Msg};
use crate::namespaces::{self, NsPlan};
use crate::syscall::{self, Forked};

/// Whether the init must fork the container's pid 1 after its joins: the
/// user namespace is joined by path and the pid namespace is new.
/// `OUTLET_USERNS_CLONE_PID=1` (debug builds: the tests' control) keeps
/// the old order, the pid namespace made by the clone in the host's user
/// namespace.
pub fn wanted(plan: &NsPlan) -> bool {
    plan.joins(LinuxNamespaceType::User)
        && plan.creates(LinuxNamespaceType::Pid)
        && !crate::fault::control("OUTLET_USERNS_CLONE_PID")
}

/// Join every namespace given by path but the pid namespace (the parent
/// joined that one: it only applies to children). Every file is opened
/// first, from the runtime's mount namespace: joining a mount namespace
/// must not change what a later path names.
///
/// setns asks for CAP_SYS_ADMIN over the namespace's owner and over our
/// own user namespace. After the join of a user namespace we hold
/// capabilities only there: a namespace owned by it (the pod's netns made
/// by the infra container) can be joined after it, one owned by the
/// host's (a netns that a CNI plugin made) only before it. So, as runc's
/// nsexec does, each is tried before the user namespace and the ones
/// refused with EPERM are joined after it.
pub fn join_all(plan: &NsPlan, spec: &crate::spec::Spec) -> Result<()> {
    // Joined, a user namespace gives its processes with CAP_SYS_PTRACE
    // there a hold on us (ptrace, /proc/PID/{mem,root,fd}) while we are
    // dumpable, and we are still the host's uid 0: a pod member that sees
    // host pids could take us over. Non-dumpable first, as exec's helper
    // is; the fork inherits it. `OUTLET_JOIN_DUMPABLE=1` (debug builds):
    // the tests' control, dumpable until become_container_root.
    if plan.joins(LinuxNamespaceType::User) && !crate::fault::control("OUTLET_JOIN_DUMPABLE") {
        nix::sys::prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
    }
    let mut opened = Vec::with_capacity(plan.join.len());
    for (t, p) in plan
        .join
        .iter()
        .filter(|(t, _)| *t != LinuxNamespaceType::Pid)
    {
        opened.push((*t, p, namespaces::open(*t, p)?));
    }
    sysctl_targets_not_ours(spec, &opened)?;
    hosts_not_joined(spec, &opened)?;
    let join = |(t, p, f): &(LinuxNamespaceType, &std::path::PathBuf, OwnedFd)| {
        nix::sched::setns(f.as_fd(), namespaces::flag(*t)).with_context(|| {
            format!(
                "join {} namespace {}",
                namespaces::proc_name(*t),
                p.display()
            )
        })
    };
    // `OUTLET_JOIN_USER_FIRST=1` (debug builds): the tests' control, the
    // old order (plan.join has the user namespace first).
    let user = opened
        .iter()
        .position(|(t, ..)| *t == LinuxNamespaceType::User);
    let Some(user) = user.filter(|_| !crate::fault::control("OUTLET_JOIN_USER_FIRST")) else {
        return opened.iter().try_for_each(join);
    };
    let mut after = Vec::new();
    for (i, ns) in opened.iter().enumerate().filter(|(i, _)| *i != user) {
        match nix::sched::setns(ns.2.as_fd(), namespaces::flag(ns.0)) {
            Ok(()) => {}
            Err(Errno::EPERM) => after.push(i),
            Err(_) => join(ns)?,
        }
    }
    join(&opened[user])?;
    after.into_iter().try_for_each(|i| join(&opened[i]))
}

/// The spec's sysctl check (spec/sysctl.rs: a sysctl of a namespace the
/// container does not have of its own would change the host's) again, on
/// the files opened, before any join (so /proc/self/ns is still the
/// runtime's): the check looked at the paths when the spec was read, and a
/// symlink swapped since to the host's namespace would take the sysctl
/// there. `OUTLET_SYSCTL_NS_UNCHECKED=1` (debug builds): the control.
fn sysctl_targets_not_ours(
    spec: &crate::spec::Spec,
    opened: &[(LinuxNamespaceType, &std::path::PathBuf, OwnedFd)],
) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    if crate::fault::control("OUTLET_SYSCTL_NS_UNCHECKED") {
        return Ok(());
    }
    for key in sysctl.keys() {
        let Ok(typ) = crate::spec::sysctl_namespace(key) else {
            continue;
        };
        let Some((_, p, fd)) = opened.iter().find(|(t, ..)| *t == typ) else {
            continue;
        };
        if namespaces::is_hosts(fd.as_fd(), typ)
            .with_context(|| format!("fstat {}", p.display()))?
        {
            anyhow::bail!(
                "linux.sysctl {key:?}: the {} namespace {} is now the host's: the sysctl would change the host's",
                namespaces::config_name(typ),
                p.display()
            );
        }
    }
    Ok(())
}

/// The spec's check of joined namespaces (spec/checks.rs `joined_hosts`:
/// a mount namespace, or a uts namespace given a name, that is the
/// runtime's own or PID 1's) again, on the files opened, before any join,
/// for the same reason as `sysctl_targets_not_ours`.
/// `OUTLET_JOINED_HOST_NS_UNCHECKED=1` (debug builds): the control.
fn hosts_not_joined(
    spec: &crate::spec::Spec,
    opened: &[(LinuxNamespaceType, &std::path::PathBuf, OwnedFd)],
) -> Result<()> {
    if crate::fault::control("OUTLET_JOINED_HOST_NS_UNCHECKED") {
        return Ok(());
    }
    for (typ, p, fd) in opened {
        let field = match typ {
            LinuxNamespaceType::Mount => "linux.namespaces",
            LinuxNamespaceType::Uts if crate::spec::names_host(spec) => "hostname/domainname",
            _ => continue,
        };
        if namespaces::is_hosts(fd.as_fd(), *typ)
            .with_context(|| format!("fstat {}", p.display()))?
        {
            anyhow::bail!(
                "{field}: the {} namespace {} is now the runtime's own (or PID 1's): {}",
                namespaces::config_name(*typ),
                p.display(),
                crate::spec::host_effect(*typ)
            );
        }
    }
    Ok(())
}

/// Unshare `rest` and the pid namespace, and fork the container's pid 1
/// (see the module's header). Returns in the child only; the intermediate
/// sends the child's host pid and exits. The child goes on only once that
/// message is on the channel ahead of anything it sends: the
/// intermediate writes a byte into a pipe after its send, and a child
/// that finds the pipe closed without it (the intermediate died) exits,
/// since `create` never learnt its pid.
pub fn unshare_and_fork(rest: CloneFlags, chan: &Channel) -> Result<()> {
    nix::sched::unshare(rest | CloneFlags::CLONE_NEWPID).context("unshare namespaces")?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .context("pipe for the pid namespace's init")?;
    crash_point("userns:unshared");
    let (forked, _) = syscall::clone_process(libc::CLONE_PARENT as u64, None)
        .context("fork the container init into its pid namespace")?;
    match forked {
        Forked::Child => {
            drop(w);
            // A fork clears the death signal: `create` is our parent now,
            // and may have died before we could set it again.
            chan.die_with_parent()?;
            let mut b = [0u8; 1];
            loop {
                match nix::unistd::read(r.as_raw_fd(), &mut b) {
                    Ok(1) => return Ok(()),
                    Err(Errno::EINTR) => continue,
                    _ => syscall::exit_now(1),
                }
            }
        }
        Forked::Parent(pid) => {
            drop(r);
            crash_point("userns:forked");
            crate::fault::pause("userns:forked");
            let sent = chan.send(&Msg::InitPid(pid));
            if sent.is_ok() {
                let _ = nix::unistd::write(&w, &[1]);
            }
            // Our job ends here whatever the send said: an error reaches
            // `create` as our exit before a pid, and the child exits too.
            syscall::exit_now(i32::from(sent.is_err()))
        }
    }
}

/// `OUTLET_FAULT=<step>` (debug builds), as `fault::point`, for a cloned
/// child: musl's raise() signals the thread id it cached in the parent
/// (a raw clone does not refresh it), which would kill `create` instead.
fn crash_point(step: &str) {
    if cfg!(debug_assertions) && std::env::var_os("OUTLET_FAULT").is_some_and(|v| v == step) {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
}

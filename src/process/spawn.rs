//! The one spawn path of `create` (the container's init) and `exec` (its
//! helper): a child cloned with a sync channel to it, entering the
//! container's cgroup the cheapest way the host allows. On cgroup v2 the
//! clone itself places it (CLONE_INTO_CGROUP); on v1 the child writes
//! itself into `tasks` files opened for it before the clone; where neither
//! applies, the parent adds its pid when the child reports `Unshared`.

use std::convert::Infallible;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{Context, Result};

use super::sync::Channel;
use crate::cgroups::Cgroup;
use crate::syscall::{self, Forked};

/// How a child about to be cloned enters its cgroup; made from the cgroup
/// right after it exists. Dropping it closes the parent's copies of the
/// v1 `tasks` files, which the parent does once the child has its own.
pub struct CgroupEntry {
    /// v2: the directory for CLONE_INTO_CGROUP (owned by the Cgroup).
    clone_into: Option<RawFd>,
    /// v1: the `tasks` files (see `Cgroup::self_join_files`).
    join_files: Option<Vec<OwnedFd>>,
    join_fds: Vec<RawFd>,
    /// What the child must end up in: a cgroup2 directory (the clone's
    /// to place it in), v1 hierarchies (its own to join); a hybrid host
    /// has both.
    joins_v2: bool,
    joins_v1: bool,
}

impl CgroupEntry {
    pub fn of(cgroup: &Cgroup) -> CgroupEntry {
        let clone_into = cgroup.clone_into_fd();
        let join_files = cgroup.self_join_files();
        let join_fds = join_files
            .iter()
            .flatten()
            .map(AsRawFd::as_raw_fd)
            .collect();
        CgroupEntry {
            clone_into,
            join_files,
            join_fds,
            joins_v2: cgroup.paths().unified.is_some() || cgroup.paths().hybrid.is_some(),
            joins_v1: !cgroup.paths().v1.is_empty(),
        }
    }

    /// The fds the child passes to `Cgroup::join_self` (none on v2).
    pub fn join_fds(&self) -> &[RawFd] {
        &self.join_fds
    }

    /// Whether the clone alone places the child (cgroup v2): then the
    /// cgroup namespace can be made by the clone too. On a hybrid host
    /// the child still joins its v1 hierarchies after the clone.
    pub fn clones_into(&self) -> bool {
        self.clone_into.is_some() && !self.joins_v1
    }

    /// Whether the child ends up in every hierarchy without the parent:
    /// the clone placed it where asked to, and it can join the v1 ones.
    fn placed(&self, in_cgroup: bool) -> bool {
        (!self.joins_v2 || in_cgroup) && (!self.joins_v1 || self.join_files.is_some())
    }
}

/// The parent's side of a spawned child.
pub struct Spawned {
    pub pid: i32,
    pub chan: Channel,
    /// Whether the child is already in its cgroup, or moves itself in.
    placed_without_us: bool,
}

/// Clone a child with `flags` (namespaces, CLONE_PARENT) into the cgroup of
/// `entry`. The child runs `child_main` on its end of the channel, which
/// never returns (it execs or exits); the parent keeps `parent_end`. Both ends are made by the
/// caller, which chooses their fd order (the init keeps the lower one).
/// `what` names the child in the error.
///
/// Only sound while the process is single-threaded (see
/// `syscall::clone_process`).
pub fn spawn(
    flags: u64,
    entry: &CgroupEntry,
    parent_end: Channel,
    child_end: Channel,
    what: &str,
    child_main: impl FnOnce(Channel) -> Infallible,
) -> Result<Spawned> {
    spawn_placed(flags, entry, parent_end, child_end, what, |chan, _| {
        child_main(chan)
    })
}

/// `spawn`, telling the child whether it ends up in its cgroup without the
/// parent's help (`Spawned::placed_without_us`), so that a child with
/// nothing to wait for does not wait for the parent's word.
pub fn spawn_placed(
    flags: u64,
    entry: &CgroupEntry,
    parent_end: Channel,
    child_end: Channel,
    what: &str,
    child_main: impl FnOnce(Channel, bool) -> Infallible,
) -> Result<Spawned> {
    // A caller that ignores SIGCHLD (a daemon's auto-reaping, kept across
    // its execve) has the kernel reap our child the moment it exits, its
    // pid free for anyone while we still take it for ours: create's undo
    // and exec's stall watch kill by it (tests/attack_s15b.rs). Every
    // child stays a zombie until we reap it; the init and exec's process
    // reset every disposition before their execve anyway.
    if !crate::fault::control("OUTLET_SIGCHLD_AS_GIVEN") {
        syscall::process::default_disposition(libc::SIGCHLD);
    }
    let (forked, in_cgroup) = syscall::clone_process(flags, entry.clone_into)
        .map_err(|e| clone_error(e, entry))
        .with_context(|| what.to_string())?;
    let placed_without_us = entry.placed(in_cgroup);
    match forked {
        // The child's arm ends in a call that cannot return (its result
        // type is uninhabited), which the lint reports as such.
        #[allow(unreachable_code)]
        Forked::Child => {
            drop(parent_end);
            // The cgroup directory's fd is the parent's: the clone has
            // used it. Left open it could sit among the fds the caller
            // asked to pass on (--preserve-fds with gaps), and the
            // container would hold a directory of the host's cgroupfs
            // (tests/init_fds.rs, userns_join_s10.rs). Nothing in the
            // child uses it; the handle that owns it is never dropped here
            // (the child execs or exits).
            if let Some(fd) = entry.clone_into {
                let _ = nix::unistd::close(fd);
            }
            match child_main(child_end, placed_without_us) {}
        }
        Forked::Parent(pid) => {
            drop(child_end);
            Ok(Spawned {
                pid,
                chan: parent_end,
                placed_without_us,
            })
        }
    }
}

/// A clone into a cgroup v2 directory fails with a bare errno where a
/// container with a writable cgroup mount arranged its own tree so that
/// none may join (tests/vm/s15_v2.sh): say what the kernel refused.
fn clone_error(e: std::io::Error, entry: &CgroupEntry) -> anyhow::Error {
    let why = match (entry.clone_into, e.raw_os_error()) {
        (Some(_), Some(libc::EBUSY)) => {
            "the cgroup has controllers enabled for its sub-cgroups (its \
             cgroup.subtree_control), so no process may join it"
        }
        (Some(_), Some(libc::EAGAIN)) => "the cgroup's pids.max (or an ancestor's) may be reached",
        _ => return e.into(),
    };
    anyhow::Error::new(e).context(why)
}

impl Spawned {
    /// Whether the child is in its cgroup without `place` (the clone put
    /// it there, or it moves itself in).
    pub fn placed_without_us(&self) -> bool {
        self.placed_without_us
    }

    /// How the child ended, for the error of a parent whose channel
    /// closed before the child said why: " (killed by SIGABRT)", " (exit
    /// status 1)", or nothing when that cannot be known (a CLONE_PARENT
    /// child is not ours to wait for). The channel closes as the child
    /// exits, a moment before the kernel makes it a zombie, so this looks
    /// for up to 100 ms; WNOWAIT leaves the zombie to whoever reaps it, so
    /// that its pid cannot be reused under the parent's undo.
    pub fn how_it_ended(&self) -> String {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
        loop {
            match waitid(Id::Pid(nix::unistd::Pid::from_raw(self.pid)), flags) {
                Ok(WaitStatus::Signaled(_, sig, _)) => return format!(" (killed by {sig})"),
                Ok(WaitStatus::Exited(_, code)) => return format!(" (exit status {code})"),
                Ok(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                _ => return String::new(),
            }
        }
    }

    /// This child was the intermediate of process/init_fork.rs: wait for
    /// the pid of the container's init it forked (our child by
    /// CLONE_PARENT), reap the intermediate, which exits once it has sent
    /// it, and stand for the init from here on. Until this returns the
    /// intermediate is unreaped, so the caller's undo may still kill it by
    /// pid; the returned pid is the one to kill after.
    pub fn follow_fork(&mut self) -> Result<i32> {
        let pid = match self.chan.recv()? {
            Some(super::sync::Msg::InitPid(pid)) if pid > 0 => pid,
            Some(super::sync::Msg::Error { errno, context }) => {
                return Err(super::sync::remote_error(errno, context));
            }
            Some(m) => anyhow::bail!("sync: expected InitPid, got {}", m.name()),
            None => anyhow::bail!(
                "container init exited before it forked into its pid namespace{}",
                self.how_it_ended()
            ),
        };
        // Only the intermediate holds its end of the channel, but a pid
        // taken on its word would be placed, recorded and signalled: it
        // must be our child (CLONE_PARENT), which waitid tells without
        // reaping or waiting. Debug builds' OUTLET_INITPID_UNCHECKED=1 is
        // the control of tests/attack_s10b.rs.
        use nix::sys::wait::{Id, WaitPidFlag, waitid};
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        if let Err(e) = waitid(Id::Pid(nix::unistd::Pid::from_raw(pid)), flags)
            && !crate::fault::control("OUTLET_INITPID_UNCHECKED")
        {
            anyhow::bail!("sync: InitPid {pid} is not a child of ours ({e}): refused");
        }
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None);
        self.pid = pid;
        Ok(pid)
    }

    /// The child reported `Unshared`: put it in its cgroup unless the clone
    /// or the child itself did.
    pub fn place(&self, cgroup: &Cgroup) -> Result<()> {
        if self.placed_without_us {
            return Ok(());
        }
        cgroup.add_pid(self.pid)
    }
}

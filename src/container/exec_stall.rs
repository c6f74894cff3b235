//! exec's watch for a container that stalls exec's own processes before
//! the process is ready. The container sees exec's helper (a container in
//! the host's pid namespace does from the helper's clone on) and the
//! process between its fork and its execve; neither then reports if the
//! container
//! - moves it into a sub-cgroup it froze (a writable cgroup mount), or
//! - stops it with SIGSTOP (its root holds CAP_KILL, and the process is
//!   still uid 0 then),
//!
//! and exec waited for it without end (tests/attack_s15.rs,
//! tests/vm/s15_v2.sh). A process frozen in the container's own cgroup
//! is a pause (`pause`, or `exec --ignore-paused`), which `resume` ends:
//! that is waited for. A stop the container lifts again within a look is
//! only a delay. A tracer's stop (`t`, which needs CAP_SYS_PTRACE) is
//! left alone: a debugger of the caller's, strace -f, stops it too.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cgroups::Cgroup;
use crate::cgroups::host::{ROOT, mount_name};

/// How often a wait looks: the common exec gets its messages well within
/// it and pays one poll per message.
const LOOK_EVERY_MS: u16 = 250;

/// Waits until `chan` is readable. Every `LOOK_EVERY_MS` meanwhile, fails
/// (SIGKILLing them) when one of `pids` (the helper, then the process:
/// outlet's own children, so no reused pids) sits in a frozen cgroup
/// below the container's own, or was seen stopped at two looks in a row.
/// A v1-frozen task dies only once thawed (delete does), so it is not
/// waited for.
pub fn wait_readable(chan: BorrowedFd, cgroup: &Cgroup, pids: &[i32]) -> Result<()> {
    if crate::fault::control("OUTLET_EXEC_NO_STALL_WATCH") {
        return Ok(());
    }
    let mut stopped_before = [false; 2];
    loop {
        let mut fds = [PollFd::new(chan.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(LOOK_EVERY_MS)) {
            Ok(0) => {}
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(anyhow::Error::new(e).context("poll the exec channel")),
        }
        for (i, &p) in pids.iter().enumerate().take(2) {
            let who = if i == 0 { "helper" } else { "process" };
            let why = if let Some(dir) = frozen_below(p, cgroup) {
                format!(
                    "moved exec's {who} {p} into {}, a cgroup it froze",
                    dir.display()
                )
            } else if stopped(p) {
                if !std::mem::replace(&mut stopped_before[i], true) {
                    continue;
                }
                format!("stopped exec's {who} {p} (SIGSTOP) and kept it stopped")
            } else {
                stopped_before[i] = false;
                continue;
            };
            for &q in pids {
                let _ = kill(Pid::from_raw(q), Signal::SIGKILL);
            }
            bail!("the container {why}: the process would never start");
        }
    }
}

/// Whether `pid` is stopped by a signal (`T` in /proc/PID/stat).
fn stopped(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command's closing parenthesis, which the
    // command itself may hold: the last one.
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
}

/// The frozen cgroup below the container's own that `pid` sits in, if any.
fn frozen_below(pid: i32, cgroup: &Cgroup) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let paths = cgroup.paths();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctl, rel) = (f.next()?, f.next()?, f.next()?);
        let rel = rel.trim_start_matches('/');
        let (own, dir, file, frozen): (_, _, _, &[&str]) = if ctl.is_empty() {
            let own = paths.unified.as_ref().or(paths.hybrid.as_ref())?;
            let base = if paths.hybrid.is_some() {
                Path::new(ROOT).join("unified")
            } else {
                PathBuf::from(ROOT)
            };
            (own, base.join(rel), "cgroup.events", &["frozen 1"])
        } else if ctl.split(',').any(|c| c == "freezer") {
            let Some(own) = paths.v1.get("freezer") else {
                continue;
            };
            let dir = Path::new(ROOT).join(mount_name(ctl)).join(rel);
            (own, dir, "freezer.state", &["FROZEN", "FREEZING"])
        } else {
            continue;
        };
        if dir == *own || !dir.starts_with(own) {
            continue;
        }
        let Ok(state) = std::fs::read_to_string(dir.join(file)) else {
            continue;
        };
        if state.lines().any(|l| frozen.contains(&l.trim())) {
            return Some(dir);
        }
    }
    None
}

//! Starting criu inside a container's cgroups: `restore
//! --manage-cgroups-mode ignore` leaves the restored tasks where criu is,
//! so criu must already sit in the container's cgroups when it forks them
//! (runc moves its criu there before sending the restore request).

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the child of `cmd` write itself ("0") into each `cgroup.procs`
/// in `procs` between fork and exec, so that it runs nothing outside
/// them; the spawn fails if one write fails.
pub fn spawn_into_cgroups(cmd: &mut Command, procs: Vec<OwnedFd>) {
    let write_self = move || -> io::Result<()> {
        for fd in &procs {
            nix::unistd::write(fd, b"0").map_err(io::Error::from)?;
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec; it only
    // calls write(2) on fds opened before the fork (async-signal-safe) and
    // neither allocates nor takes locks (iterating a Vec does not).
    unsafe { cmd.pre_exec(write_self) };
}

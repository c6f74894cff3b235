//! What a hook's child does between fork and execve: nothing of the
//! runtime's fd table but stdio reaches the hook.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Mark every fd from 3 on close-on-exec in the hook's child, after
/// `Command` has set up its stdio: a hook gets 0, 1 and 2 (the state on
/// stdin), as runc's hooks do, and none of the fds a caller leaked into
/// outlet or outlet holds (the container's sync socket, the rootfs, ...).
/// Close-on-exec rather than closed, so that `Command`'s own error pipe
/// still reports a hook that cannot be executed.
pub fn only_stdio(cmd: &mut Command) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: the closure runs in the forked child before execve and only
    // makes one raw syscall (async-signal-safe, no allocation, no lock);
    // close_range with CLOEXEC changes flags in the child's own fd table.
    unsafe {
        cmd.pre_exec(|| {
            let r = libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            );
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

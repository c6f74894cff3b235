//! setgroups, setresgid and setresuid as the raw syscalls. musl's
//! wrappers apply a change to every thread of the process (`__synccall`:
//! three rt_sigprocmask calls around each); the processes that switch
//! user here (the container's init, `exec`'s helper child) have one
//! thread, for which the raw call is the whole change.
//!
//! Only for a single-threaded process: another thread would keep the old
//! credentials.

use std::io;

fn unit_result(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// setgroups(2) for this (the only) thread.
pub fn setgroups(groups: &[libc::gid_t]) -> io::Result<()> {
    // SAFETY: a pointer to `groups.len()` gids that outlive the call; the
    // kernel only reads them.
    unit_result(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })
}

/// setresgid(gid, gid, gid) for this (the only) thread.
pub fn setresgid(gid: libc::gid_t) -> io::Result<()> {
    // SAFETY: plain integers.
    unit_result(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })
}

/// setresuid(uid, uid, uid) for this (the only) thread.
pub fn setresuid(uid: libc::uid_t) -> io::Result<()> {
    // SAFETY: plain integers.
    unit_result(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })
}

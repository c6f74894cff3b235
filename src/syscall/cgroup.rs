//! The raw calls the cgroup code needs where nix has no wrapper that fits:
//! a write on a bare fd number inherited across clone, and kill(2) with any
//! signal number (nix's `Signal` has no realtime signals).

use std::io;
use std::os::fd::RawFd;

/// Write "0" to `fd`, an fd on a cgroup's `tasks` or `cgroup.procs` file
/// that the parent opened before the clone: the calling thread moves
/// itself into that cgroup. One write(2) of one byte, as the kernel parses
/// each write as one request.
pub fn enter_by_fd(fd: RawFd) -> io::Result<()> {
    // SAFETY: write(2) reads one byte from a static buffer; an fd that is
    // not open (or not this file) only makes the call fail.
    let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    match n {
        1 => Ok(()),
        -1 => Err(io::Error::last_os_error()),
        _ => Err(io::Error::new(io::ErrorKind::WriteZero, "short write")),
    }
}

/// kill(2) with any signal number, realtime signals included.
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill(2) touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

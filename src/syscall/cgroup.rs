//! The raw calls the cgroup code needs where nix has no wrapper that fits:
//! a write on a bare fd number inherited across clone, kill(2) with any
//! signal number (nix's `Signal` has no realtime signals), and getdents64
//! on a directory fd that stays usable for openat (nix's `Dir` goes through
//! fdopendir: an fstat and two fcntls more per directory, and it takes the fd).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

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

/// getdents64(2): fill `buf` with the next `linux_dirent64` records of the
/// directory `dir`; 0 at its end.
pub fn dir_entries(dir: BorrowedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which
    // is ours (borrowed mutably) for the call; `dir` is open while borrowed.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

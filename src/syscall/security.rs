//! The raw calls of `security/`: loading a seccomp program, the kernel
//! release its cache key names, and re-executing outlet from its
//! protected copy. Each unsafe block sits next to its call.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

// <linux/seccomp.h>
const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
/// The flag that makes seccomp(2) return a notify fd.
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;

/// seccomp(SECCOMP_SET_MODE_FILTER) of `program` on the calling thread:
/// the notify fd when `flags` has NEW_LISTENER.
pub fn seccomp_set_mode_filter(
    program: &[libc::sock_filter],
    flags: u32,
) -> io::Result<Option<OwnedFd>> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies `prog.len` instructions from `prog.filter`,
    // which points into `program`, alive for the call; it never writes
    // through the pointer (the cast to *mut is only libc's field type).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the return value is a new fd we own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as RawFd) }));
    }
    Ok(None)
}

/// The running kernel's release (uname -r); empty if uname fails.
pub fn kernel_release() -> String {
    // SAFETY: an all-zero utsname is a valid value of this plain C struct.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes into the struct we pass, which outlives the call.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    // SAFETY: uname NUL-terminates the field, which lives in `u`.
    let release = unsafe { CStr::from_ptr(u.release.as_ptr()) };
    release.to_string_lossy().into_owned()
}

/// Remove `name` from this process's environment.
///
/// Sound only while the process has a single thread: std::env::remove_var
/// is unsafe because another thread could read the environment meanwhile.
/// outlet's main calls this before anything could start a thread.
pub fn unset_env_single_threaded(name: &str) {
    // SAFETY: see above; the only caller runs first thing in main.
    unsafe { std::env::remove_var(name) };
}

/// execveat(fd, "", args, environ + `extra_env`, AT_EMPTY_PATH): runs the
/// file `fd` refers to with this process's environment, `extra_env` first.
/// Returns only on failure.
pub fn execveat_self_env(fd: &OwnedFd, args: &[CString], extra_env: &CStr) -> io::Error {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = vec![extra_env.as_ptr()];
    // SAFETY: environ is the NULL-terminated array libc keeps; nothing
    // changes the environment while we read it (the callers are
    // single-threaded: outlet's start-up, before any thread).
    unsafe {
        let mut p = environ;
        while !(*p).is_null() {
            envp.push(*p);
            p = p.add(1);
        }
    }
    envp.push(std::ptr::null());
    // SAFETY: argv and envp are NULL-terminated arrays of C strings that
    // live until the call (which only returns on failure).
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

unsafe extern "C" {
    /// The C library's environment (glibc and musl alike).
    static environ: *const *const libc::c_char;
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernel_release_is_unames() {
        let proc = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(super::kernel_release(), proc.trim_end());
    }
}

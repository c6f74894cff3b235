//! Running from a sealed in-memory copy of outlet's binary. Until the
//! container's init execs the application it is a copy of outlet, and the
//! helpers of `exec` are too; they are non-dumpable, which keeps
//! /proc/PID/exe out of reach of the container's processes, unless one of
//! them holds CAP_SYS_PTRACE: it may then keep a handle on outlet's binary
//! and reopen it for writing once no outlet process runs it
//! (CVE-2019-5736). For such containers only, outlet first re-executes
//! itself from a sealed memfd, so that the only binary the container can
//! reach is a copy that cannot be written. The common path pays nothing.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use anyhow::{Context, Result};
use oci_spec::runtime::{Capability, LinuxCapabilities};

/// Set in the environment of the re-executed copy, so it does not repeat.
const MARK: &str = "_OUTLET_SEALED_EXE";

/// Does a process with these capabilities get past the non-dumpable guard?
pub fn needed(caps: Option<&LinuxCapabilities>) -> bool {
    caps.is_some_and(|c| {
        [c.bounding(), c.effective(), c.permitted(), c.ambient()]
            .into_iter()
            .flatten()
            .any(|set| set.contains(&Capability::SysPtrace))
    })
}

/// True in the copy that `reexec` started (and forgets the mark, so that
/// nothing outlet starts inherits it).
pub fn running_sealed() -> bool {
    if std::env::var_os(MARK).is_none() {
        return false;
    }
    // SAFETY: outlet is single-threaded; nothing reads the environment
    // concurrently.
    unsafe { std::env::remove_var(MARK) };
    true
}

/// Re-execute this command from a sealed copy of the binary; returns only
/// on failure.
pub fn reexec() -> Result<std::convert::Infallible> {
    let name = CString::new("outlet").expect("no NUL");
    // SAFETY: memfd_create with a valid name; the fd is ours.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create for a sealed copy");
    }
    // SAFETY: a fresh fd from the kernel.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut copy = std::fs::File::from(fd);
    let mut exe = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    std::io::copy(&mut exe, &mut copy).context("copy outlet into the memfd")?;
    copy.flush().ok();
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own fd with integer arguments.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error()).context("seal the memfd");
    }
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).context("argument has NUL"))
        .collect::<Result<_>>()?;
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            CString::new(kv.as_bytes()).context("environment has NUL")
        })
        .collect::<Result<_>>()?;
    env.push(CString::new(format!("{MARK}=1")).expect("no NUL"));
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: argv and envp are NULL-terminated arrays of live C strings.
    unsafe { libc::fexecve(copy.as_raw_fd(), argv.as_ptr(), envp.as_ptr()) };
    Err(std::io::Error::last_os_error()).context("exec the sealed copy of outlet")
}

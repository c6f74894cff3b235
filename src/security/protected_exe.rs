//! Running from a copy of outlet's binary that nothing can write to
//! (CVE-2019-5736 class).
//!
//! Every process that runs outlet's code has outlet's file as
//! /proc/self/exe: the container's init until it execs, the helper and the
//! child of `exec`. Non-dumpable keeps their /proc/PID/exe from other
//! processes without CAP_SYS_PTRACE, but not from the kernel: an image whose
//! entrypoint or exec target is a script `#!/proc/self/exe` makes the
//! kernel run that file again inside the container, as an ordinary,
//! dumpable process. A process in the container can then hold an O_PATH fd
//! on its /proc/PID/exe and, once no process runs the file any more, reopen
//! it for writing through /proc/self/fd/N and overwrite the host's binary.
//!
//! So the commands that make container processes (create, run, exec) first
//! re-execute themselves, once, from a copy that cannot be written through
//! any handle, and everything they clone or fork inherits it:
//!
//! 1. a detached, read-only overlayfs of the binary's directory (runc 1.2's
//!    way): `fsopen("overlay")` with two lower layers (the directory, and
//!    /sys as a second layer overlayfs needs to run without an upper layer,
//!    the binary's directory on top) and `fsmount(MOUNT_ATTR_RDONLY)`. Lower
//!    layers only: the superblock itself is read-only, and the mount is
//!    never attached anywhere, so neither a remount nor a path reaches a
//!    writable view. No copy, no memory per container. The fd opened
//!    through it is checked to be on that overlay and to be the same file
//!    (inode, size, mtime) as the running binary before it is executed.
//! 2. where that is impossible (no overlayfs, no mount API, not root, the
//!    binary under /sys or already two overlays deep, a path with a comma),
//!    a sealed memfd copy (F_SEAL_WRITE|SHRINK|GROW|SEAL). It costs a copy of
//!    the binary per call (about 2.3 MB, written before the exec), and those
//!    pages stay allocated as long as any process maps the copy: the init
//!    until it execs, an exec'd process until its execve.
//!
//! The price is one more execve per call, and with overlayfs up to two
//! expedited RCU grace periods: dropping the detached mount's namespace
//! when the mount fd closes (for `exec`: the re-executed outlet closes it
//! once its helper has closed its inherited copy, so that the wait
//! overlaps the helper's work; for `create` and `run` none when the init
//! pivots in a mount namespace of its own: it attaches the mount below its
//! old root, whose detach waits for a grace period anyway, see
//! rootfs/pivot.rs), and overlayfs releasing its layers when the last
//! process running the copy is gone (the init's execve, or the end of
//! `exec`). Measured on the 2-vCPU development VMs
//! (bench/README.md): with the glibc build about 1 ms per create or exec,
//! nearly all of it glibc's start-up in the second process (its CPUID
//! probing); with the static musl build the overlay and the execveat cost
//! about 0.17 ms of CPU per `run` plus the second process's page faults,
//! and the grace periods about 0.1 ms each (milliseconds when the machine
//! is loaded). The second one is waited for by whichever process lets go
//! of the copy last, in its own task_work (the application's first return
//! to user space after the init's execve): no outlet process outlives the
//! command to take it over. The memfd copy measured slower still (0.6 ms
//! for the copy alone).
//!
//! Whether the running binary is already such a copy is asked of the kernel
//! (statfs and the seals of /proc/self/exe), never of the environment: the
//! mark set for the re-executed process only turns a copy that somehow is
//! not protected into an error instead of an endless re-exec loop.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
use nix::sys::statfs::{OVERLAYFS_SUPER_MAGIC, TMPFS_MAGIC, statfs};

use crate::syscall;

/// Set in the environment of the re-executed copy (and removed by it):
/// `1`, or `mnt:N` when fd N is the overlay's mount, handed down open.
const MARK: &str = "_OUTLET_PROTECTED_EXE";

/// The overlay's mount fd that create, run or exec was handed across the
/// re-exec, or -1 (see `release_mount`).
static KEPT_MOUNT: AtomicI32 = AtomicI32::new(-1);

/// What /proc/self/exe is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exe {
    /// On a read-only overlayfs mount.
    ReadOnlyOverlay,
    /// A memfd sealed against writes.
    SealedMemfd,
    /// Installed on a read-only mount: every handle a container could get
    /// through /proc/PID/exe goes through that mount, so a write-open fails
    /// with EROFS, and no copy is needed (the cheap way to deploy outlet).
    ReadOnlyMount,
    /// Anything else: outlet's file as installed.
    Unprotected,
}

const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// Asks the kernel what this process runs from.
pub fn current() -> Result<Exe> {
    let fs = statfs("/proc/self/exe").context("statfs /proc/self/exe")?;
    let read_only = fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
    if fs.filesystem_type() == OVERLAYFS_SUPER_MAGIC && read_only {
        return Ok(Exe::ReadOnlyOverlay);
    }
    if read_only {
        return Ok(Exe::ReadOnlyMount);
    }
    if fs.filesystem_type() == TMPFS_MAGIC {
        let exe = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
        if fully_sealed(&exe) {
            return Ok(Exe::SealedMemfd);
        }
    }
    Ok(Exe::Unprotected)
}

/// Whether `file` carries every seal of SEALS (false for a file that
/// takes no seals at all).
fn fully_sealed(file: &impl AsRawFd) -> bool {
    let seals = fcntl(file.as_raw_fd(), FcntlArg::F_GET_SEALS);
    seals.is_ok_and(|s| SealFlag::from_bits_retain(s).contains(SEALS))
}

/// The test-only way to run unprotected, so that tests can show their
/// attack works without this protection. Honoured only in debug builds, or
/// with the `unprotected-exe-switch` feature (the benchmark's build of the
/// protection's cost); a release build without that feature ignores it.
#[cfg(any(debug_assertions, feature = "unprotected-exe-switch"))]
fn switched_off() -> bool {
    std::env::var_os("OUTLET_UNPROTECTED_EXE").is_some_and(|v| v == "1")
}

#[cfg(not(any(debug_assertions, feature = "unprotected-exe-switch")))]
fn switched_off() -> bool {
    false
}

/// Set once `ensure` has returned Ok in this process.
static ENSURED: AtomicBool = AtomicBool::new(false);

/// For the code that clones or forks into a container: refuses unless
/// `ensure` ran first in this process (no syscall: `ensure` asked the
/// kernel already), so a new way into `create` or `exec` that skips it
/// fails loudly instead of exposing the binary.
pub fn ensured() -> Result<()> {
    if !ENSURED.load(Ordering::Relaxed) {
        bail!("internal: outlet is not running from a protected copy of its binary");
    }
    Ok(())
}

/// Makes sure this process runs from a protected copy of outlet: returns
/// when it does, otherwise re-executes the same command line from one and
/// returns only on failure.
pub fn ensure(args: &[OsString]) -> Result<()> {
    check(args)?;
    ENSURED.store(true, Ordering::Relaxed);
    Ok(())
}

fn check(args: &[OsString]) -> Result<()> {
    let mark = std::env::var_os(MARK);
    if mark.is_some() {
        // Called first thing in main, before any thread exists.
        syscall::security::unset_env_single_threaded(MARK);
    }
    if switched_off() {
        return Ok(());
    }
    if current()? != Exe::Unprotected {
        if let Some(m) = mark {
            adopt_mount(&m);
        }
        return Ok(());
    }
    if mark.is_some() {
        bail!("outlet re-executed itself from a protected copy, but /proc/self/exe is not one");
    }
    let (copy, mount) = match overlay_copy() {
        Ok((file, mount)) => (file, Some(mount)),
        Err(overlay) => (
            sealed_copy().with_context(|| {
                format!("no read-only overlay of outlet's binary ({overlay:#})")
            })?,
            None,
        ),
    };
    // Closing the mount fd dissolves the detached mount's namespace, and
    // the kernel waits for an expedited RCU grace period before it returns
    // (0.1 ms on a quiet machine, milliseconds on a loaded one). The fd
    // crosses the re-exec instead, and outlet closes it while the child it
    // clones sets itself up, off the path the caller waits on (see
    // `release_mount`).
    let mark = match &mount {
        Some(m) => {
            fcntl(
                m.as_raw_fd(),
                FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            )
            .map_err(std::io::Error::from)
            .context("hand the overlay's mount fd to the re-executed outlet")?;
            format!("{MARK}=mnt:{}", m.as_raw_fd())
        }
        None => format!("{MARK}=1"),
    };
    match reexec(&copy, args, &mark)? {}
}

/// The re-executed outlet takes over the overlay's mount fd its first
/// image handed down: only an fd that is a read-only overlayfs, as the
/// mount is; anything else is left alone. Close-on-exec again, so that no
/// program outlet runs inherits it.
fn adopt_mount(mark: &OsStr) {
    let Some(fd) = mark
        .to_str()
        .and_then(|m| m.strip_prefix("mnt:"))
        .and_then(|n| n.parse::<RawFd>().ok())
        .filter(|&fd| fd > 2)
    else {
        return;
    };
    let fs = statfs(format!("/proc/self/fd/{fd}").as_str());
    let is_overlay = fs.is_ok_and(|fs| {
        fs.filesystem_type() == OVERLAYFS_SUPER_MAGIC
            && fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
    });
    if is_overlay && fcntl(fd, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC)).is_ok() {
        KEPT_MOUNT.store(fd, Ordering::Relaxed);
    }
}

/// The overlay's mount fd outlet holds until `release_mount`, if any: a
/// child it clones (the init, exec's helper) closes its inherited copy of
/// it first thing.
pub fn kept_mount() -> Option<RawFd> {
    let fd = KEPT_MOUNT.load(Ordering::Relaxed);
    (fd >= 0).then_some(fd)
}

/// Closes the overlay's mount fd handed across the re-exec (see `check`).
/// The last close of a mount still detached dissolves it and waits for an
/// RCU grace period. Exec's helper, and an init that will not pivot in a
/// mount namespace of its own, call this first thing: their copy is not
/// the last, so the close costs nothing, and neither the child nor the
/// program it becomes ever holds a host directory. outlet calls it once
/// the child has reported that far (create: `Unshared`; exec: the
/// process's pid), so its close overlaps the child's setup instead of
/// delaying it; and an init that pivots has by then not closed its copy,
/// which it attaches below the old root before closing it (see
/// `attach_mount_at`): no close dissolves anything then. At exit outlet
/// would close anyway.
pub fn release_mount() {
    let fd = KEPT_MOUNT.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        let _ = nix::unistd::close(fd);
    }
}

/// Attaches the overlay's mount, if this process still holds its fd, onto
/// the entry `name` of the directory `dir` (a final symlink not followed),
/// and closes the fd, whether the attach worked or not. For the init, in
/// its own mount namespace, below the old root that its pivot is about to
/// detach (see rootfs/pivot.rs): an attached mount is no longer the root
/// of an anonymous namespace, so no fd's close dissolves it, and the
/// detach takes it in the grace period it waits for anyway. Returns
/// whether it attached; on an error the close dissolves the mount as
/// `release_mount` would.
pub fn attach_mount_at(dir: impl std::os::fd::AsFd, name: &std::ffi::CStr) -> Result<bool> {
    let fd = KEPT_MOUNT.swap(-1, Ordering::Relaxed);
    if fd < 0 {
        return Ok(false);
    }
    let attached = syscall::mount::move_mount_raw_at(fd, dir, name);
    let _ = nix::unistd::close(fd);
    attached
        .map(|()| true)
        .with_context(|| format!("attach the binary's overlay onto {name:?}"))
}

/// An O_PATH fd on outlet's binary through a detached read-only overlayfs,
/// and the mount's fd (see `check` for why it is returned, not closed).
fn overlay_copy() -> Result<(OwnedFd, OwnedFd)> {
    let exe = std::fs::read_link("/proc/self/exe").context("readlink /proc/self/exe")?;
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        bail!("{}: no directory and name", exe.display());
    };
    // Before 6.5, fsconfig options are joined with commas for the legacy
    // parser; overlayfs itself splits layers on ':' (escaped with '\').
    let dir = dir.as_os_str().as_bytes();
    if dir.contains(&b',') || !exe.starts_with("/") {
        bail!("{}: not a path overlayfs can take", exe.display());
    }
    // Without an upper layer overlayfs wants two lower ones: the binary's
    // directory on top, and any directory that is neither its ancestor nor
    // its descendant below. Nothing but the binary is looked up in it.
    let filler: &[u8] = if dir.starts_with(b"/sys") {
        b"/dev"
    } else {
        b"/sys"
    };
    let mut lower = Vec::with_capacity(dir.len() + 8);
    for &b in dir {
        if b == b':' || b == b'\\' {
            lower.push(b'\\');
        }
        lower.push(b);
    }
    lower.push(b':');
    lower.extend_from_slice(filler);
    let ctx = syscall::fsopen("overlay").context("fsopen overlay")?;
    syscall::fsconfig_set_string(&ctx, "lowerdir", &lower)
        .with_context(|| format!("overlay lowerdir={}", String::from_utf8_lossy(&lower)))?;
    // xino would only add a kernel log line per mount when the layers are
    // on different filesystems; nothing here needs it.
    let _ = syscall::fsconfig_set_string(&ctx, "xino", b"off");
    syscall::fsconfig_create(&ctx)
        .with_context(|| format!("create the overlay of {}", String::from_utf8_lossy(&lower)))?;
    let mnt = syscall::fsmount(
        &ctx,
        syscall::MOUNT_ATTR_RDONLY | syscall::MOUNT_ATTR_NOSUID | syscall::MOUNT_ATTR_NODEV,
    )
    .context("fsmount the overlay")?;
    let file = syscall::openat2(
        mnt.as_raw_fd(),
        Path::new(name),
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    )
    .with_context(|| format!("open {} in the overlay", Path::new(name).display()))?;
    verify_overlay(&file, &exe)?;
    Ok((file, mnt))
}

/// The fd must be on a read-only overlayfs and be the running binary (a
/// file replaced in the directory since this process started would not
/// be): overlayfs keeps the lower file's inode number, size and mtime.
fn verify_overlay(file: &OwnedFd, exe: &Path) -> Result<()> {
    let fs = nix::sys::statfs::fstatfs(file).context("fstatfs the overlay copy")?;
    if fs.filesystem_type() != OVERLAYFS_SUPER_MAGIC
        || !fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
    {
        bail!(
            "the copy of {} is not on a read-only overlayfs",
            exe.display()
        );
    }
    let copy = nix::sys::stat::fstat(file.as_raw_fd()).context("fstat the overlay copy")?;
    let orig = std::fs::metadata("/proc/self/exe").context("stat /proc/self/exe")?;
    if copy.st_mode & libc::S_IFMT != libc::S_IFREG
        || copy.st_ino != orig.ino()
        || copy.st_size as u64 != orig.size()
        || copy.st_mtime != orig.mtime()
        || copy.st_mtime_nsec != orig.mtime_nsec()
    {
        bail!(
            "{} in the overlay is not the running binary (replaced since?)",
            exe.display()
        );
    }
    Ok(())
}

/// A memfd holding a copy of the running binary, sealed against writes.
fn sealed_copy() -> Result<OwnedFd> {
    let flags = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
    // MFD_EXEC (6.3) keeps the copy executable where vm.memfd_noexec
    // would make new memfds non-executable by default; older kernels
    // refuse the flag. nix 0.29 does not name it.
    let exec = MemFdCreateFlag::from_bits_retain(libc::MFD_EXEC);
    let fd = match memfd_create(c"outlet", flags | exec) {
        Err(Errno::EINVAL) => memfd_create(c"outlet", flags),
        other => other,
    };
    let fd = fd
        .map_err(std::io::Error::from)
        .context("memfd_create for a sealed copy")?;
    let mut copy = std::fs::File::from(fd);
    let mut exe = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let len = exe.metadata().context("stat /proc/self/exe")?.len();
    let copied = std::io::copy(&mut exe, &mut copy).context("copy outlet into the memfd")?;
    if copied != len {
        bail!("copied {copied} of {len} bytes of outlet into the memfd");
    }
    fcntl(copy.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS))
        .map_err(std::io::Error::from)
        .context("seal the memfd")?;
    Ok(copy.into())
}

/// Executes `copy` with this process's own command line (`args`, as main
/// received it) and environment (plus `mark`, `MARK=...`); returns only
/// on failure.
fn reexec(copy: &OwnedFd, args: &[OsString], mark: &str) -> Result<std::convert::Infallible> {
    let args: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_bytes()).context("argument has NUL"))
        .collect::<Result<_>>()?;
    let mark = CString::new(mark).expect("no NUL");
    let err = syscall::security::execveat_self_env(copy, &args, &mark);
    Err(err).context("exec the protected copy of outlet")
}

/// Commands that make processes inside a container, and so must run from
/// a protected copy.
pub fn needed_for(subcommand: &OsStr) -> bool {
    matches!(subcommand.as_bytes(), b"create" | b"run" | b"exec")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An fd's file reopened for writing through /proc/self/fd, as the
    /// attacker does with the O_PATH fd it holds.
    fn reopen_for_write(fd: &OwnedFd) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    #[test]
    #[cfg_attr(not(outlet_root), ignore = "mounting overlayfs needs root")]
    fn overlay_copy_is_the_binary_and_refuses_writes() {
        let (copy, _mount) = overlay_copy().expect("overlay copy of the test binary");
        let e = reopen_for_write(&copy).expect_err("write-open of the overlay copy");
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        // Control: the same kind of reopen of a plain file does open.
        let dir = crate::security::testutil::TempDir::new("protected-exe");
        let plain = dir.0.join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let fd: OwnedFd = std::fs::File::open(&plain).unwrap().into();
        reopen_for_write(&fd).expect("write-open of a plain file");
    }

    /// The control for `current`'s seal check: a memfd that could be
    /// sealed but is not, one sealed only partly, and a plain file.
    #[test]
    fn unsealed_or_partly_sealed_files_are_not_taken_for_the_copy() {
        let flags = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
        let open = memfd_create(c"outlet-test", flags).unwrap();
        assert!(!fully_sealed(&open));
        fcntl(
            open.as_raw_fd(),
            FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_WRITE),
        )
        .unwrap();
        assert!(!fully_sealed(&open), "F_SEAL_WRITE alone");
        fcntl(open.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS)).unwrap();
        assert!(fully_sealed(&open), "all four");
        let plain = std::fs::File::open("/proc/self/exe").unwrap();
        assert!(!fully_sealed(&plain));
    }

    #[test]
    fn sealed_copy_is_the_binary_and_refuses_writes() {
        let copy = sealed_copy().expect("sealed copy of the test binary");
        assert!(fully_sealed(&copy), "what `current` checks");
        let orig = std::fs::read("/proc/self/exe").unwrap();
        let mut f = std::fs::File::from(copy.try_clone().unwrap());
        std::io::Seek::rewind(&mut f).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
        assert!(bytes == orig, "the memfd does not hold the binary");
        // A write-open of a memfd may succeed; the seal refuses the write.
        let mut w = reopen_for_write(&copy).expect("write-open of the memfd");
        let e = std::io::Write::write_all(&mut w, b"HUNTER").expect_err("write to the memfd");
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    }

    #[test]
    fn the_test_binary_is_unprotected() {
        // The kernel's answer for a binary run from disk, the case ensure()
        // must re-execute.
        assert_eq!(current().unwrap(), Exe::Unprotected);
    }
}

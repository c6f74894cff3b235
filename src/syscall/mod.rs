//! Thin wrappers over the syscalls that nix does not cover (clone3, pidfd,
//! close_range, openat2). Each keeps its unsafe block next to the call.

pub mod abort;
pub mod arena;
pub mod cgroup;
pub mod creds;
pub mod criu;
pub mod fdpass;
pub mod hook_exec;
pub mod netlink;
pub mod process;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{Context, Result};

pub mod fs;
pub mod ioctl;
pub mod mount;
pub mod security;
pub mod start;
#[cfg(test)]
pub mod testing;

/// The kernel's `struct clone_args` (v2, with cgroup).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What `clone_process` returns on each side.
pub enum Forked {
    Parent(i32),
    Child,
}

/// Fork-like clone into new namespaces, optionally straight into a cgroup v2
/// directory. Falls back to clone(2) when clone3 is unavailable (then the
/// caller must add the child to its cgroup itself).
///
/// Only sound to call while the process is single-threaded: the child starts
/// with a copy of the address space and runs ordinary Rust code, which is
/// exactly fork's contract.
pub fn clone_process(ns_flags: u64, cgroup_fd: Option<RawFd>) -> io::Result<(Forked, bool)> {
    // A CLONE_PARENT child signals our parent as we would; clone3 insists
    // that exit_signal is then zero.
    let exit_signal = if ns_flags & libc::CLONE_PARENT as u64 != 0 {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let mut args = CloneArgs {
        flags: ns_flags,
        exit_signal,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        // CLONE_INTO_CGROUP (1 << 33): libc's constant is a c_int and overflows.
        args.flags |= 0x2_0000_0000u64;
        args.cgroup = fd as u64;
    }
    // SAFETY: args is a valid, fully initialised clone_args of the size we
    // pass; without CLONE_VM the child gets its own copy of memory and stack.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret >= 0 {
        let forked = if ret == 0 {
            abort::mark_raw_child();
            Forked::Child
        } else {
            Forked::Parent(ret as i32)
        };
        return Ok((forked, cgroup_fd.is_some()));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(err);
    }
    // SAFETY: legacy clone with a NULL stack behaves like fork (the child
    // continues on a copy of the parent's stack).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            ns_flags | libc::SIGCHLD as u64,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match ret {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => {
            abort::mark_raw_child();
            Ok((Forked::Child, false))
        }
        pid => Ok((Forked::Parent(pid as i32), false)),
    }
}

pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success the return value is a new fd we own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

pub fn pidfd_send_signal(pidfd: &OwnedFd, signal: i32) -> io::Result<()> {
    // SAFETY: the fd is valid for the borrow; NULL siginfo means "like kill".
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Mark every fd from `first` on close-on-exec, so nothing of the runtime's
/// reaches the container's program (CVE-2024-21626 class) while the fds stay
/// usable until execve.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: close_range only changes fd flags in our own table.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(2): resolve `path` below `dirfd` with the given RESOLVE_* flags.
pub fn openat2(dirfd: RawFd, path: &Path, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: c and how outlive the call; size matches the struct we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// A new procfs instance, detached (mounted nowhere): fsopen("proc"),
/// FSCONFIG_CMD_CREATE, fsmount. It shows the caller's active pid
/// namespace and nothing that anyone mounted over any /proc path.
pub fn fsmount_proc() -> io::Result<OwnedFd> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    // SAFETY: a NUL-terminated name and integer flags; a new fd on success.
    let fsfd = unsafe { libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), FSOPEN_CLOEXEC) };
    if fsfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel that nothing else owns.
    let fsfd = unsafe { OwnedFd::from_raw_fd(fsfd as RawFd) };
    // SAFETY: FSCONFIG_CMD_CREATE takes no key, value or aux argument.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: integer arguments on our own fs context fd; a new fd on success.
    let mfd = unsafe { libc::syscall(libc::SYS_fsmount, fsfd.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    if mfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(mfd as RawFd) })
}

/// Close every fd from `first` on except those in `keep`: one close_range
/// per gap between kept fds.
pub fn close_from_except(first: u32, keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&fd| fd >= 0 && fd as u32 >= first)
        .map(|&fd| fd as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut lo = first;
    for hi in keep.into_iter().map(Some).chain(std::iter::once(None)) {
        let end = match hi {
            Some(k) if k == lo => {
                lo = k + 1;
                continue;
            }
            Some(k) => k - 1,
            None => u32::MAX,
        };
        // SAFETY: close_range only closes fds of our own table; none of
        // them is owned by a live Rust object that is used afterwards
        // (the caller passes every fd it still needs in `keep`).
        let ret = unsafe { libc::syscall(libc::SYS_close_range, lo, end, 0) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(k) = hi {
            lo = k + 1;
        }
    }
    Ok(())
}

/// A pid file (create's, exec's, restore's), whole or not at all, and
/// nothing else left in its directory, which is the caller's, when the
/// command is killed while writing it: an unnamed inode (O_TMPFILE)
/// linked in by name once written, where a temporary name would stay
/// behind. A pid file from before is unlinked first (linkat never
/// replaces): killed in between, the command leaves no pid file, which
/// says what a stale one would not. Where the file system has no
/// O_TMPFILE, `write_atomic` renames a temporary over it instead.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    StagedPidFile::new(path, pid).commit()
}

/// `write_pid_file` in two steps: the unnamed inode made and written
/// first (create does it while the init sets up: on ext4 a new inode
/// costs a scan of recently freed ones), linked in by name later. Dropped
/// before `commit`, it leaves nothing.
pub struct StagedPidFile<'a> {
    path: &'a Path,
    data: String,
    unnamed: nix::Result<std::fs::File>,
}

impl<'a> StagedPidFile<'a> {
    pub fn new(path: &'a Path, pid: i32) -> StagedPidFile<'a> {
        let data = pid.to_string();
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let unnamed = unnamed_file(None, dir, data.as_bytes(), 0o666);
        StagedPidFile {
            path,
            data,
            unnamed,
        }
    }

    pub fn commit(self) -> Result<()> {
        if let Ok(f) = &self.unnamed {
            let linked = match link_file(f, None, self.path) {
                Err(nix::errno::Errno::EEXIST) => {
                    nix::unistd::unlink(self.path).and_then(|()| link_file(f, None, self.path))
                }
                r => r,
            };
            if linked.is_ok() {
                return Ok(());
            }
        }
        write_atomic(self.path, self.data.as_bytes())
    }
}

/// `data` into an unnamed inode (O_TMPFILE) of directory `dir`, linked in
/// as `name` once whole (both relative to `dirfd`, the cwd when None): a
/// process killed while writing leaves nothing, where a temporary name
/// would stay behind. `name` must not exist (linkat never replaces).
pub fn link_unnamed(
    dirfd: Option<RawFd>,
    dir: &Path,
    name: &Path,
    data: &[u8],
    mode: u32,
) -> nix::Result<()> {
    link_file(&unnamed_file(dirfd, dir, data, mode)?, dirfd, name)
}

fn unnamed_file(
    dirfd: Option<RawFd>,
    dir: &Path,
    data: &[u8],
    mode: u32,
) -> nix::Result<std::fs::File> {
    use nix::fcntl::OFlag;
    let fd = fs::openat(
        dirfd.unwrap_or(libc::AT_FDCWD),
        dir,
        OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(mode),
    )?;
    let mut f = std::fs::File::from(fd);
    std::io::Write::write_all(&mut f, data)
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(f)
}

/// The inode is linked by its /proc/self/fd path: AT_EMPTY_PATH would
/// need CAP_DAC_READ_SEARCH.
fn link_file(f: &std::fs::File, dirfd: Option<RawFd>, name: &Path) -> nix::Result<()> {
    let inode = format!("/proc/self/fd/{}", f.as_raw_fd());
    nix::unistd::linkat(
        None,
        Path::new(&inode),
        dirfd,
        name,
        nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
    )
}

/// Write `data` to `path` through a temporary file and rename, so readers
/// (the shim reads the pid file right after create) never see half of it.
/// The directory may be the caller's (a checkpoint's image directory, a
/// pid file's): whatever sits at the temporary name (a planted symlink, a
/// fifo, a crashed run's leftover) is never opened, only unlinked once.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = match create_new(&tmp) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // unlink removes a symlink itself, never its target.
            std::fs::remove_file(&tmp)
                .and_then(|()| create_new(&tmp))
                .with_context(|| format!("create {} (something was there)", tmp.display()))?
        }
        r => r.with_context(|| format!("create {}", tmp.display()))?,
    };
    io::Write::write_all(&mut f, data).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("write {}", tmp.display())
    })?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("rename {} to {}", tmp.display(), path.display())
    })
}

/// A file made here and now: O_EXCL fails on anything already at the
/// name, a symlink included (dangling or not), so nothing is followed or
/// reused. Debug builds' `OUTLET_TMP_FOLLOW=1` (a test's control) opens
/// as `std::fs::write` did, through whatever is there.
fn create_new(p: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if cfg!(debug_assertions) && std::env::var_os("OUTLET_TMP_FOLLOW").is_some_and(|v| v == "1") {
        return o.create(true).truncate(true).open(p);
    }
    o.create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(p)
}

// The new mount API (Linux 5.2): a filesystem instance configured through
// an fd and mounted detached, never attached to any mount table.
const FSOPEN_CLOEXEC: u32 = 0x1;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const FSMOUNT_CLOEXEC: u32 = 0x1;
pub const MOUNT_ATTR_RDONLY: u32 = 0x1;
pub const MOUNT_ATTR_NOSUID: u32 = 0x2;
pub const MOUNT_ATTR_NODEV: u32 = 0x4;

fn fresh_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of an fd-making syscall is a new fd
    // that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// fsopen(2): a configuration context for a new instance of `fs_name`.
pub fn fsopen(fs_name: &str) -> io::Result<OwnedFd> {
    let name = CString::new(fs_name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: name outlives the call.
    fresh_fd(unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) })
}

/// fsconfig(FSCONFIG_SET_STRING): one `key=value` option of the context.
pub fn fsconfig_set_string(ctx: &OwnedFd, key: &str, value: &[u8]) -> io::Result<()> {
    let bad = |_| io::Error::from_raw_os_error(libc::EINVAL);
    let (k, v) = (
        CString::new(key).map_err(bad)?,
        CString::new(value).map_err(bad)?,
    );
    // SAFETY: both strings outlive the call; aux is unused for strings.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_SET_STRING,
            k.as_ptr(),
            v.as_ptr(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fsconfig(FSCONFIG_CMD_CREATE): make the superblock from the options.
pub fn fsconfig_create(ctx: &OwnedFd) -> io::Result<()> {
    // SAFETY: no pointers are passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fsmount(2): a detached mount of the created superblock, with the given
/// MOUNT_ATTR_* flags; the fd is its root.
pub fn fsmount(ctx: &OwnedFd, attrs: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain integers.
    fresh_fd(unsafe { libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
}

/// Leave the process at once: a cloned child (the init, exec's helper)
/// must not run the atexit handlers or flush the stdio buffers of the
/// outlet process it is a copy of.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions; it does not return.
    unsafe { libc::_exit(code) }
}

/// personality(2): the calling process's execution domain.
pub fn set_personality(persona: u64) -> io::Result<()> {
    // SAFETY: an integer argument; changes only the calling process.
    if unsafe { libc::personality(persona as libc::c_ulong) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// set_mempolicy(2) for the calling task; an empty mask means no nodes.
pub fn set_mempolicy(mode: i32, mask: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if mask.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits (a historical off-by-one that
        // its ABI keeps).
        (mask.as_ptr(), mask.len() * 64 + 1)
    };
    // SAFETY: the pointer covers `maxnode - 1` bits of the live slice (or
    // is NULL with maxnode 0); set_mempolicy only reads it.
    if unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr(attr: &crate::spec::process_fields::SchedAttr) -> io::Result<()> {
    // SAFETY: the kernel reads `attr.size` bytes of a live #[repr(C)]
    // struct sched_attr; pid 0 is the caller.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0,
            attr as *const crate::spec::process_fields::SchedAttr,
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// ioprio_set(2) for the calling process (IOPRIO_WHO_PROCESS, who 0).
pub fn ioprio_set_self(value: i32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: integer arguments only.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether seccomp(2) takes these filter flags: it checks the flags before
/// it reads the program, so a NULL program fails with EFAULT for known
/// flags and EINVAL for unknown ones; nothing is installed.
pub fn seccomp_takes_flags(flags: u32) -> bool {
    const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
    // SAFETY: the NULL program is never dereferenced by us; the kernel's
    // copy_from_user fails on it (EFAULT) before any filter exists.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            std::ptr::null::<libc::c_void>(),
        )
    };
    r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// PR_CAPBSET_READ: whether capability `nr` is in the calling thread's
/// bounding set; EINVAL past the last capability the kernel knows.
pub fn capbset_read(nr: u32) -> io::Result<bool> {
    // SAFETY: integer arguments only; reads a flag of the calling thread.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, nr as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r == 1)
}

/// PR_CAPBSET_DROP of capability `nr` from the calling thread.
pub fn capbset_drop(nr: u32) -> io::Result<()> {
    // SAFETY: integer arguments only; changes the calling thread's set.
    if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, nr as libc::c_ulong, 0, 0, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// PR_CAP_AMBIENT with `op` (PR_CAP_AMBIENT_RAISE, _CLEAR_ALL, ...).
pub fn cap_ambient(op: libc::c_int, nr: u32) -> io::Result<()> {
    // SAFETY: integer arguments only; changes the calling thread's set.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            op as libc::c_ulong,
            nr as libc::c_ulong,
            0,
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct __user_cap_header_struct` of <linux/capability.h>.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`; version 3 takes two of them (low and
/// high 32 bits of each set).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// capget(2) of the calling thread: (effective, permitted, inheritable).
pub fn capget_self() -> io::Result<(u64, u64, u64)> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData (version 3) into `data`, which is
    // exactly that size, and reads `hdr`.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| (lo as u64) | ((hi as u64) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    ))
}

/// capset(2) of the calling thread: all three sets in one call, so the
/// kernel never sees an intermediate state it could refuse.
pub fn capset_self(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |m: u64, hi: bool| if hi { (m >> 32) as u32 } else { m as u32 };
    let data = [false, true].map(|hi| CapData {
        effective: half(effective, hi),
        permitted: half(permitted, hi),
        inheritable: half(inheritable, hi),
    });
    // SAFETY: capset reads the header and two CapData (version 3), both
    // live for the duration of the call.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod pid_file_tests {
    use crate::security::testutil::TempDir;

    /// Written new, then over the old one, and never anything beside it.
    #[test]
    fn a_pid_file_is_written_and_replaced_with_nothing_beside_it() {
        let d = TempDir::new("pidfile");
        let p = d.0.join("init.pid");
        super::write_pid_file(&p, 42).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "42");
        super::write_pid_file(&p, 7).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "7");
        let names: Vec<_> = std::fs::read_dir(&d.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["init.pid"]);
    }
}

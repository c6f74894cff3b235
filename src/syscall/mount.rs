//! The raw calls of `rootfs/`: the parts of the new mount API that take an
//! fd and an empty path (open_tree, move_mount, mount_setattr), fsopen by
//! a literal name, fsconfig's flag command, fspick and reconfigure, and the helper process that makes an idmapped mount's
//! user namespace. Each unsafe block sits next to its call.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::unistd::{ForkResult, Pid};

const FSOPEN_CLOEXEC: libc::c_uint = 1;

/// `struct mount_attr` (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

fn fd_result(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of an fd-making syscall is a new fd
    // that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

fn unit_result(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// open_tree(fd, "", flags): `flags` should hold AT_EMPTY_PATH.
pub fn open_tree(fd: impl AsFd, flags: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: a valid fd and a NUL-terminated empty path; returns a new fd.
    fd_result(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    })
}

/// move_mount(from, "", to, "", flags): `flags` should hold the
/// F_EMPTY_PATH and T_EMPTY_PATH bits.
pub fn move_mount(from: impl AsFd, to: impl AsFd, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: two valid fds and NUL-terminated empty paths.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_fd().as_raw_fd(),
            c"".as_ptr(),
            to.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    })
}

/// open_tree(AT_FDCWD, path, flags): a clone of the mount at a path of
/// outlet's own (the container's cgroup directory on the host), looked up
/// as mount(2)'s bind source was.
pub fn open_tree_path(path: &CStr, flags: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path that outlives the call; returns a new fd.
    fd_result(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) })
}

/// move_mount(from, "", dir, name, MOVE_MOUNT_F_EMPTY_PATH): attach onto
/// the entry `name` of the directory `dir`, a final symlink not followed
/// (no MOVE_MOUNT_T_SYMLINKS). For a directory no one else can reach yet.
pub fn move_mount_at(from: impl AsFd, dir: impl AsFd, name: &CStr) -> io::Result<()> {
    move_mount_raw_at(from.as_fd().as_raw_fd(), dir, name)
}

/// `move_mount_at` from a mount fd held by number (the protected binary's
/// overlay, handed across the re-exec): a number that is no mount fd is
/// the kernel's EBADF or EINVAL, nothing worse.
pub fn move_mount_raw_at(from: RawFd, dir: impl AsFd, name: &CStr) -> io::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
    // SAFETY: plain integers for the fds, an empty and a NUL-terminated
    // path that outlive the call; the kernel checks the fds.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            dir.as_fd().as_raw_fd(),
            name.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
}

/// mount_setattr(fd, "", flags, attr): `flags` should hold AT_EMPTY_PATH.
pub fn mount_setattr(fd: impl AsFd, flags: libc::c_uint, attr: &MountAttr) -> io::Result<()> {
    // SAFETY: a valid fd, an empty path and a mount_attr of the size passed,
    // all alive for the call; the kernel only reads the struct.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
}

/// The id of the mount `fd` is on: statx(fd, "", AT_EMPTY_PATH,
/// STATX_MNT_ID), the number /proc/self/fdinfo's `mnt_id` shows, in one
/// call and without a procfs.
pub fn mount_id(fd: impl AsFd) -> io::Result<u64> {
    mount_id_and_mode(fd).map(|(id, _)| id)
}

/// `mount_id` and the file's mode (type and permission bits) from the
/// same statx call.
pub fn mount_id_and_mode(fd: impl AsFd) -> io::Result<(u64, u32)> {
    // <linux/stat.h>; the libc crate has the struct but not this bit.
    const STATX_MNT_ID: libc::c_uint = 0x1000;
    // SAFETY: statx is plain data, for which all zeroes is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd, an empty NUL-terminated path and a statx buffer
    // the kernel fills, all alive for the call.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_statx,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
            STATX_MNT_ID | libc::STATX_MODE,
            &mut stx as *mut libc::statx,
        )
    })?;
    if stx.stx_mask & STATX_MNT_ID == 0 {
        // Kernels before 5.8 do not fill it.
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    Ok((stx.stx_mnt_id, u32::from(stx.stx_mode)))
}

/// fsopen(2) of a filesystem named by a literal: no copy of the name.
pub fn fsopen_cstr(fs_name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated filesystem name; returns a new fd.
    fd_result(unsafe { libc::syscall(libc::SYS_fsopen, fs_name.as_ptr(), FSOPEN_CLOEXEC) })
}

/// fsconfig(FSCONFIG_SET_FLAG): a parameter without a value (`ro`,
/// `newinstance`, ...).
pub fn fsconfig_set_flag(ctx: impl AsFd, key: &CStr) -> io::Result<()> {
    const FSCONFIG_SET_FLAG: libc::c_uint = 0;
    // SAFETY: a valid fd and a NUL-terminated key that outlives the call;
    // value and aux must be NULL and 0 for this command.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_fd().as_raw_fd(),
            FSCONFIG_SET_FLAG,
            key.as_ptr(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })
}

/// fspick(fd, "", FSPICK_CLOEXEC | FSPICK_EMPTY_PATH | FSPICK_NO_AUTOMOUNT):
/// a configuration context for the filesystem of the mount `fd` is the
/// root of (the kernel refuses any other object with EINVAL).
pub fn fspick(fd: impl AsFd) -> io::Result<OwnedFd> {
    const FLAGS: libc::c_uint = 0x1 | 0x4 | 0x8;
    // SAFETY: a valid fd and a NUL-terminated empty path; returns a new fd.
    fd_result(unsafe {
        libc::syscall(
            libc::SYS_fspick,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            FLAGS,
        )
    })
}

/// fsconfig(FSCONFIG_CMD_RECONFIGURE): apply the parameters set on a
/// context from `fspick` to its filesystem.
pub fn fsconfig_reconfigure(ctx: impl AsFd) -> io::Result<()> {
    const FSCONFIG_CMD_RECONFIGURE: libc::c_uint = 7;
    // SAFETY: a valid fd; key, value and aux must be NULL, NULL and 0.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_fd().as_raw_fd(),
            FSCONFIG_CMD_RECONFIGURE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })
}

/// The child that holds a new user namespace for `rootfs::idmap`, seen
/// from the parent: its pid, the pipe it tells its pid on (as this
/// process's /proc names it; EOF without digits if it failed), and the
/// pipe it waits on (closing `hold` lets it exit).
pub struct UsernsHolder {
    pub pid: Pid,
    pub tell: OwnedFd,
    pub hold: OwnedFd,
}

/// Fork a child that reads its pid from /proc/self, unshares a user
/// namespace, writes the pid to `tell` and waits for `hold` to close.
///
/// Sound only while the process is single-threaded (the init is, when it
/// makes idmapped mounts): the child then runs on a private copy of memory
/// in which no lock can be held by a thread that no longer exists. It makes
/// only raw syscalls on its own stack buffer and fds, then _exit.
pub fn fork_userns_holder() -> io::Result<UsernsHolder> {
    let (tell_r, tell_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (hold_r, hold_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: see above.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            // The parent's ends: with `hold`'s write end open here, the
            // read below would never see EOF.
            drop(tell_r);
            drop(hold_w);
            let mut buf = [0u8; 32];
            // SAFETY: a NUL-terminated path and a buffer of the size given.
            let n = unsafe {
                libc::readlink(c"/proc/self".as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            };
            // SAFETY: raw syscalls on our own fds and buffer; _exit never
            // returns, so no Rust state of the parent's copy is touched.
            unsafe {
                if n <= 0 || libc::unshare(libc::CLONE_NEWUSER) != 0 {
                    libc::_exit(1);
                }
                libc::write(tell_w.as_raw_fd(), buf.as_ptr().cast(), n as usize);
                libc::close(tell_w.as_raw_fd());
                let mut b = 0u8;
                libc::read(hold_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        ForkResult::Parent { child } => Ok(UsernsHolder {
            pid: child,
            tell: tell_r,
            hold: hold_w,
        }),
    }
}

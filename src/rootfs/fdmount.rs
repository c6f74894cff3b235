//! Mounts made from one file descriptor onto another with the new mount
//! API (open_tree, move_mount, fsopen/fsmount, mount_setattr). The source
//! and the target are the objects the caller opened and verified; no path
//! is looked up again, not even through `/proc/self/fd/N`, whose procfs the
//! container's spec may have replaced after pivot_root.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

// Values from <linux/mount.h>; the libc crate does not carry them.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// `struct mount_attr` (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const EMPTY: &CStr = c"";

fn fd_result(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

fn unit_result(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A detached bind mount of what `fd` refers to (with its submounts when
/// `recursive`). The object must be reachable in our mount namespace.
pub fn clone_tree(fd: impl AsFd, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as libc::c_uint | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: a valid fd and a NUL-terminated empty path; returns a new fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            fd.as_fd().as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
        )
    };
    fd_result(ret)
}

/// Attach the mount `tree` (from `clone_tree` or `fsmount`) on top of the
/// object `target` refers to.
pub fn attach(tree: impl AsFd, target: impl AsFd) -> io::Result<()> {
    // SAFETY: two valid fds and NUL-terminated empty paths.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_fd().as_raw_fd(),
            EMPTY.as_ptr(),
            target.as_fd().as_raw_fd(),
            EMPTY.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    unit_result(ret)
}

/// Set mount attributes (MOUNT_ATTR_*) on the mount `tree` refers to, and
/// on every mount below it when `recursive`.
pub fn set_attr(tree: impl AsFd, set: u64, recursive: bool) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: a valid fd, an empty path and a mount_attr of the size passed,
    // all alive for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_fd().as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    unit_result(ret)
}

/// A new, empty, detached tmpfs mount with the given MOUNT_ATTR_* flags.
pub fn tmpfs(attrs: u64) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated filesystem name; returns a new fd.
    let fs =
        fd_result(unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: a valid fs context fd; no key or value for CMD_CREATE.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    unit_result(ret)?;
    // SAFETY: a valid, created fs context fd; returns a new mount fd.
    fd_result(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
}

/// One detached mount put at several places: the first attach uses it as
/// is, later ones attach clones taken from where it is then attached (a
/// detached mount cannot be cloned on every kernel). Two syscalls per
/// place instead of making a new mount each time.
pub struct Stamp {
    tree: OwnedFd,
    attached: bool,
}

impl Stamp {
    pub fn new(tree: OwnedFd) -> Stamp {
        Stamp {
            tree,
            attached: false,
        }
    }

    pub fn attach_to(&mut self, target: impl AsFd) -> io::Result<()> {
        if self.attached {
            let tree = clone_tree(&self.tree, false)?;
            return attach(&tree, target);
        }
        attach(&self.tree, target)?;
        self.attached = true;
        Ok(())
    }
}

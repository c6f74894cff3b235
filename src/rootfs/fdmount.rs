//! Mounts made from one file descriptor onto another with the new mount
//! API (open_tree, move_mount, fsopen/fsmount, mount_setattr). The source
//! and the target are the objects the caller opened and verified; no path
//! is looked up again, not even through `/proc/self/fd/N`, whose procfs the
//! container's spec may have replaced after pivot_root.

use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};

// Values from <linux/mount.h>; the libc crate does not carry them.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
pub use crate::spec::mount_options::{
    MOUNT_ATTR_IDMAP, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME,
    MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY,
    MOUNT_ATTR_STRICTATIME,
};

use crate::syscall;
use crate::syscall::mount::MountAttr;

/// A detached bind mount of what `fd` refers to (with its submounts when
/// `recursive`). The object must be reachable in our mount namespace.
pub fn clone_tree(fd: impl AsFd, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as libc::c_uint | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    syscall::mount::open_tree(fd, flags)
}

/// Makes a detached clone of a host inode's mount read-only, nosuid and
/// noexec before it is attached anywhere: the container may use the
/// inode (a device node still opens for reading and writing on a
/// read-only mount) but not change it (chmod, chown, times, xattrs).
/// `writable` (a test's control) leaves the clone as it is.
pub fn seal_host_clone(tree: impl AsFd, writable: bool) -> io::Result<()> {
    if writable {
        return Ok(());
    }
    set_attr(
        tree,
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
        false,
    )
}

/// A detached, non-recursive clone of the mount at `path`, a host path of
/// outlet's own (looked up in the init's copy of the host's mounts).
pub fn clone_path(path: &std::path::Path) -> io::Result<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    syscall::mount::open_tree_path(&c, OPEN_TREE_CLONE | libc::O_CLOEXEC as u32)
}

/// Attach the mount `tree` (from `clone_tree` or `fsmount`) on top of the
/// object `target` refers to.
pub fn attach(tree: impl AsFd, target: impl AsFd) -> io::Result<()> {
    syscall::mount::move_mount(
        tree,
        target,
        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// Set mount attributes (MOUNT_ATTR_*) on the mount `tree` refers to, and
/// on every mount below it when `recursive`.
pub fn set_attr(tree: impl AsFd, set: u64, recursive: bool) -> io::Result<()> {
    change_attr(
        tree,
        &Change {
            set,
            ..Change::default()
        },
        recursive,
    )
}

/// One mount_setattr call: `propagation` is one of MS_PRIVATE, MS_SHARED,
/// MS_SLAVE, MS_UNBINDABLE (0: unchanged); `userns` goes with
/// MOUNT_ATTR_IDMAP.
#[derive(Default)]
pub struct Change {
    pub set: u64,
    pub clr: u64,
    pub propagation: u64,
    pub userns: Option<RawFd>,
}

pub fn change_attr(tree: impl AsFd, c: &Change, recursive: bool) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: c.set,
        attr_clr: c.clr,
        propagation: c.propagation,
        userns_fd: c.userns.map_or(0, |fd| fd as u64),
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    syscall::mount::mount_setattr(tree, flags, &attr)
}

/// A new, empty, detached tmpfs mount with the given MOUNT_ATTR_* flags.
pub fn tmpfs(attrs: u64) -> io::Result<OwnedFd> {
    let fs = syscall::mount::fsopen_cstr(c"tmpfs")?;
    syscall::fsconfig_create(&fs)?;
    // fsmount takes the attributes as an unsigned int.
    syscall::fsmount(&fs, attrs as u32)
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

/// A new filesystem as a detached mount: fsopen, its parameters (a
/// `(key, None)` is a flag: `ro`, `sync`, `newinstance`, ...), the
/// superblock, then fsmount with the MOUNT_ATTR_* `attrs`. The caller
/// holds the mount itself, so what it fills, changes, attaches and counts
/// as its own (its mount id) is this mount, whatever a path in the rootfs
/// leads to by then.
pub fn new_filesystem(
    typ: &str,
    source: Option<&str>,
    params: &[(&str, Option<&str>)],
    attrs: u64,
) -> anyhow::Result<OwnedFd> {
    use anyhow::Context;
    let fs = syscall::fsopen(typ).with_context(|| format!("fsopen {typ}"))?;
    let log = |e: io::Error| anyhow::anyhow!("{e}{}", kernel_log(&fs));
    if let Some(s) = source {
        syscall::fsconfig_set_string(&fs, "source", s.as_bytes())
            .map_err(log)
            .with_context(|| format!("source {s:?}"))?;
    }
    set_params(&fs, params)?;
    syscall::fsconfig_create(&fs)
        .map_err(log)
        .with_context(|| format!("make the {typ} filesystem"))?;
    // fsmount takes the attributes as an unsigned int.
    syscall::fsmount(&fs, attrs as u32)
        .map_err(log)
        .context("fsmount")
}

/// Change the filesystem of the mount `tree` (which must be its root), as
/// a remount does: fspick, the parameters (as for `new_filesystem`), then
/// reconfigure. Only the parameters given change.
pub fn reconfigure(tree: impl AsFd, params: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
    use anyhow::Context;
    let fs = syscall::mount::fspick(tree).context("fspick")?;
    set_params(&fs, params)?;
    syscall::mount::fsconfig_reconfigure(&fs)
        .map_err(|e| anyhow::anyhow!("{e}{}", kernel_log(&fs)))
        .context("reconfigure the filesystem")
}

/// fsconfig each `(key, Some(value))` as a string and each `(key, None)`
/// as a flag, naming the parameter and the filesystem's own message on a
/// refusal.
fn set_params(fs: &OwnedFd, params: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
    use anyhow::Context;
    for (key, value) in params {
        match value {
            Some(v) => syscall::fsconfig_set_string(fs, key, v.as_bytes()),
            None => std::ffi::CString::new(*key)
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
                .and_then(|k| syscall::mount::fsconfig_set_flag(fs, &k)),
        }
        .map_err(|e| anyhow::anyhow!("{e}{}", kernel_log(fs)))
        .with_context(|| match value {
            Some(v) => format!("option {key}={v}"),
            None => format!("option {key}"),
        })?;
    }
    Ok(())
}

/// What the filesystem said about a refused parameter (the fs context's
/// message log: "e tmpfs: Bad value for 'size'"), or nothing. Read only on
/// the way to an error.
fn kernel_log(fs: &OwnedFd) -> String {
    let mut buf = [0u8; 256];
    match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(fs), &mut buf) {
        Ok(n) if n > 0 => format!(" ({})", String::from_utf8_lossy(&buf[..n]).trim_end()),
        _ => String::new(),
    }
}

//! The /dev tmpfs outlet has just made, held by its mount fd so that the
//! spec's /dev/pts, /dev/shm and /dev/mqueue are made in it from that fd:
//! two syscalls each (mkdirat, openat2 of the one name) where the walk
//! from the root takes six. Sound only while /dev still resolves to that
//! tmpfs's root: the fd is dropped as soon as an entry could have changed
//! that.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::sys::stat::Mode;
use oci_spec::runtime::Mount;

use super::mounts::Options;

use crate::syscall::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2};
use libc::RESOLVE_NO_SYMLINKS;

/// Set only between the /dev tmpfs's mount and the first entry after it
/// that is not one name below /dev.
#[derive(Default)]
pub struct FreshDev {
    fd: Option<OwnedFd>,
}

impl FreshDev {
    /// The tmpfs and the name in it when `m` (a new filesystem) may be
    /// mounted from the fd: its destination is `/dev/NAME`, one component.
    pub fn child(&self, m: &Mount, opts: &Options) -> Option<(&OwnedFd, CString)> {
        let fd = self.fd.as_ref()?;
        if !super::mounts::is_new_filesystem(m, opts) {
            return None;
        }
        Some((fd, dev_child(m.destination())?))
    }

    /// After the entry `m` was mounted; `dev_tmpfs`: the mount it made
    /// when it is a tmpfs at /dev made by fd, which /dev resolves to now.
    /// An entry one name below /dev keeps the fd: what it mounts is on a
    /// name of the tmpfs (a fresh directory, or a mount there of an
    /// earlier entry), never on its root or above it. Any other entry may
    /// cover /dev, its root or a parent, also through a symlink of the
    /// image (`/x -> /dev` with a tmpfs at /x): the fd is dropped and
    /// later entries walk from the root again.
    pub fn after(&mut self, m: &Mount, dev_tmpfs: Option<OwnedFd>) {
        if dev_tmpfs.is_some() {
            self.fd = dev_tmpfs;
        } else if dev_child(m.destination()).is_none() && !blind_switch() {
            self.fd = None;
        }
    }
}

/// Whether a /dev tmpfs with `opts` starts empty: not filled by tmpcopyup from
/// the image's /dev, which may hold symlinks (`x -> /`, `x -> .`). In an
/// empty one every name is what an entry made (a directory or a file), so
/// a walk of `/dev/NAME` from the root ends on that name too and never on
/// the tmpfs's root or above it; with a link copied in, an entry at
/// /dev/x walked from the root (a bind, or the fallback of `open_child`)
/// could cover /dev itself. A filled /dev gets no shortcut.
pub fn is_empty(opts: &Options) -> bool {
    !opts.tmpcopyup
}

/// `NAME` of a destination that is `/dev/NAME` once normalized.
fn dev_child(dest: &Path) -> Option<CString> {
    let n = crate::spec::normalized(dest);
    let mut rest = n.strip_prefix("/dev").ok()?.components();
    match (rest.next(), rest.next()) {
        (Some(Component::Normal(name)), None) => CString::new(name.as_encoded_bytes()).ok(),
        _ => None,
    }
}

/// `name` made as a directory in `dir` (the fresh tmpfs) unless it is
/// there, then opened without following a symlink (a tmpcopyup of the
/// image's /dev may have brought one): the fd and whether it existed.
/// None sends the caller to the walk from the root, which follows a
/// symlink inside the root as any destination's.
pub fn open_child(dir: &OwnedFd, name: &CString) -> Option<(OwnedFd, bool)> {
    let mode = Mode::from_bits_truncate(0o755);
    let existed = match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), name.as_c_str(), mode) {
        Ok(()) => false,
        Err(Errno::EEXIST) => true,
        Err(_) => return None,
    };
    let path = Path::new(std::ffi::OsStr::from_bytes(name.as_bytes()));
    let fd = openat2(
        dir.as_raw_fd(),
        path,
        libc::O_PATH,
        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
    .ok()?;
    Some((fd, existed))
}

/// The test-only way to keep the fd whatever comes after /dev (the
/// shortcut applied blindly), so that a test can show where that lands.
/// Debug builds only.
#[cfg(debug_assertions)]
fn blind_switch() -> bool {
    std::env::var_os("OUTLET_DEV_FD_BLIND").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
fn blind_switch() -> bool {
    false
}

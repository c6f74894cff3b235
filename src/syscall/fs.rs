//! File calls whose nix form hands back a raw fd or is deprecated: openat
//! as an OwnedFd, and flock on a descriptor we keep open.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::NixPath;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// openat(2) through nix, owning the fd it returns. Pass O_CLOEXEC (and
/// O_NOFOLLOW where a link must not be followed) in `flags`.
pub fn openat<P: ?Sized + NixPath>(
    dir: RawFd,
    path: &P,
    flags: OFlag,
    mode: Mode,
) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::openat(Some(dir), path, flags, mode)?;
    // SAFETY: openat just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// flock(fd, LOCK_EX): blocks until no one else holds the lock. The lock
/// goes with the open file, so it holds until the caller closes `fd`; no
/// unlock call (nix's `Flock` would add one on drop).
pub fn flock_exclusive(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: flock takes an fd and an integer; a bad fd is an error.
    if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

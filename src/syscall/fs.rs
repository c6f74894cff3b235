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

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::FlockArg;
    use std::os::fd::AsRawFd;

    use crate::security::testutil::TempDir;

    #[test]
    fn openat_owns_the_fd_and_honours_nofollow() {
        let tmp = TempDir::new("fs-openat");
        let d = &tmp.0;
        std::fs::write(d.join("file"), b"x").unwrap();
        std::os::unix::fs::symlink("file", d.join("link")).unwrap();
        let dir = std::fs::File::open(d).unwrap();
        let ro = OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        // Control: without O_NOFOLLOW the link is followed to the file.
        let fd = openat(dir.as_raw_fd(), "link", ro, Mode::empty()).unwrap();
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).unwrap();
        assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFREG);
        let refused = openat(
            dir.as_raw_fd(),
            "link",
            ro | OFlag::O_NOFOLLOW,
            Mode::empty(),
        );
        assert_eq!(refused.unwrap_err(), nix::errno::Errno::ELOOP);
    }

    #[test]
    #[allow(deprecated)] // nix's flock, for its non-blocking probe
    fn flock_exclusive_keeps_others_out_until_closed() {
        let tmp = TempDir::new("fs-flock");
        let d = &tmp.0;
        let probe = std::fs::File::open(d).unwrap();
        let try_lock = || nix::fcntl::flock(probe.as_raw_fd(), FlockArg::LockExclusiveNonblock);
        let holder = std::fs::File::open(d).unwrap();
        // Control: nobody holds it yet, so the probe gets it (and lets go).
        try_lock().unwrap();
        nix::fcntl::flock(probe.as_raw_fd(), FlockArg::Unlock).unwrap();
        flock_exclusive(holder.as_raw_fd()).unwrap();
        assert_eq!(try_lock().unwrap_err(), nix::errno::Errno::EWOULDBLOCK);
        drop(holder);
        try_lock().unwrap();
    }
}

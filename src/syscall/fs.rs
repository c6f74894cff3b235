//! File calls whose nix form hands back a raw fd or is deprecated (openat
//! as an OwnedFd, flock on a descriptor we keep open) or that std makes
//! dearer than they need be (realpath).

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

/// flock(fd, LOCK_EX) as `flock_exclusive`, saying whether another
/// holder made it wait: first without blocking (one call when no one holds
/// it, the common case), then blocking. A waiter is the one that must look
/// at what it locked again: the holder may have removed it meanwhile.
pub fn flock_exclusive_waited(fd: RawFd) -> std::io::Result<bool> {
    // SAFETY: flock takes an fd and an integer; a bad fd is an error.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(false);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
        return Err(e);
    }
    flock_exclusive(fd).map(|()| true)
}

/// std::fs::canonicalize without its malloc: std passes realpath(3) a
/// NULL buffer, and musl then strdups the result with its own malloc (not
/// outlet's arena), whose first use costs brk and mmap calls and whose free
/// an munmap: 7 syscalls of create's 13 around its two canonicalizations.
/// The same resolution into a buffer on the stack.
pub fn realpath(path: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut buf = [0u8; libc::PATH_MAX as usize];
    // SAFETY: `c` is NUL-terminated; `buf` holds PATH_MAX bytes, the most
    // realpath writes (the result and its NUL) when given a buffer.
    let r = unsafe { libc::realpath(c.as_ptr(), buf.as_mut_ptr().cast()) };
    if r.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    Ok(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(
        &buf[..len],
    )))
}

/// The most of a caller's JSON input (config.json, `exec --process`,
/// `update --resources`) that is read: far more than any real one holds.
/// Each is held in memory whole, so a path naming a device (`/dev/zero`)
/// or a runaway file must end in an error, not in the OOM killer.
pub const MAX_INPUT: u64 = 32 << 20;

/// The file at `path` (or stdin for None) read to its end, or an error
/// once it is larger than `MAX_INPUT`. A FIFO still blocks until it has a
/// writer, as runc's open does (`--process <(...)` is a pipe).
pub fn read_input(path: Option<&std::path::Path>) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let limit = if crate::fault::control("OUTLET_INPUT_UNBOUNDED") {
        u64::MAX
    } else {
        MAX_INPUT
    };
    let mut text = Vec::new();
    let n = match path {
        Some(p) => {
            let f = std::fs::File::open(p)?;
            // Room for the whole file and the read that sees its end, as
            // std::fs::read makes (the Take hides the size from std).
            let size = f.metadata().map_or(0, |m| m.len()).min(limit);
            text.reserve_exact(size as usize + 1);
            f.take(limit.saturating_add(1)).read_to_end(&mut text)?
        }
        None => std::io::stdin()
            .lock()
            .take(limit.saturating_add(1))
            .read_to_end(&mut text)?,
    };
    if n as u64 > limit {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB, more than any real one",
            limit >> 20
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::FlockArg;
    use std::os::fd::AsRawFd;

    use crate::security::testutil::TempDir;

    /// The same answers as std::fs::canonicalize: links followed (the
    /// control: a path through a link is not returned as given), `..`
    /// resolved, a missing path or a link loop an error of the same kind.
    #[test]
    fn realpath_resolves_as_std_does() {
        let tmp = TempDir::new("fs-realpath");
        let d = &tmp.0;
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::os::unix::fs::symlink("a/b", d.join("l")).unwrap();
        std::os::unix::fs::symlink("loop", d.join("loop")).unwrap();
        for p in ["l", "l/..", "a/./b/", "l/../b", "a"] {
            let p = d.join(p);
            let ours = realpath(&p).unwrap();
            assert_eq!(ours, std::fs::canonicalize(&p).unwrap(), "{}", p.display());
        }
        assert_ne!(realpath(&d.join("l")).unwrap(), d.join("l"));
        for bad in ["missing", "loop", "a/b/missing/x"] {
            let p = d.join(bad);
            let (ours, std) = (
                realpath(&p).unwrap_err(),
                std::fs::canonicalize(&p).unwrap_err(),
            );
            assert_eq!(ours.raw_os_error(), std.raw_os_error(), "{bad}");
        }
    }

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

    /// Uncontended, the lock is taken at once and says so; held by
    /// another, it is taken once that one lets go, and says it waited.
    #[test]
    fn flock_exclusive_waited_tells_a_wait_apart() {
        let tmp = TempDir::new("fs-flock-waited");
        let d = tmp.0.clone();
        let first = std::fs::File::open(&d).unwrap();
        assert!(!flock_exclusive_waited(first.as_raw_fd()).unwrap());
        let waiter = std::thread::spawn(move || {
            let second = std::fs::File::open(&d).unwrap();
            flock_exclusive_waited(second.as_raw_fd()).unwrap()
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(first);
        assert!(waiter.join().unwrap());
    }
}

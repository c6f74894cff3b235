//! A container's directory opened and locked (flock) so that concurrent
//! commands on one id serialise, and what a command that waited for the
//! lock finds: the holder may have removed the dir (a delete), or a create
//! may have made it a moment after the open found nothing
//! (tests/races_s9.rs).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::syscall;

pub(crate) fn lock_dir(path: &Path) -> Result<File> {
    match open_dir(path, true)? {
        Opened::Live(d) => Ok(d),
        // Made a moment ago and already removed: a `delete --force` of
        // the id took it for a create that died before its record.
        Opened::Removed => bail!(
            "state dir {}: removed (by a delete of the id) while being created",
            path.display()
        ),
    }
}

/// Whether `open_dir` failed because nothing is at the path.
pub(crate) fn missing(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<nix::errno::Errno>() == Some(&nix::errno::Errno::ENOENT)
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
    })
}

/// A container dir as `open_dir` found it once it held the lock.
pub(crate) enum Opened {
    Live(File),
    /// Removed while this command waited for its lock.
    Removed,
}

pub(crate) fn open_dir(path: &Path, lock: bool) -> Result<Opened> {
    // openat: musl's open(2) adds an fcntl(F_SETFD) after O_CLOEXEC.
    use nix::fcntl::OFlag;
    let dir = syscall::fs::openat(
        libc::AT_FDCWD,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(File::from)
    .with_context(|| format!("open state dir {}", path.display()))?;
    // Not nix's Flock guard, which takes the File and unlocks with one more
    // syscall on drop (closing the fd releases the lock anyway); std's
    // File::lock needs Rust 1.89. Blocks until other commands on this id
    // finish.
    if lock {
        let waited = crate::syscall::fs::flock_exclusive_waited(dir.as_raw_fd())
            .with_context(|| format!("lock {}", path.display()))?;
        // Only a wait lets another command remove the dir under us (no
        // command removes one without holding its lock), so only then is
        // it looked at again. Debug builds' OUTLET_LOCK_STALE_DIR=1 (the
        // control of tests/races_s9.rs) does not look.
        if waited && !crate::fault::control("OUTLET_LOCK_STALE_DIR") {
            let st = nix::sys::stat::fstat(dir.as_raw_fd())
                .with_context(|| format!("stat {}", path.display()))?;
            if st.st_nlink == 0 {
                return Ok(Opened::Removed);
            }
        }
    }
    Ok(Opened::Live(dir))
}

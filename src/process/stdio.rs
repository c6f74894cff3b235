//! stdio pipes handed to a container that runs as another user: the
//! pipe's inode belongs to whoever made it (the caller, root), so the
//! process could write to fd 1 but not reopen it through /proc/self/fd/1
//! or /dev/stdout, which many programs do. runc (fixStdioPermissions)
//! fchowns stdio to the container's uid; outlet does so only for
//! anonymous pipes (pipefs): a file or device the caller passed as stdio
//! is the caller's and keeps its owner. Done before the uid switch, which
//! takes CAP_CHOWN away.

use anyhow::{Context, Result};
use nix::sys::stat::{SFlag, fstat};
use nix::unistd::{Uid, fchown};

/// statfs(2)'s f_type of the kernel's pipe file system (linux/magic.h).
const PIPEFS_MAGIC: i64 = 0x5049_5045;

pub fn chown_pipes(uid: u32) -> Result<()> {
    if uid == 0 {
        return Ok(());
    }
    for fd in 0..3 {
        let Ok(st) = fstat(fd) else { continue };
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO
            || st.st_uid == uid
        {
            continue;
        }
        // A named fifo is S_IFIFO too; only pipefs holds anonymous pipes.
        if crate::syscall::process::fs_type(fd).map_or(true, |t| t != PIPEFS_MAGIC) {
            continue;
        }
        match fchown(fd, Some(Uid::from_raw(uid)), None) {
            Ok(()) => {}
            // As runc: an owner or uid not mapped in our user namespace
            // (EINVAL, EPERM) leaves the pipe as it is.
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => {}
            Err(e) => return Err(e).with_context(|| format!("fchown stdio fd {fd} to uid {uid}")),
        }
    }
    Ok(())
}

//! The one way outlet writes into /proc (sysctls, oom_score_adj, LSM
//! attr files, id maps): through a procfs it verified, never through a
//! path the container could have mounted over. A spec mount may bind a
//! host directory over `/proc/sys/net` or `/proc/1`; a write by path
//! would then land in the host's file (CVE-2025-52881 class).
//!
//! Inside the container (sysctls, LSM labels) the init and `exec`'s
//! process mount a procfs instance of their own (detached: it appears in no
//! mount table, so nothing can be mounted over it); `create` writes the
//! init's id maps and oom_score_adj through the host's /proc. Files are opened below it with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
//! |RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV: no `..`, no `self` symlink (the
//! pid is the caller's in that instance's pid namespace), no mount
//! crossing. The root's fstatfs says procfs, and RESOLVE_NO_XDEV keeps
//! every file opened on that same mount, so each one is procfs too.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::sys::statfs::{PROC_SUPER_MAGIC, fstatfs};

use crate::syscall::{
    self, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
};

const RESOLVE: u64 =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

pub struct ProcFs {
    root: OwnedFd,
    /// Our pid as this instance numbers it.
    pid: i32,
}

impl ProcFs {
    /// A new instance for the calling process, in its pid namespace (the
    /// init is pid 1 of the container's). Needs CAP_SYS_ADMIN over that
    /// namespace's user namespace; in a user namespace the kernel also
    /// wants a fully visible procfs in our mount namespace, so the init
    /// calls this before the container's masks exist.
    pub fn private() -> Result<ProcFs> {
        let root = syscall::fsmount_proc().context("mount a private procfs (fsopen/fsmount)")?;
        // getpid answers in our active pid namespace, which is the one
        // the instance was made for.
        Self::verified(root, std::process::id() as i32, "the private procfs")
    }

    /// The host's /proc, as `create` (outside the container) sees it, for
    /// writes into a child's /proc/PID: the child cannot mount over the
    /// parent's /proc, but the root is verified all the same.
    pub fn host() -> Result<ProcFs> {
        let root = syscall::openat2(
            libc::AT_FDCWD,
            Path::new("/proc"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .context("open /proc")?;
        Self::verified(root, std::process::id() as i32, "/proc")
    }

    fn verified(root: OwnedFd, pid: i32, what: &str) -> Result<ProcFs> {
        let st = fstatfs(root.as_fd()).with_context(|| format!("fstatfs {what}"))?;
        if st.filesystem_type() != PROC_SUPER_MAGIC {
            bail!(
                "{what}: not a procfs (filesystem magic {:#x})",
                st.filesystem_type().0
            );
        }
        Ok(ProcFs { root, pid })
    }

    /// `rel` (no leading `/`, no symlink on the way) opened with `flags`.
    fn open(&self, rel: &str, flags: i32) -> std::io::Result<File> {
        let fd = syscall::openat2(self.root.as_raw_fd(), Path::new(rel), flags, RESOLVE)?;
        Ok(File::from(fd))
    }

    /// `rel` opened for writing.
    pub fn open_write(&self, rel: &str) -> std::io::Result<File> {
        self.open(rel, libc::O_WRONLY)
    }

    /// The namespace file `rel` (`PID/ns/NAME`, a magic link), opened
    /// for setns. openat2's RESOLVE_NO_MAGICLINKS would refuse the link
    /// itself; a plain openat from the root follows it. Only for an
    /// instance of our own (`private`): nothing can be mounted on it, so
    /// its links are the kernel's.
    pub fn open_ns(&self, rel: &str) -> std::io::Result<File> {
        let fd = syscall::fs::openat(
            self.root.as_raw_fd(),
            Path::new(rel),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        Ok(File::from(fd))
    }

    /// `rel` read whole, through the verified root like the writes.
    pub fn read(&self, rel: &str) -> std::io::Result<String> {
        std::io::read_to_string(self.open(rel, libc::O_RDONLY)?)
    }

    /// Write `value` to `rel` in one write(2): procfs and sysctl files
    /// take a value from one write only.
    pub fn write(&self, rel: &str, value: &[u8]) -> std::io::Result<()> {
        let f = self.open_write(rel)?;
        let n = nix::unistd::write(&f, value)?;
        if n != value.len() {
            return Err(std::io::Error::other(format!(
                "short write ({n} of {} bytes)",
                value.len()
            )));
        }
        Ok(())
    }

    /// `rel` below our own /proc/PID directory.
    pub fn own(&self, rel: &str) -> String {
        format!("{}/{rel}", self.pid)
    }

    /// `rel` below /proc/PID of another process (numbered in this
    /// instance's pid namespace).
    pub fn of(pid: i32, rel: &str) -> String {
        format!("{pid}/{rel}")
    }

    /// Whether `rel` exists (without following symlinks), e.g. to pick
    /// the per-LSM attr directory where the kernel has it.
    pub fn exists(&self, rel: &str) -> bool {
        syscall::openat2(self.root.as_raw_fd(), Path::new(rel), libc::O_PATH, RESOLVE).is_ok()
    }

    /// sysctl `key` (dots or slashes) as a path below /proc.
    pub fn sysctl_path(key: &str) -> String {
        format!("sys/{}", key.replace('.', "/"))
    }
}

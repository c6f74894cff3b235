//! Who else can change the state root. Every command trusts what it reads
//! under `<root>/<id>` (the init's pid, cgroup paths, the bundle): a root
//! that another user owns or may write to lets that user rename a
//! container's directory away and put one of their own in its place, and
//! a root outlet then signals, deletes and reads what they chose. A
//! caller's `--root /tmp/outlet` made in advance by someone else is that,
//! and so is `--root /home/stranger/a/b`: whoever owns `a` can rename `b`.
//! `create`/`restore` check every ancestor once (a few stats: no container
//! is ever put where it can be swapped); every other command checks the
//! root and its parent (two stats), which catches a root chowned or
//! loosened after its containers were made.

use std::fs::Metadata;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

const GROUP_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// For `create`/`restore`: the root must be ours and written by no one
/// else; every directory above it ours or root's, and written by others
/// only if sticky (nobody else can rename what is under it); every symlink
/// on the way ours or root's (whoever owns one can point it elsewhere),
/// and then where the symlinks lead is checked the same. Debug builds'
/// `OUTLET_ROOT_UNCHECKED=1` (a test's control) skips this.
pub fn check(root: &Path) -> Result<()> {
    if crate::fault::control("OUTLET_ROOT_UNCHECKED") {
        return Ok(());
    }
    let us = nix::unistd::geteuid().as_raw();
    let abs = absolute(root)?;
    let mut hops = 0;
    if walk(root, &abs, us, &mut hops, true)? {
        own_root(root, &std::fs::metadata(root)?, us)?;
        let real = std::fs::canonicalize(root)
            .with_context(|| format!("state root {}: resolve", root.display()))?;
        for dir in real.ancestors().skip(1) {
            ancestor(root, dir, &lstat(root, dir)?, us)?;
        }
    }
    Ok(())
}

/// On ext2/3/4, marks the state root (once `check` has found it ours) as
/// the top of directory hierarchies (FS_TOPDIR_FL, `chattr +T`), so that
/// ext4 places each container's dir in a block group of its own choosing
/// (Orlov) instead of the root's, and the dir's files follow it. Without
/// a journal (this project's hosts), ext4 skips every inode freed 1-60 s
/// ago (up to 360 s while its block is dirty) when it allocates one,
/// scanning from the start of the group: with the containers' dirs and
/// files, the callers' bundles and pid files all churning through one
/// group, each of create's four new inodes cost 0.1-0.4 ms in a start
/// storm (bench/README.md "Session 16"). A hint only: where it cannot be
/// set (not ours to set, another file system) nothing else changes, so
/// its errors are dropped. `made` is the new container dir, open: it is
/// on the root's file system, so the type is asked of it and only an ext4
/// root is opened (a tmpfs /run pays one fstatfs).
pub fn spread_dirs(root: &Path, made: &impl std::os::fd::AsRawFd) {
    if crate::syscall::process::fs_type(made.as_raw_fd()).is_ok_and(|t| t == EXT4_SUPER_MAGIC) {
        use std::os::unix::fs::OpenOptionsExt;
        if let Ok(dir) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(root)
        {
            let _ = crate::syscall::ioctl::mark_topdir(&dir);
        }
    }
}

/// statfs(2)'s f_type of ext2, ext3 and ext4 (one driver): the file systems
/// that read FS_TOPDIR_FL.
const EXT4_SUPER_MAGIC: i64 = 0xEF53;

/// How many symlinks `check` follows at most, as the kernel's own limit
/// (ELOOP after 40).
const MAX_HOPS: u32 = 40;

/// Checks every prefix of `path` (the first one is the root itself when
/// `top`, an ancestor on a symlink's way otherwise), and for every symlink
/// among them every prefix of what it points to, recursively: a symlink
/// in a symlink's target (a chain) is on the way as much as one in the
/// path. Whether any symlink was met.
fn walk(root: &Path, path: &Path, us: u32, hops: &mut u32, top: bool) -> Result<bool> {
    let mut through_symlink = false;
    for (i, dir) in path.ancestors().enumerate() {
        let st = lstat(root, dir)?;
        if st.file_type().is_symlink() {
            symlink_owner(root, dir, &st, us)?;
            through_symlink = true;
            *hops += 1;
            if *hops > MAX_HOPS {
                bail!("state root {}: too many symlinks", root.display());
            }
            let to = std::fs::read_link(dir)
                .with_context(|| format!("state root {}: {}", root.display(), dir.display()))?;
            let to = dir.parent().unwrap_or(Path::new("/")).join(to);
            walk(root, &normal(&to), us, hops, false)?;
        } else if i == 0 && top {
            own_root(root, &st, us)?;
        } else {
            ancestor(root, dir, &st, us)?;
        }
    }
    Ok(through_symlink)
}

/// `p` without a trailing slash or `.` components: a trailing slash makes
/// lstat follow a final symlink, which then went unchecked (`--root
/// /tmp/theirs/` passed where `--root /tmp/theirs` was refused). `..`
/// stays: the kernel resolves it, and each prefix is stat'ed as it does.
fn normal(p: &Path) -> PathBuf {
    p.components().collect()
}

/// For every command that reads a root (`kill`, `delete`, `state`, ...):
/// the root and its parent as `check` wants them, one stat each unless
/// either is a symlink. A root that does not exist is nothing to trust:
/// the command then says its container does not exist, as before.
pub fn check_near(root: &Path) -> Result<()> {
    if crate::fault::control("OUTLET_ROOT_UNCHECKED") {
        return Ok(());
    }
    let us = nix::unistd::geteuid().as_raw();
    let root = &normal(root);
    let st = match followed(root, root, us) {
        Err(e) if root_missing(&e) => return Ok(()),
        r => r?,
    };
    own_root(root, &st, us)?;
    let parent = match root.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    ancestor(root, parent, &followed(root, parent, us)?, us)
}

fn root_missing(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == ErrorKind::NotFound)
}

/// What is at `at`, through a symlink only if the symlink is ours or
/// root's.
fn followed(root: &Path, at: &Path, us: u32) -> Result<Metadata> {
    let st = std::fs::symlink_metadata(at)?;
    if !st.file_type().is_symlink() {
        return Ok(st);
    }
    symlink_owner(root, at, &st, us)?;
    std::fs::metadata(at)
        .with_context(|| format!("state root {}: {}", root.display(), at.display()))
}

fn lstat(root: &Path, at: &Path) -> Result<Metadata> {
    std::fs::symlink_metadata(at)
        .with_context(|| format!("state root {}: {}", root.display(), at.display()))
}

fn absolute(root: &Path) -> Result<PathBuf> {
    if root.is_absolute() {
        return Ok(normal(root));
    }
    let cwd = std::env::current_dir().context("state root: the current directory")?;
    Ok(normal(&cwd.join(root)))
}

fn own_root(root: &Path, st: &Metadata, us: u32) -> Result<()> {
    if st.uid() != us || st.mode() & GROUP_OTHER_WRITE != 0 {
        bail!(
            "state root {}: owned by uid {} with mode {:o}; it must be ours (uid {us}) and not writable by group or others, or they could swap a container's state",
            root.display(),
            st.uid(),
            st.mode() & 0o7777
        );
    }
    Ok(())
}

fn ancestor(root: &Path, dir: &Path, st: &Metadata, us: u32) -> Result<()> {
    let writable = st.mode() & GROUP_OTHER_WRITE != 0 && st.mode() & STICKY == 0;
    if !trusted(st.uid(), us) || writable {
        bail!(
            "state root {}: its directory {} is owned by uid {} with mode {:o}, so another user could rename the root away and put their own there",
            root.display(),
            dir.display(),
            st.uid(),
            st.mode() & 0o7777
        );
    }
    Ok(())
}

fn symlink_owner(root: &Path, link: &Path, st: &Metadata, us: u32) -> Result<()> {
    if !trusted(st.uid(), us) {
        bail!(
            "state root {}: the symlink {} on its path is owned by uid {}, who could point it at a root of their own",
            root.display(),
            link.display(),
            st.uid()
        );
    }
    Ok(())
}

/// Ours or root's. In a user namespace of its own (rootless podman runs
/// outlet as uid 0 of one), every owner the namespace does not map reads
/// as the overflow uid: /run and /run/user above $XDG_RUNTIME_DIR are the
/// host root's, but so would be a directory of any other host user's. The
/// kernel does not say which, so there such an owner is let pass: a
/// weaker check (docs/known-gaps.md). Read only on an owner that is
/// neither, so the common path costs no extra syscall.
fn trusted(uid: u32, us: u32) -> bool {
    uid == us || uid == 0 || (uid == overflow_uid() && in_user_namespace())
}

fn overflow_uid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65534)
}

/// Whether our uid_map is other than the initial namespace's identity.
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

//! `tmpcopyup`: the content of an image directory copied into the tmpfs
//! mounted over it, with modes, owners and symlinks kept. Everything is
//! done relative to directory fds, one name at a time, never following a
//! symlink: an image's `/www/x -> /etc/shadow` is copied as a link, never
//! read through, and nothing outside the two directories is touched.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use anyhow::{Context, Result, bail};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag};
use nix::unistd::{Gid, Uid};

/// Deeper trees are refused rather than risk the init's stack and fds.
const MAX_DEPTH: usize = 128;

fn open_at(dir: RawFd, name: &CStr, flags: i32, mode: libc::c_uint) -> std::io::Result<OwnedFd> {
    let (flags, mode) = (
        OFlag::from_bits_retain(flags | libc::O_CLOEXEC),
        Mode::from_bits_retain(mode),
    );
    crate::syscall::fs::openat(dir, name, flags, mode).map_err(std::io::Error::from)
}

/// The owner of `st` as nix takes it.
fn owner(st: &libc::stat) -> (Option<Uid>, Option<Gid>) {
    (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
}

/// A readable fd of the directory an O_PATH fd (resolved inside the root)
/// names; it still reads the directory once a tmpfs covers it.
pub fn open_dir(fd: &OwnedFd) -> std::io::Result<OwnedFd> {
    open_at(fd.as_raw_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// Copy what `from` holds into the directory `to` (an O_PATH fd of the new
/// tmpfs's root), and `from`'s owner onto it (its mode came with `mode=`).
pub fn copy(from: &OwnedFd, to: &OwnedFd) -> Result<()> {
    let to = open_dir(to).context("open the tmpfs")?;
    let st = nix::sys::stat::fstat(from.as_raw_fd()).context("stat the directory")?;
    let (uid, gid) = owner(&st);
    nix::unistd::fchown(to.as_raw_fd(), uid, gid)
        .map_err(std::io::Error::from)
        .context("chown the tmpfs")?;
    copy_dir(from, &to, 0)
}

fn copy_dir(from: &OwnedFd, to: &OwnedFd, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        bail!("more than {MAX_DEPTH} levels of directories");
    }
    let dup = nix::unistd::dup(from.as_raw_fd()).context("dup directory fd")?;
    let mut dir = nix::dir::Dir::from_fd(dup).context("read directory")?;
    for entry in dir.iter() {
        let entry = entry.context("read directory")?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        copy_entry(from, to, name, depth)
            .with_context(|| OsStr::from_bytes(name.to_bytes()).display().to_string())?;
    }
    Ok(())
}

/// The regular file `name` that `st` described, opened for reading. The
/// directory may be a volume another container writes at the same time:
/// swapped for a fifo, a plain open would wait for a writer forever, and
/// for a device node it would read the device. O_NONBLOCK keeps a fifo's
/// open from waiting; the fd is then checked to be the very file stat saw.
fn open_same_file(dir: RawFd, name: &CStr, st: &libc::stat) -> Result<OwnedFd> {
    if crate::fault::copyup_trusts_stat() {
        return open_at(dir, name, libc::O_RDONLY | libc::O_NOFOLLOW, 0).context("open");
    }
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let fd = open_at(dir, name, flags, 0).context("open")?;
    let now = nix::sys::stat::fstat(fd.as_raw_fd()).context("stat the open file")?;
    if now.st_mode & libc::S_IFMT != libc::S_IFREG
        || (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino)
    {
        bail!("replaced between its stat and its open (no longer the regular file it was)");
    }
    Ok(fd)
}

fn copy_entry(from: &OwnedFd, to: &OwnedFd, name: &CStr, depth: usize) -> Result<()> {
    let (src, dst) = (from.as_raw_fd(), to.as_raw_fd());
    let st = nix::sys::stat::fstatat(Some(src), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .context("stat")?;
    crate::fault::pause("copyup:stat");
    let mode = st.st_mode & 0o7777;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            nix::sys::stat::mkdirat(Some(dst), name, Mode::S_IRWXU)
                .map_err(std::io::Error::from)
                .context("mkdir")?;
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            let sub_from = open_at(src, name, flags, 0).context("open")?;
            let sub_to = open_at(dst, name, flags, 0).context("open the copy")?;
            copy_dir(&sub_from, &sub_to, depth + 1)?;
        }
        libc::S_IFREG => {
            let mut r = File::from(open_same_file(src, name, &st)?);
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
            let mut w = File::from(open_at(dst, name, flags, 0o600).context("create")?);
            std::io::copy(&mut r, &mut w).context("copy")?;
        }
        libc::S_IFLNK => {
            let target = nix::fcntl::readlinkat(Some(src), name).context("readlink")?;
            let target = CString::new(target.as_bytes()).context("link has NUL")?;
            nix::unistd::symlinkat(target.as_c_str(), Some(dst), name)
                .map_err(std::io::Error::from)
                .context("symlink")?;
        }
        _ => {
            // Devices, fifos, sockets: the same node (a tmpfs mount with
            // nodev keeps a device inert, as it was in the image).
            let kind = SFlag::from_bits_retain(st.st_mode & libc::S_IFMT);
            nix::sys::stat::mknodat(
                Some(dst),
                name,
                kind,
                Mode::from_bits_retain(mode),
                st.st_rdev,
            )
            .map_err(std::io::Error::from)
            .context("mknod")?;
        }
    }
    // Never follows a link.
    let (uid, gid) = owner(&st);
    nix::unistd::fchownat(Some(dst), name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(std::io::Error::from)
        .context("chown")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        // After chown, which clears set-id bits; a link has no mode.
        // The name is not a symlink (we just made it).
        let mode = Mode::from_bits_retain(mode);
        nix::sys::stat::fchmodat(Some(dst), name, mode, FchmodatFlags::FollowSymlink)
            .map_err(std::io::Error::from)
            .context("chmod")?;
    }
    Ok(())
}

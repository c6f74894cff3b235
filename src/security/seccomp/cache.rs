//! The cache of compiled filters, `<root>/.cache/seccomp`: one file per
//! plan, `<u64 key length, LE><key><program>`.
//!
//! An entry is a program outlet loads into containers, so whoever can write
//! one can run containers unfiltered. It is used only when the cache's own
//! directories (`.cache` and `seccomp`) and the entry are owned by the
//! caller's euid, not writable by group or others, and reached without
//! following a symlink (each opened with O_NOFOLLOW and checked on the fd
//! with fstat). Anything else is ignored, with a warning on stderr: the
//! filter is compiled afresh, and an entry owned by someone else is never
//! overwritten. New entries are written to an O_EXCL|O_NOFOLLOW temporary
//! name in the same directory and renamed into place, so a reader never
//! sees half a program and nothing planted at the temporary name is
//! followed or reused.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::syscall::fs::openat;

use super::compile::{INSN, from_bytes};

/// The directories at the end of the cache path that outlet makes, and so
/// must own: `.cache` and `seccomp` under the state root.
const OWN_DIRS: usize = 2;

/// How many compiled filters the cache keeps. It lives in the state root,
/// usually a tmpfs: a host that sees ever new profiles must not fill it.
/// An entry is 10-20 KiB for a Docker/podman-sized profile.
pub(super) const ENTRIES: usize = 64;

fn warn(path: &Path, why: &str) {
    crate::logging::stderr(format_args!(
        "outlet: warning: seccomp cache {}: {why}; not used, the filter is compiled afresh",
        path.display()
    ));
}

/// Why a directory or entry opened as `fd` may not be trusted by `euid`,
/// if so.
fn distrust(st: &FileStat, want: SFlag, euid: u32) -> Option<String> {
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind != want {
        Some(format!(
            "not a {}",
            if want == SFlag::S_IFDIR {
                "directory"
            } else {
                "regular file"
            }
        ))
    } else if st.st_uid != euid {
        Some(format!("owned by uid {}, not {euid}", st.st_uid))
    } else if st.st_mode & 0o022 != 0 {
        Some(format!(
            "mode {:o} is writable by group or others",
            st.st_mode & 0o7777
        ))
    } else {
        None
    }
}

fn open_nofollow(dir: BorrowedFd<'_>, name: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    openat(
        dir.as_raw_fd(),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// The cache directory, opened and checked below the state root. With
/// `create`, missing directories are made (0700). None: absent (and not
/// created), or not trusted (warned).
fn open_dir(dir: &Path, create: bool, euid: u32) -> Option<OwnedFd> {
    let names: Vec<&Path> = dir.iter().rev().take(OWN_DIRS).map(Path::new).collect();
    let mut base = dir.to_path_buf();
    for _ in 0..names.len() {
        base.pop();
    }
    if create {
        std::fs::create_dir_all(&base).ok()?;
    }
    // The state root is the caller's choice: it is opened as given (with
    // openat: std's open adds an fcntl(FD_CLOEXEC) under musl).
    let mut fd = openat(
        libc::AT_FDCWD,
        &base,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut path = base;
    for name in names.into_iter().rev() {
        path.push(name);
        if create {
            match mkdirat(Some(fd.as_raw_fd()), name, Mode::from_bits_truncate(0o700)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(_) => return None,
            }
        }
        let next = match open_nofollow(fd.as_fd(), name, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
            Ok(next) => next,
            Err(Errno::ENOENT) => return None,
            Err(e) => {
                warn(
                    &path,
                    &format!("cannot open it without following links ({e})"),
                );
                return None;
            }
        };
        let st = fstat(next.as_raw_fd()).ok()?;
        if let Some(why) = distrust(&st, SFlag::S_IFDIR, euid) {
            warn(&path, &why);
            return None;
        }
        fd = next;
    }
    Some(fd)
}

/// The program stored under `name` for exactly `key`, if the entry can be
/// trusted. Missing entries are silent; distrusted ones warn.
pub(super) fn read(dir: &Path, name: &str, key: &[u8]) -> Option<Vec<libc::sock_filter>> {
    let euid = nix::unistd::geteuid().as_raw();
    let dfd = open_dir(dir, false, euid)?;
    // O_NONBLOCK: a fifo planted under the name must not hang create.
    let fd = match open_nofollow(
        dfd.as_fd(),
        Path::new(name),
        OFlag::O_RDONLY | OFlag::O_NONBLOCK,
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return None,
        Err(e) => {
            warn(
                &dir.join(name),
                &format!("cannot open it without following links ({e})"),
            );
            return None;
        }
    };
    let st = fstat(fd.as_raw_fd()).ok()?;
    if let Some(why) = distrust(&st, SFlag::S_IFREG, euid) {
        warn(&dir.join(name), &why);
        return None;
    }
    let bytes = read_exactly(fd.as_fd(), usize::try_from(st.st_size).ok()?)?;
    let (len, rest) = bytes.split_at_checked(8)?;
    let len = u64::from_le_bytes(len.try_into().ok()?) as usize;
    let (stored_key, program) = rest.split_at_checked(len)?;
    if stored_key != key {
        return None;
    }
    from_bytes(program).ok()
}

/// The `size` bytes fstat reported, in as few reads as the kernel allows
/// (one, for a regular file): std's read_to_end would add an fstat, an
/// lseek and a read to find the end. An entry is only ever replaced by
/// rename, so the file open here does not change under us; one that
/// came out short is not used.
fn read_exactly(fd: BorrowedFd<'_>, size: usize) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; size];
    let mut got = 0;
    while got < size {
        match nix::unistd::read(fd.as_raw_fd(), &mut bytes[got..]) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
    Some(bytes)
}

/// Store `program` under `name`. Best effort: the next create only pays
/// the compile when this fails.
pub(super) fn write(
    dir: &Path,
    name: &str,
    key: &[u8],
    program: &[libc::sock_filter],
) -> std::io::Result<()> {
    let euid = nix::unistd::geteuid().as_raw();
    let Some(dfd) = open_dir(dir, true, euid) else {
        return Err(std::io::Error::other("cache directory not usable"));
    };
    let dfd = dfd.as_fd();
    // Entries can only be made here by us or by root: one root made for
    // someone else is theirs, not ours to replace.
    match fstatat(Some(dfd.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_uid != euid => {
            warn(&dir.join(name), "owned by someone else, left as it is");
            return Err(std::io::Error::other("entry owned by someone else"));
        }
        _ => {}
    }
    trim(dfd, ENTRIES - 1);
    let mut data = Vec::with_capacity(8 + key.len() + program.len() * INSN);
    data.extend_from_slice(&(key.len() as u64).to_le_bytes());
    data.extend_from_slice(key);
    for i in program {
        data.extend_from_slice(&i.code.to_ne_bytes());
        data.push(i.jt);
        data.push(i.jf);
        data.extend_from_slice(&i.k.to_ne_bytes());
    }
    // An unnamed file, linked in once whole: a create killed at any
    // instant of the write leaves nothing in the cache, where a named
    // temporary would stay for good (only entries are trimmed). The named
    // temporary and a rename remain for a file system without O_TMPFILE,
    // and to replace an entry that is in the way (one whose key differs).
    let unnamed = crate::syscall::link_unnamed(
        Some(dfd.as_raw_fd()),
        Path::new("."),
        Path::new(name),
        &data,
        0o600,
    );
    if unnamed.is_ok() {
        return Ok(());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = format!(".tmp-{}-{nanos}", std::process::id());
    Ok(write_via(dfd, &tmp, name, &data)?)
}

/// `data` into `tmp` (which must not exist: O_EXCL, and O_NOFOLLOW so a
/// link planted there is not followed), then renamed to `name`.
fn write_via(dfd: BorrowedFd<'_>, tmp: &str, name: &str, data: &[u8]) -> nix::Result<()> {
    let fd = openat(
        dfd.as_raw_fd(),
        tmp,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let mut f = std::fs::File::from(fd);
    let renamed = f.write_all(data).map_err(nix_io).and_then(|()| {
        nix::fcntl::renameat(Some(dfd.as_raw_fd()), tmp, Some(dfd.as_raw_fd()), name)
    });
    if renamed.is_err() {
        let _ = unlinkat(Some(dfd.as_raw_fd()), tmp, UnlinkatFlags::NoRemoveDir);
    }
    renamed
}

fn nix_io(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Remove the oldest entries (by mtime: when they were written) until at
/// most `keep` are left. Only runs on a cache miss, before a write.
fn trim(dfd: BorrowedFd<'_>, keep: usize) {
    let Ok(dup) = dfd.try_clone_to_owned() else {
        return;
    };
    let Ok(mut d) = nix::dir::Dir::from_fd(dup.into_raw_fd()) else {
        return;
    };
    let mut entries: Vec<(i64, i64, std::ffi::CString)> = d
        .iter()
        .flatten()
        .filter(|e| e.file_name().to_bytes().ends_with(b".bpf"))
        .filter_map(|e| {
            let st = fstatat(
                Some(dfd.as_raw_fd()),
                e.file_name(),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .ok()?;
            Some((st.st_mtime, st.st_mtime_nsec, e.file_name().to_owned()))
        })
        .collect();
    if entries.len() <= keep {
        return;
    }
    entries.sort();
    for (_, _, name) in &entries[..entries.len() - keep] {
        let _ = unlinkat(
            Some(dfd.as_raw_fd()),
            name.as_c_str(),
            UnlinkatFlags::NoRemoveDir,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn program() -> Vec<libc::sock_filter> {
        // RET ALLOW: any valid program will do.
        vec![libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        }]
    }

    /// `<tmp>/root/.cache/seccomp`, with one entry "e.bpf" for key b"k".
    fn setup(tag: &str) -> (crate::security::testutil::TempDir, std::path::PathBuf) {
        let t = crate::security::testutil::TempDir::new(tag);
        let dir = t.0.join("root/.cache/seccomp");
        write(&dir, "e.bpf", b"k", &program()).unwrap();
        assert!(
            read(&dir, "e.bpf", b"k").is_some(),
            "control: a fresh entry is used"
        );
        (t, dir)
    }

    fn chown(p: &Path, uid: u32) {
        nix::unistd::fchownat(
            None,
            p,
            Some(nix::unistd::Uid::from_raw(uid)),
            None,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    #[cfg_attr(not(outlet_root), ignore = "chown needs root")]
    fn entry_of_another_owner_or_writable_by_others_is_not_used() {
        let (_t, dir) = setup("cache-owner");
        let e = dir.join("e.bpf");
        chown(&e, 65534);
        assert!(read(&dir, "e.bpf", b"k").is_none(), "another uid's entry");
        // Nor replaced: it is not ours.
        let before = std::fs::read(&e).unwrap();
        assert!(write(&dir, "e.bpf", b"k2", &program()).is_err());
        assert_eq!(std::fs::read(&e).unwrap(), before);
        chown(&e, 0);
        for mode in [0o620, 0o602, 0o666] {
            chmod(&e, mode);
            assert!(read(&dir, "e.bpf", b"k").is_none(), "mode {mode:o}");
        }
        chmod(&e, 0o600);
        assert!(read(&dir, "e.bpf", b"k").is_some(), "control: back to 0600");
        // Our own entry with a bad mode is simply rewritten.
        chmod(&e, 0o666);
        write(&dir, "e.bpf", b"k", &program()).unwrap();
        assert!(read(&dir, "e.bpf", b"k").is_some());
        // The directories count too.
        for d in [dir.clone(), dir.parent().unwrap().to_path_buf()] {
            chmod(&d, 0o777);
            assert!(read(&dir, "e.bpf", b"k").is_none(), "{} 0777", d.display());
            chmod(&d, 0o700);
            chown(&d, 65534);
            assert!(
                read(&dir, "e.bpf", b"k").is_none(),
                "{} not ours",
                d.display()
            );
            assert!(write(&dir, "e.bpf", b"k", &program()).is_err());
            chown(&d, 0);
        }
        assert!(
            read(&dir, "e.bpf", b"k").is_some(),
            "control: all ours again"
        );
    }

    #[test]
    fn links_and_other_file_types_are_not_followed() {
        let (t, dir) = setup("cache-links");
        // A valid entry elsewhere, reached through a symlink at the name.
        let elsewhere = t.0.join("elsewhere");
        write(&elsewhere.join("x/y"), "e.bpf", b"k", &program()).unwrap();
        let target = elsewhere.join("x/y/e.bpf");
        assert!(read(&elsewhere.join("x/y"), "e.bpf", b"k").is_some());
        std::fs::remove_file(dir.join("e.bpf")).unwrap();
        symlink(&target, dir.join("e.bpf")).unwrap();
        assert!(read(&dir, "e.bpf", b"k").is_none(), "symlinked entry");
        // A fifo must not hang the read.
        std::fs::remove_file(dir.join("e.bpf")).unwrap();
        nix::unistd::mkfifo(&dir.join("e.bpf"), Mode::from_bits_truncate(0o600)).unwrap();
        assert!(read(&dir, "e.bpf", b"k").is_none(), "fifo");
        std::fs::remove_file(dir.join("e.bpf")).unwrap();
        // The cache directory itself a symlink to a trusted one.
        let real = dir.with_file_name("seccomp-real");
        std::fs::rename(&dir, &real).unwrap();
        write(&real, "e.bpf", b"k", &program()).unwrap();
        symlink(&real, &dir).unwrap();
        assert!(read(&dir, "e.bpf", b"k").is_none(), "symlinked directory");
        assert!(write(&dir, "e.bpf", b"k", &program()).is_err());
        assert!(
            read(&real, "e.bpf", b"k").is_some(),
            "control: the real one"
        );
    }

    #[test]
    fn a_link_planted_at_the_temporary_name_is_not_followed() {
        let (t, dir) = setup("cache-tmp");
        let victim = t.0.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        symlink(&victim, dir.join(".tmp-x")).unwrap();
        let dfd: OwnedFd = std::fs::File::open(&dir).unwrap().into();
        let e = write_via(dfd.as_fd(), ".tmp-x", "e.bpf", b"data").unwrap_err();
        assert_eq!(e, Errno::EEXIST);
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        // Control: a free temporary name is written and renamed.
        write_via(dfd.as_fd(), ".tmp-y", "n.bpf", b"data").unwrap();
        assert_eq!(std::fs::read(dir.join("n.bpf")).unwrap(), b"data");
        assert!(!dir.join(".tmp-y").exists());
    }
}

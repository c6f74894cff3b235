//! Walking a container's cgroup tree by directory fds. A container with a
//! writable cgroupfs can nest cgroups as deep as it likes (v1 has no
//! cgroup.max.depth): a walk by path fails with ENAMETOOLONG past PATH_MAX,
//! and recursion would overflow a small stack. Here each directory is
//! opened relative to its parent's fd, the way down is an explicit stack
//! of names, and the way up is `..` of the current fd, checked against
//! the parent's (dev, inode). cgroupfs cannot move a directory under
//! another parent (v1 renames within one parent only, v2 not at all), so
//! `..` is the parent we came from; should the check still disagree, the
//! parent is opened again from the top, name by name. So at most two
//! directory fds are open at once (not one per level, which a deep tree
//! would run out of), the way up costs one openat per level (a re-walk
//! from the top would cost the depth), and depth costs neither PATH_MAX
//! nor stack.

use std::ffi::{CStr, CString};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Result, anyhow};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// Where a walk is: the top's path and the names below it, for messages.
pub struct Where<'a> {
    top: &'a Path,
    names: &'a [CString],
}

impl fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len: usize = self.names.iter().map(|n| n.as_bytes().len() + 1).sum();
        let name = |n: &CString| String::from_utf8_lossy(n.as_bytes()).into_owned();
        write!(f, "{}", self.top.display())?;
        match self.names {
            // A path past PATH_MAX is no help in a message: its ends are.
            [first, .., last] if len > 512 => write!(
                f,
                "/{}/.../{} (depth {})",
                name(first),
                name(last),
                self.names.len()
            ),
            _ => self
                .names
                .iter()
                .try_for_each(|n| write!(f, "/{}", name(n))),
        }
    }
}

/// What `leave` made of a directory whose children are all walked.
pub enum Left {
    /// Done with it (removed, or nothing to do).
    Done,
    /// Left in place: its ancestors are left too.
    Kept,
    /// Walk it again (a child appeared meanwhile).
    Again,
}

/// What a walk does at each cgroup.
pub trait Visitor {
    /// On entering a directory (the top first), with its fd.
    fn enter(&mut self, _dir: BorrowedFd, _at: &Where) -> Result<()> {
        Ok(())
    }

    /// Once every child of `name` is walked (never for the top), with its
    /// parent's fd. Not called for a directory with a child kept.
    fn leave(&mut self, _parent: BorrowedFd, _name: &CStr, _at: &Where) -> Result<Left> {
        Ok(Left::Done)
    }
}

/// How a walk ended. It goes on past a failure where it can (a list that
/// fails in one subtree still reaches the others); `err` is the first.
#[derive(Default)]
pub struct Outcome {
    pub err: Option<anyhow::Error>,
    /// Some directory below the top was kept or could not be walked.
    pub kept: bool,
    /// `leave` was done with some directory.
    pub done_any: bool,
}

impl Outcome {
    fn fail(&mut self, e: anyhow::Error) {
        self.err.get_or_insert(e);
        self.kept = true;
    }
}

struct Frame {
    /// (dev, inode), taken before the first descent (leaves need none).
    id: Option<(u64, u64)>,
    /// Child directories not yet walked.
    todo: Vec<CString>,
    kept: bool,
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Walk `top` and every cgroup below it, depth first. A missing top is an
/// empty walk.
pub fn walk(top: &Path, v: &mut impl Visitor) -> Outcome {
    let mut out = Outcome::default();
    let mut cur = match open_dir(None, top.as_os_str().as_bytes()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENODEV) => return out,
        Err(e) => {
            out.fail(anyhow!("cgroup: open {}: {e}", top.display()));
            return out;
        }
    };
    let mut buf = vec![0u8; 4096];
    let mut names: Vec<CString> = Vec::new();
    let top_frame = enter(&mut *v, cur.as_fd(), top, &names, &mut buf, &mut out);
    let mut stack = vec![top_frame];
    loop {
        let f = stack.last_mut().expect("the top frame stays until the end");
        if let Some(name) = f.todo.pop() {
            if f.id.is_none() {
                match nix::sys::stat::fstat(cur.as_raw_fd()) {
                    Ok(st) => f.id = Some((st.st_dev, st.st_ino)),
                    Err(e) => {
                        let at = Where { top, names: &names };
                        out.fail(anyhow!("cgroup: stat {at}: {e}"));
                        f.todo.clear();
                        continue;
                    }
                }
            }
            names.push(name);
            match open_child(cur.as_fd(), top, &names) {
                Ok(fd) => {
                    let frame = enter(&mut *v, fd.as_fd(), top, &names, &mut buf, &mut out);
                    stack.push(frame);
                    cur = fd;
                }
                // Removed meanwhile: nothing below it either.
                Err(Errno::ENOENT | Errno::ENODEV) => _ = names.pop(),
                Err(e) => {
                    out.fail(anyhow!(
                        "cgroup: open {}: {e}",
                        Where { top, names: &names }
                    ));
                    f.kept = true;
                    names.pop();
                }
            }
            continue;
        }
        let done = stack.pop().expect("checked above");
        let Some(parent) = stack.last_mut() else {
            out.kept |= done.kept;
            return out;
        };
        let id = parent.id.expect("taken before the descent");
        cur = match up(cur.as_fd(), id, top, &names[..names.len() - 1]) {
            Ok(fd) => fd,
            Err(e) => {
                // No way back up: what is above stays unfinished.
                out.fail(e);
                return out;
            }
        };
        if done.kept {
            parent.kept = true;
        } else {
            leave(&mut *v, cur.as_fd(), parent, top, &names, &mut out);
        }
        names.pop();
    }
}

/// The last of `names` is walked, with every child: the visitor's `leave`,
/// and what it says for the parent's frame.
fn leave(
    v: &mut impl Visitor,
    dir: BorrowedFd,
    parent: &mut Frame,
    top: &Path,
    names: &[CString],
    out: &mut Outcome,
) {
    let name = names.last().expect("one name per frame below the top");
    match v.leave(dir, name, &Where { top, names }) {
        Ok(Left::Done) => out.done_any = true,
        Ok(Left::Kept) => parent.kept = true,
        Ok(Left::Again) => parent.todo.push(name.clone()),
        Err(e) => {
            out.fail(e);
            parent.kept = true;
        }
    }
}

/// Enter the directory `dir` (at `names` below `top`): the visitor, then
/// its child directories.
fn enter(
    v: &mut impl Visitor,
    dir: BorrowedFd,
    top: &Path,
    names: &[CString],
    buf: &mut [u8],
    out: &mut Outcome,
) -> Frame {
    let at = Where { top, names };
    if let Err(e) = v.enter(dir, &at) {
        out.fail(e);
    }
    let mut frame = Frame {
        id: None,
        todo: Vec::new(),
        kept: false,
    };
    match child_dirs(dir, buf) {
        Ok(todo) => frame.todo = todo,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => {
            out.fail(anyhow!("cgroup: list {at}: {e}"));
            frame.kept = true;
        }
    }
    frame
}

fn open_dir(at: Option<BorrowedFd>, name: &[u8]) -> nix::Result<OwnedFd> {
    let at = at.map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd());
    crate::syscall::fs::openat(at, name, DIR_FLAGS, Mode::empty())
}

/// The last of `names`, opened relative to its parent `dir`; by its whole
/// path under the debug control (`fault::cgroup_walk_by_path`), as the
/// walk did before, which fails past PATH_MAX.
fn open_child(dir: BorrowedFd, top: &Path, names: &[CString]) -> nix::Result<OwnedFd> {
    if crate::fault::cgroup_walk_by_path() {
        let mut path = top.as_os_str().as_bytes().to_vec();
        for n in names {
            path.push(b'/');
            path.extend_from_slice(n.as_bytes());
        }
        return open_dir(None, &path[..]);
    }
    open_dir(Some(dir), names[names.len() - 1].as_bytes())
}

/// The parent of `dir`, whose (dev, inode) is `id` and which is `names`
/// below `top`: `..`, or opened again from the top if `..` is not it.
fn up(dir: BorrowedFd, id: (u64, u64), top: &Path, names: &[CString]) -> Result<OwnedFd> {
    if let Ok(fd) = open_dir(Some(dir), b"..")
        && is(&fd, id)
    {
        return Ok(fd);
    }
    let at = || Where { top, names };
    let mut fd = open_dir(None, top.as_os_str().as_bytes())
        .map_err(|e| anyhow!("cgroup: open {} again: {e}", top.display()))?;
    for n in names {
        fd = open_dir(Some(fd.as_fd()), n.as_bytes())
            .map_err(|e| anyhow!("cgroup: open {} again: {e}", at()))?;
    }
    if !is(&fd, id) {
        return Err(anyhow!(
            "cgroup: {} is another directory than the walk came down through",
            at()
        ));
    }
    Ok(fd)
}

fn is(fd: &OwnedFd, id: (u64, u64)) -> bool {
    nix::sys::stat::fstat(fd.as_raw_fd()).is_ok_and(|st| (st.st_dev, st.st_ino) == id)
}

/// Names of the directories in `dir` (child cgroups: control files are
/// never directories), without `.` and `..`.
fn child_dirs(dir: BorrowedFd, buf: &mut [u8]) -> io::Result<Vec<CString>> {
    let mut out = Vec::new();
    loop {
        let n = crate::syscall::cgroup::dir_entries(dir, buf)?;
        if n == 0 {
            return Ok(out);
        }
        // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8,
        // then the name up to a NUL, padded to the record's length.
        let mut off = 0;
        while off + 19 <= n {
            let reclen = usize::from(u16::from_ne_bytes([buf[off + 16], buf[off + 17]]));
            if reclen < 20 || off + reclen > n {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "getdents64 returned a malformed record",
                ));
            }
            let rec = &buf[off..off + reclen];
            if rec[18] == libc::DT_DIR
                && let Ok(name) = CStr::from_bytes_until_nul(&rec[19..])
                && name != c"."
                && name != c".."
            {
                out.push(name.to_owned());
            }
            off += reclen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Record(Vec<String>);

    impl Visitor for Record {
        fn enter(&mut self, _dir: BorrowedFd, at: &Where) -> Result<()> {
            self.0.push(format!("enter {at}"));
            Ok(())
        }

        fn leave(&mut self, parent: BorrowedFd, name: &CStr, at: &Where) -> Result<Left> {
            self.0.push(format!("leave {at}"));
            nix::unistd::unlinkat(
                Some(parent.as_raw_fd()),
                name,
                nix::unistd::UnlinkatFlags::RemoveDir,
            )?;
            Ok(Left::Done)
        }
    }

    /// A plain directory tree stands in for a cgroup tree: every
    /// directory is entered, children before parents are left (so that
    /// rmdir bottom-up empties it), the top is entered and never left,
    /// and a tree past PATH_MAX is walked all the same (the control, by
    /// path, is in tests/cgdepth_s8.rs).
    #[test]
    fn walks_past_path_max_by_fds() {
        let base = crate::security::testutil::TempDir::new("cg-walk");
        let top = base.0.join("top");
        std::fs::create_dir_all(top.join("a/b")).unwrap();
        std::fs::create_dir(top.join("c")).unwrap();
        std::fs::write(top.join("file"), "").unwrap();
        let mut r = Record(Vec::new());
        let out = walk(&top, &mut r);
        assert!(
            out.err.is_none() && !out.kept && out.done_any,
            "{:?} {}",
            out.err,
            out.kept
        );
        let t = top.display();
        let mut seen = r.0.clone();
        seen.sort();
        let mut want = vec![
            format!("enter {t}"),
            format!("enter {t}/a"),
            format!("enter {t}/a/b"),
            format!("enter {t}/c"),
            format!("leave {t}/a"),
            format!("leave {t}/a/b"),
            format!("leave {t}/c"),
        ];
        want.sort();
        assert_eq!(seen, want);
        let b =
            r.0.iter()
                .position(|s| s.ends_with("/a/b") && s.starts_with("leave"));
        let a =
            r.0.iter()
                .position(|s| s.ends_with("/a") && s.starts_with("leave"));
        assert!(b < a, "a child is left before its parent: {:?}", r.0);
        std::fs::remove_file(top.join("file")).unwrap();
        assert_eq!(std::fs::read_dir(&top).unwrap().count(), 0);

        // 40 levels of 200-byte names: 8 KiB, twice PATH_MAX.
        let long = "x".repeat(200);
        let mut fd = open_dir(None, top.as_os_str().as_bytes()).unwrap();
        for _ in 0..40 {
            nix::sys::stat::mkdirat(Some(fd.as_raw_fd()), long.as_str(), Mode::S_IRWXU).unwrap();
            fd = open_dir(Some(fd.as_fd()), long.as_bytes()).unwrap();
        }
        let mut r = Record(Vec::new());
        let out = walk(&top, &mut r);
        assert!(out.err.is_none(), "{:?}", out.err);
        assert_eq!(r.0.len(), 81);
        assert!(r.0[40].contains("(depth 40)"), "{}", r.0[40]);
        assert_eq!(std::fs::read_dir(&top).unwrap().count(), 0);
    }
}

//! Path resolution inside the rootfs that never leaves it: every lookup goes
//! through openat2(RESOLVE_IN_ROOT), so a symlink in an image such as
//! `/data -> /../../../../tmp/host-target` resolves inside the rootfs
//! (CVE-2021-30465 class), and mounts are made onto the resolved fd via
//! /proc/self/fd/N rather than onto a path that could be swapped.

use std::collections::VecDeque;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::syscall::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2};
use libc::RESOLVE_NO_SYMLINKS;

/// Symlinks one `resolve_or_create` follows before it gives up: the
/// kernel's own limit for a path walk (MAXSYMLINKS, ELOOP past it).
const MAX_SYMLINKS: usize = 40;
/// Components one `resolve_or_create` walks at most, symlink targets and
/// retries included: past it a racer is flipping names to keep it looping.
const MAX_STEPS: usize = 4096;
/// Modes of what `resolve_or_create` makes (mount points): readable by all,
/// writable by their owner.
const NEW_FILE_MODE: u32 = 0o644;
const NEW_DIR_MODE: u32 = 0o755;

pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

pub enum Kind {
    Dir,
    File,
}

/// Where a `resolve_or_create` walk is: `dir`, resolved inside the root at
/// the symlink-free path `sofar`, and the components still to walk, front
/// first.
struct Walk {
    todo: VecDeque<OsString>,
    /// None: the root itself (its fd is the Root's; no copy is made).
    dir: Option<OwnedFd>,
    sofar: PathBuf,
    /// Symlinks followed so far.
    links: usize,
}

/// What one step of the walk found.
enum Next {
    /// A directory (or the last component) to go on from.
    Into(OwnedFd),
    /// A symlink, whose target is now queued.
    Followed,
    /// Nothing: the name is to be created.
    Missing,
}

impl Root {
    pub fn open(path: &Path) -> Result<Root> {
        let fd = openat2(libc::AT_FDCWD, path, libc::O_PATH | libc::O_DIRECTORY, 0)
            .with_context(|| format!("open rootfs {}", path.display()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The root already opened (`fd`, a directory), named `path` in errors.
    pub fn from_fd(fd: OwnedFd, path: &Path) -> Root {
        Root {
            fd,
            path: path.to_path_buf(),
        }
    }

    /// Resolve `dest` (an absolute container path) inside the root; the
    /// result is an O_PATH fd.
    pub fn resolve(&self, dest: &Path) -> std::io::Result<OwnedFd> {
        let rel = relative(dest);
        // The root itself: openat2 takes no empty path.
        let rel = if rel.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rel
        };
        openat2(
            self.fd.as_raw_fd(),
            &rel,
            libc::O_PATH,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        )
    }

    /// `resolve`, refusing a symlink anywhere on the way (ELOOP).
    pub fn resolve_no_symlinks(&self, dest: &Path) -> std::io::Result<OwnedFd> {
        openat2(
            self.fd.as_raw_fd(),
            &relative(dest),
            libc::O_PATH,
            RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
        )
    }

    /// Resolve `dest`, creating missing components inside the root: parents
    /// as directories, the last one as `kind`. Symlinks met on the way are
    /// followed as RESOLVE_IN_ROOT would (absolute ones from the root, `..`
    /// never above it), so a dangling `/data -> /../../tmp/x` in an image
    /// makes `<rootfs>/tmp/x`, never the host's /tmp/x.
    pub fn resolve_or_create(&self, dest: &Path, kind: Kind) -> Result<OwnedFd> {
        match self.resolve(dest) {
            Ok(fd) => Ok(fd),
            Err(_) => self.create_path(dest, kind),
        }
    }

    /// `resolve_or_create` for a `dest` that was just found missing: the
    /// walk, without resolving the whole path once more first.
    pub fn create_path(&self, dest: &Path, kind: Kind) -> Result<OwnedFd> {
        let mut walk = Walk {
            todo: steps_of(dest).collect(),
            dir: None,
            sofar: PathBuf::new(),
            links: 0,
        };
        let mut steps = 0;
        while let Some(name) = walk.todo.pop_front() {
            // A racing process could keep a name flipping between missing
            // and present; give up rather than loop.
            steps += 1;
            if steps > MAX_STEPS {
                bail!("{}: the path keeps changing", self.ctx("resolve", dest));
            }
            if name == ".." {
                walk.sofar.pop();
                walk.dir = Some(
                    self.resolve(&Path::new("/").join(&walk.sofar))
                        .with_context(|| self.ctx("resolve", &walk.sofar))?,
                );
                continue;
            }
            let here = walk.sofar.join(&name);
            let cname = CString::new(name.as_encoded_bytes()).context("path has NUL")?;
            match self.step(&mut walk, &name, &here)? {
                Next::Into(fd) => {
                    walk.dir = Some(fd);
                    walk.sofar = here;
                }
                Next::Followed => {}
                Next::Missing => {
                    let file = walk.todo.is_empty() && matches!(kind, Kind::File);
                    self.create(self.at(&walk), &cname, file, &here)?;
                    // Walk the same name again: now it exists (or a racer
                    // made it a symlink, which the next round follows
                    // inside the root).
                    walk.todo.push_front(name);
                }
            }
        }
        match walk.dir {
            Some(fd) => Ok(fd),
            // The path led back to the root itself.
            None => self.top().context("open the rootfs"),
        }
    }

    /// One component below a directory resolved inside the root, never
    /// following a symlink: nothing here can leave the root. A symlink's
    /// target is queued to walk instead.
    fn step(&self, walk: &mut Walk, name: &OsStr, here: &Path) -> Result<Next> {
        // RESOLVE_NO_SYMLINKS on one component: a symlink there fails with
        // ELOOP instead of being followed, so an fd that comes back is
        // never one (no fstat needed to tell).
        let step = openat2(
            self.at(walk),
            Path::new(name),
            libc::O_PATH,
            RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
        );
        match step {
            Ok(fd) => return Ok(Next::Into(fd)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(Next::Missing),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {}
            Err(e) => return Err(e).with_context(|| self.ctx("resolve", here)),
        }
        walk.links += 1;
        if walk.links > MAX_SYMLINKS {
            bail!(
                "{}: too many levels of symbolic links",
                self.ctx("resolve", here)
            );
        }
        let target = nix::fcntl::readlinkat(Some(self.at(walk)), name)
            .with_context(|| self.ctx("readlink", here))?;
        let target = PathBuf::from(target);
        if target.is_absolute() {
            walk.sofar = PathBuf::new();
            walk.dir = None;
        }
        let comps: Vec<OsString> = steps_of(&target).collect();
        for c in comps.into_iter().rev() {
            walk.todo.push_front(c);
        }
        Ok(Next::Followed)
    }

    /// Make the missing `name` below `dir` (found missing at `here`): a
    /// directory, or an empty file when `file`.
    fn create(&self, dir: RawFd, name: &CStr, file: bool, here: &Path) -> Result<()> {
        // mkdirat never follows a symlink, and O_CREAT|O_EXCL|O_NOFOLLOW
        // refuses one, so a link raced in cannot redirect the creation.
        let at = Some(dir);
        let made = if file {
            let flags = OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC
                | OFlag::O_WRONLY;
            nix::fcntl::openat(at, name, flags, Mode::from_bits_truncate(NEW_FILE_MODE)).map(|fd| {
                let _ = nix::unistd::close(fd);
            })
        } else {
            nix::sys::stat::mkdirat(at, name, Mode::from_bits_truncate(NEW_DIR_MODE))
        };
        match made {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(std::io::Error::from(e)).with_context(|| self.ctx("create", here)),
        }
    }

    /// The directory a walk is in.
    fn at(&self, walk: &Walk) -> RawFd {
        walk.dir.as_ref().unwrap_or(&self.fd).as_raw_fd()
    }

    /// A new O_PATH fd of the root itself, for a walk that ends there:
    /// one openat2 (a dup costs musl two fcntl calls).
    fn top(&self) -> std::io::Result<OwnedFd> {
        openat2(self.fd.as_raw_fd(), Path::new("."), libc::O_PATH, 0)
    }

    /// An error's context: what failed on which path, in which rootfs.
    fn ctx(&self, what: &str, p: &Path) -> String {
        format!("{what} {} in {}", p.display(), self.path.display())
    }

    /// The root directory itself (an O_PATH fd).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `/a/../b/./c` -> `b/c`, never above the root (RESOLVE_IN_ROOT would clamp
/// it too; doing it here keeps the component walk simple).
pub fn relative(dest: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in dest.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Change to `cwd` (process.cwd, already inside the container's root and
/// mount namespace), resolved inside the root with no magic links, so that
/// `/proc/self/fd/N` cannot make a runtime fd that points at the host (the
/// init's host /proc, a caller's leaked fd) the process's cwd
/// (CVE-2024-21626 class). getcwd then confirms the result is reachable
/// from the root: the kernel reports a cwd outside it as unreachable.
pub fn chdir_inside(cwd: &Path) -> Result<()> {
    let field = || format!("process.cwd {}", cwd.display());
    must_be_absolute("process.cwd", cwd)?;
    // The root itself (the default): chdir("/") names the process's root,
    // which the walk below would open, resolve "." in and fchdir to; it
    // cannot lead outside it, so getcwd has nothing to check.
    if cwd.as_os_str() == "/" {
        return nix::unistd::chdir("/").with_context(field);
    }
    let root = openat2(
        libc::AT_FDCWD,
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .with_context(|| format!("{}: open /", field()))?;
    let fd = openat2(
        root.as_raw_fd(),
        &relative_keep_dots(cwd),
        libc::O_PATH | libc::O_DIRECTORY,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
    .with_context(|| format!("{}: resolve inside the container", field()))?;
    nix::unistd::fchdir(fd.as_raw_fd()).with_context(field)?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        Ok(p) => bail!(
            "{}: the working directory {} is outside the container's root",
            field(),
            p.display()
        ),
        Err(e) => Err(e).with_context(|| {
            format!(
                "{}: getcwd (a working directory outside the container's root?)",
                field()
            )
        }),
    }
}

/// `cwd` without its leading `/`, `..` left for the kernel to clamp at the
/// root (lexical `..` after a symlink would be wrong for a cwd).
fn relative_keep_dots(p: &Path) -> PathBuf {
    let rel: PathBuf = p
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// The magic-link path of an fd, for mount(2) targets.
pub fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

pub fn must_be_absolute(field: &str, p: &Path) -> Result<()> {
    if !p.is_absolute() {
        bail!("{field}: {} is not an absolute path", p.display());
    }
    Ok(())
}

/// The names a walk takes through `p`: its normal components and `..`
/// (the root, `.` and prefixes need no step).
fn steps_of(p: &Path) -> impl Iterator<Item = OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::{Kind, Root, relative};
    use std::path::Path;

    #[test]
    fn dangling_symlinks_are_created_inside_the_root() {
        let base = std::env::temp_dir().join(format!("outlet-paths-{}", std::process::id()));
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let up = "/../../../../../../..";
        let abs = format!("{up}{}/abs", outside.display());
        std::os::unix::fs::symlink(&abs, root.join("data")).unwrap();
        std::os::unix::fs::symlink("../../../outside/rel", root.join("etc/rel")).unwrap();
        std::os::unix::fs::symlink("/data/x", root.join("chain")).unwrap();
        let r = Root::open(&root).unwrap();
        r.resolve_or_create(Path::new("/data"), Kind::Dir).unwrap();
        r.resolve_or_create(Path::new("/etc/rel/f"), Kind::File)
            .unwrap();
        r.resolve_or_create(Path::new("/chain/y"), Kind::Dir)
            .unwrap();
        let inside = root.join(abs.trim_start_matches(up).trim_start_matches('/'));
        assert!(inside.is_dir(), "{}", inside.display());
        assert!(inside.join("x/y").is_dir());
        assert!(root.join("outside/rel/f").is_file());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn relative_never_climbs() {
        assert_eq!(relative(Path::new("/a/../../b/./c")), Path::new("b/c"));
        assert_eq!(relative(Path::new("/")), Path::new(""));
    }
}

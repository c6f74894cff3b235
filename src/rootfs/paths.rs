//! Path resolution inside the rootfs that never leaves it: every lookup goes
//! through openat2(RESOLVE_IN_ROOT), so a symlink in an image such as
//! `/data -> /../../../../tmp/host-target` resolves inside the rootfs
//! (CVE-2021-30465 class), and mounts are made onto the resolved fd via
//! /proc/self/fd/N rather than onto a path that could be swapped.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::syscall::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2};

pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

pub enum Kind {
    Dir,
    File,
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

    /// Resolve `dest` (an absolute container path) inside the root; the
    /// result is an O_PATH fd.
    pub fn resolve(&self, dest: &Path) -> std::io::Result<OwnedFd> {
        openat2(
            self.fd.as_raw_fd(),
            &relative(dest),
            libc::O_PATH,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        )
    }

    /// Resolve `dest`, creating missing components inside the root: parents
    /// as directories, the last one as `kind`.
    pub fn resolve_or_create(&self, dest: &Path, kind: Kind) -> Result<OwnedFd> {
        if let Ok(fd) = self.resolve(dest) {
            return Ok(fd);
        }
        let rel = relative(dest);
        let comps: Vec<_> = rel.components().collect();
        let mut dir = self.fd.try_clone().context("dup rootfs fd")?;
        let mut sofar = PathBuf::new();
        for (i, c) in comps.iter().enumerate() {
            let name = c.as_os_str();
            sofar.push(name);
            let last = i + 1 == comps.len();
            match self.resolve(&Path::new("/").join(&sofar)) {
                Ok(fd) => {
                    dir = fd;
                    continue;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("resolve {} in {}", sofar.display(), self.path.display())
                    });
                }
            }
            let cname = CString::new(name.as_encoded_bytes()).context("path has NUL")?;
            // The parent was resolved inside the root, and mkdirat/openat
            // with a single component cannot be redirected by a symlink
            // (mkdirat never follows; O_CREAT|O_EXCL|O_NOFOLLOW refuses one).
            let ret = if last && matches!(kind, Kind::File) {
                // SAFETY: a valid dir fd and NUL-terminated name.
                let fd = unsafe {
                    libc::openat(
                        dir.as_raw_fd(),
                        cname.as_ptr(),
                        libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_NOFOLLOW
                            | libc::O_CLOEXEC
                            | libc::O_WRONLY,
                        0o644,
                    )
                };
                if fd >= 0 {
                    // SAFETY: closing the fd we just opened.
                    unsafe { libc::close(fd) };
                    0
                } else {
                    -1
                }
            } else {
                // SAFETY: a valid dir fd and NUL-terminated name.
                unsafe { libc::mkdirat(dir.as_raw_fd(), cname.as_ptr(), 0o755) }
            };
            if ret != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EEXIST) {
                    return Err(e).with_context(|| {
                        format!("create {} in {}", sofar.display(), self.path.display())
                    });
                }
            }
            dir = self
                .resolve(&Path::new("/").join(&sofar))
                .with_context(|| {
                    format!("resolve {} in {}", sofar.display(), self.path.display())
                })?;
        }
        Ok(dir)
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

#[cfg(test)]
mod tests {
    use super::relative;
    use std::path::Path;

    #[test]
    fn relative_never_climbs() {
        assert_eq!(relative(Path::new("/a/../../b/./c")), Path::new("b/c"));
        assert_eq!(relative(Path::new("/")), Path::new(""));
    }
}

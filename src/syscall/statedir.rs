//! The two calls behind recycling a container's state dir (state/spare.rs):
//! a rename that never replaces, and whether a dir holds anything. nix
//! wraps renameat2 for glibc only and has no getdents; std's read_dir
//! allocates a DIR through the C library's malloc.

use std::os::fd::RawFd;

use nix::NixPath;

/// rename(2) that fails with EEXIST instead of replacing `to`
/// (RENAME_NOREPLACE): moving a dir onto an id never takes another
/// container's dir, the way mkdir's EEXIST does not.
pub fn rename_noreplace<P: ?Sized + NixPath, Q: ?Sized + NixPath>(
    from: &P,
    to: &Q,
) -> std::io::Result<()> {
    let r = from.with_nix_path(|from| {
        to.with_nix_path(|to| {
            // SAFETY: two NUL-terminated paths that live through the call,
            // which only reads them; the fds are AT_FDCWD, the flag a constant.
            unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    libc::AT_FDCWD,
                    from.as_ptr(),
                    libc::AT_FDCWD,
                    to.as_ptr(),
                    libc::RENAME_NOREPLACE,
                )
            }
        })
    });
    match r {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(_)) => Err(std::io::Error::last_os_error()),
        Ok(Err(e)) | Err(e) => Err(std::io::Error::from(e)),
    }
}

/// The largest record getdents64 writes: its 19-byte head and a 255-byte
/// name with its NUL, rounded up to 8.
const MAX_RECORD: usize = 280;

#[repr(C, align(8))]
struct Records([u8; 1024]);

/// Whether the dir open at `dir` (read from its start: a fresh fd) holds
/// nothing but `.` and `..`. Usually one getdents64: a buffer the kernel
/// did not fill to within one record of its end holds every entry there is.
pub fn dir_is_empty(dir: RawFd) -> std::io::Result<bool> {
    let mut buf = Records([0; 1024]);
    loop {
        // SAFETY: the kernel writes at most buf.0.len() bytes into the
        // buffer we own; `dir` is only read from.
        let n =
            unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.0.as_mut_ptr(), buf.0.len()) };
        let n = usize::try_from(n).map_err(|_| std::io::Error::last_os_error())?;
        if n == 0 {
            return Ok(true);
        }
        let mut at = 0;
        while at + 19 < n {
            let reclen = usize::from(u16::from_ne_bytes([buf.0[at + 16], buf.0[at + 17]]));
            let name = &buf.0[at + 19..(at + reclen).min(n)];
            let name = name.split(|&b| b == 0).next().unwrap_or(b"");
            if name != b"." && name != b".." {
                return Ok(false);
            }
            if reclen == 0 {
                break;
            }
            at += reclen;
        }
        if n + MAX_RECORD <= buf.0.len() {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn tmp() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "outlet-statedir-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir(&d).unwrap();
        d
    }

    fn empty(d: &std::path::Path) -> bool {
        let f = std::fs::File::open(d).unwrap();
        dir_is_empty(f.as_raw_fd()).unwrap()
    }

    #[test]
    fn a_dir_with_any_entry_is_not_empty() {
        let d = tmp();
        assert!(empty(&d));
        // Long names too: a record near the largest, and more entries
        // than one buffer holds.
        let long = "x".repeat(255);
        std::fs::write(d.join(&long), b"").unwrap();
        assert!(!empty(&d));
        std::fs::remove_file(d.join(&long)).unwrap();
        assert!(empty(&d));
        for i in 0..40 {
            std::fs::write(d.join(format!("{i}{}", "y".repeat(200))), b"").unwrap();
        }
        assert!(!empty(&d));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn rename_noreplace_never_replaces() {
        let d = tmp();
        std::fs::create_dir(d.join("a")).unwrap();
        std::fs::create_dir(d.join("b")).unwrap();
        let e = rename_noreplace(&d.join("a"), &d.join("b")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        rename_noreplace(&d.join("a"), &d.join("c")).unwrap();
        assert!(d.join("c").is_dir() && !d.join("a").exists());
        let e = rename_noreplace(&d.join("a"), &d.join("d")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        std::fs::remove_dir_all(&d).unwrap();
    }
}

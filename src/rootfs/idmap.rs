//! A user namespace holding a mount's `uidMappings`/`gidMappings`, for
//! mount_setattr(MOUNT_ATTR_IDMAP). A short-lived child makes it: it tells
//! us its pid as our /proc sees it, unshares a user namespace and waits;
//! we write its maps (we hold the privilege the maps need, it does not),
//! keep an fd of the namespace, and let it exit.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::LinuxIdMapping;

/// Lines for a uid_map/gid_map file.
fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Ends the child (closing the pipe it waits on) and reaps it, also when
/// we return early with an error.
struct Child {
    pid: Pid,
    hold: Option<OwnedFd>,
}

impl Drop for Child {
    fn drop(&mut self) {
        self.hold.take();
        let _ = waitpid(self.pid, None);
    }
}

pub fn userns(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (uid_map, gid_map) = (map_text(uid), map_text(gid));
    let (tell_r, tell_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let (hold_r, hold_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // SAFETY: the init is single-threaded here; the child makes only
    // async-signal-safe raw syscalls on memory it owns, then _exit.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        ForkResult::Child => {
            drop(tell_r);
            drop(hold_w);
            let mut buf = [0u8; 32];
            // SAFETY: a NUL-terminated path and a buffer of the size given.
            let n = unsafe {
                libc::readlink(c"/proc/self".as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            };
            // SAFETY: raw syscalls on our own fds and buffer; _exit never
            // returns, so no Rust state of the parent's copy is touched.
            unsafe {
                if n <= 0 || libc::unshare(libc::CLONE_NEWUSER) != 0 {
                    libc::_exit(1);
                }
                libc::write(tell_w.as_raw_fd(), buf.as_ptr().cast(), n as usize);
                libc::close(tell_w.as_raw_fd());
                let mut b = 0u8;
                libc::read(hold_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        ForkResult::Parent { child } => {
            drop(tell_w);
            drop(hold_r);
            let _child = Child {
                pid: child,
                hold: Some(hold_w),
            };
            let mut pid = String::new();
            std::fs::File::from(tell_r)
                .read_to_string(&mut pid)
                .context("read the helper's pid")?;
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                bail!("the helper could not make a user namespace");
            }
            let dir = Path::new("/proc").join(&pid);
            std::fs::write(dir.join("uid_map"), &uid_map)
                .with_context(|| format!("uidMappings: write {uid_map:?}"))?;
            std::fs::write(dir.join("gid_map"), &gid_map)
                .with_context(|| format!("gidMappings: write {gid_map:?}"))?;
            let ns = std::fs::File::open(dir.join("ns/user")).context("open the user namespace")?;
            Ok(OwnedFd::from(ns))
        }
    }
}

//! A user namespace holding a mount's `uidMappings`/`gidMappings`, for
//! mount_setattr(MOUNT_ATTR_IDMAP). A short-lived child makes it: it tells
//! us its pid as our /proc sees it, unshares a user namespace and waits;
//! we write its maps (we hold the privilege the maps need, it does not),
//! keep an fd of the namespace, and let it exit.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
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
    let holder = crate::syscall::mount::fork_userns_holder().context("fork")?;
    let _child = Child {
        pid: holder.pid,
        hold: Some(holder.hold),
    };
    let mut pid = String::new();
    std::fs::File::from(holder.tell)
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

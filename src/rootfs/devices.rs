//! /dev: the default devices every container gets, `linux.devices`, and the
//! conventional links. In a user namespace mknod is not allowed, so device
//! nodes are bind mounts of the host's.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::SFlag;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::paths::{Kind, Root, fd_path};

pub struct Node {
    pub path: PathBuf,
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The defaults followed by the spec's devices (a spec entry for the same
/// path replaces the default).
pub fn nodes(spec_devices: &[LinuxDevice]) -> Result<Vec<Node>> {
    let mut out: Vec<Node> = Vec::new();
    // The device cgroup's default list is the one list of default devices.
    for (p, ma, mi) in crate::cgroups::devices::default_nodes() {
        out.push(Node {
            path: PathBuf::from(p),
            kind: 'c',
            major: ma.into(),
            minor: mi.into(),
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
    }
    for (i, d) in spec_devices.iter().enumerate() {
        if !d.path().is_absolute() || !d.path().starts_with("/dev") {
            bail!(
                "linux.devices[{i}].path: {} is not under /dev",
                d.path().display()
            );
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => 'p',
            LinuxDeviceType::A => bail!("linux.devices[{i}].type: \"a\" is not a device type"),
        };
        out.retain(|n| n.path != *d.path());
        out.push(Node {
            path: d.path().clone(),
            kind,
            major: d.major(),
            minor: d.minor(),
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(out)
}

pub fn create(root: &Root, nodes: &[Node], userns: bool) -> Result<()> {
    for n in nodes {
        if userns {
            bind_host(root, n)?;
        } else {
            mknod(root, n)?;
        }
    }
    Ok(())
}

fn mknod(root: &Root, n: &Node) -> Result<()> {
    let parent = n.path.parent().unwrap_or(Path::new("/dev"));
    let dir = root.resolve_or_create(parent, Kind::Dir)?;
    let name = n.path.file_name().context("device path has no name")?;
    let cname = CString::new(name.as_encoded_bytes()).context("device name has NUL")?;
    let kind = match n.kind {
        'b' => SFlag::S_IFBLK,
        'p' => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    };
    let dev = nix::sys::stat::makedev(n.major as u64, n.minor as u64);
    // An image may ship its own /dev/null as a regular file: replace it.
    // SAFETY: valid dir fd and NUL-terminated single-component name.
    unsafe { libc::unlinkat(dir.as_raw_fd(), cname.as_ptr(), 0) };
    // SAFETY: as above; mknodat does not follow a final symlink.
    let ret = unsafe {
        libc::mknodat(
            dir.as_raw_fd(),
            cname.as_ptr(),
            kind.bits() | (n.mode & 0o7777),
            dev,
        )
    };
    if ret != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("mknod {}", n.path.display()));
    }
    // SAFETY: as above; AT_SYMLINK_NOFOLLOW keeps chown on the node itself.
    let ret = unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            cname.as_ptr(),
            n.uid,
            n.gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if ret != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("chown {}", n.path.display()));
    }
    // mknod is subject to the umask; set the mode the spec asked for.
    // SAFETY: as above.
    unsafe { libc::fchmodat(dir.as_raw_fd(), cname.as_ptr(), n.mode & 0o7777, 0) };
    Ok(())
}

fn bind_host(root: &Root, n: &Node) -> Result<()> {
    let target = root.resolve_or_create(&n.path, Kind::File)?;
    let t = fd_path(&target);
    let src = n.path.to_string_lossy();
    mount(
        Some(src.as_ref()),
        t.as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("bind host device {src}"))
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx and /dev/core.
pub fn links(root: &Root) -> Result<()> {
    let dev = root.resolve_or_create(Path::new("/dev"), Kind::Dir)?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
        ("ptmx", "pts/ptmx"),
    ] {
        let cname = CString::new(name).expect("static name");
        let ctarget = CString::new(target).expect("static target");
        if name == "ptmx" {
            // SAFETY: valid dir fd, NUL-terminated names.
            unsafe { libc::unlinkat(dev.as_raw_fd(), cname.as_ptr(), 0) };
        }
        // SAFETY: valid dir fd, NUL-terminated names.
        let ret = unsafe { libc::symlinkat(ctarget.as_ptr(), dev.as_raw_fd(), cname.as_ptr()) };
        if ret != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(e).with_context(|| format!("symlink /dev/{name}"));
            }
        }
    }
    Ok(())
}

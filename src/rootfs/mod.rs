//! The container's root filesystem: propagation, the spec's mounts, /dev,
//! pivot_root (or MS_MOVE + chroot), then masked and read-only paths and a
//! read-only root. Runs in the init, inside its new mount namespace.

pub mod devices;
pub mod mounts;
pub mod paths;

use std::path::Path;

use crate::spec::Spec;
use anyhow::{Context, Result, bail};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::cgroups::CgroupPaths;
use paths::{Root, fd_path};

pub struct Setup<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub cgroup: &'a CgroupPaths,
    pub userns: bool,
    pub cgroupns: bool,
    /// False when the container shares its caller's mount namespace (none
    /// listed in the spec): then every mount lands in the caller's table
    /// and the propagation of the caller's `/` is never touched.
    pub mountns: bool,
}

/// Everything before pivot_root.
pub fn prepare(s: &Setup) -> Result<()> {
    let linux = s.spec.linux().as_ref();
    let prop = linux.and_then(|l| l.rootfs_propagation().clone());
    // Never let the container's mounts reach the host: the copy of the host's
    // mount tree becomes a slave (or private) first, whatever the spec asks;
    // a "shared" request applies to the container's own root after pivot.
    let base = match prop.as_deref() {
        Some("private") | Some("rprivate") => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    if s.mountns {
        mount(None::<&str>, "/", None::<&str>, base, None::<&str>)
            .context("make / a slave of the host's mounts")?;
    }
    if let Some(p) = prop.as_deref()
        && mounts::propagation_flag(p).is_none()
    {
        bail!("linux.rootfsPropagation: unknown value {p:?}");
    }

    // pivot_root needs the new root to be a mount point.
    let r = s.rootfs.to_string_lossy();
    mount(
        Some(r.as_ref()),
        r.as_ref(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind rootfs {r} onto itself"))?;

    let root = Root::open(s.rootfs)?;
    let mounts = s.spec.mounts().as_deref().unwrap_or(&[]);
    let label = linux.and_then(|l| l.mount_label().as_deref());
    for (i, m) in mounts.iter().enumerate() {
        mounts::mount_one(&root, m, i, s.cgroup, s.cgroupns, label)?;
    }

    // A bind of the host's /dev brings its nodes; otherwise make them.
    let dev_is_bind = mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind")))
    });
    if !dev_is_bind {
        let spec_devs = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
        let nodes = devices::nodes(&spec_devs)?;
        devices::create(&root, &nodes, s.userns)?;
        devices::links(&root)?;
    }
    Ok(())
}

/// Make the rootfs `/`. With pivot_root the old root is detached entirely,
/// so nothing of the host's tree stays reachable.
/// Without a mount namespace of its own the container's root is a chroot,
/// as runc makes it: pivot_root or MS_MOVE would change the caller's `/`.
pub fn pivot(rootfs: &Path, no_pivot: bool, mountns: bool) -> Result<()> {
    nix::unistd::chdir(rootfs).with_context(|| format!("chdir {}", rootfs.display()))?;
    if !mountns {
        nix::unistd::chroot(".").context("chroot (no mount namespace)")?;
    } else if no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .context("move rootfs to / (--no-pivot)")?;
        nix::unistd::chroot(".").context("chroot (--no-pivot)")?;
    } else {
        // pivot_root(".", ".") stacks the old root under the new one; the
        // old root is then unmounted lazily from the same place.
        nix::unistd::pivot_root(".", ".").context("pivot_root")?;
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .context("make the old root a slave")?;
        umount2(".", MntFlags::MNT_DETACH).context("detach the old root")?;
    }
    nix::unistd::chdir("/").context("chdir /")?;
    Ok(())
}

/// After pivot_root: masked paths, read-only paths, read-only root and the
/// requested propagation of the container's own root.
pub fn finalize(spec: &Spec) -> Result<()> {
    let root = Root::open(Path::new("/"))?;
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask(&root, Path::new(p)).with_context(|| format!("linux.maskedPaths: {p}"))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        readonly(&root, Path::new(p)).with_context(|| format!("linux.readonlyPaths: {p}"))?;
    }
    if let Some(p) = linux.and_then(|l| l.rootfs_propagation().clone())
        && let Some(flags) = mounts::propagation_flag(&p)
    {
        mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
            .with_context(|| format!("linux.rootfsPropagation {p}"))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        mounts::remount_ro("/").context("root.readonly")?;
    }
    Ok(())
}

fn mask(root: &Root, p: &Path) -> Result<()> {
    let fd = match root.resolve(p) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e).context("resolve"),
    };
    let target = fd_path(&fd);
    let is_dir = std::fs::metadata(&target)
        .map(|m| m.is_dir())
        .unwrap_or(false);
    if is_dir {
        mount(
            Some("tmpfs"),
            target.as_str(),
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .context("mount empty tmpfs")?;
    } else {
        mount(
            Some("/dev/null"),
            target.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .context("bind /dev/null")?;
    }
    Ok(())
}

fn readonly(root: &Root, p: &Path) -> Result<()> {
    let fd = match root.resolve(p) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e).context("resolve"),
    };
    let target = fd_path(&fd);
    mount(
        Some(target.as_str()),
        target.as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("bind onto itself")?;
    // The bind is a new mount on top: resolve again to reach it.
    let fd = root.resolve(p).context("resolve again")?;
    mounts::remount_ro(&fd_path(&fd))
}

//! Making the rootfs `/`: pivot_root and the old root's detach (or
//! MS_MOVE and a chroot, or a chroot alone), and where the protected
//! binary's overlay mount ends (see security/protected_exe.rs).
//!
//! The overlay outlet runs from is a detached mount: an anonymous mount
//! namespace of its own, dissolved when the last fd on it closes, and that
//! dissolve waits for an expedited RCU grace period (18 ms p50, 125 ms p99
//! with 50 creates at once on the 2-vCPU development VMs; bench/README.md,
//! "Session 9"). The init's `umount2(old root, MNT_DETACH)` waits for one
//! anyway. So when the init has a mount namespace of its own and pivots,
//! it keeps its inherited copy of the mount's fd until the pivot, attaches
//! the mount below the old root once the old root's propagation is cut
//! (slave, after `isolate` made the whole copy a slave or private), and
//! closes the fd: from then on no fd close dissolves anything, and the
//! detach takes the overlay with the old root in the grace period it waits
//! for. The overlay stays what it was (read-only, lower layers only), and
//! is attached only for the few syscalls between the attach and the
//! detach, in a namespace no container process is in yet, on a mount that
//! propagates nowhere.

use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use oci_spec::runtime::LinuxNamespaceType;

use super::{Prepared, root_by_path_switch};
use crate::namespaces::NsPlan;
use crate::security::protected_exe;

/// The old root's entry the overlay is attached onto: a directory every
/// Linux host has (the overlay's usual second lower layer); nothing
/// resolves a path below the old root between the attach and the detach.
const OVERLAY_TARGET: &std::ffi::CStr = c"sys";

/// Whether the init keeps its copy of the overlay's mount fd for `pivot`
/// to attach below the old root: only with a mount namespace the clone
/// made for this container alone and pivot_root. A joined mount
/// namespace has other processes in it, and without pivot_root nothing
/// is detached: there the init closes its copy first thing, as before.
pub fn keeps_binary_mount(plan: &NsPlan, no_pivot: bool) -> bool {
    plan.creates(LinuxNamespaceType::Mount) && !plan.joins(LinuxNamespaceType::Mount) && !no_pivot
}

/// Make the rootfs `/`. With pivot_root the old root is detached entirely,
/// so nothing of the host's tree stays reachable.
/// Without a mount namespace of its own the container's root is a chroot,
/// as runc makes it: pivot_root or MS_MOVE would change the caller's `/`.
pub fn pivot(prepared: &Prepared, no_pivot: bool, mountns: bool) -> Result<()> {
    let rootfs = prepared.root.path();
    if root_by_path_switch() {
        nix::unistd::chdir(rootfs).with_context(|| format!("chdir {}", rootfs.display()))?;
    } else {
        nix::unistd::fchdir(prepared.root.fd().as_raw_fd())
            .with_context(|| format!("enter rootfs {}", rootfs.display()))?;
    }
    if !mountns {
        // `keeps_binary_mount` said no: the init closed it already.
        protected_exe::release_mount();
        nix::unistd::chroot(".").context("chroot (no mount namespace)")?;
    } else if no_pivot {
        protected_exe::release_mount();
        super::nopivot::hide_host_proc_sys(rootfs)?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .context("move rootfs to / (--no-pivot)")?;
        nix::unistd::chroot(".").context("chroot (--no-pivot)")?;
    } else {
        pivot_and_detach()?;
    }
    nix::unistd::chdir("/").context("chdir /")?;
    visible_control()
}

/// pivot_root(".", ".") stacks the old root on the new one. "." is then
/// still the new root (the stacked mount is not followed), so the rslave
/// below would hit the container's own mounts and undo a mount's "shared"
/// option: step onto the old root by an fd opened before the pivot (as
/// runc does), then detach it from there, the binary's overlay with it.
fn pivot_and_detach() -> Result<()> {
    // openat2 is one syscall; musl's open(O_CLOEXEC) adds an fcntl.
    let old_root = crate::syscall::openat2(
        libc::AT_FDCWD,
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .context("open the old root")?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    nix::unistd::fchdir(old_root.as_raw_fd()).context("fchdir to the old root")?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("make the old root a slave")?;
    // Only now: every mount of the old root is a slave or private, so the
    // attach propagates to no other namespace. Should it fail (a host
    // without /sys), the fd is closed as before: the protection is the
    // same, only the grace period is this close's.
    if !crate::fault::control("OUTLET_OVERLAY_IN_ROOT")
        && let Err(e) = protected_exe::attach_mount_at(&old_root, OVERLAY_TARGET)
    {
        crate::logging::debug(|| format!("{e:#}: closed instead"));
    }
    drop(old_root);
    umount2(".", MntFlags::MNT_DETACH).context("detach the old root")
}

/// The controls of tests/attack_s9_overlay.rs (debug builds only): the overlay
/// attached before `isolate` cuts the propagation, onto /sys of the copy
/// of the caller's tree that still shares the caller's peer groups, ...
pub fn early_control() -> Result<()> {
    if crate::fault::control("OUTLET_OVERLAY_EARLY") {
        let host_root = std::fs::File::open("/").context("open /")?;
        protected_exe::attach_mount_at(&host_root, OVERLAY_TARGET)?;
    }
    Ok(())
}

/// ... or attached in the container's own tree (its /tmp), where the
/// container finds it.
fn visible_control() -> Result<()> {
    if crate::fault::control("OUTLET_OVERLAY_IN_ROOT") {
        let root = std::fs::File::open("/").context("open /")?;
        protected_exe::attach_mount_at(&root, c"tmp")?;
    }
    Ok(())
}

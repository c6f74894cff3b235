//! A spec entry with the `remount` option: it makes no mount but changes
//! the one at its destination, as mount(2)'s MS_REMOUNT does for runc.
//! Done only to a filesystem an earlier entry of the same spec made: what
//! else can be at a destination (the rootfs, a bind of a host directory,
//! a mount point of the image) may be a filesystem the host uses, and a
//! remount reconfigures a superblock for every mount of it, the host's
//! included (`ro` or `size=` on a bound host tmpfs would reach the host).

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result, bail};
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;

use super::devices::mount_id;
use super::fdmount;
use super::mounts::{self, parse_options};
use super::paths::Root;

pub fn is_remount(m: &Mount) -> bool {
    m.options()
        .as_ref()
        .is_some_and(|o| o.iter().any(|x| x == "remount"))
}

/// Superblock flags fsconfig takes by these names, both ways.
const SB_FLAGS: &[&str] = &[
    "ro",
    "rw",
    "sync",
    "async",
    "dirsync",
    "lazytime",
    "nolazytime",
    "mand",
    "nomand",
];

/// Apply the entry's options to the mount at its destination, which must
/// be the root of one of `made` (the filesystems this spec's earlier
/// entries made, each held by its fd): the per-mount flags it names with
/// mount_setattr (flags it does not name keep their value, where mount(2)
/// would clear them), its superblock flags and data with fspick and
/// reconfigure, then its recursive attributes and propagation. Everything
/// acts on the fd of the mount outlet made, never on a path again.
pub fn remount(root: &Root, m: &Mount, index: usize, made: &[OwnedFd]) -> Result<()> {
    let dest = m.destination();
    let field = || format!("mounts[{index}] ({})", dest.display());
    let target = root
        .resolve(dest)
        .with_context(|| format!("{}: option \"remount\": resolve", field()))?;
    let own = own_mount(&target, made).with_context(field)?;
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    mounts::set_flags(own, &opts).with_context(|| format!("{}: remount", field()))?;
    let mut params: Vec<(&str, Option<&str>)> = m
        .options()
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|o| SB_FLAGS.contains(o))
        .map(|o| (o, None))
        .collect();
    let data = opts.data.join(",");
    params.extend(mounts::fs_params(MsFlags::empty(), &data).0);
    if !params.is_empty() {
        fdmount::reconfigure(own, &params).with_context(|| format!("{}: remount", field()))?;
    }
    mounts::set_rec_and_propagation(own, &opts).with_context(field)
}

/// Which of `made` the resolved destination is the root of; an error
/// naming the option when it is none.
fn own_mount<'a>(target: &OwnedFd, made: &'a [OwnedFd]) -> Result<&'a OwnedFd> {
    let id = mount_id(target)?;
    for fd in made.iter().rev() {
        if mount_id(fd)? != id {
            continue;
        }
        let (a, b) = (
            nix::sys::stat::fstat(target.as_raw_fd()).context("fstat the destination")?,
            nix::sys::stat::fstat(fd.as_raw_fd()).context("fstat the mount")?,
        );
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
            bail!(
                "option \"remount\": the destination is inside a filesystem this spec made, \
                 not where it is mounted"
            );
        }
        return Ok(fd);
    }
    bail!(
        "option \"remount\": the destination is not a filesystem an earlier entry of this \
         spec made (it is the rootfs, a bind or a mount of the image), and a remount would \
         reconfigure a filesystem the host may share: outlet remounts only filesystems it made \
         for this container"
    )
}

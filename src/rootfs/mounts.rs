//! The spec's `mounts`, in order, with their options and propagation.

use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::{MsFlags, mount};
use oci_spec::runtime::Mount;

use super::paths::{Kind, Root, fd_path};
use crate::cgroups::CgroupPaths;

/// Mount options split into what mount(2) takes as flags, what needs a
/// separate propagation call, and what goes to the filesystem as data.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub flags: MsFlags,
    pub propagation: MsFlags,
    pub data: Vec<String>,
    pub bind: bool,
}

pub fn parse_options(opts: &[String]) -> Options {
    let mut o = Options {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: Vec::new(),
        bind: false,
    };
    for opt in opts {
        let (set, clear) = match opt.as_str() {
            "bind" => {
                o.bind = true;
                (MsFlags::MS_BIND, MsFlags::empty())
            }
            "rbind" => {
                o.bind = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
            }
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation |= propagation_flag(opt).unwrap_or(MsFlags::empty());
                continue;
            }
            // Options outlet does not act on (tmpcopyup, idmap, ...) are not
            // passed to the filesystem, which would refuse them.
            "tmpcopyup" | "idmap" | "ridmap" | "copy-symlink" | "nocopyup" | "notmpcopyup" => {
                continue;
            }
            data => {
                o.data.push(data.to_string());
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
    }
    o
}

pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Mount one spec entry below `root` (before pivot_root).
pub fn mount_one(
    root: &Root,
    m: &Mount,
    index: usize,
    cgroup: &CgroupPaths,
    cgroupns: bool,
    mount_label: Option<&str>,
) -> Result<()> {
    let dest = m.destination();
    let field = || format!("mounts[{index}] ({})", dest.display());
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let source = m
        .source()
        .as_deref()
        .map(|p| p.to_string_lossy().into_owned());

    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(root, m, &opts, cgroup, cgroupns).with_context(field);
    }

    let bind = opts.bind || typ == "bind";
    let kind = match (&source, bind) {
        (Some(src), true) if !Path::new(src).is_dir() => Kind::File,
        _ => Kind::Dir,
    };
    let target = root.resolve_or_create(dest, kind).with_context(field)?;
    let target = fd_path(&target);
    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data.as_str());

    if bind {
        let src = source.as_deref().unwrap_or("");
        let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
        mount(
            Some(src),
            target.as_str(),
            None::<&str>,
            flags,
            None::<&str>,
        )
        .with_context(|| format!("{}: bind {src}", field()))?;
        // Flags other than bind/rec only take effect on a remount of the bind.
        let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            let fd = remounted(root, dest)?;
            let target = fd_path(&fd);
            let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | locked_flags(&target);
            mount(
                None::<&str>,
                target.as_str(),
                None::<&str>,
                flags,
                None::<&str>,
            )
            .with_context(|| format!("{}: remount {extra:?}", field()))?;
        }
    } else {
        let labeled =
            crate::security::lsm::labeled_mount_data(typ, data.unwrap_or(""), mount_label);
        mount(
            source.as_deref(),
            target.as_str(),
            Some(typ),
            opts.flags,
            labeled.as_deref().or(data),
        )
        .with_context(|| {
            format!(
                "{}: mount type {typ} source {}",
                field(),
                source.as_deref().unwrap_or("")
            )
        })?;
    }
    if !opts.propagation.is_empty() {
        let fd = remounted(root, dest)?;
        let target = fd_path(&fd);
        mount(
            None::<&str>,
            target.as_str(),
            None::<&str>,
            opts.propagation,
            None::<&str>,
        )
        .with_context(|| format!("{}: propagation", field()))?;
    }
    Ok(())
}

/// Flags the kernel keeps locked on a mount (nosuid, nodev, noexec, atime
/// flags): a bind remount must repeat them or fails with EPERM in a user
/// namespace.
pub fn locked_flags(path: &str) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return MsFlags::empty();
    };
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

/// A `cgroup` mount: on a unified host a cgroup2 mount (the container sees
/// its own cgroup as the root when it has a cgroup namespace); on a v1 host
/// a tmpfs holding a bind of the container's directory of each controller.
fn mount_cgroup(
    root: &Root,
    m: &Mount,
    opts: &Options,
    cgroup: &CgroupPaths,
    cgroupns: bool,
) -> Result<()> {
    let dest = m.destination();
    let target = root.resolve_or_create(dest, Kind::Dir)?;
    let target = fd_path(&target);
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let base = opts.flags & !(MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC);
    if let Some(dir) = &cgroup.unified {
        // A fresh cgroup2 mount shows the cgroup namespace's root: only
        // with a namespace of its own is that the container's directory.
        let fresh = cgroupns
            && mount(
                Some("cgroup2"),
                target.as_str(),
                Some("cgroup2"),
                opts.flags,
                None::<&str>,
            )
            .is_ok();
        if !fresh {
            // Without a cgroup namespace of its own, show only its directory.
            let d = dir.to_string_lossy();
            mount(
                Some(d.as_ref()),
                target.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .with_context(|| format!("bind cgroup {d}"))?;
            if ro {
                remount_ro(&fd_path(&remounted(root, dest)?))?;
            }
        }
        return Ok(());
    }
    mount(
        Some("tmpfs"),
        target.as_str(),
        Some("tmpfs"),
        base,
        Some("mode=755"),
    )
    .context("tmpfs for cgroup v1 hierarchies")?;
    for (ctrl, dir) in &cgroup.v1 {
        let sub = dest.join(ctrl);
        let t = root.resolve_or_create(&sub, Kind::Dir)?;
        let t = fd_path(&t);
        let d = dir.to_string_lossy();
        mount(
            Some(d.as_ref()),
            t.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind cgroup {d} at {}", sub.display()))?;
        if ro {
            remount_ro(&fd_path(&remounted(root, &sub)?))?;
        }
    }
    if ro {
        remount_ro(&fd_path(&remounted(root, dest)?))?;
    }
    Ok(())
}

/// The fd resolved before a mount names the directory underneath it; a
/// remount or propagation change must name the new mount, so resolve again.
fn remounted(root: &Root, dest: &Path) -> Result<OwnedFd> {
    root.resolve(dest)
        .with_context(|| format!("resolve {} after mounting", dest.display()))
}

pub fn remount_ro(target: &str) -> Result<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(target);
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .with_context(|| format!("remount {target} read-only"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_flags_data_and_propagation() {
        let o = parse_options(&s(&[
            "nosuid",
            "noexec",
            "mode=755",
            "size=65536k",
            "rslave",
        ]));
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert!(!o.bind);
    }

    #[test]
    fn later_options_win() {
        let o = parse_options(&s(&["ro", "rw", "rbind"]));
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert!(o.bind);
        let o = parse_options(&s(&["rw", "ro"]));
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
    }
}

//! The spec's `mounts`, in order, with their options and propagation.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;
use oci_spec::runtime::Mount;

use super::fdmount::{self, Change};
use super::paths::{Kind, Root, fd_path};
use super::{copyup, freshdev, idmap};
use crate::cgroups::CgroupPaths;
use crate::syscall::openat2;

pub use crate::spec::mount_options::{Options, parse as parse_options, propagation_flag};

/// Mount one spec entry below `root` (before pivot_root), a bind from
/// `opened` when `open_binds` made it. The options were checked by
/// `spec::mount_options::check` when the spec was loaded. Returns the
/// new filesystem's mount (an O_PATH fd of its root) when it was made
/// from an fd, so the caller can tell it by its id without a lookup.
/// `later` are the entries after this one and their options (a read-only
/// cgroup tmpfs holds their mount points).
#[allow(clippy::too_many_arguments)]
pub fn mount_one(
    root: &Root,
    (m, opts): (&Mount, &Options),
    index: usize,
    later: (&[Mount], &[Options]),
    cgroup: &CgroupPaths,
    cgroupns: bool,
    opened: Option<&BindTree>,
    mount_label: Option<&str>,
) -> Result<Option<OwnedFd>> {
    let dest = m.destination();
    let field = || format!("mounts[{index}] ({})", dest.display());
    let typ = m.typ().as_deref().unwrap_or("");

    if typ == "cgroup" || typ == "cgroup2" {
        mount_cgroup(root, m, opts, (cgroup, cgroupns), later).with_context(field)?;
        after_mount(root, dest, opts).with_context(field)?;
        return Ok(None);
    }
    if is_bind(m, opts) {
        let attach = |b: &BindTree| attach_bind(root, m, b).with_context(field);
        match opened {
            Some(b) => attach(b)?,
            None => attach(&detached_bind(m, opts, false).with_context(field)?)?,
        }
        return Ok(None);
    }
    filesystem(root, m, opts, mount_label, None).with_context(field)
}

/// `mount_one` of a new filesystem at `/dev/NAME` while /dev is the tmpfs
/// `dev` outlet just made (`freshdev`): its target is looked up in that
/// tmpfs by the one name, not walked from the root.
pub fn mount_fresh_dev_child(
    root: &Root,
    (m, opts): (&Mount, &Options),
    index: usize,
    dev: (&OwnedFd, &CString),
    mount_label: Option<&str>,
) -> Result<Option<OwnedFd>> {
    filesystem(root, m, opts, mount_label, Some(dev))
        .with_context(|| format!("mounts[{index}] ({})", m.destination().display()))
}

/// A bind mount's source cloned with open_tree and given its attributes,
/// propagation and id-mapping while detached (so it is never visible
/// writable or with the wrong flags), not attached yet.
pub struct BindTree {
    tree: OwnedFd,
    is_dir: bool,
}

/// Without host root (rootless: `open_binds` did not run), the init opens
/// and clones bind sources inside its user namespace, so it reaches only
/// what the caller may reach (a symlink an image puts on a source path
/// leads nowhere the caller could not go; CAP_DAC_OVERRIDE there covers
/// only files of the mapped ids). Such a bind cannot be id-mapped:
/// MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN in the user namespace of the
/// source's filesystem, the host's. Refused by name, as runc refuses
/// id-mapped mounts for rootless containers, rather than failing with a
/// bare EPERM.
pub fn refuse_rootless_idmap(m: &Mount, opts: &Options, index: usize) -> Result<()> {
    if is_bind(m, opts) && (m.uid_mappings().is_some() || opts.idmap.is_some()) {
        anyhow::bail!(
            "mounts[{index}] ({}): id-mapped mounts are not supported for rootless containers \
             (outlet not run as root): the kernel lets only the host's root id-map a host \
             filesystem",
            m.destination().display()
        );
    }
    Ok(())
}

/// A mount that makes a filesystem of its own (tmpfs, devpts, ...), not a
/// bind of something that exists and not a cgroup mount (a bind on v2
/// without a cgroup namespace).
pub fn is_new_filesystem(m: &Mount, opts: &Options) -> bool {
    let typ = m.typ().as_deref().unwrap_or("");
    !is_bind(m, opts) && typ != "cgroup" && typ != "cgroup2"
}

/// A read-only tmpfs at /dev: made writable, filled with the device nodes
/// and the later mounts' points, and made read-only by `ro_dev_last` once
/// all of that is in (runc issue 3248: a ro /dev could not hold
/// /dev/pts).
pub fn is_ro_dev_tmpfs(m: &Mount, opts: &Options) -> bool {
    m.typ().as_deref() == Some("tmpfs")
        && opts.flags.contains(MsFlags::MS_RDONLY)
        && crate::spec::normalized(m.destination()) == Path::new("/dev")
        && !is_bind(m, opts)
}

fn is_bind(m: &Mount, opts: &Options) -> bool {
    let typ = m.typ().as_deref().unwrap_or("");
    typ != "cgroup" && typ != "cgroup2" && (opts.bind || typ == "bind")
}

/// For a container with a user namespace, run by `outlet create` before
/// the clone: the init loses the host's privileges when it enters the
/// namespace, so a source under a directory only host root may search
/// (mode 0700) is opened here, as runc does. Indexed like `mounts`; the
/// fds are close-on-exec.
pub fn open_binds(mounts: &[Mount], options: &[Options]) -> Result<Vec<Option<BindTree>>> {
    mounts
        .iter()
        .zip(options)
        .enumerate()
        .map(|(i, (m, opts))| {
            if !is_bind(m, opts) {
                return Ok(None);
            }
            detached_bind(m, opts, true)
                .map(Some)
                .with_context(|| format!("mounts[{i}] ({})", m.destination().display()))
        })
        .collect()
}

/// For a container whose `linux.rootfsPropagation` is shared/rshared (a
/// Kubernetes `Bidirectional` volume), run by the init before `isolate`
/// makes its copy of the host's tree a slave: the binds whose options ask
/// shared/rshared, cloned while their sources are still peers of the
/// host's mounts, so the clone joins the source's peer group and a mount
/// the container makes below it reaches the host, as with runc. Nothing
/// else is cloned this early; indexed like `mounts`.
pub fn open_shared_binds(mounts: &[Mount], options: &[Options]) -> Result<Vec<Option<BindTree>>> {
    mounts
        .iter()
        .zip(options)
        .enumerate()
        .map(|(i, (m, opts))| {
            let shared = opts
                .propagation
                .iter()
                .any(|p| p.contains(MsFlags::MS_SHARED));
            if !is_bind(m, opts) || !shared {
                return Ok(None);
            }
            detached_bind(m, opts, false)
                .map(Some)
                .with_context(|| format!("mounts[{i}] ({})", m.destination().display()))
        })
        .collect()
}

/// `from_host`: cloned from the host's mount namespace (by create), not
/// from the init's copy, which `rootfs::prepare` made a slave first.
fn detached_bind(m: &Mount, opts: &Options, from_host: bool) -> Result<BindTree> {
    let src = m.source().as_deref().unwrap_or(Path::new(""));
    let src_fd = openat2(libc::AT_FDCWD, src, libc::O_PATH | libc::O_CLOEXEC, 0)
        .with_context(|| format!("open bind source {}", src.display()))?;
    let st = nix::sys::stat::fstat(src_fd.as_raw_fd())
        .with_context(|| format!("stat bind source {}", src.display()))?;
    let tree = fdmount::clone_tree(&src_fd, opts.recursive_bind)
        .with_context(|| format!("bind {}", src.display()))?;
    if from_host {
        // A clone of a shared host mount joins its peer group: a mount the
        // container made below it would appear on the host. As a slave it
        // still receives the host's mounts and sends nothing back (the
        // spec's propagation options apply after this). 6.1 and 6.18 were
        // seen to attach it as a slave anyway; this does not rely on that.
        let c = Change {
            propagation: MsFlags::MS_SLAVE.bits(),
            ..Change::default()
        };
        fdmount::change_attr(&tree, &c, true).context("make the bind a slave")?;
    }
    set_flags(&tree, opts).context("the bind")?;
    set_rec_and_propagation(&tree, opts)?;
    if m.uid_mappings().is_some() || opts.idmap.is_some() {
        let uid = m.uid_mappings().as_deref().unwrap_or(&[]);
        let gid = m.gid_mappings().as_deref().unwrap_or(&[]);
        let ns = idmap::userns(uid, gid).context("uidMappings/gidMappings")?;
        let c = Change {
            set: fdmount::MOUNT_ATTR_IDMAP,
            userns: Some(ns.as_raw_fd()),
            ..Change::default()
        };
        fdmount::change_attr(&tree, &c, opts.idmap == Some(true))
            .context("uidMappings/gidMappings: id-map the bind mount")?;
    }
    Ok(BindTree {
        tree,
        is_dir: st.st_mode & libc::S_IFMT == libc::S_IFDIR,
    })
}

/// Attach a bind onto its target resolved inside the root (created as a
/// directory or a file, like its source). No path is looked up after the
/// source was opened.
fn attach_bind(root: &Root, m: &Mount, b: &BindTree) -> Result<()> {
    let kind = if b.is_dir { Kind::Dir } else { Kind::File };
    let target = root.resolve_or_create(m.destination(), kind)?;
    not_into_proc(m, &target)?;
    fdmount::attach(&b.tree, &target).context("attach the bind mount")
}

/// The spec's check of mounts under /proc (`spec::proc_mounts`) is
/// lexical, but an image symlink (`/p -> /proc`) or an earlier mount leads
/// any destination into a procfs: a bind at `/p/sys/net` would cover
/// `/proc/sys/net`. So the target, once resolved, must not be on a procfs
/// unless its destination is one runc allows there. The filesystem is
/// what matters: a target under the rootfs's /proc directory that is not
/// (yet) a procfs covers no kernel file, and a later `proc` mount there
/// goes on top of it. Mounts under /sys are not refused, as runc does not:
/// outlet makes no write through the container's /sys.
fn not_into_proc(m: &Mount, target: &OwnedFd) -> Result<()> {
    if unchecked_switch() {
        return Ok(());
    }
    let fs = nix::sys::statfs::fstatfs(target).context("statfs the mount's target")?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Ok(());
    }
    let dest = crate::spec::normalized(m.destination());
    if dest.starts_with("/proc") && crate::spec::proc_mount_allowed(&dest, m) {
        return Ok(());
    }
    anyhow::bail!(
        "the destination resolves into a procfs (through a symlink or an earlier mount): {}",
        crate::spec::PROC_MOUNTS_REFUSED
    )
}

/// The test-only way to skip `not_into_proc`, so that a test can show its
/// attack lands without it. Debug builds only: a release build has no
/// such switch.
#[cfg(debug_assertions)]
fn unchecked_switch() -> bool {
    std::env::var_os("OUTLET_UNCHECKED_PROC_MOUNTS").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
fn unchecked_switch() -> bool {
    false
}

/// The per-mount flags an entry names (ro, nosuid, noatime, ...), in one
/// mount_setattr on the mount `fd` refers to; nothing when it names none.
pub(super) fn set_flags(fd: &OwnedFd, opts: &Options) -> Result<()> {
    if opts.attrs.is_empty() {
        return Ok(());
    }
    let (set, clr) = opts.attrs.set_clr();
    let c = Change {
        set,
        clr,
        ..Change::default()
    };
    fdmount::change_attr(fd, &c, false).context("set mount flags")
}

/// The recursive attributes (rro, rnosuid, ...) and propagation changes,
/// in one call each, on the mount `fd` refers to.
pub(super) fn set_rec_and_propagation(fd: &OwnedFd, opts: &Options) -> Result<()> {
    if !opts.rec.is_empty() {
        let (set, clr) = opts.rec.set_clr();
        let c = Change {
            set,
            clr,
            ..Change::default()
        };
        fdmount::change_attr(fd, &c, true).context("set recursive mount attributes")?;
    }
    for p in &opts.propagation {
        let c = Change {
            propagation: (*p & !MsFlags::MS_REC).bits(),
            ..Change::default()
        };
        fdmount::change_attr(fd, &c, p.contains(MsFlags::MS_REC))
            .with_context(|| format!("propagation {p:?}"))?;
    }
    Ok(())
}

/// Recursive attributes and propagation of a mount made with mount(2):
/// they apply to the new mount, so it is resolved again.
fn after_mount(root: &Root, dest: &Path, opts: &Options) -> Result<()> {
    if opts.rec.is_empty() && opts.propagation.is_empty() {
        return Ok(());
    }
    set_rec_and_propagation(&remounted(root, dest)?, opts)
}

/// proc and sysfs go only where the path has no symlink on the way, as
/// runc has it ("must be mounted on ordinary directory", its mask.bats):
/// an image that points /proc elsewhere would have the kernel's files
/// where the masks and read-only paths do not expect them. Some(fd) of the
/// existing target, None when it is missing (made as for any mount) or
/// for other types.
fn kernel_fs_target(root: &Root, dest: &Path, typ: &str) -> Result<Option<OwnedFd>> {
    if typ != "proc" && typ != "sysfs" {
        return Ok(None);
    }
    match root.resolve_no_symlinks(dest) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => anyhow::bail!(
            "mounts {}: filesystem {typ:?} must be mounted on ordinary directory (the rootfs has a symlink on the way)",
            dest.display()
        ),
        Err(_) => Ok(None),
    }
}

/// A new filesystem (tmpfs, proc, ...) mounted onto the target resolved
/// inside the root. As runc: a tmpfs over an existing directory takes its
/// mode unless `mode=` says otherwise, and `tmpcopyup` fills the new tmpfs
/// with what the directory held.
///
/// The filesystem is made detached (fsopen/fsmount), filled, given its
/// attributes and propagation, then attached onto the target's fd: no
/// step looks the destination up again, so a process that swaps a path
/// of the rootfs meanwhile (the image is hostile, a sibling may share
/// the bundle) cannot have outlet copy into, change or count as its own
/// some other mount (a bind of a host directory). Returns that mount.
fn filesystem(
    root: &Root,
    m: &Mount,
    opts: &Options,
    mount_label: Option<&str>,
    fresh_dev: Option<(&OwnedFd, &CString)>,
) -> Result<Option<OwnedFd>> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    let (existing, ready, missing) = find_target(root, dest, typ, fresh_dev)?;
    let mut data = String::new();
    let mut copy_from = None;
    let mut flags = opts.flags;
    if let Some(fd) = &existing {
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).context("stat the directory")?;
        // The spec's own `mode=` wins anyway (the last value counts): then
        // the directory's is not passed at all.
        let own_mode = opts.data.iter().any(|d| d.starts_with("mode="));
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            if !own_mode {
                data = format!("mode={:o}", st.st_mode & 0o7777);
            }
            if opts.tmpcopyup {
                copy_from = Some(copyup::open_dir(fd).context("tmpcopyup: open the directory")?);
                // Filled first, then made read-only.
                flags &= !MsFlags::MS_RDONLY;
            }
        }
    }
    if is_ro_dev_tmpfs(m, opts) {
        flags &= !MsFlags::MS_RDONLY;
    }
    for d in &opts.data {
        if !data.is_empty() {
            data.push(',');
        }
        data.push_str(d);
    }
    if let Some(labeled) = crate::security::lsm::labeled_mount_data(typ, &data, mount_label) {
        data = labeled;
    }
    let target = match (existing.or(ready), missing) {
        (Some(fd), _) => fd,
        (None, true) => root.create_path(dest, Kind::Dir)?,
        (None, false) => root.resolve_or_create(dest, Kind::Dir)?,
    };
    not_into_proc(m, &target)?;
    if flags.intersects(NOT_BY_FD) && typ != "tmpfs" {
        legacy_filesystem(root, m, opts, (flags, &data), &target, copy_from)?;
        return Ok(None);
    }
    let source = m.source().as_deref().map(|p| p.to_string_lossy());
    let (params, attrs) = fs_params(flags, &data);
    let new =
        fdmount::new_filesystem(typ, source.as_deref(), &params, attrs).with_context(|| {
            format!(
                "mount type {typ} source {} options {data:?}",
                source.as_deref().unwrap_or("")
            )
        })?;
    if let Some(from) = copy_from {
        copyup::copy(&from, &new).context("tmpcopyup: copy the directory into the tmpfs")?;
        if opts.flags.contains(MsFlags::MS_RDONLY) {
            fdmount::set_attr(&new, fdmount::MOUNT_ATTR_RDONLY, false)
                .context("tmpcopyup: make the tmpfs read-only")?;
        }
    }
    set_rec_and_propagation(&new, opts)?;
    fdmount::attach(&new, &target).context("attach the new filesystem")?;
    Ok(Some(new))
}

/// Where a new filesystem goes: the directory it covers when it is there
/// (a tmpfs takes its mode), else a target ready to mount on (a proc's or
/// sysfs's found without a symlink, or the name made in the fresh /dev
/// tmpfs), and whether the destination was found missing (to be made by
/// the walk from the root without looking it up again).
fn find_target(
    root: &Root,
    dest: &Path,
    typ: &str,
    fresh_dev: Option<(&OwnedFd, &CString)>,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>, bool)> {
    // In the fresh /dev tmpfs: made there now (no mode to take), or there
    // already; when that fails, the walk from the root as for any.
    match fresh_dev.and_then(|(dir, name)| freshdev::open_child(dir, name)) {
        Some((fd, true)) if typ == "tmpfs" => return Ok((Some(fd), None, false)),
        // Opened without following a symlink, as proc and sysfs want.
        Some((fd, _)) => return Ok((None, Some(fd), false)),
        None => {}
    }
    // A tmpfs takes the mode of the directory it covers: look it up once,
    // and when it is missing walk on from there without a second lookup.
    let (existing, missing) = match (typ == "tmpfs").then(|| root.resolve(dest)) {
        Some(Ok(fd)) => (Some(fd), false),
        Some(Err(e)) => (None, e.raw_os_error() == Some(libc::ENOENT)),
        None => (None, false),
    };
    Ok((existing, kernel_fs_target(root, dest, typ)?, missing))
}

/// Superblock flags only mount(2) passes (fsconfig has no generic name
/// for them). A tmpfs sets both itself (SB_POSIXACL with
/// CONFIG_TMPFS_POSIX_ACL, SB_I_VERSION since Linux 6.6), so for a tmpfs
/// they change nothing and it is made by fd all the same; any other type
/// with one of them is mounted as before, by path, and never counted as
/// outlet's own (see `rootfs::mount_all`). `silent` is not here: it only
/// keeps a failing mount's messages out of the kernel log, and fsopen
/// sends them to the context's log, which outlet reads into its error.
/// `remount` is `rootfs::remount`'s.
const NOT_BY_FD: MsFlags = MsFlags::MS_POSIXACL.union(MsFlags::MS_I_VERSION);

/// The fsconfig parameters and fsmount attributes that make what mount(2)
/// makes of `flags` and the data string: superblock flags by the names
/// the kernel's fs_context knows, per-mount flags as MOUNT_ATTR_* with
/// mount(2)'s atime rule (strictatime beats noatime beats the relatime
/// default), then each `key=value` or `flag` of the data. A value in
/// double quotes (an SELinux `context="..."`, which may hold commas) is
/// one value, given without its quotes as fsconfig takes it.
pub(super) fn fs_params(flags: MsFlags, data: &str) -> (Vec<(&str, Option<&str>)>, u64) {
    let mut params: Vec<(&str, Option<&str>)> = Vec::new();
    for (f, name) in [
        (MsFlags::MS_RDONLY, "ro"),
        (MsFlags::MS_SYNCHRONOUS, "sync"),
        (MsFlags::MS_DIRSYNC, "dirsync"),
        (MsFlags::MS_LAZYTIME, "lazytime"),
        (MsFlags::MS_MANDLOCK, "mand"),
    ] {
        if flags.contains(f) {
            params.push((name, None));
        }
    }
    let mut attrs = 0;
    for (f, a) in [
        (MsFlags::MS_RDONLY, fdmount::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, fdmount::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, fdmount::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, fdmount::MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, fdmount::MOUNT_ATTR_NODIRATIME),
        (MS_NOSYMFOLLOW, fdmount::MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if flags.contains(f) {
            attrs |= a;
        }
    }
    if flags.contains(MsFlags::MS_STRICTATIME) {
        attrs |= fdmount::MOUNT_ATTR_STRICTATIME;
    } else if flags.contains(MsFlags::MS_NOATIME) {
        attrs |= fdmount::MOUNT_ATTR_NOATIME;
    }
    let mut rest = data;
    while !rest.is_empty() {
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                quoted ^= c == '"';
                c == ',' && !quoted
            })
            .map_or(rest.len(), |(i, _)| i);
        let item = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        match item.split_once('=') {
            Some((k, v)) => {
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                params.push((k, Some(v)));
            }
            None if !item.is_empty() => params.push((item, None)),
            None => {}
        }
    }
    (params, attrs)
}

const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// mount(2) by the target's /proc/self/fd path, for the flags in
/// `NOT_BY_FD`. tmpcopyup and the recursive attributes look the
/// destination up again here; the caller never trusts what this made.
fn legacy_filesystem(
    root: &Root,
    m: &Mount,
    opts: &Options,
    (flags, data): (MsFlags, &str),
    target: &OwnedFd,
    copy_from: Option<OwnedFd>,
) -> Result<()> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    let source = m.source().as_deref().map(|p| p.to_string_lossy());
    mount(
        source.as_deref(),
        fd_path(target).as_str(),
        Some(typ),
        flags,
        (!data.is_empty()).then_some(data),
    )
    .with_context(|| {
        format!(
            "mount type {typ} source {} options {data:?}",
            source.as_deref().unwrap_or("")
        )
    })?;
    if let Some(from) = copy_from {
        let new = remounted(root, dest)?;
        copyup::copy(&from, &new).context("tmpcopyup: copy the directory into the tmpfs")?;
        if opts.flags.contains(MsFlags::MS_RDONLY) {
            fdmount::set_attr(&new, fdmount::MOUNT_ATTR_RDONLY, false)
                .context("tmpcopyup: make the tmpfs read-only")?;
        }
    }
    after_mount(root, dest, opts)
}

/// A `cgroup` mount: on a unified host a cgroup2 mount (the container sees
/// its own cgroup as the root when it has a cgroup namespace); on a v1 host
/// a tmpfs holding a bind of the container's directory of each controller.
///
/// Made by fd: the tmpfs is made detached and attached onto the target's
/// fd, each controller's directory is made in that tmpfs through its fd,
/// and each bind is cloned, made read-only while detached and attached
/// there. Nothing resolves the destination again after it was mounted,
/// so a swap of a path in the rootfs meanwhile cannot lead a bind (or a
/// mkdir) into a host directory, and no call goes through
/// /proc/self/fd.
fn mount_cgroup(
    root: &Root,
    m: &Mount,
    opts: &Options,
    (cgroup, cgroupns): (&CgroupPaths, bool),
    later: (&[Mount], &[Options]),
) -> Result<()> {
    let dest = m.destination();
    let target = root.resolve_or_create(dest, Kind::Dir)?;
    not_into_proc(m, &target)?;
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    // Every bind carries the spec's ro/nosuid/nodev/noexec, as runc's do
    // (engines ask for all four): one mount_setattr while it is detached.
    let bind_attrs = [
        (MsFlags::MS_RDONLY, fdmount::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, fdmount::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, fdmount::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, fdmount::MOUNT_ATTR_NOEXEC),
    ]
    .iter()
    .filter(|(f, _)| opts.flags.contains(*f))
    .fold(0, |acc, (_, a)| acc | a);
    let mut hierarchies = cgroup.hierarchies().peekable();
    // v1 hierarchies go side by side on a tmpfs, each under its
    // controller's name; a cgroup2 one is the mount point itself.
    let side_by_side = hierarchies.peek().is_none_or(|(ctrl, _)| ctrl.is_some());
    // A fresh cgroup2 mount shows the cgroup namespace's root: only with a
    // namespace of its own is that the container's directory.
    if !side_by_side && cgroupns {
        let (params, attrs) = fs_params(opts.flags, "");
        if let Ok(fs) = fdmount::new_filesystem("cgroup2", Some("cgroup2"), &params, attrs)
            && fdmount::attach(&fs, &target).is_ok()
        {
            return Ok(());
        }
    }
    let tmpfs = if side_by_side {
        let base = opts.flags & !(MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC);
        let (params, attrs) = fs_params(base, "mode=755");
        let fs = fdmount::new_filesystem("tmpfs", Some("tmpfs"), &params, attrs)
            .context("tmpfs for cgroup v1 hierarchies")?;
        fdmount::attach(&fs, &target).context("attach the tmpfs for cgroup v1 hierarchies")?;
        Some(fs)
    } else {
        None
    };
    crate::fault::pause("rootfs:cgroup-mounted");
    for (ctrl, dir) in hierarchies {
        let ctrl = ctrl.map(crate::cgroups::host::mount_name);
        let d = dir.display();
        let sub = || dest.join(ctrl.unwrap_or_default());
        let tree = fdmount::clone_path(dir).with_context(|| format!("bind cgroup {d}"))?;
        if bind_attrs != 0 {
            fdmount::set_attr(&tree, bind_attrs, false)
                .with_context(|| format!("bind cgroup {d} with the spec's flags"))?;
        }
        let placed = match (ctrl, &tmpfs) {
            (Some(c), Some(fs)) if !cgroup_by_path_switch() => in_fresh_dir(&tree, fs, c),
            (Some(_), _) => root
                .resolve_or_create(&sub(), Kind::Dir)
                .and_then(|fd| Ok(fdmount::attach(&tree, &fd)?)),
            (None, _) => fdmount::attach(&tree, &target).map_err(Into::into),
        };
        placed.with_context(|| format!("bind cgroup {d} at {}", sub().display()))?;
    }
    if ro && let Some(fs) = &tmpfs {
        later_mount_points(fs, dest, later).context("mount points in the cgroup tmpfs")?;
        fdmount::set_attr(fs, fdmount::MOUNT_ATTR_RDONLY, false)
            .context("make the cgroup tmpfs read-only")?;
    }
    Ok(())
}

/// Make the directory `name` in the tmpfs outlet just made (`fs`, its
/// root) and attach `tree` onto it. The tmpfs is new and reachable only
/// through this process's mount namespace, where nothing else runs yet:
/// no one can have put a symlink there, and move_mount does not follow a
/// final one anyway.
fn in_fresh_dir(tree: &OwnedFd, fs: &OwnedFd, name: &str) -> Result<()> {
    let c = std::ffi::CString::new(name).context("controller name has NUL")?;
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o755);
    nix::sys::stat::mkdirat(Some(fs.as_raw_fd()), c.as_c_str(), mode)
        .map_err(std::io::Error::from)
        .context("mkdir")?;
    crate::syscall::mount::move_mount_at(tree, fs, &c).context("attach")
}

/// The mount points of the spec's later entries below a read-only cgroup
/// tmpfs, made in it before it turns read-only. podman's `--systemd
/// always` (also its default for /sbin/init) on a v1 host binds the
/// host's name=systemd hierarchy at /sys/fs/cgroup/systemd after the `ro`
/// cgroup mount; runc, whose tmpfs stays writable, runs that spec. A name
/// the tmpfs already holds and outlet did not make here is a controller's
/// bind of a host cgroup directory: nothing is made inside it. The tmpfs
/// is fresh and private to this mount namespace (see `in_fresh_dir`), and
/// mkdirat and O_NOFOLLOW|O_EXCL follow no link anyway.
fn later_mount_points(fs: &OwnedFd, dest: &Path, later: (&[Mount], &[Options])) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let dest = crate::spec::normalized(dest);
    let mut made: Vec<std::ffi::OsString> = Vec::new();
    for (m, opts) in later.0.iter().zip(later.1) {
        // Most destinations are plain absolute paths: no copy to normalize.
        let raw = m.destination();
        let plain = raw.is_absolute()
            && raw
                .components()
                .all(|c| !matches!(c, std::path::Component::ParentDir));
        let full = if plain {
            std::borrow::Cow::Borrowed(raw.as_path())
        } else {
            std::borrow::Cow::Owned(crate::spec::normalized(raw))
        };
        let Ok(rel) = full.strip_prefix(&dest) else {
            continue;
        };
        let names: Vec<_> = rel.iter().collect();
        let Some(first) = names.first() else { continue };
        let ours = made.iter().any(|n| n == first);
        // A bind of a file needs a file to land on; the bind itself is
        // opened and checked later as any other.
        let file = is_bind(m, opts) && m.source().as_ref().is_some_and(|s| !s.is_dir());
        let mut dir: Option<OwnedFd> = None;
        for (k, name) in names.iter().enumerate() {
            let at = dir.as_ref().unwrap_or(fs).as_raw_fd();
            let c = std::ffi::CString::new(name.as_bytes()).context("mount point has NUL")?;
            let last = k + 1 == names.len();
            let res = if last && file {
                let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                crate::syscall::fs::openat(at, c.as_c_str(), flags, Mode::from_bits_truncate(0o644))
                    .map(drop)
            } else {
                nix::sys::stat::mkdirat(Some(at), c.as_c_str(), Mode::from_bits_truncate(0o755))
            };
            match res {
                Ok(()) if k == 0 => made.push(first.to_os_string()),
                Ok(()) => {}
                Err(Errno::EEXIST) if k > 0 || ours => {}
                Err(Errno::EEXIST) => break,
                Err(e) => {
                    return Err(std::io::Error::from(e))
                        .with_context(|| format!("make {}", full.display()));
                }
            }
            if !last {
                let flags =
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let fd = crate::syscall::fs::openat(at, c.as_c_str(), flags, Mode::empty())
                    .with_context(|| format!("open {name:?} below {}", dest.display()))?;
                dir = Some(fd);
            }
        }
    }
    Ok(())
}

/// The test-only way back to resolving each controller's directory by
/// its path in the rootfs after the tmpfs is mounted (the re-resolve
/// `mount_cgroup` no longer makes), so a test can show its attack lands
/// that way. Debug builds only.
#[cfg(debug_assertions)]
fn cgroup_by_path_switch() -> bool {
    std::env::var_os("OUTLET_CGROUP_BY_PATH").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
fn cgroup_by_path_switch() -> bool {
    false
}

/// The fd resolved before a mount names the directory underneath it; a
/// remount or propagation change must name the new mount, so resolve again.
fn remounted(root: &Root, dest: &Path) -> Result<OwnedFd> {
    root.resolve(dest)
        .with_context(|| format!("resolve {} after mounting", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What mount(2) made of flags and data, as fsconfig parameters and
    /// fsmount attributes: superblock flags by name, per-mount flags as
    /// attributes with strictatime beating noatime, a quoted value (an
    /// SELinux context with commas) one parameter without its quotes.
    #[test]
    fn flags_and_data_become_fs_params() {
        let f = MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NOATIME
            | MsFlags::MS_STRICTATIME
            | MsFlags::MS_SYNCHRONOUS;
        let (p, a) = fs_params(
            f,
            "mode=755,newinstance,context=\"system_u:object_r:x:s0:c1,c2\",,size=1k",
        );
        assert_eq!(
            p,
            vec![
                ("ro", None),
                ("sync", None),
                ("mode", Some("755")),
                ("newinstance", None),
                ("context", Some("system_u:object_r:x:s0:c1,c2")),
                ("size", Some("1k")),
            ]
        );
        assert_eq!(
            a,
            fdmount::MOUNT_ATTR_RDONLY
                | fdmount::MOUNT_ATTR_NOSUID
                | fdmount::MOUNT_ATTR_STRICTATIME
        );
        let (p, a) = fs_params(MsFlags::MS_NOATIME | MS_NOSYMFOLLOW, "");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            a,
            fdmount::MOUNT_ATTR_NOATIME | fdmount::MOUNT_ATTR_NOSYMFOLLOW
        );
    }
}

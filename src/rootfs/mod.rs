//! The container's root filesystem: propagation, the spec's mounts, /dev,
//! pivot_root (or MS_MOVE + chroot), then masked and read-only paths and a
//! read-only root. Runs in the init, inside its new mount namespace.

mod copyup;
pub mod devices;
pub mod fdmount;
mod freshdev;
mod idmap;
pub mod mounts;
mod nopivot;
pub mod paths;
mod pivot;
mod remount;

use std::os::fd::AsRawFd;
use std::path::Path;

use crate::spec::Spec;
use anyhow::{Context, Result, bail};
use nix::mount::{MsFlags, mount};
use oci_spec::runtime::{Linux, Mount};

use crate::cgroups::CgroupPaths;
use fdmount::Stamp;
use paths::Root;
pub use pivot::{keeps_binary_mount, pivot};

pub struct Setup<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub cgroup: &'a CgroupPaths,
    /// The spec creates or joins a user namespace. Whether outlet itself
    /// runs in one (rootless podman) is asked only where it matters.
    pub userns: bool,
    pub cgroupns: bool,
    /// False when the container shares its caller's mount namespace (none
    /// listed in the spec): then every mount lands in the caller's table
    /// and the propagation of the caller's `/` is never touched.
    pub mountns: bool,
    /// Binds `mounts::open_binds` prepared before the clone (user
    /// namespace containers); empty otherwise.
    pub binds: &'a [Option<mounts::BindTree>],
    /// Each entry of the spec's `mounts`, its options parsed by `create`
    /// (`spec::mount_options::parse_all`), indexed alike.
    pub options: &'a [mounts::Options],
    pub devices: DevicesGate<'a>,
}

/// The wait for the parent's word that the device program is in force
/// (container/create_devices.rs: on v2 it is attached after the clone),
/// passed once, right before the first step that makes or opens a node
/// in the container (a tmpcopyup, which copies the image's nodes; /dev's
/// nodes, links and console): the mounts before it overlap the parent's
/// load and attach. None where the program was in force before the clone.
pub struct DevicesGate<'a>(std::cell::Cell<Option<&'a dyn Fn() -> Result<()>>>);

impl<'a> DevicesGate<'a> {
    pub fn new(wait: Option<&'a dyn Fn() -> Result<()>>) -> Self {
        DevicesGate(std::cell::Cell::new(wait))
    }

    fn pass(&self) -> Result<()> {
        self.0.take().map_or(Ok(()), |wait| wait())
    }
}

/// What `prepare` opens on the host side for `finalize` to use after
/// pivot_root; dropped (closed) by `finalize`, before the init reports
/// Ready, so the container never holds it.
pub struct Prepared {
    null: Option<Stamp>,
    /// The rootfs's own mount (see `bind_root`), which pivot_root enters.
    root: Root,
}

/// Everything before pivot_root.
pub fn prepare(s: &Setup) -> Result<Prepared> {
    let linux = s.spec.linux().as_ref();
    let mounts = s.spec.mounts().as_deref().unwrap_or(&[]);
    if s.options.len() != mounts.len() {
        bail!(
            "mounts: {} entries but {} parsed",
            mounts.len(),
            s.options.len()
        );
    }
    let early = shared_binds(s, linux, mounts)?;
    pivot::early_control()?;
    isolate(s, linux)?;
    let root = bind_root(s.rootfs)?;
    let binds = early.as_deref().unwrap_or(s.binds);
    let (own, tmpfs) = mount_all(s, &root, mounts, linux, binds)?;
    populate_dev(s, &root, mounts, linux, (&own, &tmpfs))?;
    ro_dev_last(&root, (mounts, s.options), &tmpfs)?;
    // Only a masked file needs it; a spec without masks opens nothing.
    let masks = linux.and_then(|l| l.masked_paths().as_ref());
    let null = match masks {
        Some(m) if !m.is_empty() => Some(devices::host_null().context("linux.maskedPaths")?),
        _ => None,
    };
    Ok(Prepared { null, root })
}

/// A read-only /dev tmpfs (mounted writable by `mounts`) made read-only
/// now that its nodes, links and mount points are in. Only the tmpfs this
/// create mounted at /dev, checked by its mount id: a /dev swapped for
/// something else meanwhile is refused, not made read-only.
fn ro_dev_last(
    root: &Root,
    (mounts, opts): (&[Mount], &[mounts::Options]),
    dev_tmpfs: &[u64],
) -> Result<()> {
    // The last tmpfs at /dev is the one on top: only if it asked for ro.
    let last = mounts.iter().rposition(|m| {
        m.typ().as_deref() == Some("tmpfs")
            && crate::spec::normalized(m.destination()) == Path::new("/dev")
    });
    let Some(i) = last.filter(|i| mounts::is_ro_dev_tmpfs(&mounts[*i], &opts[*i])) else {
        return Ok(());
    };
    let dev = root
        .resolve(Path::new("/dev"))
        .with_context(|| format!("mounts[{i}] (/dev): resolve to make it read-only"))?;
    let id = devices::mount_id(&dev)?;
    if dev_tmpfs.last() != Some(&id) {
        bail!("mounts[{i}] (/dev): /dev is no longer the tmpfs this create mounted there");
    }
    fdmount::set_attr(&dev, fdmount::MOUNT_ATTR_RDONLY, false)
        .with_context(|| format!("mounts[{i}] (/dev): make the tmpfs read-only"))
}

/// The binds that must stay peers of their host sources (see
/// `mounts::open_shared_binds`), or None: only a container in a mount
/// namespace of its own whose rootfsPropagation is shared/rshared, and
/// not one with a user namespace, whose copy of the host's tree the
/// kernel made a slave already (runc's binds stay slaves there too).
/// Every other spec takes no extra step.
fn shared_binds(
    s: &Setup,
    linux: Option<&Linux>,
    mounts: &[Mount],
) -> Result<Option<Vec<Option<mounts::BindTree>>>> {
    let prop = linux.and_then(|l| l.rootfs_propagation().as_deref());
    let shared = matches!(prop, Some("shared") | Some("rshared"));
    if !shared || !s.mountns || s.userns || !s.binds.is_empty() {
        return Ok(None);
    }
    mounts::open_shared_binds(mounts, s.options).map(Some)
}

/// Cut propagation to the host.
fn isolate(s: &Setup, linux: Option<&Linux>) -> Result<()> {
    let prop = linux.and_then(|l| l.rootfs_propagation().clone());
    // Never let the container's mounts reach the host: the copy of the host's
    // mount tree becomes a slave (or private) first, whatever the spec asks;
    // a "shared" request applies to the container's own root after pivot.
    // runc leaves the copy shared for "rshared" and makes the rootfs's
    // parent private; here only the binds that ask shared were cloned (by
    // `shared_binds`, before this) as peers of the host's mounts, and all
    // else stays a slave, so the rootfs's mount, /proc, /dev, the masks
    // and the old root's detach never propagate, and pivot_root finds no
    // shared parent.
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
    Ok(())
}

/// The rootfs bound onto itself (pivot_root needs a mount point), as that
/// mount's root: the spec's mounts and pivot_root act on it, never on the
/// path again. create checked the path (symlink-free, a realpath) before
/// the clone; whoever owns a directory on it may since have swapped a
/// component for a symlink to a host directory, which a bind by path
/// would follow and make the container's root. So the walk here follows
/// no symlink, and the bind is made from and onto what it opened.
fn bind_root(rootfs: &Path) -> Result<Root> {
    crate::fault::pause("rootfs:bind");
    if root_by_path_switch() {
        let r = rootfs.to_string_lossy();
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(
            Some(r.as_ref()),
            r.as_ref(),
            None::<&str>,
            flags,
            None::<&str>,
        )
        .with_context(|| format!("bind rootfs {r} onto itself"))?;
        return Root::open(rootfs);
    }
    let dir = open_checked(rootfs)?;
    let tree = fdmount::clone_tree(&dir, true)
        .with_context(|| format!("bind rootfs {}", rootfs.display()))?;
    fdmount::attach(&tree, &dir)
        .with_context(|| format!("bind rootfs {} onto itself", rootfs.display()))?;
    Ok(Root::from_fd(tree, rootfs))
}

/// The rootfs at `rootfs`, a path `spec::load` made symlink-free, opened
/// following no symlink: one put on the way since is refused (ELOOP).
pub fn open_checked(rootfs: &Path) -> Result<std::os::fd::OwnedFd> {
    crate::syscall::openat2(
        libc::AT_FDCWD,
        rootfs,
        libc::O_PATH | libc::O_DIRECTORY,
        crate::syscall::RESOLVE_NO_SYMLINKS,
    )
    .with_context(|| {
        format!(
            "root.path {}: open (it was checked before: a symlink since put on the way \
             is refused)",
            rootfs.display()
        )
    })
}

/// The test-only way back to binding and entering the rootfs by its path
/// (the swap `bind_root` and restore's bind close), so the attack tests
/// can show it lands that way. Debug builds only.
#[cfg(debug_assertions)]
pub fn root_by_path_switch() -> bool {
    std::env::var_os("OUTLET_ROOTFS_BY_PATH").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
pub fn root_by_path_switch() -> bool {
    false
}

/// The spec's mounts, in order. Returns the mount ids where outlet may make
/// device nodes and /dev/console: the rootfs and the spec's /dev when it is
/// a filesystem outlet mounts itself, never a bind of a host directory,
/// wherever /dev resolves to in the end (through an image's symlink or a
/// later mount). Also returns which of those are tmpfs mounts.
fn mount_all(
    s: &Setup,
    root: &Root,
    mounts: &[Mount],
    linux: Option<&Linux>,
    binds: &[Option<mounts::BindTree>],
) -> Result<(Vec<u64>, Vec<u64>)> {
    let label = linux.and_then(|l| l.mount_label().as_deref());
    // The root's own fd is the bind's root: its mount id, without opening
    // "/" in it again (an openat2 and a close per create).
    let mut own = vec![devices::mount_id(root.fd())?];
    // The filesystems made so far, held only when a later entry remounts.
    let keep = mounts.iter().any(remount::is_remount);
    let mut kept = Vec::new();
    let mut tmpfs = Vec::new();
    let mut fresh = freshdev::FreshDev::default();
    for (i, (m, opts)) in mounts.iter().zip(s.options).enumerate() {
        if remount::is_remount(m) {
            remount::remount(root, m, i, &kept)?;
            continue;
        }
        let opened = binds.get(i).and_then(Option::as_ref);
        if opened.is_none()
            && let Err(e) = mounts::refuse_rootless_idmap(m, opts, i)
            && (s.userns || crate::namespaces::running_in_user_namespace())
        {
            return Err(e);
        }
        if opts.tmpcopyup {
            s.devices.pass()?;
        }
        let later = (&mounts[i + 1..], &s.options[i + 1..]);
        let mut made = match fresh.child(m, opts) {
            Some((dev, name)) => {
                mounts::mount_fresh_dev_child(root, (m, opts), i, (dev, &name), label)?
            }
            None => mounts::mount_one(
                root,
                (m, opts),
                i,
                later,
                s.cgroup,
                s.cgroupns,
                opened,
                label,
            )?,
        };
        let mut dev_tmpfs = None;
        if mounts::is_new_filesystem(m, opts)
            && crate::spec::normalized(m.destination()) == Path::new("/dev")
        {
            crate::fault::pause("rootfs:dev-mounted");
            // The id of the mount made, not of whatever /dev resolves to
            // now: a path swapped since could lead onto a bind of a host
            // directory. A /dev made by path (`mounts::NOT_BY_FD`) has no
            // id outlet can trust: refused by name.
            let id = match &made {
                Some(fd) if !dev_id_by_path_switch() => devices::mount_id(fd)?,
                Some(_) => devices::mount_id(
                    root.resolve(m.destination())
                        .with_context(|| format!("mounts[{i}]: resolve after mounting"))?,
                )?,
                None => bail!(
                    "mounts[{i}] (/dev): options acl and iversion on type {:?} are passed \
                     only by mount(2) by path, and outlet makes device nodes only in a /dev \
                     whose mount it holds: drop them (a tmpfs has both anyway)",
                    m.typ().as_deref().unwrap_or("")
                ),
            };
            own.push(id);
            if m.typ().as_deref() == Some("tmpfs") {
                tmpfs.push(id);
                dev_tmpfs = match (&made, keep) {
                    _ if !freshdev::is_empty(opts) => None,
                    (Some(fd), true) => Some(fd.try_clone().context("dup /dev's mount fd")?),
                    (_, _) => made.take(),
                };
            }
        }
        fresh.after(m, dev_tmpfs);
        if keep {
            kept.extend(made);
        }
    }
    Ok((own, tmpfs))
}

/// The test-only way back to reading /dev's mount id by resolving /dev
/// again after mounting it (the race `mount_all` closes), so a test can
/// show its attack lands that way. Debug builds only.
#[cfg(debug_assertions)]
fn dev_id_by_path_switch() -> bool {
    std::env::var_os("OUTLET_DEV_ID_BY_PATH").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
fn dev_id_by_path_switch() -> bool {
    false
}

/// The device nodes and links in /dev (unless /dev is a bind of the
/// host's, which brings its own), and /dev/console for a terminal.
fn populate_dev(
    s: &Setup,
    root: &Root,
    mounts: &[Mount],
    linux: Option<&Linux>,
    (own, tmpfs): (&[u64], &[u64]),
) -> Result<()> {
    s.devices.pass()?;
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
        let mut parents = devices::Parents::new(root, own, tmpfs);
        devices::create(&mut parents, &nodes, s.userns)?;
        devices::links(&mut parents)?;
    }
    let terminal = s
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal {
        devices::console_target(root, own)?;
    }
    Ok(())
}

/// After pivot_root: read-only paths, then masked paths (so that a mask can
/// never be used to reach a path before it is read-only), read-only root
/// and the requested propagation of the container's own root.
pub fn finalize(spec: &Spec, prepared: Prepared) -> Result<()> {
    let root = Root::open(Path::new("/"))?;
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        readonly(&root, Path::new(p)).with_context(|| format!("linux.readonlyPaths: {p}"))?;
    }
    let mut covers = Covers {
        null: prepared.null,
        dir: None,
    };
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask(&root, Path::new(p), &mut covers)
            .with_context(|| format!("linux.maskedPaths: {p}"))?;
    }
    drop(covers);
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
        // The root's own mount, by the fd opened above: one mount_setattr
        // where a bind remount needed a statfs for the locked flags first
        // (mount_setattr leaves the flags it is not given as they are).
        fdmount::set_attr(root.fd(), fdmount::MOUNT_ATTR_RDONLY, false)
            .context("root.readonly: make the root read-only")?;
    }
    Ok(())
}

/// Resolve `p` inside the root (no magic links, never above the root); a
/// missing path is nothing to do.
fn resolve_existing(root: &Root, p: &Path) -> Result<Option<std::os::fd::OwnedFd>> {
    match root.resolve(p) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e).context("resolve"),
    }
}

/// What masks are made of: the host's verified null device for files, and
/// one empty read-only tmpfs (made on first use) for directories.
struct Covers {
    null: Option<Stamp>,
    dir: Option<Stamp>,
}

/// Cover a directory with an empty read-only tmpfs and anything else with
/// the host's verified null device, both mounted onto the resolved fd.
fn mask(root: &Root, p: &Path, covers: &mut Covers) -> Result<()> {
    let Some(fd) = resolve_existing(root, p)? else {
        return Ok(());
    };
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).context("fstat")?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let dir = match &mut covers.dir {
            Some(d) => d,
            empty => {
                use fdmount::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID};
                let attrs = fdmount::MOUNT_ATTR_RDONLY
                    | MOUNT_ATTR_NOSUID
                    | MOUNT_ATTR_NODEV
                    | MOUNT_ATTR_NOEXEC;
                let tmpfs = fdmount::tmpfs(attrs).context("make an empty read-only tmpfs")?;
                empty.insert(Stamp::new(tmpfs))
            }
        };
        dir.attach_to(&fd)
            .context("mount an empty read-only tmpfs")?;
    } else {
        let null = covers.null.as_mut().context("no null device was opened")?;
        null.attach_to(&fd)
            .context("cover with the host's /dev/null")?;
    }
    Ok(())
}

/// A recursive bind of the path onto itself, made read-only (with every
/// mount below it) while still detached, so it is never writable where the
/// container can see it.
fn readonly(root: &Root, p: &Path) -> Result<()> {
    let Some(fd) = resolve_existing(root, p)? else {
        return Ok(());
    };
    let tree = fdmount::clone_tree(&fd, true).context("bind onto itself")?;
    fdmount::set_attr(&tree, fdmount::MOUNT_ATTR_RDONLY, true).context("make read-only")?;
    fdmount::attach(&tree, &fd).context("mount the read-only bind")
}

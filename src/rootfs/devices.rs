//! /dev: the default devices every container gets, `linux.devices`, the
//! conventional links, the /dev/console mount point, and the host's null
//! device that masks files. In a user namespace mknod is not allowed, so
//! device nodes are bind mounts of the host's, each verified by fstat to be
//! the device the spec names before it is mounted from its fd.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag};
use nix::unistd::{Gid, Uid, UnlinkatFlags, unlinkat};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::fdmount;
use super::paths::{Kind, Root};
use crate::syscall::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2};
use libc::RESOLVE_NO_SYMLINKS;

pub struct Node {
    pub path: PathBuf,
    /// The file type mknod makes and fstat must find: S_IFCHR, S_IFBLK or
    /// S_IFIFO.
    pub kind: SFlag,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Its index in `linux.devices`; None for a default device.
    pub spec_index: Option<usize>,
}

/// The defaults followed by the spec's devices (a spec entry for the same
/// path replaces the default).
pub fn nodes(spec_devices: &[LinuxDevice]) -> Result<Vec<Node>> {
    let mut out: Vec<Node> = Vec::new();
    // The device cgroup's default list is the one list of default devices.
    for (p, ma, mi) in crate::cgroups::devices::default_nodes() {
        out.push(Node {
            path: PathBuf::from(p),
            kind: SFlag::S_IFCHR,
            major: ma.into(),
            minor: mi.into(),
            mode: 0o666,
            uid: 0,
            gid: 0,
            spec_index: None,
        });
    }
    for (i, d) in spec_devices.iter().enumerate() {
        // As runc, anywhere in the container (created inside the root),
        // but not the root itself.
        if !d.path().is_absolute() || d.path().file_name().is_none() {
            bail!(
                "linux.devices[{i}].path: {} is not an absolute path to a file",
                d.path().display()
            );
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
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
            spec_index: Some(i),
        });
    }
    Ok(out)
}

/// Make the nodes, each in a directory `parents` accepts.
/// In a user namespace (`userns`, or outlet itself running in one, as
/// under rootless podman: found out by mknod's EPERM, as runc does) the
/// nodes are binds of the host's.
pub fn create(parents: &mut Parents, nodes: &[Node], userns: bool) -> Result<()> {
    if userns {
        return bind_all(parents, nodes);
    }
    match make_all(parents, nodes) {
        Err(e)
            if e.root_cause()
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.raw_os_error() == Some(libc::EPERM))
                && crate::namespaces::running_in_user_namespace() =>
        {
            bind_all(parents, nodes)
        }
        r => r,
    }
}

fn bind_all(parents: &mut Parents, nodes: &[Node]) -> Result<()> {
    let root = parents.root;
    for n in nodes {
        let (_, dir_mount, _) = parents.get(parent_of(n))?;
        bind_host(root, dir_mount, n)?;
    }
    Ok(())
}

fn make_all(parents: &mut Parents, nodes: &[Node]) -> Result<()> {
    // With no umask, mknod gives a node in a plain directory (see
    // `Parents::get`) exactly the mode asked for, and the creator's ids:
    // then no chown or chmod is needed after it.
    let creator = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let old = nix::sys::stat::umask(Mode::empty());
    let made = nodes.iter().try_for_each(|n| {
        let (dir, _, plain) = parents.get(parent_of(n))?;
        mknod(dir, n, plain.then_some(creator))
    });
    nix::sys::stat::umask(old);
    made
}

fn parent_of(n: &Node) -> &Path {
    n.path.parent().unwrap_or(Path::new("/dev"))
}

/// The directories device nodes go into, each resolved once and accepted
/// only on a mount outlet may change: the rootfs or a filesystem outlet
/// mounted (`own`, mount ids). mknod replaces what is there, so a /dev
/// that resolves into a bind of a host directory (an image's `/dev ->
/// /data` with a volume at /data) would have outlet unlink and create
/// host files.
pub struct Parents<'a> {
    pub root: &'a Root,
    pub own: &'a [u64],
    /// The ids in `own` of tmpfs mounts outlet made in this setup.
    pub tmpfs: &'a [u64],
    seen: Vec<(PathBuf, std::os::fd::OwnedFd, u64, bool)>,
}

impl<'a> Parents<'a> {
    pub fn new(root: &'a Root, own: &'a [u64], tmpfs: &'a [u64]) -> Parents<'a> {
        Parents {
            root,
            own,
            tmpfs,
            seen: Vec::new(),
        }
    }

    /// The directory, resolved inside the root, its mount's id, and
    /// whether it is plain: on a tmpfs outlet made in this setup (no
    /// default ACL can be there: nothing else has reached it, and
    /// tmpcopyup copies no xattrs) and not setgid (a `mode=` or tmpcopyup
    /// can make it so), so that a node made in it gets the mode asked
    /// for, less the umask, and the creator's uid and gid.
    pub fn get(&mut self, dir: &Path) -> Result<(&std::os::fd::OwnedFd, u64, bool)> {
        let field = || format!("device directory {}", dir.display());
        if let Some(i) = self.seen.iter().position(|(p, ..)| p == dir) {
            let (_, fd, id, plain) = &self.seen[i];
            return Ok((fd, *id, *plain));
        }
        let fd = self
            .root
            .resolve_or_create(dir, Kind::Dir)
            .with_context(field)?;
        let (id, mode) = crate::syscall::mount::mount_id_and_mode(&fd)
            .context("statx STATX_MNT_ID")
            .with_context(field)?;
        if !self.own.contains(&id) {
            bail!(
                "{} resolves onto a mount outlet did not make (a bind of a host directory, \
                 reached through a symlink or a later mount): outlet makes no device nodes there",
                dir.display()
            );
        }
        let plain = self.tmpfs.contains(&id) && mode & libc::S_ISGID == 0 && !plain_off_switch();
        self.seen.push((dir.to_path_buf(), fd, id, plain));
        Ok((&self.seen[self.seen.len() - 1].1, id, plain))
    }
}

/// The test-only way to treat no directory as plain (chown and chmod
/// after every mknod, as before), for a test to compare the two. Debug
/// builds only.
#[cfg(debug_assertions)]
fn plain_off_switch() -> bool {
    std::env::var_os("OUTLET_DEV_ALWAYS_CHOWN").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
fn plain_off_switch() -> bool {
    false
}

/// `creator`: the process's (euid, egid) when `dir` is plain and the
/// umask is 0, so that what mknod makes may already be what is asked for.
fn mknod(dir: &std::os::fd::OwnedFd, n: &Node, creator: Option<(u32, u32)>) -> Result<()> {
    let name = n.path.file_name().context("device path has no name")?;
    let cname = CString::new(name.as_encoded_bytes()).context("device name has NUL")?;
    let dev = nix::sys::stat::makedev(n.major as u64, n.minor as u64);
    let at = Some(dir.as_raw_fd());
    let mode = Mode::from_bits_truncate(n.mode & 0o7777);
    // mknodat does not follow a final symlink. An image may ship its own
    // /dev/null as a regular file: replace it (unlinked only when it is
    // there, which a fresh /dev tmpfs never has). A device the spec lists
    // is different: config-linux.md makes a file already at its path that
    // is not that device an error, and the one that is, the node to use.
    let mut made = nix::sys::stat::mknodat(at, cname.as_c_str(), n.kind, mode, dev);
    if made == Err(Errno::EEXIST) {
        if let Some(i) = n.spec_index {
            existing_matches(dir, &cname, n).with_context(|| {
                format!(
                    "linux.devices[{i}].path: {} exists in the root",
                    n.path.display()
                )
            })?;
            made = Ok(());
        } else {
            let _ = unlinkat(at, cname.as_c_str(), UnlinkatFlags::NoRemoveDir);
            made = nix::sys::stat::mknodat(at, cname.as_c_str(), n.kind, mode, dev);
        }
    }
    made.map_err(std::io::Error::from)
        .with_context(|| format!("mknod {}", n.path.display()))?;
    // Set-id and sticky bits are not left to mknod (the kernel may strip
    // setgid): fchmodat sets them.
    if creator == Some((n.uid, n.gid)) && n.mode & 0o7000 == 0 {
        return Ok(());
    }
    // AT_SYMLINK_NOFOLLOW keeps chown on the node itself.
    nix::unistd::fchownat(
        at,
        cname.as_c_str(),
        Some(Uid::from_raw(n.uid)),
        Some(Gid::from_raw(n.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("chown {}", n.path.display()))?;
    // mknod is subject to the umask; set the mode the spec asked for.
    let _ = nix::sys::stat::fchmodat(at, cname.as_c_str(), mode, FchmodatFlags::FollowSymlink);
    Ok(())
}

/// The entry `name` in `dir`, not followed if a symlink, is the node `n`.
fn existing_matches(dir: &std::os::fd::OwnedFd, name: &std::ffi::CStr, n: &Node) -> Result<()> {
    let fd = crate::syscall::fs::openat(
        dir.as_raw_fd(),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)
    .context("open")?;
    expect_node(&fd, n.kind, n.major, n.minor)
}

/// Bind the host's node of the same path, once fstat shows it is the
/// device the spec names: a host path that is a symlink, or a node of
/// another number, is refused rather than handed to the container.
fn bind_host(root: &Root, dir_mount: u64, n: &Node) -> Result<()> {
    let src = n.path.display();
    let host = openat2(
        libc::AT_FDCWD,
        &n.path,
        libc::O_PATH | libc::O_NOFOLLOW,
        RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
    .with_context(|| format!("open host device {src}"))?;
    expect_node(&host, n.kind, n.major, n.minor).with_context(|| format!("host device {src}"))?;
    let target = root.resolve_or_create(&n.path, Kind::File)?;
    // The directory was checked; the file is on the same mount unless the
    // path changed under us since.
    if mount_id(&target)? != dir_mount {
        bail!("{src}: the path changed while its mount point was made");
    }
    let tree =
        fdmount::clone_tree(&host, false).with_context(|| format!("clone host device {src}"))?;
    // The inode is the host's: through a writable bind, a container root
    // that owns it (a mapping that gives it host uid 0) could chmod or
    // chown the host's node, and any container process could set its
    // times (write permission is enough for that). A device node still
    // opens for reading and writing on a read-only mount, so the device
    // works as before. runc binds them writable. Debug builds'
    // `OUTLET_DEV_BIND_WRITABLE=1` leaves them so (tests/attack_s17b.rs).
    fdmount::seal_host_clone(&tree, crate::fault::control("OUTLET_DEV_BIND_WRITABLE"))
        .with_context(|| format!("make the bind of host device {src} read-only"))?;
    fdmount::attach(&tree, &target).with_context(|| format!("bind host device {src}"))
}

/// fstat `fd` and require a node of `kind` (a fifo has no number).
pub fn expect_node(fd: impl AsFd, kind: SFlag, major: i64, minor: i64) -> Result<()> {
    let st = nix::sys::stat::fstat(fd.as_fd().as_raw_fd()).context("fstat")?;
    let fmt = st.st_mode & libc::S_IFMT;
    let (ma, mi) = (
        nix::sys::stat::major(st.st_rdev) as i64,
        nix::sys::stat::minor(st.st_rdev) as i64,
    );
    if fmt != kind.bits() || (kind != SFlag::S_IFIFO && (ma, mi) != (major, minor)) {
        // Only device nodes have numbers worth naming.
        let is = match fmt {
            libc::S_IFCHR | libc::S_IFBLK => format!("{} {ma}:{mi}", file_kind(fmt)),
            _ => file_kind(fmt).to_string(),
        };
        bail!(
            "is {is}; expected {} {major}:{minor}",
            file_kind(kind.bits())
        );
    }
    Ok(())
}

/// A word for an S_IFMT value, for errors.
pub fn file_kind(fmt: libc::mode_t) -> &'static str {
    match fmt {
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFIFO => "a fifo",
        libc::S_IFLNK => "a symlink",
        libc::S_IFDIR => "a directory",
        libc::S_IFSOCK => "a socket",
        libc::S_IFREG => "a regular file",
        _ => "an unknown kind of file",
    }
}

/// The host's /dev/null as a detached mount, opened before pivot_root
/// without following symlinks and verified to be char 1:3: the source of
/// every masked file. The container's own /dev/null is never used for
/// that: a spec can make it anything (a bind of a shared host directory
/// whose `null` is a symlink to /proc/sys/kernel/core_pattern), and a
/// sibling can swap it between a check and a use.
///
/// The inode is the host's, so the clone is made read-only (and nosuid,
/// noexec) while still detached: through a writable bind, the container's
/// root, the inode's owner, could chmod, chown, touch or set xattrs on the
/// host's /dev/null (`chmod 0 /proc/kcore` would break every host program
/// that opens it). A device node is still opened for writing on a
/// read-only mount, so a masked file reads empty and swallows writes as
/// under runc. Debug builds' `OUTLET_MASK_NULL_WRITABLE=1` leaves the
/// clone writable (the control of tests/attack_s17.rs).
pub fn host_null() -> Result<fdmount::Stamp> {
    let fd = openat2(
        libc::AT_FDCWD,
        Path::new("/dev/null"),
        libc::O_PATH | libc::O_NOFOLLOW,
        RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
    .context("open the host's /dev/null")?;
    expect_node(&fd, SFlag::S_IFCHR, 1, 3).context("the host's /dev/null")?;
    let tree = fdmount::clone_tree(&fd, false).context("clone the host's /dev/null")?;
    fdmount::seal_host_clone(&tree, crate::fault::control("OUTLET_MASK_NULL_WRITABLE"))
        .context("make the clone of the host's /dev/null read-only")?;
    Ok(fdmount::Stamp::new(tree))
}

/// Make sure `/dev/console` is a regular file or a character device that a
/// pty can be mounted on later (after pivot_root, when the root may be
/// read-only); `tty::mount_console` opens it again without following
/// links and checks it. Outlet creates or replaces it (a symlink that
/// would redirect the mount, a fifo, a socket) only where `/dev` resolves
/// onto a mount in `own`: the rootfs itself or a filesystem outlet mounted
/// (the spec's /dev tmpfs). A bind of a host directory is the host's: its
/// `console` is used if it is a file or a character device, and anything
/// else (or nothing) is refused, so that no host file is ever unlinked or
/// created. A directory is refused everywhere.
pub fn console_target(root: &Root, own: &[u64]) -> Result<()> {
    let dev = root.resolve_or_create(Path::new("/dev"), Kind::Dir)?;
    let ours = own.contains(&mount_id(&dev).context("/dev")?);
    let name = c"console";
    for _ in 0..3 {
        match openat2(
            dev.as_raw_fd(),
            Path::new("console"),
            libc::O_PATH | libc::O_NOFOLLOW,
            RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
        ) {
            Ok(fd) => {
                let st = nix::sys::stat::fstat(fd.as_raw_fd()).context("fstat /dev/console")?;
                let kind = st.st_mode & libc::S_IFMT;
                match kind {
                    libc::S_IFREG | libc::S_IFCHR => return Ok(()),
                    libc::S_IFDIR => bail!("/dev/console is a directory, not a console"),
                    _ if !ours => bail!(
                        "/dev/console is {} in a /dev that outlet did not make (a bind of a \
                         host directory): outlet replaces nothing there; make it a regular \
                         file or a character device",
                        file_kind(kind)
                    ),
                    _ => {
                        // unlinkat never follows a symlink.
                        let r = unlinkat(Some(dev.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir);
                        if let Err(e) = r {
                            return Err(std::io::Error::from(e)).with_context(|| {
                                format!("/dev/console is {}: remove it", file_kind(kind))
                            });
                        }
                    }
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                if !ours {
                    bail!(
                        "/dev/console is missing in a /dev that outlet did not make (a bind of \
                         a host directory): outlet creates nothing there; create an empty \
                         regular file /dev/console in it for process.terminal"
                    );
                }
            }
            Err(e) => return Err(e).context("open /dev/console"),
        }
        // O_EXCL|O_NOFOLLOW never opens what is there.
        match nix::fcntl::openat(
            Some(dev.as_raw_fd()),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => {
                let _ = nix::unistd::close(fd);
                return Ok(());
            }
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(std::io::Error::from(e)).context("create /dev/console"),
        }
        // Something raced in: look again.
    }
    bail!("/dev/console keeps changing")
}

/// The id of the mount `fd` is on, to tell the mounts outlet made from
/// binds of host directories: statx's STATX_MNT_ID, one syscall where
/// reading `mnt_id` from /proc/self/fdinfo took four (open, fcntl, read,
/// close) and a procfs.
pub fn mount_id(fd: impl AsFd) -> Result<u64> {
    crate::syscall::mount::mount_id(fd).context("statx STATX_MNT_ID")
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx and /dev/core, in /dev
/// checked as the nodes' directories are.
pub fn links(parents: &mut Parents) -> Result<()> {
    let (dev, ..) = parents.get(Path::new("/dev"))?;
    // A kernel without CONFIG_PROC_KCORE has no /proc/kcore: runc then
    // makes no /dev/core rather than a dangling link. The init still sees
    // the host's /proc here (before the pivot), so this asks the kernel.
    let kcore = nix::unistd::access("/proc/kcore", nix::unistd::AccessFlags::F_OK).is_ok();
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
        ("ptmx", "pts/ptmx"),
    ] {
        if name == "core" && !kcore {
            continue;
        }
        let cname = CString::new(name).expect("static name");
        let ctarget = CString::new(target).expect("static target");
        let at = Some(dev.as_raw_fd());
        let mut made = nix::unistd::symlinkat(ctarget.as_c_str(), at, cname.as_c_str());
        // An image's ptmx (a node, a file, another link) is replaced.
        if name == "ptmx" && made == Err(Errno::EEXIST) {
            let _ = unlinkat(at, cname.as_c_str(), UnlinkatFlags::NoRemoveDir);
            made = nix::unistd::symlinkat(ctarget.as_c_str(), at, cname.as_c_str());
        }
        match made {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("symlink /dev/{name}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_device(typ: &str) -> LinuxDevice {
        serde_json::from_value(serde_json::json!({
            "path": format!("/dev/x{typ}"), "type": typ, "major": 7, "minor": 1
        }))
        .unwrap()
    }

    /// Each spec type becomes the file type mknod makes and fstat checks;
    /// `u` (unbuffered) is a character device, `a` no device at all.
    #[test]
    fn spec_types_become_node_kinds() {
        let kinds: Vec<SFlag> = nodes(&["c", "u", "b", "p"].map(spec_device))
            .unwrap()
            .iter()
            .filter(|n| n.major == 7)
            .map(|n| n.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                SFlag::S_IFCHR,
                SFlag::S_IFCHR,
                SFlag::S_IFBLK,
                SFlag::S_IFIFO
            ]
        );
        let Err(e) = nodes(&[spec_device("a")]) else {
            panic!("type a accepted");
        };
        assert_eq!(
            e.to_string(),
            "linux.devices[0].type: \"a\" is not a device type"
        );
    }

    #[test]
    fn defaults_are_char_nodes() {
        let n = nodes(&[]).unwrap();
        assert!(n.iter().any(|n| n.path == Path::new("/dev/null")));
        assert!(n.iter().all(|n| n.kind == SFlag::S_IFCHR));
    }
}

//! Namespace flags from the spec, joining namespaces by path, and the
//! uid/gid maps the parent writes for a new user namespace.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespace, LinuxNamespaceType};

use crate::process::procfs::ProcFs;

/// What each spelling of a namespace kind is: the one table that the
/// spec's checks, create, exec, checkpoint and `features` read.
#[derive(Clone, Copy)]
pub struct Kind {
    /// The config's `linux.namespaces[].type`.
    pub config: &'static str,
    /// The link under /proc/PID/ns/.
    pub proc: &'static str,
    /// clone(2)/unshare(2)/setns(2)'s CLONE_NEW*.
    pub flag: CloneFlags,
}

/// Every kind, in the runtime spec's order (the order of the config
/// error's "known:" list).
pub const ALL: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Time,
];

/// A match rather than a lookup: a kind oci-spec adds fails to compile
/// here instead of at run time.
pub const fn kind(t: LinuxNamespaceType) -> Kind {
    let (config, proc, flag) = match t {
        LinuxNamespaceType::Pid => ("pid", "pid", CloneFlags::CLONE_NEWPID),
        LinuxNamespaceType::Network => ("network", "net", CloneFlags::CLONE_NEWNET),
        LinuxNamespaceType::Mount => ("mount", "mnt", CloneFlags::CLONE_NEWNS),
        LinuxNamespaceType::Ipc => ("ipc", "ipc", CloneFlags::CLONE_NEWIPC),
        LinuxNamespaceType::Uts => ("uts", "uts", CloneFlags::CLONE_NEWUTS),
        LinuxNamespaceType::User => ("user", "user", CloneFlags::CLONE_NEWUSER),
        LinuxNamespaceType::Cgroup => ("cgroup", "cgroup", CloneFlags::CLONE_NEWCGROUP),
        LinuxNamespaceType::Time => (
            "time",
            "time",
            CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        ),
    };
    Kind { config, proc, flag }
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    kind(t).flag
}

/// Whether the namespace file `ns` is the runtime's own namespace of
/// `typ` or PID 1's, by device and inode: a namespace joined by path that
/// is one of them is the host's, whatever the spec says. PID 1's may be
/// unreadable (rootless, hidepid): then only ours counts. Asked after the
/// file is opened, of the file, so that a path swapped since the spec's
/// check cannot slip through.
pub fn is_hosts(ns: std::os::fd::BorrowedFd, typ: LinuxNamespaceType) -> std::io::Result<bool> {
    let id = |s: nix::sys::stat::FileStat| (s.st_dev, s.st_ino);
    let joined = id(nix::sys::stat::fstat(ns.as_raw_fd())?);
    let name = proc_name(typ);
    Ok(["self", "1"].iter().any(|who| {
        nix::sys::stat::stat(format!("/proc/{who}/ns/{name}").as_str())
            .is_ok_and(|h| id(h) == joined)
    }))
}

pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    kind(t).proc
}

/// The config's name of a namespace type.
pub fn config_name(t: LinuxNamespaceType) -> &'static str {
    kind(t).config
}

/// The namespace plan of a container: what to create, what to join.
#[derive(Clone)]
pub struct NsPlan {
    /// Namespaces to create.
    pub new: CloneFlags,
    /// Namespaces to join, user first (setns order matters: joining the user
    /// namespace first gives the capabilities needed for the others).
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl NsPlan {
    pub fn from_spec(nss: &[LinuxNamespace]) -> NsPlan {
        let mut plan = NsPlan {
            new: CloneFlags::empty(),
            join: Vec::new(),
        };
        for ns in nss {
            match ns.path() {
                Some(p) => plan.join.push((ns.typ(), p.clone())),
                None => plan.new |= flag(ns.typ()),
            }
        }
        plan.join
            .sort_by_key(|(t, _)| if *t == LinuxNamespaceType::User { 0 } else { 1 });
        plan
    }

    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(flag(t))
    }

    pub fn joins(&self, t: LinuxNamespaceType) -> bool {
        self.join.iter().any(|(j, _)| *j == t)
    }

    /// The ipc namespace when it comes with a new user namespace: neither
    /// the clone nor the first unshare makes it, `become_mapped_root` does.
    pub fn late_ipc(&self) -> CloneFlags {
        if self.creates(LinuxNamespaceType::User) {
            self.new & CloneFlags::CLONE_NEWIPC
        } else {
            CloneFlags::empty()
        }
    }
}

/// In a user namespace (made or joined), become its root so that file
/// ownership inside is right. A late ipc namespace is made between the
/// setresuid and the setresgid, runc's order: the kernel gives the
/// namespace's mqueue root its creator's fsuid and fsgid, so /dev/mqueue
/// then reads `0 65534` (the mapped root, the host's unmapped gid) as
/// under runc, where one made by the clone read `65534 65534`.
pub fn become_mapped_root(plan: &NsPlan) -> Result<()> {
    if !plan.creates(LinuxNamespaceType::User) && !plan.joins(LinuxNamespaceType::User) {
        return Ok(());
    }
    let uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(uid, uid, uid).context("setresuid 0 in the user namespace")?;
    let late = plan.late_ipc();
    if !late.is_empty() {
        nix::sched::unshare(late).context("unshare the ipc namespace as the mapped root")?;
    }
    let gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(gid, gid, gid).context("setresgid 0 in the user namespace")
}

/// Join the namespace at `path` (a /proc/PID/ns/* link or a bind mount of one).
pub fn join(t: LinuxNamespaceType, path: &std::path::Path) -> Result<()> {
    let f = open(t, path)?;
    nix::sched::setns(f.as_fd(), flag(t))
        .with_context(|| format!("join {} namespace {}", proc_name(t), path.display()))
}

/// Open the namespace file at `path` for setns. The path is the spec's:
/// what is there is opened O_PATH first (no open of a FIFO or a device
/// runs, which could block forever or act), checked to be on nsfs, and
/// only then reopened for reading through /proc/self/fd (setns refuses
/// O_PATH fds). `OUTLET_NS_OPEN_PLAIN=1` (debug builds): the tests'
/// control, a plain open as before.
pub fn open(t: LinuxNamespaceType, path: &std::path::Path) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let what = || format!("{} namespace {}", proc_name(t), path.display());
    // Not std's OpenOptions: musl's O_ACCMODE holds O_PATH, which std
    // masks out of custom flags.
    let o = |p: &std::path::Path, flags: OFlag| {
        crate::syscall::fs::openat(
            libc::AT_FDCWD,
            p,
            flags | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .with_context(|| format!("open {}", what()))
    };
    if crate::fault::control("OUTLET_NS_OPEN_PLAIN") {
        return o(path, OFlag::O_RDONLY);
    }
    let held = o(path, OFlag::O_PATH)?;
    let fs = nix::sys::statfs::fstatfs(&held).with_context(|| format!("fstatfs {}", what()))?;
    if fs.filesystem_type() != nix::sys::statfs::NSFS_MAGIC {
        anyhow::bail!("join {}: not a namespace file", what());
    }
    let again = format!("/proc/self/fd/{}", held.as_raw_fd());
    o(std::path::Path::new(&again), OFlag::O_RDONLY)
}

/// Make a new time namespace with `offsets` (timens_offsets lines) and
/// enter it. unshare(CLONE_NEWTIME) only places the caller's future
/// children in the new namespace, and the kernel freezes its offsets once
/// any task is in it; so the offsets are written first, and the init then
/// enters the namespace itself through time_for_children (a single-threaded
/// task may), so that it and everything it starts see the offsets. This is
/// also why the clone never carries CLONE_NEWTIME: the child would be
/// inside before anyone could write the offsets.
///
/// Nothing unless `plan` makes a time namespace. In a mount namespace
/// joined by path (another container's), /proc is that container's to
/// cover: a `self` it planted would take the offsets, written as the
/// host's root, to a file of its choosing (tests/attack_s13.rs finding
/// 4), so a procfs of the init's own is used. In a mount namespace the
/// clone made, /proc is still the caller's here (no spec mount exists
/// yet), and the path costs no procfs instance.
pub fn enter_new_time(linux: Option<&Linux>, plan: &NsPlan) -> Result<()> {
    if !plan.new.contains(flag(LinuxNamespaceType::Time)) {
        return Ok(());
    }
    let own = if plan.joins(LinuxNamespaceType::Mount) {
        Some(ProcFs::private().context("linux.timeOffsets in a joined mount namespace")?)
    } else {
        None
    };
    let proc = own.as_ref();
    let offsets = match linux.and_then(|l| l.time_offsets().as_ref()) {
        Some(o) => crate::spec::process_fields::time_offsets(o, true)?,
        None => String::new(),
    };
    let offsets = offsets.as_str();
    let flag = flag(LinuxNamespaceType::Time);
    nix::sched::unshare(flag).context("unshare time namespace")?;
    let proc = proc.filter(|_| !crate::fault::control("OUTLET_TIMENS_BY_PATH"));
    if !offsets.is_empty() {
        let what = || format!("linux.timeOffsets: write {offsets:?} to /proc/self/timens_offsets");
        // One write: the kernel parses the whole buffer at once.
        match proc {
            Some(p) => p.write(&p.own("timens_offsets"), offsets.as_bytes()),
            None => std::fs::write("/proc/self/timens_offsets", offsets),
        }
        .with_context(what)?;
    }
    let f = match proc {
        Some(p) => p.open_ns(&p.own("ns/time_for_children")),
        None => std::fs::File::open("/proc/self/ns/time_for_children"),
    }
    .context("open /proc/self/ns/time_for_children")?;
    nix::sched::setns(f.as_fd(), flag).context("enter the new time namespace")
}

/// The text for /proc/PID/{uid,gid}_map.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    let mut s = String::new();
    for m in maps {
        s.push_str(&format!(
            "{} {} {}\n",
            m.container_id(),
            m.host_id(),
            m.size()
        ));
    }
    s
}

/// Written by the parent once the child's user namespace exists. setgroups
/// is denied only when we are unprivileged (the kernel demands it then).
/// `proc` is the host's /proc, verified (see `ProcFs`).
pub fn write_id_maps(
    proc: &ProcFs,
    pid: i32,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
) -> Result<()> {
    let write = |name: &str, text: &str| {
        let rel = ProcFs::of(pid, name);
        proc.write(&rel, text.as_bytes())
            .with_context(|| format!("write {text:?} to /proc/{rel}"))
    };
    if !nix::unistd::geteuid().is_root() {
        write("setgroups", "deny")?;
    }
    write("uid_map", &map_text(uid))?;
    write("gid_map", &map_text(gid))
}

/// The kernel's fixed inode number of the initial user namespace
/// (PROC_USER_INIT_INO, include/linux/proc_ns.h).
const INITIAL_USER_NS_INO: u64 = 0xEFFF_FFFD;

/// Whether this process runs in a user namespace other than the initial
/// one, as rootless podman runs its runtime: uid 0 there lacks the host's
/// privileges (no mknod), whatever the spec's own namespaces say. One
/// stat; unknown (no /proc) counts as the initial namespace.
pub fn running_in_user_namespace() -> bool {
    nix::sys::stat::stat("/proc/self/ns/user").is_ok_and(|st| st.st_ino != INITIAL_USER_NS_INO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    /// The table against its sources of truth: oci-spec's own parse of each
    /// config name, the kernel's links under /proc/self/ns, and one distinct
    /// flag per kind.
    #[test]
    fn table_matches_the_spec_and_the_kernel() {
        let mut seen = CloneFlags::empty();
        for t in ALL {
            let k = kind(t);
            let parsed: LinuxNamespaceType =
                serde_json::from_value(serde_json::json!(k.config)).unwrap();
            assert_eq!(parsed, t, "{}", k.config);
            assert!(
                std::path::Path::new("/proc/self/ns").join(k.proc).exists(),
                "/proc/self/ns/{}",
                k.proc
            );
            assert_eq!(k.flag.bits().count_ones(), 1, "{}", k.config);
            assert!(!seen.intersects(k.flag), "{} flag twice", k.config);
            seen |= k.flag;
        }
    }

    #[test]
    fn map_lines() {
        let m = LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(100000u32)
            .size(65536u32)
            .build()
            .unwrap();
        assert_eq!(map_text(&[m]), "0 100000 65536\n");
    }
}

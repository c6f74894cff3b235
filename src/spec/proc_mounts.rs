//! Mounts at or under /proc: refused, except what runc allows.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// A mount over /proc can redirect what the container sees of the kernel
/// (and, for a runtime that writes by path, the runtime's own writes):
/// refused, except what runc allows (see `proc_mount_allowed`). This is the
/// lexical half; `rootfs::mounts` checks again where the destination
/// resolved to, since an image symlink can lead any path into /proc.
pub(super) fn check_proc_mounts(mounts: &[oci_spec::runtime::Mount]) -> Result<()> {
    for (i, m) in mounts.iter().enumerate() {
        // Lexically: "/proc/./sys" and "/x/../proc/sys" are /proc/sys too.
        let dest = normalized(m.destination());
        if dest.starts_with("/proc") && !proc_mount_allowed(&dest, m) {
            bail!(
                "mounts[{i}] (destination {}): {PROC_MOUNTS_REFUSED}",
                m.destination().display()
            );
        }
    }
    Ok(())
}

/// The rule, for errors that refuse a mount under /proc.
pub const PROC_MOUNTS_REFUSED: &str = "mounts under /proc are refused, except a \"proc\" \
     mount (or a bind of a procfs) at /proc and binds over /proc/{cpuinfo,diskstats,meminfo,\
     stat,swaps,uptime,loadavg,slabinfo,net/dev} and /proc/sys/kernel/ns_last_pid";

/// `p` as an absolute path without `.`, `..` or repeated slashes, never
/// above `/`.
pub fn normalized(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// What runc allows at or under /proc (`dest` normalized): a `proc` mount
/// at /proc (or a bind of a procfs there, as podman makes for --pid=host),
/// and binds over the files lxcfs emulates and CRIU's ns_last_pid.
pub fn proc_mount_allowed(dest: &Path, m: &oci_spec::runtime::Mount) -> bool {
    const BIND_OK: &[&str] = &[
        "/proc/cpuinfo",
        "/proc/diskstats",
        "/proc/meminfo",
        "/proc/stat",
        "/proc/swaps",
        "/proc/uptime",
        "/proc/loadavg",
        "/proc/slabinfo",
        "/proc/net/dev",
        "/proc/sys/kernel/ns_last_pid",
    ];
    let is_bind = m.typ().as_deref() == Some("bind")
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind");
    if dest == Path::new("/proc") {
        if is_bind {
            m.source().as_ref().is_some_and(|src| {
                nix::sys::statfs::statfs(src)
                    .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
            })
        } else {
            m.typ().as_deref() == Some("proc")
        }
    } else {
        is_bind && BIND_OK.iter().any(|ok| dest == Path::new(ok))
    }
}

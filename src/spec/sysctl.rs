//! `linux.sysctl`: which namespace each key belongs to, and whether the
//! container has its own namespace of that kind, so that no write lands in
//! a host namespace.

use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use super::Spec;

/// The ipc namespace's sysctls besides `fs.mqueue.*` (runc's list).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Which namespace a sysctl key belongs to; Err says why it is refused
/// whatever the namespaces.
pub fn sysctl_namespace(key: &str) -> Result<LinuxNamespaceType, &'static str> {
    // Whatever the init does with '.' and '/', an empty part (`a..b`,
    // `net./x`) is the only way to spell a parent directory or an absolute
    // path: refuse it, and anything that is no name at all.
    if key.is_empty()
        || key.split(['.', '/']).any(str::is_empty)
        || key.bytes().any(|b| b.is_ascii_control() || b == b' ')
    {
        return Err("not a sysctl name");
    }
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        return Ok(LinuxNamespaceType::Ipc);
    }
    if key.starts_with("net.") {
        return Ok(LinuxNamespaceType::Network);
    }
    match key {
        "kernel.hostname" => Err("set by the uts namespace's own field, use \"hostname\""),
        // docker 20.10 sends `--domainname` as this sysctl, not as the
        // spec's field; runc takes it in a uts namespace of the container's.
        "kernel.domainname" => Ok(LinuxNamespaceType::Uts),
        _ => Err("not a namespaced sysctl, so it would change the whole host"),
    }
}

/// `linux.sysctl` as runc validates it: only namespaced keys, and each only
/// when the container has its own namespace of that kind (created, or
/// joined by a path that is not the caller's or PID 1's), so that no write
/// ever lands in a host namespace.
pub(super) fn check_sysctls(spec: &Spec, nss: &[LinuxNamespace]) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    // Answered at most once per namespace type.
    let mut own: Vec<(LinuxNamespaceType, bool)> = Vec::new();
    for (key, value) in sysctl {
        let typ =
            sysctl_namespace(key).map_err(|why| anyhow::anyhow!("linux.sysctl {key:?}: {why}"))?;
        // Two different names for one uts field: which one the container
        // got would be an accident of order (runc lets the sysctl win).
        if key == "kernel.domainname"
            && let Some(d) = spec.domainname().as_deref()
            && d != value
        {
            bail!(
                "linux.sysctl \"kernel.domainname\": {value:?} conflicts with domainname {d:?} (set one, or both the same)"
            );
        }
        let is_own = match own.iter().find(|(t, _)| *t == typ) {
            Some((_, o)) => *o,
            None => {
                let o = own_namespace(nss, typ).with_context(|| format!("linux.sysctl {key:?}"))?;
                own.push((typ, o));
                o
            }
        };
        if !is_own {
            bail!(
                "linux.sysctl {key:?}: belongs to the {} namespace, and the container has no {} namespace of its own: it would change the host's",
                crate::namespaces::config_name(typ),
                crate::namespaces::config_name(typ)
            );
        }
    }
    Ok(())
}

/// Does the container get a namespace of `typ` that is not the host's?
/// (Also asked for `linux.netDevices`, spec/netdevices.rs.)
pub(super) fn own_namespace(nss: &[LinuxNamespace], typ: LinuxNamespaceType) -> Result<bool> {
    let Some(ns) = nss.iter().find(|n| n.typ() == typ) else {
        return Ok(false);
    };
    let Some(path) = ns.path() else {
        return Ok(true);
    };
    // O_PATH: a stat by fd, which neither blocks (a fifo at the path) nor
    // needs read permission.
    let hosts = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .and_then(|f| crate::namespaces::is_hosts(f.as_fd(), typ))
        .with_context(|| format!("stat {}", path.display()))?;
    Ok(!hosts)
}

//! The checks of a typed spec that serde cannot make: fields that depend on
//! each other, on the host, or on limits the kernel sets. Each error names
//! its field; the first one found is reported, in the order below.

use anyhow::{Result, bail};
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespace, LinuxNamespaceType, Mount};

use super::{Spec, mount_options, netdevices, proc_mounts, process_fields, refused, sysctl};

pub(super) fn check_spec(spec: &Spec) -> Result<()> {
    super::version::check(spec.version())?;
    let nss = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default();
    check_listed_once(nss)?;
    super::hooks::check(spec.hooks().as_ref())?;
    check_mounts(spec.mounts().as_deref().unwrap_or(&[]))?;
    check_resources(spec)?;
    check_command(spec)?;
    if let Some(linux) = spec.linux() {
        check_user_and_joined(linux, nss)?;
        check_masked_and_readonly(linux)?;
        super::device_numbers::check_devices(linux)?;
    }
    if spec
        .annotations()
        .as_ref()
        .is_some_and(|a| a.contains_key(""))
    {
        bail!("annotations: a key is empty (config.md: keys MUST NOT be an empty string)");
    }
    check_namespace_needed(spec, nss)?;
    check_process_fields(spec, nss)
}

fn check_listed_once(nss: &[LinuxNamespace]) -> Result<()> {
    for (i, ns) in nss.iter().enumerate() {
        if nss[..i].iter().any(|n| n.typ() == ns.typ()) {
            bail!(
                "linux.namespaces[{i}].type: namespace {:?} listed twice",
                crate::namespaces::config_name(ns.typ())
            );
        }
    }
    Ok(())
}

fn check_mounts(mounts: &[Mount]) -> Result<()> {
    for (i, m) in mounts.iter().enumerate() {
        // Relative destinations were made absolute on load; only an
        // empty one is left, which names no place to mount on.
        if !m.destination().is_absolute() {
            bail!("mounts[{i}].destination: empty");
        }
        mount_options::check(i, m)?;
    }
    proc_mounts::check_proc_mounts(mounts)
}

/// Negative limits other than -1 (unlimited), and a memory limit no
/// process fits in.
fn check_resources(spec: &Spec) -> Result<()> {
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    if let Some(mem) = resources.and_then(|r| r.memory().as_ref()) {
        for (key, n) in [
            ("limit", mem.limit()),
            ("reservation", mem.reservation()),
            ("swap", mem.swap()),
            ("kernel", mem.kernel()),
            ("kernelTCP", mem.kernel_tcp()),
        ] {
            if let Some(n) = n
                && n < -1
            {
                bail!("linux.resources.memory.{key}: {n} is negative");
            }
        }
        check_memory_minimum(mem.limit())?;
    }
    if let Some(q) = resources
        .and_then(|r| r.cpu().as_ref())
        .and_then(|c| c.quota())
        && q < -1
    {
        bail!("linux.resources.cpu.quota: {q} is negative");
    }
    Ok(())
}

/// What to run and where: a process with a command and an absolute cwd.
fn check_command(spec: &Spec) -> Result<()> {
    let Some(process) = spec.process() else {
        bail!("process: missing")
    };
    match process.args() {
        Some(args) if !args.is_empty() => {}
        _ => bail!("process.args: empty (the command to run is needed)"),
    }
    if !process.cwd().is_absolute() {
        bail!("process.cwd: {:?} is not an absolute path", process.cwd());
    }
    Ok(())
}

/// A new user namespace needs its maps; a namespace joined by path needs
/// the path to exist.
fn check_user_and_joined(linux: &Linux, nss: &[LinuxNamespace]) -> Result<()> {
    let user = nss.iter().find(|n| n.typ() == LinuxNamespaceType::User);
    // Maps without a user namespace would be ignored: the container's ids
    // would be the host's, not what the config says (runc refuses too).
    let listed = |m: &Option<Vec<LinuxIdMapping>>| m.as_ref().is_some_and(|v| !v.is_empty());
    if user.is_none() {
        for (field, m) in [
            ("uidMappings", linux.uid_mappings()),
            ("gidMappings", linux.gid_mappings()),
        ] {
            if listed(m) {
                bail!("linux.{field}: set, but linux.namespaces has no user namespace to map");
            }
        }
    }
    if let Some(user) = user
        && user.path().is_none()
    {
        let empty = |m: &Option<Vec<LinuxIdMapping>>| m.as_ref().is_none_or(|v| v.is_empty());
        if empty(linux.uid_mappings()) || empty(linux.gid_mappings()) {
            bail!("linux.uidMappings/gidMappings: a new user namespace needs both mappings");
        }
        check_id_ranges(linux)?;
    }
    for ns in nss {
        let Some(p) = ns.path() else { continue };
        // try_exists, not exists: a path that cannot be followed (a loop,
        // a /proc/PID/ns the caller may not read) is not "missing", and
        // the error says what it is.
        match p.try_exists() {
            Ok(true) => {}
            Ok(false) => bail!(
                "linux.namespaces: {:?} path {}: no such file",
                ns.typ(),
                p.display()
            ),
            Err(e) => bail!("linux.namespaces: {:?} path {}: {e}", ns.typ(), p.display()),
        }
    }
    Ok(())
}

/// The kernel's own rule for a map line (kernel/user_namespace.c): a
/// non-empty range whose ends on both sides fit in 32 bits. Checked here so
/// that a bad range fails create naming the entry, not as EINVAL from the
/// write to /proc/PID/uid_map.
fn check_id_ranges(linux: &Linux) -> Result<()> {
    for (field, maps) in [
        ("uidMappings", linux.uid_mappings()),
        ("gidMappings", linux.gid_mappings()),
    ] {
        for (i, m) in maps.iter().flatten().enumerate() {
            let (inside, host, size) = (m.container_id(), m.host_id(), m.size());
            if size == 0 {
                bail!("linux.{field}[{i}]: size 0 maps nothing");
            }
            for (name, start) in [("containerID", inside), ("hostID", host)] {
                if start.checked_add(size).is_none() {
                    bail!(
                        "linux.{field}[{i}]: {name} {start} + size {size} is above 4294967295 (ids are 32-bit)"
                    );
                }
            }
        }
    }
    Ok(())
}

/// config-linux.md: maskedPaths and readonlyPaths "MUST be absolute paths
/// in the container namespace"; a relative one would be taken from the
/// init's working directory at the time, which no config means.
fn check_masked_and_readonly(linux: &Linux) -> Result<()> {
    for (field, list) in [
        ("maskedPaths", linux.masked_paths()),
        ("readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            if !p.starts_with('/') {
                bail!("linux.{field}[{i}]: {p:?} is not an absolute path");
            }
        }
    }
    Ok(())
}

/// Fields that would apply to the caller's own namespace when the
/// container has none of that kind.
fn check_namespace_needed(spec: &Spec, nss: &[LinuxNamespace]) -> Result<()> {
    let has = |t: LinuxNamespaceType| nss.iter().any(|n| n.typ() == t);
    if spec
        .linux()
        .as_ref()
        .is_some_and(|l| l.rootfs_propagation().is_some())
        && !has(LinuxNamespaceType::Mount)
    {
        // It would be the propagation of the caller's own `/`.
        bail!("linux.rootfsPropagation: set, but there is no mount namespace to apply it in");
    }
    // Without a uts namespace of its own, the container's would be the
    // caller's: setting either name would rename the host.
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("hostname: set, but there is no new uts namespace to set it in");
    }
    if spec.domainname().as_ref().is_some_and(|d| !d.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("domainname: set, but there is no new uts namespace to set it in");
    }
    joined_hosts(spec, nss)
}

/// A namespace joined by path that is the runtime's own (or PID 1's) is
/// the host's, whatever the entry says. In the mount namespace the init
/// would pivot_root, which moves the root of every process there whose
/// root is the old one (the whole host) into the container's rootfs, and
/// detaches the old root; in the uts namespace the hostname and domain
/// name would rename the host. sysctl.rs and netdevices.rs ask the same
/// of their namespaces; the init asks again on the opened files
/// (process/init_fork.rs `hosts_not_joined`), in case a path changed.
fn joined_hosts(spec: &Spec, nss: &[LinuxNamespace]) -> Result<()> {
    if crate::fault::control("OUTLET_JOINED_HOST_NS_UNCHECKED") {
        return Ok(());
    }
    for ns in nss.iter().filter(|n| n.path().is_some()) {
        let typ = ns.typ();
        let field = match typ {
            LinuxNamespaceType::Mount => "linux.namespaces",
            LinuxNamespaceType::Uts if names_host(spec) => "hostname/domainname",
            _ => continue,
        };
        if !sysctl::own_namespace(nss, typ)? {
            bail!(
                "{field}: the {} namespace joined by path ({}) is the runtime's own (or PID 1's): {}",
                crate::namespaces::config_name(typ),
                ns.path()
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display(),
                host_effect(typ)
            );
        }
    }
    Ok(())
}

/// Whether the spec sets a name in the uts namespace.
pub fn names_host(spec: &Spec) -> bool {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    set(spec.hostname()) || set(spec.domainname())
}

/// What joining the host's namespace of `typ` would do, for errors.
pub fn host_effect(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => {
            "the container's root would be pivoted in there, moving every process of the host into it (leave the entry out to run in the runtime's mount namespace, chrooted)"
        }
        _ => "setting the hostname or domainname would rename the host",
    }
}

/// The fields applied by one syscall each in the init (scheduler, I/O
/// priority, memory policy, personality, time offsets): checked here with
/// the same translation the init uses.
fn check_process_fields(spec: &Spec, nss: &[LinuxNamespace]) -> Result<()> {
    if let Some(p) = spec.process() {
        process_fields::check_process(p)?;
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if let Some(m) = linux.memory_policy() {
        process_fields::memory_policy(m)?;
    }
    if let Some(p) = linux.personality() {
        process_fields::personality(p)?;
    }
    let new_time = nss
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Time && n.path().is_none());
    if let Some(offsets) = linux.time_offsets() {
        process_fields::time_offsets(offsets, new_time)?;
    }
    sysctl::check_sysctls(spec, nss)?;
    refused::check_spec(spec)?;
    netdevices::check(spec, nss)?;
    Ok(())
}

/// The kernel keeps memory in pages: a limit below one page cannot be
/// honoured (v2 rounds it down to 0 pages, v1 up to one page) and no
/// process could run in it. 0 means unset, as in runc.
fn check_memory_minimum(limit: Option<i64>) -> Result<()> {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as i64;
    if let Some(l) = limit
        && l > 0
        && l < page
    {
        bail!(
            "linux.resources.memory.limit: {l} bytes is below the minimum the kernel can enforce, one page ({page} bytes)"
        );
    }
    Ok(())
}

//! Load and validate config.json, and the default template `outlet spec`
//! writes. Every error here happens before any side effect and names the
//! field it is about.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::runtime::LinuxNamespaceType;
use serde_json::Value;

pub mod mount_options;
pub mod process_fields;
mod refused;
mod strict;
mod types;
pub use types::{Process, Scheduler, Spec};

/// A validated spec with the bundle-relative paths resolved.
pub struct Loaded {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The file the spec was read from (`--config`, else the bundle's).
    pub config: PathBuf,
    /// Its text, as validated: kept in the state dir for `exec`.
    pub text: Vec<u8>,
}

pub fn load(bundle: &Path, config: Option<&Path>) -> Result<Loaded> {
    let bundle =
        std::fs::canonicalize(bundle).with_context(|| format!("bundle {}", bundle.display()))?;
    let path = match config {
        Some(c) => c.to_path_buf(),
        None => bundle.join("config.json"),
    };
    let text = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let spec = parse(&text, &path)?;
    let root = spec.root().as_ref().map(|r| r.path().clone());
    let Some(root) = root else {
        bail!("config {name}: root.path: missing")
    };
    let rootfs = bundle.join(&root);
    let rootfs = std::fs::canonicalize(&rootfs).with_context(|| {
        format!(
            "config {name}: root.path: {}: rootfs not found",
            rootfs.display()
        )
    })?;
    if !rootfs.is_dir() {
        bail!(
            "config {name}: root.path: {} is not a directory",
            rootfs.display()
        );
    }
    Ok(Loaded {
        spec,
        bundle,
        rootfs,
        config: path,
        text,
    })
}

/// config.json's text to a checked spec: one typed pass on the common path.
/// Reads the host only to check the spec against it (namespace paths, proc
/// mount sources); changes nothing, so the fuzz target can call it.
pub fn parse(text: &[u8], path: &Path) -> Result<Spec> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let track = strict::Track::default();
    let spec = match strict::from_slice::<Spec>(text, &track) {
        Ok(spec) => spec,
        Err(e) => {
            // serde names a line and column; find the field for the message.
            // (serde_json calls some type errors syntax errors, such as a
            // number where an enum's name belongs: valid JSON is not that.)
            let value: Value = serde_json::from_slice(text)
                .with_context(|| format!("{}: invalid JSON", path.display()))?;
            explain(&value).with_context(|| format!("config {name}"))?;
            let at = track.path();
            if at.is_empty() {
                return Err(e).with_context(|| format!("config {name}: invalid spec"));
            }
            bail!("config {name}: {at}: {e}");
        }
    };
    check_spec(&spec).with_context(|| format!("config {name}"))?;
    Ok(spec)
}

/// The spec from a config that `load` validated before (the copy in a
/// container's state dir): typed only, without the checks against the
/// host as it was at create.
pub fn from_validated(text: &[u8]) -> Result<Spec> {
    let track = strict::Track::default();
    strict::from_slice(text, &track).map_err(|e| anyhow::anyhow!("{}: {e}", track.path()))
}

const NAMESPACE_TYPES: &[&str] = &[
    "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
];

/// The config's name of a namespace type.
fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Time => "time",
    }
}

/// Why a config that is valid JSON is not a spec, on the raw JSON: only
/// called after the typed parse failed (the common path parses once), for
/// the mistakes whose serde message would not name the field.
fn explain(v: &Value) -> Result<()> {
    if v.get("ociVersion").is_some_and(|o| !o.is_string()) {
        bail!("ociVersion: expected a string");
    }
    crate::security::capabilities::check_config_names(v)?;
    // Enumerations whose serde message names only the bad value.
    for (pointer, field) in [
        ("/process/ioPriority", "process.ioPriority"),
        ("/linux/memoryPolicy", "linux.memoryPolicy"),
        ("/linux/personality", "linux.personality"),
        ("/linux/timeOffsets", "linux.timeOffsets"),
        ("/process/scheduler", "process.scheduler"),
    ] {
        if let Some(x) = v.pointer(pointer) {
            let r = match field {
                "process.ioPriority" => {
                    serde_json::from_value::<oci_spec::runtime::LinuxIOPriority>(x.clone()).err()
                }
                "linux.memoryPolicy" => {
                    serde_json::from_value::<oci_spec::runtime::LinuxMemoryPolicy>(x.clone()).err()
                }
                "linux.personality" => {
                    serde_json::from_value::<oci_spec::runtime::LinuxPersonality>(x.clone()).err()
                }
                "linux.timeOffsets" => serde_json::from_value::<
                    std::collections::HashMap<String, oci_spec::runtime::LinuxTimeOffset>,
                >(x.clone())
                .err(),
                _ => serde_json::from_value::<Scheduler>(x.clone()).err(),
            };
            if let Some(e) = r {
                bail!("{field}: {e}");
            }
        }
    }
    if let Some(nss) = v.pointer("/linux/namespaces").and_then(Value::as_array) {
        for (i, ns) in nss.iter().enumerate() {
            let t = match ns.get("type") {
                Some(Value::String(t)) => t.as_str(),
                Some(other) => bail!("linux.namespaces[{i}].type: expected a string, got {other}"),
                None => "",
            };
            if !NAMESPACE_TYPES.contains(&t) {
                bail!(
                    "linux.namespaces[{i}].type: unknown namespace type {t:?} (known: {})",
                    NAMESPACE_TYPES.join(", ")
                );
            }
        }
    }
    Ok(())
}

fn check_spec(spec: &Spec) -> Result<()> {
    if spec.version().is_empty() {
        bail!("ociVersion: missing");
    }
    let nss = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default();
    for (i, ns) in nss.iter().enumerate() {
        if nss[..i].iter().any(|n| n.typ() == ns.typ()) {
            bail!(
                "linux.namespaces[{i}].type: namespace {:?} listed twice",
                ns_name(ns.typ())
            );
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            bail!(
                "mounts[{i}].destination: {:?} is not an absolute path",
                m.destination()
            );
        }
        mount_options::check(i, m)?;
    }
    check_proc_mounts(spec.mounts().as_deref().unwrap_or(&[]))?;
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
    let has = |t: LinuxNamespaceType| nss.iter().any(|n| n.typ() == t);
    if let Some(linux) = spec.linux() {
        let user = nss.iter().find(|n| n.typ() == LinuxNamespaceType::User);
        if let Some(user) = user
            && user.path().is_none()
        {
            let empty = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
                m.as_ref().is_none_or(|v| v.is_empty())
            };
            if empty(linux.uid_mappings()) || empty(linux.gid_mappings()) {
                bail!("linux.uidMappings/gidMappings: a new user namespace needs both mappings");
            }
        }
        for ns in nss {
            if let Some(p) = ns.path()
                && !p.exists()
            {
                bail!(
                    "linux.namespaces: {:?} path {}: no such file",
                    ns.typ(),
                    p.display()
                );
            }
        }
    }
    if spec
        .linux()
        .as_ref()
        .is_some_and(|l| l.rootfs_propagation().is_some())
        && !has(LinuxNamespaceType::Mount)
    {
        // It would be the propagation of the caller's own `/`.
        bail!("linux.rootfsPropagation: set, but there is no mount namespace to apply it in");
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("hostname: set, but there is no new uts namespace to set it in");
    }
    check_process_fields(spec, nss)
}

/// The fields applied by one syscall each in the init (scheduler, I/O
/// priority, memory policy, personality, time offsets): checked here with
/// the same translation the init uses.
fn check_process_fields(spec: &Spec, nss: &[oci_spec::runtime::LinuxNamespace]) -> Result<()> {
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
    check_sysctls(spec, nss)?;
    refused::check_spec(spec)?;
    Ok(())
}

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
fn sysctl_namespace(key: &str) -> Result<LinuxNamespaceType, &'static str> {
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
        "kernel.domainname" => Err("set by the uts namespace's own field, use \"domainname\""),
        _ => Err("not a namespaced sysctl, so it would change the whole host"),
    }
}

/// `linux.sysctl` as runc validates it: only namespaced keys, and each only
/// when the container has its own namespace of that kind (created, or
/// joined by a path that is not the caller's or PID 1's), so that no write
/// ever lands in a host namespace.
fn check_sysctls(spec: &Spec, nss: &[oci_spec::runtime::LinuxNamespace]) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    // Answered at most once per namespace type.
    let mut own: Vec<(LinuxNamespaceType, bool)> = Vec::new();
    for key in sysctl.keys() {
        let typ =
            sysctl_namespace(key).map_err(|why| anyhow::anyhow!("linux.sysctl {key:?}: {why}"))?;
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
                ns_name(typ),
                ns_name(typ)
            );
        }
    }
    Ok(())
}

/// A mount over /proc can redirect what the container sees of the kernel
/// (and, for a runtime that writes by path, the runtime's own writes):
/// refused, except what runc allows (see `proc_mount_allowed`). This is the
/// lexical half; `rootfs::mounts` checks again where the destination
/// resolved to, since an image symlink can lead any path into /proc.
fn check_proc_mounts(mounts: &[oci_spec::runtime::Mount]) -> Result<()> {
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

/// Does the container get a namespace of `typ` that is not the host's?
fn own_namespace(
    nss: &[oci_spec::runtime::LinuxNamespace],
    typ: LinuxNamespaceType,
) -> Result<bool> {
    let Some(ns) = nss.iter().find(|n| n.typ() == typ) else {
        return Ok(false);
    };
    let Some(path) = ns.path() else {
        return Ok(true);
    };
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
    let joined = id(path).with_context(|| format!("stat {}", path.display()))?;
    let name = crate::namespaces::proc_name(typ);
    // PID 1's may be unreadable (rootless, hidepid): then only our own counts.
    for host in [
        format!("/proc/self/ns/{name}"),
        format!("/proc/1/ns/{name}"),
    ] {
        if id(Path::new(&host)).is_ok_and(|h| h == joined) {
            return Ok(false);
        }
    }
    Ok(true)
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

/// The longest container id (runc's limit too).
const ID_MAX: usize = 1024;

/// The rule ids must follow, as it appears in errors.
const ID_RULE: &str = "[A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes";

/// Container ids become directory names under the state root and lines in
/// `list`: only runc's characters, so an id can neither leave the root nor
/// name the runtime's `.cache`, pass for a flag (`-x`) or break a line.
pub fn check_id(id: &str) -> Result<()> {
    if id.len() > ID_MAX {
        bail!(
            "container id: {} bytes long, must match {ID_RULE}",
            id.len()
        );
    }
    let mut bytes = id.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    if !first_ok
        || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
    {
        bail!("container id {id:?}: must match {ID_RULE}");
    }
    Ok(())
}

/// The default config.json, as `runc spec` writes it (runc's command is `sh`).
pub fn template(rootless: bool) -> Value {
    let mut v = serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "outlet",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    });
    if rootless {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let linux = v["linux"].as_object_mut().expect("template has linux");
        linux.remove("resources");
        linux.insert(
            "uidMappings".into(),
            serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]),
        );
        linux.insert(
            "gidMappings".into(),
            serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]),
        );
        linux.insert(
            "namespaces".into(),
            serde_json::json!([
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}
            ]),
        );
        // Without a network namespace /sys cannot be mounted fresh, and a
        // user namespace cannot create device nodes: bind what it needs.
        let mounts = v["mounts"].as_array_mut().expect("template has mounts");
        mounts.retain(|m| m["destination"] != "/sys" && m["destination"] != "/sys/fs/cgroup");
        mounts.push(
            serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
        );
        for m in mounts.iter_mut() {
            if m["destination"] == "/dev/pts"
                && let Some(opts) = m["options"].as_array_mut()
            {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    #[test]
    fn mounts_under_proc() {
        let with = |mounts: Value| {
            let mut v = minimal();
            v["mounts"] = mounts;
            parse_value(&v)
        };
        let proc = serde_json::json!({"destination": "/proc", "type": "proc", "source": "proc"});
        let bind = |dest: &str| {
            serde_json::json!({"destination": dest, "type": "bind", "source": "/tmp",
                               "options": ["rbind"]})
        };
        for ok in [
            serde_json::json!([proc.clone()]),
            serde_json::json!([proc.clone(), bind("/proc/meminfo"), bind("/proc/net/dev")]),
            serde_json::json!([bind("/proc/sys/kernel/ns_last_pid")]),
            serde_json::json!([bind("/procfoo"), bind("/run/proc")]),
            serde_json::json!([{"destination": "/proc", "type": "bind", "source": "/proc",
                                "options": ["rbind"]}]),
        ] {
            with(ok.clone()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, index, dest) in [
            (
                serde_json::json!([proc.clone(), bind("/proc/sys/net")]),
                1,
                "/proc/sys/net",
            ),
            (serde_json::json!([bind("/proc/1")]), 0, "/proc/1"),
            (serde_json::json!([bind("/proc")]), 0, "/proc"),
            (serde_json::json!([bind("/proc/./self")]), 0, "/proc/./self"),
            (
                serde_json::json!([bind("/x/../proc/sys")]),
                0,
                "/x/../proc/sys",
            ),
            (
                serde_json::json!([{"destination": "/proc/meminfo", "type": "tmpfs",
                                    "source": "tmpfs"}]),
                0,
                "/proc/meminfo",
            ),
            (
                serde_json::json!([{"destination": "/proc", "type": "tmpfs", "source": "t"}]),
                0,
                "/proc",
            ),
        ] {
            let err = with(bad.clone()).expect_err(&bad.to_string());
            assert!(
                err.contains(&format!(
                    "mounts[{index}] (destination {dest}): mounts under /proc"
                )),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn ids() {
        let longest = "a".repeat(1024);
        for good in ["abc-1_2.3", "a.b_c+d-e", "0", "A..", longest.as_str()] {
            assert!(check_id(good).is_ok(), "{good:?}");
        }
        let too_long = "a".repeat(1025);
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            ".cache",
            "-x",
            "_a",
            "a b",
            "a\nb",
            "a\0b",
            "a:b",
            "é",
            too_long.as_str(),
        ] {
            let err = check_id(bad).unwrap_err().to_string();
            assert!(err.starts_with("container id"), "{bad:?}: {err}");
            assert!(err.contains(ID_RULE), "{bad:?}: {err}");
            assert!(!err.contains('\n'), "{bad:?}: one line: {err}");
        }
    }

    /// `parse` of a JSON value, the message with its whole context chain.
    fn parse_value(v: &Value) -> Result<Spec, String> {
        let text = serde_json::to_vec(v).unwrap();
        parse(&text, Path::new("/b/config.json")).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn minimal_parses() {
        let spec = parse_value(&minimal()).unwrap();
        assert_eq!(
            spec.process().as_ref().unwrap().args().as_ref().unwrap()[0],
            "true"
        );
    }

    #[test]
    fn unknown_namespace_names_the_field() {
        let mut v = minimal();
        v["linux"]["namespaces"][1]["type"] = "bogus".into();
        let err = parse_value(&v).unwrap_err();
        assert!(err.contains("linux.namespaces[1].type"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn relative_mount_destination_is_refused() {
        let mut v = minimal();
        v["mounts"] =
            serde_json::json!([{"destination": "proc", "type": "proc", "source": "proc"}]);
        let err = parse_value(&v).unwrap_err();
        assert!(err.contains("mounts[0].destination"), "{err}");
    }

    #[test]
    fn negative_memory_is_refused_but_minus_one_means_unlimited() {
        let mut v = minimal();
        v["linux"]["resources"] = serde_json::json!({"memory": {"limit": -1}});
        assert!(parse_value(&v).is_ok());
        v["linux"]["resources"] = serde_json::json!({"memory": {"limit": -5}});
        let err = parse_value(&v).unwrap_err();
        assert_eq!(
            err,
            "config config.json: linux.resources.memory.limit: -5 is negative"
        );
    }

    #[test]
    fn memory_limit_below_a_page_is_refused_naming_the_minimum() {
        let mut v = minimal();
        for ok in [0, 4096, 1 << 20] {
            v["linux"]["resources"] = serde_json::json!({"memory": {"limit": ok}});
            assert!(parse_value(&v).is_ok(), "{ok}");
        }
        v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 1}});
        let err = parse_value(&v).unwrap_err();
        assert!(
            err.contains("linux.resources.memory.limit: 1 bytes is below"),
            "{err}"
        );
        assert!(err.contains("(4096 bytes)"), "{err}");
    }

    #[test]
    fn arrays_for_objects_and_wrong_types_name_their_field() {
        for (pointer, value, want) in [
            (
                "/linux/resources",
                serde_json::json!([]),
                "linux.resources: invalid type: sequence",
            ),
            (
                "/linux/resources",
                serde_json::json!({"devices": [[]]}),
                "linux.resources.devices[0]: invalid type: sequence",
            ),
            (
                "/linux/namespaces",
                serde_json::json!([{"type": "pid"}, {"type": 5}]),
                "linux.namespaces[1].type: expected a string, got 5",
            ),
            (
                "/process/user",
                serde_json::json!({"uid": "zero", "gid": 0}),
                "process.user.uid: invalid type: string",
            ),
        ] {
            let mut v = minimal();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            v.pointer_mut(parent).unwrap()[key] = value;
            let err = parse_value(&v).unwrap_err();
            assert!(err.contains(want), "{pointer}: {err}");
            assert!(!err.contains("invalid JSON"), "{pointer}: {err}");
        }
    }

    #[test]
    fn each_mistake_names_its_field() {
        let cases: [(&str, Value, &str); 6] = [
            ("/ociVersion", Value::Null, "ociVersion: missing"),
            ("/ociVersion", 5.into(), "ociVersion: expected a string"),
            (
                "/linux/namespaces",
                serde_json::json!([{"type": "pid"}, {"type": "pid"}]),
                "linux.namespaces[1].type: namespace \"pid\" listed twice",
            ),
            (
                "/process/capabilities",
                serde_json::json!({"bounding": ["CAP_NOPE"]}),
                "process.capabilities.bounding: unknown capability \"CAP_NOPE\"",
            ),
            (
                "/linux/resources",
                serde_json::json!({"cpu": {"quota": -7}}),
                "linux.resources.cpu.quota: -7 is negative",
            ),
            (
                "/process/execCPUAffinity",
                serde_json::json!({"initial": "0-"}),
                "invalid execCPUAffinity \"0-\"",
            ),
        ];
        for (pointer, value, want) in cases {
            let mut v = minimal();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let obj = match parent {
                "" => &mut v,
                p => v.pointer_mut(p).unwrap(),
            };
            if value.is_null() {
                obj.as_object_mut().unwrap().remove(key);
            } else {
                obj[key] = value;
            }
            let err = parse_value(&v).unwrap_err();
            assert!(err.contains(want), "{pointer}: {err}");
        }
    }

    #[test]
    fn broken_json_says_so() {
        let err = parse(b"{\"ociVersion\": ", Path::new("/b/config.json")).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("/b/config.json: invalid JSON"),
            "{err:#}"
        );
    }

    #[test]
    fn template_parses_as_a_spec() {
        for rootless in [false, true] {
            parse_value(&template(rootless)).unwrap();
        }
    }

    fn with_sysctl(key: &str, nss: Value) -> Result<Spec, String> {
        let mut v = minimal();
        v["linux"]["namespaces"] = nss;
        v["linux"]["sysctl"] = serde_json::json!({ key: "1" });
        parse_value(&v)
    }

    #[test]
    fn sysctl_table() {
        use LinuxNamespaceType::{Ipc, Network};
        for (key, want) in [
            ("kernel.msgmax", Ok(Ipc)),
            ("kernel.msgmnb", Ok(Ipc)),
            ("kernel.msgmni", Ok(Ipc)),
            ("kernel.sem", Ok(Ipc)),
            ("kernel.shmall", Ok(Ipc)),
            ("kernel.shmmax", Ok(Ipc)),
            ("kernel.shmmni", Ok(Ipc)),
            ("kernel.shm_rmid_forced", Ok(Ipc)),
            ("fs.mqueue.queues_max", Ok(Ipc)),
            ("net.ipv4.ip_forward", Ok(Network)),
            ("net.ipv4.conf.eth0/100.forwarding", Ok(Network)),
            ("kernel.hostname", Err("hostname")),
            ("kernel.domainname", Err("domainname")),
            ("kernel.core_pattern", Err("whole host")),
            ("kernel.shm_next_id", Err("whole host")),
            ("kernel.msgmax2", Err("whole host")),
            ("vm.overcommit_memory", Err("whole host")),
            ("fs.mqueue", Err("whole host")),
            ("net", Err("whole host")),
            ("netfilter.x", Err("whole host")),
            ("user.max_user_namespaces", Err("whole host")),
            ("net..ipv4", Err("not a sysctl name")),
            ("net./../kernel.core_pattern", Err("not a sysctl name")),
            ("net.ipv4/", Err("not a sysctl name")),
            ("/net.ipv4", Err("not a sysctl name")),
            ("net.a b", Err("not a sysctl name")),
            ("net.a\nb", Err("not a sysctl name")),
            ("", Err("not a sysctl name")),
        ] {
            match (sysctl_namespace(key), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{key:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{key:?}: {got}"),
                (got, want) => panic!("{key:?}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn sysctl_needs_its_own_namespace() {
        let none = serde_json::json!([{"type": "mount"}]);
        let own = serde_json::json!([{"type": "mount"}, {"type": "ipc"}, {"type": "network"}, {"type": "uts"}]);
        for key in [
            "kernel.shmmax",
            "fs.mqueue.queues_max",
            "net.ipv4.ip_forward",
        ] {
            with_sysctl(key, own.clone()).unwrap();
            let err = with_sysctl(key, none.clone()).unwrap_err();
            assert!(
                err.contains(&format!("linux.sysctl {key:?}")) && err.contains("host's"),
                "{err}"
            );
        }
        let err = with_sysctl("kernel.core_pattern", own.clone()).unwrap_err();
        assert!(
            err.contains("linux.sysctl \"kernel.core_pattern\": not a namespaced sysctl"),
            "{err}"
        );
        let err = with_sysctl("kernel.hostname", own).unwrap_err();
        assert!(err.contains("\"hostname\""), "{err}");
        // Joining a namespace by path counts only when it is not ours.
        for (typ, proc) in [("network", "net"), ("ipc", "ipc")] {
            let key = if typ == "ipc" {
                "kernel.sem"
            } else {
                "net.core.somaxconn"
            };
            for path in [
                format!("/proc/self/ns/{proc}"),
                format!("/proc/1/ns/{proc}"),
            ] {
                if !Path::new(&path).exists() {
                    continue;
                }
                let joined = serde_json::json!([{"type": "mount"}, {"type": typ, "path": path}]);
                let err = with_sysctl(key, joined).unwrap_err();
                assert!(err.contains("host's"), "{path}: {err}");
            }
        }
    }

    #[test]
    fn rootfs_propagation_needs_a_mount_namespace() {
        let mut v = minimal();
        v["linux"]["rootfsPropagation"] = "shared".into();
        assert!(parse_value(&v).is_ok());
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        let err = parse_value(&v).unwrap_err();
        assert!(err.contains("linux.rootfsPropagation"), "{err}");
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let mut v = minimal();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}]);
        let spec: Spec = serde_json::from_value(v).unwrap();
        let err = check_spec(&spec).unwrap_err().to_string();
        assert!(err.contains("uidMappings"), "{err}");
    }
}

//! Load and validate config.json, and the default template `outlet spec`
//! writes. Every error here happens before any side effect and names the
//! field it is about.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::runtime::LinuxNamespaceType;
use serde_json::Value;

pub mod mount_options;
mod types;
pub use types::{Process, Spec};

/// A validated spec with the bundle-relative paths resolved.
pub struct Loaded {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The file the spec was read from (`--config`, else the bundle's).
    pub config: PathBuf,
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
    })
}

/// config.json's text to a checked spec: one typed pass on the common path.
fn parse(text: &[u8], path: &Path) -> Result<Spec> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let spec = match serde_json::from_slice::<Spec>(text) {
        Ok(spec) => spec,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return Err(e).with_context(|| format!("{}: invalid JSON", path.display()));
        }
        Err(e) => {
            // serde names a line and column; find the field for the message.
            let value: Value = serde_json::from_slice(text)
                .with_context(|| format!("{}: invalid JSON", path.display()))?;
            explain(&value).with_context(|| format!("config {name}"))?;
            return Err(e).with_context(|| format!("config {name}: invalid spec"));
        }
    };
    check_spec(&spec).with_context(|| format!("config {name}"))?;
    Ok(spec)
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
    if let Some(nss) = v.pointer("/linux/namespaces").and_then(Value::as_array) {
        for (i, ns) in nss.iter().enumerate() {
            let t = ns.get("type").and_then(Value::as_str).unwrap_or("");
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
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("hostname: set, but there is no new uts namespace to set it in");
    }
    if has(LinuxNamespaceType::Time) {
        bail!("linux.namespaces: time namespaces are not supported");
    }
    Ok(())
}

/// Container ids become directory names under the state root: refuse
/// anything that could leave it.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        bail!("container id: empty");
    }
    if id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        bail!("container id {id:?}: must not contain '/' or be '.' or '..'");
    }
    if id == crate::state::CACHE_DIR {
        bail!("container id {id:?}: reserved for the runtime's cache in the state root");
    }
    if id.len() > 1024 {
        bail!("container id: longer than 1024 bytes");
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
    fn ids() {
        assert!(check_id("abc-1_2.3").is_ok());
        for bad in ["", ".", "..", "../x", "a/b", ".cache"] {
            let err = check_id(bad).unwrap_err().to_string();
            assert!(err.starts_with("container id"), "{bad:?}: {err}");
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

    #[test]
    fn user_namespace_needs_mappings() {
        let mut v = minimal();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}]);
        let spec: Spec = serde_json::from_value(v).unwrap();
        let err = check_spec(&spec).unwrap_err().to_string();
        assert!(err.contains("uidMappings"), "{err}");
    }
}

//! Load and validate config.json, and the default template `outlet spec`
//! writes. Every error here happens before any side effect and names the
//! field it is about. This file loads and parses; the checks live by
//! concern in the files below.

use std::path::{Path, PathBuf};

use crate::namespaces;
use anyhow::{Context, Result, bail};
use serde_json::Value;

mod checks;
pub mod cpu_affinity;
pub mod device_numbers;
mod env;
mod exec_view;
mod hooks;
mod id;
pub mod mount_options;
mod netdevices;
mod proc_mounts;
pub mod process_fields;
mod process_values;
mod refused;
mod strict;
mod sysctl;
mod template;
#[cfg(test)]
mod tests;
mod types;
mod version;
pub use checks::{host_effect, names_host};
pub use exec_view::{ExecLinux, ExecSpec};
pub use id::check_id;
pub use proc_mounts::{PROC_MOUNTS_REFUSED, normalized, proc_mount_allowed};
pub use process_values::gids_in_message;
pub use sysctl::sysctl_namespace;
pub use template::template;
pub use types::{Process, Scheduler, Spec};

/// A validated spec with the bundle-relative paths resolved.
pub struct Validated {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The file the spec was read from (`--config`, else the bundle's).
    pub config: PathBuf,
    /// Its text, as validated: kept in the state dir for `exec`.
    pub text: Vec<u8>,
}

pub fn load(bundle: &Path, config: Option<&Path>) -> Result<Validated> {
    let bundle = crate::syscall::fs::realpath(bundle)
        .with_context(|| format!("bundle {}", bundle.display()))?;
    let path = match config {
        Some(c) => c.to_path_buf(),
        None => bundle.join("config.json"),
    };
    let text = crate::syscall::fs::read_input(Some(&path))
        .with_context(|| format!("read {}", path.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let (mut spec, text) = match parse(&text, &path) {
        Ok(spec) => (spec, text),
        Err(e) => match without_unknown_caps(&text) {
            Some(kept) => (parse(&kept, &path)?, kept),
            None => return Err(e),
        },
    };
    bundle_relative_bind_sources(&mut spec, &bundle);
    let root = spec.root().as_ref().map(|r| r.path().clone());
    let Some(root) = root else {
        bail!("config {name}: root.path: missing")
    };
    let rootfs = bundle.join(&root);
    let rootfs = crate::syscall::fs::realpath(&rootfs).with_context(|| {
        format!(
            "config {name}: root.path: {}: rootfs not found",
            rootfs.display()
        )
    })?;
    // is_dir() would call any failure of the stat (ENOMEM, EACCES) "not
    // a directory"; say what really failed (faults_s8).
    let meta = std::fs::metadata(&rootfs)
        .with_context(|| format!("config {name}: root.path: {}", rootfs.display()))?;
    if !meta.is_dir() {
        bail!(
            "config {name}: root.path: {} is not a directory",
            rootfs.display()
        );
    }
    Ok(Validated {
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
    let track = strict::Track::checking_cap_names();
    let mut spec = match strict::from_slice::<Spec>(text, &track) {
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
    absolute_destinations(&mut spec);
    checks::check_spec(&spec).with_context(|| format!("config {name}"))?;
    Ok(spec)
}

/// The config without the capability names that are none (see
/// `capabilities::drop_unknown`), with a warning naming them; None when
/// it has none, or is not JSON. Only asked after the typed parse failed:
/// the common path pays nothing. The config kept in the state dir is
/// this one, so later commands parse it as it was run.
fn without_unknown_caps(text: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(text).ok()?;
    let dropped = crate::security::cap_names::drop_unknown(&mut v);
    if dropped.is_empty() {
        return None;
    }
    crate::logging::warn(&format!(
        "process.capabilities: ignoring unknown capabilities {dropped:?}"
    ));
    serde_json::to_vec(&v).ok()
}

/// config.md: "Path values for bind mounts are either absolute or
/// relative to the bundle", whatever directory outlet was started in.
fn bundle_relative_bind_sources(spec: &mut Spec, bundle: &Path) {
    for m in spec.mounts.iter_mut().flatten() {
        let typ = m.typ().as_deref().unwrap_or("");
        let bind = typ == "bind"
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        if !bind || typ == "cgroup" || typ == "cgroup2" {
            continue;
        }
        if let Some(src) = m.source().as_ref().filter(|s| s.is_relative()) {
            let abs = bundle.join(src);
            m.set_source(Some(abs));
        }
    }
}

/// config.md: a relative mount destination (deprecated, but allowed for
/// old tools) MUST be taken as relative to "/". Made absolute once here,
/// so every later step (checks, mounting, masked paths under it) sees one
/// spelling.
fn absolute_destinations(spec: &mut Spec) {
    for m in spec.mounts.iter_mut().flatten() {
        if m.destination().is_relative() && !m.destination().as_os_str().is_empty() {
            let abs = Path::new("/").join(m.destination());
            m.set_destination(abs);
        }
    }
}

/// The spec from a config that `load` validated before (the copy in a
/// container's state dir): typed only, without the checks against the
/// host as it was at create.
pub fn from_validated(text: &[u8]) -> Result<Spec> {
    let track = strict::Track::default();
    let mut spec: Spec =
        strict::from_slice(text, &track).map_err(|e| anyhow::anyhow!("{}: {e}", track.path()))?;
    absolute_destinations(&mut spec);
    Ok(spec)
}

/// What `exec` reads of a config that `load` validated before (see
/// exec_view.rs), typed through the same strict layer as `from_validated`.
pub fn exec_view(text: &[u8]) -> Result<ExecSpec> {
    let track = strict::Track::default();
    strict::from_slice(text, &track).map_err(|e| anyhow::anyhow!("{}: {e}", track.path()))
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
            if !namespaces::ALL
                .iter()
                .any(|k| namespaces::config_name(*k) == t)
            {
                bail!(
                    "linux.namespaces[{i}].type: unknown namespace type {t:?} (known: {})",
                    namespaces::ALL.map(namespaces::config_name).join(", ")
                );
            }
        }
    }
    Ok(())
}

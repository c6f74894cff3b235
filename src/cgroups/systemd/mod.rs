//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient scope `prefix-name.scope` in the slice its cgroupsPath
//! `slice:prefix:name` names, made by systemd over D-Bus with the init's
//! pid in it and delegated to us; limits go in as unit properties and then,
//! exactly and completely, through the scope's cgroupfs files. A name that
//! is itself `x.slice` makes that slice instead (runc's meaning). Not as
//! host root (uid 0 in a user namespace is not: `owner`), the unit is the
//! user's systemd instance's, on the session bus.
//! Unified (v2) hosts only.

pub(super) mod backend;
mod bus;
mod owner;
mod props;
mod wire;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, anyhow, bail};

use crate::cgroups::FileWrite;
use bus::{Bus, BusError};
use wire::Value;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// `--systemd-cgroup` / `--cgroup-manager systemd` was given: containers
/// created by this process get a systemd scope.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A scope to make: its unit name, its slice, and its cgroup directory
/// relative to the v2 root.
#[derive(Debug, PartialEq, Eq)]
pub struct Scope {
    pub unit: String,
    pub slice: String,
    pub rel: PathBuf,
}

/// What systemd accepts in a unit name (before the suffix).
fn check_name(what: &str, path: &str, s: &str) -> Result<()> {
    if s.is_empty()
        || s.len() > 200
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b))
    {
        bail!(
            "linux.cgroupsPath {path:?}: {what} {s:?} is not a valid systemd unit name part (letters, digits, \":-_.\\@\")"
        );
    }
    Ok(())
}

/// `a-b-c.slice` -> `a.slice/a-b.slice/a-b-c.slice` (systemd nests a
/// slice in the slice its name's prefix names); `-.slice` is the root.
pub fn expand_slice(path: &str, slice: &str) -> Result<PathBuf> {
    let bad = || anyhow!("linux.cgroupsPath {path:?}: {slice:?} is not a valid slice name");
    let name = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if name == "-" {
        return Ok(PathBuf::new());
    }
    if name.is_empty() || name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err(bad());
    }
    check_name("slice", path, name)?;
    let mut out = PathBuf::new();
    let mut prefix = String::new();
    for part in name.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        out.push(format!("{prefix}.slice"));
    }
    Ok(out)
}

/// cgroupsPath for the systemd driver, for this caller: as host root,
/// systemd's own units; as any other user (rootless podman's uid 0 in its
/// user namespace too), the units of that user's systemd instance, whose
/// cgroups sit under the instance's own (runc's rootless placement),
/// asked for once here.
pub fn scope(cgroups_path: Option<&str>, id: &str) -> Result<Scope> {
    let rootless = owner::manager()?.is_user();
    let mut s = parse(cgroups_path, id, rootless)?;
    if rootless {
        let cg = Bus::system()?.manager_property("ControlGroup")?;
        let base = Path::new(cg.trim_start_matches('/'));
        if cg.is_empty()
            || !base
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            bail!("systemd: the user manager's ControlGroup {cg:?} is not a cgroup path");
        }
        s.rel = base.join(&s.rel);
    }
    Ok(s)
}

/// Parse cgroupsPath for the systemd driver: `slice:prefix:name`, empty
/// meaning runc's default `system.slice:outlet:<id>` (`user.slice`
/// rootless; an empty slice is that default slice too).
pub fn parse(cgroups_path: Option<&str>, id: &str, rootless: bool) -> Result<Scope> {
    let default_slice = if rootless {
        "user.slice"
    } else {
        "system.slice"
    };
    let default = format!("{default_slice}:outlet:{id}");
    let p = cgroups_path.filter(|s| !s.is_empty()).unwrap_or(&default);
    let parts: Vec<&str> = p.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        bail!("linux.cgroupsPath {p:?}: the systemd cgroup driver expects \"slice:prefix:name\"");
    };
    let slice = if slice.is_empty() {
        default_slice
    } else {
        slice
    };
    let parent = expand_slice(p, slice)?;
    if name.ends_with(".slice") {
        // systemd places a slice by its own name, whatever wants it: the
        // name must lie under the parent, or the cgroup would be elsewhere
        // than the path says (runc would then look in the wrong place).
        let own = expand_slice(p, name)?;
        if own == parent || !own.starts_with(&parent) {
            let stem = slice.trim_end_matches(".slice");
            bail!(
                "linux.cgroupsPath {p:?}: the slice {name:?} does not lie inside {slice:?} (systemd places a slice by its name: {stem}-<name>.slice)"
            );
        }
        refuse_escaped(p, &own)?;
        return Ok(Scope {
            unit: name.to_owned(),
            slice: slice.to_owned(),
            rel: own,
        });
    }
    check_name("name", p, name)?;
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        check_name("prefix", p, prefix)?;
        format!("{prefix}-{name}.scope")
    };
    let rel = parent.join(&unit);
    refuse_escaped(p, &rel)?;
    Ok(Scope {
        unit,
        slice: slice.to_owned(),
        rel,
    })
}

/// systemd's cgroup directory for a unit is the unit's name escaped
/// (cg_escape: a `_` in front of a name that starts with `_` or `.`, with
/// `cgroup.` or with a controller's name and a dot). outlet computes the
/// directory from the name, so for such a name it would act on another
/// directory than the unit's: `_cpu.scope`'s own is `__cpu.scope`, and
/// `_cpu.scope` is the directory of someone's `cpu.scope`, whose
/// processes a delete would kill. Refused, named, before anything.
fn refuse_escaped(path: &str, rel: &Path) -> Result<()> {
    const CONTROLLERS: &[&str] = &[
        "cpu",
        "cpuacct",
        "cpuset",
        "io",
        "blkio",
        "memory",
        "devices",
        "pids",
        "bpf-firewall",
        "bpf-devices",
        "bpf-foreign",
        "bpf-socket-bind",
        "bpf-restrict-network-interfaces",
    ];
    for c in rel.iter() {
        let c = c.to_string_lossy();
        let escaped = c.starts_with(['_', '.'])
            || c.starts_with("cgroup.")
            || c.split_once('.')
                .is_some_and(|(h, _)| CONTROLLERS.contains(&h));
        if escaped {
            bail!(
                "linux.cgroupsPath {path:?}: systemd keeps unit {c:?} in a cgroup of another name \
                 (it escapes names that start with '_', '.', \"cgroup.\" or a controller's name \
                 and a dot): choose another name"
            );
        }
    }
    Ok(())
}

/// Make the scope with `pid` in it and the properties for `writes`, and
/// wait until systemd reports the job done; a slice unit gets `pid` into
/// its cgroup `dir` afterwards (systemd takes no pids for a slice). The
/// cgroupfs writes are the caller's, after this.
pub fn start(
    unit: &str,
    slice: &str,
    description: &str,
    pid: i32,
    writes: &[FileWrite],
    dir: &Path,
) -> Result<()> {
    let is_slice = unit.ends_with(".slice");
    let props = props::unit(
        description,
        slice,
        (!is_slice).then_some(pid as u32),
        writes,
    )?;
    let mut bus = Bus::system()?;
    let result = bus
        .run_job(
            "StartTransientUnit",
            &[
                Value::Str(unit.to_owned()),
                Value::Str("replace".to_owned()),
                Value::Props(props),
                Value::AuxUnits,
            ],
        )
        .with_context(|| format!("systemd: start transient unit {unit}"))?;
    if result != "done" {
        // A failed start can leave the unit loaded in "failed".
        let _ = bus.manager("ResetFailedUnit", &[Value::Str(unit.to_owned())]);
        bail!("systemd: start transient unit {unit}: job {result}");
    }
    if is_slice {
        crate::cgroups::fs::write(&dir.join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(())
}

/// The Description of the unit a create of `id` starts: runc's words with
/// outlet's name, and a tag of this moment and process, which a unit of
/// the same name started by anyone else does not carry.
pub fn description(id: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "outlet container {id} ({:x}.{:x})",
        t.as_nanos(),
        std::process::id()
    )
}

/// Whether the unit named `unit` is the one started with `description`:
/// None when systemd has no such unit (any more), Some(false) when one of
/// that name is another's (started after this container's create died
/// before starting its own, or after its scope went away).
pub fn unit_is(unit: &str, description: &str) -> Result<Option<bool>> {
    match Bus::system()?.unit_property(unit, "Description") {
        Ok(d) => Ok(Some(d == description)),
        Err(e) if is_no_such_unit(&e) => Ok(None),
        Err(e) => Err(e.context(format!("systemd: read the Description of {unit}"))),
    }
}

/// Stop the scope (systemd then removes its cgroup) and forget a failed
/// state. One already gone is fine: systemd drops an empty scope itself.
pub fn stop(unit: &str) -> Result<()> {
    let mut bus = Bus::system()?;
    match bus.run_job(
        "StopUnit",
        &[
            Value::Str(unit.to_owned()),
            Value::Str("replace".to_owned()),
        ],
    ) {
        Ok(r) if r == "done" => {}
        Ok(r) => bail!("systemd: stop {unit}: job {r}"),
        Err(e) if is_no_such_unit(&e) => {}
        Err(e) => return Err(e.context(format!("systemd: stop {unit}"))),
    }
    match bus.manager("ResetFailedUnit", &[Value::Str(unit.to_owned())]) {
        Ok(_) => Ok(()),
        Err(e) if is_no_such_unit(&e) => Ok(()),
        Err(e) => Err(e.context(format!("systemd: reset-failed {unit}"))),
    }
}

/// `update`: the new limits as properties of the running unit (runtime
/// only, as runc does), so systemd does not undo the file writes on its
/// next reload.
pub fn set(unit: &str, writes: &[FileWrite]) -> Result<()> {
    let props = props::resources(writes)?;
    if props.is_empty() {
        return Ok(());
    }
    let mut bus = Bus::system()?;
    bus.manager(
        "SetUnitProperties",
        &[
            Value::Str(unit.to_owned()),
            Value::Bool(true),
            Value::Props(props),
        ],
    )
    .with_context(|| format!("systemd: set properties of {unit}"))?;
    Ok(())
}

fn is_no_such_unit(e: &anyhow::Error) -> bool {
    e.downcast_ref::<BusError>().is_some_and(|b| {
        b.name == "org.freedesktop.systemd1.NoSuchUnit" || b.name.ends_with(".LoadFailed")
    })
}

/// Whether this caller's units belong to a user's systemd instance
/// rather than to systemd itself (then no device program can be loaded:
/// it needs CAP_SYS_ADMIN of the initial user namespace).
pub fn user_manager() -> Result<bool> {
    Ok(owner::manager()?.is_user())
}

/// Whether the driver can work here (for `features`): a unified host
/// booted by systemd (its runtime directory exists) with a bus socket
/// (the user's session bus when not host root).
pub fn available() -> bool {
    let bus = match owner::manager() {
        Ok(owner::Manager::System) => {
            Path::new("/run/systemd/private").exists()
                || Path::new("/run/dbus/system_bus_socket").exists()
        }
        Ok(owner::Manager::User { uid }) => Path::new(&bus::session_bus_path(
            std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().as_deref(),
            std::env::var("XDG_RUNTIME_DIR").ok().as_deref(),
            uid,
        ))
        .exists(),
        Err(_) => false,
    };
    matches!(
        crate::cgroups::host::probe(),
        Ok(crate::cgroups::host::Host::Unified(_))
    ) && Path::new("/run/systemd/system").is_dir()
        && bus
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root caller's parse (the rootless one asks the user's bus).
    fn scope(p: Option<&str>, id: &str) -> Result<Scope> {
        parse(p, id, false)
    }

    #[test]
    fn paths() {
        let s = scope(Some("system.slice:outlet:c1"), "x").unwrap();
        assert_eq!(s.unit, "outlet-c1.scope");
        assert_eq!(s.slice, "system.slice");
        assert_eq!(s.rel, Path::new("system.slice/outlet-c1.scope"));
        assert_eq!(
            scope(None, "c2").unwrap().rel,
            Path::new("system.slice/outlet-c2.scope")
        );
        assert_eq!(scope(Some(""), "c2").unwrap().unit, "outlet-c2.scope");
        let k = scope(
            Some("kubepods-burstable-podab.slice:cri-containerd:f00"),
            "x",
        )
        .unwrap();
        assert_eq!(
            k.rel,
            Path::new(
                "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podab.slice/cri-containerd-f00.scope"
            )
        );
        assert_eq!(scope(Some(":p:n"), "x").unwrap().slice, "system.slice");
        assert_eq!(
            scope(Some("-.slice::n"), "x").unwrap().rel,
            Path::new("n.scope")
        );
    }

    #[test]
    fn bad_paths_named() {
        for bad in [
            "/a/b",
            "a:b",
            "system.slice:p:../../x",
            "system.slice:p/q:n",
            "sys--x.slice:p:n",
            "system:p:n",
            "system.slice:p:n.slice",
        ] {
            let e = scope(Some(bad), "x").unwrap_err().to_string();
            assert!(e.contains("linux.cgroupsPath"), "{bad}: {e}");
        }
    }

    #[test]
    fn slice_as_the_name() {
        let s = scope(Some("node-slc.slice:ignored:node-slc-ctr.slice"), "x").unwrap();
        assert_eq!(s.unit, "node-slc-ctr.slice");
        assert_eq!(s.slice, "node-slc.slice");
        assert_eq!(
            s.rel,
            Path::new("node.slice/node-slc.slice/node-slc-ctr.slice")
        );
        // kubelet's pod slice in its QoS slice.
        let k = scope(
            Some("kubepods-burstable.slice::kubepods-burstable-podab.slice"),
            "x",
        )
        .unwrap();
        assert_eq!(
            k.rel,
            Path::new("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podab.slice")
        );
        assert_eq!(
            scope(Some("-.slice::top.slice"), "x").unwrap().rel,
            Path::new("top.slice")
        );
        // Outside its parent, or the parent itself: refused, named.
        for bad in [
            "system.slice:p:other.slice",
            "a-b.slice:p:a-c.slice",
            "a.slice:p:a.slice",
        ] {
            let e = scope(Some(bad), "x").unwrap_err().to_string();
            assert!(e.contains("does not lie inside"), "{bad}: {e}");
        }
    }

    /// Names whose cgroup systemd escapes (so outlet's directory would be
    /// another unit's) are refused; the same names behind a prefix, which
    /// systemd keeps as they are, are taken (the control).
    #[test]
    fn names_systemd_escapes_are_refused() {
        for bad in [
            "system.slice::_cpu",
            "system.slice::cpu",
            "system.slice::pids",
            "system.slice::memory",
            "system.slice::.hidden",
            "system.slice::cgroup",
            "-.slice::_x.slice",
            "-.slice::io.slice",
            "io.slice:p:n",
        ] {
            let e = scope(Some(bad), "x").unwrap_err().to_string();
            assert!(e.contains("another name"), "{bad}: {e}");
        }
        for good in [
            "system.slice:p:_cpu",
            "system.slice:p:cpu",
            "system.slice::cpux",
            "system.slice::iox.y",
        ] {
            scope(Some(good), "x").unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn rootless_default_is_user_slice() {
        let s = parse(None, "c9", true).unwrap();
        assert_eq!(s.rel, Path::new("user.slice/outlet-c9.scope"));
        assert_eq!(parse(Some("::n"), "x", true).unwrap().slice, "user.slice");
    }
}

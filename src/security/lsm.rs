//! AppArmor profile and SELinux labels: `process.apparmorProfile`,
//! `process.selinuxLabel`, `linux.mountLabel`.
//!
//! Both apply at the next execve, by writing to the calling task's own
//! /proc/PID/attr files in a procfs outlet verified (see `ProcFs`).
//! A label requested on a host where that LSM is off is a create-time error:
//! silently running the container unconfined would be worse.

use crate::process::procfs::ProcFs;
use crate::spec::Spec;
use anyhow::{Context, Result, bail};

/// What the host has enabled, probed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub apparmor: bool,
    pub selinux: bool,
}

impl Host {
    pub fn probe() -> Host {
        Host {
            apparmor: apparmor_enabled(),
            selinux: selinux_enabled(),
        }
    }
}

/// AppArmor is on when the module says so (the kernel may carry it
/// without it being the active LSM; then `enabled` reads "N").
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false)
}

/// SELinux is on when selinuxfs is mounted at /sys/fs/selinux.
pub fn selinux_enabled() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| selinuxfs_in_mountinfo(&m))
        .unwrap_or(false)
}

fn selinuxfs_in_mountinfo(mountinfo: &str) -> bool {
    mountinfo.lines().any(|l| {
        // Fields: ... mount-point(5th) ... " - " fstype source options
        let mut halves = l.splitn(2, " - ");
        let left = halves.next().unwrap_or("");
        let fstype = halves.next().and_then(|r| r.split(' ').next());
        left.split(' ').nth(4) == Some("/sys/fs/selinux") && fstype == Some("selinuxfs")
    })
}

/// Refuse labels the host cannot apply (no AppArmor/SELinux enabled), before
/// any side effect.
pub fn validate(spec: &Spec) -> Result<()> {
    let process = spec.process().as_ref();
    let apparmor = process.and_then(|p| p.apparmor_profile().as_deref());
    let selinux = process.and_then(|p| p.selinux_label().as_deref());
    let mount = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref());
    // Without a label there is nothing to check, and the probe is not
    // free: SELinux's reads all of /proc/self/mountinfo (about 2% of
    // create's CPU here).
    if [apparmor, selinux, mount]
        .iter()
        .all(|l| l.is_none_or(str::is_empty))
    {
        return Ok(());
    }
    check(Host::probe(), apparmor, selinux, mount)
}

/// The pure part of `validate`, for given host facts.
pub fn check(
    host: Host,
    apparmor: Option<&str>,
    selinux: Option<&str>,
    mount_label: Option<&str>,
) -> Result<()> {
    if let Some(p) = apparmor.filter(|p| !p.is_empty()) {
        if !host.apparmor {
            bail!(
                "process.apparmorProfile: {p:?} requested but AppArmor is not enabled on this host"
            );
        }
        if p.contains('\n') || p.contains('\0') {
            bail!("process.apparmorProfile: {p:?} contains a newline or NUL");
        }
    }
    for (field, label) in [
        ("process.selinuxLabel", selinux),
        ("linux.mountLabel", mount_label),
    ] {
        let Some(l) = label.filter(|l| !l.is_empty()) else {
            continue;
        };
        if !host.selinux {
            if field == "linux.mountLabel" {
                // runc ignores a mount label without SELinux (its mount
                // option would only make the mount fail), and callers send
                // one without checking the host; so does outlet.
                continue;
            }
            bail!("{field}: {l:?} requested but SELinux is not enabled on this host");
        }
        if l.contains('\n') || l.contains('\0') {
            bail!("{field}: {l:?} contains a newline or NUL");
        }
        if field == "linux.mountLabel" && l.contains('"') {
            // It goes into a mount option string as context="...": a quote
            // would end the value early. (Commas are fine: MCS categories
            // such as s0:c1,c2 have them, hence the quotes.)
            bail!("{field}: {l:?} contains a double quote");
        }
    }
    Ok(())
}

/// Arrange for the process label to apply at execve. Empty strings mean
/// "none", as in the spec. Written through `proc`, a procfs the caller
/// verified (see `ProcFs`), never through the container's /proc, which a
/// spec mount could redirect.
pub fn apply_exec_labels(
    apparmor: Option<&str>,
    selinux: Option<&str>,
    proc: Option<&ProcFs>,
) -> Result<()> {
    let apparmor = apparmor.filter(|p| !p.is_empty());
    let selinux = selinux.filter(|l| !l.is_empty());
    if apparmor.is_none() && selinux.is_none() {
        return Ok(());
    }
    let Some(proc) = proc else {
        bail!("process labels: no verified procfs to write them through");
    };
    if let Some(p) = apparmor {
        // Linux 5.8+ has a per-LSM directory; older kernels only the shared
        // file, which belongs to whichever LSM is the "display" one.
        let per_lsm = proc.own("attr/apparmor/exec");
        let rel = if proc.exists(&per_lsm) {
            per_lsm
        } else {
            proc.own("attr/exec")
        };
        proc.write(&rel, format!("exec {p}").as_bytes())
            .with_context(|| format!("process.apparmorProfile: {p:?}: writing /proc/{rel}"))?;
    }
    if let Some(l) = selinux {
        let rel = proc.own("attr/exec");
        proc.write(&rel, l.as_bytes())
            .with_context(|| format!("process.selinuxLabel: {l:?}: writing /proc/{rel}"))?;
    }
    Ok(())
}

/// The mount option (`context="LABEL"`) that labels a mount with
/// `linux.mountLabel`, as `labeled_mount_data` appends it. `None` for an
/// empty label or a host without SELinux, where the option would make the
/// mount fail.
pub fn mount_label_option(label: &str) -> Option<String> {
    static SELINUX: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    context_option(*SELINUX.get_or_init(selinux_enabled), label)
}

/// The data string for a filesystem mounted fresh (never a bind) with
/// `linux.mountLabel` added, as runc labels them: every type but proc and
/// sysfs (which take no context=) and mqueue (runc relabels its root
/// afterwards instead; outlet leaves it to the policy's default). None
/// when there is nothing to add (no label, or no SELinux).
pub fn labeled_mount_data(typ: &str, data: &str, label: Option<&str>) -> Option<String> {
    let label = label.filter(|l| !l.is_empty())?;
    if matches!(typ, "proc" | "sysfs" | "mqueue") {
        return None;
    }
    join_data(data, &mount_label_option(label)?)
}

fn join_data(data: &str, opt: &str) -> Option<String> {
    Some(if data.is_empty() {
        opt.to_string()
    } else {
        format!("{data},{opt}")
    })
}

fn context_option(selinux: bool, label: &str) -> Option<String> {
    if !selinux || label.is_empty() {
        return None;
    }
    Some(format!("context=\"{label}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Host = Host {
        apparmor: false,
        selinux: false,
    };
    const BOTH: Host = Host {
        apparmor: true,
        selinux: true,
    };

    #[test]
    fn labels_on_a_host_without_lsm_are_refused() {
        let err = |a, s, m| check(NONE, a, s, m).unwrap_err().to_string();
        assert_eq!(
            err(Some("foo"), None, None),
            "process.apparmorProfile: \"foo\" requested but AppArmor is not enabled on this host"
        );
        assert_eq!(
            err(None, Some("system_u:system_r:container_t:s0"), None),
            "process.selinuxLabel: \"system_u:system_r:container_t:s0\" requested but SELinux is not enabled on this host"
        );
        // A mount label alone is ignored without SELinux, as runc does.
        check(
            NONE,
            None,
            None,
            Some("system_u:object_r:container_file_t:s0"),
        )
        .unwrap();
        check(NONE, None, None, None).unwrap();
        check(NONE, Some(""), Some(""), Some("")).unwrap();
        check(BOTH, Some("foo"), Some("a:b:c:s0"), Some("a:b:c:s0")).unwrap();
        assert!(check(BOTH, None, None, Some("a\"b")).is_err());
        check(BOTH, None, None, Some("s0:c1,c2")).unwrap();
    }

    /// The real host: this machine has neither LSM, so `validate` must
    /// refuse a profile; on a host with AppArmor the same spec passes.
    #[test]
    fn validate_on_this_host() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0},
                        "apparmorProfile": "foo"}
        }))
        .unwrap();
        let host = Host::probe();
        let res = validate(&spec);
        if host.apparmor {
            res.unwrap();
        } else {
            assert_eq!(
                res.unwrap_err().to_string(),
                "process.apparmorProfile: \"foo\" requested but AppArmor is not enabled on this host"
            );
        }
    }

    #[test]
    fn selinuxfs_detection_reads_mountinfo() {
        let with = "25 20 0:23 / /sys/fs/selinux rw,relatime shared:8 - selinuxfs selinuxfs rw\n";
        let without = "22 1 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n";
        assert!(selinuxfs_in_mountinfo(with));
        assert!(!selinuxfs_in_mountinfo(without));
        assert!(!selinuxfs_in_mountinfo(
            "25 20 0:23 / /sys/fs/selinux rw - tmpfs tmpfs rw\n"
        ));
    }

    #[test]
    fn mount_label_becomes_a_context_option() {
        assert_eq!(
            context_option(true, "system_u:object_r:container_file_t:s0:c1,c2").as_deref(),
            Some("context=\"system_u:object_r:container_file_t:s0:c1,c2\"")
        );
        assert_eq!(context_option(true, ""), None);
        assert_eq!(
            join_data("mode=755", "context=\"a:b:c:s0\"").as_deref(),
            Some("mode=755,context=\"a:b:c:s0\"")
        );
        for t in ["proc", "sysfs", "mqueue"] {
            assert_eq!(labeled_mount_data(t, "", Some("a:b:c:s0")), None, "{t}");
        }
        assert_eq!(labeled_mount_data("tmpfs", "", None), None);
        assert_eq!(
            labeled_mount_data("tmpfs", "", Some("a:b:c:s0")).is_some(),
            selinux_enabled()
        );
        assert_eq!(context_option(false, "a:b:c:s0"), None);
        assert_eq!(
            mount_label_option("a:b:c:s0").is_some(),
            selinux_enabled(),
            "the real probe decides"
        );
    }

    /// Writing a label on a host without the LSM fails with the field named
    /// (validate refuses earlier; this is the init's own guard).
    #[test]
    fn apply_on_a_host_without_lsm_fails_clearly() {
        if Host::probe().apparmor {
            eprintln!("skipped: AppArmor is enabled here; the refusal cannot be observed");
            return;
        }
        let out = crate::security::testutil::in_child(|| {
            let proc = ProcFs::private().map_err(|e| format!("{e:#}"))?;
            Ok(match apply_exec_labels(Some("foo"), None, Some(&proc)) {
                Ok(()) => "applied".to_string(),
                Err(e) => format!("{e:#}"),
            })
        })
        .ok();
        assert!(
            out.starts_with("process.apparmorProfile: \"foo\": writing /proc/")
                && out.contains("/attr/"),
            "{out}"
        );
        apply_exec_labels(None, Some(""), None).unwrap();
    }
}

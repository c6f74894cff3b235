//! `features`: the runtime-spec features document (features.md), listing
//! only what outlet acts on. Callers decide from it (e.g. whether to put a
//! namespace or a mount option in a spec), so claiming more than the code
//! does would turn into failed creates or silently ignored settings.

use std::str::FromStr;

use libseccomp::{ScmpAction, ScmpFilterContext};
use oci_spec::runtime::Arch;
use serde_json::{Value, json};

use crate::security::{capabilities, seccomp};

/// The oldest runtime-spec version outlet accepts a config of.
const OCI_VERSION_MIN: &str = "1.0.0";

/// Every hook kind run by create/start/delete (prestart is deprecated in
/// the spec but still run, as callers still send it).
pub const HOOKS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Namespaces create can make or join (`time` with `linux.timeOffsets`):
/// every kind of the table, by name as runc lists them.
fn namespaces() -> [&'static str; crate::namespaces::ALL.len()] {
    let mut names = crate::namespaces::ALL.map(crate::namespaces::config_name);
    names.sort_unstable();
    names
}

/// `linux.memoryPolicy` modes and flags `spec::process_fields::memory_policy`
/// translates for set_mempolicy.
pub const MEMORY_POLICY_MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
];
pub const MEMORY_POLICY_FLAGS: &[&str] = &[
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// Mount options that `spec::mount_options::parse` acts on: mount flags,
/// propagation, recursive attributes, tmpcopyup and idmap/ridmap
/// (anything else goes to the filesystem as data).
pub use crate::spec::mount_options::KNOWN as MOUNT_OPTIONS;

/// Every seccomp action `security::seccomp::action` translates.
pub const SECCOMP_ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Every comparison `security::seccomp::condition` translates.
pub const SECCOMP_OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// The architectures the spec names; those libseccomp knows are listed.
const SPEC_ARCHS: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

/// The filter flags `security::seccomp::flag` knows, with the kernel's bit
/// and the extra bit a probe needs (WAIT_KILLABLE_RECV is only valid with
/// NEW_LISTENER).
const SECCOMP_FLAGS: &[(&str, u32, u32)] = &[
    ("SECCOMP_FILTER_FLAG_TSYNC", 1 << 0, 0),
    ("SECCOMP_FILTER_FLAG_LOG", 1 << 1, 0),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", 1 << 2, 0),
    ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 1 << 5, 1 << 3),
];

/// Architectures a filter can be compiled for: named by `seccomp::arch`
/// and known to the libseccomp linked at run time (the crate's enum is
/// newer than Debian's library; an arch the library lacks fails create).
pub fn seccomp_archs() -> Vec<&'static str> {
    SPEC_ARCHS
        .iter()
        .copied()
        .filter(|name| {
            let Some(a) = Arch::from_str(name).ok().and_then(seccomp::arch) else {
                return false;
            };
            ScmpFilterContext::new(ScmpAction::Allow).is_ok_and(|mut ctx| ctx.add_arch(a).is_ok())
        })
        .collect()
}

/// Does the running kernel take this filter flag (with `with`)?
fn kernel_takes(flag: u32, with: u32) -> bool {
    crate::syscall::seccomp_takes_flags(flag | with)
}

/// `root` and `criu`: the state root and `--criu` the command runs with
/// (the checkpoint verdict is cached under that root).
pub fn features(root: &std::path::Path, criu: Option<&std::path::Path>) -> Value {
    let caps: Vec<&str> = (0..64)
        .map(capabilities::name_of)
        .take_while(|n| *n != "CAP_UNKNOWN")
        .collect();
    let known: Vec<&str> = SECCOMP_FLAGS.iter().map(|f| f.0).collect();
    let supported: Vec<&str> = SECCOMP_FLAGS
        .iter()
        .filter(|(_, flag, with)| kernel_takes(*flag, *with))
        .map(|f| f.0)
        .collect();
    let lv = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": namespaces(),
            "capabilities": caps,
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": crate::cgroups::systemd::available(),
                "systemdUser": false,
                "rdma": true,
            },
            "seccomp": {
                "enabled": true,
                "actions": SECCOMP_ACTIONS,
                "operators": SECCOMP_OPERATORS,
                "archs": seccomp_archs(),
                "knownFlags": known,
                "supportedFlags": supported,
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": false},
            "netDevices": {"enabled": true},
            "mountExtensions": {"idmap": {"enabled": true}},
            "memoryPolicy": {"modes": MEMORY_POLICY_MODES, "flags": MEMORY_POLICY_FLAGS},
        },
        "annotations": {
            "io.github.seccomp.libseccomp.version": lv,
            "run.oci.outlet.version": env!("CARGO_PKG_VERSION"),
            "run.oci.outlet.checkpoint.enabled": super::criu::availability(root, criu),
        },
        "potentiallyUnsafeConfigAnnotations": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::mounts::parse_options;
    use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompOperator};

    #[test]
    fn listed_mount_options_are_acted_on() {
        for o in MOUNT_OPTIONS {
            let p = parse_options(&[o.to_string()]);
            assert!(p.data.is_empty(), "{o} would go to the filesystem as data");
        }
        for o in ["tmpcopyup", "idmap", "ridmap", "rro", "nosymfollow"] {
            assert!(MOUNT_OPTIONS.contains(&o), "{o}");
        }
    }

    #[test]
    fn listed_seccomp_names_translate() {
        for a in SECCOMP_ACTIONS {
            let act: LinuxSeccompAction = serde_json::from_value(json!(a)).unwrap();
            seccomp::action(act, None, "t").unwrap();
        }
        for o in SECCOMP_OPERATORS {
            let op: LinuxSeccompOperator = serde_json::from_value(json!(o)).unwrap();
            seccomp::condition(0, op, 1, None, "t").unwrap();
        }
        let archs = seccomp_archs();
        assert!(archs.contains(&"SCMP_ARCH_X86_64"), "{archs:?}");
        assert!(archs.contains(&"SCMP_ARCH_AARCH64"), "{archs:?}");
        for (name, bit, _) in SECCOMP_FLAGS {
            let f: oci_spec::runtime::LinuxSeccompFilterFlag =
                serde_json::from_value(json!(name)).unwrap();
            assert_eq!(seccomp::flag(f), *bit, "{name}");
        }
    }

    #[test]
    fn document_shape() {
        // A --criu that does not exist: no `criu check`, no cache written.
        let f = features(
            std::path::Path::new("/nonexistent"),
            Some(std::path::Path::new("/nonexistent/criu")),
        );
        assert_eq!(f["linux"]["capabilities"][0], "CAP_CHOWN");
        assert_eq!(
            f["linux"]["capabilities"].as_array().unwrap().len(),
            41,
            "{f}"
        );
        // TSYNC and LOG are older than any kernel outlet runs on.
        let sup = f["linux"]["seccomp"]["supportedFlags"].as_array().unwrap();
        assert!(sup.contains(&json!("SECCOMP_FILTER_FLAG_TSYNC")), "{f}");
        assert!(
            f["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .contains(&json!("time"))
        );
    }

    #[test]
    fn listed_memory_policies_translate() {
        for m in MEMORY_POLICY_MODES {
            let nodes = if ["MPOL_DEFAULT", "MPOL_LOCAL"].contains(m) {
                None
            } else {
                Some("0")
            };
            let p: oci_spec::runtime::LinuxMemoryPolicy =
                serde_json::from_value(json!({"mode": m, "nodes": nodes})).unwrap();
            crate::spec::process_fields::memory_policy(&p).unwrap();
        }
        for f in MEMORY_POLICY_FLAGS {
            let p: oci_spec::runtime::LinuxMemoryPolicy =
                serde_json::from_value(json!({"mode": "MPOL_BIND", "nodes": "0", "flags": [f]}))
                    .unwrap();
            let pol = crate::spec::process_fields::memory_policy(&p).unwrap();
            assert_ne!(pol.mode, 2, "{f} adds no bit");
        }
    }
}

//! `linux.resources.unified`: raw v2 files, kept inside the container's
//! cgroup directory.

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

/// The controller a unified key belongs to (`memory.high` -> memory), or
/// "" for the core `cgroup.*` files.
fn controller_of(key: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
    ];
    let prefix = key.split('.').next().unwrap_or("");
    KNOWN.iter().copied().find(|c| *c == prefix).unwrap_or("")
}

pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.contains('/') || key == "." || key == ".." || key.contains('\0') {
        bail!("linux.resources.unified: key {key:?} would write outside the container's cgroup");
    }
    // Membership files take a pid of the host's namespace: a key there
    // would move any process of the host into the container's cgroup, under
    // its limits and within reach of its kill and delete. runc 1.1.5 writes
    // them (seen in the VM: the victim moved); that is a hole, not a limit.
    if key == "cgroup.procs" || key == "cgroup.threads" {
        bail!("linux.resources.unified: key {key:?} moves processes, it is no resource limit");
    }
    // runc's rule and words: every v2 interface file is CONTROLLER.NAME.
    if !key.contains('.') {
        bail!("linux.resources.unified: key {key:?} must be in the form CONTROLLER.PARAMETER");
    }
    Ok(())
}

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(unified) = r.unified() else {
        return Ok(());
    };
    // HashMap order is random; sort so the writes (and errors) are repeatable.
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in keys {
        check_key(key)?;
        // A missing file is a knob or controller this kernel (or this
        // cgroup) lacks: the error names the field, as runc's does.
        out.push(
            FileWrite::new(controller_of(key), key.clone(), unified[key].clone())
                .for_field("linux.resources.unified"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn keys_in_order() {
        let mut out = Vec::new();
        writes(
            &res(
                r#"{"unified":{"memory.high":"1000000","cpu.weight":"50","cgroup.max.depth":"2"}}"#,
            ),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("cgroup.max.depth", "2"),
                ("cpu.weight", "50"),
                ("memory.high", "1000000")
            ]
        );
        assert_eq!(out[0].controller, "");
        assert_eq!(out[2].controller, "memory");
    }

    #[test]
    fn membership_and_dotless_refused() {
        for (key, why) in [
            ("cgroup.procs", "moves processes"),
            ("cgroup.threads", "moves processes"),
            ("nodot", "CONTROLLER.PARAMETER"),
        ] {
            let json = format!(r#"{{"unified":{{"{key}":"1"}}}}"#);
            let e = writes(&res(&json), &mut Vec::new())
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!("linux.resources.unified: key {key:?}")) && e.contains(why),
                "{e}"
            );
        }
    }

    #[test]
    fn escapes_refused() {
        for key in ["../cgroup.procs", "a/b", "..", ""] {
            let json = format!(r#"{{"unified":{{"{key}":"1"}}}}"#);
            let e = writes(&res(&json), &mut Vec::new())
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                format!(
                    "linux.resources.unified: key {key:?} would write outside the container's cgroup"
                )
            );
        }
    }
}

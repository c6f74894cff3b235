//! memory controller (v1): limit_in_bytes, soft_limit_in_bytes,
//! memsw.limit_in_bytes, swappiness, oom_control.

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;
use crate::cgroups::v2::memory::bytes;

pub const LIMIT: &str = "memory.limit_in_bytes";
pub const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// Does the spec set both the limit and memory+swap? Then the manager
/// reads the current limit (`update` only) and passes it to `writes`.
pub fn needs_current_limit(r: &LinuxResources) -> bool {
    r.memory()
        .as_ref()
        .is_some_and(|m| m.limit().is_some_and(|v| v != 0) && m.swap().is_some_and(|v| v != 0))
}

/// `current_limit`: memory.limit_in_bytes now in force, None for a new
/// cgroup (where both limits are unlimited).
pub fn writes(
    r: &LinuxResources,
    current_limit: Option<u64>,
    out: &mut Vec<FileWrite>,
) -> Result<()> {
    let Some(mem) = r.memory() else { return Ok(()) };
    let limit = bytes("limit", mem.limit())?;
    let reservation = bytes("reservation", mem.reservation())?;
    let mut swap = bytes("swap", mem.swap())?;
    if let Some(s) = mem.swappiness()
        && s > 100
    {
        bail!("linux.resources.memory.swappiness: {s} is above 100");
    }
    if limit == Some(-1) && swap.is_none() {
        // Unlimited memory means unlimited memory+swap too (runc): a finite
        // memsw below the new limit would be refused.
        swap = Some(-1);
    }
    if let (Some(l), Some(s)) = (limit, swap)
        && l != -1
        && s != -1
        && s < l
    {
        bail!(
            "linux.resources.memory.swap: {s} is below memory.limit {l} (swap is the limit on memory+swap)"
        );
    }
    // The kernel keeps limit <= memsw at every moment. Raising: memsw
    // first; lowering (or a new cgroup, where both are unlimited): limit first.
    let memsw_first = match (limit, swap) {
        (Some(_), Some(-1)) => true,
        (Some(_), Some(s)) => current_limit.is_some_and(|cur| cur < s as u64),
        _ => false,
    };
    let limit_w = limit.map(|l| FileWrite::new("memory", LIMIT, l.to_string()));
    // Unlimited memsw is the state of a kernel without swap accounting
    // (no memsw file at all), so that one write may find nothing.
    let swap_w = swap.map(|s| {
        let w = FileWrite::new("memory", MEMSW, s.to_string());
        if s == -1 { w.optional() } else { w }
    });
    if memsw_first {
        out.extend(swap_w);
        out.extend(limit_w);
    } else {
        out.extend(limit_w);
        out.extend(swap_w);
    }
    if let Some(res) = reservation {
        out.push(FileWrite::new(
            "memory",
            "memory.soft_limit_in_bytes",
            res.to_string(),
        ));
    }
    if let Some(s) = mem.swappiness() {
        out.push(FileWrite::new("memory", "memory.swappiness", s.to_string()));
    }
    if mem.disable_oom_killer() == Some(true) {
        out.push(FileWrite::new(
            "memory",
            "memory.oom_control",
            "1".to_owned(),
        ));
    }
    // kernelTCP: still a v1 file on current kernels; written as runc does
    // (0 means unset there). A kernel without it fails the write, naming
    // the file, rather than running the container without the limit.
    // `kernel` (kmem.limit_in_bytes) is deprecated and ignored, as runc does.
    if let Some(t) = bytes("kernelTCP", mem.kernel_tcp())?.filter(|&t| t != 0) {
        out.push(FileWrite::new(
            "memory",
            "memory.kmem.tcp.limit_in_bytes",
            t.to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    fn w(json: &str, cur: Option<u64>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        writes(&res(json), cur, &mut out).unwrap();
        pairs(&out)
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    }

    fn p(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn new_cgroup_limit_first() {
        assert_eq!(
            w(
                r#"{"memory":{"limit":67108864,"swap":134217728,"reservation":33554432,"swappiness":10,"disableOOMKiller":true}}"#,
                None
            ),
            p(&[
                (LIMIT, "67108864"),
                (MEMSW, "134217728"),
                ("memory.soft_limit_in_bytes", "33554432"),
                ("memory.swappiness", "10"),
                ("memory.oom_control", "1"),
            ])
        );
    }

    #[test]
    fn raising_writes_memsw_first_lowering_limit_first() {
        let json = r#"{"memory":{"limit":268435456,"swap":536870912}}"#;
        assert_eq!(
            w(json, Some(67108864)),
            p(&[(MEMSW, "536870912"), (LIMIT, "268435456")])
        );
        let json = r#"{"memory":{"limit":33554432,"swap":50331648}}"#;
        assert_eq!(
            w(json, Some(67108864)),
            p(&[(LIMIT, "33554432"), (MEMSW, "50331648")])
        );
    }

    #[test]
    fn unlimited() {
        assert_eq!(
            w(r#"{"memory":{"limit":-1}}"#, Some(1 << 20)),
            p(&[(MEMSW, "-1"), (LIMIT, "-1")])
        );
        assert_eq!(
            w(r#"{"memory":{"limit":1048576,"swap":-1}}"#, None),
            p(&[(MEMSW, "-1"), (LIMIT, "1048576")])
        );
    }

    #[test]
    fn errors() {
        let mut out = Vec::new();
        let e = writes(
            &res(r#"{"memory":{"limit":200,"swap":100}}"#),
            None,
            &mut out,
        )
        .unwrap_err();
        assert!(e.to_string().contains("below"), "{e}");
        let e = writes(&res(r#"{"memory":{"swappiness":101}}"#), None, &mut out).unwrap_err();
        assert!(e.to_string().contains("swappiness: 101"), "{e}");
        let e = writes(&res(r#"{"memory":{"reservation":-3}}"#), None, &mut out).unwrap_err();
        assert!(e.to_string().contains("reservation: -3 is negative"), "{e}");
        assert!(out.is_empty());
    }

    #[test]
    fn kernel_tcp() {
        assert_eq!(
            w(r#"{"memory":{"kernelTCP":16777216}}"#, None),
            p(&[("memory.kmem.tcp.limit_in_bytes", "16777216")])
        );
        assert!(w(r#"{"memory":{"kernelTCP":0}}"#, None).is_empty());
    }

    #[test]
    fn needs_current() {
        assert!(needs_current_limit(&res(
            r#"{"memory":{"limit":1,"swap":2}}"#
        )));
        assert!(!needs_current_limit(&res(r#"{"memory":{"limit":1}}"#)));
    }
}

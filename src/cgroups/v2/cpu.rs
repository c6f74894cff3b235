//! cpu controller (v2): cpu.max, cpu.weight, cpu.max.burst, cpu.idle.

use std::path::Path;

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

/// runc's (and the kernel documentation's) mapping of v1 shares [2, 262144]
/// onto v2 weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(cpu) = r.cpu() else { return Ok(()) };
    // realtimeRuntime/realtimePeriod have no v2 file (the kernel's cpu
    // controller refuses realtime group scheduling on v2). runc 1.1.5
    // accepts and ignores them on create and update (seen in the VM's
    // resources_v2 test); refusing would fail specs and callers that
    // always send them.
    if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
        out.push(FileWrite::new(
            "cpu",
            "cpu.weight",
            shares_to_weight(shares).to_string(),
        ));
    }
    let quota = cpu.quota().filter(|&q| q != 0);
    let period = cpu.period().filter(|&p| p != 0);
    if quota.is_some() || period.is_some() {
        if let Some(q) = quota.filter(|&q| q < -1) {
            bail!(
                "linux.resources.cpu.quota: {q} is negative (only -1, meaning unlimited, may be)"
            );
        }
        // A period alone keeps "max"; a quota alone keeps the kernel's period.
        let mut v = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_owned(),
        };
        if let Some(p) = period {
            v.push(' ');
            v.push_str(&p.to_string());
        }
        out.push(FileWrite::new("cpu", "cpu.max", v));
    }
    if let Some(burst) = cpu.burst() {
        out.push(FileWrite::new("cpu", "cpu.max.burst", burst.to_string()));
    }
    if let Some(idle) = cpu.idle() {
        out.push(FileWrite::new("cpu", "cpu.idle", idle.to_string()));
    }
    Ok(())
}

/// For `update`: a period without a quota keeps the quota the cgroup has.
/// runc merges an update into the config it saved, so `update
/// --cpu-period` leaves its quota (seen in the VM: quota 50000, then
/// --cpu-period 200000, gives "50000 200000"); written alone, "max PERIOD"
/// would drop the limit. None when nothing needs the cgroup's quota.
pub fn keep_quota(r: &LinuxResources, dir: &Path) -> Result<Option<LinuxResources>> {
    let Some(cpu) = r.cpu() else { return Ok(None) };
    if cpu.period().is_none_or(|p| p == 0) || cpu.quota().is_some_and(|q| q != 0) {
        return Ok(None);
    }
    let now = crate::cgroups::fs::read(&dir.join("cpu.max"))?;
    let Some(Ok(quota)) = now.split_whitespace().next().map(str::parse::<i64>) else {
        return Ok(None); // "max": the lone period's "max PERIOD" is right
    };
    let mut cpu = cpu.clone();
    cpu.set_quota(Some(quota));
    let mut r = r.clone();
    r.set_cpu(Some(cpu));
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn quota_and_period() {
        let mut out = Vec::new();
        writes(&res(r#"{"cpu":{"quota":25000,"period":100000}}"#), &mut out).unwrap();
        assert_eq!(pairs(&out), [("cpu.max", "25000 100000")]);
    }

    #[test]
    fn unlimited_quota_and_lone_period_or_quota() {
        let mut out = Vec::new();
        writes(&res(r#"{"cpu":{"quota":-1,"period":100000}}"#), &mut out).unwrap();
        writes(&res(r#"{"cpu":{"period":50000}}"#), &mut out).unwrap();
        writes(&res(r#"{"cpu":{"quota":5000}}"#), &mut out).unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("cpu.max", "max 100000"),
                ("cpu.max", "max 50000"),
                ("cpu.max", "5000")
            ]
        );
    }

    #[test]
    fn shares_weight_conversion() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(1 << 30), 10000);
        let mut out = Vec::new();
        writes(&res(r#"{"cpu":{"shares":512}}"#), &mut out).unwrap();
        assert_eq!(pairs(&out), [("cpu.weight", "20")]);
    }

    #[test]
    fn burst_idle_and_nothing() {
        let mut out = Vec::new();
        writes(&res(r#"{"cpu":{"burst":1000,"idle":1}}"#), &mut out).unwrap();
        writes(&res(r#"{}"#), &mut out).unwrap();
        writes(&res(r#"{"cpu":{"cpus":"0"}}"#), &mut out).unwrap();
        assert_eq!(pairs(&out), [("cpu.max.burst", "1000"), ("cpu.idle", "1")]);
    }

    #[test]
    fn realtime_ignored_bad_quota_refused() {
        let mut out = Vec::new();
        writes(
            &res(r#"{"cpu":{"realtimeRuntime":950000,"realtimePeriod":1000000}}"#),
            &mut out,
        )
        .unwrap();
        assert!(out.is_empty(), "{:?}", pairs(&out));
        let e = writes(&res(r#"{"cpu":{"quota":-5}}"#), &mut Vec::new()).unwrap_err();
        assert!(
            e.to_string().contains("linux.resources.cpu.quota: -5"),
            "{e}"
        );
    }

    #[test]
    fn lone_period_keeps_the_cgroups_quota() {
        let dir = crate::security::testutil::TempDir::new("keepquota");
        let lone = res(r#"{"cpu":{"period":200000}}"#);
        std::fs::write(dir.0.join("cpu.max"), "50000 100000\n").unwrap();
        let r = keep_quota(&lone, &dir.0).unwrap().unwrap();
        let mut out = Vec::new();
        writes(&r, &mut out).unwrap();
        assert_eq!(pairs(&out), [("cpu.max", "50000 200000")]);
        std::fs::write(dir.0.join("cpu.max"), "max 100000\n").unwrap();
        assert!(keep_quota(&lone, &dir.0).unwrap().is_none());
        let both = res(r#"{"cpu":{"period":200000,"quota":1000}}"#);
        assert!(keep_quota(&both, &dir.0).unwrap().is_none());
        assert!(
            keep_quota(&res(r#"{"pids":{"limit":3}}"#), &dir.0)
                .unwrap()
                .is_none()
        );
    }
}

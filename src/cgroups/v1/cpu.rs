//! cpu controller (v1): cfs quota/period, shares, burst, idle, realtime.

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(cpu) = r.cpu() else { return Ok(()) };
    if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
        out.push(FileWrite::new("cpu", "cpu.shares", shares.to_string()));
    }
    // Period before quota: the kernel checks the quota against the period
    // in force, and a fresh cgroup's period is the default 100 ms.
    if let Some(period) = cpu.period().filter(|&p| p != 0) {
        out.push(FileWrite::new(
            "cpu",
            "cpu.cfs_period_us",
            period.to_string(),
        ));
    }
    if let Some(quota) = cpu.quota().filter(|&q| q != 0) {
        if quota < -1 {
            bail!(
                "linux.resources.cpu.quota: {quota} is negative (only -1, meaning unlimited, may be)"
            );
        }
        out.push(FileWrite::new("cpu", "cpu.cfs_quota_us", quota.to_string()));
    }
    if let Some(burst) = cpu.burst() {
        out.push(FileWrite::new("cpu", "cpu.cfs_burst_us", burst.to_string()));
    }
    if let Some(idle) = cpu.idle() {
        out.push(FileWrite::new("cpu", "cpu.idle", idle.to_string()));
    }
    // The runtime must fit inside the period: write the period first.
    if let Some(p) = cpu.realtime_period().filter(|&p| p != 0) {
        out.push(FileWrite::new("cpu", "cpu.rt_period_us", p.to_string()));
    }
    if let Some(rt) = cpu.realtime_runtime().filter(|&r| r != 0) {
        out.push(FileWrite::new("cpu", "cpu.rt_runtime_us", rt.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn quarter_cpu() {
        let mut out = Vec::new();
        writes(
            &res(r#"{"cpu":{"quota":25000,"period":100000,"shares":512}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "25000")
            ]
        );
    }

    #[test]
    fn unlimited_burst_idle_realtime() {
        let mut out = Vec::new();
        writes(
            &res(r#"{"cpu":{"quota":-1,"burst":500,"idle":0,"realtimePeriod":1000000,"realtimeRuntime":950000}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("cpu.cfs_quota_us", "-1"),
                ("cpu.cfs_burst_us", "500"),
                ("cpu.idle", "0"),
                ("cpu.rt_period_us", "1000000"),
                ("cpu.rt_runtime_us", "950000")
            ]
        );
    }

    #[test]
    fn bad_quota() {
        let e = writes(&res(r#"{"cpu":{"quota":-2}}"#), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("cpu.quota: -2"), "{e}");
    }
}

//! The spec's resources as systemd unit properties, as runc sets them.
//! Derived from the v2 translation (one source of truth for units and
//! conversions: shares -> weight, swap as v2 counts it); every file the
//! v2 translation produces is written through cgroupfs afterwards anyway,
//! so a limit systemd has no property for still holds, and the exact
//! `cpu.max` wins over systemd's rounded quota.

use anyhow::{Result, anyhow, bail};

use super::wire::Value;
use crate::cgroups::FileWrite;

/// systemd's "infinity" for the u64 limits.
const INFINITY: u64 = u64::MAX;

fn limit(file: &str, v: &str) -> Result<u64> {
    if v == "max" {
        return Ok(INFINITY);
    }
    v.parse()
        .map_err(|_| anyhow!("systemd cgroup driver: {file} {v:?} is not a number"))
}

/// A cpuset list ("0-3,6") as systemd's bitmask: byte i holds CPUs
/// 8i..8i+7, lowest bit first.
pub fn cpuset_bits(field: &str, list: &str) -> Result<Vec<u8>> {
    let mut bits: Vec<u8> = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part.trim(), part.trim()),
        };
        let parse = |s: &str| -> Result<usize> {
            s.parse::<usize>()
                .ok()
                .filter(|n| *n < 1 << 16)
                .ok_or_else(|| {
                    anyhow!(
                        "linux.resources.cpu.{field}: {list:?}: {s:?} is not a CPU or node number"
                    )
                })
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            bail!("linux.resources.cpu.{field}: {list:?}: range {lo}-{hi} is backwards");
        }
        for n in lo..=hi {
            if bits.len() <= n / 8 {
                bits.resize(n / 8 + 1, 0);
            }
            bits[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(bits)
}

/// Quota per second of CPU time, rounded up to whole 10 ms as systemd
/// stores it (as a percentage); the exact cpu.max is written after.
fn quota_per_sec(quota: u64, period: u64) -> u64 {
    let per_sec = quota.saturating_mul(1_000_000) / period.max(1);
    per_sec.div_ceil(10_000) * 10_000
}

/// The resource properties for the v2 `writes`.
pub fn resources(writes: &[FileWrite]) -> Result<Vec<(&'static str, Value)>> {
    let mut out = Vec::new();
    for w in writes {
        let v = w.value.trim();
        match &*w.file {
            "memory.max" => out.push(("MemoryMax", Value::U64(limit("memory.max", v)?))),
            "memory.low" => out.push(("MemoryLow", Value::U64(limit("memory.low", v)?))),
            // Only from linux.resources.unified; runc 1.1.5 sets these
            // properties for the keys too (seen on the node: MemoryHigh).
            // blockIO.weight: without IOWeight on the unit, systemd
            // rewrites io.weight to its default whenever it sets any
            // property, so a later `update --cpu-period` lost the weight
            // (seen with runc 1.1.5 on the node, which sets no IOWeight).
            "io.bfq.weight" if !v.contains(' ') => {
                if let Some(("io.weight", fb)) = w.fallback.as_ref().map(|(f, v)| (*f, v.as_str()))
                    && let Some(n) = fb.strip_prefix("default ")
                {
                    out.push(("IOWeight", Value::U64(limit("io.weight", n)?)));
                }
            }
            "memory.high" => out.push(("MemoryHigh", Value::U64(limit("memory.high", v)?))),
            "memory.min" => out.push(("MemoryMin", Value::U64(limit("memory.min", v)?))),
            "memory.swap.max" => {
                out.push(("MemorySwapMax", Value::U64(limit("memory.swap.max", v)?)))
            }
            "pids.max" => out.push(("TasksMax", Value::U64(limit("pids.max", v)?))),
            "cpu.weight" => out.push(("CPUWeight", Value::U64(limit("cpu.weight", v)?))),
            "cpu.max" => {
                let (q, p) = v.split_once(' ').unwrap_or((v, "100000"));
                let period = limit("cpu.max", p)?;
                out.push(("CPUQuotaPeriodUSec", Value::U64(period)));
                let per_sec = match q {
                    "max" => INFINITY,
                    q => quota_per_sec(limit("cpu.max", q)?, period),
                };
                out.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
            }
            "cpuset.cpus" => out.push(("AllowedCPUs", Value::Bytes(cpuset_bits("cpus", v)?))),
            "cpuset.mems" => {
                out.push(("AllowedMemoryNodes", Value::Bytes(cpuset_bits("mems", v)?)))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Everything a new transient unit gets: what it is, where it sits, the
/// accounting on so the controllers are enabled down to it, then the
/// limits. A scope (`pid` given) sits in its slice with the init's pid in
/// it and its subtree ours (Delegate); a slice (a cgroupsPath whose name
/// is `x.slice`, as runc takes it) is only wanted by its parent: systemd
/// takes no pids and no delegation for a slice, so the caller puts the
/// init in through cgroupfs.
pub fn unit(
    description: &str,
    slice: &str,
    pid: Option<u32>,
    writes: &[FileWrite],
) -> Result<Vec<(&'static str, Value)>> {
    let mut out = vec![("Description", Value::Str(description.to_owned()))];
    match pid {
        Some(pid) => out.extend([
            ("Slice", Value::Str(slice.to_owned())),
            ("Delegate", Value::Bool(true)),
            ("PIDs", Value::U32s(vec![pid])),
        ]),
        None => out.push(("Wants", Value::Strs(vec![slice.to_owned()]))),
    }
    out.extend([
        ("DefaultDependencies", Value::Bool(false)),
        ("MemoryAccounting", Value::Bool(true)),
        ("CPUAccounting", Value::Bool(true)),
        ("IOAccounting", Value::Bool(true)),
        ("TasksAccounting", Value::Bool(true)),
    ]);
    out.extend(resources(writes)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::res;
    use crate::cgroups::v2;

    fn props(json: &str) -> Vec<(&'static str, Value)> {
        resources(&v2::translate(Some(&res(json))).unwrap()).unwrap()
    }

    #[test]
    fn mission_example() {
        let p = props(
            r#"{"cpu":{"quota":25000,"period":100000},"memory":{"limit":536870912},"pids":{"limit":16}}"#,
        );
        assert_eq!(
            p,
            [
                ("CPUQuotaPeriodUSec", Value::U64(100_000)),
                ("CPUQuotaPerSecUSec", Value::U64(250_000)),
                ("MemoryMax", Value::U64(536_870_912)),
                ("TasksMax", Value::U64(16)),
            ]
        );
    }

    #[test]
    fn conversions() {
        // shares 1024 -> weight 39 (the v2 translation's conversion, as
        // runc 1.2+); swap is the v2 value (total minus memory); -1 is
        // infinity.
        let p = props(
            r#"{"cpu":{"shares":1024,"quota":-1,"period":50000},
                "memory":{"limit":1048576,"swap":3145728,"reservation":524288},
                "pids":{"limit":-1}}"#,
        );
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(get("CPUWeight"), Some(Value::U64(39)));
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(Value::U64(INFINITY)));
        assert_eq!(get("CPUQuotaPeriodUSec"), Some(Value::U64(50_000)));
        assert_eq!(get("MemorySwapMax"), Some(Value::U64(2_097_152)));
        assert_eq!(get("MemoryLow"), Some(Value::U64(524_288)));
        assert_eq!(get("TasksMax"), Some(Value::U64(INFINITY)));
    }

    #[test]
    fn blkio_weight_becomes_io_weight() {
        let p = props(
            r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":100}]}}"#,
        );
        assert_eq!(p, [("IOWeight", Value::U64(4950))]);
    }

    #[test]
    fn unified_memory_keys_become_properties() {
        let p = props(r#"{"unified":{"memory.high":"50331648","memory.min":"max"}}"#);
        assert_eq!(
            p,
            [
                ("MemoryHigh", Value::U64(50_331_648)),
                ("MemoryMin", Value::U64(INFINITY)),
            ]
        );
    }

    #[test]
    fn quota_rounds_up_to_ten_ms() {
        assert_eq!(quota_per_sec(25_000, 100_000), 250_000);
        assert_eq!(quota_per_sec(12_345, 100_000), 130_000);
        assert_eq!(quota_per_sec(1, 100_000), 10_000);
    }

    #[test]
    fn cpusets_as_bits() {
        assert_eq!(cpuset_bits("cpus", "0-3,9").unwrap(), [0x0f, 0x02]);
        assert_eq!(cpuset_bits("mems", "0").unwrap(), [0x01]);
        assert!(cpuset_bits("cpus", "3-1").is_err());
        assert!(cpuset_bits("cpus", "x").is_err());
        let p = props(r#"{"cpu":{"cpus":"1,8"}}"#);
        assert_eq!(p, [("AllowedCPUs", Value::Bytes(vec![0x02, 0x01]))]);
    }

    #[test]
    fn unit_carries_delegate_and_pid() {
        let p = unit("c1", "system.slice", Some(42), &[]).unwrap();
        assert!(p.contains(&("Delegate", Value::Bool(true))));
        assert!(p.contains(&("PIDs", Value::U32s(vec![42]))));
        assert!(p.contains(&("Slice", Value::Str("system.slice".into()))));
        assert!(p.contains(&("DefaultDependencies", Value::Bool(false))));
    }

    #[test]
    fn slice_unit_is_wanted_not_delegated() {
        let p = unit("c1", "a.slice", None, &[]).unwrap();
        assert!(p.contains(&("Wants", Value::Strs(vec!["a.slice".into()]))));
        for absent in ["Slice", "Delegate", "PIDs"] {
            assert!(
                p.iter().all(|(n, _)| *n != absent),
                "{absent} set on a slice"
            );
        }
    }
}

//! Statistics from the v1 hierarchies, each read only where the container
//! has a directory in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{Blkio, Cpu, CpuUsage, Hugetlb, Memory, Stats, Throttling};
use super::{blkio_object, blkio_v1_entries, entry, fs, hugetlb, pids, read_keyed, read_num};

/// Nanoseconds per second: cpuacct.stat counts USER_HZ ticks, runc
/// reports nanoseconds.
const NANOS: u64 = 1_000_000_000;

/// `dirs`: v1 controller -> the container's directory in its hierarchy.
pub fn collect(dirs: &BTreeMap<String, PathBuf>) -> Result<Stats> {
    let dir = |c: &str| dirs.get(c).map(PathBuf::as_path);
    // A controller the container has no directory in reads as empty.
    fn or_empty<T: Default>(d: Option<&Path>, f: fn(&Path) -> Result<T>) -> Result<T> {
        d.map_or_else(|| Ok(T::default()), f)
    }
    Ok(Stats {
        cpu: Cpu {
            usage: or_empty(dir("cpuacct"), usage)?,
            throttling: or_empty(dir("cpu"), throttling)?,
        },
        memory: or_empty(dir("memory"), memory)?,
        pids: or_empty(dir("pids"), pids)?,
        blkio: or_empty(dir("blkio"), blkio)?,
        hugetlb: or_empty(dir("hugetlb"), hugetlb_v1)?,
    })
}

fn usage(d: &Path) -> Result<CpuUsage> {
    let total = read_num(d, "cpuacct.usage")?.unwrap_or(0);
    let percpu = fs::read_opt(&d.join("cpuacct.usage_percpu"))?
        .map(|t| {
            t.split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(1, |v| v.max(1) as u64);
    let st = read_keyed(d, "cpuacct.stat")?;
    let ticks = |k: &str| st.get(k).copied().unwrap_or(0) * NANOS / hz;
    Ok(CpuUsage {
        kernel: Some(ticks("system")),
        percpu,
        total,
        user: Some(ticks("user")),
    })
}

fn throttling(d: &Path) -> Result<Throttling> {
    let st = read_keyed(d, "cpu.stat")?;
    let g = |k: &str| st.get(k).copied().unwrap_or(0);
    Ok(Throttling {
        periods: g("nr_periods"),
        throttled_periods: g("nr_throttled"),
        throttled_time: g("throttled_time"),
    })
}

fn memory(d: &Path) -> Result<Memory> {
    let raw = read_keyed(d, "memory.stat")?;
    let e = |prefix: &str| -> Result<Option<super::MemoryEntry>> {
        Ok(Some(entry(
            read_num(d, &format!("{prefix}.limit_in_bytes"))?,
            read_num(d, &format!("{prefix}.usage_in_bytes"))?,
            read_num(d, &format!("{prefix}.max_usage_in_bytes"))?,
            read_num(d, &format!("{prefix}.failcnt"))?,
        )))
    };
    Ok(Memory {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: e("memory")?,
        swap: e("memory.memsw")?,
        kernel: e("memory.kmem")?,
        raw,
    })
}

/// CFQ's files when the kernel has them, else the throttle layer's.
fn blkio(d: &Path) -> Result<Blkio> {
    let pick = |cfq: &str, throttle: &str| -> Result<Vec<super::BlkioEntry>> {
        let text = match fs::read_opt(&d.join(cfq))? {
            Some(t) => t,
            None => fs::read_opt(&d.join(throttle))?.unwrap_or_default(),
        };
        Ok(blkio_v1_entries(&text))
    };
    Ok(blkio_object(
        pick(
            "blkio.io_service_bytes_recursive",
            "blkio.throttle.io_service_bytes_recursive",
        )?,
        pick(
            "blkio.io_serviced_recursive",
            "blkio.throttle.io_serviced_recursive",
        )?,
    ))
}

fn hugetlb_v1(d: &Path) -> Result<BTreeMap<String, Hugetlb>> {
    hugetlb(d, |d, size| {
        Ok((
            read_num(d, &format!("hugetlb.{size}.usage_in_bytes"))?,
            read_num(d, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
            read_num(d, &format!("hugetlb.{size}.failcnt"))?,
        ))
    })
}

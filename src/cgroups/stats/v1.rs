//! Statistics from the v1 hierarchies, each read only where the container
//! has a directory in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{Blkio, Cpu, CpuSet, CpuUsage, Hugetlb, Memory, Stats, Throttling};
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
        cpuset: or_empty(dir("cpuset"), cpuset)?,
        memory: or_empty(dir("memory"), memory)?,
        pids: or_empty(dir("pids"), pids)?,
        blkio: or_empty(dir("blkio"), blkio)?,
        hugetlb: or_empty(dir("hugetlb"), hugetlb_v1)?,
        ..Stats::default()
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
    let (percpu_user, percpu_kernel) = fs::read_opt(&d.join("cpuacct.usage_all"))?
        .map(|t| usage_all(&t))
        .unwrap_or_default();
    Ok(CpuUsage {
        kernel: ticks("system"),
        percpu,
        percpu_kernel,
        percpu_user,
        total,
        user: ticks("user"),
    })
}

/// cpuacct.usage_all (`cpu user system` header, then one line of
/// nanoseconds per CPU) as (user, system) lists in CPU order.
fn usage_all(text: &str) -> (Vec<u64>, Vec<u64>) {
    let mut rows: Vec<(u64, u64, u64)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|f| f.parse::<u64>().ok());
            Some((it.next()??, it.next()??, it.next()??))
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.0);
    rows.into_iter().map(|(_, u, s)| (u, s)).unzip()
}

/// The flags files hold 0 or 1 (memory_pressure a rate, the relax level
/// may be -1); a file the kernel lacks reads as 0.
fn cpuset(d: &Path) -> Result<CpuSet> {
    let list = |f: &str| -> Result<Vec<u16>> {
        Ok(fs::read_opt(&d.join(f))?
            .map(|t| cpu_list(&t))
            .unwrap_or_default())
    };
    let n = |f: &str| -> Result<u64> { Ok(read_num(d, &format!("cpuset.{f}"))?.unwrap_or(0)) };
    let relax = fs::read_opt(&d.join("cpuset.sched_relax_domain_level"))?
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    Ok(CpuSet {
        cpu_exclusive: n("cpu_exclusive")?,
        cpus: list("cpuset.cpus")?,
        mem_exclusive: n("mem_exclusive")?,
        mem_hardwall: n("mem_hardwall")?,
        memory_migrate: n("memory_migrate")?,
        memory_pressure: n("memory_pressure")?,
        memory_spread_page: n("memory_spread_page")?,
        memory_spread_slab: n("memory_spread_slab")?,
        mems: list("cpuset.mems")?,
        sched_load_balance: n("sched_load_balance")?,
        sched_relax_domain_level: relax,
    })
}

/// The kernel's list format (`0-2,4`) expanded; a malformed part is left
/// out rather than failing the whole report.
pub(super) fn cpu_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
            out.extend(a..=b);
        }
    }
    out
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
    let e = |prefix: &str| -> Result<super::MemoryEntry> {
        Ok(entry(
            read_num(d, &format!("{prefix}.limit_in_bytes"))?,
            read_num(d, &format!("{prefix}.usage_in_bytes"))?,
            read_num(d, &format!("{prefix}.max_usage_in_bytes"))?,
            read_num(d, &format!("{prefix}.failcnt"))?,
        ))
    };
    Ok(Memory {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: e("memory")?,
        swap: e("memory.memsw")?,
        kernel: e("memory.kmem")?,
        kernel_tcp: e("memory.kmem.tcp")?,
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

//! Statistics from a v2 (unified) directory.

use std::path::Path;

use anyhow::Result;

use super::{Cpu, CpuUsage, Memory, Stats, Throttling};
use super::{entry, fs, hugetlb, io_stat_v2, pids, read_keyed, read_num};

pub fn collect(dir: &Path) -> Result<Stats> {
    Ok(Stats {
        cpu: cpu(dir)?,
        memory: memory(dir)?,
        pids: pids(dir)?,
        blkio: io_stat_v2(&fs::read_opt(&dir.join("io.stat"))?.unwrap_or_default()),
        hugetlb: hugetlb(dir, |d, size| {
            let events = read_keyed(d, &format!("hugetlb.{size}.events"))?;
            Ok((
                read_num(d, &format!("hugetlb.{size}.current"))?,
                None,
                events.get("max").copied(),
            ))
        })?,
        // runc 1.1 reads no cpuset statistics on v2: all zeros there.
        ..Stats::default()
    })
}

/// cpu.stat counts microseconds; runc reports nanoseconds.
fn cpu(dir: &Path) -> Result<Cpu> {
    let cpu_stat = read_keyed(dir, "cpu.stat")?;
    let g = |k: &str| cpu_stat.get(k).copied().unwrap_or(0);
    Ok(Cpu {
        usage: CpuUsage {
            total: g("usage_usec") * 1000,
            kernel: g("system_usec") * 1000,
            user: g("user_usec") * 1000,
            ..CpuUsage::default()
        },
        throttling: Throttling {
            periods: g("nr_periods"),
            throttled_periods: g("nr_throttled"),
            throttled_time: g("throttled_usec") * 1000,
        },
    })
}

fn memory(dir: &Path) -> Result<Memory> {
    let raw = read_keyed(dir, "memory.stat")?;
    let events = read_keyed(dir, "memory.events")?;
    let usage = entry(
        read_num(dir, "memory.max")?,
        read_num(dir, "memory.current")?,
        read_num(dir, "memory.peak")?,
        events.get("max").copied(),
    );
    // v1's swap entry is memory+swap; runc makes v2's mean the same: the
    // sums, a "max" swap limit staying "max" (and Go's wrapping add kept).
    let swap_max = read_num(dir, "memory.swap.max")?;
    let swap = entry(
        match swap_max {
            Some(u64::MAX) => Some(u64::MAX),
            s => Some(s.unwrap_or(0).wrapping_add(usage.limit)),
        },
        Some(read_num(dir, "memory.swap.current")?.unwrap_or(0) + usage.usage),
        None,
        None,
    );
    Ok(Memory {
        cache: raw.get("file").copied().unwrap_or(0),
        usage,
        swap,
        raw,
        ..Memory::default()
    })
}

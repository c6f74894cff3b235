//! Statistics in the shape of runc's `events --stats` data object
//! (libcontainer/cgroups/stats.go as printed by types/events.go): cpu,
//! memory, pids, blkio, hugetlb. Fields a host does not have are left out
//! or zero, as runc leaves them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::fs;

mod types;
pub mod v1;
pub mod v2;

pub use types::{
    Blkio, BlkioEntry, Cpu, CpuSet, CpuUsage, Hugetlb, Memory, MemoryEntry, Pids, Stats, Throttling,
};

/// `key value` lines (cpu.stat, memory.stat, memory.events, ...).
pub fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A single number; `max` (v2) reads as u64::MAX, as runc reports it.
fn number(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        Some(u64::MAX)
    } else {
        t.parse().ok()
    }
}

fn read_num(dir: &Path, file: &str) -> Result<Option<u64>> {
    Ok(fs::read_opt(&dir.join(file))?.as_deref().and_then(number))
}

fn read_keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>> {
    Ok(fs::read_opt(&dir.join(file))?
        .as_deref()
        .map(flat_keyed)
        .unwrap_or_default())
}

/// A missing file counts as zero (left out where runc says `omitempty`).
fn entry(
    limit: Option<u64>,
    usage: Option<u64>,
    max: Option<u64>,
    failcnt: Option<u64>,
) -> MemoryEntry {
    MemoryEntry {
        failcnt: failcnt.unwrap_or(0),
        limit: limit.unwrap_or(0),
        max: max.unwrap_or(0),
        usage: usage.unwrap_or(0),
    }
}

/// The `oom_kill` counter of `file` (v2 memory.events, v1
/// memory.oom_control) in `dir`.
pub fn oom_kill_count(dir: &Path, file: &str) -> Result<Option<u64>> {
    Ok(read_keyed(dir, file)?.get("oom_kill").copied())
}

/// Huge page sizes as the kernel names them in cgroup files (2MB, 1GB),
/// from /sys/kernel/mm/hugepages/hugepages-<N>kB.
fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let kb: u64 = name
                .to_str()?
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(size_name(kb))
        })
        .collect();
    out.sort();
    out
}

fn size_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

/// `{usage, max, failcnt}` per page size; `entry_for` reads them for one
/// size (None where the hierarchy has no such file).
fn hugetlb(
    dir: &Path,
    entry_for: impl Fn(&Path, &str) -> Result<(Option<u64>, Option<u64>, Option<u64>)>,
) -> Result<BTreeMap<String, Hugetlb>> {
    let mut m = BTreeMap::new();
    for size in hugepage_sizes() {
        let (usage, max, failcnt) = entry_for(dir, &size)?;
        if usage.is_none() && failcnt.is_none() {
            continue;
        }
        let e = Hugetlb {
            failcnt: failcnt.unwrap_or(0),
            max: max.unwrap_or(0),
            usage: usage.unwrap_or(0),
        };
        m.insert(size, e);
    }
    Ok(m)
}

fn blkio_entry(major: u64, minor: u64, op: &str, value: u64) -> BlkioEntry {
    BlkioEntry {
        major,
        minor,
        op: op.to_owned(),
        value,
    }
}

fn dev(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`) in runc's
/// blkio shape.
pub fn io_stat_v2(text: &str) -> Blkio {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(dev) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse() else { continue };
            match k {
                "rbytes" => bytes.push(blkio_entry(ma, mi, "Read", v)),
                "wbytes" => bytes.push(blkio_entry(ma, mi, "Write", v)),
                "rios" => ios.push(blkio_entry(ma, mi, "Read", v)),
                "wios" => ios.push(blkio_entry(ma, mi, "Write", v)),
                _ => {}
            }
        }
    }
    blkio_object(bytes, ios)
}

fn blkio_object(bytes: Vec<BlkioEntry>, ios: Vec<BlkioEntry>) -> Blkio {
    Blkio {
        io_service_bytes_recursive: bytes,
        io_serviced_recursive: ios,
    }
}

/// v1 blkio `8:0 Read 4096` lines (the `Total` line left out).
pub fn blkio_v1_entries(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (ma, mi) = dev(it.next()?)?;
            let op = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some(blkio_entry(ma, mi, op, v))
        })
        .collect()
}

/// pids.current and pids.max (same files on v1 and v2).
fn pids(dir: &Path) -> Result<Pids> {
    Ok(Pids {
        current: read_num(dir, "pids.current")?.unwrap_or(0),
        // "max" is reported as 0 ("no limit"), as runc does.
        limit: read_num(dir, "pids.max")?
            .filter(|&v| v != u64::MAX)
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keyed_and_numbers() {
        let m = flat_keyed("usage_usec 1500\nuser_usec 1000\nbad line x\n");
        assert_eq!(m.get("usage_usec"), Some(&1500));
        assert_eq!(m.len(), 2);
        assert_eq!(number("max\n"), Some(u64::MAX));
        assert_eq!(number("42\n"), Some(42));
        assert_eq!(number(""), None);
    }

    #[test]
    fn page_size_names() {
        assert_eq!(size_name(2048), "2MB");
        assert_eq!(size_name(1048576), "1GB");
        assert_eq!(size_name(64), "64KB");
    }

    #[test]
    fn io_stat_and_blkio_lines() {
        let v = io_stat_v2("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
        assert_eq!(
            serde_json::to_value(v).unwrap(),
            json!({
                "ioServiceBytesRecursive": [
                    {"major": 8, "op": "Read", "value": 4096},
                    {"major": 8, "op": "Write"}
                ],
                "ioServicedRecursive": [
                    {"major": 8, "op": "Read", "value": 1},
                    {"major": 8, "op": "Write"}
                ]
            })
        );
        let e = blkio_v1_entries("8:16 Read 512\n8:16 Write 0\nTotal 512\n");
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            json!([
                {"major": 8, "minor": 16, "op": "Read", "value": 512},
                {"major": 8, "minor": 16, "op": "Write"}
            ])
        );
    }

    /// A fake cgroup directory with `files`, removed on drop.
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(tag: &str, files: &[(&str, &str)]) -> Dir {
            let d = std::env::temp_dir().join(format!(
                "outlet-stats-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            for (name, text) in files {
                std::fs::write(d.join(name), text).unwrap();
            }
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn hugetlb_2mb() -> bool {
        hugepage_sizes().iter().any(|s| s == "2MB")
    }

    /// The exact bytes `events --stats` prints for a v2 directory: key
    /// order, zeros left out, ns from us, swap as memory+swap, the cpuset
    /// and kernel entries zero.
    #[test]
    fn v2_stats_print_as_runc_does() {
        let d = Dir::new(
            "v2",
            &[
                (
                    "cpu.stat",
                    "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 0\nthrottled_usec 7\n",
                ),
                ("memory.stat", "file 4096\nanon 8192\n"),
                ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
                ("memory.max", "67108864\n"),
                ("memory.current", "12288\n"),
                ("memory.peak", "20480\n"),
                ("memory.swap.max", "1048576\n"),
                ("memory.swap.current", "4096\n"),
                ("pids.current", "2\n"),
                ("pids.max", "max\n"),
                (
                    "io.stat",
                    "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
                ),
                ("hugetlb.2MB.current", "0\n"),
                ("hugetlb.2MB.events", "max 0\n"),
            ],
        );
        let text = serde_json::to_string(&v2::collect(&d.0).unwrap()).unwrap();
        let huge = if hugetlb_2mb() {
            r#"{"2MB":{"failcnt":0}}"#
        } else {
            "{}"
        };
        assert_eq!(
            text,
            format!(
                concat!(
                    r#"{{"blkio":{{"ioServiceBytesRecursive":[{{"major":8,"op":"Read","value":4096}},{{"major":8,"op":"Write"}}],"#,
                    r#""ioServicedRecursive":[{{"major":8,"op":"Read","value":1}},{{"major":8,"op":"Write"}}]}},"#,
                    r#""cpu":{{"throttling":{{"periods":4,"throttledTime":7000}},"usage":{{"kernel":500000,"total":1500000,"user":1000000}}}},"#,
                    r#""cpuset":{{"cpu_exclusive":0,"mem_exclusive":0,"mem_hardwall":0,"memory_migrate":0,"memory_pressure":0,"#,
                    r#""memory_spread_page":0,"memory_spread_slab":0,"sched_load_balance":0,"sched_relax_domain_level":0}},"#,
                    r#""hugetlb":{huge},"intel_rdt":{{}},"#,
                    r#""memory":{{"cache":4096,"kernel":{{"failcnt":0,"limit":0}},"kernelTCP":{{"failcnt":0,"limit":0}},"#,
                    r#""raw":{{"anon":8192,"file":4096}},"swap":{{"failcnt":0,"limit":68157440,"usage":16384}},"#,
                    r#""usage":{{"failcnt":3,"limit":67108864,"max":20480,"usage":12288}}}},"#,
                    r#""network_interfaces":null,"pids":{{"current":2}}}}"#
                ),
                huge = huge
            )
        );
    }

    /// The same for v1 hierarchies, one of them (hugetlb) absent.
    #[test]
    fn v1_stats_print_as_runc_does() {
        let cpuacct = Dir::new(
            "v1-cpuacct",
            &[
                ("cpuacct.usage", "3000\n"),
                ("cpuacct.usage_percpu", "1000 2000 \n"),
                ("cpuacct.stat", "user 3\nsystem 1\n"),
                (
                    "cpuacct.usage_all",
                    "cpu user system\n1 1500 500\n0 600 400\n",
                ),
            ],
        );
        let cpuset = Dir::new(
            "v1-cpuset",
            &[
                ("cpuset.cpus", "0-2,5\n"),
                ("cpuset.mems", "0\n"),
                ("cpuset.cpu_exclusive", "1\n"),
                ("cpuset.sched_load_balance", "1\n"),
                ("cpuset.sched_relax_domain_level", "-1\n"),
            ],
        );
        let cpu = Dir::new(
            "v1-cpu",
            &[(
                "cpu.stat",
                "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
            )],
        );
        let memory = Dir::new(
            "v1-memory",
            &[
                ("memory.stat", "cache 4096\nrss 0\n"),
                ("memory.limit_in_bytes", "67108864\n"),
                ("memory.usage_in_bytes", "8192\n"),
                ("memory.max_usage_in_bytes", "0\n"),
                ("memory.failcnt", "0\n"),
                ("memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n"),
                ("memory.kmem.tcp.usage_in_bytes", "0\n"),
                ("memory.kmem.tcp.failcnt", "2\n"),
            ],
        );
        let pids = Dir::new("v1-pids", &[("pids.current", "1\n"), ("pids.max", "16\n")]);
        let blkio = Dir::new(
            "v1-blkio",
            &[(
                "blkio.throttle.io_service_bytes_recursive",
                "8:16 Read 512\n8:16 Write 0\nTotal 512\n",
            )],
        );
        let dirs: BTreeMap<String, std::path::PathBuf> = [
            ("cpuacct", &cpuacct),
            ("cpu", &cpu),
            ("cpuset", &cpuset),
            ("memory", &memory),
            ("pids", &pids),
            ("blkio", &blkio),
        ]
        .into_iter()
        .map(|(c, d)| (c.to_owned(), d.0.clone()))
        .collect();
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .unwrap()
            .unwrap() as u64;
        let text = serde_json::to_string(&v1::collect(&dirs).unwrap()).unwrap();
        assert_eq!(
            text,
            format!(
                concat!(
                    r#"{{"blkio":{{"ioServiceBytesRecursive":[{{"major":8,"minor":16,"op":"Read","value":512}},{{"major":8,"minor":16,"op":"Write"}}]}},"#,
                    r#""cpu":{{"throttling":{{}},"usage":{{"kernel":{k},"percpu":[1000,2000],"#,
                    r#""percpu_kernel":[400,500],"percpu_user":[600,1500],"total":3000,"user":{u}}}}},"#,
                    r#""cpuset":{{"cpu_exclusive":1,"cpus":[0,1,2,5],"mem_exclusive":0,"mem_hardwall":0,"memory_migrate":0,"#,
                    r#""memory_pressure":0,"memory_spread_page":0,"memory_spread_slab":0,"mems":[0],"#,
                    r#""sched_load_balance":1,"sched_relax_domain_level":-1}},"#,
                    r#""hugetlb":{{}},"intel_rdt":{{}},"#,
                    r#""memory":{{"cache":4096,"kernel":{{"failcnt":0,"limit":0}},"#,
                    r#""kernelTCP":{{"failcnt":2,"limit":9223372036854771712}},"raw":{{"cache":4096,"rss":0}},"#,
                    r#""swap":{{"failcnt":0,"limit":0}},"usage":{{"failcnt":0,"limit":67108864,"usage":8192}}}},"#,
                    r#""network_interfaces":null,"pids":{{"current":1,"limit":16}}}}"#
                ),
                k = 1_000_000_000 / hz,
                u = 3 * 1_000_000_000 / hz
            )
        );
    }
}

//! Statistics in the shape of runc's `events --stats` data object
//! (libcontainer/cgroups/stats.go as printed by types/events.go): cpu,
//! memory, pids, blkio, hugetlb. Fields a host does not have are left out
//! or zero, as runc leaves them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::fs;

pub mod v1;
pub mod v2;

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

/// Drop zero/absent values the way runc's `omitempty` does.
fn put(m: &mut Map<String, Value>, k: &str, v: Option<u64>) {
    if let Some(v) = v.filter(|&v| v != 0) {
        m.insert(k.to_owned(), json!(v));
    }
}

fn entry(limit: Option<u64>, usage: Option<u64>, max: Option<u64>, failcnt: Option<u64>) -> Value {
    let mut m = Map::new();
    m.insert("limit".into(), json!(limit.unwrap_or(0)));
    put(&mut m, "usage", usage);
    put(&mut m, "max", max);
    m.insert("failcnt".into(), json!(failcnt.unwrap_or(0)));
    Value::Object(m)
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
) -> Result<Value> {
    let mut m = Map::new();
    for size in hugepage_sizes() {
        let (usage, max, failcnt) = entry_for(dir, &size)?;
        if usage.is_none() && failcnt.is_none() {
            continue;
        }
        let mut e = Map::new();
        put(&mut e, "usage", usage);
        put(&mut e, "max", max);
        e.insert("failcnt".into(), json!(failcnt.unwrap_or(0)));
        m.insert(size, Value::Object(e));
    }
    Ok(Value::Object(m))
}

fn blkio_entry(major: u64, minor: u64, op: &str, value: u64) -> Value {
    let mut m = Map::new();
    put(&mut m, "major", Some(major));
    put(&mut m, "minor", Some(minor));
    m.insert("op".into(), json!(op));
    put(&mut m, "value", Some(value));
    Value::Object(m)
}

fn dev(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`) in runc's
/// blkio shape.
pub fn io_stat_v2(text: &str) -> Value {
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

fn blkio_object(bytes: Vec<Value>, ios: Vec<Value>) -> Value {
    let mut m = Map::new();
    if !bytes.is_empty() {
        m.insert("ioServiceBytesRecursive".into(), Value::Array(bytes));
    }
    if !ios.is_empty() {
        m.insert("ioServicedRecursive".into(), Value::Array(ios));
    }
    Value::Object(m)
}

/// v1 blkio `8:0 Read 4096` lines (the `Total` line left out).
pub fn blkio_v1_entries(text: &str) -> Vec<Value> {
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
fn pids(dir: &Path) -> Result<Value> {
    let mut m = Map::new();
    put(&mut m, "current", read_num(dir, "pids.current")?);
    // "max" is reported as 0 ("no limit"), as runc does.
    put(
        &mut m,
        "limit",
        read_num(dir, "pids.max")?.filter(|&v| v != u64::MAX),
    );
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            v,
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
            e,
            [
                json!({"major": 8, "minor": 16, "op": "Read", "value": 512}),
                json!({"major": 8, "minor": 16, "op": "Write"})
            ]
        );
    }
}

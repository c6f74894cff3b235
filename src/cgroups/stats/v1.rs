//! Statistics from the v1 hierarchies, each read only where the container
//! has a directory in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::{blkio_object, blkio_v1_entries, entry, fs, hugetlb, pids, put, read_keyed, read_num};

/// Nanoseconds per second: cpuacct.stat counts USER_HZ ticks, runc
/// reports nanoseconds.
const NANOS: u64 = 1_000_000_000;

/// `dirs`: v1 controller -> the container's directory in its hierarchy.
pub fn collect(dirs: &BTreeMap<String, PathBuf>) -> Result<Value> {
    let dir = |c: &str| dirs.get(c).map(PathBuf::as_path);
    let or_empty = |d: Option<&Path>, f: fn(&Path) -> Result<Value>| match d {
        Some(d) => f(d),
        None => Ok(json!({})),
    };
    Ok(json!({
        "cpu": {"usage": usage(dir("cpuacct"))?, "throttling": throttling(dir("cpu"))?},
        "memory": or_empty(dir("memory"), memory)?,
        "pids": or_empty(dir("pids"), pids)?,
        "blkio": or_empty(dir("blkio"), blkio)?,
        "hugetlb": or_empty(dir("hugetlb"), hugetlb_v1)?,
    }))
}

fn usage(cpuacct: Option<&Path>) -> Result<Map<String, Value>> {
    let mut usage = Map::new();
    let Some(d) = cpuacct else {
        return Ok(usage);
    };
    put(&mut usage, "total", read_num(d, "cpuacct.usage")?);
    if let Some(t) = fs::read_opt(&d.join("cpuacct.usage_percpu"))? {
        let v: Vec<u64> = t
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        if !v.is_empty() {
            usage.insert("percpu".into(), json!(v));
        }
    }
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(1, |v| v.max(1) as u64);
    let st = read_keyed(d, "cpuacct.stat")?;
    let ticks = |k: &str| st.get(k).copied().unwrap_or(0) * NANOS / hz;
    usage.insert("kernel".into(), json!(ticks("system")));
    usage.insert("user".into(), json!(ticks("user")));
    Ok(usage)
}

fn throttling(cpu: Option<&Path>) -> Result<Map<String, Value>> {
    let mut throttling = Map::new();
    if let Some(d) = cpu {
        let st = read_keyed(d, "cpu.stat")?;
        let g = |k: &str| st.get(k).copied();
        put(&mut throttling, "periods", g("nr_periods"));
        put(&mut throttling, "throttledPeriods", g("nr_throttled"));
        put(&mut throttling, "throttledTime", g("throttled_time"));
    }
    Ok(throttling)
}

fn memory(d: &Path) -> Result<Value> {
    let mut memory = Map::new();
    let raw = read_keyed(d, "memory.stat")?;
    put(&mut memory, "cache", raw.get("cache").copied());
    let e = |prefix: &str| -> Result<Value> {
        Ok(entry(
            read_num(d, &format!("{prefix}.limit_in_bytes"))?,
            read_num(d, &format!("{prefix}.usage_in_bytes"))?,
            read_num(d, &format!("{prefix}.max_usage_in_bytes"))?,
            read_num(d, &format!("{prefix}.failcnt"))?,
        ))
    };
    memory.insert("usage".into(), e("memory")?);
    memory.insert("swap".into(), e("memory.memsw")?);
    memory.insert("kernel".into(), e("memory.kmem")?);
    if !raw.is_empty() {
        memory.insert("raw".into(), json!(raw));
    }
    Ok(Value::Object(memory))
}

/// CFQ's files when the kernel has them, else the throttle layer's.
fn blkio(d: &Path) -> Result<Value> {
    let pick = |cfq: &str, throttle: &str| -> Result<Vec<Value>> {
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

fn hugetlb_v1(d: &Path) -> Result<Value> {
    hugetlb(d, |d, size| {
        Ok((
            read_num(d, &format!("hugetlb.{size}.usage_in_bytes"))?,
            read_num(d, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
            read_num(d, &format!("hugetlb.{size}.failcnt"))?,
        ))
    })
}

//! Statistics from a v2 (unified) directory.

use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::{entry, fs, hugetlb, io_stat_v2, pids, put, read_keyed, read_num};

pub fn collect(dir: &Path) -> Result<Value> {
    Ok(json!({
        "cpu": cpu(dir)?,
        "memory": memory(dir)?,
        "pids": pids(dir)?,
        "blkio": io_stat_v2(&fs::read_opt(&dir.join("io.stat"))?.unwrap_or_default()),
        "hugetlb": hugetlb(dir, |d, size| {
            let events = read_keyed(d, &format!("hugetlb.{size}.events"))?;
            Ok((
                read_num(d, &format!("hugetlb.{size}.current"))?,
                None,
                events.get("max").copied(),
            ))
        })?,
    }))
}

/// cpu.stat counts microseconds; runc reports nanoseconds.
fn cpu(dir: &Path) -> Result<Value> {
    let cpu_stat = read_keyed(dir, "cpu.stat")?;
    let g = |k: &str| cpu_stat.get(k).copied();
    let mut usage = Map::new();
    put(&mut usage, "total", g("usage_usec").map(|v| v * 1000));
    usage.insert("kernel".into(), json!(g("system_usec").unwrap_or(0) * 1000));
    usage.insert("user".into(), json!(g("user_usec").unwrap_or(0) * 1000));
    let mut throttling = Map::new();
    put(&mut throttling, "periods", g("nr_periods"));
    put(&mut throttling, "throttledPeriods", g("nr_throttled"));
    put(
        &mut throttling,
        "throttledTime",
        g("throttled_usec").map(|v| v * 1000),
    );
    Ok(json!({"usage": usage, "throttling": throttling}))
}

fn memory(dir: &Path) -> Result<Value> {
    let raw = read_keyed(dir, "memory.stat")?;
    let events = read_keyed(dir, "memory.events")?;
    let mut memory = Map::new();
    put(&mut memory, "cache", raw.get("file").copied());
    memory.insert(
        "usage".into(),
        entry(
            read_num(dir, "memory.max")?,
            read_num(dir, "memory.current")?,
            read_num(dir, "memory.peak")?,
            events.get("max").copied(),
        ),
    );
    memory.insert(
        "swap".into(),
        entry(
            read_num(dir, "memory.swap.max")?,
            read_num(dir, "memory.swap.current")?,
            None,
            None,
        ),
    );
    if !raw.is_empty() {
        memory.insert("raw".into(), json!(raw));
    }
    Ok(Value::Object(memory))
}

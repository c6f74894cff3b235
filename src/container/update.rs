//! `update`: new resource limits for a live container. The limits come from
//! a LinuxResources JSON document (file or stdin), then runc's single-value
//! flags on top, and go to the cgroup through `Cgroup::apply`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use crate::cgroups::Cgroup;
use crate::state::Status;

/// runc's `update` flags, already typed where clap could; byte sizes stay
/// strings until `parse_bytes`.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_idle: Option<i64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
}

/// Read `--resources FILE` (`-` is stdin) as LinuxResources.
pub fn read_resources(source: &str) -> Result<LinuxResources> {
    let (name, path) = if source == "-" {
        ("stdin", None)
    } else {
        (source, Some(Path::new(source)))
    };
    let text = crate::syscall::fs::read_input(path)
        .with_context(|| format!("--resources {source}: read"))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("--resources {name}: not a LinuxResources JSON object"))
}

/// A byte size the way runc (docker/go-units RAMInBytes) reads it: a
/// number, optionally with a fraction, then an optional k/m/g/t/p unit
/// (binary, any case, with optional `i` and `b`); `-1` means unlimited.
pub fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim_start().to_ascii_lowercase();
    let bad = || anyhow::anyhow!("--{flag} {s:?}: expected a size such as 512m, 1g or 1048576");
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mut u = unit.as_str();
    u = u.strip_suffix('b').unwrap_or(u);
    u = u.strip_suffix('i').unwrap_or(u);
    let shift = match u {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        bail!("--{flag} {s:?}: too large");
    }
    Ok(bytes as i64)
}

/// The flags merged over `base` (the --resources document, or empty).
pub fn merge(base: Option<LinuxResources>, f: &Flags) -> Result<LinuxResources> {
    let mut r = base.unwrap_or_default();
    let bytes = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref().map(|s| parse_bytes(flag, s)).transpose()
    };
    let limit = bytes("memory", &f.memory)?;
    let reservation = bytes("memory-reservation", &f.memory_reservation)?;
    let swap = bytes("memory-swap", &f.memory_swap)?;
    if limit.is_some() || reservation.is_some() || swap.is_some() {
        let mut m: LinuxMemory = r.memory().unwrap_or_default();
        if limit.is_some() {
            m.set_limit(limit);
        }
        if reservation.is_some() {
            m.set_reservation(reservation);
        }
        if swap.is_some() {
            m.set_swap(swap);
        }
        r.set_memory(Some(m));
    }
    let any_cpu = f.cpu_period.is_some()
        || f.cpu_quota.is_some()
        || f.cpu_shares.is_some()
        || f.cpu_idle.is_some()
        || f.cpu_rt_period.is_some()
        || f.cpu_rt_runtime.is_some()
        || f.cpuset_cpus.is_some()
        || f.cpuset_mems.is_some();
    if any_cpu {
        let mut c: LinuxCpu = r.cpu().clone().unwrap_or_default();
        if f.cpu_period.is_some() {
            c.set_period(f.cpu_period);
        }
        if f.cpu_quota.is_some() {
            c.set_quota(f.cpu_quota);
        }
        if f.cpu_shares.is_some() {
            c.set_shares(f.cpu_shares);
        }
        if f.cpu_idle.is_some() {
            c.set_idle(f.cpu_idle);
        }
        if f.cpu_rt_period.is_some() {
            c.set_realtime_period(f.cpu_rt_period);
        }
        if f.cpu_rt_runtime.is_some() {
            c.set_realtime_runtime(f.cpu_rt_runtime);
        }
        if f.cpuset_cpus.is_some() {
            c.set_cpus(f.cpuset_cpus.clone());
        }
        if f.cpuset_mems.is_some() {
            c.set_mems(f.cpuset_mems.clone());
        }
        r.set_cpu(Some(c));
    }
    if let Some(n) = f.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(n);
        r.set_pids(Some(p));
    }
    if let Some(w) = f.blkio_weight {
        if !(10..=1000).contains(&w) {
            bail!("--blkio-weight {w}: must be between 10 and 1000");
        }
        let mut b: LinuxBlockIo = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// Write `resources` to the cgroup of a created, running or paused
/// container.
///
/// Device rules are left as create set them, as runc does: containerd's
/// shim sends the spec's whole resources, devices included, and replaying
/// them on v1 starts with `devices.deny a`, a moment in which the running
/// application could not open even /dev/null (and the linux.devices
/// allowances create added would be lost).
pub fn update(root: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    let mut resources = resources.clone();
    resources.set_devices(None);
    let c = super::load(root, id)?;
    if c.status == Status::Stopped {
        bail!(
            "container not running: {id} is stopped; only a created, running or paused container can be updated"
        );
    }
    Cgroup::from_paths(c.state.cgroup.clone())
        .apply(&resources)
        .with_context(|| format!("write the new limits of {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_like_runc() {
        assert_eq!(parse_bytes("m", "1048576").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("m", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("m", "64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("m", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("m", "1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("m", "512kb").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("m", "1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("m", "-1").unwrap(), -1);
        assert!(parse_bytes("m", "lots").is_err());
        assert!(parse_bytes("m", "5x").is_err());
        assert!(parse_bytes("m", "").is_err());
        assert!(parse_bytes("m", "-5m").is_err());
    }

    #[test]
    fn flags_override_the_document() {
        let base: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":1000,"reservation":500},"cpu":{"shares":512}}"#,
        )
        .unwrap();
        let f = Flags {
            memory: Some("2k".into()),
            cpu_quota: Some(50000),
            pids_limit: Some(20),
            ..Flags::default()
        };
        let r = merge(Some(base), &f).unwrap();
        let m = r.memory().unwrap();
        assert_eq!(m.limit(), Some(2048));
        assert_eq!(m.reservation(), Some(500));
        let c = r.cpu().as_ref().unwrap();
        assert_eq!(c.shares(), Some(512));
        assert_eq!(c.quota(), Some(50000));
        assert_eq!(r.pids().unwrap().limit(), 20);
        assert!(r.block_io().is_none());
        let bad = Flags {
            blkio_weight: Some(5),
            ..Flags::default()
        };
        assert!(merge(None, &bad).is_err());
    }
}

//! Checks and kernel values of the fields the init applies with one
//! syscall each: `process.scheduler` (sched_setattr), `process.ioPriority`
//! (ioprio_set), `linux.memoryPolicy` (set_mempolicy), `linux.personality`
//! (personality) and `linux.timeOffsets` (timens_offsets). Each function
//! both validates (at create, before any side effect, naming the field) and
//! translates, so the init applies exactly what was checked.

use std::collections::HashMap;

use anyhow::{Result, bail};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxTimeOffset, MemoryPolicyFlagType, MemoryPolicyModeType,
};

use super::types::Scheduler;

/// The process fields of this file, for config.json's process and for
/// `exec --process`, before anything is forked.
pub fn check_process(p: &super::Process) -> Result<()> {
    super::cpu_affinity::check(p)?;
    super::process_values::check(p)?;
    if let Some(s) = p.scheduler() {
        let attr = scheduler(s)?;
        if attr.policy == SCHED_DEADLINE {
            deadline_period_in_host_bounds(&attr)?;
        }
    }
    if let Some(io) = p.io_priority() {
        io_priority(io)?;
    }
    Ok(())
}

/// The kernel's `struct sched_attr` (SCHED_ATTR_SIZE_VER1: with the
/// utilization clamps, which the flags may ask for).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

const SCHED_DEADLINE: u32 = 6;

const POLICIES: &[(&str, u32)] = &[
    ("SCHED_OTHER", 0),
    ("SCHED_FIFO", 1),
    ("SCHED_RR", 2),
    ("SCHED_BATCH", 3),
    ("SCHED_IDLE", 5),
    ("SCHED_DEADLINE", SCHED_DEADLINE),
];

/// The spec's flag names and the kernel's bits (include/uapi/linux/sched.h).
pub const SCHED_FLAGS: &[(&str, u64)] = &[
    ("SCHED_FLAG_RESET_ON_FORK", 0x01),
    ("SCHED_FLAG_RECLAIM", 0x02),
    ("SCHED_FLAG_DL_OVERRUN", 0x04),
    ("SCHED_FLAG_KEEP_POLICY", 0x08),
    ("SCHED_FLAG_KEEP_PARAMS", 0x10),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", 0x20),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", 0x40),
];

/// The deadline flags mean nothing to another policy; the kernel would
/// take them and do nothing, so they are refused.
const DEADLINE_ONLY: u64 = 0x02 | 0x04;

/// `process.scheduler` as sched_setattr takes it. The rules are runc's
/// (nice range; priority only for the real-time policies; runtime,
/// deadline and period only for SCHED_DEADLINE) plus the kernel's own
/// checks, so a bad value fails create with the field's name rather than
/// EINVAL from the init.
pub fn scheduler(s: &Scheduler) -> Result<SchedAttr> {
    let policy = sched_policy(&s.policy)?;
    let flags = sched_flags(s.flags.iter().flatten())?;
    let nice = s.nice.unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        bail!("{SCHED}.nice: {nice} is outside -20..19");
    }
    let priority = sched_priority(s)?;
    let (runtime, deadline, period) = sched_deadline(s, policy, flags)?;
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime,
        deadline,
        period,
        // The spec has no clamp values: a clamp flag resets them (0..max).
        util_min: 0,
        util_max: 1024,
    })
}

const SCHED: &str = "process.scheduler";

fn sched_policy(name: &str) -> Result<u32> {
    let Some(&(_, policy)) = POLICIES.iter().find(|(n, _)| *n == name) else {
        if name == "SCHED_ISO" {
            bail!("{SCHED}.policy: SCHED_ISO is reserved and not implemented by Linux");
        }
        let known: Vec<&str> = POLICIES.iter().map(|p| p.0).collect();
        bail!(
            "{SCHED}.policy: unknown policy {name:?} (known: {})",
            known.join(", ")
        );
    };
    Ok(policy)
}

fn sched_flags<'a>(names: impl Iterator<Item = &'a String>) -> Result<u64> {
    let mut flags = 0;
    for f in names {
        let Some(&(_, bit)) = SCHED_FLAGS.iter().find(|(n, _)| n == f) else {
            let known: Vec<&str> = SCHED_FLAGS.iter().map(|p| p.0).collect();
            bail!(
                "{SCHED}.flags: unknown flag {f:?} (known: {})",
                known.join(", ")
            );
        };
        flags |= bit;
    }
    Ok(flags)
}

/// A priority of 1..99 for the real-time policies, none for the others.
fn sched_priority(s: &Scheduler) -> Result<i32> {
    let realtime = matches!(s.policy.as_str(), "SCHED_FIFO" | "SCHED_RR");
    let priority = s.priority.unwrap_or(0);
    if realtime && !(1..=99).contains(&priority) {
        bail!(
            "{SCHED}.priority: {} needs a priority of 1..99, got {priority}",
            s.policy
        );
    }
    if !realtime && priority != 0 {
        bail!(
            "{SCHED}.priority: only SCHED_FIFO and SCHED_RR take a priority, not {}",
            s.policy
        );
    }
    Ok(priority)
}

/// Runtime, deadline and period, which only SCHED_DEADLINE takes, as the
/// kernel's __checkparam_dl wants them; so are the deadline-only flags.
fn sched_deadline(s: &Scheduler, policy: u32, flags: u64) -> Result<(u64, u64, u64)> {
    let (runtime, deadline, period) = (
        s.runtime.unwrap_or(0),
        s.deadline.unwrap_or(0),
        s.period.unwrap_or(0),
    );
    if policy == SCHED_DEADLINE {
        // runtime <= deadline <= period (0 means "the deadline"), and at
        // least 1024 ns of runtime.
        if deadline == 0
            || runtime < 1024
            || runtime > deadline
            || (period != 0 && period < deadline)
        {
            bail!(
                "{SCHED}: SCHED_DEADLINE needs 1024 <= runtime <= deadline <= period (period 0 = deadline), \
                 got runtime {runtime}, deadline {deadline}, period {period}"
            );
        }
        // The kernel refuses bit 63 in either (its time arithmetic is signed).
        if (deadline | period) >> 63 != 0 {
            bail!(
                "{SCHED}: SCHED_DEADLINE deadline and period must be below 2^63 ns, \
                 got deadline {deadline}, period {period}"
            );
        }
    } else {
        if runtime != 0 || deadline != 0 || period != 0 {
            bail!(
                "{SCHED}: runtime, deadline and period are for SCHED_DEADLINE only, not {}",
                s.policy
            );
        }
        if flags & DEADLINE_ONLY != 0 {
            bail!(
                "{SCHED}.flags: SCHED_FLAG_RECLAIM and SCHED_FLAG_DL_OVERRUN are for SCHED_DEADLINE only, not {}",
                s.policy
            );
        }
    }
    Ok((runtime, deadline, period))
}

/// The kernel also wants the period (the deadline when period is 0)
/// within the host's kernel.sched_deadline_period_{min,max}_us; checked
/// here, at create, so that the init does not fail with a bare EINVAL.
/// Only a SCHED_DEADLINE process pays the two reads.
fn deadline_period_in_host_bounds(attr: &SchedAttr) -> Result<()> {
    let sysctl = |name: &str| -> Result<u64> {
        let path = format!("/proc/sys/kernel/sched_deadline_period_{name}_us");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{SCHED}: read {path}: {e}"))?;
        text.trim()
            .parse::<u64>()
            .map_err(|e| anyhow::anyhow!("{SCHED}: {path}: {:?}: {e}", text.trim()))
    };
    let (min, max) = (sysctl("min")?, sysctl("max")?);
    let period = if attr.period == 0 {
        attr.deadline
    } else {
        attr.period
    };
    if period < min.saturating_mul(1000) || period > max.saturating_mul(1000) {
        bail!(
            "{SCHED}: SCHED_DEADLINE period {period} ns (the deadline when period is 0) is \
             outside this host's {}..{} ns (kernel.sched_deadline_period_min_us, _max_us)",
            min * 1000,
            max * 1000
        );
    }
    Ok(())
}

/// `process.ioPriority` as ioprio_set takes it: class << 13 | level.
pub fn io_priority(p: &LinuxIOPriority) -> Result<u16> {
    let class: u16 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = p.priority();
    if !(0..=7).contains(&level) {
        bail!("process.ioPriority.priority: {level} is outside 0..7");
    }
    Ok(class << 13 | level as u16)
}

/// `linux.memoryPolicy` as set_mempolicy takes it: the mode with its flag
/// bits, and the node mask as 64-bit words (empty for no nodes).
#[derive(Debug, PartialEq, Eq)]
pub struct MemPolicy {
    pub mode: i32,
    pub mask: Vec<u64>,
}

/// Node ids above this are refused: the kernel's MAX_NUMNODES is at most
/// 1024 on the configurations Linux ships, and the mask is allocated here.
const MAX_NODE: usize = 4095;

pub fn memory_policy(p: &LinuxMemoryPolicy) -> Result<MemPolicy> {
    const F: &str = "linux.memoryPolicy";
    use MemoryPolicyModeType as M;
    let (mut mode, name) = match p.mode() {
        M::MpolDefault => (0, "MPOL_DEFAULT"),
        M::MpolPreferred => (1, "MPOL_PREFERRED"),
        M::MpolBind => (2, "MPOL_BIND"),
        M::MpolInterleave => (3, "MPOL_INTERLEAVE"),
        M::MpolLocal => (4, "MPOL_LOCAL"),
        M::MpolPreferredMany => (5, "MPOL_PREFERRED_MANY"),
        M::MpolWeightedInterleave => (6, "MPOL_WEIGHTED_INTERLEAVE"),
    };
    let nodes = p.nodes().as_deref().unwrap_or("");
    let mask = node_mask(nodes).map_err(|e| anyhow::anyhow!("{F}.nodes: {nodes:?}: {e}"))?;
    let flags = p.flags().as_deref().unwrap_or(&[]);
    let has = |f: MemoryPolicyFlagType| flags.contains(&f);
    match p.mode() {
        M::MpolDefault | M::MpolLocal => {
            if !mask.is_empty() {
                bail!("{F}.nodes: {name} takes no nodes, got {nodes:?}");
            }
            if !flags.is_empty() {
                bail!("{F}.flags: {name} takes no flags");
            }
        }
        M::MpolPreferred => {}
        _ if mask.is_empty() => bail!("{F}.nodes: {name} needs at least one node"),
        _ => {}
    }
    if has(MemoryPolicyFlagType::MpolFStaticNodes) && has(MemoryPolicyFlagType::MpolFRelativeNodes)
    {
        bail!("{F}.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
    }
    if mask.is_empty()
        && (has(MemoryPolicyFlagType::MpolFStaticNodes)
            || has(MemoryPolicyFlagType::MpolFRelativeNodes))
    {
        bail!("{F}.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes");
    }
    if has(MemoryPolicyFlagType::MpolFNumaBalancing)
        && !matches!(p.mode(), M::MpolBind | M::MpolPreferredMany)
    {
        bail!(
            "{F}.flags: MPOL_F_NUMA_BALANCING is for MPOL_BIND and MPOL_PREFERRED_MANY, not {name}"
        );
    }
    for f in flags {
        mode |= match f {
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        };
    }
    Ok(MemPolicy { mode, mask })
}

/// "0-3,7" to a bit mask; empty text is no nodes.
fn node_mask(s: &str) -> Result<Vec<u64>, String> {
    let mut mask = Vec::new();
    if s.is_empty() {
        return Ok(mask);
    }
    let num = |n: &str| -> Result<usize, String> {
        let v: usize = n
            .parse()
            .map_err(|_| format!("{n:?} is not a node number"))?;
        if v > MAX_NODE {
            return Err(format!("node {v} is above {MAX_NODE}"));
        }
        Ok(v)
    };
    for item in s.split(',') {
        let (a, b) = match item.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(item)?, num(item)?),
        };
        if a > b {
            return Err(format!("range {item:?} runs backwards"));
        }
        for n in a..=b {
            if mask.len() <= n / 64 {
                mask.resize(n / 64 + 1, 0);
            }
            mask[n / 64] |= 1 << (n % 64);
        }
    }
    Ok(mask)
}

/// `linux.personality` as personality(2) takes it. The spec defines no
/// flag values ("currently no flag values are supported"), so any flag is
/// refused rather than dropped.
pub fn personality(p: &LinuxPersonality) -> Result<u64> {
    if let Some(f) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        bail!("linux.personality.flags: {f:?}: no personality flags are supported");
    }
    Ok(match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    })
}

/// `linux.timeOffsets` as /proc/self/timens_offsets takes them, one line
/// per clock. Only meaningful with a new time namespace (`new_time_ns`).
pub fn time_offsets(
    offsets: &HashMap<String, LinuxTimeOffset>,
    new_time_ns: bool,
) -> Result<String> {
    const F: &str = "linux.timeOffsets";
    if !offsets.is_empty() && !new_time_ns {
        bail!("{F}: set, but there is no new time namespace to apply them in");
    }
    let mut keys: Vec<&String> = offsets.keys().collect();
    keys.sort();
    let mut text = String::new();
    for k in keys {
        let o = &offsets[k];
        if k != "monotonic" && k != "boottime" {
            bail!("{F}.{k}: unknown clock (monotonic and boottime have offsets)");
        }
        let ns = o.nanosecs().unwrap_or(0);
        if ns >= 1_000_000_000 {
            bail!("{F}.{k}.nanosecs: {ns} is not below one second");
        }
        text.push_str(&format!("{k} {} {ns}\n", o.secs().unwrap_or(0)));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sched(v: serde_json::Value) -> Result<SchedAttr, String> {
        scheduler(&serde_json::from_value(v).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn fifo_with_priority_and_spec_flag_names() {
        let a = sched(json!({"policy": "SCHED_FIFO", "priority": 10,
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_KEEP_PARAMS"]}))
        .unwrap();
        assert_eq!((a.policy, a.priority, a.flags), (1, 10, 0x11));
        assert_eq!(a.size, 56);
    }

    #[test]
    fn bad_schedulers_name_the_field() {
        for (v, want) in [
            (
                json!({"policy": "SCHED_OTHER", "priority": 10}),
                "process.scheduler.priority",
            ),
            (
                json!({"policy": "SCHED_FIFO"}),
                "process.scheduler.priority",
            ),
            (
                json!({"policy": "SCHED_RR", "priority": 100}),
                "process.scheduler.priority",
            ),
            (
                json!({"policy": "SCHED_OTHER", "nice": 20}),
                "process.scheduler.nice",
            ),
            (json!({"policy": "SCHED_NOPE"}), "process.scheduler.policy"),
            (json!({"policy": "SCHED_ISO"}), "process.scheduler.policy"),
            (
                json!({"policy": "SCHED_OTHER", "flags": ["SCHED_RESET_ON_FORK"]}),
                "process.scheduler.flags",
            ),
            (
                json!({"policy": "SCHED_FIFO", "priority": 1, "flags": ["SCHED_FLAG_RECLAIM"]}),
                "process.scheduler.flags",
            ),
            (
                json!({"policy": "SCHED_BATCH", "runtime": 5000}),
                "process.scheduler: runtime",
            ),
            (
                json!({"policy": "SCHED_DEADLINE", "runtime": 5000, "deadline": 1000}),
                "process.scheduler: SCHED_DEADLINE needs",
            ),
            (
                json!({"policy": "SCHED_DEADLINE", "runtime": 9223372036854775809u64,
                       "deadline": 9223372036854775810u64}),
                "process.scheduler: SCHED_DEADLINE deadline and period must be below 2^63",
            ),
        ] {
            let err = sched(v.clone()).unwrap_err();
            assert!(err.starts_with(want), "{v}: {err}");
        }
        sched(json!({"policy": "SCHED_DEADLINE", "runtime": 10000, "deadline": 20000, "period": 30000}))
            .unwrap();
        sched(json!({"policy": "SCHED_BATCH", "nice": -5})).unwrap();
    }

    #[test]
    fn io_priorities() {
        let p = |v| serde_json::from_value::<LinuxIOPriority>(v).unwrap();
        assert_eq!(
            io_priority(&p(json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0}))).unwrap(),
            24576
        );
        assert_eq!(
            io_priority(&p(json!({"class": "IOPRIO_CLASS_BE", "priority": 4}))).unwrap(),
            16388
        );
        let err = io_priority(&p(json!({"class": "IOPRIO_CLASS_RT", "priority": 8}))).unwrap_err();
        assert!(
            err.to_string().starts_with("process.ioPriority.priority"),
            "{err}"
        );
    }

    #[test]
    fn memory_policies() {
        let mp = |v| memory_policy(&serde_json::from_value(v).unwrap()).map_err(|e| e.to_string());
        assert_eq!(
            mp(json!({"mode": "MPOL_BIND", "nodes": "0"})).unwrap(),
            MemPolicy {
                mode: 2,
                mask: vec![1]
            }
        );
        assert_eq!(
            mp(json!({"mode": "MPOL_INTERLEAVE", "nodes": "0-2,65", "flags": ["MPOL_F_STATIC_NODES"]}))
                .unwrap(),
            MemPolicy { mode: 3 | 1 << 15, mask: vec![7, 2] }
        );
        assert_eq!(mp(json!({"mode": "MPOL_LOCAL"})).unwrap().mode, 4);
        for (v, want) in [
            (json!({"mode": "MPOL_BIND"}), "linux.memoryPolicy.nodes"),
            (
                json!({"mode": "MPOL_DEFAULT", "nodes": "0"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                json!({"mode": "MPOL_BIND", "nodes": "1-0"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                json!({"mode": "MPOL_BIND", "nodes": "x"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                json!({"mode": "MPOL_BIND", "nodes": "99999"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
                "linux.memoryPolicy.flags",
            ),
            (
                json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}),
                "linux.memoryPolicy.flags",
            ),
            (
                json!({"mode": "MPOL_PREFERRED", "flags": ["MPOL_F_STATIC_NODES"]}),
                "linux.memoryPolicy.flags",
            ),
        ] {
            let err = mp(v.clone()).unwrap_err();
            assert!(err.starts_with(want), "{v}: {err}");
        }
    }

    #[test]
    fn personalities_and_offsets() {
        let p = |v| personality(&serde_json::from_value(v).unwrap()).map_err(|e| e.to_string());
        assert_eq!(p(json!({"domain": "LINUX32"})).unwrap(), 8);
        assert_eq!(p(json!({"domain": "LINUX"})).unwrap(), 0);
        assert!(
            p(json!({"domain": "LINUX", "flags": ["X"]}))
                .unwrap_err()
                .starts_with("linux.personality.flags")
        );

        let offs = |v| serde_json::from_value::<HashMap<String, LinuxTimeOffset>>(v).unwrap();
        let o =
            offs(json!({"monotonic": {"secs": 86400}, "boottime": {"secs": -5, "nanosecs": 7}}));
        assert_eq!(
            time_offsets(&o, true).unwrap(),
            "boottime -5 7\nmonotonic 86400 0\n"
        );
        assert!(
            time_offsets(&o, false)
                .unwrap_err()
                .to_string()
                .starts_with("linux.timeOffsets")
        );
        let bad = offs(json!({"realtime": {"secs": 1}}));
        assert!(
            time_offsets(&bad, true)
                .unwrap_err()
                .to_string()
                .starts_with("linux.timeOffsets.realtime")
        );
    }
}

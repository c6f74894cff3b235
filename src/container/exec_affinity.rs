//! `process.execCPUAffinity` for `exec`, as runc applies it: `initial` is
//! the affinity outlet holds while it forks the helper, which inherits it
//! and so runs on those CPUs until it enters the container's cgroup
//! (where a cpuset cgroup may impose its own CPUs); `final` is set by the
//! helper once it is in the cgroup, before it forks the process, which
//! inherits it; with `initial` alone the helper resets its affinity to
//! the cgroup's CPUs there instead, as it does without the field (see
//! `scheduling::reset_affinity`: outlet's own pinning is not the
//! process's).

use anyhow::{Context, Result};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

use crate::spec::{Process, cpu_affinity};

/// outlet's own affinity before `initial`, put back when dropped (after
/// the fork: outlet itself waits for the process on any CPU, as before).
pub struct Initial(Option<CpuSet>);

impl Initial {
    pub fn apply(p: &Process) -> Result<Initial> {
        let Some(list) = p
            .exec_cpu_affinity
            .as_ref()
            .and_then(|a| a.initial.as_ref())
        else {
            return Ok(Initial(None));
        };
        let field = "process.execCPUAffinity.initial";
        let set = cpu_affinity::cpu_set(field, list)?;
        let own = sched_getaffinity(Pid::from_raw(0)).context("sched_getaffinity")?;
        sched_setaffinity(Pid::from_raw(0), &set)
            .with_context(|| format!("{field}: {list:?}: sched_setaffinity"))?;
        Ok(Initial(Some(own)))
    }
}

impl Drop for Initial {
    fn drop(&mut self) {
        if let Some(own) = self.0.take()
            && let Err(e) = sched_setaffinity(Pid::from_raw(0), &own)
        {
            crate::logging::warn(&format!("restore outlet's CPU affinity: {e}"));
        }
    }
}

/// In the helper, once in the container's cgroup: `final`; or else every
/// CPU, which the kernel narrows to the cgroup's cpuset (runc's reset:
/// joining a cpuset whose CPUs equal the old one's leaves the affinity as
/// it was, so `initial`, or outlet's own pinning, would stick).
pub fn apply_final(p: &Process) -> Result<()> {
    let Some(a) = p.exec_cpu_affinity.as_ref() else {
        return crate::process::scheduling::reset_affinity();
    };
    let field = "process.execCPUAffinity.final";
    let (set, list) = match (&a.cpu_affinity_final, &a.initial) {
        (Some(list), _) => (cpu_affinity::cpu_set(field, list)?, list.as_str()),
        (None, _) => (
            crate::process::scheduling::every_cpu(),
            "every CPU of the cgroup",
        ),
    };
    sched_setaffinity(Pid::from_raw(0), &set)
        .with_context(|| format!("{field}: {list:?}: sched_setaffinity"))
}

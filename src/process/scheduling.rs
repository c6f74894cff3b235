//! `process.scheduler` and `process.ioPriority`, for the init and for
//! `exec`: applied while the process still holds CAP_SYS_NICE (before the
//! capabilities are set to the spec's), inherited across execve. Nothing
//! is done for a process that sets neither.

use anyhow::{Context, Result};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;

use crate::spec::Process;
use crate::spec::process_fields;

pub fn apply(process: &Process) -> Result<()> {
    if let Some(s) = process.scheduler() {
        let attr = process_fields::scheduler(s)?;
        if let Err(e) = crate::syscall::sched_setattr(&attr) {
            let hint = if e.raw_os_error() == Some(libc::EPERM) && attr.policy != 0 {
                // With RT group scheduling (cgroup v1 cpu controller) a new
                // cgroup has no real-time budget at all.
                " (real-time policies need CAP_SYS_NICE and, with RT group scheduling, \
                 linux.resources.cpu.realtimeRuntime for the container's cgroup)"
            } else {
                ""
            };
            return Err(e).with_context(|| format!("process.scheduler {}{hint}", s.policy));
        }
    }
    if let Some(io) = process.io_priority() {
        let value = process_fields::io_priority(io)?;
        crate::syscall::ioprio_set_self(i32::from(value))
            .with_context(|| format!("process.ioPriority {:?} {}", io.class(), io.priority()))?;
    }
    Ok(())
}

/// Every CPU, which the kernel narrows to the cgroup's cpuset: a process
/// placed in its cgroup keeps the affinity it inherited from whoever ran
/// outlet (since Linux 6.2 a cpuset move keeps a mask set with
/// sched_setaffinity), so a caller pinned with taskset or systemd's
/// CPUAffinity= would pin every container with it. runc resets it the
/// same way (cpu_affinity.bats). One syscall, made after placement.
pub fn reset_affinity() -> Result<()> {
    sched_setaffinity(Pid::from_raw(0), &every_cpu())
        .context("reset the CPU affinity to the cgroup's CPUs")
}

pub fn every_cpu() -> CpuSet {
    let mut all = CpuSet::new();
    for cpu in 0..CpuSet::count() {
        // Only past the set's size can this fail; the loop stays inside.
        let _ = all.set(cpu);
    }
    all
}

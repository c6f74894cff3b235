//! Why an init died or failed before "ready" when the container has a
//! memory limit: the kernel's OOM killer or a refused charge, said in terms
//! of the spec's field, instead of a bare "init exited" or ENOMEM.

use crate::cgroups::Cgroup;
use oci_spec::runtime::LinuxResources;

/// The memory limit as the reason the init died before "ready": the
/// kernel's OOM killer counted a kill in the container's cgroup. The
/// killer signals its victim before it counts the kill, so a count of 0
/// is read again for a moment (only on this failure path).
pub(super) fn oom_during_setup(
    cgroup: &Cgroup,
    resources: Option<&LinuxResources>,
) -> Option<String> {
    let limit = memory_limit(resources)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    let kills = loop {
        let kills = cgroup.oom_kills().ok()??;
        if kills > 0 || std::time::Instant::now() > deadline {
            break kills;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    (kills > 0).then(|| {
        format!(
            "linux.resources.memory.limit: {limit} bytes is below what the container's setup needs: \
             the kernel's OOM killer killed the init before it was ready (oom_kill {kills} in its cgroup)"
        )
    })
}

/// The memory limit as the reason a setup step of the init failed: the
/// kernel refused a charge to the container's cgroup (ENOMEM) instead of
/// OOM-killing, or the killer counted a kill.
pub(super) fn memory_short(
    cgroup: &Cgroup,
    resources: Option<&LinuxResources>,
    errno: i32,
) -> Option<String> {
    let limit = memory_limit(resources)?;
    if errno == libc::ENOMEM {
        return Some(format!(
            "linux.resources.memory.limit: {limit} bytes is below what the container's setup needs: \
             the kernel refused the init memory before it was ready"
        ));
    }
    let kills = cgroup.oom_kills().ok()??;
    (kills > 0).then(|| {
        format!(
            "linux.resources.memory.limit: {limit} bytes is below what the container's setup needs: \
             the kernel's OOM killer killed in its cgroup before it was ready (oom_kill {kills})"
        )
    })
}

fn memory_limit(resources: Option<&LinuxResources>) -> Option<i64> {
    resources?.memory().as_ref()?.limit().filter(|l| *l > 0)
}

use anyhow::{Result, bail};

use super::Globals;
use crate::cli::UpdateArgs;
use crate::container::update::{Flags, merge, read_resources, update};

pub fn run(g: &Globals, a: &UpdateArgs) -> Result<i32> {
    crate::spec::check_id(&a.id)?;
    // runc's flags, refused as runc refuses them where RDT is off: a clear
    // error and exit 1 (clap's "unexpected argument" would exit 2).
    for (flag, v) in [
        ("--l3-cache-schema", &a.l3_cache_schema),
        ("--mem-bw-schema", &a.mem_bw_schema),
    ] {
        if v.is_some() {
            bail!(
                "update {flag}: Intel RDT is not supported by outlet \
                 (features: linux.intelRdt.enabled is false)"
            );
        }
    }
    let base = a
        .resources
        .as_deref()
        .map(read_resources)
        .transpose()
        .map_err(|e| e.context("update"))?;
    let flags = Flags {
        memory: a.memory.clone(),
        memory_reservation: a.memory_reservation.clone(),
        memory_swap: a.memory_swap.clone(),
        cpu_period: a.cpu_period,
        cpu_quota: a.cpu_quota,
        cpu_shares: a.cpu_shares,
        cpu_idle: a.cpu_idle,
        cpu_rt_period: a.cpu_rt_period,
        cpu_rt_runtime: a.cpu_rt_runtime,
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight,
    };
    let resources = merge(base, &flags).map_err(|e| e.context("update"))?;
    update(&g.root, &a.id, &resources).map_err(|e| e.context("update"))?;
    Ok(0)
}

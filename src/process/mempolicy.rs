//! `linux.memoryPolicy` for the init: the NUMA policy of the task,
//! inherited by every child and kept across execve.

use anyhow::{Context, Result};
use oci_spec::runtime::LinuxMemoryPolicy;

use crate::spec::process_fields;

pub fn apply(policy: Option<&LinuxMemoryPolicy>) -> Result<()> {
    let Some(p) = policy else {
        return Ok(());
    };
    let pol = process_fields::memory_policy(p)?;
    crate::syscall::set_mempolicy(pol.mode, &pol.mask).with_context(|| {
        format!(
            "linux.memoryPolicy {} nodes {:?}",
            p.mode(),
            p.nodes().as_deref().unwrap_or("")
        )
    })
}

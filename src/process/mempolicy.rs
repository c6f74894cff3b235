//! `linux.memoryPolicy` for the init: the NUMA policy of the task,
//! inherited by every child and kept across execve.

use anyhow::{Context, Result};
use oci_spec::runtime::Linux;

use crate::spec::process_fields;

pub fn apply(linux: Option<&Linux>) -> Result<()> {
    let Some(p) = linux.and_then(|l| l.memory_policy().as_ref()) else {
        return Ok(());
    };
    let pol = process_fields::memory_policy(p)?;
    let (ptr, maxnode) = if pol.mask.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits (a historical off-by-one that
        // its ABI keeps).
        (pol.mask.as_ptr(), pol.mask.len() * 64 + 1)
    };
    // SAFETY: the mask pointer covers `maxnode - 1` bits of a live Vec
    // (or is NULL with maxnode 0); set_mempolicy only reads it.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, pol.mode, ptr, maxnode) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| {
            format!(
                "linux.memoryPolicy {} nodes {:?}",
                p.mode(),
                p.nodes().as_deref().unwrap_or("")
            )
        });
    }
    Ok(())
}

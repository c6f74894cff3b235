//! Devices on cgroup v2: no files, an eBPF program attached to the
//! container's cgroup that answers each open/mknod of a device node.

// The bpf(2) loader: raw attribute unions the kernel defines, nothing nix
// wraps.
#[allow(unsafe_code)]
pub mod bpf;
#[cfg(test)]
mod branchfree_program;
#[cfg(test)]
mod old_program;
pub mod program;
pub mod reuse;

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use anyhow::{Result, anyhow};

use crate::cgroups::devices::DeviceRule;

/// Build, load and attach the program for `rules` to the cgroup `dir`
/// (opened as `dir_fd`). With `replace`, the programs attached before are
/// detached after the new one is in force, so there is no moment without
/// a filter.
pub fn apply(
    dir: &Path,
    dir_fd: BorrowedFd<'_>,
    rules: &[DeviceRule],
    replace: bool,
) -> Result<()> {
    let insns = program::build(rules);
    let old = if replace {
        bpf::query(dir_fd)
            .map_err(|e| anyhow!("cgroup: query device programs of {}: {e}", dir.display()))?
    } else {
        Vec::new()
    };
    load_and_attach(dir, dir_fd, &insns)?;
    for id in old {
        bpf::detach(dir_fd, id).map_err(|e| {
            anyhow!(
                "cgroup: detach old device program {id} from {}: {e}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// `apply` for a new cgroup, attaching the program an earlier create
/// loaded for the same rules where the kernel still has it (see `reuse`;
/// `cache` is its directory) instead of loading it again.
pub fn apply_new(
    dir: &Path,
    dir_fd: BorrowedFd<'_>,
    rules: &[DeviceRule],
    cache: &Path,
) -> Result<()> {
    let insns = program::build(rules);
    let raw = reuse::raw(&insns);
    // An attach that fails (the cgroup existed and has this very program
    // already) falls to a fresh load, which fails as before if it must.
    if let Some(prog) = reuse::find(cache, &insns, &raw)
        && bpf::attach(dir_fd, prog.as_fd()).is_ok()
    {
        return Ok(());
    }
    let prog = load_and_attach(dir, dir_fd, &insns)?;
    reuse::remember(cache, prog.as_fd(), insns.len(), &raw);
    Ok(())
}

/// A fresh load of `insns`, attached to the cgroup `dir` (`dir_fd`).
fn load_and_attach(
    dir: &Path,
    dir_fd: BorrowedFd<'_>,
    insns: &[program::Insn],
) -> Result<std::os::fd::OwnedFd> {
    let prog = bpf::load(insns)?;
    bpf::attach(dir_fd, prog.as_fd()).map_err(|e| {
        anyhow!(
            "cgroup: attach the eBPF device program to {}: {e}",
            dir.display()
        )
    })?;
    Ok(prog)
}

#[cfg(test)]
mod bench_tests;
#[cfg(test)]
mod edge_tests;
#[cfg(test)]
mod equivalence_tests;
#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod reuse_tests;

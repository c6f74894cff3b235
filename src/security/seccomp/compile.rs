//! A `FilterPlan` compiled by libseccomp into the BPF program the init loads.

use std::io::{Read, Seek};

use anyhow::{Context, Result, bail};
use libseccomp::ScmpFilterContext;
use nix::sys::memfd::{MemFdCreateFlag, memfd_create};

use super::FilterPlan;

/// Compile a plan with libseccomp into a BPF program (sock_filter array).
pub fn compile(plan: &FilterPlan) -> Result<Vec<libc::sock_filter>> {
    let mut ctx = ScmpFilterContext::new(plan.default_action)
        .context("linux.seccomp.defaultAction: libseccomp refused it")?;
    for a in &plan.arches {
        ctx.add_arch(*a)
            .with_context(|| format!("linux.seccomp.architectures: adding {a:?}"))?;
    }
    for r in &plan.rules {
        let res = if r.conditions.is_empty() {
            ctx.add_rule(r.action, r.syscall)
        } else {
            ctx.add_rule_conditional(r.action, r.syscall, &r.conditions)
        };
        res.with_context(|| format!("{}: adding rule for {:?} ({:?})", r.field, r.name, r.action))?;
    }
    export(&ctx)
}

fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    // seccomp_export_bpf_mem needs libseccomp 2.6; Debian 12 has 2.5, which
    // only exports to an fd.
    let fd = memfd_create(c"outlet-seccomp", MemFdCreateFlag::MFD_CLOEXEC)
        .map_err(std::io::Error::from)
        .context("memfd_create for the seccomp program")?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file)
        .context("linux.seccomp: compiling the filter")?;
    file.rewind()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    from_bytes(&bytes)
}

pub(super) const INSN: usize = std::mem::size_of::<libc::sock_filter>();

pub(super) fn from_bytes(bytes: &[u8]) -> Result<Vec<libc::sock_filter>> {
    if bytes.is_empty()
        || !bytes.len().is_multiple_of(INSN)
        || bytes.len() / INSN > u16::MAX as usize
    {
        bail!(
            "linux.seccomp: compiled program has a bad size ({} bytes)",
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

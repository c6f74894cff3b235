//! A `FilterPlan` compiled by libseccomp into the BPF program the init loads.

use std::io::{Read, Seek};

use anyhow::{Context, Result, bail};
use libseccomp::ScmpFilterContext;
use nix::sys::memfd::{MemFdCreateFlag, memfd_create};

use super::{Condition, FilterPlan};

/// libseccomp's layouts of the syscall dispatch (SCMP_FLTATR_CTL_OPTIMIZE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Its default: one test per rule, in priority order. An unlisted
    /// syscall walks past every rule before the default action.
    Linear = 1,
    /// A binary tree on the syscall number: a few tests per syscall.
    Tree = 2,
}

/// Rules from which on the program is laid out as a tree. On load the
/// kernel runs the filter once for every syscall number of the native and
/// compat arch (to precompute the syscalls it always allows): with
/// podman's profile (~400 rules, three arches) that walk cost 1.0 ms as a
/// list and 0.33 ms as a tree (bench/README.md, "Seccomp"), and each
/// syscall the kernel cannot precompute (argument conditions, errno'd and
/// unlisted ones) is decided in a few tests instead of hundreds. Below
/// this a list is short anyway and the tree's extra jumps buy nothing;
/// libseccomp 2.5 before 2.5.4 also mis-compiled a tree of no rules (it
/// ignored the default action). runc draws the same line at 32.
pub const TREE_FROM_RULES: usize = 32;

/// The layout `compile` gives a plan.
pub fn layout(plan: &FilterPlan) -> Layout {
    if plan.rules.len() >= TREE_FROM_RULES {
        Layout::Tree
    } else {
        Layout::Linear
    }
}

/// Compile a plan with libseccomp into a BPF program (sock_filter array).
/// A libseccomp too old for the tree (before 2.5) gets the list: the
/// layout changes the speed, never an outcome.
pub fn compile(plan: &FilterPlan) -> Result<Vec<libc::sock_filter>> {
    match compile_as(plan, layout(plan)) {
        Err(_) if layout(plan) == Layout::Tree => compile_as(plan, Layout::Linear),
        r => r,
    }
}

/// `compile` with the layout chosen by the caller: the tests compare the
/// outcomes of both layouts of one plan.
pub(super) fn compile_as(plan: &FilterPlan, layout: Layout) -> Result<Vec<libc::sock_filter>> {
    let mut ctx = ScmpFilterContext::new(plan.default_action)
        .context("linux.seccomp.defaultAction: libseccomp refused it")?;
    if layout != Layout::Linear {
        ctx.set_ctl_optimize(layout as u32)
            .context("linux.seccomp: libseccomp refused the binary tree layout")?;
    }
    for a in &plan.arches {
        ctx.add_arch(*a)
            .with_context(|| format!("linux.seccomp.architectures: adding {a:?}"))?;
    }
    for r in &plan.rules {
        let res = if r.conditions.is_empty() {
            ctx.add_rule(r.action, r.syscall)
        } else {
            let conditions: Vec<_> = r.conditions.iter().map(Condition::scmp).collect();
            ctx.add_rule_conditional(r.action, r.syscall, &conditions)
        };
        res.with_context(|| {
            format!(
                "{}: adding rule for syscall {} ({:?})",
                r.field(),
                r.syscall,
                r.action
            )
        })?;
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

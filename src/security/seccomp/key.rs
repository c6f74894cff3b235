//! The cache key of a plan: everything its compiled program depends on,
//! as a compact binary encoding.

use libseccomp::{ScmpAction, ScmpArch, ScmpCompareOp};

use super::{Condition, FilterPlan};
use crate::security::seccomp::compile::TREE_FROM_RULES;

/// Bumped whenever the same plan would compile to another program
/// (v3: the binary-tree layout, `compile::layout`).
const FORMAT: &[u8] = b"outlet-seccomp-v3";

/// Everything the compiled program depends on: what compiles it (format,
/// libseccomp's version, the kernel release, outlet's arch, the tree
/// threshold), then the plan. Integers are fixed-size little-endian,
/// texts and lists are length-prefixed, every action and comparison is a
/// tag byte and its values: two keys are equal exactly when the inputs
/// are. It is computed on every create with a profile, so no text
/// formatting: a podman-sized plan (~400 rules) is ~5 KiB, built in
/// microseconds. None for a plan holding something newer than this
/// encoding knows (libseccomp's enums are open): compiled, not cached.
pub(super) fn cache_key(plan: &FilterPlan) -> Option<Vec<u8>> {
    // Sized up front: growing a Vec of this size costs an mmap and a
    // munmap per doubling under musl's allocator.
    let rules: usize = plan
        .rules
        .iter()
        .map(|r| 13 + 25 * r.conditions.len())
        .sum();
    let mut key = Vec::with_capacity(160 + plan.arches.len() + rules);
    push_bytes(&mut key, FORMAT);
    let lib = libseccomp::ScmpVersion::current().ok()?;
    for n in [lib.major, lib.minor, lib.micro, TREE_FROM_RULES as u32] {
        key.extend_from_slice(&n.to_le_bytes());
    }
    push_bytes(
        &mut key,
        crate::syscall::security::kernel_release().as_bytes(),
    );
    push_bytes(&mut key, std::env::consts::ARCH.as_bytes());
    key.extend_from_slice(&(plan.arches.len() as u32).to_le_bytes());
    for a in &plan.arches {
        key.push(arch_tag(*a)?);
    }
    push_action(&mut key, plan.default_action)?;
    key.extend_from_slice(&plan.flags.to_le_bytes());
    key.extend_from_slice(&(plan.rules.len() as u32).to_le_bytes());
    for r in &plan.rules {
        // One fixed-size record, one copy into the key (~400 of them for
        // podman's profile) instead of a growth check per field.
        let (tag, value) = action_parts(r.action)?;
        let mut rec = [0u8; 13];
        rec[..4].copy_from_slice(&r.syscall.to_le_bytes());
        rec[4] = tag;
        rec[5..9].copy_from_slice(&value.to_le_bytes());
        rec[9..].copy_from_slice(&(r.conditions.len() as u32).to_le_bytes());
        key.extend_from_slice(&rec);
        for c in &r.conditions {
            push_condition(&mut key, c)?;
        }
    }
    Some(key)
}

fn push_bytes(key: &mut Vec<u8>, bytes: &[u8]) {
    key.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    key.extend_from_slice(bytes);
}

/// An action as a tag byte and its value (errno, trace message).
fn push_action(key: &mut Vec<u8>, a: ScmpAction) -> Option<()> {
    let (tag, value) = action_parts(a)?;
    key.push(tag);
    key.extend_from_slice(&value.to_le_bytes());
    Some(())
}

fn action_parts(a: ScmpAction) -> Option<(u8, u32)> {
    Some(match a {
        ScmpAction::KillProcess => (1, 0),
        ScmpAction::KillThread => (2, 0),
        ScmpAction::Trap => (3, 0),
        ScmpAction::Notify => (4, 0),
        ScmpAction::Errno(e) => (5, e as u32),
        ScmpAction::Trace(t) => (6, u32::from(t)),
        ScmpAction::Log => (7, 0),
        ScmpAction::Allow => (8, 0),
        _ => return None,
    })
}

/// A comparison as its argument, an operator tag and two values (the mask
/// of MASKED_EQ, else 0; the datum).
fn push_condition(key: &mut Vec<u8>, c: &Condition) -> Option<()> {
    let (tag, mask) = match c.op {
        ScmpCompareOp::NotEqual => (1, 0),
        ScmpCompareOp::Less => (2, 0),
        ScmpCompareOp::LessOrEqual => (3, 0),
        ScmpCompareOp::Equal => (4, 0),
        ScmpCompareOp::GreaterEqual => (5, 0),
        ScmpCompareOp::Greater => (6, 0),
        ScmpCompareOp::MaskedEqual(m) => (7, m),
        _ => return None,
    };
    key.extend_from_slice(&c.arg.to_le_bytes());
    key.push(tag);
    key.extend_from_slice(&mask.to_le_bytes());
    key.extend_from_slice(&c.datum.to_le_bytes());
    Some(())
}

/// Every architecture libseccomp 0.4 names; a tag is the position + 1.
const ARCHES: [ScmpArch; 24] = [
    ScmpArch::Native,
    ScmpArch::X86,
    ScmpArch::X8664,
    ScmpArch::X32,
    ScmpArch::Arm,
    ScmpArch::Aarch64,
    ScmpArch::Loongarch64,
    ScmpArch::M68k,
    ScmpArch::Mips,
    ScmpArch::Mips64,
    ScmpArch::Mips64N32,
    ScmpArch::Mipsel,
    ScmpArch::Mipsel64,
    ScmpArch::Mipsel64N32,
    ScmpArch::Ppc,
    ScmpArch::Ppc64,
    ScmpArch::Ppc64Le,
    ScmpArch::S390,
    ScmpArch::S390X,
    ScmpArch::Parisc,
    ScmpArch::Parisc64,
    ScmpArch::Riscv64,
    ScmpArch::Sheb,
    ScmpArch::Sh,
];

fn arch_tag(a: ScmpArch) -> Option<u8> {
    ARCHES.iter().position(|&x| x == a).map(|i| i as u8 + 1)
}

/// FNV-1a, 64 bits: stable across builds (std's hasher is not), and only
/// names the file (see `prepare_cached`).
pub(super) fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::seccomp::{plan, profile};
    use serde_json::json;

    fn cond(arg: u32, op: ScmpCompareOp, datum: u64) -> Condition {
        Condition { arg, op, datum }
    }

    /// Plans that each differ from `base` in one thing the program
    /// depends on, some of them chosen so that a careless encoding (no
    /// lengths, no tags, fields run together) would make them collide.
    fn variants(base: &FilterPlan) -> Vec<(&'static str, FilterPlan)> {
        let with = |what, f: &dyn Fn(&mut FilterPlan)| {
            let mut p = base.clone();
            f(&mut p);
            (what, p)
        };
        let eq = ScmpCompareOp::Equal;
        vec![
            with("errno 38", &|p| p.rules[0].action = ScmpAction::Errno(38)),
            with("trace 1", &|p| p.rules[0].action = ScmpAction::Trace(1)),
            with("log", &|p| p.rules[0].action = ScmpAction::Log),
            with("kill thread", &|p| {
                p.rules[0].action = ScmpAction::KillThread
            }),
            with("kill process", &|p| {
                p.rules[0].action = ScmpAction::KillProcess
            }),
            with("default errno", &|p| {
                p.default_action = ScmpAction::Errno(1)
            }),
            with("syscall", &|p| p.rules[0].syscall += 1),
            with("flags", &|p| p.flags = 2),
            with("x86 added", &|p| p.arches.push(ScmpArch::X86)),
            with("arches swapped", &|p| p.arches.reverse()),
            with("arg 2", &|p| p.rules[1].conditions[0].arg = 2),
            with("op ne", &|p| {
                p.rules[1].conditions[0].op = ScmpCompareOp::NotEqual
            }),
            with("datum 3", &|p| p.rules[1].conditions[0].datum = 3),
            // MASKED_EQ with mask m and datum d against d and m.
            with("masked 2/7", &|p| {
                p.rules[1].conditions[0] = cond(1, ScmpCompareOp::MaskedEqual(2), 7)
            }),
            with("masked 7/2", &|p| {
                p.rules[1].conditions[0] = cond(1, ScmpCompareOp::MaskedEqual(7), 2)
            }),
            // Two conditions in one rule (AND) against one each (OR).
            with("and", &|p| p.rules[1].conditions.push(cond(2, eq, 0))),
            with("or", &|p| {
                let mut r = p.rules[1].clone();
                r.conditions = vec![cond(2, eq, 0)];
                p.rules.insert(2, r);
            }),
            // The condition moved to the next rule.
            with("moved", &|p| {
                let c = p.rules[1].conditions.pop().unwrap();
                p.rules[2].conditions.push(c);
            }),
            with("rule dropped", &|p| drop(p.rules.pop())),
        ]
    }

    #[test]
    fn cache_key_tells_plans_apart() {
        let base = plan(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["lseek"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}]
        })))
        .unwrap();
        let key = |p: &FilterPlan| cache_key(p).expect("every part is known");
        // Equal plans, equal keys; also plans that differ only in what
        // the program does not depend on (where a rule came from, names
        // skipped): the control that the inequalities below are not
        // simply every key differing.
        assert_eq!(key(&base), key(&base.clone()));
        let mut renamed = base.clone();
        renamed.rules[0].index = 7;
        renamed.skipped.push("no_such_syscall".into());
        assert_eq!(key(&base), key(&renamed), "field names are not the program");
        let vs = variants(&base);
        let keys: Vec<Vec<u8>> = vs.iter().map(|(_, p)| key(p)).collect();
        for (i, k) in keys.iter().enumerate() {
            assert_ne!(&key(&base), k, "{}", vs[i].0);
            for (j, l) in keys.iter().enumerate().skip(i + 1) {
                assert_ne!(k, l, "{} and {}", vs[i].0, vs[j].0);
            }
        }
    }
}

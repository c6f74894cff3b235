//! The device program as outlet built it in session 5 (one branch-free
//! match per rule, every field loaded from the ctx where it is used, shared
//! exits): kept, test-only, as a second reference for the equivalence tests
//! and to measure what the type-dispatched shape of program.rs saves.

use super::program::{
    ALU64_ADD_K, ALU64_AND_K, ALU64_MOV_K, ALU64_OR_X, ALU64_RSH_K, ALU64_XOR_K, Insn, JMP_EXIT,
    JMP_JA, JMP32_JEQ_K, LDX_MEM_H, LDX_MEM_W, insn,
};
use crate::cgroups::devices::{ACC_ALL, DeviceKind, DeviceRule};

const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;

/// The type is the low half of access_type: a 16-bit ctx load of it (the
/// kernel allows narrow loads of this field) saves masking.
const TYPE_OFF: i16 = if cfg!(target_endian = "little") { 0 } else { 2 };
const ACCESS_OFF: i16 = 0;
const MAJOR_OFF: i16 = 4;
const MINOR_OFF: i16 = 8;

/// Rules per group of shared exits: keeps every jump to an exit within
/// the i16 offset (at most 15 instructions per rule).
const RULES_PER_EXITS: usize = 2000;

/// The most instructions `build` emits for `n` rules.
pub const fn max_len_branchfree(n: usize) -> usize {
    15 * n + 5 * (n / RULES_PER_EXITS + 1)
}

/// The rules (in the spec's order) that can decide anything, in the order
/// the program checks them (last to first). Dropped: everything before an
/// unconditional rule, a rule repeated later in the list (the later copy
/// always decides first), and the deny rules checked after the last
/// allow rule (a miss is denied anyway). Repeats are looked for only in
/// lists of a sane length, to keep the search from going quadratic.
fn effective(rules: &[DeviceRule]) -> Vec<&DeviceRule> {
    let mut out: Vec<&DeviceRule> = Vec::with_capacity(rules.len());
    let dedup = rules.len() <= 256;
    for rule in rules.iter().rev() {
        if dedup && out.contains(&rule) {
            continue;
        }
        out.push(rule);
        if rule.kind == DeviceKind::All
            && rule.major.is_none()
            && rule.minor.is_none()
            && rule.access == ACC_ALL
        {
            break;
        }
    }
    while out.last().is_some_and(|r| !r.allow) {
        out.pop();
    }
    out
}

/// One rule: r2 = an expression that is zero exactly when the access
/// matches the rule, then one jump "zero: to the rule's exit"; a miss
/// falls through to the next rule. Computing the match without branches
/// leaves the verifier one fork per rule instead of one per field.
/// A rule without conditions (everything, rwm) is a plain jump: effective()
/// dropped what would be checked after it.
fn emit_rule(prog: &mut Vec<Insn>, exits: &mut Vec<(usize, bool)>, rule: &DeviceRule) {
    let start = prog.len();
    // The first term goes to r2, later ones to r3 and are or-ed into r2.
    let term = |prog: &mut Vec<Insn>, code: &[Insn]| {
        let first = prog.len() == start;
        let dst = if first { 2 } else { 3 };
        prog.extend(code.iter().map(|i| Insn {
            regs: (i.regs & 0xf0) | dst,
            ..*i
        }));
        if !first {
            prog.push(insn(ALU64_OR_X, 2, 3, 0, 0));
        }
    };
    let kind = match rule.kind {
        DeviceKind::All => None,
        DeviceKind::Char => Some(BPF_DEVCG_DEV_CHAR),
        DeviceKind::Block => Some(BPF_DEVCG_DEV_BLOCK),
    };
    let partial = rule.access != ACC_ALL;
    if rule.allow && partial {
        // Requested bits outside the rule's, and the type's difference.
        let outside = i32::from(!rule.access & ACC_ALL) << 16;
        let load = insn(LDX_MEM_W, 0, 1, ACCESS_OFF, 0);
        match kind {
            Some(t) => term(
                prog,
                &[load, xor(t), insn(ALU64_AND_K, 0, 0, 0, outside | 0xffff)],
            ),
            None => term(prog, &[load, insn(ALU64_AND_K, 0, 0, 0, outside)]),
        }
    } else if let Some(t) = kind {
        term(prog, &[insn(LDX_MEM_H, 0, 1, TYPE_OFF, 0), xor(t)]);
    }
    for (off, want) in [(MAJOR_OFF, rule.major), (MINOR_OFF, rule.minor)] {
        match want {
            None => {}
            Some(0) => term(prog, &[insn(LDX_MEM_W, 0, 1, off, 0)]),
            Some(v) => term(prog, &[insn(LDX_MEM_W, 0, 1, off, 0), xor(v as i32)]),
        }
    }
    if !rule.allow && partial {
        // 1 when none of the rule's bits is requested: (bits - 1) >> 63.
        term(
            prog,
            &[
                insn(LDX_MEM_W, 0, 1, ACCESS_OFF, 0),
                insn(ALU64_AND_K, 0, 0, 0, i32::from(rule.access) << 16),
                insn(ALU64_ADD_K, 0, 0, 0, -1),
                insn(ALU64_RSH_K, 0, 0, 0, 63),
            ],
        );
    }
    exits.push((prog.len(), rule.allow));
    if prog.len() == start {
        prog.push(insn(JMP_JA, 0, 0, 0, 0));
    } else {
        prog.push(insn(JMP32_JEQ_K, 2, 0, 0, 0));
    }
}

const fn xor(imm: i32) -> Insn {
    insn(ALU64_XOR_K, 0, 0, 0, imm)
}

fn patch(prog: &mut [Insn], at: usize, to: usize) {
    prog[at].off = (to - at - 1) as i16;
}

/// The instructions for `rules` (in the spec's order).
pub fn build_branchfree(rules: &[DeviceRule]) -> Vec<Insn> {
    let rules = effective(rules);
    let mut prog = Vec::with_capacity(max_len_branchfree(rules.len()));
    let mut exits = Vec::with_capacity(2 * rules.len().min(RULES_PER_EXITS));
    let mut groups = rules.chunks(RULES_PER_EXITS).peekable();
    loop {
        for rule in groups.next().unwrap_or(&[]) {
            emit_rule(&mut prog, &mut exits, rule);
        }
        let more = groups.peek().is_some();
        emit_exits(&mut prog, &mut exits, more);
        if !more {
            return prog;
        }
    }
}

/// The shared exits of a group of rules, each only if something reaches
/// it (the verifier refuses unreachable instructions). A miss of every
/// rule goes on to the next group, or after the last to "deny".
fn emit_exits(prog: &mut Vec<Insn>, exits: &mut Vec<(usize, bool)>, more: bool) {
    let falls_in = prog.last().is_none_or(|i| i.code != JMP_JA);
    let deny = !more && falls_in || exits.iter().any(|&(_, a)| !a);
    let allow = exits.iter().any(|&(_, a)| a);
    if more {
        let skip = 2 * (i16::from(deny) + i16::from(allow));
        prog.push(insn(JMP_JA, 0, 0, skip, 0));
    }
    for (want, on) in [(false, deny), (true, allow)] {
        if !on {
            continue;
        }
        let at = prog.len();
        prog.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(want)));
        prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
        for &(from, _) in exits.iter().filter(|&&(_, a)| a == want) {
            patch(prog, from, at);
        }
    }
    exits.clear();
}

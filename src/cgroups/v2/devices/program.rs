//! Device rules -> a BPF_PROG_TYPE_CGROUP_DEVICE program, assembled here
//! from the kernel's opcodes (the few below are all it takes), so no BPF
//! toolchain or assembler crate is needed: runc's devicefilter (cilium/ebpf's
//! asm) and youki (the rbpf crate) build the same kind of program through
//! an assembler library.
//!
//! The kernel calls the program with `struct bpf_cgroup_dev_ctx { u32
//! access_type; u32 major; u32 minor; }`, where access_type is
//! `(access << 16) | type`; returning 1 allows, 0 refuses with EPERM.
//! Rules are checked last to first and the first match decides, which is
//! the "later rules override earlier ones" meaning of the spec's list.
//!
//! The shape is chosen for the verifier, which walks every path and is
//! nearly the whole cost of loading (bench/README.md, "The device filter's
//! load time"). Each rule computes, without branches, a value that is zero
//! exactly when the access matches it, and makes one jump to a shared
//! allow or deny exit; a miss falls through to the next rule. Every field
//! is loaded from the ctx where it is used, so no register carries what
//! an earlier compare proved: the verifier never finds a later compare
//! decided (which would mark the register precise and keep it from
//! pruning), forks once per rule, and its states at each rule's start
//! are all the same state.

use crate::cgroups::devices::{ACC_ALL, DeviceKind, DeviceRule};

/// `struct bpf_insn`: the register byte holds dst in the low nibble and
/// src in the high one.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes (class | op | source) from linux/bpf.h and bpf_common.h.
pub const LDX_MEM_W: u8 = 0x61;
pub const LDX_MEM_H: u8 = 0x69;
pub const ALU64_AND_K: u8 = 0x57;
pub const ALU64_RSH_K: u8 = 0x77;
pub const ALU64_MOV_K: u8 = 0xb7;
pub const ALU64_XOR_K: u8 = 0xa7;
pub const ALU64_OR_X: u8 = 0x4f;
pub const ALU64_ADD_K: u8 = 0x07;
/// 32-bit compares: major and minor are u32, and a 64-bit compare would
/// sign-extend the immediate.
pub const JMP32_JEQ_K: u8 = 0x16;
pub const JMP_JA: u8 = 0x05;
pub const JMP_EXIT: u8 = 0x95;

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
pub const fn max_len(n: usize) -> usize {
    15 * n + 5 * (n / RULES_PER_EXITS + 1)
}

pub const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
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
pub fn build(rules: &[DeviceRule]) -> Vec<Insn> {
    let rules = effective(rules);
    let mut prog = Vec::with_capacity(max_len(rules.len()));
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

#[cfg(test)]
pub mod tests {
    use super::super::old_program::{ALU64_MOV_X, JMP32_JNE_K};
    use super::*;
    use crate::cgroups::devices::{ACC_MKNOD, ACC_READ, ACC_WRITE, rules};
    use crate::cgroups::test_util::res;

    /// Just enough of an eBPF interpreter to run what `build` emits.
    pub fn run(prog: &[Insn], kind: i32, access: u8, major: u32, minor: u32) -> u64 {
        let ctx = [((access as u32) << 16) | kind as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            let mut next = pc + 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from ctx");
                    r[dst] = u64::from(ctx[(i.off / 4) as usize]);
                }
                LDX_MEM_H => {
                    assert_eq!(src, 1, "loads only from ctx");
                    let bytes = ctx[(i.off / 4) as usize].to_ne_bytes();
                    let o = (i.off % 4) as usize;
                    r[dst] = u64::from(u16::from_ne_bytes([bytes[o], bytes[o + 1]]));
                }
                JMP_JA => next = (pc as i64 + 1 + i64::from(i.off)) as usize,
                ALU64_XOR_K => r[dst] ^= imm,
                ALU64_OR_X => r[dst] |= r[src],
                ALU64_ADD_K => r[dst] = r[dst].wrapping_add(imm),
                ALU64_MOV_X => r[dst] = r[src],
                ALU64_MOV_K => r[dst] = imm,
                ALU64_AND_K => r[dst] &= imm,
                ALU64_RSH_K => r[dst] >>= imm,
                JMP32_JNE_K | JMP32_JEQ_K => {
                    let eq = (r[dst] as u32) == (i.imm as u32);
                    if eq == (i.code == JMP32_JEQ_K) {
                        next = (pc as i64 + 1 + i64::from(i.off)) as usize;
                    }
                }
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
            pc = next;
        }
    }

    const C: i32 = BPF_DEVCG_DEV_CHAR;
    const B: i32 = BPF_DEVCG_DEV_BLOCK;
    const RW: u8 = ACC_READ | ACC_WRITE;

    fn prog(json: &str) -> Vec<Insn> {
        build(&rules(Some(&res(json)), true).unwrap().unwrap())
    }

    #[test]
    fn default_allowlist_only() {
        let p = prog(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#);
        assert_eq!(run(&p, C, RW, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, C, ACC_MKNOD, 1, 3), 1, "mknod /dev/null");
        assert_eq!(run(&p, C, RW, 136, 7), 1, "/dev/pts/7");
        assert_eq!(run(&p, C, RW, 5, 2), 1, "/dev/ptmx");
        assert_eq!(run(&p, C, ACC_READ, 1, 1), 0, "/dev/mem");
        assert_eq!(run(&p, C, RW, 10, 200), 1, "/dev/net/tun");
        assert_eq!(run(&p, C, ACC_MKNOD, 10, 200), 1, "mknod tun");
        // mknod of anything, use of nothing more.
        assert_eq!(run(&p, C, ACC_MKNOD, 1, 1), 1, "mknod /dev/mem");
        assert_eq!(run(&p, B, ACC_MKNOD, 8, 0), 1, "mknod /dev/sda");
        assert_eq!(run(&p, C, ACC_MKNOD | ACC_READ, 1, 1), 0);
        assert_eq!(run(&p, B, ACC_READ, 8, 0), 0, "/dev/sda");
        assert_eq!(run(&p, B, ACC_READ, 1, 3), 0, "block 1:3 is not /dev/null");
        // Same rules without an explicit deny-all: default is still deny.
        assert_eq!(run(&prog("{}"), C, ACC_READ, 1, 1), 0);
    }

    #[test]
    fn partial_access_and_wildcards() {
        let p = prog(
            r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":229,"access":"r"},
            {"allow":true,"type":"b","major":8,"access":"rm"},
            {"allow":false,"type":"b","major":8,"minor":1,"access":"m"}]}"#,
        );
        assert_eq!(run(&p, C, ACC_READ, 10, 229), 1);
        assert_eq!(run(&p, C, RW, 10, 229), 0, "write not granted");
        assert_eq!(run(&p, C, ACC_WRITE, 10, 229), 0, "write not granted");
        assert_eq!(run(&p, B, ACC_READ, 8, 5), 1, "any minor of major 8");
        assert_eq!(run(&p, B, ACC_WRITE, 8, 5), 0);
        // The defaults' `b *:* m` comes after the spec's rules and wins.
        assert_eq!(run(&p, B, ACC_MKNOD, 8, 1), 1, "defaults come last");
        assert_eq!(run(&p, B, ACC_READ, 8, 1), 1, "deny of m leaves r");
    }

    #[test]
    fn allow_all_short_circuits() {
        let p = prog(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#);
        assert_eq!(run(&p, B, RW | ACC_MKNOD, 8, 0), 1);
        assert_eq!(run(&p, C, ACC_READ, 1, 1), 1);
        // Later deny after allow-all still applies.
        let p = prog(
            r#"{"devices":[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":1,"access":"rwm"}]}"#,
        );
        assert_eq!(run(&p, C, ACC_READ, 1, 1), 0);
        assert_eq!(run(&p, C, ACC_READ, 1, 2), 1);
    }

    #[test]
    fn big_device_numbers_compare_as_u32() {
        let p = prog(
            r#"{"devices":[{"allow":true,"type":"c","major":4294967295,"minor":3000000000,"access":"r"}]}"#,
        );
        assert_eq!(run(&p, C, ACC_READ, u32::MAX, 3_000_000_000), 1);
        assert_eq!(run(&p, C, ACC_READ, u32::MAX, 3), 0);
    }
}

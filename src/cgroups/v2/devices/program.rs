//! Device rules -> a BPF_PROG_TYPE_CGROUP_DEVICE program, assembled here
//! from the kernel's opcodes (the eight below are all it takes), so no BPF
//! toolchain or assembler crate is needed: runc's devicefilter (cilium/ebpf's
//! asm) and youki (the rbpf crate) build the same kind of program through
//! an assembler library.
//!
//! The kernel calls the program with `struct bpf_cgroup_dev_ctx { u32
//! access_type; u32 major; u32 minor; }`, where access_type is
//! `(access << 16) | type`; returning 1 allows, 0 refuses with EPERM.
//! Rules are checked last to first and the first match decides, which is
//! the "later rules override earlier ones" meaning of the spec's list.

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
pub const ALU64_AND_K: u8 = 0x57;
pub const ALU64_RSH_K: u8 = 0x77;
pub const ALU64_MOV_K: u8 = 0xb7;
pub const ALU64_MOV_X: u8 = 0xbf;
/// 32-bit compares: major and minor are u32, and a 64-bit compare would
/// sign-extend the immediate.
pub const JMP32_JEQ_K: u8 = 0x16;
pub const JMP32_JNE_K: u8 = 0x56;
pub const JMP_EXIT: u8 = 0x95;

const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// Registers: r1 ctx (then scratch), r2 type, r3 access, r4 major, r5 minor.
const PROLOGUE: [Insn; 6] = [
    insn(LDX_MEM_W, 2, 1, 0, 0),
    insn(ALU64_MOV_X, 3, 2, 0, 0),
    insn(ALU64_AND_K, 2, 0, 0, 0xffff),
    insn(ALU64_RSH_K, 3, 0, 0, 16),
    insn(LDX_MEM_W, 4, 1, 4, 0),
    insn(LDX_MEM_W, 5, 1, 8, 0),
];

/// The instructions for `rules` (in the spec's order).
pub fn build(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut prog = Vec::with_capacity(PROLOGUE.len() + rules.len() * 8 + 2);
    prog.extend_from_slice(&PROLOGUE);
    for rule in rules.iter().rev() {
        let start = prog.len();
        // Jumps to the next rule get their offset once the block's length is known.
        let mut jumps = Vec::with_capacity(4);
        match rule.kind {
            DeviceKind::All => {}
            DeviceKind::Char | DeviceKind::Block => {
                let t = if rule.kind == DeviceKind::Char {
                    BPF_DEVCG_DEV_CHAR
                } else {
                    BPF_DEVCG_DEV_BLOCK
                };
                jumps.push(prog.len());
                prog.push(insn(JMP32_JNE_K, 2, 0, 0, t));
            }
        }
        if rule.access != ACC_ALL {
            prog.push(insn(ALU64_MOV_X, 1, 3, 0, 0));
            jumps.push(prog.len() + 1);
            if rule.allow {
                // Allows only when every requested bit is in the rule.
                prog.push(insn(
                    ALU64_AND_K,
                    1,
                    0,
                    0,
                    i32::from(!rule.access & ACC_ALL),
                ));
                prog.push(insn(JMP32_JNE_K, 1, 0, 0, 0));
            } else {
                // Refuses when any requested bit is in the rule.
                prog.push(insn(ALU64_AND_K, 1, 0, 0, i32::from(rule.access)));
                prog.push(insn(JMP32_JEQ_K, 1, 0, 0, 0));
            }
        }
        if let Some(major) = rule.major {
            jumps.push(prog.len());
            prog.push(insn(JMP32_JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            jumps.push(prog.len());
            prog.push(insn(JMP32_JNE_K, 5, 0, 0, minor as i32));
        }
        prog.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow)));
        prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let end = prog.len();
        for j in jumps {
            prog[j].off = (end - j - 1) as i16;
        }
        if end - start == 2 {
            // An unconditional rule: nothing earlier can ever be reached.
            return prog;
        }
    }
    prog.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
    prog
}

#[cfg(test)]
pub mod tests {
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

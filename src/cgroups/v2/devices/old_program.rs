//! The device program as outlet built it before the verifier-cheap shape
//! (one exit per rule, ctx fields in registers for the whole program):
//! kept only as the reference the new shape is proven equivalent to, and
//! to measure what the new shape saves.

use super::program::{
    ALU64_AND_K, ALU64_MOV_K, ALU64_MOV_X, ALU64_RSH_K, Insn, JMP_EXIT, JMP32_JEQ_K, LDX_MEM_W,
    insn,
};
use crate::cgroups::devices::{ACC_ALL, DeviceKind, DeviceRule};

// The opcode only the old shape uses.
pub const JMP32_JNE_K: u8 = 0x56;

const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;

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
pub fn build_old(rules: &[DeviceRule]) -> Vec<Insn> {
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

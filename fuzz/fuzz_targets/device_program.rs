//! The cgroup v2 device filter: rules in, eBPF program out. Any rule list
//! builds; the program stays within its length bound (`max_len`), every
//! jump lands forward inside it, every path ends in an exit, and for the
//! probed devices it decides what the rule list says
//! (last matching rule wins, default deny), checked by running it.
//!
//! Input: a count byte, then 3 bytes per rule (flags, major, minor), then probes of 4 bytes.
//! The same rules also go through the spec's parser (`devices::rules`, with
//! the default allowlist appended) as `create` builds them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxResourcesBuilder};
use outlet::cgroups::devices::{ACC_ALL, DeviceKind, DeviceRule, decide, rules};
use outlet::cgroups::v2::devices::program::{
    ALU32_XOR_K, ALU64_ADD_K, ALU64_AND_K, ALU64_LSH_K, ALU64_MOV_K, ALU64_MOV_X, ALU64_OR_X,
    ALU64_RSH_K, ALU64_RSH_X, ALU64_XOR_K, ALU64_XOR_X, Insn, JMP_EXIT, JMP_JA, JMP_JEQ_K,
    JMP_JEQ_X, JMP_JNE_K, JMP32_JEQ_K, LD_IMM64, LDX_MEM_H, LDX_MEM_W, build, max_len,
};

const CHAR: u32 = 2;
const BLOCK: u32 = 1;

fn rule_of(b: &[u8]) -> DeviceRule {
    let f = b[0];
    let small = |x: u8| {
        if x == 0xff {
            None
        } else {
            Some(u32::from(x % 16))
        }
    };
    DeviceRule {
        allow: f & 1 != 0,
        kind: match (f >> 1) % 3 {
            0 => DeviceKind::All,
            1 => DeviceKind::Char,
            _ => DeviceKind::Block,
        },
        // Mostly small numbers so that probes hit them; sometimes large.
        major: if f & 0x80 != 0 {
            Some(u32::from_le_bytes([b[1], b[2], b[1], b[2]]))
        } else {
            small(b[1])
        },
        minor: small(b[2]),
        access: match (f >> 3) & 7 {
            0 => ACC_ALL,
            a => a,
        },
    }
}

/// Every jump forward and in bounds (never into the second slot of a
/// 64-bit load), the last instruction an exit, and only the opcodes the
/// builder is meant to emit.
fn check_shape(prog: &[Insn]) {
    assert_eq!(prog.last().map(|i| i.code), Some(JMP_EXIT), "ends in exit");
    // The second slots of LD_IMM64: not instructions, no jump may land there.
    let mut second = vec![false; prog.len()];
    let mut pc = 0;
    while pc < prog.len() {
        if prog[pc].code == LD_IMM64 {
            assert!(pc + 1 < prog.len(), "LD_IMM64 at {pc} without its second slot");
            assert_eq!(prog[pc + 1].code, 0, "LD_IMM64's second slot at {}", pc + 1);
            second[pc + 1] = true;
            pc += 2;
        } else {
            pc += 1;
        }
    }
    for (pc, i) in prog.iter().enumerate() {
        if second[pc] {
            continue;
        }
        match i.code {
            JMP32_JEQ_K | JMP_JEQ_K | JMP_JNE_K | JMP_JEQ_X | JMP_JA => {
                assert!(i.off >= 0, "backward jump at {pc}");
                let to = pc + 1 + i.off as usize;
                assert!(to < prog.len(), "jump at {pc} out of the program");
                assert!(!second[to], "jump at {pc} into a 64-bit load's second slot");
            }
            LDX_MEM_W | LDX_MEM_H | LD_IMM64 | ALU64_AND_K | ALU64_RSH_K | ALU64_LSH_K
            | ALU64_RSH_X | ALU64_MOV_K | ALU64_MOV_X | ALU64_XOR_K | ALU64_XOR_X
            | ALU32_XOR_K | ALU64_OR_X | ALU64_ADD_K | JMP_EXIT => {}
            c => panic!("opcode {c:#x} at {pc}"),
        }
    }
}

/// Runs the program on one device access (the kernel's ctx layout).
fn run(prog: &[Insn], kind: u32, access: u8, major: u32, minor: u32) -> u64 {
    let ctx = [(u32::from(access) << 16) | kind, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..=prog.len() {
        let i = prog[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let imm = i.imm as i64 as u64;
        let jump = |pc: usize| pc + 1 + i.off as usize;
        let mut next = pc + 1;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(src, 1, "loads only from the ctx");
                r[dst] = u64::from(ctx[(i.off / 4) as usize]);
            }
            LDX_MEM_H => {
                assert_eq!(src, 1, "loads only from the ctx");
                let b = ctx[(i.off / 4) as usize].to_ne_bytes();
                let o = (i.off % 4) as usize;
                r[dst] = u64::from(u16::from_ne_bytes([b[o], b[o + 1]]));
            }
            LD_IMM64 => {
                r[dst] = u64::from(i.imm as u32) | (u64::from(prog[pc + 1].imm as u32) << 32);
                next = pc + 2;
            }
            ALU64_MOV_K => r[dst] = imm,
            ALU64_MOV_X => r[dst] = r[src],
            ALU64_AND_K => r[dst] &= imm,
            ALU64_RSH_K => r[dst] >>= imm,
            ALU64_LSH_K => r[dst] <<= imm,
            ALU64_RSH_X => r[dst] >>= r[src] & 63,
            ALU64_XOR_K => r[dst] ^= imm,
            ALU64_XOR_X => r[dst] ^= r[src],
            ALU32_XOR_K => r[dst] = u64::from(r[dst] as u32 ^ i.imm as u32),
            ALU64_OR_X => r[dst] |= r[src],
            ALU64_ADD_K => r[dst] = r[dst].wrapping_add(imm),
            JMP_JA => next = jump(pc),
            JMP32_JEQ_K => {
                if r[dst] as u32 == i.imm as u32 {
                    next = jump(pc);
                }
            }
            JMP_JEQ_K | JMP_JNE_K | JMP_JEQ_X => {
                let v = if i.code == JMP_JEQ_X { r[src] } else { imm };
                if (r[dst] == v) == (i.code != JMP_JNE_K) {
                    next = jump(pc);
                }
            }
            JMP_EXIT => return r[0],
            c => panic!("opcode {c:#x}"),
        }
        pc = next;
    }
    panic!("no exit within the program's length: a loop");
}

fn check(rules: &[DeviceRule], probes: &[u8]) {
    let prog = build(rules);
    assert!(
        prog.len() <= max_len(rules.len()),
        "{} instructions for {} rules",
        prog.len(),
        rules.len()
    );
    check_shape(&prog);
    // Probe each rule's own device and the fuzzer's chosen ones.
    let mut devs: Vec<(u32, u32)> = rules
        .iter()
        .map(|r| (r.major.unwrap_or(7), r.minor.unwrap_or(9)))
        .collect();
    devs.extend(probes.chunks_exact(4).map(|p| {
        let big = |x: u8, y: u8| {
            if x & 0x80 != 0 {
                u32::from_le_bytes([x, y, x, y])
            } else {
                u32::from(x % 16)
            }
        };
        (big(p[0], p[1]), big(p[2], p[3]))
    }));
    for (major, minor) in devs {
        for kind in [CHAR, BLOCK] {
            for access in 1..=ACC_ALL {
                let want = decide(rules, kind == BLOCK, access, major, minor);
                let got = run(&prog, kind, access, major, minor);
                assert_eq!(
                    got,
                    u64::from(want),
                    "type {kind} access {access} {major}:{minor} with {rules:?}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let n = usize::from(data.first().copied().unwrap_or(0) % 64);
    let body = data.get(1..).unwrap_or(&[]);
    let n = n.min(body.len() / 3);
    let (rule_bytes, probes) = body.split_at(n * 3);
    let direct: Vec<DeviceRule> = rule_bytes.chunks_exact(3).map(rule_of).collect();
    check(&direct, probes);

    // The same rules as a spec's linux.resources.devices, parsed as create does.
    let spec: Vec<_> = direct
        .iter()
        .map(|r| {
            let mut b = LinuxDeviceCgroupBuilder::default()
                .allow(r.allow)
                .typ(match r.kind {
                    DeviceKind::All => LinuxDeviceType::A,
                    DeviceKind::Char => LinuxDeviceType::C,
                    DeviceKind::Block => LinuxDeviceType::B,
                })
                .access(outlet::cgroups::devices::access_string(r.access));
            if let Some(m) = r.major {
                b = b.major(i64::from(m));
            }
            if let Some(m) = r.minor {
                b = b.minor(i64::from(m));
            }
            b.build().expect("device rule")
        })
        .collect();
    let res = LinuxResourcesBuilder::default()
        .devices(spec)
        .build()
        .expect("resources");
    let parsed = rules(Some(&res), true)
        .expect("rules the spec can express parse")
        .expect("with defaults, always a list");
    assert_eq!(
        &parsed[..direct.len()],
        &direct[..],
        "spec rules parse to themselves"
    );
    check(&parsed, probes);
});

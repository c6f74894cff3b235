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
//! load time"), and whose cost grows with the instructions it walks. The
//! program branches on the device type once, at its start, into a section
//! per type that holds only the rules that can match that type (an 'a'
//! rule is in each), so no rule tests the type again. Each rule is then
//! one jump to a shared allow or deny exit: on one register when it has
//! one condition (a rule naming major and minor compares a 64-bit
//! `major << 32 | minor` key with one 64-bit constant), else on a value
//! computed without branches that is zero exactly when every condition
//! holds. A miss falls through to the next rule. No compare is ever on a
//! value an earlier compare decided, so the verifier forks once per rule,
//! never finds a compare decided (which would mark registers precise and
//! keep states from being pruned) and walks each section once.

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
/// Two instruction slots, the second holding the upper 32 bits.
pub const LD_IMM64: u8 = 0x18;
pub const ALU64_AND_K: u8 = 0x57;
pub const ALU64_RSH_K: u8 = 0x77;
pub const ALU64_LSH_K: u8 = 0x67;
pub const ALU64_RSH_X: u8 = 0x7f;
pub const ALU64_MOV_K: u8 = 0xb7;
pub const ALU64_MOV_X: u8 = 0xbf;
pub const ALU64_XOR_K: u8 = 0xa7;
pub const ALU64_XOR_X: u8 = 0xaf;
/// 32-bit xor: clears the upper half, where a 64-bit xor would put the
/// sign extension of an immediate of 2^31 or more.
pub const ALU32_XOR_K: u8 = 0xa4;
pub const ALU64_OR_X: u8 = 0x4f;
pub const ALU64_ADD_K: u8 = 0x07;
pub const JMP_JEQ_K: u8 = 0x15;
pub const JMP_JNE_K: u8 = 0x55;
pub const JMP_JEQ_X: u8 = 0x1d;
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

// The ctx's fields, loaded once: r1 is the ctx, r2 and r3 are scratch.
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;
const R_KEY: u8 = 6;
const R_ACCESS: u8 = 7;
const R_TYPE: u8 = 8;

/// Rules per group of shared exits: keeps every jump to an exit within
/// the i16 offset (at most 13 instructions per rule). A program with more
/// rules than this in all its sections together does not split by type,
/// so that the jumps to the sections stay in range too.
const RULES_PER_EXITS: usize = 2000;

/// The most instructions `build` emits for `n` rules.
pub const fn max_len(n: usize) -> usize {
    13 * 3 * n + 16 + 5 * 3 * (n / RULES_PER_EXITS + 1)
}

pub const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// Which rules a section of the program checks: those of one device type
/// (after the type dispatch; `Other` is a type the kernel never passes,
/// kept so the program means exactly what the list means), or all, each
/// with its own type test.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Other,
    Char,
    Block,
    Any,
}

/// A rule as its section checks it: `kind` only in the `Any` section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Check {
    allow: bool,
    kind: Option<i32>,
    major: Option<u32>,
    minor: Option<u32>,
    /// A bitmap of minors under 64 (`minor` is then None): one check for
    /// several named devices of one major.
    minors: u64,
    access: u8,
}

impl Check {
    fn partial(&self) -> bool {
        self.access != ACC_ALL
    }

    /// How many conditions the rule has (the key counts as one).
    fn terms(&self) -> usize {
        let numbers = usize::from(self.major.is_some() || self.minor.is_some());
        usize::from(self.kind.is_some()) + numbers + usize::from(self.partial())
    }

    /// The instructions `emit_check` emits for it.
    fn len(&self) -> usize {
        let key = self.major.is_some() && self.minor.is_some();
        let n = self.terms();
        if self.minors != 0 {
            let kind = 2 * usize::from(self.kind.is_some());
            return kind + 12 + self.access_len() + n;
        }
        if n <= 1 {
            return if n == 1 && (key || self.partial()) {
                3
            } else {
                1
            };
        }
        let kind = 2 * usize::from(self.kind.is_some());
        let numbers = match (key, self.major.or(self.minor)) {
            (true, _) => 3,
            (false, Some(_)) => 2,
            (false, None) => 0,
        };
        kind + numbers + self.access_len() + n
    }

    fn access_len(&self) -> usize {
        match (self.partial(), self.allow) {
            (false, _) => 0,
            (true, true) => 2,
            (true, false) => 4,
        }
    }

    /// Requested bits the rule does not allow; the bits a deny refuses.
    fn access_mask(&self) -> i32 {
        let bits = if self.allow {
            !self.access & ACC_ALL
        } else {
            self.access
        };
        i32::from(bits) << 16
    }
}

/// What one section of the program checks, and what a miss of every
/// check means.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    checks: Vec<Check>,
    fallback: bool,
}

/// The rules (in the spec's order) that can decide anything in `section`,
/// in the order the program checks them (last to first). Dropped: rules
/// of another type, everything before an unconditional rule (which
/// becomes the fallback: without one a miss is denied), a rule repeated
/// later in the list (the later copy always decides first), and the rules
/// checked last that decide as the fallback does (a privileged container's
/// defaults before its "allow all"). Repeats are looked for only in lists
/// of a sane length, to keep the search from going quadratic.
fn plan(rules: &[DeviceRule], section: Section) -> Plan {
    let mut checks: Vec<Check> = Vec::with_capacity(rules.len());
    let dedup = rules.len() <= 256;
    let mut fallback = false;
    for rule in rules.iter().rev() {
        let kind = match (section, rule.kind) {
            (_, DeviceKind::All) => None,
            (Section::Any, DeviceKind::Char) => Some(BPF_DEVCG_DEV_CHAR),
            (Section::Any, DeviceKind::Block) => Some(BPF_DEVCG_DEV_BLOCK),
            (Section::Char, DeviceKind::Char) | (Section::Block, DeviceKind::Block) => None,
            _ => continue,
        };
        let check = Check {
            allow: rule.allow,
            kind,
            major: rule.major,
            minor: rule.minor,
            minors: 0,
            access: rule.access,
        };
        if check.terms() == 0 {
            fallback = check.allow;
            break;
        }
        if dedup && checks.contains(&check) {
            continue;
        }
        checks.push(check);
    }
    while checks.last().is_some_and(|c| c.allow == fallback) {
        checks.pop();
    }
    if dedup {
        checks = group_minors(&checks);
    }
    Plan { checks, fallback }
}

/// A named device (every access) whose minor fits a bitmap.
fn bit_of(c: &Check) -> Option<u32> {
    c.minor
        .filter(|&m| m < 64 && c.access == ACC_ALL && c.major.is_some())
}

/// In a run of checks of one verdict (where their order does not matter),
/// three or more named devices of one major become one check of a bitmap
/// of their minors: one fork of the verifier instead of one per device
/// (outlet's defaults: 1:3,5,7,8,9 and 5:0,1,2).
fn group_minors(checks: &[Check]) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::with_capacity(checks.len());
    for run in checks.chunk_by(|a, b| a.allow == b.allow) {
        let start = out.len();
        for c in run {
            let peers = |o: &&Check| o.kind == c.kind && o.major == c.major && bit_of(o).is_some();
            let Some(bit) = bit_of(c).filter(|_| run.iter().filter(peers).count() >= 3) else {
                out.push(*c);
                continue;
            };
            let group = out[start..]
                .iter_mut()
                .find(|g| g.minors != 0 && g.kind == c.kind && g.major == c.major);
            match group {
                Some(g) => g.minors |= 1 << bit,
                None => out.push(Check {
                    minor: None,
                    minors: 1 << bit,
                    ..*c
                }),
            }
        }
    }
    out
}

/// Instructions with jumps to labels, resolved at the end.
struct Asm {
    prog: Vec<Insn>,
    /// Where each label is bound, and whether anything jumps to it.
    labels: Vec<(usize, bool)>,
    jumps: Vec<(usize, usize)>,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push((usize::MAX, false));
        self.labels.len() - 1
    }

    fn push(&mut self, i: Insn) {
        self.prog.push(i);
    }

    fn jump(&mut self, code: u8, dst: u8, src: u8, imm: i32, to: usize) {
        self.jumps.push((self.prog.len(), to));
        self.labels[to].1 = true;
        self.push(insn(code, dst, src, 0, imm));
    }

    fn bind(&mut self, l: usize) {
        self.labels[l].0 = self.prog.len();
    }

    /// Whether the last instruction can go on to the next one.
    fn falls_through(&self) -> bool {
        self.prog
            .last()
            .is_none_or(|i| i.code != JMP_JA && i.code != JMP_EXIT)
    }

    /// `return value` at label `l`, if anything reaches it (the verifier
    /// refuses unreachable instructions).
    fn exit(&mut self, l: usize, value: bool, falls_in: bool) {
        if falls_in || self.labels[l].1 {
            self.bind(l);
            self.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(value)));
            self.push(insn(JMP_EXIT, 0, 0, 0, 0));
        }
    }

    fn finish(mut self) -> Vec<Insn> {
        for &(at, to) in &self.jumps {
            let off = self.labels[to].0 as isize - at as isize - 1;
            self.prog[at].off = i16::try_from(off).expect("jumps stay within i16");
        }
        self.prog
    }
}

const fn xor32(dst: u8, imm: i32) -> Insn {
    insn(ALU32_XOR_K, dst, 0, 0, imm)
}

fn ld_imm64(a: &mut Asm, dst: u8, v: u64) {
    a.push(insn(LD_IMM64, dst, 0, 0, v as u32 as i32));
    a.push(insn(0, 0, 0, 0, (v >> 32) as u32 as i32));
}

/// The or of terms each zero exactly when its condition holds, into r2:
/// the first term is computed in r2, later ones in r3 and or-ed in.
struct Terms {
    first: bool,
}

impl Terms {
    fn add(&mut self, a: &mut Asm, f: impl FnOnce(&mut Asm, u8)) {
        let dst = if self.first { 2 } else { 3 };
        f(a, dst);
        if !self.first {
            a.push(insn(ALU64_OR_X, 2, 3, 0, 0));
        }
        self.first = false;
    }
}

/// One rule: a jump to its exit when the access matches it, a fall
/// through to the next rule when not.
fn emit_check(a: &mut Asm, c: &Check, allow: usize, deny: usize) {
    let start = a.prog.len();
    let to = if c.allow { allow } else { deny };
    let key = c
        .major
        .zip(c.minor)
        .map(|(ma, mi)| (u64::from(ma) << 32) | u64::from(mi));
    match (c.terms(), key) {
        _ if c.minors != 0 => emit_terms(a, c, key, to),
        (0, _) => a.jump(JMP_JA, 0, 0, 0, to),
        (1, Some(k)) => {
            ld_imm64(a, 2, k);
            a.jump(JMP_JEQ_X, R_KEY, 2, 0, to);
        }
        (1, None) if c.partial() => {
            a.push(insn(ALU64_MOV_X, 2, R_ACCESS, 0, 0));
            a.push(insn(ALU64_AND_K, 2, 0, 0, c.access_mask()));
            a.jump(if c.allow { JMP_JEQ_K } else { JMP_JNE_K }, 2, 0, 0, to);
        }
        (1, None) => {
            let (reg, v) = match (c.kind, c.major, c.minor) {
                (Some(t), _, _) => (R_TYPE, t),
                (None, Some(m), _) => (R_MAJOR, m as i32),
                (None, None, m) => (R_MINOR, m.unwrap_or(0) as i32),
            };
            a.jump(JMP32_JEQ_K, reg, 0, v, to);
        }
        _ => emit_terms(a, c, key, to),
    }
    debug_assert_eq!(a.prog.len() - start, c.len(), "{c:?}");
}

/// A rule of several conditions, computed without branches.
fn emit_terms(a: &mut Asm, c: &Check, key: Option<u64>, to: usize) {
    let mut terms = Terms { first: true };
    let copy_xor = |a: &mut Asm, dst: u8, reg: u8, v: i32| {
        a.push(insn(ALU64_MOV_X, dst, reg, 0, 0));
        a.push(xor32(dst, v));
    };
    if let Some(t) = c.kind {
        terms.add(a, |a, d| copy_xor(a, d, R_TYPE, t));
    }
    match (key, c.major, c.minor) {
        (None, Some(m), None) if c.minors != 0 => {
            terms.add(a, |a, d| emit_bitmap(a, d, m, c.minors));
        }
        (Some(k), _, _) => terms.add(a, |a, d| {
            ld_imm64(a, d, k);
            a.push(insn(ALU64_XOR_X, d, R_KEY, 0, 0));
        }),
        (None, Some(m), _) => terms.add(a, |a, d| copy_xor(a, d, R_MAJOR, m as i32)),
        (None, None, Some(m)) => terms.add(a, |a, d| copy_xor(a, d, R_MINOR, m as i32)),
        (None, None, None) => {}
    }
    if c.partial() {
        terms.add(a, |a, d| {
            a.push(insn(ALU64_MOV_X, d, R_ACCESS, 0, 0));
            a.push(insn(ALU64_AND_K, d, 0, 0, c.access_mask()));
            if !c.allow {
                // 0 when some refused bit is requested: (bits - 1) >> 63.
                a.push(insn(ALU64_ADD_K, d, 0, 0, -1));
                a.push(insn(ALU64_RSH_K, d, 0, 0, 63));
            }
        });
    }
    a.jump(JMP_JEQ_K, 2, 0, 0, to);
}

/// Into `dst`: zero exactly when major is `major` and minor is a bit of
/// `minors` (r0 and r9 are scratch): `(major ^ M) | (minor >> 6) |
/// ((!minors >> (minor & 63)) & 1)`.
fn emit_bitmap(a: &mut Asm, dst: u8, major: u32, minors: u64) {
    a.push(insn(ALU64_MOV_X, dst, R_MAJOR, 0, 0));
    a.push(xor32(dst, major as i32));
    a.push(insn(ALU64_MOV_X, 9, R_MINOR, 0, 0));
    a.push(insn(ALU64_RSH_K, 9, 0, 0, 6));
    a.push(insn(ALU64_OR_X, dst, 9, 0, 0));
    ld_imm64(a, 0, !minors);
    a.push(insn(ALU64_MOV_X, 9, R_MINOR, 0, 0));
    a.push(insn(ALU64_AND_K, 9, 0, 0, 63));
    a.push(insn(ALU64_RSH_X, 0, 9, 0, 0));
    a.push(insn(ALU64_AND_K, 0, 0, 0, 1));
    a.push(insn(ALU64_OR_X, dst, 0, 0, 0));
}

/// Load the ctx fields the checks use into their registers, once.
fn emit_prologue(a: &mut Asm, sections: &[&Plan], dispatch: bool) {
    let all = || sections.iter().flat_map(|s| s.checks.iter());
    if dispatch || all().any(|c| c.kind.is_some()) {
        a.push(insn(LDX_MEM_H, R_TYPE, 1, TYPE_OFF, 0));
    }
    if all().any(Check::partial) {
        a.push(insn(LDX_MEM_W, R_ACCESS, 1, ACCESS_OFF, 0));
    }
    let key = all().any(|c| c.major.is_some() && c.minor.is_some());
    if key || all().any(|c| c.major.is_some()) {
        a.push(insn(LDX_MEM_W, R_MAJOR, 1, MAJOR_OFF, 0));
    }
    if key || all().any(|c| c.minor.is_some() || c.minors != 0) {
        a.push(insn(LDX_MEM_W, R_MINOR, 1, MINOR_OFF, 0));
    }
    if key {
        a.push(insn(ALU64_MOV_X, R_KEY, R_MAJOR, 0, 0));
        a.push(insn(ALU64_LSH_K, R_KEY, 0, 0, 32));
        a.push(insn(ALU64_OR_X, R_KEY, R_MINOR, 0, 0));
    }
}

/// The checks, and after them their exits; every RULES_PER_EXITS rules
/// a group of exits of its own, jumped over, so every jump stays short.
fn emit_section(a: &mut Asm, plan: &Plan) {
    let mut chunks = plan.checks.chunks(RULES_PER_EXITS).peekable();
    loop {
        let start = a.prog.len();
        let (allow, deny, next) = (a.label(), a.label(), a.label());
        for c in chunks.next().unwrap_or(&[]) {
            emit_check(a, c, allow, deny);
        }
        let more = chunks.peek().is_some();
        if more {
            a.jump(JMP_JA, 0, 0, 0, next);
        }
        // A miss of every check falls into the fallback's exit, so that
        // one comes first.
        let falls = !more && (a.prog.len() == start || a.falls_through());
        let mut exits = [(deny, false), (allow, true)];
        if plan.fallback {
            exits.reverse();
        }
        for (l, value) in exits {
            a.exit(l, value, falls && value == plan.fallback);
        }
        if !more {
            return;
        }
        a.bind(next);
    }
}

/// One jump on the type per section that differs from the one for a type
/// the kernel never passes (`Other`, emitted first, where a miss of both
/// jumps lands); a section equal to an earlier one is shared.
fn emit_split(a: &mut Asm, split: &[Plan; 3]) {
    let labels = [a.label(), a.label(), a.label()];
    let first = |i: usize| (0..=i).find(|&j| split[j] == split[i]).unwrap_or(i);
    for (i, t) in [(1, BPF_DEVCG_DEV_CHAR), (2, BPF_DEVCG_DEV_BLOCK)] {
        if first(i) != 0 {
            a.jump(JMP32_JEQ_K, R_TYPE, 0, t, labels[first(i)]);
        }
    }
    for i in 0..3 {
        if first(i) == i {
            a.bind(labels[i]);
            emit_section(a, &split[i]);
        }
    }
}

fn cost(plan: &Plan) -> usize {
    plan.checks.iter().map(Check::len).sum()
}

/// How the program is laid out.
#[derive(Debug, PartialEq, Eq)]
enum Layout {
    /// No rule of one type decides anything: one section, no type test.
    Untyped(Plan),
    /// A section per type (Other, Char, Block) after one dispatch.
    Split([Plan; 3]),
    /// One section, each typed rule with its type test: where splitting
    /// makes the program longer (a list of mostly 'a' rules, which are in
    /// every section) or its jumps too long.
    Typed(Plan),
}

fn layout(rules: &[DeviceRule]) -> Layout {
    let split = [Section::Other, Section::Char, Section::Block].map(|s| plan(rules, s));
    if split[0] == split[1] && split[1] == split[2] {
        let [untyped, _, _] = split;
        return Layout::Untyped(untyped);
    }
    let any = plan(rules, Section::Any);
    let distinct = (0..3).filter(|&i| !split[..i].contains(&split[i]));
    let split_cost: usize = distinct.map(|i| cost(&split[i]) + 2).sum();
    let count: usize = split.iter().map(|p| p.checks.len()).sum();
    if count <= RULES_PER_EXITS && split_cost < cost(&any) {
        Layout::Split(split)
    } else {
        Layout::Typed(any)
    }
}

/// The instructions for `rules` (in the spec's order).
pub fn build(rules: &[DeviceRule]) -> Vec<Insn> {
    let layout = layout(rules);
    let len = match &layout {
        Layout::Untyped(p) | Layout::Typed(p) => cost(p),
        Layout::Split(s) => s.iter().map(cost).sum(),
    };
    let mut a = Asm {
        prog: Vec::with_capacity(len + 16),
        labels: Vec::new(),
        jumps: Vec::new(),
    };
    match &layout {
        Layout::Untyped(p) | Layout::Typed(p) => {
            emit_prologue(&mut a, &[p], false);
            emit_section(&mut a, p);
        }
        Layout::Split(s) => {
            emit_prologue(&mut a, &[&s[0], &s[1], &s[2]], true);
            emit_split(&mut a, s);
        }
    }
    a.finish()
}

#[cfg(test)]
pub mod tests {
    use super::super::old_program::JMP32_JNE_K;
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
                LD_IMM64 => {
                    r[dst] = u64::from(i.imm as u32) | (u64::from(prog[pc + 1].imm as u32) << 32);
                    next = pc + 2;
                }
                JMP_JA => next = (pc as i64 + 1 + i64::from(i.off)) as usize,
                ALU64_XOR_K => r[dst] ^= imm,
                ALU64_XOR_X => r[dst] ^= r[src],
                ALU32_XOR_K => r[dst] = u64::from(r[dst] as u32 ^ i.imm as u32),
                ALU64_LSH_K => r[dst] <<= imm,
                ALU64_RSH_X => r[dst] >>= r[src] & 63,
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
                JMP_JEQ_K | JMP_JNE_K | JMP_JEQ_X => {
                    let v = if i.code == JMP_JEQ_X { r[src] } else { imm };
                    if (r[dst] == v) == (i.code != JMP_JNE_K) {
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

    /// Which layout `build` picks for the lists it gets: the default lists
    /// split by type, a privileged container's is one exit, a list of 'a'
    /// rules needs no type test; and the equivalence tests' random lists
    /// reach all three layouts (so all three are proven to decide right).
    #[test]
    fn layouts_for_the_lists_outlet_gets() {
        let rules = |json: &str| rules(Some(&res(json)), true).unwrap().unwrap();
        let runc = rules(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#);
        assert!(matches!(layout(&runc), Layout::Split(_)));
        let all = rules(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#);
        assert_eq!(
            build(&all),
            [insn(ALU64_MOV_K, 0, 0, 0, 1), insn(JMP_EXIT, 0, 0, 0, 0)]
        );
        let a_only: Vec<DeviceRule> = [(true, 5, ACC_READ), (false, 6, ACC_ALL)]
            .map(|(allow, major, access)| DeviceRule {
                allow,
                kind: DeviceKind::All,
                major: Some(major),
                minor: None,
                access,
            })
            .into();
        assert!(matches!(layout(&a_only), Layout::Untyped(_)));
        let mut seen = [0; 3];
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for n in 0..2000 {
            let list = super::super::equivalence_tests::random_rules(&mut seed, n % 13);
            seen[match layout(&list) {
                Layout::Untyped(_) => 0,
                Layout::Split(_) => 1,
                Layout::Typed(_) => 2,
            }] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }

    /// Whether some section of the program for `rules` checks a bitmap.
    pub fn has_bitmap(rules: &[DeviceRule]) -> bool {
        let plans = match layout(rules) {
            Layout::Untyped(p) | Layout::Typed(p) => vec![p],
            Layout::Split(s) => s.into(),
        };
        plans.iter().flat_map(|p| &p.checks).any(|c| c.minors != 0)
    }

    #[test]
    fn the_defaults_group_their_minors() {
        let runc = rules(
            Some(&res(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#)),
            true,
        )
        .unwrap()
        .unwrap();
        let Layout::Split([_, char, _]) = layout(&runc) else {
            panic!("not split")
        };
        let maps: Vec<_> = char
            .checks
            .iter()
            .filter(|c| c.minors != 0)
            .map(|c| (c.major, c.minors))
            .collect();
        let bits = |m: &[u32]| m.iter().map(|b| 1u64 << b).sum::<u64>();
        // Major 5 has only tty and ptmx since the console left the
        // defaults: two plain checks, no bitmap.
        assert_eq!(maps, [(Some(1), bits(&[3, 5, 7, 8, 9]))]);
    }
}

//! The verifier-cheap program decides exactly what the ones before it
//! (the old shape, and the branch-free one of session 5) decided, and
//! what the rule list says: both run (in the test
//! interpreter of the instructions `build` emits) on every (type, access,
//! major, minor) probe that can tell rules apart, for hand-picked lists
//! and for a few thousand random ones. kernel_tests.rs runs a subset in
//! the kernel.

use super::bench_tests::bench_lists;
use super::branchfree_program::build_branchfree;
use super::old_program::build_old;
use super::program::tests::run;
use super::program::{build, max_len};
use crate::cgroups::devices::{self, ACC_ALL, DeviceKind, DeviceRule, rules};
use crate::cgroups::test_util::res;

pub const CHAR: i32 = 2;
pub const BLOCK: i32 = 1;

/// Hand-picked lists (a spec's `linux.resources.devices`; outlet's
/// defaults are appended as create does).
pub const LISTS: &[&str] = &[
    r#"[{"allow":true,"access":"rwm"}]"#,
    r#"[{"allow":false,"access":"rwm"}]"#,
    r#"[]"#,
    r#"[{"allow":true,"type":"c","major":240,"access":"rw"},
        {"allow":true,"type":"b","minor":5,"access":"r"},
        {"allow":true,"type":"a","major":241,"minor":1,"access":"m"}]"#,
    r#"[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":240,"minor":1,"access":"r"},
        {"allow":true,"type":"c","major":240,"minor":2,"access":"w"},
        {"allow":true,"type":"c","major":240,"minor":3,"access":"m"},
        {"allow":true,"type":"b","major":240,"minor":1,"access":"rw"},
        {"allow":true,"type":"a","major":241,"minor":2,"access":"rwm"},
        {"allow":true,"type":"c","major":240,"minor":4,"access":"rm"},
        {"allow":true,"type":"b","major":241,"access":"wm"}]"#,
    r#"[{"allow":true,"type":"c","major":240,"access":"rwm"},
        {"allow":false,"type":"c","major":240,"minor":1,"access":"w"},
        {"allow":false,"type":"a","access":"m"}]"#,
    r#"[{"allow":false,"type":"c","major":240,"access":"rw"},
        {"allow":true,"type":"c","major":240,"minor":1,"access":"r"},
        {"allow":false,"type":"b","access":"rwm"},
        {"allow":true,"type":"b","major":240,"access":"r"}]"#,
    r#"[{"allow":true,"access":"rwm"},
        {"allow":false,"type":"c","major":1,"minor":3,"access":"r"},
        {"allow":false,"type":"b","major":240,"access":"wm"},
        {"allow":false,"type":"c","major":242,"access":"rwm"}]"#,
    r#"[{"allow":true,"type":"c","major":240,"minor":1,"access":"rw"},
        {"allow":true,"type":"c","major":240,"minor":1,"access":"rw"},
        {"allow":false,"type":"c","major":240,"minor":1,"access":"r"},
        {"allow":true,"type":"c","major":0,"minor":0,"access":"r"},
        {"allow":true,"type":"c","major":4294967295,"minor":4294967295,"access":"w"}]"#,
    // Named devices of one major, three or more in a run of one verdict:
    // one bitmap check each (a deny in between splits the run; minor 300
    // does not fit a bitmap).
    r#"[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":240,"minor":1,"access":"rwm"},
        {"allow":true,"type":"c","major":240,"minor":4,"access":"rwm"},
        {"allow":false,"type":"c","major":240,"minor":2,"access":"rwm"},
        {"allow":true,"type":"c","major":240,"minor":2,"access":"rwm"},
        {"allow":true,"type":"c","major":240,"minor":9,"access":"rwm"},
        {"allow":true,"type":"c","major":240,"minor":63,"access":"rwm"},
        {"allow":true,"type":"a","major":241,"minor":1,"access":"rwm"},
        {"allow":true,"type":"a","major":241,"minor":2,"access":"rwm"},
        {"allow":true,"type":"a","major":241,"minor":5,"access":"rwm"},
        {"allow":true,"type":"b","major":240,"minor":300,"access":"rwm"},
        {"allow":true,"type":"b","major":240,"minor":3,"access":"rwm"},
        {"allow":true,"type":"b","major":240,"minor":4,"access":"rwm"},
        {"allow":true,"type":"b","major":240,"minor":1,"access":"rwm"},
        {"allow":false,"type":"b","major":240,"minor":1,"access":"w"}]"#,
];

/// The rule list's meaning (`devices::decide`) for a probe of the
/// programs' device type (CHAR or BLOCK).
pub fn decide(rules: &[DeviceRule], kind: i32, access: u8, major: u32, minor: u32) -> bool {
    devices::decide(rules, kind == BLOCK, access, major, minor)
}

pub fn spec_rules(list: &str) -> Vec<DeviceRule> {
    let json = format!(r#"{{"devices":{list}}}"#);
    rules(Some(&res(&json)), true).unwrap().unwrap()
}

/// Every number a rule names, its neighbours, and numbers no rule names.
fn numbers(rules: &[DeviceRule], pick: fn(&DeviceRule) -> Option<u32>) -> Vec<u32> {
    let mut n = vec![0, 1, 9, 4_000_000_000, u32::MAX];
    for v in rules.iter().filter_map(pick) {
        // v + 64 has the same bit in a bitmap of minors: only the range
        // test tells it apart.
        n.extend([v, v.wrapping_add(1), v.wrapping_sub(1), v.wrapping_add(64)]);
    }
    n.sort_unstable();
    n.dedup();
    n
}

/// The probes on which old and new programs disagree, or new and the
/// rules: (type, access, major, minor, old, new, rules).
pub fn disagreements(rules: &[DeviceRule], new: &[DeviceRule]) -> Vec<(i32, u8, u32, u32)> {
    let (old_p, new_p) = (build_old(rules), build(new));
    let free_p = build_branchfree(rules);
    assert!(new_p.len() <= max_len(new.len()), "{} insns", new_p.len());
    let mut out = Vec::new();
    for major in numbers(rules, |r| r.major) {
        for minor in numbers(rules, |r| r.minor) {
            for kind in [CHAR, BLOCK] {
                for access in 1..=ACC_ALL {
                    let old = run(&old_p, kind, access, major, minor);
                    assert_eq!(old, run(&free_p, kind, access, major, minor));
                    let got = run(&new_p, kind, access, major, minor);
                    let want = decide(rules, kind, access, major, minor);
                    if old != got || got != u64::from(want) {
                        out.push((kind, access, major, minor));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn new_program_decides_as_the_old_on_every_probe() {
    for list in LISTS {
        let rules = spec_rules(list);
        assert_eq!(disagreements(&rules, &rules), [], "{list}");
        // Without the defaults, as `update` builds it.
        let defaults = crate::cgroups::default_allowed_devices().len();
        let spec_only = &rules[..rules.len() - defaults];
        assert_eq!(disagreements(spec_only, spec_only), [], "{list}");
    }
}

/// The lists the bench measures (docker's, podman's, CRI's, many rules,
/// ...) decide as the old program and as the rules.
#[test]
fn bench_lists_decide_as_the_old() {
    for (name, json) in bench_lists() {
        let rules = rules(Some(&res(&json)), true).unwrap().unwrap();
        assert_eq!(disagreements(&rules, &rules), [], "{name}");
    }
}

/// xorshift: random lists without a dependency, the same every run.
pub fn random_rules(seed: &mut u64, n: usize) -> Vec<DeviceRule> {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    (0..n)
        .map(|_| {
            let x = next();
            let num = |b: u64| (!b.is_multiple_of(5)).then_some((b >> 8) as u32 % 4);
            DeviceRule {
                allow: x & 1 != 0,
                kind: [DeviceKind::All, DeviceKind::Char, DeviceKind::Block][(x >> 1) as usize % 3],
                major: num(x >> 8),
                minor: num(x >> 24),
                access: match (x >> 40) as u8 & 7 {
                    0 => ACC_ALL,
                    a => a,
                },
            }
        })
        .collect()
}

#[test]
fn new_program_decides_as_the_old_on_random_lists() {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    for n in 0..2000 {
        let rules = random_rules(&mut seed, n % 13);
        assert_eq!(disagreements(&rules, &rules), [], "{rules:?}");
    }
}

/// Random lists of mostly named devices with every access, where the
/// minors of one major are grouped into bitmaps (the test checks that
/// they are, in most lists).
#[test]
fn grouped_minors_decide_as_the_old_on_random_lists() {
    let mut seed = 0x5851_f42d_4c95_7f2d;
    let mut grouped = 0;
    for n in 0..1000 {
        let mut rules = random_rules(&mut seed, 3 + n % 12);
        for (i, r) in rules.iter_mut().enumerate() {
            if i % 4 != 0 {
                r.access = ACC_ALL;
                r.allow |= i % 3 != 0;
                r.major = Some(r.major.unwrap_or(1) % 2);
                r.minor = r.minor.map(|m| m + 60 * u32::from(i % 5 == 1));
            }
        }
        assert_eq!(disagreements(&rules, &rules), [], "{rules:?}");
        grouped += usize::from(super::program::tests::has_bitmap(&rules));
    }
    assert!(grouped > 50, "{grouped} of 1000 lists grouped");
}

/// The control: the comparison tells apart a program that lost one rule
/// (of a list where some rule matters: each dropped in turn).
#[test]
fn a_dropped_rule_is_told_apart() {
    let rules = spec_rules(LISTS[4]);
    let mut dropped = rules.clone();
    dropped.remove(1);
    let diff = disagreements(&rules, &dropped);
    assert!(
        diff.contains(&(CHAR, 2, 240, 1)),
        "read of c 240:1: {diff:?}"
    );
    for list in &LISTS[3..] {
        let rules = spec_rules(list);
        let told =
            (0..rules.len() - crate::cgroups::default_allowed_devices().len()).filter(|&i| {
                let mut dropped = rules.clone();
                dropped.remove(i);
                !disagreements(&rules, &dropped).is_empty()
            });
        assert_ne!(told.count(), 0, "{list}");
    }
}

/// Past 2000 rules the exits repeat (jumps stay within an i16 offset) and
/// repeats are no longer searched for: the long path decides right too.
#[test]
fn long_lists_decide_as_the_old() {
    let mut seed = 0x2545_f491_4f6c_dd1d;
    for n in [1999, 2000, 2001, 4500] {
        let rules = random_rules(&mut seed, n);
        assert_eq!(disagreements(&rules, &rules), [], "{n} rules");
    }
}

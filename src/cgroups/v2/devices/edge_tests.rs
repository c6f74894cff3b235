//! Round 8's attack on the v2 device program (tests/attack_s10b.rs has
//! the rest): rule lists built from edge cases rather than at random,
//! each decided by the program (in the test interpreter) and by the list
//! itself (`devices::decide`) on every probe that can tell them apart.
//! Any access the program allows and the list refuses is an escape to a
//! device; one it refuses and the list allows, a broken container.
//!
//! Edge cases: major/minor 0, 63/64 (the bitmap's edge), 2^31 (a sign
//! bit in a 32-bit immediate), 2^32-1; `-1` wildcards next to named
//! devices; a bitmap group next to a wildcard of the other verdict; 'a'
//! rules with access subsets; duplicates with other access; lists longer
//! than the dedup bound (256) and than one group of exits (2000).

use super::equivalence_tests::{BLOCK, CHAR};
use super::program::build;
use super::program::tests::run;
use crate::cgroups::devices::{
    self, ACC_ALL, ACC_MKNOD, ACC_READ, ACC_WRITE, DeviceKind, DeviceRule,
};

const BIG: u32 = 1 << 31;
const MAJORS: [u32; 7] = [0, 1, 2, 63, 64, BIG, u32::MAX];
const MINORS: [u32; 9] = [0, 1, 2, 3, 63, 64, 65, BIG, u32::MAX];

fn rule(
    allow: bool,
    kind: DeviceKind,
    major: Option<u32>,
    minor: Option<u32>,
    access: u8,
) -> DeviceRule {
    DeviceRule {
        allow,
        kind,
        major,
        minor,
        access,
    }
}

/// Every rule shape worth a probe, of each type and verdict.
fn alphabet() -> Vec<DeviceRule> {
    let shapes: [(Option<u32>, Option<u32>, u8); 11] = [
        (None, None, ACC_ALL),
        (None, None, ACC_MKNOD),
        (None, None, ACC_READ | ACC_WRITE),
        (Some(1), None, ACC_READ | ACC_WRITE),
        (Some(1), Some(3), ACC_ALL),
        (Some(1), Some(63), ACC_ALL),
        (Some(1), Some(64), ACC_ALL),
        (None, Some(3), ACC_READ),
        (Some(u32::MAX), Some(u32::MAX), ACC_ALL),
        (Some(0), Some(0), ACC_WRITE),
        (Some(BIG), None, ACC_ALL),
    ];
    let mut out = Vec::new();
    for kind in [DeviceKind::All, DeviceKind::Char, DeviceKind::Block] {
        for (major, minor, access) in shapes {
            for allow in [true, false] {
                out.push(rule(allow, kind, major, minor, access));
            }
        }
    }
    out
}

/// The program for `rules` decides as the list on every probe.
fn check(rules: &[DeviceRule]) {
    let prog = build(rules);
    for kind in [CHAR, BLOCK] {
        for access in 1..=ACC_ALL {
            for major in MAJORS {
                for minor in MINORS {
                    let want = devices::decide(rules, kind == BLOCK, access, major, minor);
                    let got = run(&prog, kind, access, major, minor) == 1;
                    assert_eq!(
                        got, want,
                        "type {kind} access {access} {major}:{minor}: program {got}, list {want}: {rules:#?}"
                    );
                }
            }
        }
    }
}

/// Three named devices of major 1 (0, 2, 63): one bitmap check, with the
/// edge rules after it, of either verdict.
fn bitmap_base(allow: bool, kind: DeviceKind) -> Vec<DeviceRule> {
    [0, 2, 63]
        .map(|m| rule(allow, kind, Some(1), Some(m), ACC_ALL))
        .into()
}

#[test]
fn every_pair_of_edge_rules_decides_as_the_list() {
    let a = alphabet();
    for x in &a {
        for y in &a {
            check(&[*x, *y]);
        }
    }
}

#[test]
fn edge_rules_around_a_bitmap_group_decide_as_the_list() {
    let a = alphabet();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base_allow in [true, false] {
        for kind in [DeviceKind::All, DeviceKind::Char, DeviceKind::Block] {
            for x in &a {
                // Before the group, after it, and after it plus another.
                let base = bitmap_base(base_allow, kind);
                let y = a[next() as usize % a.len()];
                check(&[&[*x][..], &base].concat());
                check(&[&base[..], &[*x]].concat());
                check(&[&base[..], &[*x, y]].concat());
                check(&[&[y][..], &base, &[*x]].concat());
            }
        }
    }
}

/// Lists past the dedup bound (no repeats dropped, no bitmaps) and past
/// one group of exits (2000 rules: chunks jumped over): each with a
/// deciding rule at its start, middle and end.
#[test]
fn long_lists_decide_as_the_list() {
    for n in [257, 2001, 4100] {
        let mut rules = vec![rule(false, DeviceKind::All, None, None, ACC_ALL)];
        for i in 0..n {
            let minor = 100 + i as u32;
            rules.push(rule(
                i % 3 != 0,
                DeviceKind::Char,
                Some(7),
                Some(minor),
                ACC_ALL,
            ));
        }
        rules.push(rule(true, DeviceKind::Block, Some(1), None, ACC_READ));
        rules.push(rule(false, DeviceKind::All, Some(1), Some(3), ACC_READ));
        rules.push(rule(true, DeviceKind::Char, Some(1), Some(2), ACC_ALL));
        rules.push(rule(true, DeviceKind::Char, Some(1), Some(63), ACC_ALL));
        rules.push(rule(true, DeviceKind::Char, Some(1), Some(0), ACC_ALL));
        check(&rules);
        let prog = build(&rules);
        for (i, minor) in [(0u32, 100u32), (1, 101), (n as u32 - 1, 100 + n as u32 - 1)] {
            let want = i % 3 != 0;
            assert_eq!(
                run(&prog, CHAR, ACC_READ, 7, minor) == 1,
                want,
                "n {n} rule {i}"
            );
            assert!(
                run(&prog, BLOCK, ACC_READ, 7, minor) == 0,
                "block 7:{minor}"
            );
        }
    }
}

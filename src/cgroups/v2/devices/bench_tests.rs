//! What the kernel's verifier spends on the device program: load time in
//! a loop and the verifier's own statistics, for the lists outlet gets
//! (runc's spec, docker's, podman's, containerd CRI's, privileged, wildcards,
//! many rules), the old and the branch-free shapes against the current one. The
//! numbers: `cargo test --lib device_program_load_cost -- --nocapture`.

use std::time::{Duration, Instant};

use super::bpf;
use super::branchfree_program::build_branchfree;
use super::old_program::build_old;
use super::program::{Insn, build};
use crate::cgroups::devices::rules;
use crate::cgroups::test_util::res;

/// runc's `spec` (deny everything), outlet appends its defaults.
pub const RUNC_SPEC: &str = r#"{"devices":[{"allow":false,"access":"rwm"}]}"#;

/// docker's and podman's default device rules as they hand them to a
/// runtime, outlet's defaults appended behind them.
pub const DOCKER_SPEC: &str = r#"{"devices":[
    {"allow":false,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":9,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":8,"access":"rwm"},
    {"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},
    {"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"},
    {"allow":false,"type":"c","major":10,"minor":229,"access":"rwm"},
    {"allow":true,"type":"c","major":136,"access":"rwm"},
    {"allow":true,"type":"c","major":5,"minor":2,"access":"rwm"},
    {"allow":true,"type":"c","access":"m"},
    {"allow":true,"type":"b","access":"m"},
    {"allow":true,"type":"c","major":10,"minor":200,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":7,"access":"rwm"},
    {"allow":true,"type":"c","major":254,"minor":0,"access":"rw"}]}"#;

/// podman's list (deny all, then its allowlist; `c/b *:* m` first).
pub const PODMAN_SPEC: &str = r#"{"devices":[
    {"allow":false,"access":"rwm"},
    {"allow":true,"type":"c","access":"m"},
    {"allow":true,"type":"b","access":"m"},
    {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":8,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":7,"access":"rwm"},
    {"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":9,"access":"rwm"},
    {"allow":true,"type":"c","major":136,"access":"rwm"},
    {"allow":true,"type":"c","major":5,"minor":2,"access":"rwm"},
    {"allow":true,"type":"c","major":10,"minor":200,"access":"rwm"}]}"#;

/// containerd CRI's default for a pod's container: deny all, then the
/// same allowlist in containerd's order, `c *:* m` and `b *:* m` first.
pub const CRI_SPEC: &str = r#"{"devices":[
    {"allow":false,"access":"rwm"},
    {"allow":true,"type":"c","access":"m"},
    {"allow":true,"type":"b","access":"m"},
    {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":8,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":7,"access":"rwm"},
    {"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":9,"access":"rwm"},
    {"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"},
    {"allow":true,"type":"c","major":136,"access":"rwm"},
    {"allow":true,"type":"c","major":5,"minor":2,"access":"rwm"},
    {"allow":true,"type":"c","major":10,"minor":200,"access":"rwm"}]}"#;

/// A privileged container: everything allowed.
pub const PRIVILEGED_SPEC: &str = r#"{"devices":[{"allow":true,"access":"rwm"}]}"#;

/// Wildcards and access subsets: 'a' rules, -1 numbers, r / rw / m.
pub const WILDCARD_SPEC: &str = r#"{"devices":[
    {"allow":false,"access":"rwm"},
    {"allow":true,"type":"a","major":7,"access":"rw"},
    {"allow":true,"type":"b","major":8,"minor":-1,"access":"r"},
    {"allow":true,"type":"c","major":-1,"minor":3,"access":"m"},
    {"allow":false,"type":"c","major":1,"minor":3,"access":"w"},
    {"allow":true,"type":"a","major":-1,"minor":-1,"access":"m"},
    {"allow":true,"type":"c","major":4,"access":"rw"},
    {"allow":false,"type":"b","major":8,"minor":0,"access":"rwm"},
    {"allow":true,"type":"c","major":226,"access":"rwm"}]}"#;

/// A spec with many rules (60 devices handed in one by one).
pub fn many_spec() -> String {
    let mut rules = vec![r#"{"allow":false,"access":"rwm"}"#.to_string()];
    for n in 0..60 {
        let (t, acc) = [("c", "rwm"), ("b", "rw"), ("c", "r"), ("a", "rwm")][n % 4];
        rules.push(format!(
            r#"{{"allow":true,"type":"{t}","major":{},"minor":{n},"access":"{acc}"}}"#,
            240 + n / 16
        ));
    }
    format!(r#"{{"devices":[{}]}}"#, rules.join(","))
}

/// The lists the bench measures, by name.
pub fn bench_lists() -> Vec<(&'static str, String)> {
    vec![
        ("runc spec", RUNC_SPEC.into()),
        ("docker", DOCKER_SPEC.into()),
        ("podman", PODMAN_SPEC.into()),
        ("containerd CRI", CRI_SPEC.into()),
        ("privileged", PRIVILEGED_SPEC.into()),
        ("wildcards, subsets", WILDCARD_SPEC.into()),
        ("61 rules", many_spec()),
    ]
}

/// The old shape, the branch-free one (session 5) and the current one.
pub fn programs_for(json: &str) -> [Vec<Insn>; 3] {
    let rules = rules(Some(&res(json)), true).unwrap().unwrap();
    [build_old(&rules), build_branchfree(&rules), build(&rules)]
}

/// Wall times of BPF_PROG_LOAD (the fd closed outside the timing).
pub fn load_times(prog: &[Insn], n: usize, into: &mut Vec<Duration>) {
    for _ in 0..n {
        let start = Instant::now();
        let fd = bpf::load(prog).expect("load");
        into.push(start.elapsed());
        drop(fd);
    }
}

/// The verifier's statistics lines, and its count of processed insns.
pub fn verifier_stats(prog: &[Insn]) -> (String, u32) {
    let (fd, log) = bpf::load_logged(prog, 4);
    fd.expect("load with stats");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("processed") || l.starts_with("verification time"))
        .collect();
    let processed = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("processed ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .expect("BPF_LOG_STATS says how many insns it processed");
    (lines.join("; "), processed)
}

/// Also a check: for every list the verifier walks no more instructions
/// than for the branch-free shape, and less than half what it walked for
/// the old one where that walked more than 60 (its count, unlike the
/// time, is exact).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root to load eBPF programs")]
fn device_program_load_cost() {
    for (name, json) in bench_lists() {
        let progs = programs_for(&json);
        // Interleaved, so that the machine's load hits all alike.
        let mut t = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..10 {
            for (k, p) in progs.iter().enumerate() {
                load_times(p, 20, &mut t[k]);
            }
        }
        let mut processed = [0; 3];
        for (k, p) in progs.iter().enumerate() {
            t[k].sort();
            let (stats, n) = verifier_stats(p);
            processed[k] = n;
            println!(
                "{name} | {} | {} insns | min {:?} median {:?} | {stats}",
                ["old", "branchfree", "new"][k],
                p.len(),
                t[k][0],
                t[k][t[k].len() / 2],
            );
        }
        assert!(processed[2] <= processed[1], "{name}: {processed:?}");
        assert!(
            processed[0] <= 60 || processed[2] * 2 < processed[0],
            "{name}: {processed:?}"
        );
    }
}

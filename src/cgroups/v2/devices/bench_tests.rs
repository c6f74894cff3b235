//! What the kernel's verifier spends on the device program: load time in
//! a loop and the verifier's own statistics, for the default spec's list
//! and for a long (docker/podman-like) one, old shape against new. The
//! numbers: `cargo test --lib device_program_load_cost -- --nocapture`.

use std::time::{Duration, Instant};

use super::bpf;
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

pub fn programs_for(json: &str) -> [Vec<Insn>; 2] {
    let rules = rules(Some(&res(json)), true).unwrap().unwrap();
    [build_old(&rules), build(&rules)]
}

/// Median wall time of one BPF_PROG_LOAD (the fd closed outside the timing).
pub fn load_median(prog: &[Insn], n: usize) -> Duration {
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            let fd = bpf::load(prog).expect("load");
            let d = start.elapsed();
            drop(fd);
            d
        })
        .collect();
    t.sort();
    t[n / 2]
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

/// Also a check: the verifier walks less than half the instructions it
/// walked for the old shape (its count, unlike the time, is exact).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root to load eBPF programs")]
fn device_program_load_cost() {
    for (name, json) in [("runc spec", RUNC_SPEC), ("docker", DOCKER_SPEC)] {
        let progs = programs_for(json);
        // Interleaved, so that the machine's load hits both alike.
        let mut t = [Vec::new(), Vec::new()];
        for _ in 0..20 {
            for (k, p) in progs.iter().enumerate() {
                t[k].push(load_median(p, 21));
            }
        }
        let mut processed = [0; 2];
        for (k, p) in progs.iter().enumerate() {
            t[k].sort();
            let (stats, n) = verifier_stats(p);
            processed[k] = n;
            println!(
                "{name} {}: {} insns, median load {:?}; {stats}",
                ["old", "new"][k],
                p.len(),
                t[k][10],
            );
        }
        assert!(processed[1] * 2 < processed[0], "{name}: {processed:?}");
    }
}

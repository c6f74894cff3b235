//! The device programs in the kernel: the old and the new program of each
//! list attached to a cgroup of their own, a shell moved into it, and
//! real mknod(2) and open(2) of device nodes (numbers no driver owns, so
//! an allowed open fails with ENXIO and a refused one with EPERM) give
//! the kernel's decision on each probe. The new program must decide as
//! the old one and as the rules; a program that lost one rule must not.

use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use super::bpf;
use super::equivalence_tests::{BLOCK, CHAR, LISTS, decide, random_rules, spec_rules};
use super::old_program::build_old;
use super::program::{Insn, build};
use crate::cgroups::devices::{ACC_MKNOD, ACC_READ, ACC_WRITE, DeviceRule};
use crate::security::testutil::TempDir;

/// Numbers no driver has here (checked against /proc/devices), and 1:3
/// (/dev/null, harmless to open).
const DEVICES: &[(u32, u32)] = &[
    (1, 3),
    (240, 1),
    (240, 2),
    (240, 3),
    (240, 4),
    (240, 9),
    (241, 1),
    (241, 2),
    (241, 5),
    (242, 5),
];
const ACCESSES: [u8; 4] = [ACC_MKNOD, ACC_READ, ACC_WRITE, ACC_READ | ACC_WRITE];

/// A cgroup of the test's own in the cgroup2 hierarchy, removed on drop
/// (once the shell in it has exited).
struct Cgroup(PathBuf);

impl Cgroup {
    fn new(tag: &str) -> Cgroup {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = info
            .lines()
            .find(|l| {
                l.split(" - ")
                    .nth(1)
                    .is_some_and(|t| t.starts_with("cgroup2 "))
            })
            .and_then(|l| l.split(' ').nth(4))
            .expect("a cgroup2 mount");
        let dir = Path::new(root).join(format!("outlet-test-devbpf-{}-{tag}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        Cgroup(dir)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn unused_majors() {
    let devices = std::fs::read_to_string("/proc/devices").unwrap();
    for line in devices.lines() {
        let major = line.split_whitespace().next().and_then(|m| m.parse().ok());
        assert!(
            !matches!(major, Some(240..=242)),
            "major {line:?} has a driver here: the probes would open it"
        );
    }
}

/// The kernel's decision on every probe, in the order of `probes`.
fn kernel_decisions(prog: &[Insn], tag: &str, nodes: &Path) -> Vec<bool> {
    let cg = Cgroup::new(tag);
    let fd = std::fs::File::open(&cg.0).unwrap();
    let loaded = bpf::load(prog).expect("the kernel verifies the program");
    bpf::attach(fd.as_fd(), loaded.as_fd()).expect("attach");
    let mut script = format!("echo 0 > {}/cgroup.procs || exit 9\n", cg.0.display());
    for (i, (kind, access, major, minor)) in probes().enumerate() {
        let t = if kind == CHAR { 'c' } else { 'b' };
        let node = nodes.join(format!("{t}_{major}_{minor}"));
        let node = node.display();
        let act = match access {
            ACC_MKNOD => format!("mknod {}/{tag}_{i} {t} {major} {minor}", nodes.display()),
            ACC_READ => format!("(exec 3<{node})"),
            ACC_WRITE => format!("(exec 3>>{node})"),
            _ => format!("(exec 3<>{node})"),
        };
        writeln!(script, "echo \"$( {act} 2>&1 && echo ok)\"").unwrap();
    }
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), probes().count(), "{text}");
    lines
        .iter()
        .map(|l| match *l {
            "ok" => true,
            l if l.contains("No such device or address") => true,
            l if l.contains("Operation not permitted") => false,
            l => panic!("a probe failed for another reason: {l}"),
        })
        .collect()
}

fn probes() -> impl Iterator<Item = (i32, u8, u32, u32)> {
    DEVICES.iter().flat_map(|&(major, minor)| {
        [CHAR, BLOCK]
            .into_iter()
            .flat_map(move |k| ACCESSES.map(|a| (k, a, major, minor)))
    })
}

fn nodes() -> TempDir {
    let dir = TempDir::new("devbpf");
    for &(major, minor) in DEVICES {
        for (t, kind) in [('c', SFlag::S_IFCHR), ('b', SFlag::S_IFBLK)] {
            let p = dir.0.join(format!("{t}_{major}_{minor}"));
            mknod(
                &p,
                kind,
                Mode::from_bits_truncate(0o600),
                makedev(major.into(), minor.into()),
            )
            .unwrap();
        }
    }
    dir
}

fn by_rules(rules: &[DeviceRule]) -> Vec<bool> {
    probes()
        .map(|(k, a, maj, min)| decide(rules, k, a, maj, min))
        .collect()
}

#[test]
#[cfg_attr(
    not(outlet_root),
    ignore = "needs root to load and attach eBPF programs"
)]
fn kernel_decides_the_same_with_old_and_new_program() {
    unused_majors();
    let nodes = nodes();
    for (n, list) in LISTS.iter().enumerate() {
        let rules = spec_rules(list);
        let old = kernel_decisions(&build_old(&rules), &format!("old{n}"), &nodes.0);
        let new = kernel_decisions(&build(&rules), &format!("new{n}"), &nodes.0);
        assert_eq!(old, new, "{list}");
        assert_eq!(new, by_rules(&rules), "{list}");
    }
}

/// The control: the kernel run tells apart the program of a list that
/// lost its rule "c 240:1 r".
#[test]
#[cfg_attr(
    not(outlet_root),
    ignore = "needs root to load and attach eBPF programs"
)]
fn kernel_run_tells_a_dropped_rule_apart() {
    unused_majors();
    let nodes = nodes();
    let rules = spec_rules(LISTS[4]);
    let mut dropped = rules.clone();
    dropped.remove(1);
    let full = kernel_decisions(&build(&rules), "full", &nodes.0);
    let less = kernel_decisions(&build(&dropped), "less", &nodes.0);
    assert_ne!(full, less);
    let at = probes()
        .position(|p| p == (CHAR, ACC_READ, 240, 1))
        .unwrap();
    assert!(full[at] && !less[at], "read of c 240:1");
}

/// The kernel accepts every shape `build` emits: random lists of every
/// length up to 30 (where the allow or deny exit may be unused, which the
/// verifier would refuse as unreachable if it were emitted) and lists
/// long enough to repeat the exits.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root to load eBPF programs")]
fn kernel_verifies_every_shape() {
    let mut seed = 0x1234_5678_9abc_def1;
    for n in 0..600 {
        let rules = random_rules(&mut seed, n % 31);
        if let Err(e) = bpf::load(&build(&rules)) {
            panic!("{rules:?}: {e:#}");
        }
    }
    for n in [2001, 4500] {
        let rules = random_rules(&mut seed, n);
        bpf::load(&build(&rules)).unwrap_or_else(|e| panic!("{n} rules: {e:#}"));
    }
}

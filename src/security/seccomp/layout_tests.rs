//! The binary-tree layout (`compile::Layout::Tree`) decides every syscall
//! as the list layout does: both programs of one plan are loaded into
//! forked children, which make the same probe syscalls, and the outcomes
//! (return value, errno, or the signal that killed the child) must agree.

use serde_json::json;

use super::compile::{Layout, TREE_FROM_RULES, compile_as, layout};
use super::tests::podman_profile;
use super::*;
use crate::security::testutil::{Outcome, in_child};
use crate::syscall::testing::syscall_probe;

/// x32 syscalls are the x86_64 numbers with this bit (same AUDIT_ARCH).
const X32: i64 = 0x4000_0000;

/// A syscall and its arguments; pointers NULL and fds -1 (see
/// `syscall_probe`), so an allowed call fails harmlessly.
type Probe = (&'static str, i64, [i64; 6]);

/// What `program` does to one probe, in a child with no_new_privs.
fn outcome(program: &[libc::sock_filter], probe: &Probe) -> String {
    let (_, nr, args) = *probe;
    let prepared = Prepared {
        program: program.to_vec(),
        flags: 0,
        listener: None,
        skipped: Vec::new(),
        skipped_arches: Vec::new(),
        unsaved: None,
    };
    match in_child(move || {
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
        prepared.load("{}").map_err(|e| format!("{e:#}"))?;
        Ok(syscall_probe(nr, args))
    }) {
        Outcome::Exited(s, 0) => s,
        Outcome::Exited(s, c) => panic!("{}: child exited {c}: {s}", probe.0),
        Outcome::Signaled(sig, _) => format!("signal {sig}"),
    }
}

/// Each probe's outcome under the plan compiled in `layout`.
fn outcomes(plan: &FilterPlan, layout: Layout, probes: &[Probe]) -> Vec<String> {
    let program = compile_as(plan, layout).unwrap();
    probes
        .iter()
        .map(|p| format!("{}: {}", p.0, outcome(&program, p)))
        .collect()
}

/// Both layouts of `plan` really differ as programs, and agree on every
/// probe; the list layout's outcomes, for the caller to check.
fn agree(plan: &FilterPlan, probes: &[Probe]) -> Vec<String> {
    let list = compile_as(plan, Layout::Linear).unwrap();
    let tree = compile_as(plan, Layout::Tree).unwrap();
    let bytes = |p: &[libc::sock_filter]| -> Vec<(u16, u8, u8, u32)> {
        p.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()
    };
    assert_ne!(bytes(&list), bytes(&tree), "the layouts are one program");
    let by_list = outcomes(plan, Layout::Linear, probes);
    assert_eq!(by_list, outcomes(plan, Layout::Tree, probes));
    by_list
}

const NO: [i64; 6] = [0; 6];
const fn fd(rest: [i64; 5]) -> [i64; 6] {
    [-1, rest[0], rest[1], rest[2], rest[3], rest[4]]
}

/// A default-deny profile with every kind of rule: allow list, errno
/// rules, kill and trap, conditions on one argument, AND of two, OR on
/// the same argument, masked and 64-bit comparisons.
fn mixed_profile() -> LinuxSeccomp {
    let allowed = [
        "write",
        "close",
        "fstat",
        "exit",
        "exit_group",
        "rt_sigreturn",
        "rt_sigprocmask",
        "rt_sigaction",
        "sigaltstack",
        "munmap",
        "mmap",
        "brk",
        "getpid",
        "gettid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getppid",
        "getpgrp",
        "setsid",
        "uname",
        "umask",
        "sched_yield",
        "nanosleep",
        "clock_gettime",
        "clock_nanosleep",
        "gettimeofday",
        "futex",
        "set_tid_address",
        "set_robust_list",
        "getrandom",
        "prctl",
        "wait4",
        "kill",
        "tgkill",
        "pipe2",
        "dup",
        "dup2",
        "getcwd",
        "chdir",
        "mkdirat",
        "unlinkat",
        "renameat2",
        "readlinkat",
        "statx",
        "newfstatat",
        "openat",
        "faccessat2",
    ];
    profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 95,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": allowed.as_slice(), "action": "SCMP_ACT_ALLOW"},
            {"names": ["acct", "bpf", "mount"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100, "args": [
                {"index": 1, "value": 5, "op": "SCMP_CMP_EQ"},
                {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 1, "value": 0x1_0000_0005_u64, "op": "SCMP_CMP_NE"}]},
            {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 101, "args": [
                {"index": 1, "value": 0xff00, "valueTwo": 0x5400, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["read", "pread64"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 2, "value": 16, "op": "SCMP_CMP_GE"}]},
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 102, "args": [
                {"index": 2, "value": 4, "op": "SCMP_CMP_LT"}]},
            {"names": ["ftruncate"], "action": "SCMP_ACT_ERRNO", "errnoRet": 103, "args": [
                {"index": 1, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_GT"}]},
            {"names": ["ftruncate"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 1, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_LE"}]},
            {"names": ["flock"], "action": "SCMP_ACT_KILL_PROCESS", "args": [
                {"index": 1, "value": 99, "op": "SCMP_CMP_EQ"}]},
            {"names": ["flock"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 1, "value": 99, "op": "SCMP_CMP_NE"}]},
            {"names": ["fsync"], "action": "SCMP_ACT_TRAP"},
            {"names": ["fdatasync"], "action": "SCMP_ACT_LOG"}
        ]
    }))
}

fn mixed_probes() -> Vec<Probe> {
    vec![
        ("lseek(-1, 5, SET)", libc::SYS_lseek, fd([5, 0, 0, 0, 0])),
        ("lseek(-1, 5, CUR)", libc::SYS_lseek, fd([5, 1, 0, 0, 0])),
        (
            "lseek(-1, 1<<32|5)",
            libc::SYS_lseek,
            fd([0x1_0000_0005, 1, 0, 0, 0]),
        ),
        (
            "lseek(-1, 5|1<<33)",
            libc::SYS_lseek,
            fd([0x2_0000_0005, 1, 0, 0, 0]),
        ),
        ("fcntl(-1, 1)", libc::SYS_fcntl, fd([1, 0, 0, 0, 0])),
        ("fcntl(-1, 2)", libc::SYS_fcntl, fd([2, 0, 0, 0, 0])),
        ("fcntl(-1, 3)", libc::SYS_fcntl, fd([3, 0, 0, 0, 0])),
        (
            "ioctl(-1, 0x5401)",
            libc::SYS_ioctl,
            fd([0x5401, 0, 0, 0, 0]),
        ),
        (
            "ioctl(-1, 0x5501)",
            libc::SYS_ioctl,
            fd([0x5501, 0, 0, 0, 0]),
        ),
        ("read(-1, 0, 2)", libc::SYS_read, fd([0, 2, 0, 0, 0])),
        ("read(-1, 0, 8)", libc::SYS_read, fd([0, 8, 0, 0, 0])),
        ("read(-1, 0, 32)", libc::SYS_read, fd([0, 32, 0, 0, 0])),
        ("pread64(-1, 0, 2)", libc::SYS_pread64, fd([0, 2, 0, 0, 0])),
        (
            "ftruncate(-1, 1<<32)",
            libc::SYS_ftruncate,
            fd([1 << 32, 0, 0, 0, 0]),
        ),
        ("ftruncate(-1, 1)", libc::SYS_ftruncate, fd([1, 0, 0, 0, 0])),
        ("flock(-1, 99)", libc::SYS_flock, fd([99, 0, 0, 0, 0])),
        ("flock(-1, 1)", libc::SYS_flock, fd([1, 0, 0, 0, 0])),
        ("fsync(-1)", libc::SYS_fsync, fd([0; 5])),
        ("fdatasync(-1)", libc::SYS_fdatasync, fd([0; 5])),
        ("close(-1)", libc::SYS_close, fd([0; 5])),
        ("acct(NULL)", libc::SYS_acct, NO),
        ("bpf(-1, NULL, 0)", libc::SYS_bpf, fd([0; 5])),
        ("fchdir(-1) (unlisted)", libc::SYS_fchdir, fd([0; 5])),
        ("number 1000 (unknown)", 1000, NO),
        ("x32 close(-1)", X32 | libc::SYS_close, fd([0; 5])),
        ("x32 fchdir(-1)", X32 | libc::SYS_fchdir, fd([0; 5])),
    ]
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root to load seccomp filters")]
fn tree_layout_decides_as_the_list_does() {
    let plan = plan(&mixed_profile()).unwrap();
    assert_eq!(layout(&plan), Layout::Tree, "{} rules", plan.rules.len());
    let probes = mixed_probes();
    let got = agree(&plan, &probes);
    // The outcomes are the profile's (so the probes reach the filter's
    // every branch, and a filter that did nothing would not pass).
    let sigsys = format!("signal {}", libc::SIGSYS);
    // lseek(-1, 5, SET) matches an errno rule and an allow rule: libseccomp
    // lets the allow win, in both layouts. 95 is the default action's.
    let want = [
        "e9", "e9", "e95", "e9", "e9", "e95", "e9", "e101", "e95", "e102", "e95", "e9", "e95",
        "e103", "e9", &sigsys, "e9", &sigsys, "e9", "e9", "e1", "e1", "e95", "e95",
    ];
    let got_native: Vec<&str> = got[..want.len()]
        .iter()
        .map(|s| s.rsplit(": ").next().unwrap())
        .collect();
    assert_eq!(got_native, want, "{got:#?}");
    // x32: close is allowed (the kernel then says EBADF, or ENOSYS where
    // the x32 ABI is off), fchdir refused by the default action.
    let x32_close = &got[want.len()];
    assert!(
        x32_close.ends_with("e9") || x32_close.ends_with("e38"),
        "{got:#?}"
    );
    assert!(got[want.len() + 1].ends_with("e95"), "{got:#?}");

    // Control: a plan that differs in one errno is told apart by the
    // same probes, so agreement above is not for want of looking.
    let mut other = plan.clone();
    let r = other
        .rules
        .iter_mut()
        .find(|r| i64::from(r.syscall) == libc::SYS_ioctl)
        .unwrap();
    r.action = libseccomp::ScmpAction::Errno(104);
    assert_ne!(got, outcomes(&other, Layout::Tree, &probes));
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root to load seccomp filters")]
fn tree_layout_decides_podmans_profile_as_the_list_does() {
    let (_, p) = podman_profile();
    let plan = plan(&p).unwrap();
    assert!(plan.rules.len() >= TREE_FROM_RULES);
    assert_eq!(layout(&plan), Layout::Tree);
    let probes: Vec<Probe> = vec![
        ("read(-1)", libc::SYS_read, fd([0; 5])),
        (
            "ioctl(-1, 0x5401)",
            libc::SYS_ioctl,
            fd([0x5401, 0, 0, 0, 0]),
        ),
        (
            "personality(query)",
            libc::SYS_personality,
            [0xffff_ffff, 0, 0, 0, 0, 0],
        ),
        (
            "personality(0x1234)",
            libc::SYS_personality,
            [0x1234, 0, 0, 0, 0, 0],
        ),
        (
            "open_by_handle_at(-1)",
            libc::SYS_open_by_handle_at,
            fd([0; 5]),
        ),
        ("bpf(-1, NULL, 0)", libc::SYS_bpf, fd([0; 5])),
        ("perf_event_open(NULL)", libc::SYS_perf_event_open, NO),
        ("fchdir(-1)", libc::SYS_fchdir, fd([0; 5])),
        ("number 1000 (unknown)", 1000, NO),
        ("x32 fchdir(-1)", X32 | libc::SYS_fchdir, fd([0; 5])),
    ];
    let got = agree(&plan, &probes);
    let tail = |i: usize| got[i].rsplit(": ").next().unwrap().to_string();
    assert_eq!(
        [0, 1, 4, 5, 6, 7, 8].map(tail),
        ["e9", "e9", "e1", "e1", "e1", "e9", "e38"].map(String::from),
        "{got:#?}"
    );
    assert_eq!(tail(3), "e38", "{got:#?}");
}

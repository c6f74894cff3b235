//! Fault injection by errno: where tests/crash_syscalls.rs kills the
//! *release* binary at a sampled (syscall, n) pair, this file makes that
//! call *fail* (`strace --inject=NAME:error=ERRNO:when=N`, in the command
//! and every process it starts) with an errno the kernel can really return
//! there (see `errnos`), and checks after each round:
//!
//! 1. the command returned within `LIMIT` (a hang fails the round) and did
//!    not die of a signal (a cloned child may die of SIGABRT with one line,
//!    tests/child_panic.rs; outlet itself never);
//! 2. when it failed: its failure's exit code (1; exec's own 255) and a
//!    line on stderr that names what failed with the errno's text;
//! 3. `state` reads a status the command allows, the command's promise
//!    holds, and `delete --force` leaves nothing (common/strace.rs
//!    `check_round`: state dir, cgroups, mounts, processes, strays);
//! 4. (`eintr_*`) an EINTR on a blocking call of the sync channel (a read
//!    or write on a pipe or socket, a wait, the fifo's open) is retried:
//!    the command succeeds.
//!
//! A fault that lands in the container's application (after its execve)
//! is the application's to handle: only (3) is checked then. Budget per
//! command: `FAULTS_S8_BUDGET=N` (default `BUDGET`), `FAULTS_S8_EVERY=1`,
//! `FAULTS_S8_OFFSET=N` (printed; default 0, `pid` for a new sample each run);
//! `FAULTS_S8_ONLY=NAME:N,...` repeats the rounds a failure names.

mod common;

use std::time::{Duration, Instant};

use common::seccomp_denied;
use common::strace::{
    Case, World, check_round, count_pairs, created, created_started, exec_promise, no_promise,
    pid_file, release_outlet, sleeper, status_now, strace, tail,
};
use common::{Out, T, sh};
use serde_json::json;

/// Rounds per command when the environment does not say: 13 commands in
/// about three minutes on the loaded 2-core machine.
const BUDGET: usize = 24;

/// No single round takes longer (a create under strace takes ~0.3 s).
const LIMIT: Duration = Duration::from_secs(20);

/// The errnos a call can really fail with, the first being the most
/// common: rounds rotate through them by n. None: a call that cannot
/// fail in a way worth a round (getpid), or only by a bug of the caller
/// (EFAULT, EINVAL).
fn errnos(name: &str) -> Option<&'static [i32]> {
    use libc::*;
    Some(match name {
        "getpid" | "gettid" | "getppid" | "getuid" | "geteuid" | "getgid" | "getegid"
        | "getpgrp" | "umask" | "exit" | "exit_group" | "rt_sigreturn" | "set_tid_address"
        | "sched_yield" | "rt_sigprocmask" | "rt_sigaction" | "sigaltstack" | "arch_prctl"
        | "set_robust_list" | "restart_syscall" | "getrandom" | "futex" | "munmap" | "brk"
        | "execve" | "execveat" => return None,
        // Linux frees the fd whatever close returns; strace's injection
        // skips the call, leaving it open: a state no kernel makes.
        "close" | "close_range" => return None,
        "read" | "readv" | "pread64" => &[EIO, EINTR, EAGAIN],
        "write" | "writev" | "pwrite64" => &[EIO, ENOSPC, EINTR],
        "recvmsg" | "recvfrom" | "sendmsg" | "sendto" => &[EINTR, ENOMEM, EAGAIN],
        "open" | "openat" | "openat2" | "creat" => &[EMFILE, ENOMEM, ENOSPC],
        "mkdir" | "mkdirat" | "linkat" | "symlinkat" | "mknodat" | "fallocate" => &[ENOSPC, ENOMEM],
        "socket" | "socketpair" | "pipe" | "pipe2" | "memfd_create" | "eventfd2"
        | "epoll_create1" | "signalfd4" | "pidfd_open" | "open_tree" | "fsopen" | "fsmount"
        | "fspick" | "dup" | "dup3" | "fcntl" | "inotify_init1" | "pidfd_getfd" => {
            &[EMFILE, ENOMEM]
        }
        "wait4" | "waitid" | "ppoll" | "poll" | "epoll_wait" | "epoll_pwait"
        | "clock_nanosleep" | "nanosleep" | "pselect6" | "connect" | "accept4" => &[EINTR],
        "clone" | "clone3" | "fork" | "vfork" => &[EAGAIN, ENOMEM],
        "mount" | "umount2" | "pivot_root" | "setns" | "unshare" | "move_mount"
        | "mount_setattr" | "fsconfig" | "chroot" | "setresuid" | "setresgid" | "setgroups"
        | "capset" | "prctl" | "seccomp" | "sethostname" | "setdomainname" | "kill" | "tgkill"
        | "pidfd_send_signal" | "fchown" | "fchownat" | "chown" | "ioctl" => &[EPERM, ENOMEM],
        _ => &[ENOMEM, EAGAIN],
    })
}

/// Where in the command's processes an injection landed, from a log of
/// `strace -f -e trace=NAME,execve`: the command itself, another process of
/// outlet's (the init, exec's helper, a hook), the container's application
/// (after an execve of another binary), or nowhere.
#[derive(Debug, PartialEq)]
enum Landed {
    Outlet,
    Child,
    App,
    Nowhere,
}

fn landed(log: &str, bin: &str) -> Landed {
    let mut main = None;
    let mut apps = std::collections::HashSet::new();
    let mut seen = Landed::Nowhere;
    for line in log.lines() {
        let Some((pid, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        let main = *main.get_or_insert(pid);
        let rest = rest.trim_start();
        if let Some(args) = rest.strip_prefix("execve(")
            && !args.starts_with(&format!("\"{bin}\""))
            && rest.contains(" = 0")
        {
            apps.insert(pid);
        }
        if !rest.contains("(INJECTED)") {
            continue;
        }
        let here = if apps.contains(&pid) {
            Landed::App
        } else if pid == main {
            Landed::Outlet
        } else {
            Landed::Child
        };
        // The command's own landing is the one that says most.
        if seen == Landed::Nowhere || here == Landed::Outlet {
            seen = here;
        }
    }
    seen
}

/// Whether the fault hit outlet's own write of its diagnostic (strace
/// counts per process: the N-th write of a helper and of outlet both
/// fail): then there is no line to judge, only the exit code.
fn stderr_failed(log: &str) -> bool {
    let Some(main) = log.split_whitespace().next() else {
        return false;
    };
    // Under -f strace splits a call another process interrupts: `write(2,
    // ... <unfinished ...>`, then `<... write resumed>) = -1 ... (INJECTED)`.
    // strace pads the pid column (`5169  write` but `25390 write`): the
    // pid is matched as a token, whatever its width.
    let mut pending = false;
    log.lines().any(|l| {
        let Some(call) = l.strip_prefix(main).filter(|r| r.starts_with(' ')) else {
            return false;
        };
        let call = call.trim_start();
        if call.starts_with("write(2,") {
            pending = l.contains("<unfinished ...>");
            return l.contains("(INJECTED)");
        }
        if pending && call.starts_with("<... write resumed>") {
            pending = false;
            return l.contains("(INJECTED)");
        }
        false
    })
}

/// The texts that name `errno` (nix's, the C library's, its symbol).
fn errno_texts(errno: i32) -> Vec<String> {
    let e = nix::errno::Errno::from_raw(errno);
    let io = std::io::Error::from_raw_os_error(errno).to_string();
    let io = io
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string();
    vec![e.desc().to_string(), io, format!("{e:?}")]
}

/// Why the command's failure is not one a caller can act on, if it is
/// not: its exit code, and a line naming the errno.
fn judge_failure(o: &Out, fail_code: i32, errno: i32) -> Result<(), String> {
    if o.code != Some(fail_code) {
        return Err(format!("exit {:?}, not {fail_code}", o.code));
    }
    let texts = errno_texts(errno);
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let naming = lines
        .iter()
        .filter(|l| texts.iter().any(|t| l.contains(t.as_str())))
        .count();
    if naming == 0 {
        return Err(format!("no line on stderr names {texts:?}"));
    }
    // A panic in a cloned child adds its own line (child_panic.rs).
    let others = lines
        .iter()
        .filter(|l| !l.starts_with("outlet: panicked at"))
        .count();
    if others > 1 {
        return Err(format!("{others} lines on stderr, not one"));
    }
    Ok(())
}

/// One round's verdict on how the command ended (checks 1 and 2).
fn judge(o: &Out, at: &Landed, mute: bool, fail_code: i32, errno: i32) -> Result<(), String> {
    if let Some(sig) = o.signal {
        return Err(format!("outlet died of signal {sig}"));
    }
    if mute && !o.ok() && o.code != Some(fail_code) {
        return Err(format!("exit {:?}, not {fail_code}", o.code));
    }
    if mute {
        return Ok(());
    }
    if o.ok() || *at == Landed::App || *at == Landed::Nowhere && o.code != Some(fail_code) {
        return Ok(());
    }
    judge_failure(o, fail_code, errno)
}

/// Every round of one case: count, then fail each sampled pair.
fn run_case(w: &World, case: &Case, fail_code: i32) -> Vec<String> {
    let started = Instant::now();
    let pairs = count_pairs(w, case, "FAULTS_S8", "failing");
    let pairs: Vec<_> = pairs
        .into_iter()
        .filter(|(n, _)| errnos(n).is_some())
        .collect();
    let pairs = match std::env::var("FAULTS_S8_ONLY") {
        // NAME:N,...: repeats the rounds a report names.
        Ok(only) => only
            .split(',')
            .filter_map(|p| p.split_once(':'))
            .map(|(name, n)| {
                (
                    name.to_string(),
                    n.parse().expect("FAULTS_S8_ONLY=NAME:N,..."),
                )
            })
            .collect(),
        Err(_) => {
            let budget = std::env::var("FAULTS_S8_BUDGET")
                .ok()
                .and_then(|v| v.parse().ok());
            thin(pairs, budget.unwrap_or(case.budget))
        }
    };
    let bin = w.bin.to_str().unwrap().to_string();
    let (mut rounds, mut failed, mut where_) = (0, 0, [0usize; 4]);
    let mut defects = Vec::new();
    for (name, n) in &pairs {
        let Some(list) = errnos(name) else { continue };
        let errno = list[(*n as usize) % list.len()];
        let ename = format!("{:?}", nix::errno::Errno::from_raw(errno));
        let round = format!("{} failing {name} #{n} with {ename}", case.name);
        (case.setup)(w);
        let inject = vec![
            "-e".to_string(),
            format!("trace={name},execve"),
            format!("--inject={name}:error={ename}:when={n}"),
        ];
        let traced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.traced_within(&case.args, &inject, "fault", LIMIT)
        }));
        let Ok((o, log, tracer)) = traced else {
            let log = w.t.dir.join("strace-fault.log");
            defects.push(format!(
                "{round}: hung (killed after {LIMIT:?})\nstrace:\n{}",
                tail(&log)
            ));
            let _ = w.call(&["delete", "--force", &w.id]);
            continue;
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let (at, mute) = (landed(&text, &bin), stderr_failed(&text));
        rounds += 1;
        failed += usize::from(!o.ok());
        where_[at_index(&at)] += 1;
        if let Err(why) = judge(&o, &at, mute, fail_code, errno) {
            defects.push(format!(
                "{round} (landed in {at:?}): {why}\nexit {:?} signal {:?}\nstderr: {}\nstrace:\n{}",
                o.code,
                o.signal,
                o.stderr.trim(),
                tail(&log)
            ));
        }
        check_round(w, case, &round, &o, &log, tracer);
    }
    (case.setup)(w);
    w.ok(&["delete", "--force", &w.id]);
    eprintln!(
        "{}: {rounds} rounds, {failed} failed the command; landed in outlet/child/app/nowhere \
         {where_:?}; {} defects; {:.1}s",
        case.name,
        defects.len(),
        started.elapsed().as_secs_f64()
    );
    defects
}

/// At most `budget` of `pairs`, evenly spread from an offset: 0 unless
/// `FAULTS_S8_OFFSET` names one (`pid`: this run's pid, a new sample each
/// run). The suite judges the same sample every run, so a red run is a
/// regression, not a new draw; exploring other offsets (as this session
/// did: 101, 202, 303 and CI's pid found two defects, fixed) is by hand.
/// (`count_pairs` keeps each name's first and last call, more than this
/// budget allows.)
fn thin(pairs: Vec<(String, u32)>, budget: usize) -> Vec<(String, u32)> {
    if pairs.len() <= budget || std::env::var("FAULTS_S8_EVERY").is_ok_and(|v| v == "1") {
        return pairs;
    }
    let offset = common::strace::sample_offset("FAULTS_S8");
    let k = pairs.len().div_ceil(budget);
    pairs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (i + offset).is_multiple_of(k))
        .map(|(_, p)| p)
        .collect()
}

fn at_index(at: &Landed) -> usize {
    match at {
        Landed::Outlet => 0,
        Landed::Child => 1,
        Landed::App => 2,
        Landed::Nowhere => 3,
    }
}

/// A case's world and its rounds; fails the test with every defect found.
fn fault_case(
    tag: &str,
    setup: &dyn Fn(&World),
    args: &[&str],
    allowed: &[&str],
    promise: &dyn Fn(&World, &str),
    edit: impl FnOnce(&mut serde_json::Value),
) {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, tag, edit);
    let id = t.id(tag);
    let args: Vec<String> = args
        .iter()
        .map(|a| match *a {
            "ID" => id.clone(),
            "BUNDLE" => b.dir.to_str().unwrap().to_string(),
            "PIDFILE" => pid_file(&t).to_str().unwrap().to_string(),
            _ => a.to_string(),
        })
        .collect();
    let fail_code = if args[0] == "exec" { 255 } else { 1 };
    let w = World {
        t: &t,
        bin: release_outlet(),
        strace: strace(),
        id,
        bundle: b,
    };
    let case = Case {
        name: tag,
        setup,
        args,
        allowed,
        promise,
        delete: true,
        budget: BUDGET,
    };
    let defects = run_case(&w, &case, fail_code);
    assert!(
        defects.is_empty(),
        "{tag}: {} rounds ended badly:\n{}",
        defects.len(),
        defects.join("\n\n")
    );
}

/// create's rounds start from no container: the id is taken and given
/// back first (the same id every round).
fn create_fault_case(tag: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let setup = |w: &World| {
        w.create();
        w.ok(&["delete", "--force", &w.id]);
        let _ = std::fs::remove_dir_all(w.t.root.join(".cache"));
    };
    fault_case(
        tag,
        &setup,
        &[
            "create",
            "--bundle",
            "BUNDLE",
            "--pid-file",
            "PIDFILE",
            "ID",
        ],
        &["absent", "creating", "created", "stopped"],
        &no_promise,
        edit,
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_survives_a_failing_syscall() {
    create_fault_case("create", |_| {});
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_with_limits_survives_a_failing_syscall() {
    create_fault_case("create-limits", |c| {
        c["linux"]["resources"] = json!({
            "memory": {"limit": 64 << 20},
            "cpu": {"quota": 25000, "period": 100000},
            "pids": {"limit": 64},
        });
    });
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_with_seccomp_survives_a_failing_syscall() {
    create_fault_case("create-seccomp", |c| {
        seccomp_denied::deny_unused(c);
    });
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_survives_a_failing_syscall() {
    // A start that failed leaves a container that a second start starts.
    let promise = |w: &World, status: &str| {
        if status == "created" {
            w.ok(&["start", &w.id]);
            assert_eq!(status_now(w, "start again"), "running");
        }
    };
    fault_case(
        "start",
        &created,
        &["start", "ID"],
        &["created", "running", "stopped"],
        &promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_survives_a_failing_syscall() {
    fault_case(
        "run",
        &|_| {},
        &["run", "--bundle", "BUNDLE", "ID"],
        &["absent", "creating", "created", "running", "stopped"],
        &no_promise,
        |c| sh(c, "true"),
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_detached_survives_a_failing_syscall() {
    fault_case(
        "run-d",
        &|_| {},
        &["run", "--detach", "--bundle", "BUNDLE", "ID"],
        &["absent", "creating", "created", "running", "stopped"],
        &no_promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_survives_a_failing_syscall() {
    fault_case(
        "exec",
        &created_started,
        &["exec", "ID", "true"],
        &["running"],
        &exec_promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_detached_survives_a_failing_syscall() {
    fault_case(
        "exec-d",
        &created_started,
        &[
            "exec",
            "--detach",
            "--pid-file",
            "PIDFILE",
            "ID",
            "sleep",
            "999",
        ],
        &["running"],
        &exec_promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_survives_a_failing_syscall() {
    fault_case(
        "kill",
        &created_started,
        &["kill", "--all", "ID", "USR1"],
        &["running"],
        &no_promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_survives_a_failing_syscall() {
    fault_case(
        "delete",
        &created_started,
        &["delete", "--force", "ID"],
        // "creating": a state dir whose removal failed half-way, which
        // delete --force finishes (as after a kill, crash_syscalls.rs).
        &["absent", "creating", "running", "stopped"],
        &no_promise,
        |c| c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}}),
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn pause_survives_a_failing_syscall() {
    // A failed pause leaves the container running or paused, never half
    // frozen: resume (if paused) gives a container that runs an exec.
    let promise = |w: &World, status: &str| {
        if status == "paused" {
            w.ok(&["resume", &w.id]);
        }
        assert_eq!(status_now(w, "after pause"), "running");
        w.ok(&["exec", &w.id, "true"]);
    };
    fault_case(
        "pause",
        &created_started,
        &["pause", "ID"],
        &["running", "paused"],
        &promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn resume_survives_a_failing_syscall() {
    let setup = |w: &World| {
        w.create_started();
        w.ok(&["pause", &w.id]);
    };
    // A failed resume can be repeated.
    let promise = |w: &World, status: &str| {
        if status == "paused" {
            w.ok(&["resume", &w.id]);
        }
        w.ok(&["exec", &w.id, "true"]);
    };
    fault_case(
        "resume",
        &setup,
        &["resume", "ID"],
        &["running", "paused"],
        &promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_survives_a_failing_syscall() {
    let promise = |w: &World, _: &str| {
        w.ok(&["update", "--memory", "48m", "--cpu-quota", "30000", &w.id]);
    };
    fault_case(
        "update",
        &created_started,
        &[
            "update",
            "--memory",
            "96m",
            "--cpu-quota",
            "20000",
            "--pids-limit",
            "50",
            "ID",
        ],
        &["running"],
        &promise,
        |c| {
            c["linux"]["resources"] = json!({
                "memory": {"limit": 64 << 20},
                "cpu": {"quota": 25000, "period": 100000},
                "pids": {"limit": 64},
            })
        },
    );
}

/// The calls that can block, and so really return EINTR when a signal
/// with a handler (no SA_RESTART) arrives: a read or write of a pipe, a
/// socket or a fifo, a wait, a poll, the open of a fifo.
const BLOCKING: &[&str] = &[
    "read",
    "write",
    "readv",
    "writev",
    "recvmsg",
    "recvfrom",
    "sendmsg",
    "sendto",
    "wait4",
    "waitid",
    "poll",
    "ppoll",
    "epoll_wait",
    "epoll_pwait",
    "openat",
];

/// Whether one call of a `strace -f -y` log may block: its fd is a pipe,
/// a socket or a fifo (openat: it opens one), or it waits without
/// WNOHANG.
fn may_block(name: &str, args: &str) -> bool {
    match name {
        "wait4" | "waitid" => !args.contains("WNOHANG"),
        "poll" | "ppoll" | "epoll_wait" | "epoll_pwait" => true,
        "openat" => args.contains("fifo\""),
        _ => {
            let fd = args.split(',').next().unwrap_or_default();
            fd.contains("<pipe:")
                || fd.contains("<socket:")
                || fd.contains("<UNIX")
                || fd.contains("fifo>")
        }
    }
}

/// The (name, n) pairs where every process of the command that makes its
/// n-th `name` call makes one that may block (strace's counter is per
/// process), from a `strace -f -y` log; outlet's processes only.
fn blocking_pairs(log: &str, bin: &str) -> Vec<(String, u32)> {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let mut seen: HashMap<(i32, String), u32> = HashMap::new();
    let mut verdict: BTreeMap<(String, u32), bool> = BTreeMap::new();
    let mut gone = HashSet::new();
    for line in log.lines().skip(1) {
        let Some((pid, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        let Some((name, args)) = rest.trim_start().split_once('(') else {
            continue;
        };
        if gone.contains(&pid) {
            continue;
        }
        if name == "execve" && !args.starts_with(&format!("\"{bin}\"")) {
            gone.insert(pid);
        }
        if !BLOCKING.contains(&name) {
            continue;
        }
        let n = seen.entry((pid, name.to_string())).or_default();
        *n += 1;
        let ok = verdict.entry((name.to_string(), *n)).or_insert(true);
        *ok &= may_block(name, args);
    }
    verdict
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(p, _)| p)
        .collect()
}

/// Every blocking call of the command, interrupted once (EINTR): the
/// command retries it and succeeds, with the status `after` reads.
fn eintr_case(tag: &str, setup: &dyn Fn(&World), args: &[&str], after: &str) {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, tag, |_| {});
    let id = t.id(tag);
    let args: Vec<String> = args
        .iter()
        .map(|a| match *a {
            "ID" => id.clone(),
            "BUNDLE" => b.dir.to_str().unwrap().to_string(),
            _ => a.to_string(),
        })
        .collect();
    let w = World {
        t: &t,
        bin: release_outlet(),
        strace: strace(),
        id,
        bundle: b,
    };
    setup(&w);
    let y = ["-y".to_string()];
    let (o, log, tracer) = w.traced(&args, &y, "count");
    o.expect_ok(&format!("{tag}: the counting run"));
    w.ok(&["delete", "--force", &w.id]);
    common::strace::wait_tracer(tracer, tag);
    let text = std::fs::read_to_string(&log).unwrap();
    let pairs = blocking_pairs(&text, w.bin.to_str().unwrap());
    eprintln!(
        "{tag}: interrupting {} blocking calls: {pairs:?}",
        pairs.len()
    );
    assert!(!pairs.is_empty(), "{tag}: no blocking call seen");
    let mut defects = Vec::new();
    for (name, n) in &pairs {
        let round = format!("{tag}: {name} #{n} interrupted");
        setup(&w);
        let inject = vec![
            "-y".to_string(),
            "-e".to_string(),
            format!("trace={name}"),
            format!("--inject={name}:error=EINTR:when={n}"),
        ];
        let (o, log, tracer) = w.traced_within(&args, &inject, "eintr", LIMIT);
        let status = status_now(&w, &round);
        if !o.ok() || status != after {
            defects.push(format!(
                "{round}: exit {:?} signal {:?}, state {status}\nstderr: {}\nstrace:\n{}",
                o.code,
                o.signal,
                o.stderr.trim(),
                tail(&log)
            ));
        }
        let d = w.call(&["delete", "--force", &w.id]);
        assert!(
            d.ok() || d.stderr.contains("does not exist"),
            "{round}: {d:#?}"
        );
        common::strace::wait_tracer(tracer, &round);
        let left = t.settle();
        assert!(left.is_empty(), "{round}: left behind: {left:#?}");
    }
    assert!(
        defects.is_empty(),
        "{tag}: {} interrupted calls were not retried:\n{}",
        defects.len(),
        defects.join("\n\n")
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn eintr_is_retried_by_create() {
    eintr_case(
        "eintr-create",
        &|_| {},
        &["create", "--bundle", "BUNDLE", "ID"],
        "created",
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn eintr_is_retried_by_start() {
    eintr_case("eintr-start", &created, &["start", "ID"], "running");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn eintr_is_retried_by_run_detached() {
    eintr_case(
        "eintr-run-d",
        &|_| {},
        &["run", "--detach", "--bundle", "BUNDLE", "ID"],
        "running",
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn eintr_is_retried_by_exec() {
    eintr_case(
        "eintr-exec",
        &created_started,
        &["exec", "--detach", "ID", "sleep", "999"],
        "running",
    );
}

/// The controls of the checks above, on real faulted rounds. (1) A create
/// whose state.json cannot be renamed into place (ENOSPC) fails, and the judge takes
/// its line; the same output judged against another errno, or another
/// exit code, is refused. (2) A create that survived a fault (a ninth
/// linkat's) leaves its container: without the round's `delete --force`,
/// `check_round` reports its init as a process left behind.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_the_checks_refuse_a_bad_round() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "ctl", |_| {});
    let id = t.id("ctl");
    let pid = pid_file(&t);
    let args: Vec<String> = [
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--pid-file",
        pid.to_str().unwrap(),
        &id,
    ]
    .map(String::from)
    .to_vec();
    let w = World {
        t: &t,
        bin: release_outlet(),
        strace: strace(),
        id,
        bundle: b,
    };
    let bin = w.bin.to_str().unwrap().to_string();
    let inject = |spec: &str| {
        let name = spec.split(':').next().unwrap();
        vec![
            "-e".to_string(),
            format!("trace={name},execve"),
            format!("--inject={spec}"),
        ]
    };
    // (1) The judge.
    let (o, log, tracer) = w.traced(&args, &inject("rename:error=ENOSPC:when=1"), "ctl");
    let at = landed(&std::fs::read_to_string(&log).unwrap(), &bin);
    assert_eq!(at, Landed::Outlet, "{o:#?}");
    assert_eq!(o.code, Some(1), "create did not fail: {o:#?}");
    judge(&o, &at, false, 1, libc::ENOSPC).unwrap_or_else(|e| panic!("{e}: {o:#?}"));
    assert!(
        judge(&o, &at, false, 1, libc::EMFILE).is_err(),
        "another errno passed"
    );
    assert!(
        judge(&o, &at, false, 255, libc::ENOSPC).is_err(),
        "exit 255 passed"
    );
    let case = Case {
        name: "control",
        setup: &|_| {},
        args: args.clone(),
        allowed: &["absent", "created"],
        promise: &no_promise,
        delete: true,
        budget: 1,
    };
    check_round(&w, &case, "control (1)", &o, &log, tracer);
    let case = Case {
        args: Vec::new(),
        ..case
    };
    // (2) check_round, with and without the round's delete.
    for delete in [false, true] {
        let (o, log, tracer) = w.traced(&args, &inject("linkat:error=EINTR:when=9"), "ctl");
        o.expect_ok("a create whose fault landed nowhere");
        let case = Case {
            delete,
            args: args.clone(),
            ..case
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_round(&w, &case, "control (2)", &o, &log, tracer)
        }));
        if delete {
            assert!(r.is_ok(), "the same round with delete --force failed");
        } else {
            let msg = r.expect_err("the checks passed with the container left");
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            // The first check to fire: the container's init, a process
            // of the traced command, outlived the round.
            assert!(msg.contains("outlived delete --force"), "{msg}");
            assert!(msg.contains(&w.id), "{msg}");
            w.ok(&["delete", "--force", &w.id]);
            let left = t.settle();
            assert!(left.is_empty(), "control: {left:?}");
        }
    }
}

/// The judge's own parser: strace pads the pid column, so a 4-digit pid
/// is followed by two spaces (a 5-digit one by one); the full run of
/// session 9 met that after the machine's pids wrapped. Control: a
/// helper's failed write, or outlet's write that went through, is not
/// outlet's diagnostic lost.
#[test]
fn stderr_failed_reads_any_pid_width() {
    let exec = "5169  execve(\"/x/outlet\", [...]) = 0\n";
    for (log, lost) in [
        (
            "5169  write(2, \"outlet: e\"..., 128) = -1 ENOSPC (No space left on device) (INJECTED)\n",
            true,
        ),
        (
            "5169 write(2, \"outlet: e\"..., 128) = -1 ENOSPC (No space left on device) (INJECTED)\n",
            true,
        ),
        (
            "5169  write(2, \"outlet: e\"... <unfinished ...>\n5169  <... write resumed>) = -1 EIO (Input/output error) (INJECTED)\n",
            true,
        ),
        (
            "5176  write(2, \"x\", 1) = -1 ENOSPC (No space left on device) (INJECTED)\n",
            false,
        ),
        ("5169  write(2, \"outlet: e\"..., 128) = 128\n", false),
        (
            "51690 write(2, \"outlet: e\"..., 128) = -1 EIO (Input/output error) (INJECTED)\n",
            false,
        ),
    ] {
        assert_eq!(stderr_failed(&format!("{exec}{log}")), lost, "{log}");
    }
}

//! Crash injection at every syscall: the *release* binary (the one users
//! run, without the debug builds' named fault points of tests/crash.rs) is
//! SIGKILLed by strace at each system call of a command that changes
//! state, and after every kill the invariants its callers rely on must
//! hold:
//!
//! - `state ID` reads a valid status (or says the container does not
//!   exist or is being created, where that can be true), never a damaged
//!   record;
//! - the command's own promise (below, per command: a killed `start`
//!   leaves a container that a second `start` starts, a killed `pause` one
//!   that `resume` thaws, a killed `exec` no process of outlet's left
//!   half-joined in the container's cgroup or namespaces, ...);
//! - `delete --force ID` exits 0, and afterwards nothing is left: no state
//!   dir, no cgroup directory in any hierarchy, no process the command
//!   started (every process strace traced is gone, which is what lets
//!   strace exit), no host mount, no stray file in the seccomp cache;
//! - the same id can be created again at once.
//!
//! How a kill lands on "every syscall": strace counts injections per
//! syscall *name* and per process (`--inject=all:when=N` kills at the
//! first syscall that is some name's N-th, not at the N-th syscall), so one
//! counting run (`strace -f`) lists, for each syscall name, the most
//! invocations any one process of the command made, and each kill run is
//! `--inject=NAME:signal=SIGKILL:when=N` for one (NAME, N) pair: together
//! they stop the command at each of its syscalls. Every process of the
//! command that reaches its own N-th NAME dies there too (the init and the
//! exec helper with outlet), which is a crash as real as any. To keep a
//! command under about a minute on a loaded 2-core machine, a run kills
//! at a sample (240 pairs for create and run, 120 for the others): every k-th
//! pair, and the first and last of each name always (every kind of
//! syscall is killed at least once), from an offset that changes from run
//! to run and is printed; `CRASH_SYSCALLS_EVERY=1` takes every pair,
//! `CRASH_SYSCALLS_BUDGET=N` sets the number of kills per command and
//! `CRASH_SYSCALLS_OFFSET=N` repeats a run's sample.

mod common;

use std::time::{Duration, Instant};

use common::seccomp_denied;
use common::strace::{
    Case, World, check_round, count_pairs, created, created_started, exec_promise, half_joined,
    no_promise, pid_file, release_outlet, sleeper, status_now, strace,
};
use common::{Bundle, T, sh};
use serde_json::json;

/// Kills per command when the environment does not say: a create round
/// costs about a third of one that first makes and starts a container.
const CREATE_BUDGET: usize = 240;
const DEFAULT_BUDGET: usize = 120;

/// Every round of one case: count, then kill at each sampled pair.
fn run_case(t: &T, bundle: Bundle, case: &Case) {
    let w = World {
        t,
        bin: release_outlet(),
        strace: strace(),
        id: t.id(case.name),
        bundle,
    };
    let started = Instant::now();
    let pairs = count_pairs(&w, case, "CRASH_SYSCALLS", "killing");
    // Rounds where the command itself died, where only another of its
    // processes did (the init, the exec helper), and where no kill landed
    // (a call that run made fewer times than the counting run).
    let (mut command, mut other, mut none) = (0, 0, Vec::new());
    // Names some round's kill landed at: the injection works for them.
    let mut landed = std::collections::BTreeSet::new();
    for (name, n) in &pairs {
        let round = format!("{} killed at {name} #{n}", case.name);
        (case.setup)(&w);
        let inject = vec![
            "-e".to_string(),
            format!("trace={name}"),
            format!("--inject={name}:signal=SIGKILL:when={n}"),
        ];
        let (o, log, tracer) = w.traced(&case.args, &inject, "kill");
        if o.signal == Some(libc::SIGKILL) {
            command += 1;
            landed.insert(name.clone());
        } else if std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("+++ killed by SIGKILL +++")
        {
            other += 1;
            landed.insert(name.clone());
        } else {
            none.push((name.clone(), *n));
        }
        check_round(&w, case, &round, &o, &log, tracer);
    }
    // The id once more after the last round.
    (case.setup)(&w);
    w.ok(&["delete", "--force", &w.id]);
    eprintln!(
        "{}: {command} rounds killed the command, {other} another of its processes, {} none \
         ({:?}); {:.1}s",
        case.name,
        none.len(),
        none,
        started.elapsed().as_secs_f64()
    );
    // Polling loops (a death, a freeze) run a varying number of times:
    // under load the counting run can poll twice as often as a round, and
    // its later calls of those names are then not reached. A miss at a
    // name whose kill landed in another round is that; a name no kill
    // ever landed at is the counting run differing from the rounds.
    let unexplained: Vec<_> = none
        .iter()
        .filter(|(name, _)| !landed.contains(name))
        .collect();
    assert!(
        unexplained.len() * 4 <= pairs.len(),
        "{}: too many kills did not land ({} of {}, at names no kill ever landed at: \
         {unexplained:?}): the counting run is not what the rounds run",
        case.name,
        none.len(),
        pairs.len()
    );
}

fn create_case(tag: &str, fresh_cache: bool, edit: impl FnOnce(&mut serde_json::Value)) {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, tag, edit);
    let pid_file = pid_file(&t);
    let args = vec![
        "create".to_string(),
        "--bundle".into(),
        b.dir.to_str().unwrap().into(),
        "--pid-file".into(),
        pid_file.to_str().unwrap().into(),
        t.id(tag),
    ];
    // The id is taken again (and given back) right after the last
    // round's clean-up. Then, for the seccomp case, a cache miss: the
    // compiled filter is written (and so killed mid-write) every round,
    // not only in the first.
    let cache = t.root.join(".cache");
    let setup = move |w: &World| {
        w.create();
        w.ok(&["delete", "--force", &w.id]);
        if fresh_cache {
            let _ = std::fs::remove_dir_all(&cache);
        }
    };
    let case = Case {
        name: tag,
        setup: &setup,
        args,
        allowed: &["absent", "creating", "created", "stopped"],
        promise: &no_promise,
        delete: true,
        budget: CREATE_BUDGET,
    };
    run_case(&t, b, &case);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_killed_at_any_syscall() {
    create_case("create", false, |_| {});
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_with_limits_killed_at_any_syscall() {
    create_case("create-limits", false, |c| {
        c["linux"]["resources"] = json!({
            "memory": {"limit": 64 << 20},
            "cpu": {"quota": 25000, "period": 100000},
        });
    });
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_with_seccomp_killed_at_any_syscall() {
    create_case("create-seccomp", true, |c| {
        seccomp_denied::deny_unused(c);
    });
}

/// A case on a container made by `setup` (the release binary, not
/// traced), killed in `args` (ID is replaced by the container's id).
fn lifecycle_case(
    tag: &str,
    setup: &dyn Fn(&World),
    args: &[&str],
    allowed: &[&str],
    promise: &dyn Fn(&World, &str),
    edit: impl FnOnce(&mut serde_json::Value),
) {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, tag, edit);
    let id = format!("{}-{tag}", t.token);
    // run's rounds make their container themselves: create's cost.
    let budget = if args[0] == "run" {
        CREATE_BUDGET
    } else {
        DEFAULT_BUDGET
    };
    let args: Vec<String> = args
        .iter()
        .map(|a| match *a {
            "ID" => id.clone(),
            "BUNDLE" => b.dir.to_str().unwrap().to_string(),
            "PIDFILE" => pid_file(&t).to_str().unwrap().to_string(),
            _ => a.to_string(),
        })
        .collect();
    let case = Case {
        name: tag,
        setup,
        args,
        allowed,
        promise,
        delete: true,
        budget,
    };
    run_case(&t, b, &case);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_killed_at_any_syscall() {
    // A container still "created" after the kill starts with a second
    // `start`, as a caller retrying it expects.
    let promise = |w: &World, status: &str| {
        if status == "created" {
            w.ok(&["start", &w.id]);
            assert_eq!(status_now(w, "start again"), "running");
        }
    };
    lifecycle_case(
        "start",
        &created,
        &["start", "ID"],
        &["created", "running"],
        &promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_killed_at_any_syscall() {
    lifecycle_case(
        "delete",
        &created_started,
        &["delete", "--force", "ID"],
        &["absent", "creating", "running", "stopped"],
        &no_promise,
        |c| c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}}),
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_killed_at_any_syscall() {
    // `sleep` as the pid namespace's init ignores SIGUSR1 (no handler):
    // the container stays up, so `kill --all` walks the cgroup each round.
    lifecycle_case(
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
fn pause_killed_at_any_syscall() {
    // Half a freeze is not a state: whatever `state` reads, `resume`
    // (when paused) or nothing at all (when running) leaves the container
    // running and its processes not frozen.
    let promise = |w: &World, status: &str| {
        if status == "paused" {
            w.ok(&["resume", &w.id]);
        }
        assert_eq!(status_now(w, "after pause"), "running");
        w.ok(&["exec", &w.id, "true"]);
    };
    lifecycle_case(
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
fn resume_killed_at_any_syscall() {
    let setup = |w: &World| {
        w.create_started();
        w.ok(&["pause", &w.id]);
    };
    // delete --force of a paused container thaws it first: checked by
    // every round's clean-up.
    lifecycle_case(
        "resume",
        &setup,
        &["resume", "ID"],
        &["running", "paused"],
        &no_promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_killed_at_any_syscall() {
    // A second update after the kill works, and writes what it says.
    let promise = |w: &World, _: &str| {
        w.ok(&["update", "--memory", "48m", "--cpu-quota", "30000", &w.id]);
    };
    lifecycle_case(
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

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_killed_at_any_syscall() {
    // Foreground: the container runs a moment and exits 3; `run` deletes
    // it then.
    lifecycle_case(
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
fn run_detached_killed_at_any_syscall() {
    lifecycle_case(
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
fn exec_detached_killed_at_any_syscall() {
    lifecycle_case(
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
fn exec_killed_at_any_syscall() {
    lifecycle_case(
        "exec",
        &created_started,
        &["exec", "ID", "true"],
        &["running"],
        &exec_promise,
        |_| {},
    );
}

/// The control of every case above: a create killed once its init exists
/// and is on record (at the pid file's link, after state.json), with the
/// round's `delete --force` left out, fails the round's checks; the same
/// round with it passes.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_a_kill_not_cleaned_up_fails_the_checks() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "ctl", |_| {});
    let id = t.id("ctl");
    let args: Vec<String> = ["create", "--bundle", b.dir.to_str().unwrap(), "--pid-file"]
        .iter()
        .map(|s| s.to_string())
        .chain([pid_file(&t).to_str().unwrap().to_string(), id.clone()])
        .collect();
    let w = World {
        t: &t,
        bin: release_outlet(),
        strace: strace(),
        id,
        bundle: b,
    };
    let inject = [
        "-e",
        "trace=linkat",
        "--inject=linkat:signal=SIGKILL:when=1",
    ]
    .map(String::from);
    for delete in [false, true] {
        let case = Case {
            name: "control",
            setup: &|_| {},
            args: args.clone(),
            allowed: &["created", "stopped"],
            promise: &no_promise,
            delete,
            budget: 1,
        };
        let (o, log, tracer) = w.traced(&case.args, &inject, "control");
        assert_eq!(o.signal, Some(libc::SIGKILL), "not killed: {o:#?}");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_round(&w, &case, "control", &o, &log, tracer)
        }));
        if delete {
            assert!(r.is_ok(), "the same round with delete --force failed");
        } else {
            let msg = r.expect_err("the checks passed with the container left");
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains("left behind"), "{msg}");
            assert!(msg.contains("state dir") && msg.contains("cgroup"), "{msg}");
            w.ok(&["delete", "--force", &w.id]);
        }
    }
}

/// The control of `half_joined`: a process put into the container's
/// mount namespace from outside (nsenter, no fork: it stays in our
/// cgroups) is reported, and nothing is once it is gone.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_half_joined_sees_a_process_outside_the_cgroup() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "hj", |_| {});
    let w = World {
        t: &t,
        bin: release_outlet(),
        strace: strace(),
        id: t.id("hj"),
        bundle: b,
    };
    w.create_started();
    let init = w.call(&["state", &w.id]).json()["pid"].as_i64().unwrap() as i32;
    assert!(
        half_joined(&w, init).is_empty(),
        "before: {:?}",
        half_joined(&w, init)
    );
    let mut intruder = std::process::Command::new("nsenter")
        .args(["-t", &init.to_string(), "-m", "-F", "--", "sleep", "1000"])
        .spawn()
        .expect("nsenter");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while seen.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        seen = half_joined(&w, init);
    }
    let _ = intruder.kill();
    let _ = intruder.wait();
    assert!(
        seen.iter()
            .any(|s| s.starts_with(&format!("{} ", intruder.id()))),
        "not seen: {seen:?}"
    );
    assert!(
        half_joined(&w, init).is_empty(),
        "after: {:?}",
        half_joined(&w, init)
    );
    w.ok(&["delete", "--force", &w.id]);
}

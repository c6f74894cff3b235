//! The caller killed mid-way (a shim or conmon that crashed, a kubelet
//! that gave up), at a drawn instant of the command's run, and what the
//! next caller then finds; a caller killed while another waits for the
//! same container; many containers made and removed at once under one
//! state root, the seccomp cache written by several creates at once.
//! The timing is seeded as in races_s9.rs (`RACES_S9_SEED`,
//! `RACES_S9_ROUNDS`). After every kill:
//!
//! - a fresh `state ID` explains the container: a status, or "does not
//!   exist", or "is being created" (a create killed before its record);
//!   one line, never a JSON error or a crash;
//! - the command's promise to a retrying caller holds (a second `start`
//!   starts a still-created container, `resume` thaws a paused one, a
//!   second `update` and `exec` work);
//! - `delete --force` exits 0 and leaves nothing (no state dir, cgroup in
//!   any hierarchy, process, mount, cache stray), and the id can be
//!   created again at once.

mod common;

use std::time::Duration;

use common::races::{
    Running, clean, create, create_started, judge, rounds, seeded, sleeper, spawn, status,
};
use common::seccomp_denied;
use common::{Bundle, T};
use serde_json::json;

/// What `state` may say after a kill, and the one-line failures it may
/// give instead.
fn explained(t: &T, id: &str, round: &str) -> String {
    let o = t.outlet(&["state", id]);
    if o.ok() {
        let v = o.json();
        let s = v["status"].as_str().unwrap_or("?").to_string();
        assert!(
            ["creating", "created", "running", "paused", "stopped"].contains(&s.as_str()),
            "{round}: state reads {s:?}: {o:#?}"
        );
        return s;
    }
    judge(round, &o, &[1], &["does not exist", "is being created"]);
    if o.stderr.contains("does not exist") {
        "absent".into()
    } else {
        "creating".into()
    }
}

/// How long `args` takes when nobody kills it (after `setup`), so that the
/// kills spread over the whole run.
fn measure(t: &T, id: &str, setup: &dyn Fn(), args: &[&str]) -> Duration {
    setup();
    let (o, took) = spawn(t, args, &[]).finish_timed();
    o.expect_ok("the command, not killed");
    clean(t, id, "after measuring");
    took
}

/// One command killed at drawn instants: `setup` makes the container,
/// `promise` checks what a retrying caller relies on (given the status
/// the fresh `state` read).
fn killed_mid_way(
    test: &str,
    setup: &dyn Fn(&T, &str),
    args: &[&str],
    allowed: &[&str],
    promise: &dyn Fn(&T, &str, &str),
) {
    let Some(t) = T::new() else { return };
    let mut rng = seeded(test);
    let id = t.id(test);
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "ID" { id.as_str() } else { a })
        .collect();
    let took = measure(&t, &id, &|| setup(&t, &id), &args);
    let span = took.as_micros() as u64;
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for r in 0..rounds(8) {
        setup(&t, &id);
        let delay = rng.delay(span);
        let round = format!("{test}: killed after {delay:?} (round {r})");
        let mut run: Running = spawn(&t, &args, &[]);
        std::thread::sleep(delay);
        let _ = run.child.kill();
        let o = run.finish();
        let s = explained(&t, &id, &round);
        assert!(allowed.contains(&s.as_str()), "{round}: {s}: {o:#?}");
        promise(&t, &id, &s);
        *seen.entry(s).or_default() += 1;
        clean(&t, &id, &round);
    }
    // The id is taken again at once.
    setup(&t, &id);
    clean(&t, &id, "the id again");
    eprintln!("{test}: one run {took:?}; states after the kills: {seen:?}");
}

fn none(_: &T, _: &str, _: &str) {}

fn made(b: Bundle) -> impl Fn(&T, &str) {
    move |t, id| create(t, &b, id)
}

fn started(b: Bundle) -> impl Fn(&T, &str) {
    move |t, id| create_started(t, &b, id)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_killed_then_next_caller() {
    let t0 = T::new().unwrap();
    let b = sleeper(&t0, "kc");
    let bd = b.dir.to_str().unwrap().to_string();
    // The measured create makes the container its setup deletes first.
    killed_mid_way(
        "kc",
        &|_, _| {},
        &["create", "--bundle", &bd, "ID"],
        &["absent", "creating", "created", "stopped"],
        &none,
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_killed_then_next_caller() {
    let t0 = T::new().unwrap();
    let b = sleeper(&t0, "ks");
    killed_mid_way(
        "ks",
        &made(b),
        &["start", "ID"],
        &["created", "running"],
        &|t, id, s| {
            if s == "created" {
                t.outlet(&["start", id]).expect_ok("start again");
                assert_eq!(status(t, id, "start again"), "running");
            }
        },
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_killed_then_next_caller() {
    let t0 = T::new().unwrap();
    let b = sleeper(&t0, "ke");
    killed_mid_way(
        "ke",
        &started(b),
        &["exec", "ID", "sleep", "0.1"],
        &["running"],
        &|t, id, _| {
            t.outlet(&["exec", id, "true"]).expect_ok("exec again");
        },
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_killed_then_next_caller() {
    let t0 = T::new().unwrap();
    let b = t0.bundle("kd", |c| {
        common::sh(c, "exec sleep 1000");
        c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}});
    });
    killed_mid_way(
        "kd",
        &started(b),
        &["delete", "--force", "ID"],
        &["absent", "creating", "running", "stopped"],
        &none,
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn pause_killed_then_next_caller() {
    let t0 = T::new().unwrap();
    let b = sleeper(&t0, "kp");
    killed_mid_way(
        "kp",
        &started(b),
        &["pause", "ID"],
        &["running", "paused"],
        &|t, id, s| {
            if s == "paused" {
                t.outlet(&["resume", id]).expect_ok("resume");
            }
            assert_eq!(status(t, id, "after pause"), "running");
            t.outlet(&["exec", id, "true"])
                .expect_ok("exec after pause");
        },
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_killed_then_next_caller() {
    let t0 = T::new().unwrap();
    let b = t0.bundle("ku", |c| {
        common::sh(c, "exec sleep 1000");
        c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 64}});
    });
    killed_mid_way(
        "ku",
        &started(b),
        &["update", "--memory", "96m", "--pids-limit", "50", "ID"],
        &["running"],
        &|t, id, _| {
            t.outlet(&["update", "--memory", "48m", id])
                .expect_ok("update again");
        },
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_detached_killed_then_next_caller() {
    let t0 = T::new().unwrap();
    let b = sleeper(&t0, "kr");
    let bd = b.dir.to_str().unwrap().to_string();
    killed_mid_way(
        "kr",
        &|_, _| {},
        &["run", "--detach", "--bundle", &bd, "ID"],
        &["absent", "creating", "created", "running", "stopped"],
        &none,
    );
}

/// A caller killed while a second one waits for the same container (the
/// lock goes with the killed process): the waiter goes on and gives a
/// clear answer, and nothing is left.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn killed_while_another_waits() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("killed_while_another_waits");
    let b = sleeper(&t, "kw");
    let id = t.id("kw");
    let bd = b.dir.to_str().unwrap();
    let words = &[
        "does not exist",
        "is being created",
        "already running",
        "stopped",
    ];
    for r in 0..rounds(8) {
        // create killed while a delete --force waits; delete --force
        // killed while another waits; start killed while another waits.
        let (first, second, setup): (Vec<&str>, Vec<&str>, u8) = match r % 3 {
            0 => (
                vec!["create", "--bundle", bd, &id],
                vec!["delete", "--force", &id],
                0,
            ),
            1 => (
                vec!["delete", "--force", &id],
                vec!["delete", "--force", &id],
                2,
            ),
            _ => (vec!["start", &id], vec!["start", &id], 1),
        };
        if setup >= 1 {
            create(&t, &b, &id);
        }
        if setup == 2 {
            t.outlet(&["start", &id]).expect_ok("start");
        }
        let round = format!("{first:?} killed while {second:?} waits (round {r})");
        let mut a = spawn(&t, &first, &[]);
        std::thread::sleep(rng.delay(3000));
        let w = spawn(&t, &second, &[]);
        std::thread::sleep(rng.delay(30000));
        let _ = a.child.kill();
        let _ = a.finish();
        let o = w.finish();
        judge(&round, &o, &[1], words);
        explained(&t, &id, &round);
        clean(&t, &id, &round);
    }
}

/// Containers made, started and removed by several callers at once under
/// one state root, all with one seccomp profile, the cache empty at first:
/// every command succeeds, `list` always reads whole, and a reader of the
/// cache never sees a partial entry (`<u64 key length><key><program>`,
/// the program whole 8-byte instructions).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn many_containers_one_root() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("many", |c| {
        common::sh(c, "exec sleep 1000");
        seccomp_denied::deny_unused(c);
    });
    let (callers, each) = (4, rounds(8) / 2);
    let ids: Vec<Vec<String>> = (0..callers)
        .map(|c| (0..each).map(|i| t.id(&format!("m{c}-{i}"))).collect())
        .collect();
    let cache = t.root.join(".cache").join("seccomp");
    let done = std::sync::atomic::AtomicBool::new(false);
    let entries_seen = std::thread::scope(|s| {
        let reader = s.spawn(|| read_cache_while(&cache, &done));
        let lister = s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let l = t.outlet(&["list", "--format", "json"]);
                judge("list while many run", &l, &[], &[]);
                let _: serde_json::Value = serde_json::from_str(l.stdout.trim())
                    .unwrap_or_else(|e| panic!("list is not JSON ({e}): {l:#?}"));
            }
        });
        let workers: Vec<_> = ids
            .iter()
            .map(|mine| {
                let (t, b) = (&t, &b);
                s.spawn(move || {
                    for id in mine {
                        create_started(t, b, id);
                        t.outlet(&["exec", id, "true"]).expect_ok("exec");
                        let d = t.outlet(&["delete", "--force", id]);
                        judge("delete of many", &d, &[], &[]);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        lister.join().unwrap();
        reader.join().unwrap()
    });
    assert!(entries_seen > 0, "the reader never saw a cache entry");
    eprintln!(
        "many: {} containers; {entries_seen} whole cache reads",
        callers * each
    );
    let left = t.settle();
    assert!(left.is_empty(), "left behind: {left:#?}");
    let strays = common::strace::cache_strays(&t);
    assert!(strays.is_empty(), "cache strays: {strays:?}");
}

/// Reads every entry of the cache over and over until `done`; panics on
/// one that is not whole. Returns how many whole reads it made.
fn read_cache_while(dir: &std::path::Path, done: &std::sync::atomic::AtomicBool) -> usize {
    let mut whole = 0;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".bpf") {
                continue;
            }
            let Ok(bytes) = std::fs::read(e.path()) else {
                continue;
            };
            let key = bytes
                .get(..8)
                .map(|k| u64::from_le_bytes(k.try_into().unwrap()) as usize);
            let program = key.and_then(|k| bytes.len().checked_sub(8 + k));
            assert!(
                program.is_some_and(|p| p > 0 && p % 8 == 0),
                "cache entry {name}: {} bytes, key length {key:?}: not whole",
                bytes.len()
            );
            whole += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    whole
}

//! Two callers on one container at once, and a caller killed mid-way, as
//! containerd's shim, conmon, kubelet's retries and docker's restart
//! policy cause every day. Each test runs many rounds on a real container;
//! the timing between the two commands is drawn from a seeded generator
//! (the seed is printed; `RACES_S9_SEED=N` repeats a run, `pid` draws a
//! new one; CI uses the fixed default) and `RACES_S9_ROUNDS=N` sets the
//! rounds. After every round:
//!
//! - no command hung (each has a limit) or died of a signal;
//! - every command exited 0 or 1 (exec's own failure: 255), and a failure
//!   says why in one stderr line, with the words callers match
//!   ("does not exist", "with id exists", "not running", ...);
//! - no two outcomes contradict (two starts, or two creates of one id,
//!   both 0; a delete and a start of a created container both 0);
//! - `delete --force` leaves nothing: no state dir, cgroup, process,
//!   mount, stray file.
//!
//! What this found, each with a control that shows the test sees it:
//! a command that waited for the lock of a container whose holder deleted
//! it acted on the removed directory (`delete_vs_delete`, control
//! OUTLET_LOCK_STALE_DIR=1); a create whose fresh dir was force-deleted
//! before it locked it, and taken by another create, removed the other's
//! dir in its undo (`create_delete_create_in_the_mkdir_window`, control
//! OUTLET_UNDO_ANY_DIR=1); a lookup racing a create from scratch gave a
//! raw ENOENT (`lookup_of_an_id_created_meanwhile`, control
//! OUTLET_LOOKUP_BY_EXISTS=1); an exec helper in the cgroups when a
//! `delete --force` ran left them behind (`exec_helper_in_the_cgroup_while_delete_runs`,
//! control OUTLET_CGROUP_LEAVE_BUSY=1). Callers killed mid-way:
//! races_s9_kill.rs (which found a killed `pause` leaving a FREEZING
//! freezer that read "running").

mod common;

use std::time::{Duration, Instant};

use common::pause::Pause;
use common::races::{
    Running, clean, create, create_started, judge, pair, rounds, seeded, sleeper, spawn, status,
};
use common::{T, sh};
use serde_json::json;

const GONE: &[&str] = &["does not exist"];

/// Two `delete --force` at once both exit 0 (a force-delete of a
/// container that is gone is no error, also when it went a moment ago),
/// and a plain `delete` that lost the race says "does not exist", the
/// words the shim ignores, not "is being created".
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_vs_delete() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("delete_vs_delete");
    let b = sleeper(&t, "dd");
    let id = t.id("dd");
    for r in 0..rounds(8) {
        let round = format!("delete vs delete, round {r}");
        create_started(&t, &b, &id);
        let (x, y) = pair(
            &t,
            &mut rng,
            &["delete", "--force", &id],
            &["delete", "--force", &id],
            3000,
        );
        judge(&round, &x, &[], &[]);
        judge(&round, &y, &[], &[]);
        // Plain deletes of a stopped container: one wins, the other
        // finds nothing.
        create(&t, &b, &id);
        t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
        let (x, y) = pair(&t, &mut rng, &["delete", &id], &["delete", &id], 3000);
        judge(&round, &x, &[1], GONE);
        judge(&round, &y, &[1], GONE);
        assert!(
            x.ok() != y.ok(),
            "{round}: not exactly one delete won: {x:#?} {y:#?}"
        );
        clean(&t, &id, &round);
    }
}

/// The control: with the waiter's look at the dir switched off
/// (OUTLET_LOCK_STALE_DIR=1, debug builds), a command that waited for a
/// delete acts on the removed dir and says the container "is being
/// created". Seen within the rounds, or the test above proves nothing.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_vs_delete_control_without_the_fix() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "ddc");
    let id = t.id("ddc");
    let mut seen = None;
    for r in 0..20 {
        create_started(&t, &b, &id);
        let env = [("OUTLET_LOCK_STALE_DIR", "1")];
        let x = spawn(&t, &["delete", "--force", &id], &env);
        let y = spawn(&t, &["kill", &id, "KILL"], &env);
        let z = spawn(&t, &["delete", "--force", &id], &env);
        let outs = [x.finish(), y.finish(), z.finish()];
        if let Some(o) = outs.iter().find(|o| o.stderr.contains("is being created")) {
            seen = Some((r, o.stderr.clone()));
            clean(&t, &id, "control");
            break;
        }
        clean(&t, &id, "control");
    }
    let (r, said) = seen.expect("the control never saw a removed dir acted on");
    eprintln!("control: round {r}: {}", said.trim());
}

/// `delete --force` and `kill KILL` at once: the delete always wins (0),
/// the kill finds the container killed or gone.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_force_vs_kill() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("delete_force_vs_kill");
    let b = sleeper(&t, "dk");
    let id = t.id("dk");
    for r in 0..rounds(8) {
        let round = format!("delete --force vs kill, round {r}");
        create_started(&t, &b, &id);
        let (d, k) = pair(
            &t,
            &mut rng,
            &["delete", "--force", &id],
            &["kill", &id, "KILL"],
            5000,
        );
        judge(&round, &d, &[], &[]);
        judge(&round, &k, &[1], &["does not exist", "not running"]);
        assert_eq!(status(&t, &id, &round), "absent", "{round}");
        clean(&t, &id, &round);
    }
}

/// `start` and `kill KILL` of a created container: whatever the order,
/// the container ends stopped, and a start that lost says so.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_vs_start() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("kill_vs_start");
    let b = sleeper(&t, "ks");
    let id = t.id("ks");
    for r in 0..rounds(8) {
        let round = format!("kill vs start, round {r}");
        create(&t, &b, &id);
        let (s, k) = pair(&t, &mut rng, &["start", &id], &["kill", &id, "KILL"], 5000);
        judge(&round, &s, &[1], &["stopped", "exited before start"]);
        judge(&round, &k, &[], &[]);
        assert_eq!(status(&t, &id, &round), "stopped", "{round}");
        clean(&t, &id, &round);
    }
}

/// Two `start`s of one created container: exactly one starts it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_vs_start() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("start_vs_start");
    let b = sleeper(&t, "ss");
    let id = t.id("ss");
    for r in 0..rounds(8) {
        let round = format!("start vs start, round {r}");
        create(&t, &b, &id);
        let (x, y) = pair(&t, &mut rng, &["start", &id], &["start", &id], 3000);
        judge(&round, &x, &[1], &["already running"]);
        judge(&round, &y, &[1], &["already running"]);
        assert!(
            x.ok() != y.ok(),
            "{round}: not exactly one start: {x:#?} {y:#?}"
        );
        assert_eq!(status(&t, &id, &round), "running", "{round}");
        clean(&t, &id, &round);
    }
}

/// `start` and a plain `delete` of a created container: one of them, not
/// both (a deleted container cannot start, a started one is not deleted
/// without --force).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_vs_delete() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("start_vs_delete");
    let b = sleeper(&t, "sd");
    let id = t.id("sd");
    for r in 0..rounds(8) {
        let round = format!("start vs delete, round {r}");
        create(&t, &b, &id);
        let (s, d) = pair(&t, &mut rng, &["start", &id], &["delete", &id], 5000);
        judge(&round, &s, &[1], GONE);
        judge(&round, &d, &[1], &["not stopped"]);
        assert!(s.ok() != d.ok(), "{round}: start and delete: {s:#?} {d:#?}");
        let want = if s.ok() { "running" } else { "absent" };
        assert_eq!(status(&t, &id, &round), want, "{round}");
        clean(&t, &id, &round);
    }
}

/// Two creates of one id: one wins, the other says the id exists and
/// touches nothing of the winner's.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_vs_create() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("create_vs_create");
    let b = sleeper(&t, "cc");
    let id = t.id("cc");
    let bd = b.dir.to_str().unwrap();
    for r in 0..rounds(8) {
        let round = format!("create vs create, round {r}");
        let args = ["create", "--bundle", bd, &id];
        let (x, y) = pair(&t, &mut rng, &args, &args, 3000);
        judge(&round, &x, &[1], &["with id exists"]);
        judge(&round, &y, &[1], &["with id exists"]);
        assert!(
            x.ok() != y.ok(),
            "{round}: not exactly one create: {x:#?} {y:#?}"
        );
        assert_eq!(status(&t, &id, &round), "created", "{round}");
        t.outlet(&["start", &id]).expect_ok(&round);
        clean(&t, &id, &round);
    }
}

/// A create held between its mkdir and its lock, a `delete --force` of the
/// id meanwhile (it takes the empty dir for a create that died), and a
/// second create that takes the id: the first must fail and leave the
/// second's container whole. Control (OUTLET_UNDO_ANY_DIR=1): the first
/// create's undo removed the second's state dir, orphaning its init.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_delete_create_in_the_mkdir_window() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "cdc");
    let id = t.id("cdc");
    let bd = b.dir.to_str().unwrap().to_string();
    for control in [false, true] {
        let round = format!("create/delete/create, control {control}");
        let p = Pause::new(&t, &format!("mkdir-{control}"), "create:mkdir");
        let mut cmd = t.command(
            std::path::Path::new(common::OUTLET),
            &["create", "--bundle", &bd, &id],
        );
        if control {
            cmd.0.env("OUTLET_UNDO_ANY_DIR", "1");
        }
        let mut second_pid = 0;
        let first = p.around(cmd, || {
            let d = t.outlet(&["delete", "--force", &id]);
            judge(&round, &d, &[], &[]);
            create(&t, &b, &id);
            let st = t.state(&id);
            second_pid = st["pid"].as_i64().unwrap() as i32;
            t.track_pid(second_pid);
        });
        judge(&round, &first, &[1], &["with id exists"]);
        assert!(!first.ok(), "{round}: the first create won too: {first:#?}");
        let now = status(&t, &id, &round);
        if control {
            // The second's record is gone with its init alive: what the
            // fix prevents. Clean up by hand what no command can find.
            assert_eq!(now, "absent", "{round}: the control did not orphan");
            assert!(common::pid_alive(second_pid), "{round}");
            // SAFETY: kill(2) of the init this test's create started.
            unsafe { libc::kill(second_pid, libc::SIGKILL) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while common::pid_alive(second_pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            for d in common::cgroup_dirs_for(&id) {
                let _ = std::fs::remove_dir(d);
            }
        } else {
            assert_eq!(now, "created", "{round}: the second create's container");
            t.outlet(&["start", &id]).expect_ok(&round);
        }
        clean(&t, &id, &round);
    }
}

/// `exec` and `delete --force`: the exec runs, fails with a reason, or
/// has its process killed with the container; nothing of it is left.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_vs_delete_force() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("exec_vs_delete_force");
    let b = sleeper(&t, "ed");
    let id = t.id("ed");
    for r in 0..rounds(8) {
        let round = format!("exec vs delete --force, round {r}");
        create_started(&t, &b, &id);
        let (e, d) = pair(
            &t,
            &mut rng,
            &["exec", &id, "sleep", "0.05"],
            &["delete", "--force", &id],
            20000,
        );
        judge(&round, &d, &[], &[]);
        // 137: the process was killed with the container. 255: exec's
        // own failure (runc's code).
        if e.code != Some(137) {
            judge(
                &round,
                &e,
                &[1, 255],
                &["does not exist", "stopped", "not running", "exited", "gone"],
            );
        }
        clean(&t, &id, &round);
    }
}

/// `pause`, `resume` and `kill KILL` at once: no hang, and whatever state
/// they leave, the container ends stopped once thawed.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn pause_vs_resume_vs_kill() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("pause_vs_resume_vs_kill");
    let b = sleeper(&t, "prk");
    let id = t.id("prk");
    let words = &[
        "not running",
        "not paused",
        "stopped",
        "paused",
        "does not exist",
    ];
    for r in 0..rounds(8) {
        let round = format!("pause vs resume vs kill, round {r}");
        create_started(&t, &b, &id);
        let (p, u, k) = (["pause", &id], ["resume", &id], ["kill", &id, "KILL"]);
        let mut order: Vec<&[&str]> = vec![&p, &u, &k];
        if rng.coin() {
            order.swap(0, 2);
        }
        if rng.coin() {
            order.swap(1, 2);
        }
        let mut running = Vec::new();
        for args in &order {
            running.push(spawn(&t, args, &[]));
            std::thread::sleep(rng.delay(3000));
        }
        for o in running.into_iter().map(Running::finish) {
            judge(&round, &o, &[1], words);
        }
        let s = status(&t, &id, &round);
        if s == "paused" {
            t.outlet(&["resume", &id]).expect_ok(&round);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while status(&t, &id, &round) != "stopped" {
            assert!(Instant::now() < deadline, "{round}: not stopped after {s}");
            std::thread::sleep(Duration::from_millis(10));
        }
        clean(&t, &id, &round);
    }
}

/// `update` and `delete --force`: the update writes its limits or finds
/// the container gone.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_vs_delete() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("update_vs_delete");
    let b = t.bundle("ud", |c| {
        sh(c, "exec sleep 1000");
        c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 64}});
    });
    let id = t.id("ud");
    for r in 0..rounds(8) {
        let round = format!("update vs delete, round {r}");
        create_started(&t, &b, &id);
        let (u, d) = pair(
            &t,
            &mut rng,
            &["update", "--memory", "96m", "--pids-limit", "50", &id],
            &["delete", "--force", &id],
            5000,
        );
        judge(&round, &u, &[1], GONE);
        judge(&round, &d, &[], &[]);
        clean(&t, &id, &round);
    }
}

/// `state` and `list` in a loop while `delete --force` runs: never a JSON
/// error, never a failure but "does not exist".
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn state_and_list_while_delete_runs() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("state_and_list_while_delete_runs");
    let b = sleeper(&t, "sl");
    let id = t.id("sl");
    for r in 0..rounds(6) {
        let round = format!("state/list vs delete, round {r}");
        create_started(&t, &b, &id);
        std::thread::sleep(rng.delay(2000));
        let d = spawn(&t, &["delete", "--force", &id], &[]);
        let mut reads = 0;
        loop {
            let done = !common::pid_alive(d.child.id() as i32);
            let s = t.outlet(&["state", &id]);
            judge(&round, &s, &[1], GONE);
            if s.ok() {
                let st = s.json()["status"].as_str().unwrap().to_string();
                // "creating": state.json is unlinked first, the intent
                // record last (a delete killed in between stays
                // force-deletable); what state reads in that instant.
                assert!(
                    ["running", "stopped", "creating"].contains(&st.as_str()),
                    "{round}: {st}"
                );
            }
            let l = t.outlet(&["list", "--format", "json"]);
            judge(&round, &l, &[], &[]);
            let v: serde_json::Value = serde_json::from_str(l.stdout.trim())
                .unwrap_or_else(|e| panic!("{round}: list is not JSON ({e}): {l:#?}"));
            assert!(v.is_array() || v.is_null(), "{round}: {v}");
            reads += 1;
            if done {
                break;
            }
        }
        judge(&round, &d.finish(), &[], &[]);
        assert!(reads > 0);
        clean(&t, &id, &round);
    }
}

/// `kill --all KILL` while the container forks as fast as it can, in a
/// cgroup of its own and without a pid namespace (the case where the
/// cgroup is walked, not the namespace's init killed): nothing survives.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_all_vs_forking() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("kill_all_vs_forking");
    let b = t.bundle("kf", |c| {
        common::drop_ns(c, "pid");
        sh(c, "while :; do sleep 100 & done");
        c["linux"]["resources"] = json!({"pids": {"limit": 200}});
    });
    let id = t.id("kf");
    for r in 0..rounds(6) {
        let round = format!("kill --all vs forking, round {r}");
        create_started(&t, &b, &id);
        std::thread::sleep(rng.delay(20000));
        let k = t.outlet(&["kill", "--all", &id, "KILL"]);
        judge(&round, &k, &[], &[]);
        assert_eq!(status(&t, &id, &round), "stopped", "{round}");
        let procs = common::cgroup_dirs_for(&id)
            .into_iter()
            .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .filter(|p| !p.trim().is_empty())
            .collect::<Vec<_>>();
        assert!(procs.is_empty(), "{round}: survivors: {procs:?}");
        clean(&t, &id, &round);
    }
}

/// `run -d` and `delete --force` of its id: the delete waits for the run
/// and removes what it made, or finds nothing; never a half container.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_detached_vs_delete() {
    let Some(t) = T::new() else { return };
    let mut rng = seeded("run_detached_vs_delete");
    let b = sleeper(&t, "rd");
    let id = t.id("rd");
    let bd = b.dir.to_str().unwrap();
    for r in 0..rounds(8) {
        let round = format!("run -d vs delete, round {r}");
        let (x, d) = pair(
            &t,
            &mut rng,
            &["run", "--detach", "--bundle", bd, &id],
            &["delete", "--force", &id],
            20000,
        );
        judge(&round, &x, &[], &[]);
        judge(&round, &d, &[], &[]);
        let s = status(&t, &id, &round);
        assert!(["running", "absent"].contains(&s.as_str()), "{round}: {s}");
        clean(&t, &id, &round);
    }
}

/// A command that finds no dir for the id, while a create makes it a
/// moment later (`run -d` or `create` racing a `delete --force` or `kill`
/// from scratch): the command was looking at a container that did not
/// exist, and says so ("does not exist"; a force-delete of it is no
/// error), leaving the new one alone. Held at that instant with a pause
/// point. Control (OUTLET_LOOKUP_BY_EXISTS=1): looking at the path a
/// second time, as outlet did, found the new dir and gave a raw ENOENT.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn lookup_of_an_id_created_meanwhile() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "lm");
    let id = t.id("lm");
    let outlet = std::path::Path::new(common::OUTLET);
    for (control, args) in [
        (false, ["delete", "--force", &id]),
        (false, ["kill", &id, "KILL"]),
        (true, ["delete", "--force", &id]),
    ] {
        let round = format!("{args:?} while created, control {control}");
        let p = Pause::new(&t, &format!("lm-{control}-{}", args[0]), "open:missing");
        let mut cmd = t.command(outlet, &args);
        if control {
            cmd.0.env("OUTLET_LOOKUP_BY_EXISTS", "1");
        }
        let o = p.around(cmd, || create(&t, &b, &id));
        if control {
            judge(&round, &o, &[1], &["ENOENT"]);
            assert!(!o.ok(), "{round}: the control passed: {o:#?}");
        } else if args[0] == "delete" {
            judge(&round, &o, &[], &[]);
        } else {
            judge(&round, &o, &[1], &["does not exist"]);
            assert!(!o.ok(), "{round}");
        }
        assert_eq!(status(&t, &id, &round), "created", "{round}");
        clean(&t, &id, &round);
    }
}

/// An exec whose helper has joined the container's cgroups (held there)
/// when a `delete --force` kills the init: the helper then fails to join
/// the namespaces and goes, and the delete, which waits for it to leave,
/// removes the cgroups; the exec says the container stopped. Control
/// (OUTLET_CGROUP_LEAVE_BUSY=1): delete left the cgroups at once, and
/// they stayed behind, empty, once the helper was gone.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_helper_in_the_cgroup_while_delete_runs() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "eh");
    let id = t.id("eh");
    let outlet = std::path::Path::new(common::OUTLET);
    for control in [false, true] {
        let round = format!("exec held in the cgroup, control {control}");
        create_started(&t, &b, &id);
        let p = Pause::new(&t, &format!("eh-{control}"), "exec:joined");
        let cmd = t.command(outlet, &["exec", &id, "true"]);
        let env: &[(&str, &str)] = if control {
            &[("OUTLET_CGROUP_LEAVE_BUSY", "1")]
        } else {
            &[]
        };
        let init = t.outlet(&["state", &id]).json()["pid"].as_i64().unwrap() as i32;
        let mut delete = None;
        let e = p.around(cmd, || {
            let mut d = spawn(&t, &["delete", "--force", &id], env);
            // Not a fixed 300 ms, which a loaded machine outran (the helper
            // let go before the init died joins and runs): the init dead
            // first; in the control the delete's end too, by which it has
            // met the helper in the cgroup and left it. Otherwise the delete
            // waits for the helper (2 s at most): 300 ms more let it get
            // there, and arriving later only finds the helper gone.
            let deadline = Instant::now() + Duration::from_secs(30);
            while common::pid_alive(init) || (control && d.child.try_wait().unwrap().is_none()) {
                assert!(Instant::now() < deadline, "{round}: delete stuck");
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(300));
            delete = Some(d);
        });
        let d = delete.unwrap().finish();
        judge(&round, &d, &[], &[]);
        judge(&round, &e, &[255], &["stopped while exec joined it"]);
        let left: Vec<_> = common::cgroup_dirs_for(&id)
            .into_iter()
            .filter(|d| d.exists())
            .collect();
        if control {
            assert!(!left.is_empty(), "{round}: the control left nothing");
            for d in left {
                let _ = std::fs::remove_dir(d);
            }
        } else {
            assert!(left.is_empty(), "{round}: cgroups left: {left:?}");
        }
        clean(&t, &id, &round);
    }
}

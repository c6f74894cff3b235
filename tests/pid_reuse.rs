//! The pid-reuse guard: state.json records the init's pid and its start
//! time, and a pid whose start time is another is some other process that
//! was given the number after the init died. Here the init really dies and
//! its recorded pid is pointed at a live host process of the test (the
//! decoy): every command must then read the container as stopped and leave
//! the decoy alone. The control points the record at a second decoy with
//! its true start time, and the same `kill` does reach it, so a guard that
//! let the wrong process through would be seen.

mod common;

use std::process::{Child, Command, Stdio};

use common::{T, pid_alive, read_json};
use serde_json::json;

/// A host `sleep` carrying the test's token, so the harness finds and
/// kills it should the test fail before it does.
fn decoy(t: &T) -> Child {
    let child = Command::new("sleep")
        .arg("1000")
        .env("OUTLET_TEST", &t.token)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn the decoy");
    t.track_pid(child.id() as i32);
    child
}

/// Field 22 of /proc/PID/stat, read here independently of outlet's parser.
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(19).unwrap().parse().unwrap()
}

/// Rewrite the container's record of its init, as a reused pid makes it.
fn point_state_at(t: &T, id: &str, pid: u32, start: u64) {
    let path = t.root.join(id).join("state.json");
    let mut st = read_json(&path);
    st["pid"] = json!(pid);
    st["init_start_time"] = json!(start);
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
}

fn end(mut child: Child) {
    let _ = child.kill();
    child.wait().unwrap();
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_reused_init_pid_is_never_signalled() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("reuse", |c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = t.id("reuse");
    let init = t.create_ok(&id, &b);
    let recorded = t.state(&id);
    let init_start = read_json(&t.root.join(&id).join("state.json"))["init_start_time"]
        .as_u64()
        .unwrap();
    assert_eq!(recorded["status"], "created");
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill the init");
    assert!(!pid_alive(init), "the init {init} survived SIGKILL");

    // The init is gone; its number now belongs to the decoy.
    let d = decoy(&t);
    let dpid = d.id();
    assert_ne!(start_time(dpid), init_start, "the decoy is a later process");
    point_state_at(&t, &id, dpid, init_start);

    assert_eq!(t.status(&id), "stopped", "a recycled pid reads as stopped");
    for sig in ["KILL", "TERM", "USR1"] {
        t.outlet(&["kill", &id, sig])
            .expect_fail(&format!("kill {sig} of a recycled pid"), "not running");
        assert!(pid_alive(dpid as i32), "kill {sig} reached the decoy");
    }
    // runc's answer to `kill --all` of a stopped container: exit 0, with
    // nothing signalled.
    t.outlet(&["kill", "--all", &id, "KILL"])
        .expect_ok("kill --all of a recycled pid");
    assert!(pid_alive(dpid as i32), "kill --all reached the decoy");
    let o = t.outlet(&["exec", &id, "true"]);
    assert_eq!(
        o.code,
        Some(255),
        "exec into a recycled pid's namespaces: {o:?}"
    );
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force of a stopped container");
    assert!(!t.state_dir_exists(&id));
    assert!(pid_alive(dpid as i32), "delete --force killed the decoy");
    end(d);

    // Control: the record names a second decoy with its true start time,
    // which is what the guard lets through: the same kill reaches it.
    let id = t.id("control");
    let b = t.bundle("control", |c| {
        c["process"]["args"] = json!(["sleep", "1000"])
    });
    t.create_ok(&id, &b);
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill the init");
    let d = decoy(&t);
    let dpid = d.id();
    point_state_at(&t, &id, dpid, start_time(dpid));
    assert_eq!(
        t.status(&id),
        "created",
        "the matching record reads as alive"
    );
    t.outlet(&["kill", &id, "KILL"])
        .expect_ok("kill through a matching record");
    wait_gone(dpid as i32);
    end(d);
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// A killed decoy stays a zombie until `end` reaps it: dead is enough.
fn wait_gone(pid: i32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while pid_alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the control's kill did not reach the decoy {pid}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

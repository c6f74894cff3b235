//! Session 11's cuts to `run`'s critical path (bench/README.md "Session
//! 11: the init's setup"): `lo` is brought up by `create` on a socket the
//! init made in its new network namespace and passed with `Unshared`
//! (src/process/network.rs), while the init mounts. What must hold: lo is
//! up when the program runs, and the call is the parent's, not on the
//! init's path.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{OUTLET, Out, T, wait_timeout};
use serde_json::json;

const IFF_UP: i64 = 1;

/// `run` of `b` under `strace -f` (ioctl and clone3 only): the probe's
/// report, and the pids of `run` (who called clone3), the init (what
/// clone3 returned) and whoever made the SIOCSIFFLAGS call.
fn run_traced(t: &T, b: &common::Bundle, id: &str) -> (Out, String, String, String) {
    let log = t.dir.join(format!("{id}.strace"));
    let (l, root, bundle) = (
        log.to_str().unwrap(),
        t.root.to_str().unwrap(),
        b.dir.to_str().unwrap(),
    );
    let args = [
        "-f",
        "-qq",
        "-e",
        "trace=ioctl,clone3",
        "-o",
        l,
        OUTLET,
        "--root",
        root,
        "run",
        "--bundle",
        bundle,
        id,
    ];
    let (mut c, so, se) = t.command_plain(Path::new("strace"), &args);
    let mut child = c.spawn().expect("spawn strace");
    let status = wait_timeout(&mut child, Duration::from_secs(60), "strace run");
    let out = Out::from_files(status, so, se);
    let log = std::fs::read_to_string(&log).unwrap();
    let pid_of = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string()
    };
    let parent = pid_of("clone3(");
    let init = log
        .lines()
        .find_map(|l| l.contains("clone3(").then(|| l.rsplit("= ").next()))
        .flatten()
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let caller = pid_of("SIOCSIFFLAGS");
    assert!(
        !parent.is_empty() && !init.is_empty() && !caller.is_empty(),
        "{log}"
    );
    (out, parent, init, caller)
}

/// A container whose clone made its network namespace: lo is up for the
/// program, and strace shows the SIOCSIFFLAGS made by `run` (the pid that
/// called clone3), not by the init. Control: the same bundle joining a uts
/// namespace by path (the init joins, then unshares the network namespace
/// itself, so `create` has no socket of it at `Unshared`) has the init
/// make the call, and lo is up as well, so the pid check can fail and the
/// flags check sees the same state either way.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn lo_is_brought_up_by_create_on_the_inits_socket() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("lo", |_| {});
    let (out, parent, init, caller) = run_traced(&t, &b, &t.id("lo"));
    out.expect_ok("run");
    let flags = out.json()["lo_flags"].as_i64().unwrap_or(-1);
    assert_eq!(flags & IFF_UP, IFF_UP, "lo down: {flags:#x}");
    assert_eq!(caller, parent, "the parent's call (init {init})");

    // A uts namespace of a child of ours, to join; never the host's
    // (joined before the child's unshare ran, it would be).
    let mut holder = std::process::Command::new("unshare")
        .args(["--uts", "sleep", "60"])
        .spawn()
        .expect("spawn unshare --uts sleep");
    let hpid = holder.id();
    t.track_pid(hpid as i32);
    let host_uts = std::fs::read_link("/proc/self/ns/uts").unwrap();
    let path = format!("/proc/{hpid}/ns/uts");
    let start = Instant::now();
    while std::fs::read_link(&path).ok().as_ref() == Some(&host_uts) {
        assert!(start.elapsed() < Duration::from_secs(10), "unshare --uts");
        std::thread::sleep(Duration::from_millis(5));
    }
    let joined = t.bundle("lojoin", |c| {
        c.as_object_mut().unwrap().remove("hostname");
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "uts" {
                n["path"] = json!(path);
            }
        }
    });
    let (out, parent, init, caller) = run_traced(&t, &joined, &t.id("lojoin"));
    let _ = holder.kill();
    let _ = holder.wait();
    out.expect_ok("run joining a uts namespace");
    let flags = out.json()["lo_flags"].as_i64().unwrap_or(-1);
    assert_eq!(flags & IFF_UP, IFF_UP, "control: lo down: {flags:#x}");
    assert_ne!(caller, parent, "control: the init's call (init {init})");
    t.assert_nothing_left("lo by the parent");
}

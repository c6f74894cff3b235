//! The attacker's review of session 10 (round 7): a hostile container that
//! has had time to prepare, against outlet's later commands (exec, kill,
//! delete). docs/known-gaps.md, "Session 10, round 7", says what held and
//! how it was looked at.
//!
//! 1. A cgroup the container froze below its own (v1, writable cgroupfs)
//!    kept its tasks from dying of SIGKILL: `delete --force` failed and
//!    left state, cgroups and processes. Control OUTLET_NO_SUBTREE_THAW=1.
//!    The thaw stays below cgroups the container made: one it joined
//!    keeps a frozen sibling frozen. Control OUTLET_THAW_JOINED=1.
//! 2. `exec --pid-file` that cannot be written failed the exec and left
//!    the process running. Control OUTLET_EXEC_KEEP_UNRECORDED=1.
//! 3. `kill --all SIGNAL` (no pid namespace) kill(2)ed listed pids, one of
//!    which a host process could hold by then. Control OUTLET_KILL_BY_PID=1.
//!
//! Needs root (ignored otherwise) and a debug build (the controls); test 1
//! needs the host's v1 freezer.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{OUTLET, T, sh};
use serde_json::json;

/// The container's script: a freezer cgroup of its own below the
/// container's, a child moved in and frozen there, then the init waits.
const FREEZE_A_CHILD: &str = "exec 2>/out/err; f=/sys/fs/cgroup/freezer; mkdir $f/ice || exit 1; \
    sleep 1000 & echo $! > $f/ice/cgroup.procs || exit 1; \
    until grep -q FROZEN $f/ice/freezer.state; do echo FROZEN > $f/ice/freezer.state; sleep 0.05; done; \
    cat $f/ice/freezer.state > /out/ice; sleep 1000";

/// A started container that froze a child of its own; the host path of
/// that frozen cgroup.
fn container_with_a_frozen_child(t: &T, tag: &str, pid_ns: bool) -> (String, PathBuf) {
    let b = t.bundle(tag, |c| {
        common::rw_cgroup(c);
        if !pid_ns {
            common::drop_ns(c, "pid");
        }
        sh(c, FREEZE_A_CHILD);
    });
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(b.out.join("ice")).is_ok_and(|s| s.contains("FROZEN")) {
        let err = std::fs::read_to_string(b.out.join("err")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "{tag}: the container did not freeze its child: {err}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ice = common::cgroup_dirs_for(&id)
        .into_iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/freezer") && d.exists())
        .expect("the container's freezer cgroup")
        .join("ice");
    assert!(ice.is_dir(), "{}", ice.display());
    (id, ice)
}

fn needs_v1_freezer() -> bool {
    if Path::new("/sys/fs/cgroup/freezer/freezer.state").exists()
        || Path::new("/sys/fs/cgroup/freezer").is_dir()
    {
        return true;
    }
    panic!("no v1 freezer hierarchy on this host (the v2 VM runs the v2 side)");
}

/// Finding 1. A container given a writable cgroupfs (v1) makes a freezer cgroup
/// below its own, moves a child there and freezes it. `delete --force`
/// thawed only the container's own cgroup: the frozen child never acted
/// on SIGKILL, so with a pid namespace the init never finished dying
/// ("did not die within 10s"), and without one the cgroup kill gave up
/// ("still alive"): the state, every cgroup and the processes stayed.
/// Fixed: delete (and the cgroup kill) thaw every freezer cgroup below
/// the container's. Control: OUTLET_NO_SUBTREE_THAW=1, the same delete
/// fails and leaves it all.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_cgroup_the_container_froze_does_not_outlive_delete() {
    common::needs_debug_build();
    needs_v1_freezer();
    let Some(t) = T::new() else { return };
    // `kill KILL` (containerd's stop, before its delete) ends it too:
    // stopped when kill returns, and a plain delete then leaves nothing.
    // Control: without the thaw, kill waits its 5 s and says the init has
    // not exited.
    for (tag, env) in [
        ("frozen-kill", &[][..]),
        (
            "frozen-kill-control",
            &[("OUTLET_NO_SUBTREE_THAW", "1")][..],
        ),
    ] {
        let (id, ice) = container_with_a_frozen_child(&t, tag, true);
        let o = t.call_env(Path::new(OUTLET), &["kill", &id, "KILL"], &[], env);
        o.expect_ok(&format!("{tag}: kill KILL"));
        if env.is_empty() {
            assert!(!o.stderr.contains("has not exited"), "{tag}: {o:?}");
            assert_eq!(t.status(&id), "stopped", "{tag}: after kill KILL");
            t.outlet(&["delete", &id])
                .expect_ok("delete after kill KILL");
            let left = t.settle();
            assert!(left.is_empty(), "{tag}: left behind: {left:#?}");
        } else {
            assert!(o.stderr.contains("has not exited"), "{tag}: {o:?}");
            assert_ne!(t.status(&id), "stopped", "{tag}: after kill KILL");
            std::fs::write(ice.join("freezer.state"), "THAWED").unwrap();
            t.outlet(&["delete", "--force", &id])
                .expect_ok(&format!("{tag}: delete after the thaw"));
        }
    }
    for pid_ns in [true, false] {
        let tag = if pid_ns {
            "frozen-pidns"
        } else {
            "frozen-hostpid"
        };
        let (id, _) = container_with_a_frozen_child(&t, tag, pid_ns);
        let o = t.outlet(&["delete", "--force", &id]);
        o.expect_ok(&format!("{tag}: delete --force"));
        let left = t.settle();
        assert!(left.is_empty(), "{tag}: left behind: {left:#?}");

        // Control: without the thaw below, the same delete fails and
        // leaves the container.
        let tag = format!("{tag}-control");
        let (id, ice) = container_with_a_frozen_child(&t, &tag, pid_ns);
        let o = t.call_env(
            Path::new(OUTLET),
            &["delete", "--force", &id],
            &[],
            &[("OUTLET_NO_SUBTREE_THAW", "1")],
        );
        assert!(!o.ok(), "{tag}: the control's delete succeeded: {o:?}");
        assert!(
            o.stderr.contains("did not die") || o.stderr.contains("still alive"),
            "{tag}: {o:?}"
        );
        assert!(t.state_dir_exists(&id), "{tag}: the control left no state");
        // Undo by hand, then the real delete.
        std::fs::write(ice.join("freezer.state"), "THAWED").unwrap();
        t.outlet(&["delete", "--force", &id])
            .expect_ok(&format!("{tag}: delete after the thaw"));
    }
}

/// The host pids of processes whose command line is exactly `args`.
fn processes_running(args: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Ok(c) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&c).replace('\0', " ").trim() == args
        {
            out.push(pid);
        }
    }
    out
}

/// Finding 2. `exec --pid-file` at a path that cannot be written (the
/// caller's input): exec said it failed (exit 255) and left the process
/// running in the container, detached or not, with no one to wait for it
/// or to know its pid. Fixed: it is killed and reaped first, as runc does.
/// Control: OUTLET_EXEC_KEEP_UNRECORDED=1, the process stays.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn an_exec_that_fails_to_record_its_pid_leaves_no_process() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let b = t.bundle("pidfile", |c| sh(c, "sleep 1000"));
    let id = t.id("pidfile");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let bad = t.dir.join("no-such-dir/exec.pid");
    let bad = bad.to_str().unwrap();
    for (n, (detach, control)) in [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .enumerate()
    {
        let what = format!("exec detach={detach} control={control}");
        let secs = format!("{}", 7700 + n);
        let mut args = vec!["exec", "--pid-file", bad];
        if detach {
            args.push("--detach");
        }
        args.extend([id.as_str(), "sleep", &secs]);
        let env: &[(&str, &str)] = if control {
            &[("OUTLET_EXEC_KEEP_UNRECORDED", "1")]
        } else {
            &[]
        };
        let o = t.call_env(Path::new(OUTLET), &args, &[], env);
        o.expect_exec_fail(&what, "pid file");
        let left = processes_running(&format!("sleep {secs}"));
        if control {
            assert!(!left.is_empty(), "{what}: the control left no process");
            for p in left {
                t.track_pid(p);
            }
        } else {
            assert!(left.is_empty(), "{what}: left running: {left:?}");
        }
    }
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// Makes the next process forked on the host take `pid` (root may set the
/// pid namespace's last pid), and starts `sleep 1000` there: the host
/// process that a stale pid would now name. Other processes of the
/// machine fork too, so it tries a few times; None when it never got it.
fn host_process_at(pid: i32) -> Option<std::process::Child> {
    for _ in 0..50 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
        let mut c = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        if c.id() as i32 == pid {
            return Some(c);
        }
        let _ = c.kill();
        let _ = c.wait();
    }
    None
}

/// One `kill --all TERM` of a container without a pid namespace, held
/// between its list of the cgroup and the signal, while the container
/// lets a listed process exit and a host process takes its pid. Whether
/// that host process got the signal.
fn kill_all_hits_a_reused_pid(t: &T, tag: &str, env: &[(&str, &str)]) -> bool {
    let b = t.bundle(tag, |c| {
        common::drop_ns(c, "pid");
        sh(
            c,
            "(while [ ! -e /out/go ]; do sleep 0.05; done) & echo $! > /out/victim; \
             wait $!; echo reaped > /out/reaped; exec sleep 1000",
        );
    });
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let victim_file = b.out.join("victim");
    let deadline = Instant::now() + Duration::from_secs(10);
    let victim: i32 = loop {
        if let Some(p) = std::fs::read_to_string(&victim_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(Instant::now() < deadline, "{tag}: no victim pid");
        std::thread::sleep(Duration::from_millis(10));
    };
    let pause = common::pause::Pause::new(t, tag, "kill:listed");
    let (mut cmd, so, se) = t.command(Path::new(OUTLET), &["kill", "--all", &id, "TERM"]);
    cmd.envs(env.iter().copied());
    let mut host = None;
    let o = pause.around((cmd, so, se), || {
        // The container's move: the listed process exits and is reaped.
        std::fs::write(b.out.join("go"), "").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !b.out.join("reaped").exists() {
            assert!(
                Instant::now() < deadline,
                "{tag}: the victim was not reaped"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        host = host_process_at(victim);
    });
    o.expect_ok(&format!("{tag}: kill --all TERM"));
    let mut host = host.unwrap_or_else(|| panic!("{tag}: could not reuse pid {victim}"));
    t.track_pid(victim);
    // kill --all has returned: a TERM it sent is pending or has killed
    // (no sleep for it to land: 100 ms under load failed the control).
    let hit = !common::untouched(victim);
    let _ = host.kill();
    let _ = host.wait();
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    hit
}

/// Finding 3. `kill --all SIGNAL` of a container without a pid namespace
/// (and delete's kill where the cgroup cannot be frozen) listed the
/// cgroup and then kill(2)ed each pid: a process that exited in between
/// left its pid to whoever came next, a host process among them, which
/// got the signal. A container can exit processes at the right moment
/// and run through pids as it likes. Fixed: each pid gets a pidfd, the
/// cgroup is listed again, and only those still listed are signalled
/// through their pidfd. Control: OUTLET_KILL_BY_PID=1, the host process
/// at the reused pid dies of the SIGTERM.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_all_never_signals_a_host_process_that_reused_a_listed_pid() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    assert!(
        !kill_all_hits_a_reused_pid(&t, "reuse", &[]),
        "kill --all signalled the host process at a reused pid"
    );
    assert!(
        kill_all_hits_a_reused_pid(&t, "reuse-control", &[("OUTLET_KILL_BY_PID", "1")]),
        "control: the host process at the reused pid was not signalled"
    );
}

/// Finding 1's fix must not reach others: B only joined the cgroup A made
/// (a shared cgroupsPath, as a pod's), and a host process sits frozen in
/// a freezer cgroup below it, as another paused container would. `delete
/// --force B` leaves that one frozen. Control OUTLET_THAW_JOINED=1 (the
/// thaw without the ownership check): it is thawed.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_thaws_nothing_below_a_cgroup_it_only_joined() {
    common::needs_debug_build();
    needs_v1_freezer();
    let Some(t) = T::new() else { return };
    let parent = t.id("joined-parent");
    let path = format!("/{parent}/shared");
    let shared = Path::new("/sys/fs/cgroup/freezer").join(&path[1..]);
    let a = t.id("joined-a");
    let ba = t.bundle("joined-a", |c| {
        sh(c, "sleep 1000");
        c["linux"]["cgroupsPath"] = json!(path);
    });
    t.create_ok(&a, &ba);
    assert!(shared.is_dir(), "A made {}", shared.display());
    // The other one's frozen cgroup below the shared one.
    let other = shared.join("paused-other");
    std::fs::create_dir(&other).unwrap();
    let mut host = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    t.track_pid(host.id() as i32);
    {
        let other = other.clone();
        let pid = host.id() as i32;
        t.on_cleanup(move || {
            let _ = std::fs::write(other.join("freezer.state"), "THAWED");
            // SAFETY: plain kill(2) of the sleep this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::remove_dir(&other).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    }
    std::fs::write(other.join("cgroup.procs"), host.id().to_string()).unwrap();
    let state = || std::fs::read_to_string(other.join("freezer.state")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !state().contains("FROZEN") {
        std::fs::write(other.join("freezer.state"), "FROZEN").unwrap();
        assert!(Instant::now() < deadline, "could not freeze the other");
        std::thread::sleep(Duration::from_millis(20));
    }
    for (tag, env) in [
        ("joined-b", &[][..]),
        ("joined-b-control", &[("OUTLET_THAW_JOINED", "1")][..]),
    ] {
        let b = t.id(tag);
        let bb = t.bundle(tag, |c| {
            sh(c, "sleep 1000");
            c["linux"]["cgroupsPath"] = json!(path);
        });
        t.create_ok(&b, &bb);
        t.outlet(&["start", &b]).expect_ok("start B");
        t.call_env(Path::new(OUTLET), &["delete", "--force", &b], &[], env)
            .expect_ok(&format!("{tag}: delete --force"));
        let now = state();
        if env.is_empty() {
            assert!(now.contains("FROZEN"), "{tag}: the other was thawed: {now}");
        } else {
            assert!(now.contains("THAWED"), "control {tag}: still {now}");
        }
    }
    let _ = std::fs::write(other.join("freezer.state"), "THAWED");
    let _ = host.kill();
    let _ = host.wait();
}

//! The lifecycle with states (created, running, stopped), the pid file, list,
//! kill by name and number, delete and delete --force, run's exit codes and
//! --detach. Needs root (skipped otherwise).

mod common;

use std::time::{Duration, Instant};

use common::{T, drop_ns, pid_alive, sh, wait_timeout};
use serde_json::Value;

/// A pid-1 shell that exits 0 on SIGTERM: a namespace's init gets only the
/// signals it has a handler for (SIGKILL aside), so without the trap a
/// SIGTERM would be dropped by the kernel, not by outlet.
const SLEEPER: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_start_stop_delete_with_states() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        sh(c, "while [ ! -e /out/go ]; do sleep 0.05; done; exit 0");
    });
    let id = t.id("life");
    let pid_file = t.dir.join("init.pid");
    let o = t.outlet(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    o.expect_ok("create");
    let st = t.state(&id);
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.dir.to_str().unwrap());
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0, "{st}");
    t.track_pid(pid as i32);
    assert!(pid_alive(pid as i32));
    let from_file = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(from_file.trim(), pid.to_string(), "pid file");
    // The init sits in its cgroup already (the shim reads it at once).
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cg.lines().any(|l| l.ends_with(&format!("/{id}"))),
        "init not in a cgroup named after the id: {cg}"
    );
    // Not running the application yet: no /out/ side effects possible, and
    // its command line is still outlet's.
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        !String::from_utf8_lossy(&cmd).contains("while"),
        "application ran before start"
    );

    let list = t.outlet(&["list", "--format", "json"]);
    list.expect_ok("list");
    let entries = list.json();
    let e = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap_or_else(|| panic!("list lacks {id}: {entries}"));
    assert_eq!(e["status"], "created");
    assert_eq!(e["pid"], pid);

    t.outlet(&["start", &id]).expect_ok("start");
    let st = t.state(&id);
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"], pid);
    let list = t.outlet(&["list", "--format", "json"]).json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str() && e["status"] == "running"),
        "{list}"
    );

    std::fs::write(b.out.join("go"), b"").unwrap();
    t.wait_status(&id, "stopped");
    // A stopped container is deleted without --force.
    t.outlet(&["delete", &id]).expect_ok("delete stopped");
    assert!(!t.state_dir_exists(&id));
    t.outlet(&["state", &id])
        .expect_fail("state after delete", "does not exist");
    let list = t.outlet(&["list", "--format", "json"]).json();
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str()),
        "{list}"
    );
    t.assert_nothing_left("after delete");
}

fn sleeper(t: &T, tag: &str) -> (String, i32) {
    let b = t.bundle(tag, |c| sh(c, SLEEPER));
    let id = t.id(tag);
    let pid = t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    assert_eq!(t.status(&id), "running");
    // `start` returns once the init has taken the start byte, before its
    // execve and before the shell has set its trap: a pid namespace's init
    // drops a signal it has no handler for, so a TERM sent in that window
    // is lost (runc's alike). The shell's `sleep` child exists only after
    // the trap is set.
    let children = format!("/proc/{pid}/task/{pid}/children");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&children).is_ok_and(|c| c.trim().is_empty()) {
        assert!(
            Instant::now() < deadline,
            "{id}: the shell never started its sleep"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (id, pid)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_by_name_and_number() {
    let Some(t) = T::new() else { return };
    for sig in ["KILL", "SIGTERM", "9", "15", "SIGKILL", "TERM"] {
        let (id, pid) = sleeper(&t, &format!("kill-{}", sig.to_lowercase()));
        t.outlet(&["kill", &id, sig])
            .expect_ok(&format!("kill {sig}"));
        t.wait_status(&id, "stopped");
        let deadline = Instant::now() + Duration::from_secs(5);
        while pid_alive(pid) {
            assert!(Instant::now() < deadline, "init {pid} survived {sig}");
            std::thread::sleep(Duration::from_millis(10));
        }
        t.outlet(&["delete", &id]).expect_ok("delete after kill");
        assert!(!t.state_dir_exists(&id));
    }
    // A stopped or missing container: callers match these words.
    let b = t.bundle("gone", |c| sh(c, "exit 0"));
    let id = t.id("gone");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    t.wait_status(&id, "stopped");
    t.outlet(&["kill", &id, "9"])
        .expect_fail("kill stopped", "not running");
    t.outlet(&["kill", &format!("{}-nope", t.token), "9"])
        .expect_fail("kill missing", "does not exist");
    // A bad signal name is refused and names it.
    let (id, _) = sleeper(&t, "badsig");
    let o = t.outlet(&["kill", &id, "SIGNOPE"]);
    assert_ne!(o.code, Some(0), "{o:?}");
    assert!(o.stderr.contains("SIGNOPE"), "{o:?}");
    assert_eq!(t.status(&id), "running");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_force_of_running_and_created() {
    let Some(t) = T::new() else { return };
    let (id, pid) = sleeper(&t, "running");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force running");
    assert!(!t.state_dir_exists(&id));
    assert!(!pid_alive(pid), "init {pid} alive after delete --force");

    let b = t.bundle("created", |c| sh(c, SLEEPER));
    let id = t.id("created");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force created");
    assert!(!t.state_dir_exists(&id));
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) {
        assert!(Instant::now() < deadline, "created init {pid} survived");
        std::thread::sleep(Duration::from_millis(10));
    }
    t.assert_nothing_left("after delete --force");
    t.outlet(&["delete", &id])
        .expect_fail("delete missing", "does not exist");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_exit_codes() {
    let Some(t) = T::new() else { return };
    for (tag, script, want) in [("zero", "exit 0", 0), ("three", "exit 3", 3)] {
        let b = t.bundle(tag, |c| sh(c, script));
        let id = t.id(tag);
        let o = t.run(&id, &b);
        assert_eq!(o.code, Some(want), "run {script}: {o:?}");
        // run deletes the container when it is done.
        assert!(!t.state_dir_exists(&id), "run left state for {id}");
    }
    // A process that SIGKILLs itself: 128 + 9. It must not be a pid
    // namespace's init, which the kernel protects from its own SIGKILL.
    let b = t.bundle("selfkill", |c| {
        drop_ns(c, "pid");
        sh(c, "kill -9 $$; sleep 5");
    });
    let id = t.id("selfkill");
    let o = t.run(&id, &b);
    assert_eq!(o.code, Some(137), "run self-SIGKILL: {o:?}");
    assert!(!t.state_dir_exists(&id));
    t.assert_nothing_left("after run");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_exit_code_of_a_killed_container() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, SLEEPER));
    let id = t.id("killed");
    std::thread::scope(|s| {
        let runner = s.spawn(|| t.run(&id, &b));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let o = t.outlet(&["state", &id]);
            if o.ok() && o.json()["status"] == "running" {
                break;
            }
            assert!(Instant::now() < deadline, "never running: {o:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
        let o = runner.join().unwrap();
        assert_eq!(o.code, Some(137), "{o:?}");
    });
    assert!(!t.state_dir_exists(&id));
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_detach() {
    let Some(t) = T::new() else { return };
    // The trap is in place once /out/ready exists: a TERM before that
    // would be ignored by a pid 1 without a handler.
    let b = t.bundle("b", |c| {
        sh(c, "trap 'exit 0' TERM; touch /out/ready; sleep 1000 & wait")
    });
    let id = t.id("detach");
    let started = Instant::now();
    let o = t.outlet(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    o.expect_ok("run --detach");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "run --detach waited for the container"
    );
    let st: Value = t.state(&id);
    assert_eq!(st["status"], "running", "{st}");
    let pid = st["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    assert!(pid_alive(pid));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !b.out.join("ready").exists() {
        assert!(Instant::now() < deadline, "the container never got ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    t.outlet(&["kill", &id, "TERM"]).expect_ok("kill TERM");
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
    t.assert_nothing_left("after run --detach");
}

/// The caller's stdio becomes the init's: what the application writes after
/// `start` lands in the files `create` was given (the shim and conmon rely
/// on this), not in `start`'s.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_stdio_becomes_the_containers() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, "echo to-stdout; echo to-stderr >&2"));
    let id = t.id("stdio");
    let created = t.create(&id, &b);
    created.expect_ok("create");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let started = t.outlet(&["start", &id]);
    started.expect_ok("start");
    t.wait_status(&id, "stopped");
    let out = std::fs::read_to_string(&created.stdout_path).unwrap();
    let err = std::fs::read_to_string(&created.stderr_path).unwrap();
    assert_eq!(out, "to-stdout\n");
    assert_eq!(err, "to-stderr\n");
    assert_eq!(std::fs::read_to_string(&started.stdout_path).unwrap(), "");
    t.outlet(&["delete", &id]).expect_ok("delete");
}

/// `run` forwards the signals it receives to the container's init.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_forwards_signals() {
    let Some(t) = T::new() else { return };
    // The trap is set before `ready` appears: a SIGTERM that reached PID 1
    // of the pid namespace before it had a handler would be dropped.
    let b = t.bundle("b", |c| {
        sh(c, "trap 'exit 7' TERM; : > /out/ready; sleep 1000 & wait")
    });
    let id = t.id("fwd");
    let out = std::fs::File::create(t.dir.join("run.out")).unwrap();
    let mut child = std::process::Command::new(common::OUTLET)
        .args(["--root", t.root.to_str().unwrap(), "run", "--bundle"])
        .arg(&b.dir)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let ready = b.out.join("ready");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the trap was never set"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) of our own child, which we have not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_timeout(
        &mut child,
        Duration::from_secs(10),
        "outlet run after SIGTERM",
    );
    assert_eq!(
        status.code(),
        Some(7),
        "{status:?}: {}",
        std::fs::read_to_string(t.dir.join("run.out")).unwrap()
    );
    assert!(!t.state_dir_exists(&id));
}

/// A created (never started) container can be killed and then deleted; a
/// container whose init was killed behind outlet's back reads stopped and
/// deletes cleanly.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_created_and_init_killed_from_outside() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, SLEEPER));
    let id = t.id("created");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill created");
    t.wait_status(&id, "stopped");
    assert!(!pid_alive(pid));
    t.outlet(&["start", &id])
        .expect_fail("start stopped", "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");

    let (id, pid) = sleeper(&t, "outside");
    // SAFETY: kill(2) of the init this test created.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    t.wait_status(&id, "stopped");
    assert_eq!(t.state(&id)["pid"], 0, "a stopped container reports pid 0");
    t.outlet(&["delete", &id]).expect_ok("delete");
    t.assert_nothing_left("after outside kill");
}

/// Many creates at once under one root: each gets its own state and
/// cgroup, list shows them all, and deleting them leaves nothing.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn parallel_creates_in_one_root() {
    let Some(t) = T::new() else { return };
    let ids: Vec<String> = (0..8).map(|i| t.id(&format!("par{i}"))).collect();
    let bundles: Vec<_> = (0..8)
        .map(|i| t.bundle(&format!("b{i}"), |c| sh(c, SLEEPER)))
        .collect();
    std::thread::scope(|s| {
        for (id, b) in ids.iter().zip(&bundles) {
            let t = &t;
            s.spawn(move || t.create_ok(id, b));
        }
    });
    let list = t.outlet(&["list", "--format", "json"]).json();
    let mut listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["status"], "created", "{e}");
            e["id"].as_str().unwrap()
        })
        .collect();
    listed.sort();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(listed, want);
    std::thread::scope(|s| {
        for id in &ids {
            let t = &t;
            s.spawn(move || {
                t.outlet(&["delete", "--force", id]).expect_ok("delete");
            });
        }
    });
    t.assert_nothing_left("after parallel deletes");
}

/// Callers put flags in different places: after the id, `--flag=v`, and
/// global flags after the subcommand.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn flags_in_any_position() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, "exit 0"));
    let root = format!("--root={}", t.root.display());
    let bundle = format!("--bundle={}", b.dir.display());
    let id = t.id("flags");
    let o = t.outlet_plain(&["create", &id, &bundle, &root]);
    o.expect_ok("create ID --bundle=B --root=R");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    t.outlet_plain(&["start", &root, &id])
        .expect_ok("start --root=R ID");
    t.wait_status(&id, "stopped");
    t.outlet_plain(&[&root, "delete", &id]).expect_ok("delete");
    t.assert_nothing_left("flags");
}

/// Without a pid namespace the init can exit and leave children in its
/// cgroup: `kill --all` still reaches them (the shim relies on that), and
/// `delete` of the stopped container leaves no process and no cgroup.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn leftover_children_after_init_exit() {
    let Some(t) = T::new() else { return };
    for (tag, kill_all) in [("killall", true), ("delete", false)] {
        let b = t.bundle(tag, |c| {
            drop_ns(c, "pid");
            sh(c, "sleep 1000 & echo $! > /out/child; exit 0");
        });
        let id = t.id(tag);
        t.create_ok(&id, &b);
        t.outlet(&["start", &id]).expect_ok("start");
        t.wait_status(&id, "stopped");
        let child: i32 = std::fs::read_to_string(b.out.join("child"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        t.track_pid(child);
        assert!(pid_alive(child), "the child should outlive the init");
        if kill_all {
            t.outlet(&["kill", "--all", &id, "9"])
                .expect_ok("kill --all after the init exited");
            let deadline = Instant::now() + Duration::from_secs(5);
            while pid_alive(child) {
                assert!(Instant::now() < deadline, "kill --all missed {child}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        t.outlet(&["delete", &id]).expect_ok("delete");
        assert!(!pid_alive(child), "delete left {child} running");
    }
    t.assert_nothing_left("leftover children");
}

/// `exec` takes the container's process defaults and seccomp profile from
/// the config the container was created from, as create read it: the
/// `--config` file when one was given (here by a path relative to create's
/// working directory), not the bundle's config.json, and not what either
/// file says later. Editing the file, then removing it and the bundle's
/// config, changes nothing for a later exec.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_reads_the_config_the_container_was_created_from() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("cfg", |c| {
        sh(c, "sleep 1000");
        c["process"]["env"] = serde_json::json!(["PATH=/bin:/usr/bin", "FROM=bundle"]);
    });
    let mut other = b.config();
    other["process"]["env"] = serde_json::json!(["PATH=/bin:/usr/bin", "FROM=elsewhere"]);
    let alt = t.dir.join("alt-config.json");
    std::fs::write(&alt, serde_json::to_vec(&other).unwrap()).unwrap();
    let id = t.id("cfg");
    let so = t.dir.join("create-rel.stdout");
    let se = t.dir.join("create-rel.stderr");
    let mut child = std::process::Command::new(common::OUTLET)
        .current_dir(&t.dir)
        .args(["--root", t.root.to_str().unwrap(), "create", "--bundle"])
        .arg(&b.dir)
        .args(["--config", "alt-config.json", &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&so).unwrap())
        .stderr(std::fs::File::create(&se).unwrap())
        .spawn()
        .unwrap();
    let st = common::wait_timeout(&mut child, Duration::from_secs(60), "create --config");
    common::Out::from_files(st, so, se).expect_ok("create --config with a relative path");
    let st = t.state(&id);
    t.track_pid(st["pid"].as_i64().unwrap() as i32);
    t.outlet(&["start", &id]).expect_ok("start");

    let exec_from = |what: &str| {
        let o = t.outlet(&["exec", &id, "sh", "-c", "echo $FROM"]);
        o.expect_ok(what);
        o.stdout.trim().to_string()
    };
    assert_eq!(exec_from("exec"), "elsewhere");

    other["process"]["env"] = serde_json::json!(["PATH=/bin:/usr/bin", "FROM=edited"]);
    std::fs::write(&alt, serde_json::to_vec(&other).unwrap()).unwrap();
    assert_eq!(exec_from("exec after the config was edited"), "elsewhere");

    std::fs::remove_file(&alt).unwrap();
    std::fs::remove_file(b.dir.join("config.json")).unwrap();
    assert_eq!(
        exec_from("exec after the configs were removed"),
        "elsewhere"
    );

    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after delete");
}

/// A repeated global flag is accepted and the last one wins, as with runc
/// and crun (`--root A ... --root B`), wherever the flags stand. The
/// control: the other order names the other root, where the container
/// does not exist.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn repeated_global_flags_last_one_wins() {
    let Some(t) = T::new() else { return };
    let (id, _) = sleeper(&t, "twice");
    let root = t.root.to_str().unwrap();
    let elsewhere = t.dir.join("other-root");
    let elsewhere = elsewhere.to_str().unwrap();
    for args in [
        vec!["--root", elsewhere, "--root", root, "state", &id],
        vec!["--root", elsewhere, "state", &id, "--root", root],
        vec!["state", "--root", elsewhere, &id, "--root", root],
        vec!["--debug", "--debug", "--root", root, "state", &id],
    ] {
        let o = t.outlet_plain(&args);
        o.expect_ok(&format!("{args:?}"));
        assert_eq!(o.json()["status"], "running", "{args:?}");
    }
    t.outlet_plain(&["--root", root, "--root", elsewhere, "state", &id])
        .expect_fail("the other order", "does not exist");
}

/// `kill ID KILL` returns once the init is gone: a `delete` (without
/// --force) right after never finds the container still running. 20 times,
/// a created container and a running one each time.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_sigkill_then_delete_at_once() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("kd", |c| sh(c, SLEEPER));
    for i in 0..20 {
        for started in [false, true] {
            let id = t.id(&format!("kd{i}-{started}"));
            t.create_ok(&id, &b);
            if started {
                t.outlet(&["start", &id]).expect_ok("start");
            }
            t.outlet(&["kill", &id, "KILL"]).expect_ok("kill KILL");
            t.outlet(&["delete", &id]).expect_ok(&format!(
                "delete right after kill KILL (try {i}, started {started})"
            ));
        }
    }
    t.assert_nothing_left("after 20 kill+delete");
}

/// `exec --ignore-paused` into a paused container waits (its process is
/// frozen with the container) without holding the container's lock, so
/// `resume` goes through at once and then the exec completes. Today's
/// failure modes were `resume` waiting forever for the lock, and the
/// waiting exec ignoring SIGTERM.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_ignore_paused_then_resume() {
    let Some(t) = T::new() else { return };
    let (id, _) = sleeper(&t, "paused");
    t.outlet(&["pause", &id]).expect_ok("pause");
    assert_eq!(t.status(&id), "paused");
    let before = freezer_procs(&id).len();
    assert!(before > 0, "no freezer cgroup found for {id}");
    let so = t.dir.join("exec-paused.stdout");
    let se = t.dir.join("exec-paused.stderr");
    let mut exec = std::process::Command::new(common::OUTLET)
        .args([
            "--root",
            t.root.to_str().unwrap(),
            "exec",
            "--ignore-paused",
            &id,
        ])
        .args(["sh", "-c", "echo ran-after-resume"])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&so).unwrap())
        .stderr(std::fs::File::create(&se).unwrap())
        .spawn()
        .unwrap();
    t.track_pid(exec.id() as i32);
    // A second one, stopped by SIGTERM while it waits: it ends (143)
    // although its signals are blocked for forwarding.
    let mut stopped = std::process::Command::new(common::OUTLET)
        .args([
            "--root",
            t.root.to_str().unwrap(),
            "exec",
            "--ignore-paused",
            &id,
            "true",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    t.track_pid(stopped.id() as i32);
    // The execs have got as far as they can once both helpers sit in the
    // frozen cgroup (not a 300 ms sleep: that passed whenever a slow exec
    // had not yet reached the point where it must wait).
    let deadline = Instant::now() + Duration::from_secs(30);
    while freezer_procs(&id).len() < before + 2 {
        assert!(
            Instant::now() < deadline,
            "the execs never joined: {:?}",
            freezer_procs(&id)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        exec.try_wait().unwrap().is_none(),
        "exec should wait while paused"
    );
    assert!(
        stopped.try_wait().unwrap().is_none(),
        "exec should wait while paused"
    );
    // SAFETY: kill(2) of our own unreaped child.
    unsafe { libc::kill(stopped.id() as i32, libc::SIGTERM) };
    let st = wait_timeout(&mut stopped, Duration::from_secs(5), "exec after SIGTERM");
    assert_eq!(st.code(), Some(143), "{st:?}");
    assert_eq!(t.status(&id), "paused");
    let se2 = t.dir.join("resume.stderr");
    let mut resume = std::process::Command::new(common::OUTLET)
        .args(["--root", t.root.to_str().unwrap(), "resume", &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&se2).unwrap())
        .spawn()
        .unwrap();
    let st = wait_timeout(
        &mut resume,
        Duration::from_secs(10),
        "resume while an exec waits",
    );
    assert!(
        st.success(),
        "resume: {}",
        std::fs::read_to_string(&se2).unwrap()
    );
    let st = wait_timeout(&mut exec, Duration::from_secs(20), "exec after resume");
    let o = common::Out::from_files(st, so, se);
    o.expect_ok("exec --ignore-paused");
    assert_eq!(o.stdout.trim(), "ran-after-resume", "{o:?}");
    assert_eq!(t.status(&id), "running");
}

/// The pids in the container's freezer cgroup (v1; on a unified host the
/// directory with cgroup.freeze).
fn freezer_procs(id: &str) -> Vec<i32> {
    common::cgroup_dirs_for(id)
        .into_iter()
        .find(|d| {
            d.is_dir()
                && (d.to_string_lossy().contains("/freezer/") || d.join("cgroup.freeze").exists())
        })
        .and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// `--debug` logs create's setup steps (to stderr, or as `"level":"debug"`
/// lines with --log and json); without it, none. Syscall names libseccomp
/// does not know are reported at debug level, as runc does.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn debug_logs_the_setup_steps() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("dbg", |c| {
        sh(c, SLEEPER);
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["outlet_no_such_call"], "action": "SCMP_ACT_ERRNO"}]
        });
    });
    let steps = [
        "config",
        "cgroup ready",
        "init cloned",
        "init ready",
        "state saved",
    ];
    let id = t.id("dbg");
    let o = t.outlet(&[
        "--debug",
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    o.expect_ok("--debug create");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    for s in steps {
        assert!(
            o.stderr.contains(&format!("debug: {s}")) || o.stderr.contains(s),
            "{s}: {o:?}"
        );
    }
    assert!(o.stderr.contains("outlet_no_such_call"), "{o:?}");

    let log = t.dir.join("debug.json");
    let id2 = t.id("dbg2");
    let o = t.outlet(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id2,
    ]);
    o.expect_ok("--debug --log create");
    t.track_pid(t.state(&id2)["pid"].as_i64().unwrap() as i32);
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for s in steps {
        assert!(
            lines
                .iter()
                .any(|l| l["level"] == "debug" && l["msg"].as_str().unwrap().contains(s)),
            "{s}: {lines:#?}"
        );
    }

    // The control: the same create without --debug logs nothing.
    let id3 = t.id("dbg3");
    let quiet_log = t.dir.join("quiet.json");
    let o = t.outlet(&[
        "--log",
        quiet_log.to_str().unwrap(),
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id3,
    ]);
    o.expect_ok("create without --debug");
    t.track_pid(t.state(&id3)["pid"].as_i64().unwrap() as i32);
    assert!(!o.stderr.contains("debug"), "{o:?}");
    assert_eq!(std::fs::read_to_string(&quiet_log).unwrap_or_default(), "");
}

/// `run` records the container before it releases the init: in between,
/// `state` must read "created" (as runc's run, which is create then
/// start), not "running" while the application has not started. The
/// debug build's `OUTLET_PAUSE=create:gate-opened=FILE` holds run there
/// (state.json in place, the start byte in the gate, `Recorded` not yet
/// sent: the init reads the gate only after it).
/// Control: once released, the same `state` call reads "running", and the
/// application really had not run while it read "created".
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_reads_created_until_the_init_is_released() {
    let Some(t) = T::new() else { return };
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_PAUSE)");
    }
    let b = t.bundle("b", |c| {
        sh(
            c,
            "trap 'exit 0' TERM; touch /out/started; sleep 1000 & wait",
        )
    });
    let id = t.id("gate");
    let gate = t.dir.join("gate");
    let reached = t.dir.join("gate.reached");
    let (mut cmd, so, se) = t.command(
        common::OUTLET.as_ref(),
        &["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id],
    );
    cmd.env(
        "OUTLET_PAUSE",
        format!("create:gate-opened={}", gate.display()),
    );
    let mut child = cmd.spawn().expect("spawn outlet run");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reached.exists() {
        assert!(
            Instant::now() < deadline,
            "run never reached create:gate-opened"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let st: Value = t.state(&id);
    t.track_pid(st["pid"].as_i64().unwrap() as i32);
    let started_early = b.out.join("started").exists();
    std::fs::write(&gate, "go").unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(60), "outlet run");
    common::Out::from_files(status, so, se).expect_ok("run --detach");
    assert!(!started_early, "the application ran before run released it");
    assert_eq!(
        st["status"], "created",
        "state while run held the init: {st}"
    );
    let st: Value = t.state(&id);
    assert_eq!(st["status"], "running", "control, after release: {st}");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    t.assert_nothing_left("run held before release");
}

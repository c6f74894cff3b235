//! `run` puts the start byte into its gate together with `Recorded`
//! (src/container/create.rs `Gate::PipeOpened`): the init goes from its
//! record straight on to its execve, without waiting for `run` to see the
//! channel close and write the byte. What must still hold: the application
//! runs only once the container is recorded (tests/lifecycle.rs
//! `run_reads_created_until_the_init_is_released`, held at
//! `create:gate-opened`), and no signal sent to `run` from the moment the
//! application can run is lost. Debug builds (`OUTLET_PAUSE`); the control
//! `OUTLET_RUN_GATE_LATE=1` writes the byte at start, as before.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::pause::Pause;
use common::{Out, T, sh, wait_timeout};
use serde_json::Value;

const STARTED: &str = "touch /out/started; trap 'exit 0' TERM; sleep 1000 & wait";

fn needs_debug() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_PAUSE)");
    }
}

/// Whether `file` appears within `within`.
fn appears(file: &Path, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if file.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    file.exists()
}

/// `run --detach` held at `run:recorded` (create has returned, run has not
/// come to its start step); returns whether the application started while
/// run was held, and `state` read meanwhile.
fn held_after_create(t: &T, tag: &str, late: bool) -> (bool, Value) {
    let b = t.bundle(tag, |c| sh(c, STARTED));
    let id = t.id(tag);
    let p = Pause::new(t, tag, "run:recorded");
    let (mut cmd, so, se) = t.command(
        common::OUTLET.as_ref(),
        &["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id],
    );
    if late {
        cmd.env("OUTLET_RUN_GATE_LATE", "1");
    }
    let mut seen = (false, Value::Null);
    let out = p.around((cmd, so, se), || {
        // Long enough for an init that was let go to reach its execve on a
        // loaded machine; the late control waits it out in full.
        seen.0 = appears(&b.out.join("started"), Duration::from_secs(5));
        seen.1 = t.state(&id);
        t.track_pid(seen.1["pid"].as_i64().unwrap() as i32);
    });
    out.expect_ok("run --detach");
    assert!(
        appears(&b.out.join("started"), Duration::from_secs(10)),
        "the application never started"
    );
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    seen
}

/// The init runs on from `Recorded` with no further step of `run`: held
/// right after create, the application starts and `state` says running.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_opens_the_gate_with_the_record() {
    needs_debug();
    let Some(t) = T::new() else { return };
    let (started, st) = held_after_create(&t, "open", false);
    assert!(started, "the application waited for run's start step: {st}");
    assert_eq!(st["status"], "running", "{st}");
    t.assert_nothing_left("run held after create");
}

/// The control: with the byte written at start (as before), the same hold
/// keeps the application from starting and `state` reads created.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_a_late_gate_keeps_the_init_waiting() {
    needs_debug();
    let Some(t) = T::new() else { return };
    let (started, st) = held_after_create(&t, "late", true);
    assert!(
        !started,
        "the application ran before run's start step: {st}"
    );
    assert_eq!(st["status"], "created", "{st}");
    t.assert_nothing_left("run held after create, late gate");
}

/// `run` (foreground) held where the byte is in the gate and `Recorded` not
/// yet sent; SIGTERM to `run` there. Without a pid namespace the
/// application is not a namespace's init, so a SIGTERM that reaches it
/// ends it: run must exit 143 (its status, the shell's way), with nothing
/// left. Returns run's end.
fn sigterm_at_the_open_gate(t: &T, tag: &str, late: bool) -> Out {
    let b = t.bundle(tag, |c| {
        sh(c, "exec sleep 1000");
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    let id = t.id(tag);
    let p = Pause::new(t, tag, "create:gate-opened");
    let (mut cmd, so, se) = t.command(
        common::OUTLET.as_ref(),
        &["run", "--bundle", b.dir.to_str().unwrap(), &id],
    );
    if late {
        cmd.env("OUTLET_RUN_GATE_LATE", "1");
    }
    let (k, v) = p.env();
    let mut child = cmd.env(k, v).spawn().expect("spawn outlet run");
    p.wait_reached();
    let st = t.state(&id);
    t.track_pid(st["pid"].as_i64().unwrap() as i32);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    p.release();
    let status = wait_timeout(&mut child, Duration::from_secs(60), "outlet run");
    let out = Out::from_files(status, so, se);
    // A run that died leaves its container: the guard's checks need it gone.
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    out
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_sigterm_to_run_at_the_open_gate_reaches_the_application() {
    needs_debug();
    let Some(t) = T::new() else { return };
    let out = sigterm_at_the_open_gate(&t, "term", false);
    assert_eq!(out.code, Some(143), "{out:#?}");
    t.assert_nothing_left("SIGTERM at the open gate");
}

/// The control: with the late gate nothing is blocked yet at that point,
/// and the same SIGTERM ends `run` itself (the test tells the two apart).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_a_sigterm_before_the_block_ends_run() {
    needs_debug();
    let Some(t) = T::new() else { return };
    let out = sigterm_at_the_open_gate(&t, "termlate", true);
    assert_eq!(out.signal, Some(libc::SIGTERM), "{out:#?}");
    t.assert_nothing_left("SIGTERM before the block");
}

/// The pid file's inode is made while the init sets up and linked in only
/// after Ready (`syscall::StagedPidFile`): a create whose init fails in
/// its setup (a bind mount whose source is missing) leaves the caller's
/// directory empty. Control: the same create with the mount that exists
/// leaves the pid file there, so the listing sees one when there is one.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_create_failing_in_its_setup_leaves_no_pid_file() {
    let Some(t) = T::new() else { return };
    let entries = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    for (tag, source_exists) in [("pidbad", false), ("pidok", true)] {
        let src = t.dir.join(format!("{tag}-src"));
        if source_exists {
            std::fs::create_dir_all(&src).unwrap();
        }
        let b = t.bundle(tag, |c| {
            sh(c, STARTED);
            c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                "destination": "/mnt",
                "type": "bind",
                "source": src,
                "options": ["rbind", "ro"]
            }));
        });
        let piddir = t.dir.join(format!("{tag}-piddir"));
        std::fs::create_dir_all(&piddir).unwrap();
        let pid_file = piddir.join("init.pid");
        let id = t.id(tag);
        let o = t.outlet(&[
            "create",
            "--bundle",
            b.dir.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ]);
        if source_exists {
            o.expect_ok("create (control)");
            t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
            assert_eq!(entries(&piddir), ["init.pid"], "control: {o:?}");
            t.outlet(&["delete", "--force", &id])
                .expect_ok("delete --force");
        } else {
            assert_eq!(o.code, Some(1), "create with a missing bind source: {o:?}");
            assert!(
                entries(&piddir).is_empty(),
                "left in the pid file's dir: {:?}",
                entries(&piddir)
            );
        }
    }
    t.assert_nothing_left("pid file staged");
}

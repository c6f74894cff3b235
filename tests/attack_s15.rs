//! The attacker's review of session 15 (round 13): exec's inputs from a
//! hostile running container, session 14's new code (the plain exec
//! parse, `Cgroup::thaw_hybrid`, `cgroups::fs::read_opt`) and the caller's
//! malformed input. The cgroup v2 cases are in the VM
//! (tests/vm/s15_v2.sh). docs/known-gaps.md, "Session 15, round 13",
//! lists what was tried and held, and what is left open.
//!
//! 1. A caller's JSON input that never ends. `exec --process F`,
//!    `create --config F` and `update --resources F|-` read the whole file
//!    into memory before looking at it: `--process /dev/zero` (a caller's
//!    slip, or a path a template filled in badly) grew outlet's memory
//!    for as long as it read (seen: still reading after 5 s, killed),
//!    where runc fails on the first byte. Fixed: these inputs are read up
//!    to 32 MiB (`syscall::fs::read_input`), far more than any real one,
//!    then fail naming the path. A FIFO still blocks until a writer comes,
//!    as in runc (`--process <(...)` is a pipe). Control
//!    `OUTLET_INPUT_UNBOUNDED=1` (debug builds): a 40 MiB sparse file is
//!    read whole and fails as JSON, not as too large.
//!
//! 2. A container that stalls exec's own processes. With a writable
//!    cgroup mount the container moves any process of its cgroup it sees
//!    into a sub-cgroup it froze: exec's helper (a container in the host's
//!    pid namespace sees it from its clone on) or, with a pid namespace of
//!    its own, the process between its fork and its execve; or it simply
//!    stops that process with SIGSTOP (its root holds CAP_KILL). Neither
//!    ever reported, and exec waited for ever (round 12 reasoned the
//!    freeze; seen here and on v2 in the VM, tests/vm/s15_v2.sh). Fixed:
//!    while it waits, exec looks every 250 ms whether its helper or
//!    process sits in a frozen cgroup below the container's own, or is
//!    stopped at two looks in a row (`container::exec_stall`), and then
//!    kills them and fails, naming it; one frozen in the container's own
//!    cgroup is a pause, which `resume` ends, and is still waited for.
//!    Held at `OUTLET_PAUSE=exec:joined` (the helper) or `exec:process`
//!    while the container acts. Control `OUTLET_EXEC_NO_STALL_WATCH=1`:
//!    exec is still waiting after 4 s (then the test kills it).
//!
//! 3. More additional gids than the kernel's NGROUPS_MAX (65536): the
//!    process failed late, in the container, with every gid in the
//!    message (70000 gids: a 450 KB error line, in the caller's log
//!    too). Now refused with the other process fields, in a short line.
//!    Control: `OUTLET_USER_ID_UNCHECKED=1` (the id checks skipped) fails
//!    late again, and 65536 gids still run.
//!
//! Needs root (ignored otherwise), the host's v1 freezer and a debug
//! build (the controls).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::pause::wait_for_file as wait_file;
use common::{OUTLET, T, needs_v1_freezer, sh};

/// A 40 MiB file of NUL bytes (sparse: it costs no disk).
fn sparse_file(t: &T, name: &str) -> std::path::PathBuf {
    let p = t.dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(40 << 20).unwrap();
    p
}

#[test]
fn an_endless_json_input_fails_instead_of_filling_memory() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    let b = t.bundle("b", |c| sh(c, "exec sleep 1000"));
    let id = t.id("in");
    t.create_ok(&id, &b);
    let big = sparse_file(&t, "big.json");
    let big = big.to_str().unwrap();
    let bundle = b.dir.to_str().unwrap();
    let other = t.id("cfg");
    for src in ["/dev/zero", big] {
        t.outlet(&["exec", "--process", src, "--detach", &id])
            .expect_exec_fail(&format!("exec --process {src}"), "larger than 32 MiB");
        t.outlet(&["update", "--resources", src, &id])
            .expect_fail(&format!("update --resources {src}"), "larger than 32 MiB");
        t.outlet(&["create", "--config", src, "--bundle", bundle, &other])
            .expect_fail(&format!("create --config {src}"), "larger than 32 MiB");
        assert!(
            !t.state_dir_exists(&other),
            "create --config {src} left state"
        );
    }
    // update --resources - with /dev/zero on stdin.
    let (mut cmd, so, se) = t.command(Path::new(OUTLET), &["update", "--resources", "-", &id]);
    cmd.stdin(Stdio::from(std::fs::File::open("/dev/zero").unwrap()));
    let mut child = cmd.spawn().unwrap();
    let st = common::wait_timeout(&mut child, std::time::Duration::from_secs(20), "update -");
    common::Out::from_files(st, so, se)
        .expect_fail("update --resources - </dev/zero", "larger than 32 MiB");
    // Nothing changed: the container is still created, its init alone.
    assert_eq!(t.status(&id), "created");
    // Control: unbounded, the 40 MiB file is read whole and fails as JSON.
    let ctl = t.call_env(
        Path::new(OUTLET),
        &["exec", "--process", big, "--detach", &id],
        &[],
        &[("OUTLET_INPUT_UNBOUNDED", "1")],
    );
    ctl.expect_exec_fail("control exec --process (unbounded)", "invalid process JSON");
    assert!(!ctl.stderr.contains("larger than"), "control: {ctl:#?}");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    t.assert_nothing_left("endless input");
}

/// The container's script: a frozen freezer cgroup `ice` below its own;
/// at /out/go every other process of its cgroup moves there.
const FREEZE_NEWCOMERS: &str = "exec 2>/out/err; f=/sys/fs/cgroup/freezer; mkdir $f/ice || exit 1; \
    until grep -q FROZEN $f/ice/freezer.state; do echo FROZEN > $f/ice/freezer.state; sleep 0.05; done; \
    echo ready > /out/ready; until [ -e /out/go ]; do sleep 0.05; done; \
    for q in $(cat $f/cgroup.procs); do [ $q = $$ ] || echo $q > $f/ice/cgroup.procs; done; \
    cat $f/ice/cgroup.procs > /out/moved.new; mv /out/moved.new /out/moved; exec sleep 1000";

/// The container's script: at /out/go it stops every other process it
/// sees (its own pid namespace: exec's process, held before its execve).
const STOP_NEWCOMERS: &str = "exec 2>/out/err; echo ready > /out/ready; \
    until [ -e /out/go ]; do sleep 0.05; done; \
    for q in /proc/[0-9]*; do q=${q#/proc/}; [ $q = $$ ] || kill -STOP $q; done; \
    echo stopped > /out/moved.new; mv /out/moved.new /out/moved; exec sleep 1000";

#[test]
fn exec_whose_process_the_container_froze_or_stopped_fails_instead_of_hanging() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    needs_v1_freezer();
    // (tag, pid namespace of its own, the step held, the container's
    // script, the control's knob)
    for (tag, pid_ns, step, script, control) in [
        ("helper", false, "exec:joined", FREEZE_NEWCOMERS, false),
        ("process", true, "exec:process", FREEZE_NEWCOMERS, false),
        ("stopped", true, "exec:process", STOP_NEWCOMERS, false),
        ("helper-ctl", false, "exec:joined", FREEZE_NEWCOMERS, true),
        ("stopped-ctl", true, "exec:process", STOP_NEWCOMERS, true),
    ] {
        let b = t.bundle(tag, |c| {
            common::rw_cgroup(c);
            if !pid_ns {
                common::drop_ns(c, "pid");
            }
            sh(c, script);
        });
        let id = t.id(tag);
        t.create_ok(&id, &b);
        t.outlet(&["start", &id]).expect_ok("start");
        wait_file(&b.out.join("ready"), tag);
        // The process waits in the container's mount namespace: its hold
        // file is in /out, the bundle's out dir on the host.
        let (hold, seen_as) = if pid_ns {
            (b.out.join("hold"), "/out/hold".to_string())
        } else {
            let h = t.dir.join(format!("hold-{tag}"));
            let s = h.display().to_string();
            (h, s)
        };
        let mut env = vec![("OUTLET_PAUSE".to_string(), format!("{step}={seen_as}"))];
        if control {
            env.push(("OUTLET_EXEC_NO_STALL_WATCH".into(), "1".into()));
        }
        let pid_file = t.dir.join(format!("{tag}.pid"));
        let pf = pid_file.to_str().unwrap();
        let (mut cmd, so, se) = t.command(
            Path::new(OUTLET),
            &["exec", "--detach", "--pid-file", pf, &id, "/bin/true"],
        );
        cmd.envs(env);
        let mut exec = cmd.spawn().expect("spawn exec");
        // The helper (or the process) waits at the step; the container
        // moves it into its frozen cgroup; then it is let go, frozen.
        wait_file(&hold.with_extension("reached"), tag);
        std::fs::write(b.out.join("go"), "").unwrap();
        wait_file(&b.out.join("moved"), tag);
        let moved = std::fs::read_to_string(b.out.join("moved")).unwrap();
        assert!(
            !moved.trim().is_empty(),
            "{tag}: the container moved nothing"
        );
        std::fs::write(&hold, "").unwrap();
        let limit = Duration::from_secs(if control { 4 } else { 10 });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = exec.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = exec.kill();
                let _ = exec.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if control {
            assert!(
                status.is_none(),
                "{tag}: the control's exec ended: {status:?}"
            );
        } else {
            let o = common::Out::from_files(status.expect("exec hung"), so, se);
            let why = if script == STOP_NEWCOMERS {
                "(SIGSTOP) and kept it stopped"
            } else {
                "a cgroup it froze"
            };
            o.expect_exec_fail(tag, why);
            assert!(
                !pid_file.exists(),
                "{tag}: a failed exec wrote its pid file"
            );
        }
        t.outlet(&["delete", "--force", &id])
            .expect_ok(&format!("{tag}: delete --force"));
        let left = t.settle();
        assert!(left.is_empty(), "{tag}: left behind: {left:#?}");
    }
    t.assert_nothing_left("frozen exec");
}

#[test]
fn more_gids_than_the_kernel_takes_fail_early_and_briefly() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    let b = t.bundle("b", |c| sh(c, "exec sleep 1000"));
    let id = t.id("gids");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let file = |n: u32| {
        let gids: Vec<u32> = (1..=n).collect();
        let p = t.dir.join(format!("gids-{n}.json"));
        let v = serde_json::json!({"args": ["/bin/true"], "cwd": "/",
            "user": {"uid": 0, "gid": 0, "additionalGids": gids}});
        std::fs::write(&p, v.to_string()).unwrap();
        p
    };
    let (over, max) = (file(65537), file(65536));
    let over = over.to_str().unwrap();
    let o = t.outlet(&["exec", "--process", over, &id]);
    o.expect_exec_fail("65537 gids", "more than the kernel's NGROUPS_MAX (65536)");
    assert!(
        o.stderr.len() < 1000,
        "a long error: {} bytes",
        o.stderr.len()
    );
    t.outlet(&["exec", "--process", max.to_str().unwrap(), &id])
        .expect_ok("65536 gids");
    let ctl = t.call_env(
        Path::new(OUTLET),
        &["exec", "--process", over, &id],
        &[],
        &[("OUTLET_USER_ID_UNCHECKED", "1")],
    );
    ctl.expect_exec_fail("control: 65537 gids unchecked", "Invalid argument");
    assert!(!ctl.stderr.contains("NGROUPS_MAX"), "control: {ctl:#?}");
    assert_eq!(t.status(&id), "running");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    t.assert_nothing_left("gids");
}

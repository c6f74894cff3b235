//! youki's contest integration tests (youki-dev/youki
//! tests/contest/contest/src/tests/*), ported: the checks outlet's other
//! files did not make yet, in real containers, each with a control that
//! makes the same check fail. Every test names its source
//! (`// youki: DIR/FILE TEST`).
//!
//! Not ported, and why:
//! - poststart_fail: youki's test expects `start` to fail and the hooks
//!   after the failing one not to run. The runtime spec (1.0-1.2, config.md
//!   and runtime.md lifecycle) says a failing poststart hook is logged as a
//!   warning and the remaining hooks and lifecycle continue; outlet does
//!   that (`youki_poststart_and_poststop_failures_only_warn` asserts it),
//!   so youki's check fails against outlet by design. youki skips it for
//!   runc, which fails start and destroys the container.
//! - poststop_fail: youki's own comment says its test checks youki's
//!   non-spec behaviour (delete fails, later hooks skipped); outlet follows
//!   the spec (same test as above).
//! - tlb (hugetlb): this host has hugetlb only on the cgroup2 mount beside
//!   v1 controllers, so every hugepageLimits config is refused here ("the
//!   hugetlb controller is needed but not available"), also for youki's
//!   invalid 3MB page size; runc fails too. The cgroup v2 VM suite is where
//!   the limits can be written.
//! - intel_rdt, net_devices, io_uring, seccomp_notify, checkpoint*: resctrl
//!   is not mounted here; net devices, seccomp listeners and CRIU have their
//!   own files (netdev_s8.rs, seccomp_listener.rs, checkpoint.rs).
//! - mounts_recursive, prohibit_symlink, exec/ignore_paused, linux_ns_path,
//!   process_rlimits, sysctl, hostname, domainname, scheduler, io_priority,
//!   memory_policy, personality, exec_cpu_affinity, no_pivot,
//!   rootfs_propagation, readonly/masked paths, invalid ociVersion: already
//!   made by mount_options.rs, attack_*.rs, lifecycle.rs, namespaces.rs,
//!   conform_s8.rs, fields.rs, spec_fields.rs, netdev_s8.rs, rootfs.rs,
//!   crun_s9.rs (checked by running them against outlet and runc here).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{T, sh};
use serde_json::{Value, json};

/// A hook that appends `name` to `file` and exits `code`.
fn hook(file: &Path, name: &str, code: i32) -> Value {
    json!({"path": "/bin/sh",
           "args": ["sh", "-c", format!("echo {name} >> {}; exit {code}", file.display())]})
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// A failing createRuntime, createContainer or prestart hook fails create:
/// the hooks before it and itself ran, the one after it did not, the
/// process never ran, and nothing is left. Control: the same chain with the
/// middle hook succeeding runs all three and then the process.
// youki: create_runtime_fail/mod.rs create_runtime_fail,
//        prestart_fail/mod.rs prestart_fail
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn youki_failing_create_hook_stops_the_chain() {
    let Some(t) = T::new() else { return };
    for kind in ["createRuntime", "createContainer", "prestart"] {
        for fail in [true, false] {
            let tag = format!("{kind}-{fail}");
            let log = t.dir.join(format!("{tag}.hooks"));
            let b = t.bundle(&tag, |c| {
                c["hooks"][kind] = json!([
                    hook(&log, "hook_1", 0),
                    hook(&log, "hook_2", i32::from(fail)),
                    hook(&log, "hook_3", 0),
                ]);
                sh(c, "echo process >> /out/ran");
            });
            let id = t.id(&tag);
            let o = t.create(&id, &b);
            if fail {
                o.expect_fail(&tag, kind);
                assert_eq!(lines(&log), ["hook_1", "hook_2"], "{tag}");
                t.assert_nothing_left(&tag);
                t.outlet(&["start", &id])
                    .expect_fail(&tag, "does not exist");
                assert!(!b.out.join("ran").exists(), "{tag}: the process ran");
            } else {
                o.expect_ok(&tag);
                assert_eq!(lines(&log), ["hook_1", "hook_2", "hook_3"], "{tag}");
                t.outlet(&["start", &id]).expect_ok(&tag);
                t.wait_status(&id, "stopped");
                assert_eq!(lines(&b.out.join("ran")), ["process"], "{tag}");
                t.outlet(&["delete", &id]).expect_ok(&tag);
            }
        }
    }
}

/// Failing poststart and poststop hooks are warnings, as the spec says:
/// start and delete succeed, every hook runs, and the warning names the
/// failing hook. Control: the same hooks all succeeding give no warning.
// youki: poststart_fail/mod.rs poststart_fail, poststop_fail/mod.rs
//        poststop_fail (outlet's answer is the spec's, not youki's)
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn youki_poststart_and_poststop_failures_only_warn() {
    let Some(t) = T::new() else { return };
    for fail in [true, false] {
        let log = t.dir.join(format!("{fail}.hooks"));
        let b = t.bundle(&format!("p{fail}"), |c| {
            let chain = |k: &str| {
                json!([
                    hook(&log, &format!("{k}_1"), 0),
                    hook(&log, &format!("{k}_2"), i32::from(fail)),
                    hook(&log, &format!("{k}_3"), 0),
                ])
            };
            c["hooks"]["poststart"] = chain("start");
            c["hooks"]["poststop"] = chain("stop");
            c["process"]["args"] = json!(["true"]);
        });
        let id = t.id(&format!("p{fail}"));
        t.create_ok(&id, &b);
        let start = t.outlet(&["start", &id]);
        start.expect_ok("start");
        t.wait_status(&id, "stopped");
        let delete = t.outlet(&["delete", &id]);
        delete.expect_ok("delete");
        assert!(!t.state_dir_exists(&id));
        assert_eq!(
            lines(&log),
            [
                "start_1", "start_2", "start_3", "stop_1", "stop_2", "stop_3"
            ]
        );
        for (o, kind) in [(&start, "poststart"), (&delete, "poststop")] {
            let warned =
                o.stderr.contains("warning") && o.stderr.contains(&format!("hooks.{kind}[1]"));
            assert_eq!(warned, fail, "{kind} (failing: {fail}): {o:?}");
        }
    }
}

/// kill of a stopped container fails and changes nothing in its state.
/// Control: kill of a running one succeeds and the container stops.
// youki: kill_no_effect/kill_no_effect_test.rs kill_no_effect_test
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn youki_kill_of_a_stopped_container_has_no_effect() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("k", |c| c["process"]["args"] = json!(["true"]));
    let id = t.id("k");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    t.wait_status(&id, "stopped");
    let before = t.outlet(&["state", &id]).stdout;
    t.outlet(&["kill", &id, "KILL"])
        .expect_fail("kill stopped", "not running");
    assert_eq!(t.outlet(&["state", &id]).stdout, before);
    t.outlet(&["delete", &id]).expect_ok("delete");

    let b = t.bundle("k2", |c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = t.id("k2");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill running");
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
}

/// kill with a signal name without "SIG" (TERM, USR1, USR2) reaches the
/// process, whose trap leaves a file. Control: a process trapping one
/// signal and sent another leaves no file (and, being its namespace's
/// PID 1, ignores the untrapped signal until KILL).
// youki: killsig/mod.rs killsig_TERM, killsig_USR1, killsig_USR2
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn youki_kill_signal_names() {
    let Some(t) = T::new() else { return };
    for (trap, send) in [
        ("TERM", "TERM"),
        ("USR1", "USR1"),
        ("USR2", "USR2"),
        ("USR1", "USR2"),
    ] {
        let tag = format!("{trap}-{send}");
        let b = t.bundle(&tag, |c| {
            sh(
                c,
                &format!(
                    "trap 'touch /out/{trap}; exit 0' {trap}; \
                     trap 'touch /out/barrier' WINCH; touch /out/ready; \
                     sleep 1000 & while :; do wait $!; done"
                ),
            )
        });
        let id = t.id(&tag);
        t.create_ok(&id, &b);
        t.outlet(&["start", &id]).expect_ok("start");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !b.out.join("ready").exists() {
            assert!(Instant::now() < deadline, "{tag}: never ready");
            std::thread::sleep(Duration::from_millis(10));
        }
        t.outlet(&["kill", &id, send]).expect_ok(&tag);
        if trap != send {
            // PID 1 of its namespace: an untrapped signal does nothing.
            // Not a sleep to judge that: WINCH (28, delivered after any
            // lower signal still pending, its trap run after theirs) is
            // a barrier: once its file is there, whatever `send` did has
            // been done.
            t.outlet(&["kill", &id, "WINCH"]).expect_ok(&tag);
            let deadline = Instant::now() + Duration::from_secs(30);
            while !b.out.join("barrier").exists() && t.status(&id) == "running" {
                assert!(Instant::now() < deadline, "{tag}: barrier never seen");
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(t.status(&id), "running", "{tag}");
            t.outlet(&["kill", &id, "KILL"]).expect_ok(&tag);
        }
        t.wait_status(&id, "stopped");
        assert_eq!(b.out.join(trap).exists(), trap == send, "{tag}");
        t.outlet(&["delete", &id]).expect_ok("delete");
    }
}

/// This process's fds from 3 up that a child inherits (no FD_CLOEXEC):
/// a caller may hold some (the harness's own parent did here).
fn inherited_fds() -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd: &u32| {
            // SAFETY: F_GETFD only reads the flags of a number; a closed
            // one (the read_dir's own) answers -1.
            fd >= 3 && unsafe { libc::fcntl(fd as i32, libc::F_GETFD) } == 0
        })
        .collect();
    v.sort();
    v
}

/// --preserve-fds larger than what is open passes what there is (youki's
/// only_stdio; runc 1.1.5 refuses, "unable to stat preserved-fd"); a
/// passed fd is closed with --preserve-fds 0 (so is any other fd the
/// caller leaks) and kept with 1.
// youki: fd_control/mod.rs only_stdio, closes_fd, pass_single_fd
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn youki_fd_control() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("fds", |c| {
        c["process"]["args"] = json!(["ls", "/proc/self/fd"])
    });
    // The fd numbers the container's `ls` lists, sorted.
    let run = |tag: &str, n: &str, fds: &[(i32, i32)]| -> Vec<u32> {
        let id = t.id(tag);
        let dir = b.dir.to_str().unwrap();
        let args = ["run", "--preserve-fds", n, "--bundle", dir, &id];
        let o = t.call(Path::new(common::OUTLET), &args, fds);
        o.expect_ok(tag);
        let mut v: Vec<u32> = o
            .stdout
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        v.sort();
        v
    };
    let null = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsRawFd;
    let fd = null.as_raw_fd();
    let leaked = inherited_fds();
    // `ls` opens the directory at the lowest free number.
    let with_ls = |mut v: Vec<u32>| {
        let free = (0..).find(|n| !v.contains(n)).unwrap();
        v.push(free);
        v.sort();
        v
    };
    let mut want = vec![0, 1, 2];
    want.extend(leaked.iter().filter(|&&f| f < 103));
    assert_eq!(
        run("only", "100", &[]),
        with_ls(want),
        "only stdio (and leaks {leaked:?})"
    );
    assert_eq!(run("closes", "0", &[(fd, 3)]), with_ls(vec![0, 1, 2]));
    let mut want = vec![0, 1, 2, 3];
    want.extend(leaked.iter().filter(|&&f| f == 3));
    want.dedup();
    assert_eq!(run("passes", "1", &[(fd, 3)]), with_ls(want));
}

/// exec inherits the config's env; -e overrides one and adds another.
/// Unknown annotations and an unknown top-level property are accepted.
/// Control: a variable neither sets is absent.
// youki: exec_env_inheritance/exec_env_inheritance_test.rs
//        exec_inherits_env_from_config, exec_env_overrides_config;
//        misc_props/misc_props_test.rs annotations_unknown_key_ignored_test,
//        unknown_top_level_property_ignored_test
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn youki_exec_env_and_unknown_properties() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("env", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
        c["process"]["env"] = json!([
            "PATH=/usr/bin:/bin",
            "HOME=/root",
            "CUSTOM_VAR=from_config",
            "OVERRIDE_VAR=from_config",
            "KEEP_VAR=from_config"
        ]);
        c["annotations"] = json!({"org.youki.misc-props.unknown": ""});
        c["unknown"] = json!("value");
    });
    let id = t.id("env");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let env = |extra: &[&str]| -> Vec<String> {
        let o = t.outlet(&[&["exec"][..], extra, &[&id, "env"]].concat());
        o.expect_ok("exec env");
        o.stdout.lines().map(String::from).collect()
    };
    let plain = env(&[]);
    for kv in [
        "CUSTOM_VAR=from_config",
        "HOME=/root",
        "OVERRIDE_VAR=from_config",
    ] {
        assert!(plain.iter().any(|l| l == kv), "{kv}: {plain:?}");
    }
    assert!(
        !plain.iter().any(|l| l.starts_with("NEW_VAR=")),
        "{plain:?}"
    );
    let over = env(&[
        "-e",
        "OVERRIDE_VAR=from_exec",
        "-e",
        "NEW_VAR=only_from_exec",
    ]);
    for kv in [
        "OVERRIDE_VAR=from_exec",
        "KEEP_VAR=from_config",
        "NEW_VAR=only_from_exec",
    ] {
        assert!(over.iter().any(|l| l == kv), "{kv}: {over:?}");
    }
    assert!(
        !over.iter().any(|l| l == "OVERRIDE_VAR=from_config"),
        "{over:?}"
    );
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// Values the kernel cannot take fail create naming the field, nothing
/// left: RLIMIT_NOFILE above fs.nr_open, a capability name that does not
/// exist (runc 1.1.5 ignores it with a warning; youki and outlet refuse).
/// Control: the same fields with good values run.
// youki: process_rlimits_fail/process_rlimits_fail_test.rs
//        process_rlimits_fail_test; process_capabilities_fail/
//        process_capabilities_fail_test.rs process_capabilities_fail_test
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn youki_impossible_rlimit_and_capability_fail() {
    let Some(t) = T::new() else { return };
    let rlimit = t.bundle("rlimit", |c| {
        c["process"]["rlimits"] =
            json!([{"type": "RLIMIT_NOFILE", "hard": u64::MAX, "soft": u64::MAX}]);
        c["process"]["args"] = json!(["true"]);
    });
    t.create(&t.id("rlimit"), &rlimit)
        .expect_fail("rlimit", "RLIMIT_NOFILE");
    t.assert_nothing_left("rlimit");
    // youki's contest expects an unknown capability name to fail create.
    // The runtime-spec (1.1+) says such a value MUST be logged as a
    // warning and runtimes SHOULD NOT fail, and runc 1.1.5 warns and runs:
    // outlet follows them (tests/runcbats_s9d.rs `capabilities`).
    let cap = t.bundle("cap", |c| {
        c["process"]["capabilities"] = json!({"bounding": ["TEST_CAP"], "effective": ["TEST_CAP"]});
        c["process"]["args"] = json!(["true"]);
    });
    let o = t.create(&t.id("cap"), &cap);
    o.expect_ok("unknown capability: a warning");
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("TEST_CAP"),
        "{o:?}"
    );
    t.outlet(&["delete", "--force", &t.id("cap")])
        .expect_ok("delete cap");
    t.assert_nothing_left("cap");
    let o = t.run(
        &t.id("good"),
        &t.bundle("good", |c| {
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]);
            c["process"]["capabilities"] =
                json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]});
            sh(c, "ulimit -n; grep CapEff /proc/self/status");
        }),
    );
    o.expect_ok("good values");
    assert_eq!(o.stdout, "1024\nCapEff:\t0000000000000020\n", "{o:?}");
}

/// delete: a container that does not exist is an error; created and
/// stopped ones are deleted; a running one is not (the control: it is
/// still running after the refusal, and goes with --force).
// youki: delete/delete_test.rs delete_non_existed_container,
//        delete_created_container_test, delete_running_container_test,
//        delete_stopped_container_test
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn youki_delete_by_state() {
    let Some(t) = T::new() else { return };
    let missing = t.id("missing");
    t.outlet(&["delete", &missing])
        .expect_fail("missing", "does not exist");
    let b = t.bundle("d", |c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = t.id("d");
    t.create_ok(&id, &b);
    t.outlet(&["delete", &id]).expect_ok("created");
    assert!(!t.state_dir_exists(&id));
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    t.outlet(&["delete", &id]).expect_fail("running", "");
    assert_eq!(t.status(&id), "running");
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("stopped");
    assert!(!t.state_dir_exists(&id));
}

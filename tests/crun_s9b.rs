//! crun's Python test suite, ported (second file; see crun_s9.rs for the
//! first and for the list of what is not ported): delete of an init frozen
//! elsewhere, domainname against its sysctl, socket activation, and hooks.
//! Each check has a control that makes it fail on real data.

mod common;

use std::time::{Duration, Instant};

use common::{Out, T, drop_ns, sh};
use serde_json::{Value, json};

/// `outlet run` of a bundle made by `edit`, output in the returned Out.
fn run_with(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> Out {
    let b = t.bundle(tag, edit);
    t.run(&t.id(tag), &b)
}

/// The init is frozen in a freezer cgroup that is not the container's (as
/// crun's test does on cgroup v1): `delete --force` cannot kill it. crun
/// exits 0 there; outlet, like runc 1.1.5, fails saying so and keeps the
/// container, and once thawed, `delete --force` removes everything. The
/// control is that second delete.
// crun: test_delete.py test_simple_delete
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_delete_force_of_an_init_frozen_elsewhere() {
    let Some(t) = T::new() else { return };
    let freezer = std::path::Path::new("/sys/fs/cgroup/freezer");
    assert!(
        freezer.join("freezer.state").exists() || freezer.is_dir(),
        "no v1 freezer here"
    );
    let b = t.bundle("frz", |c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = t.id("frz");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let st = t.state(&id);
    assert_eq!(st["status"], "running");
    assert_eq!(st["id"], id.as_str());
    let frozen = freezer.join(format!("{}-frozen", t.token));
    std::fs::create_dir(&frozen).unwrap();
    {
        let frozen = frozen.clone();
        t.on_cleanup(move || {
            let _ = std::fs::write(frozen.join("freezer.state"), "THAWED");
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::remove_dir(&frozen).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    }
    std::fs::write(frozen.join("tasks"), pid.to_string()).unwrap();
    std::fs::write(frozen.join("freezer.state"), "FROZEN").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(frozen.join("freezer.state"))
        .unwrap()
        .trim()
        != "FROZEN"
    {
        assert!(Instant::now() < deadline, "did not freeze");
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = t.outlet(&["delete", "--force", &id]);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(o.stderr.contains(&id), "{o:?}");
    assert!(
        t.state_dir_exists(&id),
        "the container was dropped while its init lives"
    );
    std::fs::write(frozen.join("freezer.state"), "THAWED").unwrap();
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete after thaw");
    assert!(!t.state_dir_exists(&id));
}

/// `domainname` and the sysctl `kernel.domainname` with two different
/// values are refused naming both (runc 1.1.5 lets the sysctl win, outlet
/// let the field win: either is an accident of order); the same value in
/// both runs. Control: the field alone is set, and without a uts
/// namespace the host's "(none)" shows.
// crun: test_domainname.py test_domainname, test_domainname_conflict_sysctl,
//       test_domainname_with_sysctl
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_domainname_field_and_sysctl() {
    let Some(t) = T::new() else { return };
    let domain = |tag: &str, field: Option<&str>, sysctl: Option<&str>, uts: bool| -> Out {
        run_with(&t, tag, |c| {
            if let Some(d) = field {
                c["domainname"] = json!(d);
            }
            if let Some(d) = sysctl {
                c["linux"]["sysctl"] = json!({"kernel.domainname": d});
            }
            if !uts {
                drop_ns(c, "uts");
                c.as_object_mut().unwrap().remove("hostname");
            }
            c["process"]["args"] = json!(["cat", "/proc/sys/kernel/domainname"]);
        })
    };
    let o = domain("conflict", Some("foomachine"), Some("foo"), true);
    o.expect_fail("conflict", "kernel.domainname");
    assert!(o.stderr.contains("foomachine"), "{o:?}");
    t.assert_nothing_left("conflict");
    let o = domain("same", Some("foo"), Some("foo"), true);
    o.expect_ok("same value");
    assert_eq!(o.stdout, "foo\n");
    let o = domain("field", Some("foomachine"), None, true);
    o.expect_ok("field alone");
    assert_eq!(o.stdout, "foomachine\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let o = domain("nouts", None, None, false);
    o.expect_ok("no uts namespace");
    assert_eq!(o.stdout, host);
}

/// Socket activation: outlet started with LISTEN_FDS=1 (LISTEN_PID unset,
/// as crun's test does, or outlet's own pid, as systemd does) passes fd 3
/// on and tells the process LISTEN_FDS=1 and LISTEN_PID=1; --preserve-fds
/// fds come after it. Control: LISTEN_PID naming another process means the
/// variables were only inherited, and nothing is passed.
// crun: test_start.py test_listen_pid_env
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_listen_fds_reach_the_container() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("lfd", |c| {
        sh(
            c,
            "echo \"pid=${LISTEN_PID:-unset} fds=${LISTEN_FDS:-unset}\"; \
             for f in 3 4 5; do [ -e /proc/self/fd/$f ] && readlink /proc/self/fd/$f; done; true",
        )
    });
    let a = std::fs::File::open("/etc/hostname").unwrap();
    let p = std::fs::File::open("/etc/passwd").unwrap();
    use std::os::fd::AsRawFd;
    let fds = [(a.as_raw_fd(), 3), (p.as_raw_fd(), 4)];
    let dir = b.dir.to_str().unwrap();
    let run = |tag: &str, preserve: &str, env: &[(&str, &str)]| -> Out {
        let id = t.id(tag);
        let args = ["run", "--preserve-fds", preserve, "--bundle", dir, &id];
        let o = t.call_env(std::path::Path::new(common::OUTLET), &args, &fds, env);
        o.expect_ok(tag);
        o
    };
    let o = run("unset", "0", &[("LISTEN_FDS", "1")]);
    assert_eq!(o.stdout, "pid=1 fds=1\n/etc/hostname\n", "{o:?}");
    let o = run("more", "1", &[("LISTEN_FDS", "1")]);
    assert_eq!(
        o.stdout, "pid=1 fds=1\n/etc/hostname\n/etc/passwd\n",
        "{o:?}"
    );
    // Control: the variables belong to another process.
    let o = run("other", "0", &[("LISTEN_FDS", "1"), ("LISTEN_PID", "1")]);
    assert_eq!(o.stdout, "pid=unset fds=unset\n", "{o:?}");
}

/// Hooks run in the bundle directory (runc works from there, crun sets
/// it): prestart, createRuntime and poststop print it. A createContainer
/// hook runs in the mounted rootfs, as runc's (crun's runs in the bundle
/// and finds the container's /proc at rootfs/proc): it finds /proc at
/// proc/ from there. A hook without env gets the runtime's PATH, one with env only
/// that. Poststop hooks run after a createRuntime hook fails, also by
/// timeout. Control: the test itself runs elsewhere, so an inherited cwd
/// would show as that directory.
// crun: test_hooks.py test_hook_env_inherit, test_hook_env_no_inherit,
//       test_createContainer_hook_after_mounts,
//       test_createRuntime_hook_bundle_path,
//       test_poststop_hook_on_createruntime_failure,
//       test_poststop_hook_on_createruntime_timeout
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_hooks_cwd_env_and_poststop_after_failure() {
    let Some(t) = T::new() else { return };
    let log = t.dir.join("hooks.log");
    let hook = |name: &str, script: &str| {
        json!({"path": "/bin/sh",
               "args": ["sh", "-c", format!("echo \"{name} $({script})\" >> {}", log.display())]})
    };
    let b = t.bundle("h", |c| {
        c["process"]["args"] = json!(["true"]);
        c["hooks"] = json!({
            "createRuntime": [hook("createRuntime", "pwd")],
            "prestart": [hook("prestart", "pwd"), hook("path", "echo $PATH"), {
                "path": "/bin/sh", "env": ["PATH=/foo"],
                "args": ["sh", "-c", format!("echo \"given $PATH\" >> {}", log.display())]}],
            "createContainer": [hook("proc", "test -e proc/self && pwd")],
            "poststop": [hook("poststop", "pwd")],
        });
    });
    b.own_rootfs();
    let path = "/usr/sbin:/usr/bin:/sbin:/bin:/outlet-test-path";
    let id = t.id("h");
    let dir = b.dir.to_str().unwrap();
    let o = t.call_env(
        std::path::Path::new(common::OUTLET),
        &["run", "--bundle", dir, &id],
        &[],
        &[("PATH", path)],
    );
    o.expect_ok("run with hooks");
    let here = std::env::current_dir().unwrap();
    assert_ne!(here, b.dir, "the control needs the test to run elsewhere");
    let got = std::fs::read_to_string(&log).unwrap();
    // prestart before createRuntime, in runc's order.
    let want = [
        format!("prestart {dir}"),
        format!("path {path}"),
        "given /foo".to_string(),
        format!("createRuntime {dir}"),
        format!("proc {dir}/rootfs"),
        format!("poststop {dir}"),
    ];
    assert_eq!(got.lines().collect::<Vec<_>>(), want, "{o:?}");

    // A failing createRuntime hook, by exit and by timeout: poststop runs.
    for (tag, bad) in [
        ("exit", json!({"path": "/bin/false"})),
        (
            "timeout",
            json!({"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}),
        ),
    ] {
        let marker = t.dir.join(format!("poststop-{tag}"));
        let b = t.bundle(tag, |c| {
            c["process"]["args"] = json!(["true"]);
            c["hooks"] = json!({"createRuntime": [bad],
                "poststop": [{"path": "/bin/touch", "args": ["touch", marker]}]});
        });
        let id = t.id(tag);
        let o = if tag == "exit" {
            t.run(&id, &b)
        } else {
            t.create(&id, &b)
        };
        o.expect_fail(tag, "createRuntime");
        assert!(marker.exists(), "{tag}: poststop did not run");
        t.assert_nothing_left(tag);
    }
}

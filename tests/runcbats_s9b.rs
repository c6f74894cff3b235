//! runc's integration suite, ported (see runcbats_s9.rs for the method):
//! the files about what the container is made of: env, cwd, umask, mask,
//! rlimits, dev, seccomp, hooks, personality, ioprio, scheduler, timens,
//! no_pivot.
//!
//! Not ported from these files, and why:
//! - rlimits.bats "... RLIMIT_NOFILE(Bigger than system's hard value)"
//!   (run and exec): raising a hard limit needs CAP_SYS_RESOURCE, which
//!   root on this host lacks (HOST.md); runc fails here the same way. The
//!   port checks that outlet's refusal names the field instead.
//! - seccomp.bats "[seccomp -ENOSYS handling]", "[seccomp
//!   defaultErrnoRet=ENXIO]": they run C programs built with gcc; the
//!   fixture has no compiler (seccomp.rs covers defaultErrnoRet and
//!   unknown syscalls).
//! - seccomp.bats "(SECCOMP_FILTER_FLAG_*)" checks runc's debug line
//!   "seccomp filter flags: N"; the port checks each flag set is accepted
//!   and the filter still acts.
//! - dev.bats "runc exec vs systemctl daemon-reload": systemd driver only
//!   (cgroup v2 hosts for outlet). "[device cgroup allow rm block device]":
//!   needs fdisk, which the fixture's busybox lacks; the allow rule path is
//!   the char test's.
//! - cwd.bats "runc create sets up user before chdir to cwd if needed":
//!   rootless only (rootless.sh's AUX_DIR).
//!
//! Found and decided by the spec: hooks.bats "runc run [hook fails]"
//! expects `run` to fail when a poststart hook fails; the runtime-spec
//! (runtime.md, lifecycle) says the runtime MUST log a warning and go on
//! as if the hook had succeeded. outlet keeps the spec's behaviour; the
//! port checks the warning and the exit code 0.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::runcbats::{exec, set_args};
use common::{Bundle, Out, T};
use serde_json::{Value, json};

/// `outlet run` of a fresh bundle edited by `edit`, in the foreground.
fn run(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> Out {
    let b = t.bundle(tag, edit);
    t.run(&t.id(tag), &b)
}

/// A container started with `run -d` running `sleep 1000`.
fn up(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> (String, Bundle) {
    let b = t.bundle(tag, |c| {
        set_args(c, &["sleep", "1000"]);
        edit(c)
    });
    let id = t.id(tag);
    t.outlet(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    (id, b)
}

fn add_env(c: &mut Value, kvs: &[&str]) {
    let env = c["process"]["env"].as_array_mut().unwrap();
    env.extend(kvs.iter().map(|s| json!(s)));
}

fn first_line(o: &Out) -> &str {
    o.stdout.lines().next().unwrap_or("")
}

// runc: env.bats "non-empty HOME env is used",
//       env.bats "empty HOME env var is overridden",
//       env.bats "empty HOME env var is overridden with multiple overrides"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn env_home() {
    let Some(t) = T::new() else { return };
    for (tag, env, want) in [
        ("set", &["HOME=/override"][..], "/override"),
        ("empty", &["HOME="], "/root"),
        ("multi", &["HOME=/override", "HOME="], "/root"),
    ] {
        let o = run(&t, tag, |c| {
            add_env(c, env);
            set_args(c, &["sh", "-c", "echo $HOME"]);
        });
        assert_eq!(first_line(o.expect_ok(tag)), want, "{tag}");
    }
    // Control: a non-root user's HOME comes from the fixture's passwd
    // (nobody's), so the check tells users apart.
    let o = run(&t, "nobody", |c| {
        add_env(c, &["HOME="]);
        c["process"]["user"]["uid"] = json!(65534);
        set_args(c, &["sh", "-c", "echo $HOME"]);
    });
    assert_ne!(first_line(o.expect_ok("nobody")), "/root");
}

// runc: env.bats "env var HOME is set only once",
//       env.bats "env var override is set only once",
//       env.bats "env var override", env.bats "env var with new-line is honored"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn env_overrides() {
    let Some(t) = T::new() else { return };
    let env_of = |tag: &str, env: &[&str]| {
        let o = run(&t, tag, |c| {
            c["process"]["env"] = json!(env);
            set_args(c, &["env"]);
        });
        o.expect_ok(tag).stdout.clone()
    };
    let out = env_of("home", &["HOME=", "PATH=/usr/bin:/bin"]);
    assert_eq!(out.split_whitespace().count(), 2, "{out}");
    assert!(out.lines().any(|l| l == "HOME=/root"), "{out}");
    let out = env_of("once", &["ONE=two", "ONE=", "PATH=/usr/bin:/bin"]);
    assert_eq!(out.split_whitespace().count(), 3, "{out}");
    assert!(out.lines().any(|l| l == "ONE="), "{out}");
    let out = env_of("nl", &["NEW_LINE_ENV=\n", "PATH=/usr/bin:/bin"]);
    assert_eq!(out.lines().count(), 4, "{out:?}");
    let o = run(&t, "over", |c| {
        add_env(c, &["ONE=two", "ONE=three"]);
        set_args(c, &["sh", "-c", "echo ONE=\"$ONE\""]);
    });
    assert_eq!(first_line(o.expect_ok("override")), "ONE=three");
    // Control: the count check sees a variable given once more.
    let out = env_of("ctl", &["ONE=two", "TWO=", "PATH=/usr/bin:/bin"]);
    assert_eq!(out.split_whitespace().count(), 4, "{out}");
}

/// A bundle with its own rootfs where /root is `mode`, owned by `uid`.
fn own_root_dir(t: &T, tag: &str, uid: u32, mode: u32, edit: impl FnOnce(&mut Value)) -> Bundle {
    let b = t.bundle(tag, edit);
    let r = b.own_rootfs().join("root");
    std::os::unix::fs::chown(&r, Some(uid), None).unwrap();
    std::fs::set_permissions(&r, std::fs::Permissions::from_mode(mode)).unwrap();
    b
}

// runc: cwd.bats "runc exec --user with no access to cwd"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cwd_exec_user_without_access() {
    let Some(t) = T::new() else { return };
    let b = own_root_dir(&t, "c", 42, 0o700, |c| {
        c["process"]["cwd"] = json!("/root");
        c["process"]["user"]["uid"] = json!(42);
        set_args(c, &["sleep", "1000"]);
    });
    let id = t.id("c");
    t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    exec(&t, &id, &["--user", "0", "true"]).expect_ok("exec --user 0");
    // Control: the dir is closed to others: uid 1000 may enter it with
    // the runtime's help but not list it.
    let o = exec(&t, &id, &["--user", "1000", "ls", "."]);
    assert!(!o.ok(), "{o:?}");
}

// runc: cwd.bats "runc create can chdir if runc has access"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cwd_chdir_with_runtime_access() {
    let Some(t) = T::new() else { return };
    let b = own_root_dir(&t, "c", 0, 0o700, |c| {
        c["process"]["cwd"] = json!("/root");
        c["process"]["user"]["uid"] = json!(42);
        set_args(c, &["ls", "/tmp"]);
    });
    t.run(&t.id("c"), &b)
        .expect_ok("run with cwd the user cannot enter");
    // Control: the user really has no access there.
    let mut cfg = b.config();
    set_args(&mut cfg, &["ls", "."]);
    b.write_config(&cfg);
    assert!(!t.run(&t.id("ctl"), &b).ok());
}

// runc: umask.bats "umask"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn umask() {
    let Some(t) = T::new() else { return };
    let umask_of = |tag: &str, mask: u32| {
        let (id, _) = up(&t, tag, |c| c["process"]["user"]["umask"] = json!(mask));
        let mut got = Vec::new();
        for p in ["/proc/1/status", "/proc/self/status"] {
            let o = exec(&t, &id, &["grep", "^Umask:", p]);
            got.push(
                o.expect_ok("grep")
                    .stdout
                    .split_whitespace()
                    .nth(1)
                    .unwrap()
                    .to_string(),
            );
        }
        got
    };
    assert_eq!(umask_of("u", 63), ["0077", "0077"]);
    // Control: another umask reads differently.
    assert_eq!(umask_of("c", 0o22), ["0022", "0022"]);
}

/// A bundle with its own rootfs holding /testdir and /testfile, both
/// masked when `mask`.
fn masked(t: &T, tag: &str, mask: bool) -> String {
    let b = t.bundle(tag, |c| {
        set_args(c, &["sleep", "1000"]);
        if mask {
            let m = c["linux"]["maskedPaths"].as_array_mut().unwrap();
            m.extend([json!("/testdir"), json!("/testfile")]);
        }
    });
    let r = b.own_rootfs();
    std::fs::create_dir(r.join("testdir")).unwrap();
    std::fs::write(r.join("testdir/inside"), "x").unwrap();
    std::fs::write(r.join("testfile"), "Forbidden information!\n").unwrap();
    let id = t.id(tag);
    t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    id
}

// runc: mask.bats "mask paths [file]", mask.bats "mask paths [directory]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn mask_paths() {
    let Some(t) = T::new() else { return };
    let id = masked(&t, "m", true);
    let o = exec(&t, &id, &["cat", "/testfile"]);
    assert_eq!(o.expect_ok("cat").stdout, "");
    let o = exec(&t, &id, &["rm", "-f", "/testfile"]);
    assert!(
        o.code == Some(1) && o.stderr.contains("Read-only file system"),
        "{o:?}"
    );
    let o = exec(&t, &id, &["umount", "/testfile"]);
    assert!(
        o.code == Some(1) && o.stderr.contains("Operation not permitted"),
        "{o:?}"
    );
    let o = exec(&t, &id, &["ls", "/testdir"]);
    assert_eq!(o.expect_ok("ls").stdout, "");
    for args in [&["touch", "/testdir/foo"][..], &["rm", "-rf", "/testdir"]] {
        let o = exec(&t, &id, args);
        assert!(
            o.code == Some(1) && o.stderr.contains("Read-only file system"),
            "{o:?}"
        );
    }
    let o = exec(&t, &id, &["umount", "/testdir"]);
    assert!(
        o.code == Some(1) && o.stderr.contains("Operation not permitted"),
        "{o:?}"
    );
    // Control: unmasked, the same reads see the data.
    let id = masked(&t, "u", false);
    let o = exec(&t, &id, &["cat", "/testfile"]);
    assert_eq!(o.expect_ok("cat").stdout, "Forbidden information!\n");
    let o = exec(&t, &id, &["ls", "/testdir"]);
    assert_eq!(o.expect_ok("ls").stdout.trim(), "inside");
}

// runc: mask.bats "mask paths [prohibit symlink /proc]",
//       mask.bats "mask paths [prohibit symlink /sys]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn mask_symlinked_proc_sys() {
    let Some(t) = T::new() else { return };
    for dir in ["proc", "sys"] {
        let b = t.bundle(dir, |c| set_args(c, &["true"]));
        let r = b.own_rootfs();
        std::fs::remove_dir(r.join(dir)).unwrap();
        std::os::unix::fs::symlink("/symlink", r.join(dir)).unwrap();
        let o = t.run(&t.id(dir), &b);
        o.expect_fail(dir, "must be mounted on ordinary directory");
        t.assert_nothing_left(dir);
    }
    // Control: the same bundles with real directories run.
    t.run(&t.id("ok"), &t.bundle("ok", |c| set_args(c, &["true"])))
        .expect_ok("run");
}

fn nofile_hard() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1
}

// runc: rlimits.bats "runc run with RLIMIT_NOFILE(The same as system's hard value)",
//       "runc run with RLIMIT_NOFILE(Smaller than system's hard value)",
//       "runc exec with RLIMIT_NOFILE(The same as system's hard value)",
//       "runc exec with RLIMIT_NOFILE(Smaller than system's hard value)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rlimit_nofile() {
    let Some(t) = T::new() else { return };
    let hard = nofile_hard();
    let lim = |n: u64| json!([{"type": "RLIMIT_NOFILE", "soft": n, "hard": n}]);
    let script = ["sh", "-c", "ulimit -n; ulimit -H -n"];
    for (tag, n) in [("same", hard), ("less", hard - 1)] {
        let o = run(&t, tag, |c| {
            c["process"]["rlimits"] = lim(n);
            set_args(c, &script);
        });
        assert_eq!(o.expect_ok(tag).stdout, format!("{n}\n{n}\n"), "run {tag}");
        let (id, _) = up(&t, &format!("x{tag}"), |c| c["process"]["rlimits"] = lim(n));
        let o = exec(&t, &id, &script);
        assert_eq!(o.expect_ok(tag).stdout, format!("{n}\n{n}\n"), "exec {tag}");
    }
    // Control (and the "Bigger" cases here): above the hard limit without
    // CAP_SYS_RESOURCE is refused, naming the field.
    let o = run(&t, "more", |c| {
        c["process"]["rlimits"] = lim(hard + 1);
        set_args(c, &script);
    });
    o.expect_fail("bigger than hard", "RLIMIT_NOFILE");
}

fn kmsg_config(c: &mut Value, rules: Value) {
    c["linux"]["resources"]["devices"] = rules;
    c["linux"]["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]);
    for set in ["bounding", "effective", "permitted"] {
        let l = c["process"]["capabilities"][set].as_array_mut().unwrap();
        l.push(json!("CAP_SYSLOG"));
    }
    c["hostname"] = json!("myhostname");
}

// runc: dev.bats "runc run [redundant default /dev/tty]",
//       dev.bats "runc run [redundant default /dev/ptmx]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn dev_redundant_defaults() {
    let Some(t) = T::new() else { return };
    for (path, minor) in [("/dev/tty", 0), ("/dev/ptmx", 2)] {
        let o = run(&t, &path[5..], |c| {
            let d = json!({"path": path, "type": "c", "major": 5, "minor": minor});
            c["linux"]["devices"] = json!([d]);
            set_args(c, &["stat", "-L", "-c", "%A %u %g %t %T", path]);
        });
        assert_eq!(
            first_line(o.expect_ok(path)),
            format!("crw-rw-rw- 0 0 5 {minor}")
        );
    }
    // Control: the check reads another device differently.
    let o = run(&t, "null", |c| {
        set_args(c, &["stat", "-L", "-c", "%A %u %g %t %T", "/dev/null"])
    });
    assert_eq!(first_line(o.expect_ok("null")), "crw-rw-rw- 0 0 1 3");
}

// runc: dev.bats "runc run/update [device cgroup deny]",
//       dev.bats "runc run [device cgroup allow rw char device]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn dev_cgroup_kmsg() {
    let Some(t) = T::new() else { return };
    let write = ["sh", "-c", "hostname | tee /dev/kmsg"];
    let read = ["sh", "-c", "head -n 1 /dev/kmsg"];
    let denied = |o: &Out| o.code == Some(1) && o.stderr.contains("Operation not permitted");
    let (id, _) = up(&t, "deny", |c| {
        kmsg_config(c, json!([{"allow": false, "access": "rwm"}]))
    });
    for round in ["before update", "after update"] {
        let o = exec(&t, &id, &write);
        assert!(denied(&o), "write {round}: {o:?}");
        let o = exec(&t, &id, &read);
        assert!(denied(&o), "read {round}: {o:?}");
        if round == "before update" {
            t.outlet(&["update", &id, "--pids-limit", "42"])
                .expect_ok("update");
        }
    }
    // Control: with the device allowed, the same commands work.
    let allow = json!([{"allow": false, "access": "rwm"},
                       {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw"}]);
    let (id, _) = up(&t, "allow", |c| kmsg_config(c, allow));
    let o = exec(&t, &id, &write);
    assert!(first_line(o.expect_ok("write")).contains("myhostname"));
    exec(&t, &id, &read).expect_ok("read");
}

fn seccomp_mkdir(action: &str, extra: Value) -> Value {
    let mut rule = json!({"names": ["mkdir", "mkdirat"], "action": action});
    if let (Some(r), Some(e)) = (rule.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    json!({"defaultAction": "SCMP_ACT_ALLOW",
           "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64",
                             "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
           "syscalls": [rule]})
}

fn mkdir_run(t: &T, tag: &str, seccomp: Value) -> Out {
    run(t, tag, |c| {
        set_args(c, &["/bin/sh", "-c", "mkdir /dev/shm/foo"]);
        c["process"]["noNewPrivileges"] = json!(false);
        c["linux"]["seccomp"] = seccomp;
    })
}

// runc: seccomp.bats "runc run [seccomp] (SCMP_ACT_ERRNO default)",
//       "runc run [seccomp] (SCMP_ACT_ERRNO explicit errno)",
//       "runc run [seccomp] (SECCOMP_FILTER_FLAG_*)",
//       "runc run [seccomp] (SCMP_ACT_KILL)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_actions() {
    let Some(t) = T::new() else { return };
    let eperm = |o: &Out| {
        !o.ok()
            && o.stderr.contains("mkdir:")
            && o.stderr.contains("/dev/shm/foo")
            && o.stderr.contains("Operation not permitted")
    };
    let o = mkdir_run(&t, "errno", seccomp_mkdir("SCMP_ACT_ERRNO", json!({})));
    assert!(eperm(&o), "{o:?}");
    let o = mkdir_run(
        &t,
        "ret",
        seccomp_mkdir("SCMP_ACT_ERRNO", json!({"errnoRet": 100})),
    );
    assert!(!o.ok() && o.stderr.contains("Network is down"), "{o:?}");
    let flags = [
        json!(null),
        json!([]),
        json!(["SECCOMP_FILTER_FLAG_TSYNC"]),
        json!(["SECCOMP_FILTER_FLAG_LOG"]),
        json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
        json!(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
    ];
    for (n, f) in flags.into_iter().enumerate() {
        let mut s = seccomp_mkdir("SCMP_ACT_ERRNO", json!({}));
        if !f.is_null() {
            s["flags"] = f.clone();
        }
        let o = mkdir_run(&t, &format!("flags{n}"), s);
        assert!(eperm(&o), "flags {f}: {o:?}");
    }
    let o = mkdir_run(&t, "kill", seccomp_mkdir("SCMP_ACT_KILL", json!({})));
    assert!(
        !o.ok() && !o.stderr.contains("Operation not permitted"),
        "{o:?}"
    );
    // Control: with the rule's action ALLOW the mkdir works.
    mkdir_run(&t, "allow", seccomp_mkdir("SCMP_ACT_ALLOW", json!({}))).expect_ok("allow");
}

// runc: seccomp.bats "runc run [seccomp] (startContainer hook)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_start_container_hook() {
    let Some(t) = T::new() else { return };
    let with_action = |tag: &str, action: &str| {
        run(&t, tag, |c| {
            set_args(c, &["/bin/true"]);
            c["linux"]["seccomp"] = seccomp_mkdir(action, json!({}));
            c["hooks"] = json!({"startContainer": [
                {"path": "/bin/sh", "args": ["sh", "-c", "mkdir /dev/shm/foo"]}]});
        })
    };
    let o = with_action("kill", "SCMP_ACT_KILL");
    assert!(!o.ok(), "{o:?}");
    assert!(
        o.stderr.contains("error running startContainer hook"),
        "{o:?}"
    );
    assert!(o.stderr.contains("bad system call"), "{o:?}");
    // Control: the same hook without the filter's kill runs.
    with_action("allow", "SCMP_ACT_ALLOW").expect_ok("allowed hook");
}

fn two_hooks(c: &mut Value, kind: &str, second: &str) {
    c["hooks"] = json!({kind: [{"path": "/bin/true"}, {"path": second}]});
}

// runc: hooks.bats "runc create [second createRuntime hook fails]",
//       hooks.bats "runc create [hook fails]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hooks_create_fails() {
    let Some(t) = T::new() else { return };
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let b = t.bundle(kind, |c| {
            set_args(c, &["sleep", "1000"]);
            two_hooks(c, kind, "/bin/false");
        });
        let o = t.create(&t.id(kind), &b);
        o.expect_fail(kind, &format!("error running {kind} hook #1:"));
        t.assert_nothing_left(kind);
    }
    // Control: with both hooks succeeding, create works.
    let b = t.bundle("ok", |c| {
        set_args(c, &["sleep", "1000"]);
        two_hooks(c, "createRuntime", "/bin/true");
    });
    t.create_ok(&t.id("ok"), &b);
}

// runc: hooks.bats "runc run [hook fails]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hooks_run_fails() {
    let Some(t) = T::new() else { return };
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ] {
        let o = run(&t, kind, |c| {
            set_args(c, &["/bin/echo", "Hello World"]);
            two_hooks(c, kind, "/bin/false");
        });
        assert!(!o.ok(), "{kind}: {o:?}");
        assert!(!o.stdout.contains("Hello World"), "{kind}: {o:?}");
        assert!(
            o.stderr.contains(&format!("error running {kind} hook #1:")),
            "{kind}: {o:?}"
        );
        assert!(o.stderr.contains("exit status 1"), "{kind}: {o:?}");
    }
    // poststart: a warning and the lifecycle goes on (runtime-spec; runc
    // fails the run here).
    let o = run(&t, "poststart", |c| {
        set_args(c, &["/bin/echo", "Hello World"]);
        two_hooks(c, "poststart", "/bin/false");
    });
    o.expect_ok("poststart failure is a warning");
    assert!(o.stdout.contains("Hello World"), "{o:?}");
    assert!(
        o.stderr.contains("error running poststart hook #1:"),
        "{o:?}"
    );
    // Control: hooks that succeed let the process run.
    let o = run(&t, "ok", |c| {
        set_args(c, &["/bin/echo", "Hello World"]);
        two_hooks(c, "startContainer", "/bin/true");
    });
    assert_eq!(o.expect_ok("ok").stdout, "Hello World\n");
}

// runc: personality.bats "runc run personality for i686",
//       "runc run personality with exec for i686",
//       "runc run personality for x86_64",
//       "runc run personality with exec for x86_64"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn personality() {
    let Some(t) = T::new() else { return };
    for (domain, want) in [("LINUX32", "i686"), ("LINUX", "x86_64")] {
        let o = run(&t, domain, |c| {
            set_args(c, &["/bin/sh", "-c", "uname -a"]);
            c["linux"]["personality"] = json!({"domain": domain, "flags": []});
        });
        assert!(o.expect_ok(domain).stdout.contains(want), "{o:?}");
        let (id, _) = up(&t, &format!("x{domain}"), |c| {
            c["linux"]["personality"] = json!({"domain": domain});
        });
        let o = exec(&t, &id, &["/bin/sh", "-c", "uname -a"]);
        assert!(
            o.expect_ok("exec").stdout.contains(want),
            "exec {domain}: {o:?}"
        );
    }
    // Control: LINUX32's output is not x86_64's (the checks differ).
    let o = run(&t, "ctl", |c| {
        set_args(c, &["uname", "-m"]);
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    assert!(!o.stdout.contains("x86_64"), "{o:?}");
}

// runc: ioprio.bats "ioprio_set is applied to process group"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ioprio() {
    let Some(t) = T::new() else { return };
    let (id, _) = up(&t, "io", |c| {
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
    });
    for args in [&["ionice", "-p", "1"][..], &["ionice"]] {
        let o = exec(&t, &id, args);
        assert!(
            o.expect_ok("ionice").stdout.contains("best-effort: prio 4"),
            "{o:?}"
        );
    }
    // Control: without the field the class is not that.
    let (id, _) = up(&t, "none", |_| {});
    let o = exec(&t, &id, &["ionice", "-p", "1"]);
    assert!(
        !o.expect_ok("ionice").stdout.contains("best-effort: prio 4"),
        "{o:?}"
    );
}

const DEADLINE: &str = r#"{"policy": "SCHED_DEADLINE", "nice": 19, "priority": 0,
    "runtime": 42000, "deadline": 1000000, "period": 1000000}"#;

// runc: scheduler.bats "scheduler is applied", scheduler.bats "scheduler vs cpus"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn scheduler() {
    let Some(t) = T::new() else { return };
    let sched: Value = serde_json::from_str(DEADLINE).unwrap();
    // A deadline task on one CPU of a cpuset is refused admission.
    let o = run(&t, "cpus", |c| {
        c["linux"]["resources"]["cpu"] = json!({"cpus": "0"});
        c["process"]["scheduler"] = sched.clone();
        set_args(c, &["true"]);
    });
    o.expect_fail("deadline with cpus 0", "process.scheduler");
    t.assert_nothing_left("scheduler vs cpus");
    let (id, _) = up(&t, "dl", |c| c["process"]["scheduler"] = sched.clone());
    // busybox's chrt knows no SCHED_DEADLINE: the kernel's own account.
    let o = exec(&t, &id, &["cat", "/proc/1/sched"]);
    let out = &o.expect_ok("sched").stdout;
    let field = |k: &str| {
        out.lines()
            .find(|l| l.split(':').next().is_some_and(|n| n.trim() == k))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_string())
    };
    assert_eq!(field("policy").as_deref(), Some("6"), "{out}");
    // Control: the default container is SCHED_OTHER (0).
    let (id0, _) = up(&t, "other", |_| {});
    let o = exec(&t, &id0, &["grep", "^policy", "/proc/1/sched"]);
    assert!(o.expect_ok("sched").stdout.trim().ends_with(" 0"), "{o:?}");
}

// runc: timens.bats "runc run [timens offsets with no timens]",
//       "runc run [timens with no offsets]", "runc run [simple timens]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn timens() {
    let Some(t) = T::new() else { return };
    let offsets = json!({"monotonic": {"secs": 7881, "nanosecs": 2718281},
                         "boottime": {"secs": 1337, "nanosecs": 3141519}});
    let time_ns = |c: &mut Value, offs: Option<Value>| {
        set_args(c, &["cat", "/proc/self/timens_offsets"]);
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        if let Some(o) = offs {
            c["linux"]["timeOffsets"] = o;
        }
    };
    let norm = |s: &str| {
        s.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    let o = run(&t, "none", |c| time_ns(c, None));
    assert_eq!(
        norm(&o.expect_ok("no offsets").stdout),
        ["monotonic 0 0", "boottime 0 0"]
    );
    let o = run(&t, "simple", |c| time_ns(c, Some(offsets.clone())));
    assert_eq!(
        norm(&o.expect_ok("offsets").stdout),
        ["monotonic 7881 2718281", "boottime 1337 3141519"]
    );
    // Offsets without a time namespace are refused (and this is the
    // control: the same offsets, no namespace, no container).
    let o = run(&t, "nons", |c| {
        set_args(c, &["cat", "/proc/self/timens_offsets"]);
        c["linux"]["timeOffsets"] = offsets;
    });
    o.expect_fail("offsets without timens", "timeOffsets");
}

// runc: no_pivot.bats "runc run --no-pivot must not expose bare /proc"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn no_pivot_hides_bare_proc() {
    let Some(t) = T::new() else { return };
    let mount_proc = |tag: &str, extra: &[&str], masks: bool| {
        let b = t.bundle(tag, |c| {
            set_args(
                c,
                &[
                    "unshare",
                    "-mrpf",
                    "sh",
                    "-euxc",
                    "mount -t proc none /proc",
                ],
            );
            for set in ["bounding", "permitted"] {
                let l = c["process"]["capabilities"][set].as_array_mut().unwrap();
                l.push(json!("CAP_SETFCAP"));
            }
            if !masks {
                c["linux"]["maskedPaths"] = json!([]);
                c["linux"]["readonlyPaths"] = json!([]);
            }
        });
        let args = [
            &["run"][..],
            extra,
            &["-b", b.dir.to_str().unwrap(), &t.id(tag)],
        ];
        t.outlet(&args.concat())
    };
    for (tag, extra) in [("nopivot", &["--no-pivot"][..]), ("pivot", &[])] {
        let o = mount_proc(tag, extra, true);
        assert_eq!(o.code, Some(1), "{tag}: {o:?}");
        assert!(
            o.stderr.contains("mount: permission denied"),
            "{tag}: {o:?}"
        );
    }
    // Control: with the proc masks gone the container's own /proc is fully
    // visible and the same mount works: the refusal above is the kernel's
    // visibility rule, not a missing tool or capability.
    mount_proc("ctl", &[], false).expect_ok("unmasked proc lets a user ns mount proc");
}

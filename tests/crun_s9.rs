//! crun's Python test suite (containers/crun tests/test_*.py), ported: the
//! checks outlet's other files did not make yet, each in a real container,
//! each with a control that makes the same check fail on real data. Every
//! test names the crun test it comes from (`// crun: FILE TEST`).
//!
//! Not ported, and why:
//! - test_start.py sd-notify*, systemd-cgroups-path-def-slice: need a
//!   systemd host and crun's NOTIFY_SOCKET proxy (outlet has none).
//! - test_start.py run-keep, start-override-config, help; test_delete.py
//!   multiple-containers-delete (--regex), help-delete: crun-only flags and
//!   usage texts.
//! - test_start.py run-rootless-netns-with-userns, test_exec.py
//!   exec-root-netns-with-userns: rootless, or joins the host's PID 1 net
//!   namespace by path (tests/namespaces.rs joins namespaces by path).
//! - test_exec.py exec-test-uid-tty: needs the test's own stdout to be a
//!   terminal; tests/process.rs covers exec --tty.
//! - test_capabilities.py some-caps-effective (uid 0, effective without
//!   permitted): crun's test expects CapEff to hold the capability. outlet
//!   refuses the config naming the field (effective must be a subset of
//!   permitted, the kernel's rule); runc 1.1.5 fails too ("unable to apply
//!   caps"). Kept as outlet's behaviour; `crun_capability_sets` asserts it.
//! - test_devices.py: the deny/allow of /dev/fuse with the host's /dev bound
//!   in is tests/cgroups_host.rs and tests/security.rs.
//! - test_delete.py test_simple_delete: ported in crun_s9b.rs as
//!   `crun_delete_force_of_an_init_frozen_elsewhere`, with outlet's and
//!   runc's answer (an error) rather than crun's (exit 0).
//! - test_hooks.py test_fail_poststart, test_poststart_fail_deletes_container:
//!   crun (like youki and runc 1.1.5) fails `start` when a poststart hook
//!   fails; the runtime spec says a warning and the lifecycle continues,
//!   which outlet does (tests/youki_s9.rs
//!   youki_poststart_and_poststop_failures_only_warn).
//! - test_hooks.py test_in_container_hooks_state: crun sends status
//!   "created" to createContainer hooks; outlet (and runc) send "creating"
//!   (the hook runs during create); startContainer gets "created" from all.
//! - test_hooks.py test_createContainer_hook_after_mounts: crun runs a
//!   createContainer hook in the bundle (it finds /proc at rootfs/proc);
//!   outlet, like runc 1.1.5 (its init chdirs to the rootfs first), runs it
//!   in the mounted rootfs (tests/diff_runc_s11.rs
//!   create_hooks_run_where_runc_runs_them).
//! - test_hooks.py test_hooks_bundle_path_not_cwd: crun reports the bundle
//!   path as given (a symlink); outlet, like runc, reports it resolved.
//! - test_hooks.py test_annotation_hook_stdout_stderr, test_poststop_hook_
//!   failure_warning: crun's run.oci.hooks.* annotations and its wording.

mod common;

use common::{Out, T, drop_ns, sh};
use serde_json::{Value, json};

/// `outlet run` of a bundle made by `edit`, output in the returned Out.
fn run_with(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> Out {
    let b = t.bundle(tag, edit);
    t.run(&t.id(tag), &b)
}

/// The value of `Name:` in a /proc/PID/status text.
fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// Each config is refused with exit 1, its message naming the key, and
/// leaves nothing; the control sets a namespaced key in the container's
/// own namespace and reads it back there.
// crun: test_start.py test_not_allowed_ipc_sysctl, test_not_allowed_net_sysctl,
//       test_unknown_sysctl, test_uts_sysctl
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_sysctl_only_in_the_containers_own_namespace() {
    let Some(t) = T::new() else { return };
    let refused: &[(&str, &str, Option<&str>)] = &[
        ("fs.mqueue.queues_max", "100", Some("ipc")),
        ("kernel.msgmax", "8192", Some("ipc")),
        ("net.ipv4.ping_group_range", "0 0", Some("network")),
        ("kernel.foo", "value", None),
        ("bar.baz", "value", None),
        ("fs.baz", "value", None),
        ("kernel.hostname", "foo", None),
        ("kernel.domainname", "foo", Some("uts")),
    ];
    for (i, (key, value, without)) in refused.iter().enumerate() {
        let b = t.bundle(&format!("bad{i}"), |c| {
            c["process"]["args"] = json!(["true"]);
            c["linux"]["sysctl"] = json!({ *key: *value });
            if let Some(ns) = without {
                drop_ns(c, ns);
            }
            if *without == Some("uts") {
                // Only the sysctl may be what fails, not the hostname.
                c.as_object_mut().unwrap().remove("hostname");
            }
        });
        let o = t.run(&t.id(&format!("bad{i}")), &b);
        o.expect_fail(&format!("sysctl {key} without {without:?}"), key);
        t.assert_nothing_left(key);
    }
    // Control: the same namespaced keys in the container's own namespaces
    // are set, and read back inside.
    let o = run_with(&t, "good", |c| {
        c["linux"]["sysctl"] = json!({
            "kernel.msgmax": "12345",
            "net.ipv4.ping_group_range": "0 0",
            "kernel.domainname": "foo",
        });
        sh(
            c,
            "cat /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ping_group_range \
             /proc/sys/kernel/domainname",
        );
    });
    o.expect_ok("namespaced sysctls");
    let got: Vec<String> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(got, ["12345", "0 0", "foo"], "{o:?}");
    let host = std::fs::read_to_string("/proc/sys/kernel/msgmax").unwrap();
    assert_ne!(host.trim(), "12345", "the host's own msgmax was changed?");
}

/// One tmpfs per option, each option's check also applied to the mount
/// with the opposite option, where it must not hold: the per-mount flags
/// (ro, noexec, nosuid, relatime) and the superblock's (sync, dirsync).
// crun: test_mounts.py test_mount_ro, _rw, _relatime, _strictatime, _exec,
//       _noexec, _suid, _nosuid, _sync, _dirsync
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_tmpfs_mount_options_reach_mountinfo() {
    let Some(t) = T::new() else { return };
    let opts = [
        "ro",
        "rw",
        "relatime",
        "strictatime",
        "exec",
        "noexec",
        "suid",
        "nosuid",
        "sync",
        "dirsync",
    ];
    let o = run_with(&t, "mnt", |c| {
        // The mount points are made inside a tmpfs of the spec's own, never
        // in the shared fixture.
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
        for o in opts {
            m.push(json!({
                "destination": format!("/tmp/{o}"),
                "type": "tmpfs",
                "source": "tmpfs",
                "options": [o],
            }));
        }
        sh(c, "cat /proc/self/mountinfo");
    });
    o.expect_ok("run");
    // (per-mount options, superblock options) of the mount at `dest`.
    let of = |dest: &str| -> (Vec<String>, Vec<String>) {
        let l = o
            .stdout
            .lines()
            .rfind(|l| l.split(' ').nth(4) == Some(dest))
            .unwrap_or_else(|| panic!("{dest} not mounted: {o:?}"));
        let (pre, post) = l.split_once(" - ").unwrap();
        let split = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        (
            split(pre.split(' ').nth(5).unwrap()),
            split(post.split(' ').nth(2).unwrap()),
        )
    };
    // (mount, the option crun looks for, in the superblock's options
    // rather than the mount's, whether it must be there)
    let checks = [
        ("ro", "ro", false, true),
        ("rw", "ro", false, false),
        ("rw", "rw", false, true),
        ("ro", "rw", false, false),
        ("relatime", "relatime", false, true),
        ("strictatime", "relatime", false, false),
        ("noexec", "noexec", false, true),
        ("exec", "noexec", false, false),
        ("nosuid", "nosuid", false, true),
        ("suid", "nosuid", false, false),
        ("sync", "sync", true, true),
        ("dirsync", "sync", true, false),
        ("dirsync", "dirsync", true, true),
        ("sync", "dirsync", true, false),
    ];
    for (mount, opt, superblock, want) in checks {
        let dest = format!("/tmp/{mount}");
        let (vfs, sb) = of(&dest);
        let set = if superblock { &sb } else { &vfs };
        assert_eq!(
            set.iter().any(|o| o == opt),
            want,
            "{opt} on {dest}: {vfs:?} {sb:?}"
        );
    }
}

/// A read-only path refuses a write with EROFS and a masked file reads
/// empty; the control file beside them, in the same bind mount, takes the
/// write and gives its bytes back.
// crun: test_paths.py test_readonly_paths, test_masked_paths
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_readonly_and_masked_files() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("paths", |c| {
        c["linux"]["readonlyPaths"] = json!(["/out/ro"]);
        c["linux"]["maskedPaths"] = json!(["/out/masked"]);
        sh(
            c,
            "for f in ro plain; do echo hello > /out/$f && echo \"$f written\"; done 2>&1; \
             for f in masked plain; do echo \"$f $(wc -c < /out/$f)\"; done",
        );
    });
    for f in ["ro", "masked", "plain"] {
        std::fs::write(b.out.join(f), "secret\n").unwrap();
    }
    let o = t.run(&t.id("paths"), &b);
    o.expect_ok("run");
    assert!(o.stdout.contains("Read-only file system"), "{o:?}");
    assert!(!o.stdout.contains("ro written"), "{o:?}");
    assert!(o.stdout.contains("masked 0\n"), "{o:?}");
    // Control: the unlisted file was written (6 bytes) and reads back.
    assert!(o.stdout.contains("plain written"), "{o:?}");
    assert!(o.stdout.contains("plain 6\n"), "{o:?}");
    assert_eq!(
        std::fs::read_to_string(b.out.join("ro")).unwrap(),
        "secret\n"
    );
}

/// Each (uid, sets) case of crun's: the capability shows in the set crun
/// checks; the control reads a set the case did not give and finds it
/// empty. Effective without permitted is refused by name (see the top).
// crun: test_capabilities.py test_no_caps, test_new_privs,
//       test_some_caps_{bounding,inheritable,ambient,permitted}[_non_root],
//       test_some_caps_effective_non_root, test_some_caps_effective
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_capability_sets() {
    let Some(t) = T::new() else { return };
    let status = |tag: &str, uid: u32, caps: Value, nnp: Option<bool>| -> Out {
        run_with(&t, tag, |c| {
            c["process"]["user"]["uid"] = json!(uid);
            c["process"]["capabilities"] = caps;
            if let Some(n) = nnp {
                c["process"]["noNewPrivileges"] = json!(n);
            }
            c["process"]["args"] = json!(["cat", "/proc/self/status"]);
        })
    };
    let empty = json!({"bounding": [], "effective": [], "inheritable": [],
                       "permitted": [], "ambient": []});
    let o = status("none", 0, empty, None);
    o.expect_ok("no caps");
    for f in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(&o.stdout, f), Some("0000000000000000"), "{f}");
    }
    for (i, nnp) in [true, false].into_iter().enumerate() {
        let o = status(&format!("nnp{i}"), 0, json!({}), Some(nnp));
        let want = if nnp { "1" } else { "0" };
        assert_eq!(status_field(&o.stdout, "NoNewPrivs"), Some(want), "{o:?}");
    }
    const SYS_ADMIN: &str = "0000000000200000";
    let cases: &[(u32, &[&str], &str, &str)] = &[
        (0, &["bounding"], "CapBnd", "CapInh"),
        (0, &["inheritable"], "CapInh", "CapAmb"),
        (
            0,
            &["ambient", "permitted", "inheritable"],
            "CapAmb",
            "CapBnd-none",
        ),
        (0, &["permitted"], "CapPrm", "CapInh"),
        (
            1000,
            &["effective", "permitted", "inheritable", "ambient"],
            "CapEff",
            "CapBnd-none",
        ),
        (1000, &["bounding"], "CapBnd", "CapPrm"),
        (1000, &["inheritable"], "CapInh", "CapEff"),
        (
            1000,
            &["ambient", "permitted", "inheritable"],
            "CapAmb",
            "CapBnd-none",
        ),
        (
            1000,
            &["ambient", "permitted", "inheritable"],
            "CapPrm",
            "CapBnd-none",
        ),
    ];
    for (i, (uid, sets, field, empty_field)) in cases.iter().enumerate() {
        let mut caps = json!({"bounding": ["CAP_SYS_ADMIN"]});
        for s in *sets {
            caps[*s] = json!(["CAP_SYS_ADMIN"]);
        }
        let o = status(&format!("c{i}"), *uid, caps, None);
        o.expect_ok(&format!("case {i}"));
        assert_eq!(
            status_field(&o.stdout, field),
            Some(SYS_ADMIN),
            "case {i}: {o:?}"
        );
        // Control: a set the case left out holds nothing (bounding always
        // holds SYS_ADMIN, so those cases check it holds only that).
        match empty_field.strip_suffix("-none") {
            Some(b) => assert_eq!(status_field(&o.stdout, b), Some(SYS_ADMIN)),
            None => assert_eq!(
                status_field(&o.stdout, empty_field),
                Some("0000000000000000"),
                "case {i} {empty_field}: {o:?}"
            ),
        }
    }
    let b = t.bundle("eff", |c| {
        c["process"]["capabilities"] =
            json!({"bounding": ["CAP_SYS_ADMIN"], "effective": ["CAP_SYS_ADMIN"]});
    });
    t.run(&t.id("eff"), &b).expect_fail(
        "effective without permitted",
        "process.capabilities.effective",
    );
    t.assert_nothing_left("effective without permitted");
}

/// A relative program is found from the cwd (`./busybox` in /bin,
/// `bin/busybox` in /), and a cwd that does not exist is made. Control: a
/// relative program that is not under the cwd fails to start.
// crun: test_cwd.py test_cwd, test_cwd_relative, test_cwd_relative_subdir,
//       test_cwd_absolute, test_cwd_not_exist
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_cwd_and_relative_programs() {
    let Some(t) = T::new() else { return };
    for (i, (cwd, prog)) in [
        ("/bin", "./busybox"),
        ("/", "bin/busybox"),
        ("/bin", "/bin/busybox"),
    ]
    .iter()
    .enumerate()
    {
        let o = run_with(&t, &format!("rel{i}"), |c| {
            c["process"]["cwd"] = json!(cwd);
            c["process"]["args"] = json!([prog, "echo", "hello"]);
        });
        o.expect_ok(&format!("{prog} in {cwd}"));
        assert_eq!(o.stdout, "hello\n", "{o:?}");
    }
    // The cwd is made (inside /out, so never in the shared fixture).
    let b = t.bundle("mkcwd", |c| {
        c["process"]["cwd"] = json!("/out/made/here");
        c["process"]["args"] = json!(["pwd"]);
    });
    assert!(!b.out.join("made").exists());
    let o = t.run(&t.id("mkcwd"), &b);
    o.expect_ok("cwd that did not exist");
    assert_eq!(o.stdout, "/out/made/here\n");
    assert!(b.out.join("made/here").is_dir());
    // Control: the same relative name from a cwd where it is not.
    let o = run_with(&t, "relbad", |c| {
        c["process"]["cwd"] = json!("/etc");
        c["process"]["args"] = json!(["./busybox", "echo", "hello"]);
    });
    assert_ne!(o.code, Some(0), "{o:?}");
    assert!(!o.stdout.contains("hello"), "{o:?}");
}

/// In its own pid namespace the process is pid 1 with ppid 0; without one
/// (the control) it is neither.
// crun: test_pid.py test_pid, test_pid_user, test_pid_ppid_is_zero,
//       test_pid_host_namespace
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_pid_one_in_its_own_namespace() {
    let Some(t) = T::new() else { return };
    let ids = |o: &Out| {
        (
            status_field(&o.stdout, "Pid").map(String::from),
            status_field(&o.stdout, "PPid").map(String::from),
        )
    };
    let o = run_with(&t, "pidns", |c| {
        c["process"]["args"] = json!(["cat", "/proc/self/status"])
    });
    o.expect_ok("own pid ns");
    assert_eq!(ids(&o), (Some("1".into()), Some("0".into())), "{o:?}");
    let o = run_with(&t, "hostpid", |c| {
        drop_ns(c, "pid");
        c["process"]["args"] = json!(["cat", "/proc/self/status"]);
    });
    o.expect_ok("host pid ns");
    let (pid, ppid) = ids(&o);
    assert_ne!(pid.as_deref(), Some("1"), "{o:?}");
    assert_ne!(ppid.as_deref(), Some("0"), "{o:?}");
}

/// Without HOME in the env, HOME comes from the image's /etc/passwd for a
/// known uid and is "/" for an unknown one. Control: a HOME the config
/// sets is kept.
// crun: test_start.py test_empty_home, test_home_unknown_id;
//       test_exec.py test_exec_populate_home_env_from_process_uid
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_home_from_passwd_or_slash() {
    let Some(t) = T::new() else { return };
    let home = |tag: &str, uid: u32, env: &[&str]| -> String {
        let o = run_with(&t, tag, |c| {
            c["process"]["env"] = json!(env);
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            sh(c, "echo \"HOME=$HOME\"");
        });
        o.expect_ok(tag);
        o.stdout.trim().to_string()
    };
    assert_eq!(home("root", 0, &["PATH=/bin"]), "HOME=/root");
    assert_eq!(home("unknown", 101010, &["PATH=/bin"]), "HOME=/");
    assert_eq!(
        home("given", 101010, &["PATH=/bin", "HOME=/tmp"]),
        "HOME=/tmp"
    );
}

/// crun's invalid ids are refused with a message saying "invalid" (and
/// "invalid character" with "container ID" for a slash), nothing made.
/// Control: an id using the allowed punctuation runs.
// crun: test_start.py test_invalid_id, test_invalid_id_chars
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_invalid_ids_say_invalid() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("ids", |c| c["process"]["args"] = json!(["true"]));
    let dir = b.dir.to_str().unwrap();
    for id in ["this/is/invalid", ".", "..", ".foo", "foo bar", "foo/bar"] {
        let o = t.outlet(&["run", "--bundle", dir, id]);
        o.expect_fail(id, "invalid");
        if id.contains('/') {
            assert!(o.stderr.contains("invalid character"), "{o:?}");
            assert!(o.stderr.contains("container ID"), "{o:?}");
        }
        t.assert_nothing_left(id);
    }
    let good = format!("{}-a.b_c+d", t.token);
    t.id("a.b_c+d");
    t.outlet(&["run", "--bundle", dir, &good])
        .expect_ok("good id");
}

/// `run` twice with the same id: the first run's container is gone when
/// it returns, so the second one runs too; while a container of that id
/// exists, a third run is refused. A created container is deleted without
/// --force; the control, a running one, is not.
// crun: test_start.py test_run_twice, test_delete_in_created_state
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_run_twice_with_one_id() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("twice", |c| c["process"]["args"] = json!(["echo", "hi"]));
    let id = t.id("twice");
    for n in 0..2 {
        let o = t.run(&id, &b);
        o.expect_ok(&format!("run {n}"));
        assert_eq!(o.stdout, "hi\n");
    }
    t.create_ok(&id, &b);
    t.run(&id, &b)
        .expect_fail("run over a created one", "exists");
    // A created container is deleted without --force (crun and runc do
    // the same; its init never ran the program).
    t.outlet(&["delete", &id]).expect_ok("delete created");
    assert!(!t.state_dir_exists(&id));
    // Control: a running one is not.
    let b = t.bundle("long", |c| c["process"]["args"] = json!(["sleep", "1000"]));
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    t.outlet(&["delete", &id]).expect_fail("delete running", "");
    assert_eq!(t.status(&id), "running");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
}

/// The four rlimits crun sets come back in /proc/self/limits; control: one
/// the config does not set keeps the host's value.
// crun: test_rlimits.py test_rlimits
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_rlimits_in_proc_limits() {
    let Some(t) = T::new() else { return };
    let o = run_with(&t, "rl", |c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_SIGPENDING", "soft": 100, "hard": 200},
            {"type": "RLIMIT_NPROC", "soft": 50, "hard": 100},
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512},
            {"type": "RLIMIT_CPU", "soft": 2, "hard": 3},
        ]);
        c["process"]["args"] = json!(["cat", "/proc/self/limits"]);
    });
    o.expect_ok("run");
    let limit = |name: &str| -> (String, String) {
        let l = o.stdout.lines().find(|l| l.starts_with(name)).unwrap();
        let w: Vec<&str> = l[name.len()..].split_whitespace().collect();
        (w[0].to_string(), w[1].to_string())
    };
    for (name, soft, hard) in [
        ("Max pending signals", "100", "200"),
        ("Max processes", "50", "100"),
        ("Max open files", "512", "512"),
        ("Max cpu time", "2", "3"),
    ] {
        assert_eq!(limit(name), (soft.into(), hard.into()), "{name}: {o:?}");
    }
    let host = std::fs::read_to_string("/proc/self/limits").unwrap();
    let host_locks = host
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .unwrap();
    let (s, h) = limit("Max locked memory");
    assert!(
        host_locks.contains(&s) && host_locks.contains(&h),
        "{host_locks} vs {s} {h}"
    );
}

/// timeOffsets reach the time namespace's timens_offsets. Control: a
/// container without a time namespace sees zero offsets.
// crun: test_time.py test_time_namespace
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_time_namespace_offsets() {
    let Some(t) = T::new() else { return };
    let offsets = |tag: &str, own: bool| -> Vec<(String, String, String)> {
        let o = run_with(&t, tag, |c| {
            if own {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "time"}));
                c["linux"]["timeOffsets"] = json!({
                    "monotonic": {"secs": 1, "nanosecs": 2},
                    "boottime": {"secs": 3, "nanosecs": 4},
                });
            }
            c["process"]["args"] = json!(["cat", "/proc/self/timens_offsets"]);
        });
        o.expect_ok(tag);
        let mut v: Vec<_> = o
            .stdout
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w[0].to_string(), w[1].to_string(), w[2].to_string())
            })
            .collect();
        v.sort();
        v
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        offsets("own", true),
        [s("boottime", "3", "4"), s("monotonic", "1", "2")]
    );
    assert_eq!(
        offsets("host", false),
        [s("boottime", "0", "0"), s("monotonic", "0", "0")]
    );
}

/// An exec'd process: --cap adds to empty sets exactly that capability
/// (and an unknown name is warned about and ignored, as runc and crun do),
/// --env overrides, --user takes uid:gid, --no-new-privs sets it,
/// --pid-file gets a pid, additionalGids of --process reach the groups, and
/// a missing program fails with and without --detach.
// crun: test_exec.py test_exec, test_exec_add_capability, test_exec_add_env,
//       test_exec_set_user, test_exec_no_new_privs, test_exec_write_pid_file,
//       test_exec_additional_gids, test_exec_not_exists,
//       test_exec_detach_not_exists
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn crun_exec_flags() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("ex", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
        c["process"]["capabilities"] = json!({"bounding": [], "effective": [],
            "inheritable": [], "permitted": [], "ambient": []});
        c["process"]["noNewPrivileges"] = json!(false);
    });
    let id = t.id("ex");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let exec = |args: &[&str]| -> Out {
        let mut a = vec!["exec"];
        a.extend_from_slice(&args[..args.len() - 1]);
        a.push(&id);
        a.extend(args[args.len() - 1].split(' '));
        t.outlet(&a)
    };
    let caps = |o: &Out| -> Vec<String> {
        ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
            .iter()
            .map(|f| status_field(&o.stdout, f).unwrap_or("?").to_string())
            .collect()
    };
    let z = "0000000000000000".to_string();
    let kill = "0000000000000020".to_string();
    let admin = "0000000000200000".to_string();
    for (cap, want) in [
        (
            "CAP_KILL",
            vec![z.clone(), kill.clone(), kill.clone(), kill, z.clone()],
        ),
        (
            "CAP_SYS_ADMIN",
            vec![z.clone(), admin.clone(), admin.clone(), admin, z.clone()],
        ),
        ("CAP_UNKNOWN", vec![z.clone(); 5]),
    ] {
        let o = exec(&["--cap", cap, "cat /proc/self/status"]);
        o.expect_ok(cap);
        assert_eq!(caps(&o), want, "{cap}: {o:?}");
        if cap == "CAP_UNKNOWN" {
            assert!(o.stderr.contains("CAP_UNKNOWN"), "no warning: {o:?}");
        }
    }
    // Control: without --cap, the sets stay empty.
    assert_eq!(caps(&exec(&["cat /proc/self/status"])), vec![z; 5]);

    let o = t.outlet(&[
        "exec",
        "--env",
        "HOME=/tmp",
        "-e",
        "FOO=BAR",
        &id,
        "sh",
        "-c",
        "echo $HOME $FOO",
    ]);
    assert_eq!(o.stdout, "/tmp BAR\n", "{o:?}");
    let o = t.outlet(&["exec", &id, "sh", "-c", "echo $HOME ${FOO:-unset}"]);
    assert_eq!(o.stdout, "/root unset\n", "control: {o:?}");

    for u in ["1000:1000", "0:0", "65535:65535"] {
        let o = t.outlet(&[
            "exec",
            "--user",
            u,
            &id,
            "sh",
            "-c",
            "echo $(id -u):$(id -g)",
        ]);
        assert_eq!(o.stdout.trim(), u, "{o:?}");
    }

    let nnp = |extra: &[&str]| {
        let o = t.outlet(&[&["exec"][..], extra, &[&id, "cat", "/proc/self/status"]].concat());
        status_field(&o.stdout, "NoNewPrivs").map(String::from)
    };
    assert_eq!(nnp(&[]).as_deref(), Some("0"));
    assert_eq!(nnp(&["--no-new-privs"]).as_deref(), Some("1"));

    let pid_file = t.dir.join("exec.pid");
    let o = t.outlet(&[
        "exec",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "echo",
        "hello",
    ]);
    assert_eq!(o.stdout, "hello\n", "{o:?}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(pid.trim().parse::<u32>().is_ok_and(|p| p > 1), "{pid:?}");

    let proc_file = t.dir.join("process.json");
    std::fs::write(
        &proc_file,
        json!({"user": {"uid": 0, "gid": 0, "additionalGids": [432]}, "terminal": false,
               "args": ["id", "-G"], "env": ["PATH=/bin"], "cwd": "/",
               "noNewPrivileges": true})
        .to_string(),
    )
    .unwrap();
    let o = t.outlet(&["exec", "--process", proc_file.to_str().unwrap(), &id]);
    o.expect_ok("exec --process");
    assert!(o.stdout.split_whitespace().any(|g| g == "432"), "{o:?}");

    for detach in [false, true] {
        let args: &[&str] = if detach {
            &["exec", "--detach", &id, "/not.here"]
        } else {
            &["exec", &id, "/not.here"]
        };
        let o = t.outlet(args);
        assert_ne!(o.code, Some(0), "detach {detach}: {o:?}");
        assert!(o.stderr.contains("/not.here"), "{o:?}");
    }
    assert_eq!(t.status(&id), "running");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

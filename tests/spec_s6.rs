//! The runtime-spec's MUSTs (and runc's behaviour where the spec is
//! silent) that outlet got wrong before session 6, each against a real
//! container: relative mount destinations and bind sources, the hook
//! lifecycle after a failing hook (create's kinds and startContainer),
//! values that used to fail late or be ignored (hook paths and timeouts,
//! env, rlimits, oomScoreAdj, ociVersion, domainname without a uts
//! namespace, mappings without a user namespace, errnoRet on actions
//! without one, relative masked/readonly paths, empty annotation keys,
//! inheritable caps outside the bounding set, a listed device over a
//! different file, blkio leaf weights), and `kill` of a created container.
//! Each test has a control that shows its check can fail. Needs root.

mod common;

use common::{T, sh};
use serde_json::{Value, json};

/// The mount at `dest` in a /proc/self/mountinfo text: (fs type, super
/// options), if there is one.
fn mount_at(info: &str, dest: &str) -> Option<(String, String)> {
    info.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let sep = f.iter().position(|x| *x == "-")?;
        (f.get(4) == Some(&dest)).then(|| (f[sep + 1].to_string(), f[sep + 3].to_string()))
    })
}

/// config.md: a relative destination "MUST be interpreted as relative to
/// /". `tmp` gets its tmpfs at /tmp, seen in the container's mountinfo.
/// The control: the same container without the mount has no tmpfs at
/// /tmp, so the check can fail. An empty destination names no place and
/// stays refused, naming the field and leaving nothing.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn relative_mount_destination_is_taken_from_the_root() {
    let Some(t) = T::new() else { return };
    let tmpfs = |dest: &str| json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["size=1536k"]});
    for (name, with) in [("rel", true), ("control", false)] {
        let b = t.bundle(name, |c| {
            sh(c, "cat /proc/self/mountinfo > /out/mountinfo");
            if with {
                c["mounts"].as_array_mut().unwrap().push(tmpfs("tmp"));
            }
        });
        let id = t.id(name);
        t.run(&id, &b).expect_ok(name);
        let info = std::fs::read_to_string(b.out.join("mountinfo")).unwrap();
        let at_tmp = mount_at(&info, "/tmp");
        if with {
            let (typ, opts) = at_tmp.unwrap_or_else(|| panic!("no mount at /tmp:\n{info}"));
            assert_eq!(typ, "tmpfs", "{info}");
            assert!(opts.contains("size=1536k"), "{opts}");
        } else {
            assert_eq!(at_tmp, None, "control: /tmp is already a mount:\n{info}");
        }
    }
    let b = t.bundle("empty", |c| {
        c["mounts"].as_array_mut().unwrap().push(tmpfs(""))
    });
    let id = t.id("empty");
    t.create(&id, &b)
        .expect_fail("empty destination", "destination: empty");
    t.assert_nothing_left("empty destination");
}

/// A poststop hook that appends its stdin (the state) and whether the
/// container's state dir still existed to `log`.
fn poststop_logger(log: &std::path::Path, state_dir: &std::path::Path) -> Value {
    let script = format!(
        "{{ cat; [ -e {d} ] && echo ' dir-present' || echo ' dir-gone'; }} >> {l}",
        d = state_dir.display(),
        l = log.display()
    );
    json!({"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 10})
}

/// runtime.md: when a prestart, createRuntime or createContainer hook
/// fails, the runtime MUST generate an error, stop the container and
/// "continue the lifecycle at step 12": destroy what create made (12),
/// then run the poststop hooks (13). Each kind in turn fails: create exits
/// 1 naming the hook, the application never ran, the poststop hook ran
/// once with the state (status stopped, the id) after the state dir was
/// gone, and nothing is left. The control: the same bundle with hooks
/// that succeed runs no poststop hook at create (only at delete), so the
/// log is written by the failure path.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn failing_create_hook_destroys_then_runs_poststop() {
    let Some(t) = T::new() else { return };
    for kind in ["prestart", "createRuntime", "createContainer"] {
        for fail in [true, false] {
            let name = format!("{kind}-{}", if fail { "fail" } else { "ok" });
            let id = t.id(&name);
            let log = t.dir.join(format!("{name}.log"));
            let hook = if fail { "/bin/false" } else { "/bin/true" };
            let b = t.bundle(&name, |c| {
                sh(c, "touch /out/ran");
                c["hooks"] = json!({
                    kind: [{"path": hook}],
                    "poststop": [poststop_logger(&log, &t.root.join(&id))],
                });
            });
            let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
            if !fail {
                t.create_ok(&id, &b);
                assert_eq!(read_log(), "", "{name}: poststop ran at create");
                t.outlet(&["delete", "--force", &id]).expect_ok("delete");
                assert!(
                    read_log().ends_with(" dir-present\n"),
                    "{name}: {}",
                    read_log()
                );
                continue;
            }
            t.create(&id, &b)
                .expect_fail(&name, &format!("hooks.{kind}[0] /bin/false"));
            let text = read_log();
            let (state, dir) = text
                .trim_end()
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("{name}: poststop did not run: {text:?}"));
            assert_eq!(text.lines().count(), 1, "{name}: {text}");
            assert_eq!(dir, "dir-gone", "{name}: poststop ran before the undo");
            let state: Value = serde_json::from_str(state).unwrap();
            assert_eq!(state["id"], id.as_str(), "{name}: {state}");
            assert_eq!(state["status"], "stopped", "{name}: {state}");
            assert!(!b.out.join("ran").exists(), "{name}: the application ran");
            t.assert_nothing_left(&name);
        }
    }
}

/// A prestart hook that touches `marker`: the proof that create got as
/// far as running hooks.
fn marker_hook(marker: &std::path::Path) -> Value {
    json!({"path": "/bin/touch", "args": ["touch", marker]})
}

/// Values that used to fail only inside the init (or pass unchecked) are
/// refused before any side effect: exit 1 naming the field, the prestart
/// hook placed before them never ran, nothing left. config.md: a hook path
/// MUST be absolute and a timeout MUST be greater than zero; environ(7)
/// entries are KEY=VALUE (runc refuses others); an rlimit type twice
/// would make the second setrlimit fail against the first's hard limit;
/// the kernel takes oomScoreAdj in -1000..1000. The control: the nearest
/// valid value of each runs, the hook runs, and the value is seen inside.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn late_failing_values_are_refused_before_any_side_effect() {
    let Some(t) = T::new() else { return };
    let nofile =
        |soft: u64, hard: u64| json!({"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard});
    type Edit = Box<dyn Fn(&mut Value)>;
    let hooks_extra = |extra: Value| -> Edit {
        Box::new(move |c: &mut Value| {
            let list = c["hooks"]["prestart"].as_array_mut().unwrap();
            list.push(extra.clone());
        })
    };
    let cases: Vec<(&str, Edit, Edit, &str)> = vec![
        (
            "hooks.prestart[1].path: \"bin/true\" is not an absolute path",
            hooks_extra(json!({"path": "bin/true"})),
            hooks_extra(json!({"path": "/bin/true"})),
            "",
        ),
        (
            "hooks.prestart[1].timeout: 0: must be greater than zero",
            hooks_extra(json!({"path": "/bin/true", "timeout": 0})),
            hooks_extra(json!({"path": "/bin/true", "timeout": 1})),
            "",
        ),
        (
            "process.env[",
            Box::new(|c| {
                c["process"]["env"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("NOEQ"))
            }),
            Box::new(|c| {
                c["process"]["env"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("NOEQ="))
            }),
            "NOEQ=\n",
        ),
        (
            "process.rlimits[1].type: RLIMIT_NOFILE listed twice",
            Box::new(move |c| {
                c["process"]["rlimits"] = json!([nofile(100, 100), nofile(101, 101)])
            }),
            Box::new(move |c| c["process"]["rlimits"] = json!([nofile(101, 101)])),
            "101\n",
        ),
        (
            "process.rlimits[0]: RLIMIT_NOFILE soft limit 102 is above its hard limit 101",
            Box::new(move |c| c["process"]["rlimits"] = json!([nofile(102, 101)])),
            Box::new(move |c| c["process"]["rlimits"] = json!([nofile(101, 102)])),
            "101\n",
        ),
        (
            "process.oomScoreAdj: 1001 is outside -1000..1000",
            Box::new(|c| c["process"]["oomScoreAdj"] = json!(1001)),
            Box::new(|c| c["process"]["oomScoreAdj"] = json!(1000)),
            "1000\n",
        ),
    ];
    let script = "{ env | grep '^NOEQ='; ulimit -n; cat /proc/self/oom_score_adj; } > /out/seen";
    for (i, (want, bad, good, seen)) in cases.iter().enumerate() {
        for (name, edit) in [(format!("bad{i}"), bad), (format!("good{i}"), good)] {
            let marker = t.dir.join(format!("{name}.hook-ran"));
            let b = t.bundle(&name, |c| {
                sh(c, script);
                c["hooks"] = json!({"prestart": [marker_hook(&marker)]});
                edit(c);
            });
            let id = t.id(&name);
            if name.starts_with("bad") {
                t.create(&id, &b).expect_fail(&name, want);
                assert!(!marker.exists(), "{name}: a hook ran before the refusal");
                t.assert_nothing_left(&name);
                continue;
            }
            t.run(&id, &b).expect_ok(&name);
            assert!(marker.exists(), "control {name}: the hook did not run");
            let got = std::fs::read_to_string(b.out.join("seen")).unwrap();
            assert!(got.contains(seen), "control {name}: {got:?} lacks {seen:?}");
        }
    }
}

/// config-linux.md: "If a file already exists at `path` that does not
/// match the requested device, the runtime MUST generate an error." With
/// the image's own /dev (no tmpfs over it): a regular file, a symlink and
/// a node of other numbers at a listed device's path are refused, naming
/// `linux.devices[0].path` and what is there, and stay as they were; a
/// node that matches is used, with the requested mode and owner. The
/// control: the same devices on a fresh /dev tmpfs are made (the
/// refusal is the existing file's, not the device's).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_listed_device_over_an_existing_file_must_match_it() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let Some(t) = T::new() else { return };
    let fuse = json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229});
    let link = json!({"path": "/dev/lnk", "type": "c", "major": 1, "minor": 5});
    let zero_as_null = json!({"path": "/dev/zero2", "type": "c", "major": 1, "minor": 3});
    let cases = [
        (
            &fuse,
            "/dev/fuse exists in the root: is a regular file; expected a character device 10:229",
        ),
        (&link, "/dev/lnk exists in the root: is a symlink"),
        (
            &zero_as_null,
            "/dev/zero2 exists in the root: is a character device 1:5; expected a character device 1:3",
        ),
    ];
    let image_dev = |b: &common::Bundle, dev: &Value| {
        let root = b.own_rootfs();
        std::fs::write(root.join("dev/fuse"), "image file").unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("dev/lnk")).unwrap();
        let made = std::process::Command::new("mknod")
            .arg(root.join("dev/zero2"))
            .args(["c", "1", "5"])
            .status()
            .unwrap();
        assert!(made.success());
        let mut c = b.config();
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev");
        c["linux"]["devices"] = json!([dev]);
        b.write_config(&c);
        root
    };
    for (i, (dev, want)) in cases.iter().enumerate() {
        let b = t.bundle(&format!("clash{i}"), |c| sh(c, "true"));
        let root = image_dev(&b, dev);
        let id = t.id(&format!("clash{i}"));
        t.create(&id, &b)
            .expect_fail(want, &format!("linux.devices[0].path: {want}"));
        t.assert_nothing_left(want);
        assert_eq!(
            std::fs::read_to_string(root.join("dev/fuse")).unwrap(),
            "image file"
        );
        assert!(
            root.join("dev/lnk")
                .symlink_metadata()
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::metadata(root.join("dev/zero2")).unwrap().rdev(),
            libc::makedev(1, 5)
        );
        // Control: on a fresh /dev the same device is made.
        let b = t.bundle(&format!("fresh{i}"), |c| {
            sh(c, "ls -ln /dev > /out/dev");
            c["linux"]["devices"] = json!([dev]);
        });
        t.run(&t.id(&format!("fresh{i}")), &b)
            .expect_ok("fresh /dev");
        let name = dev["path"].as_str().unwrap().trim_start_matches("/dev/");
        let listing = std::fs::read_to_string(b.out.join("dev")).unwrap();
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with('c') && l.ends_with(&format!(" {name}"))),
            "control {name}: {listing}"
        );
    }
    // A node that matches is used, with the mode and owner asked for.
    let zero = json!({"path": "/dev/zero2", "type": "c", "major": 1, "minor": 5,
        "fileMode": 0o640, "uid": 7, "gid": 8});
    let b = t.bundle("match", |c| sh(c, "ls -ln /dev/zero2 > /out/zero2"));
    let root = image_dev(&b, &zero);
    t.run(&t.id("match"), &b).expect_ok("matching node");
    let seen = std::fs::read_to_string(b.out.join("zero2")).unwrap();
    assert!(seen.starts_with("crw-r-----"), "{seen}");
    let md = std::fs::metadata(root.join("dev/zero2")).unwrap();
    assert!(md.file_type().is_char_device());
    assert_eq!(
        (md.uid(), md.gid(), md.permissions().mode() & 0o777),
        (7, 8, 0o640)
    );
}

/// runtime.md step 7: "If any startContainer hook fails, the runtime MUST
/// generate an error, stop the container, and continue the lifecycle at
/// step 12." The hook runs in the init after `start` released it; `start`
/// now waits for the hooks and fails when one does: exit 1 naming the
/// hook kind, the application never ran, no poststart hook ran, the
/// container is stopped, and `delete` then runs the poststop hook. `run`
/// fails the same way. The control: the same bundle with a hook that
/// succeeds starts, runs the application and the poststart hook.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn failing_start_container_hook_fails_start() {
    let Some(t) = T::new() else { return };
    for fail in [true, false] {
        let name = if fail { "fail" } else { "ok" };
        let poststart = t.dir.join(format!("{name}.poststart"));
        let poststop = t.dir.join(format!("{name}.poststop"));
        let b = t.bundle(name, |c| {
            sh(c, "touch /out/ran");
            // Runs inside the container, after pivot_root: the fixture's sh.
            let hook = if fail {
                "sleep 0.2; exit 3"
            } else {
                "sleep 0.2"
            };
            c["hooks"] = json!({
                "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", hook]}],
                "poststart": [{"path": "/bin/touch", "args": ["touch", &poststart]}],
                "poststop": [{"path": "/bin/touch", "args": ["touch", &poststop]}],
            });
        });
        let id = t.id(name);
        t.create_ok(&id, &b);
        let o = t.outlet(&["start", &id]);
        if fail {
            o.expect_fail("start", "a startContainer hook failed");
        } else {
            o.expect_ok("control: start");
        }
        t.wait_status(&id, "stopped");
        assert_eq!(b.out.join("ran").exists(), !fail, "{name}: the application");
        assert_eq!(poststart.exists(), !fail, "{name}: the poststart hook");
        t.outlet(&["delete", &id]).expect_ok("delete");
        assert!(poststop.exists(), "{name}: delete ran no poststop hook");
        t.assert_nothing_left(name);
        if fail {
            let id = t.id("run");
            let o = t.run(&id, &b);
            o.expect_fail("run", "a startContainer hook failed");
            assert!(
                o.stderr.contains("hooks.startContainer[0] /bin/sh"),
                "{o:?}"
            );
            assert!(!b.out.join("ran").exists(), "run: the application ran");
            t.outlet(&["delete", "--force", &id]);
        }
    }
}

/// config.md: ociVersion "MUST be in SemVer v2.0.0 format", and a runtime
/// MUST generate an error for values it does not support (runtime-tools'
/// misc_props sets "invalid"). Refused naming the field, nothing left:
/// "invalid", "1.0" and a 2.x. The controls: a 1.x with a pre-release part
/// as Docker writes it runs, and so does a config with an unknown
/// property and an unknown annotation with an empty value (both MUST NOT
/// be errors, the same misc_props test).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn oci_version_must_be_semver_1x() {
    let Some(t) = T::new() else { return };
    for (i, v) in ["invalid", "1.0", "2.0.0"].iter().enumerate() {
        let b = t.bundle(&format!("v{i}"), |c| c["ociVersion"] = json!(v));
        let id = t.id(&format!("v{i}"));
        t.create(&id, &b)
            .expect_fail(v, &format!("ociVersion: {v:?}"));
        t.assert_nothing_left(v);
    }
    let b = t.bundle("ok", |c| {
        sh(c, "touch /out/ran");
        c["ociVersion"] = json!("1.0.2-dev");
        c["unknown"] = json!("unknown");
        c["annotations"] = json!({"org.outlet.s6": ""});
    });
    t.run(&t.id("ok"), &b).expect_ok("control");
    assert!(b.out.join("ran").exists());
}

/// The container's directory in a v1 hierarchy, from its state.
fn v1_dir(t: &T, id: &str, ctrl: &str) -> Option<std::path::PathBuf> {
    let st = common::read_json(&t.root.join(id).join("state.json"));
    st["cgroup"]["v1"][ctrl].as_str().map(Into::into)
}

/// linux.resources.blockIO on this v1 host (no CFQ since Linux 5.0):
/// `weight` lands in BFQ's blkio.bfq.weight; `leafWeight` (CFQ's
/// blkio.leaf_weight, which no current kernel has) is refused naming the
/// field instead of failing as a write to a missing file, and nothing is
/// left. The control: a container without a weight shows BFQ's default
/// 100 in the same file, so the check can fail.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn blkio_weight_reaches_bfq_and_leaf_weight_is_refused_naming_it() {
    let Some(t) = T::new() else { return };
    if !std::path::Path::new("/sys/fs/cgroup/blkio").is_dir() {
        eprintln!("not a cgroup v1 host: the VM suite covers v2 (io.weight)");
        return;
    }
    for (name, weight, want) in [("weighted", Some(500), "500"), ("control", None, "100")] {
        let b = t.bundle(name, |c| {
            sh(c, "sleep 30");
            if let Some(w) = weight {
                c["linux"]["resources"]["blockIO"] = json!({"weight": w});
            }
        });
        let id = t.id(name);
        t.create_ok(&id, &b);
        let dir = v1_dir(&t, &id, "blkio").expect("a blkio dir on record");
        let got = std::fs::read_to_string(dir.join("blkio.bfq.weight")).unwrap();
        assert_eq!(got.trim(), want, "{name}");
        t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    }
    for (i, (bio, field)) in [
        (
            json!({"leafWeight": 300}),
            "linux.resources.blockIO.leafWeight: \"300\"",
        ),
        (
            json!({"weightDevice": [{"major": 254, "minor": 0, "leafWeight": 300}]}),
            "linux.resources.blockIO.weightDevice[].leafWeight",
        ),
    ]
    .iter()
    .enumerate()
    {
        let b = t.bundle(&format!("leaf{i}"), |c| {
            c["linux"]["resources"]["blockIO"] = bio.clone()
        });
        let id = t.id(&format!("leaf{i}"));
        let o = t.create(&id, &b);
        o.expect_fail(field, field);
        assert!(o.stderr.contains("has no blkio.leaf_weight"), "{o:?}");
        t.assert_nothing_left(field);
    }
}

/// The host's NIS domain name, as the kernel reports it.
fn host_domainname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/domainname")
        .unwrap()
        .trim_end()
        .to_string()
}

/// Fields the spec constrains that outlet took and ignored (or applied
/// to the wrong namespace), now refused before any side effect, naming
/// the field, with nothing left. Each has its control: the nearest valid
/// config runs.
/// - domainname without a uts namespace: it was set in the caller's, so
///   `create` renamed the host (checked unchanged; restored if not);
/// - uid/gid mappings without a user namespace (ignored; runc refuses);
/// - errnoRet on an action that returns none, defaultErrnoRet on a
///   default that returns none (config-linux.md: MUST fail);
/// - a relative maskedPaths/readonlyPaths entry (MUST be absolute);
/// - an empty annotation key (config.md: MUST NOT be empty);
/// - an inheritable capability outside the bounding set (failed late, in
///   the init's capset).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ignored_or_misapplied_fields_are_refused_naming_them() {
    let Some(t) = T::new() else { return };
    let host_dn = host_domainname();
    {
        let dn = host_dn.clone();
        t.on_cleanup(move || {
            if host_domainname() != dn {
                std::fs::write("/proc/sys/kernel/domainname", &dn).unwrap();
            }
        });
    }
    let no_uts = |c: &mut Value| common::drop_ns(c, "uts");
    let maps = |c: &mut Value| {
        let m = json!([{"containerID": 0, "hostID": 100000, "size": 10}]);
        c["linux"]["uidMappings"] = m.clone();
        c["linux"]["gidMappings"] = m;
    };
    let allow_with = |rule: Value| json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]});
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, Edit)> = vec![
        (
            "domainname: set, but there is no new uts namespace",
            Box::new(move |c| {
                no_uts(c);
                c["hostname"] = json!("");
                c["domainname"] = json!("s6-spec-test");
            }),
            Box::new(|c| c["domainname"] = json!("s6-spec-test")),
        ),
        (
            "linux.uidMappings: set, but linux.namespaces has no user namespace",
            Box::new(move |c| maps(c)),
            Box::new(|_| {}),
        ),
        (
            "linux.seccomp.syscalls[0]: errno 5 given for SCMP_ACT_LOG",
            Box::new(move |c| {
                c["linux"]["seccomp"] = allow_with(
                    json!({"names": ["getcwd"], "action": "SCMP_ACT_LOG", "errnoRet": 5}),
                )
            }),
            Box::new(move |c| {
                c["linux"]["seccomp"] = allow_with(
                    json!({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}),
                )
            }),
        ),
        (
            "linux.seccomp.defaultErrnoRet: errno 3 given for SCMP_ACT_ALLOW",
            Box::new(|c| {
                c["linux"]["seccomp"] =
                    json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 3})
            }),
            Box::new(|c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW"})),
        ),
        (
            "linux.maskedPaths[",
            Box::new(|c| c["linux"]["maskedPaths"] = json!(["/proc/kcore", "proc/keys"])),
            Box::new(|c| c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/keys"])),
        ),
        (
            "linux.readonlyPaths[0]: \"proc/sys\" is not an absolute path",
            Box::new(|c| c["linux"]["readonlyPaths"] = json!(["proc/sys"])),
            Box::new(|c| c["linux"]["readonlyPaths"] = json!(["/proc/sys"])),
        ),
        (
            "annotations: a key is empty",
            Box::new(|c| c["annotations"] = json!({"": "x"})),
            Box::new(|c| c["annotations"] = json!({"k": ""})),
        ),
        (
            "process.capabilities.inheritable: CAP_CHOWN not in process.capabilities.bounding",
            Box::new(|c| c["process"]["capabilities"]["inheritable"] = json!(["CAP_CHOWN"])),
            Box::new(|c| c["process"]["capabilities"]["inheritable"] = json!(["CAP_KILL"])),
        ),
    ];
    for (i, (want, bad, good)) in cases.iter().enumerate() {
        let b = t.bundle(&format!("bad{i}"), |c| bad(c));
        let id = t.id(&format!("bad{i}"));
        t.create(&id, &b).expect_fail(want, want);
        t.assert_nothing_left(want);
        assert_eq!(
            host_domainname(),
            host_dn,
            "{want}: the host's domain name changed"
        );
        let b = t.bundle(&format!("good{i}"), |c| {
            sh(c, "cat /proc/sys/kernel/domainname > /out/dn");
            good(c);
        });
        t.run(&t.id(&format!("good{i}")), &b)
            .expect_ok(&format!("control for {want}"));
        if i == 0 {
            let inside = std::fs::read_to_string(b.out.join("dn")).unwrap();
            assert_eq!(
                inside.trim(),
                "s6-spec-test",
                "control: domainname in its uts namespace"
            );
        }
    }
    assert_eq!(host_domainname(), host_dn);
}

/// runtime.md: `kill` "MUST send the specified signal to the container
/// process", also while it is created. The init is the first process of
/// its pid namespace, and the kernel drops a signal to such a process
/// that it has no handler for: TERM, HUP or USR1 used to leave a created
/// container as it was (runc's init, a Go program, dies of them). Now each
/// stops it, and `start` then refuses. The controls: WINCH, which ends no
/// process, leaves it created and it starts; and the started program has
/// no handler of outlet's left (SigCgt 0 in its /proc status).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_reaches_a_created_container() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("k", |c| c["process"]["args"] = json!(["sleep", "30"]));
    for sig in ["TERM", "HUP", "USR1"] {
        let id = t.id(sig);
        t.create_ok(&id, &b);
        t.outlet(&["kill", &id, sig]).expect_ok(sig);
        t.wait_status(&id, "stopped");
        t.outlet(&["start", &id])
            .expect_fail(sig, "cannot start a container that has stopped");
        t.outlet(&["delete", &id]).expect_ok("delete");
    }
    let id = t.id("winch");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["kill", &id, "WINCH"]).expect_ok("WINCH");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        t.status(&id),
        "created",
        "control: WINCH ended the container"
    );
    t.outlet(&["start", &id]).expect_ok("start");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let caught = status.lines().find(|l| l.starts_with("SigCgt:")).unwrap();
    assert!(
        caught.ends_with("0000000000000000"),
        "the program inherited handlers: {caught}"
    );
    assert!(status.contains("Name:\tsleep"), "{status}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// config.md: bind mount sources "are either absolute or relative to the
/// bundle". A relative source was opened from outlet's own working
/// directory: `data` in the bundle is what the container sees, and `src`,
/// which exists only where outlet runs (this crate's directory, the
/// test's cwd), is not found in the bundle and is refused instead of
/// binding the caller's directory in. The control: the same `src` given
/// as an absolute path (the caller's choice) is mounted.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn relative_bind_sources_are_taken_from_the_bundle() {
    let Some(t) = T::new() else { return };
    let cwd_src = std::env::current_dir().unwrap().join("src");
    assert!(
        cwd_src.join("lib.rs").is_file(),
        "the test runs in the crate directory"
    );
    let bind =
        |src: &str| json!({"destination": "/tmp", "source": src, "options": ["rbind", "ro"]});
    let b = t.bundle("data", |c| {
        sh(c, "cat /tmp/hello > /out/seen");
        c["mounts"].as_array_mut().unwrap().push(bind("data"));
    });
    std::fs::create_dir(b.dir.join("data")).unwrap();
    std::fs::write(b.dir.join("data/hello"), "from the bundle\n").unwrap();
    t.run(&t.id("data"), &b)
        .expect_ok("relative source in the bundle");
    assert_eq!(
        std::fs::read_to_string(b.out.join("seen")).unwrap(),
        "from the bundle\n"
    );

    let b = t.bundle("cwd", |c| {
        c["mounts"].as_array_mut().unwrap().push(bind("src"))
    });
    let id = t.id("cwd");
    let o = t.create(&id, &b);
    o.expect_fail("a source only in outlet's cwd", "mounts[");
    assert!(
        o.stderr.contains(&b.dir.join("src").display().to_string()),
        "{o:?}"
    );
    t.assert_nothing_left("relative source missing from the bundle");

    let abs = cwd_src.to_str().unwrap().to_string();
    let b = t.bundle("abs", |c| {
        sh(c, "ls /tmp > /out/seen");
        c["mounts"].as_array_mut().unwrap().push(bind(&abs));
    });
    t.run(&t.id("abs"), &b)
        .expect_ok("control: absolute source");
    let seen = std::fs::read_to_string(b.out.join("seen")).unwrap();
    assert!(seen.lines().any(|l| l == "lib.rs"), "{seen}");
}

//! Capabilities, no_new_privs, seccomp (errno, default-deny, argument
//! conditions, podman's default profile) and LSM requests, seen from inside
//! real containers, for the init and for `exec`. Needs root (skipped
//! otherwise).

mod common;

use common::{Bundle, T, sh};
use serde_json::{Value, json};

/// A pid-1 shell that exits 0 on SIGTERM (a namespace's init only gets the
/// signals it handles).
const SLEEPER: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

/// The /proc/self/status mask for a list of capability names.
fn mask(names: &Value) -> u64 {
    let Some(list) = names.as_array() else {
        return 0;
    };
    list.iter()
        .map(|n| {
            let n = n.as_str().unwrap();
            // The caps crate's numbering, not outlet's own table: an
            // independent source for what each name means.
            let cap: caps::Capability = n.parse().unwrap_or_else(|e| panic!("capability {n}: {e}"));
            1u64 << cap.index()
        })
        .fold(0, |a, b| a | b)
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or_else(|| panic!("not hex: {v}")), 16).unwrap()
}

/// Add a writable tmpfs at /tmp (the fixture root is read-only).
fn tmpfs_tmp(c: &mut Value) {
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777"]
    }));
}

fn add_cap(c: &mut Value, cap: &str) {
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!(cap));
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn default_capabilities_are_exactly_the_spec_sets() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("caps", |_| {});
    let caps = b.config()["process"]["capabilities"].clone();
    // The default template must keep a small set; an empty list would make
    // the comparison below say little.
    assert!(mask(&caps["bounding"]) != 0, "{caps}");
    let id = t.id("caps");
    let out = t.run(&id, &b);
    out.expect_ok("run probe report");
    let r = out.json();
    let got = &r["capabilities"];
    // The template lists ambient capabilities without an inheritable set
    // (as runc's does); the kernel only raises ambient capabilities that
    // are permitted and inheritable, so the others are skipped, as runc
    // skips them, and the ambient set inside is their intersection.
    let (bnd, eff, prm, inh) = (
        mask(&caps["bounding"]),
        mask(&caps["effective"]),
        mask(&caps["permitted"]),
        mask(&caps["inheritable"]),
    );
    let amb = mask(&caps["ambient"]) & prm & inh;
    // The template gives the same list for bounding, effective, permitted;
    // execve as uid 0 makes P' = E' = bounding | inheritable | ambient.
    assert_eq!(bnd, eff, "{caps}");
    assert_eq!(bnd, prm, "{caps}");
    for (key, want) in [
        ("effective", eff),
        ("bounding", bnd),
        ("permitted", prm),
        ("ambient", amb),
        ("inheritable", inh),
    ] {
        assert_eq!(
            hex(&got[key]),
            want,
            "{key}: inside {:?}, spec {caps}",
            got[key]
        );
    }
    t.assert_nothing_left("after run");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn all_five_sets_are_applied_as_root_and_across_the_uid_switch() {
    let Some(t) = T::new() else { return };
    // Different sets, so a runtime that copied one set into another fails.
    let caps = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SYS_CHROOT"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
        "ambient": ["CAP_KILL"]
    });
    let (b_, i_, a_) = (
        mask(&caps["bounding"]),
        mask(&caps["inheritable"]),
        mask(&caps["ambient"]),
    );
    let p_ = mask(&caps["permitted"]);
    // What execve of a file without capabilities makes of the sets the
    // runtime left (capabilities(7)): bounding, inheritable and ambient
    // pass through; uid 0 gets P' = E' = bounding | inheritable | ambient,
    // cut down to the old permitted set under no_new_privs; any other uid
    // gets P' = E' = ambient.
    for (uid, nnp, perm) in [
        (0u32, true, (b_ | i_ | a_) & p_),
        (0, false, b_ | i_ | a_),
        (1000, true, a_),
        (1000, false, a_),
    ] {
        let tag = format!("caps-uid{uid}-{nnp}");
        let b = t.bundle(&tag, |c| {
            c["process"]["capabilities"] = caps.clone();
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            c["process"]["noNewPrivileges"] = json!(nnp);
        });
        let out = t.run(&t.id(&tag), &b);
        out.expect_ok("run probe report");
        let r = out.json();
        assert_eq!(r["uid"]["effective"], uid, "{r}");
        let got = &r["capabilities"];
        for (key, want) in [
            ("bounding", b_),
            ("inheritable", i_),
            ("ambient", a_),
            ("permitted", perm),
            ("effective", perm),
        ] {
            assert_eq!(hex(&got[key]), want, "uid {uid} nnp {nnp} {key}: {got}");
        }
    }
    t.assert_nothing_left("after run");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn net_admin_decides_whether_lo_can_be_set_down() {
    let Some(t) = T::new() else { return };
    let script = "ip link set lo up && ip link show lo && ip link set lo down && ip link show lo";
    let b = t.bundle("nonet", |c| sh(c, script));
    let id = t.id("nonet");
    let o = t.run(&id, &b);
    assert_ne!(
        o.code,
        Some(0),
        "ip link set worked without CAP_NET_ADMIN: {o:?}"
    );
    assert!(
        o.stderr.contains("Operation not permitted"),
        "no EPERM from ip: {o:?}"
    );

    let b = t.bundle("net", |c| {
        sh(c, script);
        add_cap(c, "CAP_NET_ADMIN");
    });
    let id = t.id("net");
    let o = t.run(&id, &b);
    o.expect_ok("ip link set lo up/down with CAP_NET_ADMIN");
    // Flags as busybox prints them: up, then down again.
    let flags: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("1: lo:"))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(flags.len(), 2, "{o:?}");
    assert!(flags[0].contains(",UP"), "lo not up: {o:?}");
    assert!(!flags[1].contains("UP"), "lo not down: {o:?}");
    t.assert_nothing_left("after run");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn no_new_privileges_true_and_false() {
    let Some(t) = T::new() else { return };
    for (nnp, want) in [(true, "1"), (false, "0")] {
        let tag = format!("nnp-{nnp}");
        let b = t.bundle(&tag, |c| c["process"]["noNewPrivileges"] = json!(nnp));
        let id = t.id(&tag);
        let o = t.run(&id, &b);
        o.expect_ok("run probe report");
        assert_eq!(o.json()["no_new_privs"], want, "noNewPrivileges {nnp}");
    }
    t.assert_nothing_left("after run");
}

const ARCHES: [&str; 3] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

/// mkdir -> EPERM, chmod -> ENOSYS, everything else allowed.
fn errno_profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ARCHES,
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["chmod", "fchmodat", "fchmod", "fchmodat2"],
             "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    })
}

/// Creates a file (allowed), then tries mkdir and chmod, printing each
/// status; busybox prints strerror on stderr.
const MKDIR_CHMOD: &str = "touch /tmp/f || exit 9; \
     mkdir /tmp/d; echo mkdir=$?; chmod 600 /tmp/f; echo chmod=$?; \
     grep -E '^Seccomp:' /proc/self/status";

fn check_errno_profile(o: &common::Out, what: &str) {
    assert_eq!(o.code, Some(0), "{what}: {o:?}");
    assert!(
        o.stdout.contains("mkdir=1"),
        "{what}: mkdir not refused: {o:?}"
    );
    assert!(
        o.stdout.contains("chmod=1"),
        "{what}: chmod not refused: {o:?}"
    );
    assert!(
        o.stderr.contains("/tmp/d") && o.stderr.contains("Operation not permitted"),
        "{what}: mkdir error is not EPERM: {o:?}"
    );
    assert!(
        o.stderr.contains("/tmp/f") && o.stderr.contains("Function not implemented"),
        "{what}: chmod error is not ENOSYS: {o:?}"
    );
    assert!(o.stdout.contains("Seccomp:\t2"), "{what}: {o:?}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_errno_actions_with_and_without_nnp() {
    let Some(t) = T::new() else { return };
    // Control: without a profile the same script succeeds, so the failures
    // below come from the filter.
    let b = t.bundle("nofilter", |c| {
        sh(c, MKDIR_CHMOD);
        tmpfs_tmp(c);
    });
    let o = t.run(&t.id("nofilter"), &b);
    o.expect_ok("run without seccomp");
    assert!(
        o.stdout.contains("mkdir=0")
            && o.stdout.contains("chmod=0")
            && o.stdout.contains("Seccomp:\t0"),
        "{o:?}"
    );
    for nnp in [true, false] {
        let tag = format!("errno-{nnp}");
        let b = t.bundle(&tag, |c| {
            sh(c, MKDIR_CHMOD);
            tmpfs_tmp(c);
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["linux"]["seccomp"] = errno_profile();
        });
        let o = t.run(&t.id(&tag), &b);
        check_errno_profile(&o, &format!("noNewPrivileges {nnp}"));
    }
    t.assert_nothing_left("after run");
}

/// The compiled filter is kept under `<root>/.cache/seccomp` and reused by
/// the next container with the same profile (compiling a podman-sized
/// profile takes libseccomp tens of milliseconds). Shown: a failed create
/// stores nothing; the first run stores one entry; a second run reuses it
/// untouched and is still filtered; a corrupt entry is recompiled, never
/// loaded; `list` does not take the cache for a container and the name is
/// refused as an id.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_filter_is_compiled_once_and_reused() {
    let Some(t) = T::new() else { return };
    let cache = t.root.join(".cache/seccomp");
    let entries = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&cache)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };

    // Fails after the filter is compiled: a terminal with nobody to take it.
    let b = t.bundle("fails", |c| {
        sh(c, MKDIR_CHMOD);
        c["process"]["terminal"] = json!(true);
        c["linux"]["seccomp"] = errno_profile();
    });
    let o = t.create(&t.id("fails"), &b);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(o.stderr.contains("terminal"), "{o:?}");
    assert!(
        std::fs::read_dir(&t.root).map_or(true, |mut rd| rd.next().is_none()),
        "a failed create wrote under the root: {:?}",
        std::fs::read_dir(&t.root).map(|rd| rd.flatten().map(|e| e.path()).collect::<Vec<_>>())
    );

    let b = t.bundle("cached", |c| {
        sh(c, MKDIR_CHMOD);
        tmpfs_tmp(c);
        c["linux"]["seccomp"] = errno_profile();
    });
    check_errno_profile(&t.run(&t.id("first"), &b), "first run");
    let stored = entries();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let meta = |p: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).unwrap();
        (m.ino(), m.mtime_nsec(), m.mode() & 0o777)
    };
    let before = meta(&stored[0]);
    assert_eq!(before.2, 0o600, "cache entry mode");

    check_errno_profile(&t.run(&t.id("second"), &b), "run from the cache");
    assert_eq!(entries(), stored);
    assert_eq!(
        meta(&stored[0]),
        before,
        "the entry was rewritten, not reused"
    );

    std::fs::write(&stored[0], b"not a filter").unwrap();
    check_errno_profile(&t.run(&t.id("third"), &b), "run after corruption");
    assert_ne!(std::fs::read(&stored[0]).unwrap(), b"not a filter");

    let o = t.outlet(&["list", "--format", "json"]);
    o.expect_ok("list");
    assert!(!o.stdout.contains(".cache"), "{o:?}");
    let o = t.create(".cache", &b);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(o.stderr.contains("must match [A-Za-z0-9]"), "{o:?}");
    t.assert_nothing_left("after the runs");
}

/// What busybox `echo` (static glibc) calls, found with strace; `write` is
/// left to the caller so the test can show it matters.
const ECHO_SYSCALLS: &[&str] = &[
    "execve",
    "arch_prctl",
    "brk",
    "exit_group",
    "getrandom",
    "getuid",
    "mprotect",
    "prctl",
    "prlimit64",
    "readlink",
    "rseq",
    "set_robust_list",
    "set_tid_address",
];

/// What the init still calls between loading the filter and execve when
/// noNewPrivileges is false (the filter is loaded while CAP_SYS_ADMIN is
/// held, before the user switch): a real default-deny profile for such a
/// container has to allow these, as with runc.
const INIT_TAIL_SYSCALLS: &[&str] = &[
    "capget",
    "capset",
    "prctl",
    "setgroups",
    "setresgid",
    "setresuid",
    "chdir",
    "fchdir",
    "getcwd",
    "openat2",
    "access",
    "faccessat",
    "faccessat2",
    "stat",
    "newfstatat",
    "statx",
    "umask",
    "write",
    "sendmsg",
    "sendto",
    "recvmsg",
    "recvfrom",
    "read",
    "openat",
    "open",
    "close",
    "close_range",
    "rt_sigprocmask",
    "rt_sigaction",
    "sigaltstack",
    "munmap",
    "mmap",
    "getpid",
    "futex",
    "poll",
    "ppoll",
    "fcntl",
];

fn allowlist_profile(nnp: bool, with_write: bool, extra: Vec<Value>) -> Value {
    let mut names: Vec<&str> = ECHO_SYSCALLS.to_vec();
    if !nnp {
        names.extend_from_slice(INIT_TAIL_SYSCALLS);
        names.retain(|n| with_write || *n != "write");
    }
    if with_write {
        names.push("write");
    }
    names.sort();
    names.dedup();
    let mut syscalls = vec![json!({"names": names, "action": "SCMP_ACT_ALLOW"})];
    syscalls.extend(extra);
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ARCHES,
        "syscalls": syscalls
    })
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_default_deny_allowlist_runs_echo() {
    let Some(t) = T::new() else { return };
    for nnp in [true, false] {
        let tag = format!("allow-{nnp}");
        let b = t.bundle(&tag, |c| {
            c["process"]["args"] = json!(["echo", "allowed", "through"]);
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["linux"]["seccomp"] = allowlist_profile(nnp, true, vec![]);
        });
        let o = t.run(&t.id(&tag), &b);
        o.expect_ok(&format!("echo under an allowlist (noNewPrivileges {nnp})"));
        assert_eq!(o.stdout, "allowed through\n", "{o:?}");

        // The same list without `write`: echo cannot print, so the list is
        // what decides (the default action is in force).
        if nnp {
            let tag = format!("nowrite-{nnp}");
            let b = t.bundle(&tag, |c| {
                c["process"]["args"] = json!(["echo", "allowed", "through"]);
                c["process"]["noNewPrivileges"] = json!(nnp);
                c["linux"]["seccomp"] = allowlist_profile(nnp, false, vec![]);
            });
            let o = t.run(&t.id(&tag), &b);
            assert_ne!(o.code, Some(0), "echo printed without write: {o:?}");
            assert_eq!(o.stdout, "", "{o:?}");
        }
    }
    t.assert_nothing_left("after run");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_argument_condition_is_enforced() {
    let Some(t) = T::new() else { return };
    // busybox `linux32 CMD` calls personality(PER_LINUX32 = 8) and then
    // execs CMD. A rule allowing personality only for arg0 == VALUE decides
    // whether it gets through: with 0 (podman's rule) it is refused, with 8
    // it runs. Everything else is the default-deny allowlist of echo.
    for nnp in [true, false] {
        for (value, op, allowed) in [
            (0u64, "SCMP_CMP_EQ", false),
            (8, "SCMP_CMP_EQ", true),
            (8, "SCMP_CMP_NE", false),
            (0xff, "SCMP_CMP_MASKED_EQ", true),
        ] {
            let tag = format!("arg-{nnp}-{value}-{}", op.to_lowercase());
            let mut arg = json!({"index": 0, "value": value, "op": op});
            if op == "SCMP_CMP_MASKED_EQ" {
                // (arg0 & 0xff) == 8
                arg = json!({"index": 0, "value": 0xff, "valueTwo": 8, "op": op});
            }
            let rule = json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [arg]});
            let b = t.bundle(&tag, |c| {
                c["process"]["args"] = json!(["linux32", "echo", "personality", "passed"]);
                c["process"]["noNewPrivileges"] = json!(nnp);
                c["linux"]["seccomp"] = allowlist_profile(nnp, true, vec![rule]);
            });
            let o = t.run(&t.id(&tag), &b);
            if allowed {
                o.expect_ok(&format!("{tag}: personality(8) allowed"));
                assert_eq!(o.stdout, "personality passed\n", "{tag}: {o:?}");
            } else {
                assert_ne!(o.code, Some(0), "{tag}: personality(8) went through: {o:?}");
                assert!(
                    o.stderr.contains("Operation not permitted"),
                    "{tag}: no EPERM from linux32: {o:?}"
                );
                assert_eq!(o.stdout, "", "{tag}: {o:?}");
            }
        }
    }
    t.assert_nothing_left("after run");
}

const PODMAN_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// What podman (containers/common) does before writing config.json: keep
/// the entries whose `includes` hold and whose `excludes` do not, for the
/// given capabilities on amd64, and turn `archMap` into `architectures`.
fn podman_resolved(raw: &Value, caps: &[&str]) -> Value {
    let has = |list: Option<&Value>, pred: &dyn Fn(&str) -> bool| {
        list.and_then(|l| l.as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str())
                    .map(pred)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut out = raw.clone();
    let syscalls: Vec<Value> = raw["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let inc = &e["includes"];
            let exc = &e["excludes"];
            let arches_in = has(inc.get("arches"), &|a| a == "amd64");
            let caps_in = has(inc.get("caps"), &|c| caps.contains(&c));
            let arches_out = has(exc.get("arches"), &|a| a == "amd64");
            let caps_out = has(exc.get("caps"), &|c| caps.contains(&c));
            (arches_in.is_empty() || arches_in.contains(&true))
                && caps_in.iter().all(|&b| b)
                && !arches_out.contains(&true)
                && !caps_out.contains(&true)
        })
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            o.remove("includes");
            o.remove("excludes");
            o.remove("comment");
            e
        })
        .collect();
    let o = out.as_object_mut().unwrap();
    o.remove("archMap");
    o.remove("defaultErrno");
    out["syscalls"] = Value::from(syscalls);
    out["architectures"] = json!(ARCHES);
    out
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn podman_default_profile_runs_a_shell_session() {
    let Some(t) = T::new() else { return };
    let Ok(text) = std::fs::read_to_string(PODMAN_PROFILE) else {
        panic!(
            "cannot run here: {PODMAN_PROFILE} missing (apt package golang-github-containers-common)"
        );
    };
    let raw: Value = serde_json::from_str(&text).unwrap();
    let script = "set -e; mkdir -p /tmp/a/b; echo hello > /tmp/a/b/f; chmod 600 /tmp/a/b/f; \
                  cat /tmp/a/b/f; ls /tmp/a/b; ls -l /tmp/a/b/f | cut -c1-10; rm -r /tmp/a; \
                  test ! -e /tmp/a && echo removed; grep -E '^Seccomp:' /proc/self/status; \
                  probe personality 8 >/dev/null && echo per-linux32-allowed; \
                  probe personality 40000 || echo status=$?";
    // Control: without the profile the refused personality goes through.
    let b = t.bundle("podman-control", |c| {
        sh(c, script);
        tmpfs_tmp(c);
    });
    let o = t.run(&t.id("podman-control"), &b);
    o.expect_ok("shell without a profile");
    assert!(
        o.stdout.contains("Seccomp:\t0\n")
            && o.stdout.contains("\"value\":\"0x40000\",\"ok\":true"),
        "{o:?}"
    );
    for nnp in [true, false] {
        let tag = format!("podman-{nnp}");
        let b = t.bundle(&tag, |c| {
            sh(c, script);
            tmpfs_tmp(c);
            c["process"]["noNewPrivileges"] = json!(nnp);
            let caps: Vec<String> = c["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
            c["linux"]["seccomp"] = podman_resolved(&raw, &caps);
        });
        let o = t.run(&t.id(&tag), &b);
        o.expect_ok(&format!(
            "shell under podman's profile (noNewPrivileges {nnp})"
        ));
        assert_eq!(
            o.stdout,
            "hello\nf\n-rw-------\nremoved\nSeccomp:\t2\nper-linux32-allowed\n\
             {\"op\":\"personality\",\"value\":\"0x40000\",\"ok\":false,\"errno\":38,\
             \"error\":\"Function not implemented (os error 38)\"}\nstatus=1\n",
            "noNewPrivileges {nnp}: {o:?}"
        );
    }
    t.assert_nothing_left("after run");
}

/// A running container with `profile`, for exec tests.
fn running(t: &T, tag: &str, nnp: bool, profile: Value) -> (String, Bundle) {
    let b = t.bundle(tag, |c| {
        sh(c, SLEEPER);
        tmpfs_tmp(c);
        c["process"]["noNewPrivileges"] = json!(nnp);
        c["linux"]["seccomp"] = profile;
    });
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    (id, b)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_gets_the_containers_seccomp_profile() {
    let Some(t) = T::new() else { return };
    for nnp in [true, false] {
        let (id, b) = running(&t, &format!("exec-{nnp}"), nnp, errno_profile());
        // Inline exec: the process inherits the container's process spec.
        let o = t.outlet(&["exec", &id, "sh", "-c", MKDIR_CHMOD]);
        check_errno_profile(&o, &format!("inline exec, noNewPrivileges {nnp}"));

        // exec --process with a process.json of its own: the profile is the
        // container's, whatever the process says.
        let mut p = b.config()["process"].clone();
        p["args"] = json!(["sh", "-c", MKDIR_CHMOD.replace("/tmp/d", "/tmp/d2")]);
        let pf = b.dir.join("process.json");
        std::fs::write(&pf, serde_json::to_vec(&p).unwrap()).unwrap();
        let o = t.outlet(&["exec", "--process", pf.to_str().unwrap(), &id]);
        assert!(o.stderr.contains("/tmp/d2"), "{o:?}");
        check_errno_profile(&o, &format!("exec --process, noNewPrivileges {nnp}"));

        // exec of probe: the status fields the kernel keeps.
        let o = t.outlet(&["exec", &id, "probe", "report"]);
        o.expect_ok("exec probe report");
        let r = o.json();
        assert_eq!(r["seccomp"], "2", "{r}");
        assert_eq!(r["no_new_privs"], if nnp { "1" } else { "0" }, "{r}");
        t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    }
    t.assert_nothing_left("after delete");
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn apparmor_requested_without_apparmor_fails_clearly_and_leaves_nothing() {
    let Some(t) = T::new() else { return };
    if apparmor_enabled() {
        panic!(
            "cannot run here: AppArmor is enabled on this host; the test is for hosts without it"
        );
    }
    let b = t.bundle("aa", |c| {
        c["process"]["apparmorProfile"] = json!("outlet-test-profile");
    });
    let id = t.id("aa");
    let o = t.create(&id, &b);
    o.expect_fail(
        "create with apparmorProfile",
        "process.apparmorProfile: \"outlet-test-profile\" requested but AppArmor is not enabled on this host",
    );
    t.assert_nothing_left("after the failed create");
    let o = t.run(&id, &b);
    o.expect_fail("run with apparmorProfile", "AppArmor is not enabled");
    t.assert_nothing_left("after the failed run");

    // exec --apparmor into a container that has no profile: refused with
    // the field named, and no process started.
    let b = t.bundle("aa-exec", |c| sh(c, SLEEPER));
    let id = t.id("aa-exec");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let marker = "/out/exec-ran";
    let o = t.outlet(&[
        "exec",
        "--apparmor",
        "outlet-test-profile",
        &id,
        "touch",
        marker,
    ]);
    // 255: exec's own failure, not the process's.
    assert_eq!(o.code, Some(255), "{o:?}");
    assert!(o.stderr.to_lowercase().contains("apparmor"), "{o:?}");
    assert!(!b.out.join("exec-ran").exists(), "the exec'd process ran");
    assert_eq!(t.status(&id), "running");
}

/// `linux.devices` /dev/xfuse (/dev/fuse's 10:229: opening it does nothing
/// until a FUSE mount uses it, and it is not a default device) with the
/// spec's rule `access`, after the usual deny-all. The script opens it for
/// reading and for writing and reports; the host reads the container's v1
/// devices.list while it sits created.
fn fuse_device_with(t: &T, tag: &str, access: &str) -> (String, String) {
    let b = t.bundle(tag, |c| {
        sh(
            c,
            "(: </dev/xfuse) && echo r=ok; (: >/dev/xfuse) 2>&1 && echo w=ok; true",
        );
        c["linux"]["devices"] = json!([{"path": "/dev/xfuse", "type": "c",
            "major": 10, "minor": 229, "fileMode": 438}]);
        c["linux"]["resources"]["devices"] = json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": access}]);
    });
    let id = t.id(tag);
    let created = t.create(&id, &b);
    created.expect_ok("create");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let list = common::cgroup_dirs_for(&id)
        .iter()
        .find_map(|d| std::fs::read_to_string(d.join("devices.list")).ok())
        .unwrap_or_default();
    t.outlet(&["start", &id]).expect_ok("start");
    t.wait_status(&id, "stopped");
    let out = std::fs::read_to_string(&created.stdout_path).unwrap();
    t.outlet(&["delete", &id]).expect_ok("delete");
    (out, list)
}

/// Issue 10 class 6: a device the spec grants `r` stays read-only (outlet
/// used to append `rwm` for every linux.devices entry). Inside, opening it
/// for reading works and for writing fails with EPERM; the v1 cgroup holds
/// `c 10:229 r`. Control: the same container with `rw` opens it for
/// writing, so the EPERM comes from the access string.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn device_granted_read_only_stays_read_only() {
    let Some(t) = T::new() else { return };
    if !std::path::Path::new("/dev/fuse").exists() {
        eprintln!("SKIPPED: no /dev/fuse on this host (10:229 would not open)");
        return;
    }
    let (out, list) = fuse_device_with(&t, "ro", "r");
    assert!(out.contains("r=ok"), "read open refused: {out}");
    assert!(
        !out.contains("w=ok") && out.contains("Operation not permitted"),
        "write open was not refused with EPERM: {out}"
    );
    eprintln!("devices.list: {list:?}");
    if !list.is_empty() {
        // v1: exactly the spec's rule for it, nothing wider.
        let lines: Vec<&str> = list.lines().filter(|l| l.starts_with("c 10:229")).collect();
        assert_eq!(lines, ["c 10:229 r"], "{list}");
    }

    let (out, _) = fuse_device_with(&t, "rw", "rw");
    assert!(
        out.contains("r=ok") && out.contains("w=ok"),
        "control: {out}"
    );
    t.assert_nothing_left("after the runs");
}

/// runc's default rules come after the spec's, as engines expect: under
/// docker's rules (deny everything, then its list) a container with
/// CAP_MKNOD can make /dev/net/tun and open it, and can mknod any node
/// (`c *:* m`) but not use it: the control shows /dev/kmsg made the same
/// way refuses to open, so the deny-all is in force.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn mknod_tun_works_after_deny_all() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("tun", |c| {
        sh(
            c,
            "mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && echo mknod-tun=ok; \
             (: <>/dev/net/tun) 2>&1 && echo open-tun=ok; \
             mknod /dev/xkmsg c 1 11 && echo mknod-kmsg=ok; \
             (: </dev/xkmsg) 2>&1 || echo open-kmsg=refused; true",
        );
        add_cap(c, "CAP_MKNOD");
        c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
    });
    let o = t.run(&t.id("tun"), &b);
    o.expect_ok("run");
    for want in [
        "mknod-tun=ok",
        "open-tun=ok",
        "mknod-kmsg=ok",
        "open-kmsg=refused",
    ] {
        assert!(o.stdout.contains(want), "{want}: {o:?}");
    }
    assert!(o.stdout.contains("Operation not permitted"), "{o:?}");
    t.assert_nothing_left("after run");
}

/// Issue 10 class 7: the seccomp cache is trusted only when outlet could
/// have written it. The attacker replaces the cached program of the errno
/// profile with "allow everything" (a single `RET ALLOW`), under the same
/// key, owned by another uid (nobody) and mode 0666: outlet ignores it
/// with a warning, the container is still filtered, and the entry is left
/// as it is (not ours to replace). The same forged entry through a symlink
/// is not followed either. Control: the forged entry owned by root, mode
/// 0600, IS loaded (mkdir then succeeds), so the test's forgery is
/// otherwise accepted and ownership is what protects.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_cache_entry_of_another_owner_is_not_loaded() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Some(t) = T::new() else { return };
    let cache = t.root.join(".cache/seccomp");
    let b = t.bundle("cached", |c| {
        sh(c, MKDIR_CHMOD);
        tmpfs_tmp(c);
        c["linux"]["seccomp"] = errno_profile();
    });
    check_errno_profile(&t.run(&t.id("first"), &b), "first run");
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];

    // Same key, program replaced by RET SECCOMP_RET_ALLOW.
    let stored = std::fs::read(entry).unwrap();
    let klen = u64::from_le_bytes(stored[..8].try_into().unwrap()) as usize;
    let mut forged = stored[..8 + klen].to_vec();
    forged.extend_from_slice(&0x06u16.to_ne_bytes());
    forged.extend_from_slice(&[0, 0]);
    forged.extend_from_slice(&0x7fff_0000u32.to_ne_bytes());
    let plant = |uid: u32, mode: u32| {
        let _ = std::fs::remove_file(entry);
        std::fs::write(entry, &forged).unwrap();
        std::os::unix::fs::lchown(entry, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(entry, std::fs::Permissions::from_mode(mode)).unwrap();
    };

    plant(65534, 0o666);
    let o = t.run(&t.id("forged-nobody"), &b);
    check_errno_profile(&o, "forged entry owned by nobody, 0666");
    assert!(
        o.stderr.contains("seccomp cache") && o.stderr.contains("owned by uid 65534"),
        "no warning: {o:?}"
    );
    assert_eq!(
        std::fs::read(entry).unwrap(),
        forged,
        "replaced someone else's entry"
    );
    assert_eq!(std::fs::metadata(entry).unwrap().uid(), 65534);

    // Root's own, but writable by others: also ignored (then rewritten).
    plant(0, 0o666);
    let o = t.run(&t.id("forged-0666"), &b);
    check_errno_profile(&o, "forged entry mode 0666");
    assert!(o.stderr.contains("writable by group or others"), "{o:?}");

    // A symlink at the entry's name to a trusted-looking forged file.
    let forged_file = t.dir.join("forged.bpf");
    std::fs::write(&forged_file, &forged).unwrap();
    std::fs::set_permissions(&forged_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _ = std::fs::remove_file(entry);
    std::os::unix::fs::symlink(&forged_file, entry).unwrap();
    let o = t.run(&t.id("forged-link"), &b);
    check_errno_profile(&o, "symlinked forged entry");
    assert!(o.stderr.contains("without following links"), "{o:?}");
    assert_eq!(std::fs::read(&forged_file).unwrap(), forged);

    // Control: the forged entry as outlet would have written it is used.
    plant(0, 0o600);
    let o = t.run(&t.id("forged-trusted"), &b);
    assert!(
        o.ok() && o.stdout.contains("mkdir=0") && o.stdout.contains("Seccomp:\t2"),
        "control: a root-owned 0600 forged entry should have been loaded: {o:?}"
    );
    t.assert_nothing_left("after the runs");
}

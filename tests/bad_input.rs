//! Bad input: exit 1, a message naming the field or path, and nothing left
//! behind (no state dir under the root, no cgroup, no process, no mount).
//! Refused operations leave the container as it was. Needs root (skipped
//! otherwise).

mod common;

use common::{T, pid_alive, sh};
use serde_json::{Value, json};

/// Create with an edited config; it must fail with exit 1 naming `needle`,
/// and leave nothing at all.
#[track_caller]
fn create_fails(edit: impl FnOnce(&mut Value), needle: &str) -> String {
    let t = T::new().expect("root checked by the caller");
    let b = t.bundle("b", edit);
    let id = t.id("bad");
    let o = t.create(&id, &b);
    o.expect_fail("create", needle);
    assert!(!t.state_dir_exists(&id));
    t.assert_nothing_left("failed create");
    o.stderr.clone()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn invalid_json() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |_| {});
    std::fs::write(b.dir.join("config.json"), b"{\"ociVersion\": \"1.2.0\",, }").unwrap();
    let id = t.id("json");
    let o = t.create(&id, &b);
    o.expect_fail("create", "invalid JSON");
    assert!(o.stderr.contains("config.json"), "{o:?}");
    t.assert_nothing_left("invalid JSON");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn missing_rootfs() {
    if !common::is_root() {
        return;
    }
    let err = create_fails(|c| c["root"]["path"] = json!("no-such-rootfs"), "root.path");
    assert!(err.contains("no-such-rootfs"), "{err}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn unknown_namespace_type() {
    if !common::is_root() {
        return;
    }
    let err = create_fails(
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "bogus"}))
        },
        "linux.namespaces[",
    );
    assert!(err.contains("bogus"), "{err}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn relative_mount_destination() {
    if !common::is_root() {
        return;
    }
    let err = create_fails(
        |c| {
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "relative/dir",
                "type": "tmpfs",
                "source": "tmpfs"
            }))
        },
        "destination",
    );
    assert!(err.contains("mounts["), "{err}");
    assert!(err.contains("relative/dir"), "{err}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn missing_executable() {
    if !common::is_root() {
        return;
    }
    let err = create_fails(
        |c| c["process"]["args"] = json!(["no-such-program", "x"]),
        "executable file not found",
    );
    assert!(err.contains("no-such-program"), "{err}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn failing_prestart_hook() {
    if !common::is_root() {
        return;
    }
    let err = create_fails(
        |c| {
            c["hooks"] = json!({"prestart": [
                {"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/null; exit 1"]}
            ]})
        },
        "prestart",
    );
    assert!(err.contains("/bin/sh"), "{err}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn bad_ids() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |_| {});
    for id in ["../x", "a/b", "..", ""] {
        let o = t.create(id, &b);
        o.expect_fail(&format!("create {id:?}"), "container id");
    }
    // Nothing escaped the root: no container state beside it.
    assert!(!t.root.parent().unwrap().join("x/state.json").exists());
    t.assert_nothing_left("bad ids");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn log_format_json_gets_one_error_line() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| c["root"]["path"] = json!("no-such-rootfs"));
    let id = t.id("log");
    let log = t.dir.join("log.json");
    let o = t.outlet(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(o.code, Some(1), "{o:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one log line: {text}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("root.path"), "{v}");
    assert!(v["time"].is_string(), "{v}");
    t.assert_nothing_left("logged failure");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn duplicate_id_leaves_the_first_alone() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, "trap 'exit 0' TERM; sleep 1000 & wait"));
    let id = t.id("dup");
    let pid = t.create_ok(&id, &b);
    let before = t.state(&id);
    let o = t.create(&id, &b);
    o.expect_fail("second create", "container with id exists");
    let after = t.state(&id);
    assert_eq!(before, after, "the first container changed");
    assert_eq!(after["status"], "created");
    assert!(pid_alive(pid));
    // And it still works.
    t.outlet(&["start", &id]).expect_ok("start the first");
    assert_eq!(t.status(&id), "running");
    // Same with run.
    let o = t.run(&id, &b);
    o.expect_fail("run with a taken id", "container with id exists");
    assert_eq!(t.status(&id), "running");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_of_a_running_container() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, "trap 'exit 0' TERM; sleep 1000 & wait"));
    let id = t.id("start2");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let o = t.outlet(&["start", &id]);
    o.expect_fail("second start", "running");
    assert!(o.stderr.contains(&id), "{o:?}");
    assert_eq!(t.status(&id), "running");
    assert!(pid_alive(pid));
    // start of a missing container
    t.outlet(&["start", &format!("{}-nope", t.token)])
        .expect_fail("start missing", "does not exist");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_of_a_running_container_without_force() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, "trap 'exit 0' TERM; sleep 1000 & wait"));
    let id = t.id("del");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let o = t.outlet(&["delete", &id]);
    o.expect_fail("delete running", "not stopped");
    assert!(o.stderr.contains(&id), "{o:?}");
    assert_eq!(t.status(&id), "running");
    assert!(pid_alive(pid));
    assert!(t.state_dir_exists(&id));
    // Its cgroup is still there too.
    assert!(
        common::cgroup_dirs_for(&id).iter().any(|d| d.exists()),
        "cgroup of a refused delete is gone"
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rlimit_above_the_hard_limit() {
    if !common::is_root() {
        return;
    }
    // Raising a hard limit needs CAP_SYS_RESOURCE, which root here lacks
    // (and a container's root should not get from outlet either): the
    // host's hard nofile limit plus one is refused.
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1;
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = caps
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    // Bit 24 is CAP_SYS_RESOURCE.
    if eff & (1 << 24) != 0 || hard == libc::RLIM_INFINITY {
        panic!("cannot run here: this root may raise hard rlimits (CAP_SYS_RESOURCE)");
    }
    let err = create_fails(
        |c| {
            c["process"]["rlimits"] =
                json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard + 1}])
        },
        "process.rlimits RLIMIT_NOFILE",
    );
    assert!(err.contains(&(hard + 1).to_string()), "{err}");
}

//! runc's integration suite, ported (see runcbats_s9.rs for the method):
//! start.bats, spec.bats, debug.bats, mounts_recursive.bats, userns.bats
//! and mounts_propagation.bats.
//!
//! Not ported, and why:
//! - spec.bats "spec validator": clones runtime-spec and builds its Go
//!   schema validator; no network or Go here (spec_cmd.rs checks `outlet
//!   spec`'s output field by field).
//! - debug.bats's check_debug matches runc's own debug lines ("nsexec
//!   container setup", ...); the port checks outlet's equivalent: debug
//!   lines at all, on stderr or in the --log file in the asked format, and
//!   none on stderr when --log is given.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::runcbats::set_args;
use common::{OUTLET, Out, T};
use serde_json::{Value, json};

// runc: start.bats "runc start"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("s", |c| set_args(c, &["sleep", "1000"]));
    let id = t.id("s");
    t.create_ok(&id, &b);
    assert_eq!(t.status(&id), "created");
    t.outlet(&["start", &id]).expect_ok("start");
    assert_eq!(t.status(&id), "running");
    // Control: a second start of a running container is refused.
    assert!(!t.outlet(&["start", &id]).ok());
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    assert!(!t.outlet(&["state", &id]).ok());
}

/// `outlet --root R ARGS` with `cwd` as the working directory.
fn outlet_in(t: &T, cwd: &Path, args: &[&str]) -> Out {
    let (mut cmd, so, se) = t.command(Path::new(OUTLET), args);
    cmd.current_dir(cwd);
    let mut child = cmd.spawn().expect("spawn outlet");
    let st = common::wait_timeout(&mut child, Duration::from_secs(60), "outlet");
    Out::from_files(st, so, se)
}

// runc: spec.bats "spec generation cwd", spec.bats "spec generation --bundle"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn spec_bundle_from_cwd_or_flag() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| set_args(c, &["/bin/echo", "Hello World"]));
    let o = outlet_in(&t, &b.dir, &["run", &t.id("cwd")]);
    assert_eq!(o.expect_ok("run in the bundle").stdout, "Hello World\n");
    let o = t.outlet(&["run", "--bundle", b.dir.to_str().unwrap(), &t.id("flag")]);
    assert_eq!(o.expect_ok("run --bundle").stdout, "Hello World\n");
    // Control: from another directory without --bundle there is no config.
    let o = outlet_in(&t, &t.dir, &["run", &t.id("none")]);
    assert!(!o.ok() && o.stderr.contains("config.json"), "{o:?}");
}

/// `outlet --root R GLOBAL... run ID` of a hello bundle.
fn debug_run(t: &T, tag: &str, global: &[&str]) -> Out {
    let b = t.bundle(tag, |c| set_args(c, &["/bin/echo", "Hello World"]));
    let root = t.root.to_str().unwrap();
    let args = [
        &["--root", root][..],
        global,
        &["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)],
    ];
    t.outlet_plain(&args.concat())
}

// runc: debug.bats "global --debug", "global --debug to --log",
//       "global --debug to --log --log-format 'text'",
//       "global --debug to --log --log-format 'json'"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn debug_logging() {
    let Some(t) = T::new() else { return };
    let o = debug_run(&t, "stderr", &["--debug"]);
    assert_eq!(o.expect_ok("--debug").stdout, "Hello World\n");
    assert!(o.stderr.contains("debug"), "{o:?}");
    for (tag, fmt, needle) in [
        ("log", None, "level=debug"),
        ("text", Some("text"), "level=debug"),
        ("json", Some("json"), "\"level\":\"debug\""),
    ] {
        let log = t.dir.join(format!("{tag}.out"));
        let mut g = vec!["--log", log.to_str().unwrap()];
        if let Some(f) = fmt {
            g.extend(["--log-format", f]);
        }
        g.push("--debug");
        let o = debug_run(&t, tag, &g);
        assert_eq!(o.expect_ok(tag).stdout, "Hello World\n");
        assert!(!o.stderr.contains("debug"), "{tag}: {o:?}");
        let text = std::fs::read_to_string(&log).expect("the log file");
        assert!(text.contains(needle), "{tag}: {text}");
        if fmt == Some("json") {
            for l in text.lines() {
                serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            }
        }
    }
    // Control: without --debug there is no debug line.
    let o = debug_run(&t, "quiet", &[]);
    assert!(!o.expect_ok("quiet").stderr.contains("debug"), "{o:?}");
}

/// A tmpfs holding foo, with another tmpfs at subvol holding bar, made
/// for the test and unmounted when it ends (also on failure).
fn volume(t: &T) -> String {
    let v = t.dir.join("volume");
    std::fs::create_dir(&v).unwrap();
    let vs = v.to_str().unwrap().to_string();
    let mount = |dir: &str| {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "none", dir])
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs at {dir}");
    };
    mount(&vs);
    let cleanup = vs.clone();
    t.on_cleanup(move || {
        let _ = Command::new("umount").args(["-R", &cleanup]).status();
    });
    std::fs::write(v.join("foo"), "foo").unwrap();
    std::fs::create_dir(v.join("subvol")).unwrap();
    mount(&format!("{vs}/subvol"));
    std::fs::write(v.join("subvol/bar"), "bar").unwrap();
    vs
}

// runc: mounts_recursive.bats "runc run [rbind,ro mount is read-only but not recursively]",
//       "runc run [rbind,rro mount is recursively read-only]",
//       "runc run [rbind,ro,rro mount is recursively read-only too]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rbind_ro_and_rro() {
    let Some(t) = T::new() else { return };
    let vol = volume(&t);
    let script = "touch /mnt/foo; echo foo=$?; touch /mnt/subvol/bar; echo bar=$?";
    for (tag, opts, want) in [
        ("ro", json!(["rbind", "ro"]), "foo=1\nbar=0\n"),
        ("rro", json!(["rbind", "rro"]), "foo=1\nbar=1\n"),
        ("both", json!(["rbind", "ro", "rro"]), "foo=1\nbar=1\n"),
        // Control: rw everywhere.
        ("rw", json!(["rbind"]), "foo=0\nbar=0\n"),
    ] {
        let b = t.bundle(tag, |c| {
            let m = json!({"source": vol, "destination": "/mnt", "options": opts});
            c["mounts"].as_array_mut().unwrap().push(m);
            set_args(c, &["sh", "-c", script]);
        });
        let o = t.run(&t.id(tag), &b);
        assert_eq!(o.expect_ok(tag).stdout, want, "{tag}: {o:?}");
        if want.contains("=1") {
            assert!(o.stderr.contains("Read-only file system"), "{tag}: {o:?}");
        }
    }
}

const USERNS: &str = r#"{"uidMappings": [{"hostID": 100000, "containerID": 0, "size": 65534}],
    "gidMappings": [{"hostID": 100000, "containerID": 0, "size": 65534}]}"#;

/// A userns bundle (root mapped to host uid 100000) with its own rootfs,
/// the bind sources of userns.bats next to config.json, `edit` applied.
fn userns_bundle(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> common::Bundle {
    let b = t.bundle(tag, |c| {
        let maps: Value = serde_json::from_str(USERNS).unwrap();
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = maps["uidMappings"].clone();
        c["linux"]["gidMappings"] = maps["gidMappings"].clone();
        edit(c);
    });
    let r = b.own_rootfs();
    for n in ["1", "2"] {
        std::fs::create_dir_all(r.join(format!("tmp/mount-{n}"))).unwrap();
    }
    for src in [
        "source-accessible",
        "source-inaccessible-1",
        "source-inaccessible-2",
    ] {
        let d = b.dir.join(src).join("dir");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("foo.txt"), "").unwrap();
        if src != "source-accessible" {
            use std::os::unix::fs::PermissionsExt;
            let p = std::fs::Permissions::from_mode(0o700);
            std::fs::set_permissions(b.dir.join(src), p).unwrap();
        }
    }
    b
}

fn bind(src: &str, dst: &str) -> Value {
    json!({"source": format!("{src}/dir"), "destination": dst, "options": ["bind"]})
}

fn add_binds(c: &mut Value, binds: &[(&str, &str)]) {
    let m = c["mounts"].as_array_mut().unwrap();
    m.extend(binds.iter().map(|(s, d)| bind(s, d)));
}

const TWO: [(&str, &str); 2] = [
    ("source-inaccessible-1", "/tmp/mount-1"),
    ("source-inaccessible-2", "/tmp/mount-2"),
];

// runc: userns.bats "userns with simple mount",
//       userns.bats "userns with 2 inaccessible mounts"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn userns_bind_mounts() {
    let Some(t) = T::new() else { return };
    let b = userns_bundle(&t, "simple", |c| {
        add_binds(c, &[("source-accessible", "/tmp/mount-1")]);
        set_args(c, &["stat", "-c", "%n", "/tmp/mount-1/foo.txt"]);
    });
    let o = t.run(&t.id("simple"), &b);
    assert_eq!(o.expect_ok("simple").stdout, "/tmp/mount-1/foo.txt\n");
    let b = userns_bundle(&t, "two", |c| {
        add_binds(c, &TWO);
        set_args(
            c,
            &[
                "stat",
                "-c",
                "%n",
                "/tmp/mount-1/foo.txt",
                "/tmp/mount-2/foo.txt",
            ],
        );
    });
    let o = t.run(&t.id("two"), &b);
    assert_eq!(
        o.expect_ok("two").stdout,
        "/tmp/mount-1/foo.txt\n/tmp/mount-2/foo.txt\n"
    );
    // Control: the container's root (host uid 100000) cannot reach the
    // sources by path: the binds were opened before the switch.
    let src = b.dir.join("source-inaccessible-1/dir/foo.txt");
    let st = Command::new("setpriv")
        .args(["--reuid=100000", "--regid=100000", "--clear-groups", "stat"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(!st.status.success(), "{st:?}");
}

// runc: userns.bats "userns with inaccessible mount + exec",
//       userns.bats "userns with bind mount before a cgroupfs mount"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn userns_exec_and_cgroupfs() {
    let Some(t) = T::new() else { return };
    let b = userns_bundle(&t, "exec", |c| {
        add_binds(c, &TWO);
        set_args(c, &["sleep", "1000"]);
    });
    let id = t.id("exec");
    t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let args = [
        "exec",
        &id,
        "stat",
        "-c",
        "%n",
        "/tmp/mount-1/foo.txt",
        "/tmp/mount-2/foo.txt",
    ];
    t.outlet(&args).expect_ok("exec stat");
    // Control: a path not bound there is not found (the check can fail).
    assert!(
        !t.outlet(&["exec", &id, "stat", "/tmp/mount-1/bar.txt"])
            .ok()
    );
    let b = userns_bundle(&t, "cg", |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        let at = mounts
            .iter()
            .position(|m| m["destination"] == "/sys/fs/cgroup")
            .unwrap();
        mounts.insert(at, bind("source-accessible", "/tmp/mount-1"));
        common::drop_ns(c, "cgroup");
        set_args(c, &["sleep", "1000"]);
    });
    let id = t.id("cg");
    t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let o = t.outlet(&[
        "exec",
        &id,
        "cat",
        "/sys/fs/cgroup/pids/tasks",
        "/sys/fs/cgroup/memory/tasks",
    ]);
    assert!(!o.expect_ok("cgroupfs tasks").stdout.is_empty(), "{o:?}");
}

// runc: mounts_propagation.bats "runc run [rootfsPropagation shared]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rootfs_propagation_shared() {
    let Some(t) = T::new() else { return };
    let root_line = |tag: &str, prop: Option<&str>| {
        let b = t.bundle(tag, |c| {
            if let Some(p) = prop {
                c["linux"]["rootfsPropagation"] = json!(p);
            }
            set_args(c, &["cat", "/proc/self/mountinfo"]);
        });
        // The root's own line: mount point "/" (field 5).
        let o = t.run(&t.id(tag), &b);
        let o = o.expect_ok(tag);
        o.stdout
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap_or_else(|| panic!("no / line: {o:?}"))
            .to_string()
    };
    let l = root_line("shared", Some("shared"));
    assert!(l.contains(" shared:"), "{l}");
    // Control: the default root is not shared.
    let l = root_line("default", None);
    assert!(!l.contains(" shared:"), "{l}");
}

//! runc's integration suite, ported (see runcbats_s9.rs for the method):
//! start.bats, spec.bats, debug.bats and mounts_recursive.bats.
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

use common::{OUTLET, Out, T};
use serde_json::{Value, json};

fn set_args(c: &mut Value, args: &[&str]) {
    c["process"]["args"] = json!(args);
}

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

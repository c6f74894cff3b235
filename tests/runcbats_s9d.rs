//! runc's integration suite, ported (see runcbats_s9.rs for the method):
//! mounts.bats, events.bats, tty.bats and capabilities.bats.
//!
//! Not ported, and why:
//! - tty.bats "runc exec [tty consolesize]" uses `exec -t -d` with a
//!   console socket; the port runs the same process.json (consoleSize
//!   10x110) with `exec -t` in the foreground, where outlet relays the
//!   terminal itself (callers_cmds.rs covers the console socket).
//!
//! Found: capabilities.bats "runc run with unknown capability" failed:
//! outlet refused a config naming a capability that does not exist, where
//! the runtime-spec (1.1+, config.md Linux process) says such a value
//! MUST be logged as a warning and the runtime SHOULD NOT fail, as runc
//! does. Fixed: `create`/`run` drop such names with a warning (the config
//! kept in the state dir is the one without them); a known capability in
//! another spelling (`cap_chown`) is dropped the same way, the warning
//! naming the spelling meant.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::runcbats::set_args;
use common::{Out, T};
use serde_json::{Value, json};

fn add_mount(c: &mut Value, m: Value) {
    c["mounts"].as_array_mut().unwrap().push(m);
}

fn run(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> Out {
    let b = t.bundle(tag, edit);
    t.run(&t.id(tag), &b)
}

fn first_line(o: &Out) -> &str {
    o.stdout.lines().next().unwrap_or("")
}

// runc: mounts.bats "runc run [tmpcopyup]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn tmpcopyup() {
    let Some(t) = T::new() else { return };
    let ls = |tag: &str, opts: Value| {
        let b = t.bundle(tag, |c| {
            add_mount(
                c,
                json!({"source": "tmpfs", "destination": "/dir1", "type": "tmpfs", "options": opts}),
            );
            set_args(c, &["ls", "-ld", "/dir1/dir2"]);
        });
        let d = b.own_rootfs().join("dir1/dir2");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        t.run(&t.id(tag), &b)
    };
    let o = ls("copy", json!(["tmpcopyup"]));
    assert!(
        first_line(o.expect_ok("tmpcopyup")).starts_with("drwxrwxrwx"),
        "{o:?}"
    );
    // Control: without tmpcopyup the tmpfs is empty.
    let o = ls("plain", json!([]));
    assert!(!o.ok(), "{o:?}");
}

// runc: mounts.bats "runc run [bind mount]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn bind_mount_relative_source() {
    let Some(t) = T::new() else { return };
    let o = run(&t, "b", |c| {
        add_mount(
            c,
            json!({"source": ".", "destination": "/tmp/bind", "options": ["bind"]}),
        );
        set_args(c, &["ls", "/tmp/bind/config.json"]);
    });
    assert_eq!(first_line(o.expect_ok("bind .")), "/tmp/bind/config.json");
    // Control: the source is the bundle: a name only the rootfs has is
    // not there.
    let o = run(&t, "c", |c| {
        add_mount(
            c,
            json!({"source": ".", "destination": "/tmp/bind", "options": ["bind"]}),
        );
        set_args(c, &["ls", "/tmp/bind/bin"]);
    });
    assert!(!o.ok(), "{o:?}");
}

/// The /proc/mounts line of `dest` (type tmpfs) in a run with `edit`.
fn tmpfs_line(t: &T, tag: &str, dest: &str, edit: impl FnOnce(&mut Value)) -> String {
    let o = run(t, tag, |c| {
        edit(c);
        set_args(c, &["grep", &format!("^tmpfs {dest} "), "/proc/mounts"]);
    });
    first_line(o.expect_ok(tag)).to_string()
}

fn opts_of(line: &str) -> Vec<String> {
    let f = line.split_whitespace().nth(3).unwrap_or("");
    f.split(',').map(String::from).collect()
}

// runc: mounts.bats "runc run [ro tmpfs mount]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ro_tmpfs_mount() {
    let Some(t) = T::new() else { return };
    let m = |opts: Value| json!({"source": "tmpfs", "destination": "/mnt", "type": "tmpfs", "options": opts});
    let l = tmpfs_line(&t, "ro", "/mnt", |c| {
        add_mount(c, m(json!(["ro", "nodev", "nosuid", "mode=755"])))
    });
    assert_eq!(opts_of(&l)[0], "ro", "{l}");
    // Control: without ro it reads rw.
    let l = tmpfs_line(&t, "rw", "/mnt", |c| add_mount(c, m(json!(["nodev"]))));
    assert_eq!(opts_of(&l)[0], "rw", "{l}");
}

// runc: mounts.bats "runc run [ro /dev mount]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ro_dev_mount() {
    let Some(t) = T::new() else { return };
    let ro_dev = |c: &mut Value| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                m["options"].as_array_mut().unwrap().push(json!("ro"));
            }
        }
    };
    let l = tmpfs_line(&t, "ro", "/dev", ro_dev);
    assert_eq!(opts_of(&l)[0], "ro", "{l}");
    // What it holds was made before it went read-only: nodes and pts.
    let o = run(&t, "pts", |c| {
        ro_dev(c);
        set_args(
            c,
            &[
                "sh",
                "-c",
                "test -c /dev/null && grep -c ' /dev/pts ' /proc/mounts",
            ],
        );
    });
    assert_eq!(first_line(o.expect_ok("pts in a ro /dev")), "1");
    let o = run(&t, "touch", |c| {
        ro_dev(c);
        set_args(c, &["touch", "/dev/new"]);
    });
    assert!(o.stderr.contains("Read-only file system"), "{o:?}");
    // Control: the default /dev reads rw.
    let l = tmpfs_line(&t, "rw", "/dev", |_| {});
    assert_eq!(opts_of(&l)[0], "rw", "{l}");
}

// runc: mounts.bats "runc run [tmpfs mount with absolute symlink]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn tmpfs_under_absolute_symlink() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("s", |c| {
        add_mount(
            c,
            json!({"type": "tmpfs", "source": "tmpfs", "destination": "/conf/stack",
                   "options": ["ro", "nodev", "nosuid"]}),
        );
        set_args(
            c,
            &["sh", "-c", "grep -c ' /real/conf/stack ' /proc/mounts"],
        );
    });
    let r = b.own_rootfs();
    std::fs::create_dir_all(r.join("real/conf")).unwrap();
    std::os::unix::fs::symlink("/real/conf", r.join("conf")).unwrap();
    let o = t.run(&t.id("s"), &b);
    // The link is followed inside the rootfs: the tmpfs is at its target.
    assert_eq!(first_line(o.expect_ok("run")), "1");
    // Control: nothing was made on the host's /real.
    assert!(!std::path::Path::new("/real/conf/stack").exists());
}

/// Every /sys/fs/cgroup mount's options in a run with `edit`.
fn cgroup_mount_opts(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> Vec<Vec<String>> {
    let o = run(t, tag, |c| {
        edit(c);
        set_args(c, &["grep", " /sys/fs/cgroup", "/proc/mounts"]);
    });
    o.expect_ok(tag).stdout.lines().map(opts_of).collect()
}

// runc: mounts.bats "runc run [ro /sys/fs/cgroup mounts]",
//       mounts.bats "runc run [ro /sys/fs/cgroup mounts + cgroupns]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ro_cgroup_mounts() {
    let Some(t) = T::new() else { return };
    for (tag, cgroupns) in [("nons", false), ("ns", true)] {
        let opts = cgroup_mount_opts(&t, tag, |c| {
            if !cgroupns {
                common::drop_ns(c, "cgroup");
            }
        });
        assert!(opts.len() > 1, "{tag}: {opts:?}");
        assert!(opts.iter().all(|o| o[0] == "ro"), "{tag}: {opts:?}");
    }
    // Control: a cgroup mount asked rw reads rw.
    let opts = cgroup_mount_opts(&t, "rw", |c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["type"] == "cgroup" {
                m["options"] = json!(["nosuid", "noexec", "nodev", "rw"]);
            }
        }
    });
    assert!(opts.iter().any(|o| o[0] == "rw"), "{opts:?}");
}

// runc: events.bats "events --stats"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn events_stats() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("ev", |c| set_args(c, &["sleep", "1000"]));
    let id = t.id("ev");
    t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let o = t.outlet(&["events", "--stats", &id]);
    let line = first_line(o.expect_ok("events --stats")).to_string();
    assert!(
        line.starts_with(&format!("{{\"type\":\"stats\",\"id\":\"{id}\",")),
        "{line}"
    );
    let v: Value = serde_json::from_str(&line).unwrap();
    assert!(v["data"].is_object(), "{line}");
    // Control: a container that does not exist has no stats.
    assert!(!t.outlet(&["events", "--stats", &t.id("none")]).ok());
}

// runc: events.bats "events --interval default", "events --interval 1s",
//       "events --interval 100ms"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn events_interval() {
    let Some(t) = T::new() else { return };
    for (tag, interval) in [("def", None), ("1s", Some("1s")), ("100ms", Some("100ms"))] {
        let b = t.bundle(tag, |c| set_args(c, &["sleep", "1000"]));
        let id = t.id(tag);
        t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id])
            .expect_ok("run -d");
        t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
        let mut args = vec!["events"];
        if let Some(i) = interval {
            args.extend(["--interval", i]);
        }
        args.push(&id);
        let (mut cmd, so, se) = t.command(std::path::Path::new(common::OUTLET), &args);
        let mut child = cmd.spawn().expect("spawn events");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !std::fs::read_to_string(&so)
            .unwrap_or_default()
            .contains(&id)
        {
            assert!(Instant::now() < deadline, "{tag}: no event");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Deleting the container ends the event stream.
        t.outlet(&["delete", "-f", &id]).expect_ok("delete -f");
        let st = common::wait_timeout(&mut child, Duration::from_secs(20), "events");
        let o = Out::from_files(st, so, se);
        let line = first_line(&o).to_string();
        assert!(
            line.starts_with(&format!("{{\"type\":\"stats\",\"id\":\"{id}\",")),
            "{line}"
        );
        assert!(line.contains("\"data\""), "{line}");
    }
    // Control: a malformed interval is refused.
    assert!(!t.outlet(&["events", "--interval", "soon", &t.id("x")]).ok());
}

/// A foreground `run` of a terminal container (outlet relays the pty; the
/// test's stdin is /dev/null, as bats' `run`'s is not a terminal either).
fn tty_run(t: &T, tag: &str, uid: u32, script: &str) -> Out {
    run(t, tag, |c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["user"]["uid"] = json!(uid);
        c["process"]["user"]["gid"] = json!(if uid == 0 { 0 } else { 100 });
        set_args(c, &["sh", "-c", script]);
    })
}

fn lines(o: &Out) -> Vec<String> {
    o.stdout
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

const PTSNAMES: &str = "for file in /proc/self/fd/[012]; do readlink $file; done";
const TTY_OWNER: &str = "stat -c %u:%g $(tty)";

// runc: tty.bats "runc run [stdin not a tty]", "runc run [tty ptsname]",
//       "runc run [tty owner]", "runc run [tty owner] ({u,g}id != 0)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn tty_run_foreground() {
    let Some(t) = T::new() else { return };
    tty_run(&t, "size", 0, "stty size").expect_ok("stdin not a tty");
    let o = tty_run(&t, "pts", 0, PTSNAMES);
    let l = lines(o.expect_ok("ptsname"));
    assert_eq!(l.len(), 3, "{o:?}");
    assert!(l.iter().all(|p| p.starts_with("/dev/pts/")), "{l:?}");
    assert_eq!(lines(&tty_run(&t, "own0", 0, TTY_OWNER)), ["0:5"]);
    assert_eq!(lines(&tty_run(&t, "own1000", 1000, TTY_OWNER)), ["1000:5"]);
    // Control: without a terminal the fds are not ptys.
    let o = run(&t, "notty", |c| set_args(c, &["sh", "-c", PTSNAMES]));
    assert!(
        lines(&o).iter().all(|p| !p.starts_with("/dev/pts/")),
        "{o:?}"
    );
}

// runc: tty.bats "runc exec [stdin not a tty]", "runc exec [tty ptsname]",
//       "runc exec [tty owner]", "runc exec [tty owner] ({u,g}id != 0)",
//       "runc exec [tty consolesize]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn tty_exec() {
    let Some(t) = T::new() else { return };
    for (tag, uid) in [("root", 0), ("user", 1000)] {
        let b = t.bundle(tag, |c| {
            set_args(c, &["sleep", "1000"]);
            c["process"]["user"]["uid"] = json!(uid);
            c["process"]["user"]["gid"] = json!(if uid == 0 { 0 } else { 100 });
        });
        let id = t.id(tag);
        t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id])
            .expect_ok("run -d");
        t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
        let x = |script: &str| t.outlet(&["exec", "-t", &id, "sh", "-c", script]);
        x("stty size").expect_ok("exec -t, stdin not a tty");
        let l = lines(x(PTSNAMES).expect_ok("ptsname"));
        assert!(
            l.len() == 3 && l.iter().all(|p| p.starts_with("/dev/pts/")),
            "{l:?}"
        );
        assert_eq!(lines(&x(TTY_OWNER)), [format!("{uid}:5")]);
        // Control: exec without -t has no terminal.
        let o = t.outlet(&["exec", &id, "sh", "-c", PTSNAMES]);
        assert!(
            lines(&o).iter().all(|p| !p.starts_with("/dev/pts/")),
            "{o:?}"
        );
    }
    let id = t.id("root");
    let p = t.dir.join("process.json");
    let proc_json = |size: Value| {
        json!({"terminal": true, "consoleSize": size, "args": ["stty", "size"], "cwd": "/",
               "user": {"uid": 0, "gid": 0}})
    };
    std::fs::write(
        &p,
        proc_json(json!({"height": 10, "width": 110})).to_string(),
    )
    .unwrap();
    let o = t.outlet(&["exec", "-t", "-p", p.to_str().unwrap(), &id]);
    assert_eq!(lines(o.expect_ok("consoleSize")), ["10 110"]);
    // Control: another size reads differently.
    std::fs::write(
        &p,
        proc_json(json!({"height": 20, "width": 30})).to_string(),
    )
    .unwrap();
    let o = t.outlet(&["exec", "-t", "-p", p.to_str().unwrap(), &id]);
    assert_eq!(lines(o.expect_ok("consoleSize")), ["20 30"]);
}

// runc: tty.bats "runc create [terminal=false]", "runc run [terminal=false]",
//       "runc run -d [terminal=false]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn terminal_false_io() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("nt", |c| set_args(c, &["sleep", "1000s"]));
    let bundle = b.dir.to_str().unwrap();
    let id = t.id("create");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    assert_eq!(t.status(&id), "running");
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    let id = t.id("run");
    let (mut cmd, so, se) = t.command(
        std::path::Path::new(common::OUTLET),
        &["run", "-b", bundle, &id],
    );
    let mut child = cmd.spawn().expect("spawn run");
    t.wait_status(&id, "running");
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    let st = common::wait_timeout(&mut child, Duration::from_secs(20), "run");
    // Control: the foreground run ends with the killed process's code.
    assert_eq!(Out::from_files(st, so, se).code, Some(137));
    let id = t.id("detach");
    t.outlet(&["run", "-d", "-b", bundle, &id])
        .expect_ok("run -d");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    assert_eq!(t.status(&id), "running");
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
}

fn status_of(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> String {
    let o = run(t, tag, |c| {
        edit(c);
        set_args(c, &["/bin/cat", "/proc/self/status"]);
    });
    o.expect_ok(tag).stdout.clone()
}

// runc: capabilities.bats "runc run no capability",
//       "runc run with new privileges", "runc run with some capabilities",
//       "runc run with unknown capability"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn capabilities() {
    let Some(t) = T::new() else { return };
    let has = |s: &str, l: &str| s.lines().any(|x| x == l);
    let s = status_of(&t, "none", |_| {});
    assert!(
        has(&s, "CapInh:\t0000000000000000") && has(&s, "CapAmb:\t0000000000000000"),
        "{s}"
    );
    assert!(has(&s, "NoNewPrivs:\t1"), "{s}");
    let s = status_of(&t, "newpriv", |c| {
        c["process"]["noNewPrivileges"] = json!(false)
    });
    assert!(has(&s, "NoNewPrivs:\t0"), "{s}");
    let s = status_of(&t, "some", |c| {
        c["process"]["user"] = json!({"uid": 0});
        c["process"]["capabilities"]["bounding"] = json!(["CAP_SYS_ADMIN"]);
        c["process"]["capabilities"]["permitted"] = json!([
            "CAP_SYS_ADMIN",
            "CAP_AUDIT_WRITE",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE"
        ]);
    });
    for l in [
        "CapInh:\t0000000000000000",
        "CapBnd:\t0000000000200000",
        "CapEff:\t0000000000200000",
        "CapPrm:\t0000000000200000",
        "NoNewPrivs:\t1",
    ] {
        assert!(has(&s, l), "{l}: {s}");
    }
    // Control: the default set is not that one.
    let s = status_of(&t, "default", |_| {});
    assert!(!has(&s, "CapBnd:\t0000000000200000"), "{s}");
    // Unknown names: a warning naming them, and the run goes on without.
    let s_unknown = run(&t, "unknown", |c| {
        c["process"]["capabilities"]["bounding"] = json!(["CAP_UNKNOWN", "UNKNOWN_CAP"]);
        set_args(c, &["/bin/cat", "/proc/self/status"]);
    });
    let o = s_unknown.expect_ok("unknown capability");
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("CAP_UNKNOWN"),
        "{o:?}"
    );
    assert!(o.stderr.contains("UNKNOWN_CAP"), "{o:?}");
    for l in [
        "CapInh:\t0000000000000000",
        "CapAmb:\t0000000000000000",
        "NoNewPrivs:\t1",
    ] {
        assert!(has(&o.stdout, l), "{l}: {o:?}");
    }
    // Control: the names dropped are only those: CAP_KILL next to them
    // stays, in the same set.
    let o = run(&t, "mixed", |c| {
        c["process"]["capabilities"]["bounding"] = json!(["cap_chown", "CAP_KILL"]);
        set_args(c, &["/bin/cat", "/proc/self/status"]);
    });
    let o = o.expect_ok("mixed");
    assert!(has(&o.stdout, "CapBnd:\t0000000000000020"), "{o:?}");
    assert!(o.stderr.contains("CAP_CHOWN"), "{o:?}");
}

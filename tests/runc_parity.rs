//! What runc's own integration tests (tests/integration/*.bats) expect of
//! the command line, where outlet answered differently: each test here is
//! one behaviour a caller can see, checked on real containers.

mod common;

use common::{T, sh};
use serde_json::json;

/// A pid-1 shell that exits 0 on SIGTERM and otherwise sleeps.
const SLEEPER: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

fn sleeper(t: &T, tag: &str) -> String {
    let b = t.bundle(tag, |c| sh(c, SLEEPER));
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    assert_eq!(t.status(&id), "running");
    id
}

/// env.bats: a name given twice is set once, at its first place with its
/// last value; an empty HOME is replaced by the passwd entry's home (also
/// when an earlier entry set it). The control, a non-empty HOME, is kept.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn env_names_once_and_empty_home_replaced() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("env", |c| {
        c["process"]["args"] = json!(["env"]);
        c["process"]["env"] = json!([
            "ONE=two",
            "HOME=/override",
            "ONE=",
            "HOME=",
            "PATH=/usr/bin:/bin"
        ]);
    });
    let o = t.run(&t.id("env"), &b);
    o.expect_ok("run env");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines, ["ONE=", "HOME=/root", "PATH=/usr/bin:/bin"], "{o:?}");

    let b = t.bundle("home", |c| {
        c["process"]["args"] = json!(["env"]);
        c["process"]["env"] = json!(["HOME=/override", "PATH=/usr/bin:/bin"]);
    });
    let o = t.run(&t.id("home"), &b);
    o.expect_ok("run env with HOME");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines, ["HOME=/override", "PATH=/usr/bin:/bin"], "{o:?}");
    t.assert_nothing_left("after the env runs");
}

/// runc refuses an env entry without '=' or with an empty name when the
/// process starts; outlet at create, before any side effect, and at exec
/// (`--env FOO`), naming the entry. The control: `FOO=` (empty value) is
/// a valid entry and passes both.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn env_entry_without_name_or_equals_is_refused() {
    let Some(t) = T::new() else { return };
    for (tag, bad) in [("noeq", "FOO"), ("noname", "=x")] {
        let b = t.bundle(tag, |c| {
            c["process"]["env"].as_array_mut().unwrap().push(json!(bad));
        });
        let id = t.id(tag);
        let o = t.create(&id, &b);
        o.expect_fail(bad, "invalid environment variable");
        assert!(o.stderr.contains("process.env["), "{o:?}");
        assert!(!t.state_dir_exists(&id), "{bad}: state left behind");
    }
    t.assert_nothing_left("after the refused creates");

    let id = sleeper(&t, "exec");
    let o = t.outlet(&["exec", "--env", "FOO", &id, "true"]);
    o.expect_exec_fail("exec --env FOO", "invalid environment variable");
    let o = t.outlet(&["exec", "--env", "FOO=", &id, "sh", "-c", "echo \"[$FOO]\""]);
    o.expect_ok("exec --env FOO=");
    assert_eq!(o.stdout.trim(), "[]", "{o:?}");
}

/// `kill ID 0` asks whether the init is there, as kill(2) and runc do:
/// exit 0 while it runs, "container not running" once it has stopped.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_signal_0_probes_the_init() {
    let Some(t) = T::new() else { return };
    let id = sleeper(&t, "probe");
    t.outlet(&["kill", &id, "0"])
        .expect_ok("kill 0 of a running container");
    assert_eq!(t.status(&id), "running", "signal 0 changed the container");
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill KILL");
    t.wait_status(&id, "stopped");
    t.outlet(&["kill", &id, "0"])
        .expect_fail("kill 0 of a stopped container", "not running");
}

/// `kill --all` of a stopped container exits 0, as runc's does: nothing is
/// left that did not get the signal (containerd's shim sends it after the
/// init has exited). The control: the same kill without --all still says
/// "container not running", and a missing container "does not exist".
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_all_of_a_stopped_container_exits_0() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("stopped", |c| sh(c, "exit 0"));
    let id = t.id("stopped");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    t.wait_status(&id, "stopped");
    for sig in ["KILL", "TERM"] {
        t.outlet(&["kill", "--all", &id, sig])
            .expect_ok("kill --all of a stopped container");
    }
    t.outlet(&["kill", &id, "KILL"])
        .expect_fail("kill (not --all) of a stopped container", "not running");
    t.outlet(&["kill", "--all", &format!("{}-nope", t.token), "KILL"])
        .expect_fail("kill --all of a missing container", "does not exist");
    assert_eq!(t.status(&id), "stopped");
}

/// list.bats cuts the table by columns; runc lays it out with Go's
/// tabwriter (each column its widest cell + 3, at least 12). Ids of two
/// lengths, both longer than the 20 columns outlet used to give the id:
/// every cell of a column starts where its header starts.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn list_table_columns_line_up_as_runcs() {
    let Some(t) = T::new() else { return };
    let short = sleeper(&t, "a");
    let long = sleeper(&t, "a-much-longer-id");
    let o = t.outlet(&["list"]);
    o.expect_ok("list");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{o:?}");
    let header = lines[0];
    let col = |name: &str| header.find(name).unwrap();
    assert_eq!(col("PID"), long.len() + 3, "{o:?}");
    for (line, id) in lines[1..].iter().zip([&short, &long]) {
        assert!(line.starts_with(id.as_str()), "{line}");
        let pid = t.state(id)["pid"].to_string();
        assert_eq!(&line[col("PID")..col("PID") + pid.len()], pid, "{o:?}");
        assert_eq!(&line[col("STATUS")..col("STATUS") + 7], "running", "{o:?}");
        let bundle = t.state(id)["bundle"].as_str().unwrap().to_string();
        assert_eq!(
            &line[col("BUNDLE")..col("BUNDLE") + bundle.len()],
            bundle,
            "{o:?}"
        );
        assert!(line.ends_with("   root"), "{line}");
    }
}

/// exec.bats "runc exec [exit codes]": the process's own code passes
/// through (1, 42), and an exec that fails itself exits 255, so that a
/// caller can tell the two apart (runc since 1.1, crun too).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_exit_codes_as_runcs() {
    let Some(t) = T::new() else { return };
    let id = sleeper(&t, "codes");
    let code = |args: &[&str]| {
        let o = t.outlet(&[&["exec"][..], args].concat());
        (o.code, o)
    };
    // Control: the process's own codes.
    assert_eq!(code(&[&id, "false"]).0, Some(1));
    assert_eq!(code(&[&id, "sh", "-c", "exit 42"]).0, Some(42));
    let bad_pid_file = t.dir.join("no-such-dir/pid");
    for (args, needle) in [
        (
            vec!["--pid-file", bad_pid_file.to_str().unwrap(), &id, "true"],
            "no-such-dir",
        ),
        (vec![&id, "no-such-binary"], "executable file not found"),
        (vec!["no_such_container", "true"], "does not exist"),
    ] {
        code(&args)
            .1
            .expect_exec_fail(&format!("exec {args:?}"), needle);
    }
}

/// hooks.bats: a failing hook's error says "error running KIND hook #N:"
/// (N counted from 0), which runc's tests and scripts match, besides the
/// field. The control: the hook before it (/bin/true) is not named.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_failing_hook_is_named_as_runc_names_it() {
    let Some(t) = T::new() else { return };
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ] {
        let b = t.bundle(kind, |c| {
            c["process"]["args"] = json!(["echo", "Hello World"]);
            c["hooks"] = json!({kind: [{"path": "/bin/true"}, {"path": "/bin/false"}]});
        });
        let o = t.run(&t.id(kind), &b);
        o.expect_fail(kind, &format!("error running {kind} hook #1:"));
        assert!(!o.stderr.contains("hook #0"), "{o:?}");
        assert!(!o.stdout.contains("Hello World"), "{kind}: the process ran");
    }
    t.assert_nothing_left("after the failed hooks");
}

/// events.bats matches the start of the line as text:
/// `{"type":"stats","id":"ID",` and then data (runc prints the fields in
/// that order; outlet printed them sorted, data first). The control: the
/// same line parses as JSON with those three fields.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn events_line_starts_as_runcs() {
    let Some(t) = T::new() else { return };
    let id = sleeper(&t, "events");
    let o = t.outlet(&["events", "--stats", &id]);
    o.expect_ok("events --stats");
    let prefix = format!(r#"{{"type":"stats","id":"{id}","data":{{"#);
    assert!(o.stdout.starts_with(&prefix), "{o:?}");
    let v = o.json();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id.as_str());
    assert!(v["data"]["pids"]["current"].as_u64() >= Some(1), "{v}");
}

/// cwd.bats: a cwd the container user cannot enter but the runtime can
/// (root's 0700 /root for uid 42) is entered before the user is switched,
/// as runc does; and `exec --user 0` enters a cwd that only its owner (42)
/// can, without CAP_DAC_OVERRIDE, by trying again as the user. The
/// controls: the process really runs as uid 42, and a cwd that is a file
/// still fails, naming the field.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cwd_entered_with_the_runtimes_rights_first() {
    use std::os::unix::fs::PermissionsExt;
    let Some(t) = T::new() else { return };
    let b = t.bundle("rootcwd", |c| {
        c["process"]["cwd"] = json!("/root");
        c["process"]["user"] = json!({"uid": 42, "gid": 42});
        c["process"]["args"] = json!(["sh", "-c", "echo $(pwd) $(id -u)"]);
    });
    let rootfs = b.own_rootfs();
    let home = rootfs.join("root");
    std::os::unix::fs::chown(&home, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let o = t.run(&t.id("rootcwd"), &b);
    o.expect_ok("run as uid 42 in root's /root");
    assert_eq!(o.stdout.trim(), "/root 42", "{o:?}");

    std::os::unix::fs::chown(&home, Some(42), Some(42)).unwrap();
    let mut cfg = b.config();
    cfg["process"]["args"] = json!(["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]);
    b.write_config(&cfg);
    let id = t.id("ownercwd");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let o = t.outlet(&[
        "exec",
        "--user",
        "0",
        &id,
        "sh",
        "-c",
        "echo $(pwd) $(id -u)",
    ]);
    o.expect_ok("exec --user 0 in a cwd only uid 42 may enter");
    assert_eq!(o.stdout.trim(), "/root 0", "{o:?}");
    let o = t.outlet(&["exec", "--cwd", "/bin/sh", &id, "true"]);
    o.expect_exec_fail("exec with a file as cwd", "process.cwd /bin/sh");
}

/// update.bats sets `--memory -1` (unlimited) as runc's flag parser takes
/// it: a negative number is the flag's value. clap refused it as an
/// unknown flag (exit 2). The control: the limit set at create is there
/// before the update.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_memory_minus_1_is_unlimited() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("upd", |c| {
        sh(c, SLEEPER);
        c["linux"]["resources"] = json!({"memory": {"limit": 268435456}});
    });
    let id = t.id("upd");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let st = common::read_json(&t.root.join(&id).join("state.json"));
    let mem = std::path::PathBuf::from(
        st["cgroup"]["v1"]["memory"]
            .as_str()
            .unwrap_or_else(|| panic!("no v1 memory cgroup in {st}")),
    );
    let limit = || {
        std::fs::read_to_string(mem.join("memory.limit_in_bytes"))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(limit(), "268435456");
    t.outlet(&["update", "--memory", "-1", "--memory-swap", "-1", &id])
        .expect_ok("update --memory -1");
    // The kernel's "unlimited" on a 4 KiB page machine.
    assert_eq!(limit(), "9223372036854771712");
    t.outlet(&["update", "--memory-reservation", "-1", &id])
        .expect_ok("update --memory-reservation -1");
}

/// A --console-socket for a process without a terminal is refused, as
/// runc refuses it: nothing would ever be sent there, and a caller waiting
/// for the master would wait forever. For create/run exit 1, nothing left;
/// for exec 255. The listener is real and never gets a connection. The
/// controls: the same create without the socket succeeds, and so does an
/// exec without it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn console_socket_without_a_terminal_is_refused() {
    let Some(t) = T::new() else { return };
    let sock = t.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let s = sock.to_str().unwrap();
    let b = t.bundle("nocons", |c| sh(c, SLEEPER));
    let id = t.id("nocons");
    let o = t.outlet(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--console-socket",
        s,
        &id,
    ]);
    o.expect_fail(
        "create with a console socket, no terminal",
        "--console-socket",
    );
    assert!(o.stderr.contains("process.terminal is false"), "{o:?}");
    assert!(!t.state_dir_exists(&id));
    t.assert_nothing_left("after the refused create");

    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let o = t.outlet(&["exec", "-d", "--console-socket", s, &id, "true"]);
    o.expect_exec_fail(
        "exec -d with a console socket, no -t",
        "process.terminal is false",
    );
    t.outlet(&["exec", "-d", &id, "true"])
        .expect_ok("exec -d without the socket");
    assert!(
        listener.accept().is_err(),
        "outlet connected to the console socket"
    );
}

/// `--log-format json` without `--log`: runc writes the error to stderr as
/// one JSON object ({level, msg, time}), which a caller that asked for JSON
/// parses; outlet wrote plain text. The control: with a log file the JSON
/// goes there and stderr keeps the plain message (conmon shows it).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn log_format_json_without_a_file_is_json_on_stderr() {
    let Some(t) = T::new() else { return };
    let missing = format!("{}-nope", t.token);
    let o = t.outlet(&["--log-format", "json", "state", &missing]);
    assert_eq!(o.code, Some(1), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(o.stderr.trim())
        .unwrap_or_else(|e| panic!("stderr is not one JSON object ({e}): {o:?}"));
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("does not exist"), "{v}");
    assert!(v["time"].is_string(), "{v}");

    let log = t.dir.join("log.json");
    let o = t.outlet(&[
        "--log-format",
        "json",
        "--log",
        log.to_str().unwrap(),
        "state",
        &missing,
    ]);
    o.expect_fail(
        "state of a missing container",
        "outlet: container does not exist",
    );
    let v = common::read_json(&log);
    assert_eq!(v["level"], "error");
}

/// tty.bats execs a process.json without `user`, which runc takes as uid 0,
/// gid 0; outlet refused it ("missing field `user`"). The control: a
/// file that gives a user runs as that user.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_process_file_without_user_runs_as_root() {
    let Some(t) = T::new() else { return };
    let id = sleeper(&t, "nouser");
    for (tag, user, want) in [
        ("none", None, "0 0"),
        ("given", Some(json!({"uid": 1000, "gid": 100})), "1000 100"),
    ] {
        let mut p = json!({"args": ["sh", "-c", "echo $(id -u) $(id -g)"], "cwd": "/",
            "env": ["PATH=/bin:/usr/bin"]});
        if let Some(u) = user {
            p["user"] = u;
        }
        let file = t.dir.join(format!("process-{tag}.json"));
        std::fs::write(&file, p.to_string()).unwrap();
        let o = t.outlet(&["exec", "--process", file.to_str().unwrap(), &id]);
        o.expect_ok(&format!("exec --process ({tag} user)"));
        assert_eq!(o.stdout.trim(), want, "{o:?}");
    }
}

/// `delete ID` of a created container kills its init and removes it, as
/// runc and crun do: containerd's shim deletes a task that never started
/// without --force, and a refusal left its init waiting forever. The
/// control: a running container is still refused without --force and
/// keeps running.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_of_a_created_container_needs_no_force() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("created", |c| sh(c, SLEEPER));
    let id = t.id("created");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["delete", &id])
        .expect_ok("delete of a created container");
    assert!(!t.state_dir_exists(&id));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while common::pid_alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "init {pid} survived delete"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    t.assert_nothing_left("after delete of a created container");

    let id = sleeper(&t, "running");
    t.outlet(&["delete", &id])
        .expect_fail("delete of a running container", "not stopped");
    assert_eq!(t.status(&id), "running");
}

/// `start` of a container that cannot start says so in runc's words per
/// state: "cannot start an already running container", "cannot start a
/// container in the paused state" (outlet said "an already paused
/// container"), "cannot start a container that has stopped". The
/// control: the first start of the created container succeeds.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_in_the_wrong_state_uses_runcs_words() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("start", |c| sh(c, SLEEPER));
    let id = t.id("start");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    t.outlet(&["start", &id]).expect_fail(
        "start of a running container",
        "cannot start an already running container",
    );
    t.outlet(&["pause", &id]).expect_ok("pause");
    t.outlet(&["start", &id]).expect_fail(
        "start of a paused container",
        "cannot start a container in the paused state",
    );
    t.outlet(&["resume", &id]).expect_ok("resume");
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    t.wait_status(&id, "stopped");
    t.outlet(&["start", &id]).expect_fail(
        "start of a stopped container",
        "cannot start a container that has stopped",
    );
}

/// mask.bats: proc is mounted only on an ordinary directory; an image
/// whose /proc is a symlink (to /symlink) is refused at create with runc's
/// words, and nothing is left (outlet used to follow the link inside the
/// root and mount proc at /symlink). The control: the same image with /proc
/// a directory runs.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn proc_on_a_symlink_is_refused() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("procln", |c| c["process"]["args"] = json!(["true"]));
    let rootfs = b.own_rootfs();
    let id = t.id("control");
    t.run(&id, &b).expect_ok("run with /proc a directory");
    std::fs::remove_dir(rootfs.join("proc")).unwrap();
    std::os::unix::fs::symlink("/symlink", rootfs.join("proc")).unwrap();
    let id = t.id("procln");
    let o = t.run(&id, &b);
    o.expect_fail(
        "run with /proc a symlink",
        "filesystem \"proc\" must be mounted on ordinary directory",
    );
    assert!(
        !rootfs.join("symlink").exists(),
        "proc's mount point was made"
    );
    t.assert_nothing_left("after the refused run");
}

//! `exec --pid-file` stages its pid file like create's: the unnamed inode
//! (O_TMPFILE) is made and written when the helper reports the process's
//! pid, while the process sets up, and only linked in by name once it is
//! Ready (src/container/exec.rs `wait_for_ready`). What must hold: a
//! process that fails in its setup leaves no pid file, and one that starts
//! leaves the whole file. Debug builds (`OUTLET_PAUSE`).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{OUTLET, Out, T, sh, wait_timeout};

fn entries(d: &Path) -> Vec<String> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Any process's open fd on an unnamed (deleted) inode of `dir`: the
/// staged pid file, which no listing of the directory shows.
fn unnamed_inode_in(dir: &Path) -> Option<PathBuf> {
    let prefix = format!("{}/", dir.display());
    for p in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(l) = std::fs::read_link(fd.path()) {
                let l = l.to_string_lossy().into_owned();
                if l.starts_with(&prefix) && l.ends_with(" (deleted)") {
                    return Some(fd.path());
                }
            }
        }
    }
    None
}

/// `exec --pid-file` held at `exec:process` (the process's first step, in
/// the container): exec has staged the pid file's inode by then (it is
/// open, unnamed, in the pid file's dir, while the dir lists nothing); a
/// command that does not exist then fails the process's setup: exec fails
/// naming it (255) and the dir stays empty. Control: the same exec of a command that
/// exists leaves `exec.pid` holding a pid, so the listing sees one when
/// there is one.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn an_exec_failing_in_its_setup_leaves_no_pid_file() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_PAUSE)");
    }
    let Some(t) = T::new() else { return };
    let b = t.bundle("execpid", |c| {
        sh(c, "trap 'exit 0' TERM; sleep 1000 & wait");
    });
    let id = t.id("execpid");
    t.outlet(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    for (tag, cmd) in [("bad", "/no/such/command"), ("ok", "true")] {
        let piddir = t.dir.join(format!("{tag}-piddir"));
        std::fs::create_dir_all(&piddir).unwrap();
        let pid_file = piddir.join("exec.pid");
        // The process pauses inside the container: the gate is in /out.
        let gate = b.out.join(format!("gate-{tag}"));
        let reached = b.out.join(format!("gate-{tag}.reached"));
        let args = ["exec", "--pid-file", pid_file.to_str().unwrap(), &id, cmd];
        let (mut c, so, se) = t.command(OUTLET.as_ref(), &args);
        c.env("OUTLET_PAUSE", format!("exec:process=/out/gate-{tag}"));
        let mut child = c.spawn().expect("spawn outlet exec");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reached.exists() {
            assert!(Instant::now() < deadline, "{tag}: exec:process not reached");
            std::thread::sleep(Duration::from_millis(5));
        }
        // exec reads ProcessPid on its own time: wait for the staging.
        let mut staged = None;
        while staged.is_none() && Instant::now() < deadline {
            staged = unnamed_inode_in(&piddir);
            std::thread::sleep(Duration::from_millis(5));
        }
        let listed = entries(&piddir);
        std::fs::write(&gate, "go").unwrap();
        let status = wait_timeout(&mut child, Duration::from_secs(60), "exec");
        let o = Out::from_files(status, so, se);
        assert!(
            staged.is_some(),
            "{tag}: no staged inode in {piddir:?}: {o:?}"
        );
        assert!(listed.is_empty(), "{tag}: listed before Ready: {listed:?}");
        if tag == "ok" {
            o.expect_ok("exec (control)");
            assert_eq!(entries(&piddir), ["exec.pid"], "control: {o:?}");
            let pid: i32 = std::fs::read_to_string(&pid_file)
                .unwrap()
                .trim()
                .parse()
                .expect("a pid in exec.pid");
            assert!(pid > 0, "control: pid {pid}");
        } else {
            o.expect_exec_fail("exec of a missing command", "/no/such/command");
            let left = entries(&piddir);
            assert!(left.is_empty(), "left in the pid file's dir: {left:?}");
        }
    }
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    t.assert_nothing_left("exec pid file staged");
}

/// `script` in a v2 field: a private mount namespace whose /sys/fs/cgroup
/// is a fresh cgroup2 mount (bench/run.sh's), so that outlet takes its v2
/// path (the device program) on this hybrid host; the host's mounts are
/// not touched and the mount goes with the namespace. `$OUTLET` and `$ROOT`
/// are set for the script.
fn in_v2_field(t: &T, script: &str) -> Out {
    let full = format!("mount -t cgroup2 none /sys/fs/cgroup || exit 99\n{script}");
    let args = ["-m", "--propagation", "private", "sh", "-c", &full];
    let (mut c, so, se) = t.command_plain(Path::new("unshare"), &args);
    c.env("OUTLET", OUTLET).env("ROOT", &t.root);
    let mut child = c.spawn().expect("spawn unshare");
    let status = wait_timeout(&mut child, Duration::from_secs(60), "v2 field");
    Out::from_files(status, so, se)
}

/// A bundle whose process opens /dev/kmsg (c 1:11, made from linux.devices,
/// which get no device rule of their own) for writing, and says whether it
/// could; with `allow`, a rule lets it (the control). With `userns`, in a
/// user namespace of its own (ids mapped 1:1: the init gets the host's
/// node by a bind, and `Placed` waits for the id maps, sent at `Unshared`).
fn kmsg_bundle(t: &T, tag: &str, allow: bool, userns: bool) -> common::Bundle {
    t.bundle(tag, |c| {
        sh(c, "if true >/dev/kmsg; then echo opened; else echo denied; fi");
        c["linux"]["devices"] = serde_json::json!([{
            "path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11,
            "fileMode": 0o666, "uid": 0, "gid": 0
        }]);
        if userns {
            let map = serde_json::json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}));
            c["linux"]["uidMappings"] = map.clone();
            c["linux"]["gidMappings"] = map;
        }
        if allow {
            c["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}));
        }
    })
}

/// Where the lines of an strace log for `BPF_PROG_LOAD` and `clone3`
/// come (line numbers), to tell the order.
fn order_of(log: &str) -> (Option<usize>, Option<usize>) {
    let at = |needle: &str| log.lines().position(|l| l.contains(needle));
    (at("bpf(BPF_PROG_LOAD"), at("clone3("))
}

/// Where the attach's line and the first mknodat's (the init's first
/// node in /dev) come in an strace log. strace -f writes a call's line
/// (or its `<unfinished ...>` half) when it starts, and the init's
/// mknodat can only start after the attach returned (the init waits for
/// `DevicesSet`, sent after it).
fn attach_and_first_node(log: &str) -> (Option<usize>, Option<usize>) {
    let at = |needle: &str| log.lines().position(|l| l.contains(needle));
    (at("bpf(BPF_PROG_ATTACH"), at("mknodat("))
}

/// On v2 the device program is now loaded and attached after the init's
/// clone (src/container/create_devices.rs), before `Placed`: the
/// container's process still cannot open a device the rules deny. In a v2
/// field: /dev/kmsg (denied by the defaults) cannot be opened ("denied"),
/// also by a process in a user namespace of its own, and strace of the same `run` shows clone3 before BPF_PROG_LOAD,
/// and the attach before the init's first mknodat (since session 11 the
/// init mounts while the parent loads, and waits for `DevicesSet` only
/// before /dev's nodes).
/// Controls: with a rule allowing it the process opens it ("opened"), so
/// the check sees an open that works; with `OUTLET_DEVICES_BEFORE_CLONE=1`
/// (debug builds: the old order) strace shows BPF_PROG_LOAD first, so the
/// order check can fail; with `OUTLET_DEVICES_UNGATED=1` (debug builds:
/// the init does not wait, the program is attached at its `Ready`) strace
/// shows mknodat before the attach, so the node check can fail (and the
/// application, which runs after `Ready`, is still denied).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_device_the_rules_deny_stays_denied_with_the_program_attached_after_the_clone() {
    let Some(t) = T::new() else { return };
    let denied = kmsg_bundle(&t, "kdeny", false, false);
    let allowed = kmsg_bundle(&t, "kallow", true, false);
    let u_denied = kmsg_bundle(&t, "kudeny", false, true);
    let u_allowed = kmsg_bundle(&t, "kuallow", true, true);
    let (a, b, c, d) = (t.id("kd1"), t.id("ka1"), t.id("kd2"), t.id("kd3"));
    let (e, f, g) = (t.id("kud"), t.id("kua"), t.id("kug"));
    let logs = t.dir.join("strace");
    let script = format!(
        "$OUTLET --root $ROOT run --bundle {} {a}\n\
         $OUTLET --root $ROOT run --bundle {} {b}\n\
         $OUTLET --root $ROOT run --bundle {} {e}\n\
         $OUTLET --root $ROOT run --bundle {} {f}\n\
         strace -f -qq -e trace=bpf,clone3 -o {4}.new $OUTLET --root $ROOT run --bundle {0} {c} >/dev/null\n\
         OUTLET_DEVICES_BEFORE_CLONE=1 strace -f -qq -e trace=bpf,clone3 -o {4}.old $OUTLET --root $ROOT run --bundle {0} {d} >/dev/null\n\
         strace -f -qq -e trace=bpf,clone3,mknodat -o {4}.gate $OUTLET --root $ROOT run --bundle {0} {c}g >/dev/null\n\
         OUTLET_DEVICES_UNGATED=1 strace -f -qq -e trace=bpf,clone3,mknodat -o {4}.ungated $OUTLET --root $ROOT run --bundle {0} {g}\n",
        denied.dir.display(),
        allowed.dir.display(),
        u_denied.dir.display(),
        u_allowed.dir.display(),
        logs.display(),
    );
    let o = in_v2_field(&t, &script);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(
        o.stdout, "denied\nopened\ndenied\nopened\ndenied\n",
        "the denied open, then the control; the same in a user namespace; \
         ungated (attached at Ready), still denied: {o:?}"
    );
    let new = std::fs::read_to_string(logs.with_extension("new")).unwrap();
    let old = std::fs::read_to_string(logs.with_extension("old")).unwrap();
    let (load, clone) = order_of(&new);
    assert!(
        load.is_some() && clone.is_some() && load > clone,
        "deferred: {new}"
    );
    let (load, clone) = order_of(&old);
    assert!(
        load.is_some() && clone.is_some() && load < clone,
        "control, before: {old}"
    );
    let gate = std::fs::read_to_string(logs.with_extension("gate")).unwrap();
    let ungated = std::fs::read_to_string(logs.with_extension("ungated")).unwrap();
    let (attach, node) = attach_and_first_node(&gate);
    assert!(
        attach.is_some() && node.is_some() && attach < node,
        "the attach before the first node: {gate}"
    );
    let (attach, node) = attach_and_first_node(&ungated);
    assert!(
        attach.is_some() && node.is_some() && attach > node,
        "control, ungated: {ungated}"
    );
    t.assert_nothing_left("devices after the clone");
}

/// A create whose deferred attach fails (strace injects EPERM into the
/// second bpf call, the attach, which comes after the clone: strace shows
/// clone3 first) fails naming it, exit 1, and leaves nothing: no state
/// dir, no cgroup, the init ended (strace shows it). Control: the same create without the injection succeeds (and
/// is deleted), so the leftover checks look where a container is.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_create_failing_at_the_deferred_attach_leaves_nothing() {
    let Some(t) = T::new() else { return };
    let b = kmsg_bundle(&t, "kfail", false, false);
    let (bad, ok) = (t.id("kfail"), t.id("kok"));
    let b = b.dir.display();
    let log = t.dir.join("strace.fail");
    let script = format!(
        "strace -f -qq -o {log} -e trace=bpf,clone3 -e inject=bpf:error=EPERM:when=2 \
           $OUTLET --root $ROOT create --bundle {b} {bad}\n\
         echo rc=$?\n\
         ls $ROOT/{bad} >/dev/null 2>&1 && echo state-left\n\
         find /sys/fs/cgroup -maxdepth 4 -name {bad} | sed 's/^/cgroup-left /'\n\
         $OUTLET --root $ROOT create --bundle {b} {ok} && echo control-created\n\
         find /sys/fs/cgroup -maxdepth 4 -name {ok} | grep -q . && echo control-cgroup\n\
         $OUTLET --root $ROOT delete --force {ok} && echo control-deleted\n",
        log = log.display()
    );
    let o = in_v2_field(&t, &script);
    assert_eq!(
        o.stdout, "rc=1\ncontrol-created\ncontrol-cgroup\ncontrol-deleted\n",
        "{o:?}"
    );
    assert!(o.stderr.contains("attach the eBPF device program"), "{o:?}");
    assert!(common::processes_mentioning(&bad).is_empty(), "{o:?}");
    // The failure came after the clone: the init existed and was killed.
    let log = std::fs::read_to_string(&log).unwrap();
    let at = |n: &str| log.lines().position(|l| l.contains(n));
    let (clone, attach) = (at("clone3("), at("bpf(BPF_PROG_ATTACH"));
    assert!(
        clone.is_some() && attach > clone,
        "attach after the clone: {log}"
    );
    // The init ended without going on: killed by the undo, or, when the
    // undo's dropped channel reached it first, its own exit 1 on the
    // parent's EOF (both seen in CI; either way it ran nothing).
    let init = log
        .lines()
        .find_map(|l| l.contains("clone3(").then(|| l.rsplit("= ").next()))
        .flatten()
        .map(str::trim)
        .unwrap_or_default();
    // The parent's SIGCHLD for the init says how it ended (`-qq` keeps
    // strace's own "+++ exited with" line out of the log).
    let ended = |how: &str| {
        let child = format!("si_pid={init},");
        log.lines()
            .any(|l| l.contains("--- SIGCHLD") && l.contains(&child) && l.contains(how))
    };
    assert!(
        !init.is_empty()
            && (ended("si_code=CLD_KILLED, si_pid") && ended("si_status=SIGKILL,")
                || ended("si_code=CLD_EXITED") && ended("si_status=1,")),
        "the init {init:?} ended at once: {log}"
    );
    t.assert_nothing_left("a failed deferred attach");
}

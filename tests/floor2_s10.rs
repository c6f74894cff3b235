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
        assert!(staged.is_some(), "{tag}: no staged inode in {piddir:?}: {o:?}");
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

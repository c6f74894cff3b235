//! The seccomp notify listener (`linux.seccomp.listenerPath`) gets the
//! container process state and the notify fd during `create`, before
//! `start`, as runc sends it: a caller that waits for that message before
//! calling `start` must not hang. Then it answers the container's notified
//! syscalls. Needs root (skipped otherwise).

mod common;

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::listener::{Answer, accept_within, answer_all, recv_with_fds};
use common::{T, sh};
use serde_json::{Value, json};

/// mkdir into the /out bind mount, its exit code and message kept in /out.
const SCRIPT: &str = "mkdir /out/made 2>/out/err; echo rc=$? > /out/rc";

fn notify_profile(listener: Option<&Path>) -> Value {
    let mut p = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerMetadata": "from-the-test",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    if let Some(l) = listener {
        p["listenerPath"] = json!(l);
    }
    p
}

fn wait_file(p: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(p)
            && s.ends_with('\n')
        {
            return s;
        }
        assert!(Instant::now() < deadline, "{} never written", p.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The listener's whole exchange; returns the container's
/// /proc/self/status lines for NoNewPrivs, Seccomp and CapEff.
fn listener_exchange(nnp: bool) -> Option<String> {
    let t = T::new()?;
    let sock = t.dir.join("listener.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let b = t.bundle("b", |c| {
        sh(
            c,
            &format!(
                "{SCRIPT}; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status > /out/status"
            ),
        );
        c["process"]["noNewPrivileges"] = json!(nnp);
        c["linux"]["seccomp"] = notify_profile(Some(&sock));
    });
    let id = t.id("notify");
    // `create` returns (no start yet) and the message is already there:
    // what a caller that waits for it before `start` relies on.
    let pid = t.create_ok(&id, &b);
    assert_eq!(t.status(&id), "created");
    let conn = accept_within(&listener, Duration::from_secs(5))
        .expect("no connection to listenerPath during create");
    let (msg, mut fds) = recv_with_fds(&conn);
    let v: Value = serde_json::from_slice(&msg)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&msg)));
    assert!(
        v["ociVersion"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert_eq!(v["fds"], json!(["seccompFd"]), "{v}");
    assert_eq!(v["pid"], json!(pid), "{v}");
    assert_eq!(v["metadata"], json!("from-the-test"), "{v}");
    assert_eq!(v["state"]["id"], json!(id), "{v}");
    assert_eq!(v["state"]["status"], json!("creating"), "{v}");
    assert_eq!(v["state"]["pid"], json!(pid), "{v}");
    assert_eq!(fds.len(), 1, "one fd, the notify fd");
    // The runtime closes the connection once the fd has gone.
    let mut rest = [0u8; 1];
    assert_eq!(
        std::io::Read::read(&mut &conn, &mut rest).expect("EOF, not a timeout"),
        0
    );

    let stop = Arc::new(AtomicBool::new(false));
    let agent = {
        let fd = fds.remove(0);
        let stop = stop.clone();
        std::thread::spawn(move || answer_all(fd, Answer::Errno(libc::ENOSPC), stop))
    };
    t.outlet(&["start", &id]).expect_ok("start");
    let rc = wait_file(&b.dir.join("out/rc"));
    stop.store(true, Ordering::SeqCst);
    let seen = agent.join().unwrap();
    let err = std::fs::read_to_string(b.dir.join("out/err")).unwrap();
    assert!(
        seen.iter().any(|s| s == "mkdir" || s == "mkdirat"),
        "{seen:?}"
    );
    // The container saw the listener's answer: the kernel never ran mkdir.
    assert_eq!(rc, "rc=1\n", "mkdir's stderr: {err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!b.dir.join("out/made").exists());
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
    Some(std::fs::read_to_string(b.dir.join("out/status")).unwrap())
}

/// CAP_SYS_ADMIN's bit in CapEff.
fn has_sys_admin(status: &str) -> bool {
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .expect("CapEff line");
    eff & (1 << 21) != 0
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn listener_gets_state_and_fd_during_create_and_answers() {
    let Some(status) = listener_exchange(true) else {
        return;
    };
    assert!(status.contains("NoNewPrivs:\t1\nSeccomp:\t2\n"), "{status}");
    assert!(!has_sys_admin(&status), "{status}");
}

/// Without no_new_privs the kernel takes the filter only from a holder of
/// CAP_SYS_ADMIN: the init keeps it past Ready now that the filter goes in
/// before Ready, and create must still succeed and the listener still get
/// its fd. (CapEff after execve as uid 0 is the bounding set, so its check
/// is only a sanity check, not proof of when the capset ran.)
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn listener_works_without_no_new_privs() {
    let Some(status) = listener_exchange(false) else {
        return;
    };
    assert!(status.contains("NoNewPrivs:\t0\nSeccomp:\t2\n"), "{status}");
    assert!(!has_sys_admin(&status), "{status}");
}

/// Control for the test above: the same container without the filter makes
/// the directory, so "No space left on device" can only have come from the
/// listener's answer.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_without_filter_mkdir_succeeds() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, SCRIPT));
    let id = t.id("nofilter");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    assert_eq!(wait_file(&b.dir.join("out/rc")), "rc=0\n");
    assert!(b.dir.join("out/made").is_dir());
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
}

/// The same profile without listenerPath: refused at create, naming the
/// field, exit 1, nothing left behind.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn notify_without_listener_path_is_refused() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        sh(c, SCRIPT);
        c["linux"]["seccomp"] = notify_profile(None);
    });
    let id = t.id("nolistener");
    let o = t.create(&id, &b);
    o.expect_fail(
        "create",
        "linux.seccomp.listenerPath: required when a syscall uses SCMP_ACT_NOTIFY",
    );
    assert!(!t.state_dir_exists(&id));
    t.assert_nothing_left("refused create");
}

/// A listenerPath nobody listens on fails create, naming the path, and
/// leaves nothing behind.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn unreachable_listener_fails_create() {
    let Some(t) = T::new() else { return };
    let sock = t.dir.join("nobody.sock");
    let b = t.bundle("b", |c| {
        sh(c, SCRIPT);
        c["linux"]["seccomp"] = notify_profile(Some(&sock));
    });
    let id = t.id("unreachable");
    let o = t.create(&id, &b);
    o.expect_fail("create", "linux.seccomp.listenerPath: connecting to");
    assert!(o.stderr.contains(sock.to_str().unwrap()), "{o:?}");
    assert!(!t.state_dir_exists(&id));
    t.assert_nothing_left("failed create");
}

/// `exec` loads the container's profile into its process just before
/// execve and sends that filter's fd to the listener too, on a connection
/// of its own; answers on it reach the exec'd process.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_sends_its_own_notify_fd() {
    exec_sends_its_own_notify_fd_with(true);
}

/// The same without no_new_privs: then exec's process loads the filter as
/// its first step (it needs CAP_SYS_ADMIN for it), once the helper has told
/// it its host pid.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_sends_its_own_notify_fd_without_nnp() {
    exec_sends_its_own_notify_fd_with(false);
}

fn exec_sends_its_own_notify_fd_with(nnp: bool) {
    let Some(t) = T::new() else { return };
    let sock = t.dir.join("listener.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let b = t.bundle("b", |c| {
        sh(c, "while [ ! -e /out/go ]; do sleep 0.05; done");
        c["linux"]["seccomp"] = notify_profile(Some(&sock));
        c["process"]["noNewPrivileges"] = json!(nnp);
    });
    let id = t.id("exec");
    let pid = t.create_ok(&id, &b);
    let conn = accept_within(&listener, Duration::from_secs(5)).expect("init's message");
    let (init_msg, init_fds) = recv_with_fds(&conn);
    // The message names the process the fd filters: the init here.
    let init_msg: Value = serde_json::from_slice(&init_msg).unwrap();
    assert_eq!(init_msg["pid"], json!(pid), "{init_msg}");
    t.outlet(&["start", &id]).expect_ok("start");

    let stop = Arc::new(AtomicBool::new(false));
    let agent = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let conn = accept_within(&listener, Duration::from_secs(30)).expect("exec's message");
            let (msg, mut fds) = recv_with_fds(&conn);
            let seen = answer_all(fds.remove(0), Answer::Errno(libc::EDQUOT), stop);
            (msg, seen)
        })
    };
    let pid_file = t.dir.join("exec.pid");
    let o = t.outlet(&[
        "exec",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "mkdir /out/e 2>/out/eerr; echo rc=$?",
    ]);
    stop.store(true, Ordering::SeqCst);
    let (msg, seen) = agent.join().unwrap();
    o.expect_ok("exec");
    let v: Value = serde_json::from_slice(&msg).unwrap();
    assert_eq!(v["fds"], json!(["seccompFd"]), "{v}");
    assert_eq!(v["state"]["id"], json!(id), "{v}");
    assert_eq!(v["state"]["status"], json!("running"), "{v}");
    assert_eq!(v["state"]["pid"], json!(pid), "{v}");
    // ... and `pid` is the exec'd process's (as runc sends it), not the
    // init's: the state says which container, `pid` which process.
    let exec_pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(exec_pid, pid as i64);
    assert_eq!(v["pid"], json!(exec_pid), "{v}");
    assert!(
        seen.iter().any(|s| s == "mkdir" || s == "mkdirat"),
        "{seen:?}"
    );
    let err = std::fs::read_to_string(b.dir.join("out/eerr")).unwrap();
    assert_eq!(o.stdout, "rc=1\n", "{err}");
    assert!(err.contains("quota"), "{err}");
    assert!(!b.dir.join("out/e").exists());
    drop(init_fds);
    std::fs::write(b.dir.join("out/go"), "").unwrap();
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
}

//! runc's integration suite, ported (see runcbats_s9.rs for the method):
//! seccomp-notify.bats, the cases seccomp_listener.rs does not already
//! cover (that file has the message, the fd, the answer, exec's own fd,
//! and a listenerPath nobody listens on). The agent is the test's own
//! (tests/common/listener.rs), answering as runc's seccompagent does.

mod common;

use std::os::unix::net::UnixListener;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::listener::{Answer, accept_within, answer_all, recv_with_fds};
use common::{Out, T};
use serde_json::{Value, json};

fn profile(listener: &str, names: &[&str]) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": listener,
        "listenerMetadata": "bar",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
    })
}

/// `outlet run` of `script` under `seccomp`, with an agent on `sock`
/// answering `answer` until run returns (`kill_after`: the agent closes
/// its fd after that long instead, as a killed agent would). The run's
/// output and the syscalls the agent saw.
fn run_with_agent(
    t: &T,
    tag: &str,
    nnp: bool,
    script: &str,
    names: &[&str],
    answer: Answer,
    kill_after: Option<Duration>,
) -> (Out, Vec<String>) {
    let sock = t.dir.join(format!("{tag}.sock"));
    let listener = UnixListener::bind(&sock).unwrap();
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["/bin/sh", "-c", script]);
        c["process"]["noNewPrivileges"] = json!(nnp);
        c["linux"]["seccomp"] = profile(sock.to_str().unwrap(), names);
    });
    let stop = Arc::new(AtomicBool::new(false));
    let agent = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let Some(conn) = accept_within(&listener, Duration::from_secs(20)) else {
                return vec!["<no connection>".to_string()];
            };
            let (_, mut fds) = recv_with_fds(&conn);
            let fd = fds.remove(0);
            if let Some(d) = kill_after {
                std::thread::sleep(d);
                drop(fd);
                return vec![];
            }
            answer_all(fd, answer, stop)
        })
    };
    let o = t.outlet(&["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)]);
    stop.store(true, Ordering::SeqCst);
    (o, agent.join().unwrap())
}

// runc: seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY important syscalls noNewPrivileges false)",
//       seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY important syscalls noNewPrivileges true)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn notify_on_the_syscalls_setup_needs() {
    let Some(t) = T::new() else { return };
    let names = ["execve", "openat", "open", "read", "close"];
    for nnp in [false, true] {
        let tag = format!("imp-{nnp}");
        let (o, seen) = run_with_agent(&t, &tag, nnp, "/bin/true", &names, Answer::Continue, None);
        o.expect_ok(&tag);
        // Control: the filter really sent them to the agent (which let
        // them go on), so the run could have hung or failed on them.
        assert!(seen.iter().any(|s| s == "execve"), "{tag}: {seen:?}");
    }
}

// runc: seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY kill seccompagent)",
//       seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY error chmod)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn agent_gone_or_refusing() {
    let Some(t) = T::new() else { return };
    let (o, _) = run_with_agent(
        &t,
        "gone",
        false,
        "sleep 2 && mkdir /dev/shm/foo",
        &["mkdir", "mkdirat"],
        Answer::Continue,
        Some(Duration::from_millis(300)),
    );
    assert!(!o.ok(), "{o:?}");
    assert!(
        o.stderr.contains("/dev/shm/foo") && o.stderr.contains("Function not implemented"),
        "{o:?}"
    );
    let (o, seen) = run_with_agent(
        &t,
        "chmod",
        false,
        "touch /dev/shm/foo && chmod 777 /dev/shm/foo",
        &["chmod", "fchmod", "fchmodat"],
        Answer::Errno(libc::ENOMEDIUM),
        None,
    );
    assert!(!o.ok(), "{o:?}");
    assert!(o.stderr.contains("No medium found"), "{o:?} {seen:?}");
    // Control: an agent that lets mkdir go on lets it succeed.
    let (o, _) = run_with_agent(
        &t,
        "ok",
        false,
        "mkdir /dev/shm/foo && echo made",
        &["mkdir", "mkdirat"],
        Answer::Continue,
        None,
    );
    assert_eq!(o.expect_ok("agent continues").stdout.trim(), "made");
}

fn run_plain(t: &T, tag: &str, seccomp: Value, script: &str) -> Out {
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["/bin/sh", "-c", script]);
        c["linux"]["seccomp"] = seccomp;
    });
    t.outlet(&["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)])
}

// runc: seccomp-notify.bats "runc run [seccomp] (empty listener path)",
//       seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY empty listener path)",
//       seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY wrong listener path)",
//       seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY abstract listener path)",
//       seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY no seccompagent)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn listener_paths() {
    let Some(t) = T::new() else { return };
    let nobody = t.dir.join("nobody.sock");
    let nobody = nobody.to_str().unwrap();
    // No NOTIFY rule: the listener is never needed, nobody listening is
    // fine (runc does not connect either).
    let mut p = profile(nobody, &[]);
    p["syscalls"] = json!([]);
    run_plain(&t, "unused", p, "mkdir /dev/shm/foo && stat /dev/shm/foo")
        .expect_ok("listenerPath without NOTIFY rules");
    for (tag, path) in [
        ("empty", ""),
        ("wrong", "/some-non-existing-listener-path.sock"),
        ("abstract", "@mysocketishere"),
        ("nobody", nobody),
    ] {
        let o = run_plain(&t, tag, profile(path, &["mkdir"]), "/bin/true");
        assert_eq!(o.code, Some(1), "{tag}: {o:?}");
        assert!(o.stderr.contains("listenerPath"), "{tag}: {o:?}");
    }
    t.assert_nothing_left("bad listener paths");
}

// runc: seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY write)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn notify_on_write_is_refused() {
    let Some(t) = T::new() else { return };
    let sock = t.dir.join("w.sock");
    let _l = UnixListener::bind(&sock).unwrap();
    let o = run_plain(
        &t,
        "w",
        profile(sock.to_str().unwrap(), &["write"]),
        "/bin/true",
    );
    o.expect_fail("NOTIFY on write", "write");
    t.assert_nothing_left("NOTIFY on write");
}

// runc: seccomp-notify.bats "runc run [seccomp] (SCMP_ACT_NOTIFY startContainer hook)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_container_hook_gets_no_extra_fd() {
    let Some(t) = T::new() else { return };
    let hook = |n: u32| {
        json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c",
            format!("n=$(ls /proc/self/fd/ | wc -l); [ $n -eq {n} ] || {{ echo fds=$n >&2; exit 1; }}")]}]})
    };
    let with_hook = |tag: &str, n: u32| {
        let sock = t.dir.join(format!("{tag}.sock"));
        let listener = UnixListener::bind(&sock).unwrap();
        let b = t.bundle(tag, |c| {
            c["process"]["args"] = json!(["/bin/true"]);
            c["linux"]["seccomp"] = profile(sock.to_str().unwrap(), &["mkdir"]);
            c["hooks"] = hook(n);
        });
        let agent = std::thread::spawn(move || {
            let conn = accept_within(&listener, Duration::from_secs(20));
            conn.map(|c| recv_with_fds(&c))
        });
        let o = t.outlet(&["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)]);
        let _ = agent.join();
        o
    };
    // 0, 1, 2 and ls's own directory fd.
    with_hook("four", 4).expect_ok("startContainer hook sees 4 fds");
    // Control: the hook's check can fail, and its failure fails the run.
    let o = with_hook("five", 5);
    assert!(!o.ok(), "{o:?}");
    assert!(o.stderr.contains("fds=4"), "{o:?}");
}

//! OCI hooks run at their points with the state JSON on stdin: prestart
//! and createRuntime during create (status creating), poststart after start
//! (running), poststop at delete (stopped). Needs root (skipped otherwise).

mod common;

use common::{T, sh};
use serde_json::{Value, json};

fn hook(name: &str, log: &std::path::Path) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("{{ printf '%s ' {name}; cat; echo; }} >> {}", log.display())],
        "env": ["PATH=/usr/bin:/bin"],
        "timeout": 10
    })
}

fn entries(log: &std::path::Path) -> Vec<(String, Value)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (name, json) = l.split_once(' ').unwrap();
            (
                name.to_string(),
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {l}")),
            )
        })
        .collect()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hooks_run_in_order_with_state() {
    let Some(t) = T::new() else { return };
    let log = t.dir.join("hooks.log");
    let b = t.bundle("b", |c| {
        sh(c, "while [ ! -e /out/go ]; do sleep 0.05; done");
        c["hooks"] = json!({
            "prestart": [hook("prestart", &log)],
            "createRuntime": [hook("createRuntime", &log)],
            // Runs in the container's mount namespace before pivot_root:
            // the host path of the log is still reachable.
            "createContainer": [hook("createContainer", &log)],
            // Runs inside, after pivot_root: /bin/sh is the fixture's and
            // the log goes through the /out bind mount.
            "startContainer": [hook("startContainer", std::path::Path::new("/out/start.log"))],
            "poststart": [hook("poststart", &log)],
            "poststop": [hook("poststop", &log)],
        });
    });
    let id = t.id("hooks");
    let pid = t.create_ok(&id, &b);
    let e = entries(&log);
    let names: Vec<&str> = e.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["prestart", "createRuntime", "createContainer"],
        "after create"
    );
    for (n, s) in &e {
        assert_eq!(s["id"], id.as_str(), "{n}: {s}");
        assert_eq!(s["status"], "creating", "{n}: {s}");
        assert_eq!(s["pid"], pid, "{n}: {s}");
        assert_eq!(s["bundle"], b.dir.to_str().unwrap(), "{n}: {s}");
    }
    assert!(entries(&b.out.join("start.log")).is_empty());

    t.outlet(&["start", &id]).expect_ok("start");
    // The init runs startContainer after `start` has released it, as in
    // runc: `start` may return before the hook has written its line.
    let start_log = b.out.join("start.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&start_log).is_ok_and(|s| s.ends_with("}\n")) {
        assert!(
            std::time::Instant::now() < deadline,
            "startContainer never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let started = entries(&start_log);
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].1["id"], id.as_str());
    assert_eq!(started[0].1["status"], "created", "{started:?}");
    let e = entries(&log);
    assert_eq!(e.len(), 4, "{e:?}");
    assert_eq!(e[3].0, "poststart");
    assert_eq!(e[3].1["status"], "running");
    assert_eq!(e[3].1["pid"], pid);
    assert_eq!(e[3].1["id"], id.as_str());

    std::fs::write(b.out.join("go"), b"").unwrap();
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
    let e = entries(&log);
    assert_eq!(e.len(), 5, "{e:?}");
    assert_eq!(e[4].0, "poststop");
    assert_eq!(e[4].1["status"], "stopped");
    assert_eq!(e[4].1["id"], id.as_str());
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn poststop_runs_on_delete_force_and_run() {
    let Some(t) = T::new() else { return };
    let log = t.dir.join("hooks.log");
    let b = t.bundle("b", |c| {
        sh(c, "exit 0");
        c["hooks"] = json!({"poststop": [hook("poststop", &log)]});
    });
    let id = t.id("runhook");
    t.run(&id, &b).expect_ok("run");
    let e = entries(&log);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].1["id"], id.as_str());
    assert_eq!(e[0].1["status"], "stopped");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hook_timeout_fails_create() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["hooks"] = json!({"createRuntime": [
            {"path": "/bin/sleep", "args": ["sleep", "100"], "timeout": 1}
        ]});
    });
    let id = t.id("hooktimeout");
    let start = std::time::Instant::now();
    let o = t.create(&id, &b);
    o.expect_fail("create", "createRuntime");
    assert!(o.stderr.contains("timed out"), "{o:?}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    t.assert_nothing_left("hook timeout");
}

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
    // The init runs startContainer after `start` has released it, and
    // `start` waits for it (its failure is start's); the line is read back
    // with a deadline all the same.
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

/// A failing poststart or poststop hook is a warning and the rest of the
/// list still runs (runtime-spec: "the remaining hooks MUST still run").
/// Control: the failing hooks really fail (their warnings name them), and
/// the markers are only written by the hooks after them.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn failing_poststart_and_poststop_hooks_do_not_skip_the_rest() {
    let Some(t) = T::new() else { return };
    let after_start = t.dir.join("after-poststart");
    let after_stop = t.dir.join("after-poststop");
    let touch = |p: &std::path::Path| json!({"path": "/bin/touch", "args": ["touch", p]});
    let b = t.bundle("b", |c| {
        sh(c, "exit 0");
        c["hooks"] = json!({
            "poststart": [{"path": "/bin/false"}, touch(&after_start)],
            "poststop": [{"path": "/bin/false"}, touch(&after_stop)],
        });
    });
    let id = t.id("hookfail");
    t.create_ok(&id, &b);
    let o = t.outlet(&["start", &id]);
    o.expect_ok("start with a failing poststart hook");
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("hooks.poststart[0] /bin/false"),
        "{o:?}"
    );
    assert!(after_start.exists(), "poststart[1] did not run: {o:?}");
    t.wait_status(&id, "stopped");
    let o = t.outlet(&["delete", &id]);
    o.expect_ok("delete with a failing poststop hook");
    assert!(o.stderr.contains("hooks.poststop[0] /bin/false"), "{o:?}");
    assert!(after_stop.exists(), "poststop[1] did not run: {o:?}");
    t.assert_nothing_left("after delete");
}

/// `outlet ARGS` with one more variable in its environment.
fn outlet_with_env(t: &T, args: &[&str], key: &str, value: &str) -> common::Out {
    let so = t.dir.join(format!("env-{key}.stdout"));
    let se = t.dir.join(format!("env-{key}.stderr"));
    let mut child = std::process::Command::new(common::OUTLET)
        .arg("--root")
        .arg(&t.root)
        .args(args)
        .env(key, value)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&so).unwrap())
        .stderr(std::fs::File::create(&se).unwrap())
        .spawn()
        .unwrap();
    let st = common::wait_timeout(&mut child, std::time::Duration::from_secs(60), "outlet");
    common::Out::from_files(st, so, se)
}

/// A hook without `env` gets the runtime's own environment, as with runc
/// (Go's exec.Cmd with a nil Env); a hook with an `env` list, even an
/// empty one, gets exactly that list. The variable set on outlet's
/// command line is seen only by the hook without `env` (the controls).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hooks_without_env_get_the_runtimes_environment() {
    let Some(t) = T::new() else { return };
    let report = |name: &str, env: Option<Value>| {
        let log = t.dir.join(name);
        let mut h = json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo \"${{HOOK_PROBE-unset}} ${{OWN-unset}}\" > {}", log.display())],
        });
        if let Some(env) = env {
            h["env"] = env;
        }
        (h, log)
    };
    let (inherit, inherit_log) = report("inherit", None);
    let (empty, empty_log) = report("empty", Some(json!([])));
    let (own, own_log) = report("own", Some(json!(["OWN=mine"])));
    let b = t.bundle("b", |c| {
        c["hooks"] = json!({"createRuntime": [inherit, empty, own]});
    });
    let id = t.id("hookenv");
    let o = outlet_with_env(
        &t,
        &["create", "--bundle", b.dir.to_str().unwrap(), &id],
        "HOOK_PROBE",
        "from-the-caller",
    );
    o.expect_ok("create");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap().trim().to_string();
    assert_eq!(read(&inherit_log), "from-the-caller unset");
    assert_eq!(read(&empty_log), "unset unset");
    assert_eq!(read(&own_log), "unset mine");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after delete");
}

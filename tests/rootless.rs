//! Rootless: an unprivileged user runs `outlet spec --rootless` and `outlet
//! run` with no --root; state goes to $XDG_RUNTIME_DIR/outlet, the user
//! namespace maps the user to root inside, and no cgroup is needed.
//! Needs root to make the user (skipped otherwise).

mod common;

use std::process::Command;

use common::T;

const USER: &str = "outlet-rootless";

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn unprivileged_user_runs_a_container() {
    let Some(t) = T::new() else { return };
    let (uid, gid) = t.system_user(USER);
    // The user's own copy of the rootfs and bundle.
    let bundle = t.dir.join("rl");
    std::fs::create_dir_all(&bundle).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(common::rootfs())
        .arg(bundle.join("rootfs"))
        .status()
        .unwrap();
    assert!(st.success());
    let xdg = t.dir.join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    for p in [&t.dir, &bundle, &xdg] {
        let st = Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let as_user = |args: &[&str]| {
        let out = Command::new("setpriv")
            .args([
                &format!("--reuid={uid}"),
                &format!("--regid={gid}"),
                "--clear-groups",
                "--",
                common::OUTLET,
            ])
            .args(args)
            .current_dir(&bundle)
            .env("XDG_RUNTIME_DIR", &xdg)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = as_user(&["spec", "--rootless"]);
    assert_eq!(code, Some(0), "spec --rootless: {err}");
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::json!(false);
    cfg["process"]["args"] = serde_json::json!(["sh", "-c", "id -u; cat /proc/self/uid_map"]);
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();

    let id = t.id("rl");
    let (code, out, err) = as_user(&["run", &id]);
    assert_eq!(code, Some(0), "rootless run: {err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "root inside: {out}");
    let map: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(map, ["0", &uid.to_string(), "1"], "uid_map: {out}");
    // State went to $XDG_RUNTIME_DIR/outlet and is gone after run.
    assert!(
        xdg.join("outlet").is_dir(),
        "state root under XDG_RUNTIME_DIR"
    );
    assert!(!xdg.join("outlet").join(&id).exists(), "state left behind");

    // --rootless as runc means it: "false" makes the cgroup the user may
    // not create an error, "true" tolerates it like "auto" did above.
    let id = t.id("rl-false");
    let (code, _, err) = as_user(&["--rootless", "false", "run", &id]);
    assert_eq!(code, Some(1), "--rootless false must fail: {err}");
    assert!(err.contains("ermission denied"), "{err}");
    assert!(!xdg.join("outlet").join(&id).exists(), "state left behind");
    let id = t.id("rl-true");
    let (code, out, err) = as_user(&["--rootless=true", "run", &id]);
    assert_eq!(code, Some(0), "--rootless true: {err}");
    assert!(out.starts_with("0\n"), "{out}");
    let (code, _, err) = as_user(&["--rootless", "sometimes", "run", &id]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--rootless \"sometimes\": expected true, false or auto"),
        "{err}"
    );
}

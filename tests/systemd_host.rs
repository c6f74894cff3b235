//! The systemd cgroup driver on the machines here (hybrid cgroups, no
//! systemd as PID 1): `--systemd-cgroup` must refuse with a message that
//! says why, before any side effect. The driver itself runs for real in
//! the node VM (tests/node/). Needs root (skipped otherwise).

mod common;

use common::T;
use serde_json::json;

/// With `--systemd-cgroup`, a slice:prefix:name path is taken (so the
/// error is about the host, not the path) and refused on a hybrid host;
/// nothing is left. Control: the same path without the flag fails for a
/// different reason (the cgroupfs driver), showing the flag is what
/// changes the outcome.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn systemd_driver_refused_on_hybrid_host() {
    let Some(t) = T::new() else { return };
    let id = t.id("sd");
    let b = t.bundle("b", |c| {
        c["linux"]["cgroupsPath"] = json!(format!("system.slice:outlet:{id}"))
    });
    let bundle = b.dir.to_str().unwrap();
    let o = t.outlet(&["--systemd-cgroup", "create", "--bundle", bundle, &id]);
    o.expect_fail(
        "create --systemd-cgroup",
        "needs a unified (cgroup v2) host",
    );
    assert!(!t.state_dir_exists(&id));
    let control = t.outlet(&["create", "--bundle", bundle, &id]);
    control.expect_fail("create without the flag", "pass --systemd-cgroup");
    assert!(
        !control.stderr.contains("unified (cgroup v2) host"),
        "{control:?}"
    );
    t.assert_nothing_left("refused systemd create");
}

/// A cgroupsPath that is no slice:prefix:name is named in the error, with
/// `--cgroup-manager systemd` (crun's spelling) as well.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn systemd_driver_bad_path_named() {
    let Some(t) = T::new() else { return };
    let id = t.id("sdbad");
    let b = t.bundle("b", |c| c["linux"]["cgroupsPath"] = json!("/plain/path"));
    let bundle = b.dir.to_str().unwrap();
    let o = t.outlet(&[
        "--cgroup-manager",
        "systemd",
        "create",
        "--bundle",
        bundle,
        &id,
    ]);
    o.expect_fail("create", "linux.cgroupsPath \"/plain/path\"");
    assert!(o.stderr.contains("slice:prefix:name"), "{o:?}");
    assert!(!t.state_dir_exists(&id));
    t.assert_nothing_left("bad systemd path");
}

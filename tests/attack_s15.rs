//! The attacker's review of session 15 (round 13): exec's inputs from a
//! hostile running container, session 14's new code (the plain exec
//! parse, `Cgroup::thaw_hybrid`, `cgroups::fs::read_opt`) and the caller's
//! malformed input. The cgroup v2 cases are in the VM
//! (tests/vm/s15_v2.sh). docs/known-gaps.md, "Session 15, round 13",
//! lists what was tried and held, and what is left open.
//!
//! 1. A caller's JSON input that never ends. `exec --process F`,
//!    `create --config F` and `update --resources F|-` read the whole file
//!    into memory before looking at it: `--process /dev/zero` (a caller's
//!    slip, or a path a template filled in badly) grew outlet's memory
//!    for as long as it read (seen: still reading after 5 s, killed),
//!    where runc fails on the first byte. Fixed: these inputs are read up
//!    to 32 MiB (`syscall::fs::read_input`), far more than any real one,
//!    then fail naming the path. A FIFO still blocks until a writer comes,
//!    as in runc (`--process <(...)` is a pipe). Control
//!    `OUTLET_INPUT_UNBOUNDED=1` (debug builds): a 40 MiB sparse file is
//!    read whole and fails as JSON, not as too large.
//!
//! Needs root (ignored otherwise) and a debug build (the controls).

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{OUTLET, T, sh};

/// A 40 MiB file of NUL bytes (sparse: it costs no disk).
fn sparse_file(t: &T, name: &str) -> std::path::PathBuf {
    let p = t.dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(40 << 20).unwrap();
    p
}

#[test]
fn an_endless_json_input_fails_instead_of_filling_memory() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    let b = t.bundle("b", |c| sh(c, "exec sleep 1000"));
    let id = t.id("in");
    t.create_ok(&id, &b);
    let big = sparse_file(&t, "big.json");
    let big = big.to_str().unwrap();
    let bundle = b.dir.to_str().unwrap();
    let other = t.id("cfg");
    for src in ["/dev/zero", big] {
        t.outlet(&["exec", "--process", src, "--detach", &id])
            .expect_exec_fail(&format!("exec --process {src}"), "larger than 32 MiB");
        t.outlet(&["update", "--resources", src, &id])
            .expect_fail(&format!("update --resources {src}"), "larger than 32 MiB");
        t.outlet(&["create", "--config", src, "--bundle", bundle, &other])
            .expect_fail(&format!("create --config {src}"), "larger than 32 MiB");
        assert!(
            !t.state_dir_exists(&other),
            "create --config {src} left state"
        );
    }
    // update --resources - with /dev/zero on stdin.
    let (mut cmd, so, se) = t.command(Path::new(OUTLET), &["update", "--resources", "-", &id]);
    cmd.stdin(Stdio::from(std::fs::File::open("/dev/zero").unwrap()));
    let mut child = cmd.spawn().unwrap();
    let st = common::wait_timeout(&mut child, std::time::Duration::from_secs(20), "update -");
    common::Out::from_files(st, so, se)
        .expect_fail("update --resources - </dev/zero", "larger than 32 MiB");
    // Nothing changed: the container is still created, its init alone.
    assert_eq!(t.status(&id), "created");
    // Control: unbounded, the 40 MiB file is read whole and fails as JSON.
    let ctl = t.call_env(
        Path::new(OUTLET),
        &["exec", "--process", big, "--detach", &id],
        &[],
        &[("OUTLET_INPUT_UNBOUNDED", "1")],
    );
    ctl.expect_exec_fail("control exec --process (unbounded)", "invalid process JSON");
    assert!(!ctl.stderr.contains("larger than"), "control: {ctl:#?}");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    t.assert_nothing_left("endless input");
}

//! An allocation that fails in outlet's cloned children (the container's
//! init, exec's helper) ends them as a panic does (tests/child_panic.rs):
//! one whole line on stderr and a death by SIGABRT sent to the child's own
//! thread (exit 134 for the init, pid 1 of its namespace), and the parent
//! reports it. Without outlet's allocator turning the C library's null
//! into that end (src/syscall/arena.rs `or_die`), std's
//! `handle_alloc_error` calls musl's abort(), which signals the thread id
//! musl cached before the raw clone3: in the init (a new pid namespace)
//! nobody, so the init crashes; in exec's helper the parent outlet
//! itself, which dies of SIGABRT. The failure is a real one, compiled into
//! debug builds only (src/fault.rs: OUTLET_OOM=<step> asks malloc for
//! 2^60 bytes); OUTLET_OOM_HOOK=off, which hands the null back to std as
//! before, is the control. Needs root (ignored in a build by another user).

mod common;

use std::path::Path;

use common::child_end::{create_saw_init_exit_134, exec_saw_helper_sigabrt};
use common::{OUTLET, Out, T};
use serde_json::json;

/// The allocator's line, whole (2^60 bytes asked for).
const LINE: &str = "outlet: memory allocation of 1152921504606846976 bytes failed";

fn whole_line(o: &Out) -> Result<(), String> {
    if o.stderr.lines().any(|l| l == LINE) {
        Ok(())
    } else {
        Err(format!("no whole line {LINE:?}"))
    }
}

/// create: its failure naming the init's exit 134, and the line.
fn judge_create(o: &Out) -> Result<(), String> {
    create_saw_init_exit_134(o)?;
    whole_line(o)
}

/// exec: outlet's own failure naming the helper's death by SIGABRT, and
/// the line.
fn judge_exec(o: &Out) -> Result<(), String> {
    exec_saw_helper_sigabrt(o)?;
    whole_line(o)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn an_init_out_of_memory_exits_134_and_create_fails_cleanly() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("initoom", |_| {});
    let create = |id: &str, hook: &str| {
        let env = [("OUTLET_OOM", "init:start"), ("OUTLET_OOM_HOOK", hook)];
        let args = ["create", "--bundle", b.dir.to_str().unwrap(), id];
        t.call_env(Path::new(OUTLET), &args, &[], &env)
    };
    let id = t.id("initoom");
    let o = create(&id, "on");
    judge_create(&o).unwrap_or_else(|e| panic!("{e}: {o:#?}"));
    assert!(!t.state_dir_exists(&id), "state left: {o:#?}");
    t.assert_nothing_left("after the init's failed allocation");

    // Control: std's end of a failed allocation, musl's abort().
    let id = t.id("initoom-control");
    let o = create(&id, "off");
    assert!(
        judge_create(&o).is_err(),
        "the control passed the judge: {o:#?}"
    );
    eprintln!(
        "control (null to std): exit {:?}, stderr:\n{}",
        o.code, o.stderr
    );
    assert!(!t.state_dir_exists(&id), "state left: {o:#?}");
    t.assert_nothing_left("after the control");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn an_exec_helper_out_of_memory_dies_of_sigabrt_and_spares_its_parent() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("helperoom", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let id = t.id("helperoom");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let exec = |hook: &str| {
        let env = [("OUTLET_OOM", "exec:helper"), ("OUTLET_OOM_HOOK", hook)];
        t.call_env(Path::new(OUTLET), &["exec", &id, "true"], &[], &env)
    };
    let o = exec("on");
    judge_exec(&o).unwrap_or_else(|e| panic!("{e}: {o:#?}"));
    t.outlet(&["exec", &id, "true"])
        .expect_ok("exec after the failed allocation");

    // Control: musl's abort() in the helper signals the parent's tid.
    let o = exec("off");
    assert!(
        judge_exec(&o).is_err(),
        "the control passed the judge: {o:#?}"
    );
    eprintln!(
        "control (null to std): exit {:?} signal {:?}, stderr:\n{}",
        o.code, o.signal, o.stderr
    );
    t.outlet(&["exec", &id, "true"])
        .expect_ok("exec after the control");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the execs");
}

//! A panic in outlet's cloned children (the container's init, exec's
//! helper) ends them by SIGABRT sent to the right thread (exit 134 for the
//! init, which as pid 1 cannot be killed by its own signal), after one whole
//! line on stderr, and the parent reports it. Without outlet's panic hook
//! (src/main.rs `on_panic`), std writes its message in pieces and musl's
//! abort() signals the thread id it cached before the raw clone3: in the
//! init (a new pid namespace) nobody, so the init crashes with SIGSEGV; in
//! exec's helper the parent outlet itself, which dies of SIGABRT. The
//! panics are compiled into debug builds only (src/fault.rs:
//! OUTLET_PANIC=<step>); OUTLET_PANIC_HOOK=off is the control.
//! Needs root (ignored in a build by another user).

mod common;

use std::path::Path;

use common::child_end::{create_saw_init_exit_134, exec_saw_helper_sigabrt};
use common::{OUTLET, Out, T};
use serde_json::json;

/// The hook's line, whole: "outlet: panicked at FILE:LINE:COL: MESSAGE".
fn whole_panic_line(o: &Out, step: &str) -> Result<(), String> {
    let end = format!(": fault: OUTLET_PANIC={step}");
    if o.stderr
        .lines()
        .any(|l| l.starts_with("outlet: panicked at src/fault.rs:") && l.ends_with(&end))
    {
        Ok(())
    } else {
        Err(format!("no whole panic line ending in {end:?}"))
    }
}

/// A create whose init panicked: create's failure naming the init's
/// exit 134, and the panic's line.
fn judge_create(o: &Out) -> Result<(), String> {
    create_saw_init_exit_134(o)?;
    whole_panic_line(o, "init:start")
}

/// An exec whose helper panicked: outlet's own failure naming the
/// helper's death by SIGABRT, and the panic's line.
fn judge_exec(o: &Out) -> Result<(), String> {
    exec_saw_helper_sigabrt(o)?;
    whole_panic_line(o, "exec:helper")
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_panicking_init_exits_134_and_create_fails_cleanly() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("initpanic", |_| {});
    let create = |id: &str, hook: &str| {
        let env = [("OUTLET_PANIC", "init:start"), ("OUTLET_PANIC_HOOK", hook)];
        let args = ["create", "--bundle", b.dir.to_str().unwrap(), id];
        t.call_env(Path::new(OUTLET), &args, &[], &env)
    };
    let id = t.id("initpanic");
    let o = create(&id, "on");
    judge_create(&o).unwrap_or_else(|e| panic!("{e}: {o:#?}"));
    assert!(!t.state_dir_exists(&id), "state left: {o:#?}");
    t.assert_nothing_left("after the init's panic");

    // Control: std's hook and musl's abort. The same judge must refuse it
    // (the init's line in pieces, a death other than SIGABRT).
    let id = t.id("initpanic-control");
    let o = create(&id, "off");
    assert!(
        judge_create(&o).is_err(),
        "the control passed the judge: {o:#?}"
    );
    eprintln!(
        "control (no hook): exit {:?}, stderr:\n{}",
        o.code, o.stderr
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_panicking_exec_helper_dies_of_sigabrt_and_spares_its_parent() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("helperpanic", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let id = t.id("helperpanic");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let exec = |hook: &str| {
        let env = [("OUTLET_PANIC", "exec:helper"), ("OUTLET_PANIC_HOOK", hook)];
        t.call_env(Path::new(OUTLET), &["exec", &id, "true"], &[], &env)
    };
    let o = exec("on");
    judge_exec(&o).unwrap_or_else(|e| panic!("{e}: {o:#?}"));
    // The container is untouched: exec still works.
    t.outlet(&["exec", &id, "true"])
        .expect_ok("exec after the panic");

    // Control: without the hook, musl's abort() in the helper signals
    // the thread id it cached in the parent.
    let o = exec("off");
    assert!(
        judge_exec(&o).is_err(),
        "the control passed the judge: {o:#?}"
    );
    eprintln!(
        "control (no hook): exit {:?} signal {:?}, stderr:\n{}",
        o.code, o.signal, o.stderr
    );
    t.outlet(&["exec", &id, "true"])
        .expect_ok("exec after the control");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the execs");
}

/// The hook itself needs no memory: a panic in the init after its seccomp
/// filter, with every memory call killing the process and the allocator's
/// arena full (OUTLET_ARENA=full: any allocation makes a brk), still ends
/// with the hook's line and exit 134, which `run` passes on as the
/// container's status. The panic's message has no arguments (std would
/// have formatted it before the hook). Control: std's hook, which is
/// killed by SIGSYS (159) or crashes on the way, without the whole line.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_panic_after_the_filter_needs_no_memory() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("filtered", |c| {
        c["process"]["args"] = json!(["true"]);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{
                "names": ["brk", "mmap", "munmap", "mremap", "madvise"],
                "action": "SCMP_ACT_KILL_PROCESS"
            }]
        });
    });
    let run = |tag: &str, hook: &str| {
        let id = t.id(tag);
        let env = [
            ("OUTLET_PANIC", "init:filtered"),
            ("OUTLET_ARENA", "full"),
            ("OUTLET_PANIC_HOOK", hook),
        ];
        let args = ["run", "--bundle", b.dir.to_str().unwrap(), &id];
        t.call_env(Path::new(OUTLET), &args, &[], &env)
    };
    let judge = |o: &Out| -> Result<(), String> {
        if o.code != Some(134) {
            return Err(format!("run: exit {:?} signal {:?}", o.code, o.signal));
        }
        whole_panic_line(o, "init:filtered")
    };
    let o = run("filtered", "on");
    judge(&o).unwrap_or_else(|e| panic!("{e}: {o:#?}"));
    let o = run("filtered-control", "off");
    assert!(judge(&o).is_err(), "the control passed the judge: {o:#?}");
    eprintln!(
        "control (no hook): exit {:?}, stderr:\n{}",
        o.code, o.stderr
    );
    t.assert_nothing_left("after the runs");
}

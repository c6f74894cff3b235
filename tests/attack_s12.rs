//! The attacker's review of session 12 (round 10): a container that has
//! had time to prepare, and a caller's malformed input, against the later
//! commands. docs/known-gaps.md, "Session 12, round 10", says what held
//! and how it was looked at.
//!
//! 1. A hook `timeout` near i64::MAX. create only refused a timeout of
//!    zero or less; the hook's deadline was `now + timeout` on the
//!    monotonic clock, which overflows and panics. For a poststop hook the
//!    panic came in every `delete`, also `delete --force`, after the init
//!    was killed and before the state was removed: the container stayed
//!    listed, `stopped`, and no command could ever remove it (containerd
//!    retries its delete for ever). Fixed: create refuses a timeout past
//!    4294967295 s naming the field and leaves nothing; a container saved
//!    with one (made before the fix) is deleted, its hook run without a
//!    deadline the clock cannot hold. Control:
//!    `OUTLET_HOOK_TIMEOUT_UNCHECKED=1` skips the check and adds as
//!    before: create passes, and `delete --force` aborts and leaves the
//!    state dir (which the fixed delete then removes).
//!
//! Needs root (ignored otherwise) and a debug build (the controls).

mod common;

use std::path::Path;

use common::{OUTLET, T};
use serde_json::json;

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (its OUTLET_* controls)");
    }
}

/// A poststop hook whose timeout the clock cannot add.
fn huge_timeout_bundle(t: &T, tag: &str) -> common::Bundle {
    t.bundle(tag, |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
        c["hooks"] = json!({"poststop": [{"path": "/bin/true", "timeout": i64::MAX}]});
    })
}

/// Finding 1. create refuses the timeout naming the hook's field and
/// leaves nothing. Control: OUTLET_HOOK_TIMEOUT_UNCHECKED=1 lets create
/// pass, and `delete --force` (with the control) aborts on the overflow
/// and leaves the container; the fixed `delete --force` then removes it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hook_timeout_past_the_clock_is_refused_and_deletable() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let b = huge_timeout_bundle(&t, "hooktime");
    let id = t.id("hooktime");
    t.create(&id, &b).expect_fail(
        "create with a poststop timeout of i64::MAX",
        "hooks.poststop[0].timeout: 9223372036854775807: more than 4294967295 seconds",
    );
    t.assert_nothing_left("the refused create");

    let unchecked = [("OUTLET_HOOK_TIMEOUT_UNCHECKED", "1")];
    let id = t.id("hooktime-control");
    let dir = b.dir.to_str().unwrap();
    let o = t.call_env(
        Path::new(OUTLET),
        &["create", "--bundle", dir, &id],
        &[],
        &unchecked,
    );
    o.expect_ok("create in the control");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let o = t.call_env(
        Path::new(OUTLET),
        &["delete", "--force", &id],
        &[],
        &unchecked,
    );
    assert!(
        !o.ok() && o.stderr.contains("overflow"),
        "control: delete --force did not trip on the timeout: {o:?}"
    );
    assert!(t.state_dir_exists(&id), "control: the state went anyway");
    // What an older outlet left: the fixed delete removes it.
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force of the container the control left");
    t.assert_nothing_left("after the fixed delete");
}

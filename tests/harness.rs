//! The harness itself: the guard must notice a container that escaped
//! `delete --force` (here by losing its state dir), report it, and still
//! clean it up by pid and cgroup. Without this, every "nothing left"
//! assertion in the other tests could be vacuous. Needs root.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use common::{T, cgroup_dirs_for, pid_alive, sh};

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn guard_reports_and_removes_a_leaked_container() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, "sleep 1000"));
    let id = t.id("leak");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    // Hide the container from delete --force: its process and cgroup stay.
    std::fs::remove_dir_all(t.root.join(&id)).unwrap();
    let left = t.leftovers();
    assert!(
        left.iter().any(|l| l.contains(&format!("process {pid}"))),
        "{left:#?}"
    );
    assert!(left.iter().any(|l| l.starts_with("cgroup ")), "{left:#?}");
    let dirs = cgroup_dirs_for(&id);
    let r = catch_unwind(AssertUnwindSafe(move || drop(t)));
    let msg = r
        .expect_err("the guard did not fail on a leaked container")
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(msg.contains("left behind"), "{msg}");
    // And it cleaned up anyway.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) {
        assert!(Instant::now() < deadline, "leaked init {pid} still alive");
        std::thread::sleep(Duration::from_millis(10));
    }
    for d in dirs {
        assert!(!d.exists(), "{} left", d.display());
    }
}

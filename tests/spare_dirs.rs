//! Spare state dirs (src/state/spare.rs): `delete` hands its emptied dir
//! on under a name no id can take, and the next `create` renames it to
//! its own id instead of making a dir (on this host's ext4 with `discard`
//! a removed dir's last close costs 0.3-12 ms).
//!
//! 1. The dir is handed on, and taken: same inode, empty, nothing shown by
//!    `list`. Only an empty dir is handed on: a stray file left in a
//!    container's dir (a killed create's temporary state file) makes
//!    delete remove the dir as before, and the next create gets a fresh,
//!    empty dir (control: the same delete without the stray file does
//!    hand its dir on, so the observation can tell the two apart).
//! 2. A `delete` that waited for a container's lock while that dir was
//!    handed on and taken by another create must not act on it through
//!    the fd it holds. The window is held open by the debug build's
//!    `OUTLET_PAUSE=state:locked=<file>`: while delete is paused with the
//!    lock, the test moves the dir to another id's name (what a recycle
//!    and a take do) and puts a same-id copy at the old path (a new
//!    container of that id). delete must refuse and leave the other id's
//!    files alone. Control: `OUTLET_DIR_CHECK=off` (debug builds) skips
//!    the check, and the same delete unlinks the other id's files through
//!    its fd.
//!
//! Needs root (skipped otherwise).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{OUTLET, Out, T};
use serde_json::json;

const SPARE: &str = ".spare-0";

fn ino(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().ino()
}

fn entries(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn stopped(t: &T, id: &str) -> common::Bundle {
    let b = t.bundle(id, |c| c["process"]["args"] = json!(["true"]));
    t.outlet(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), id])
        .expect_ok("run --detach");
    t.wait_status(id, "stopped");
    b
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_deleted_dir_is_the_next_create_s_and_only_when_empty() {
    let Some(t) = T::new() else { return };
    let (a, b, c, d) = (t.id("a"), t.id("b"), t.id("c"), t.id("d"));

    // Control: a plain delete hands its dir on.
    stopped(&t, &a);
    let a_ino = ino(&t.root.join(&a));
    t.outlet(&["delete", &a]).expect_ok("delete a");
    assert!(!t.state_dir_exists(&a));
    let spare = t.root.join(SPARE);
    assert!(
        spare.is_dir(),
        "no spare after delete: {:?}",
        entries(&t.root)
    );
    assert_eq!(ino(&spare), a_ino, "the spare is not a's dir");
    assert!(
        entries(&spare).is_empty(),
        "spare not empty: {:?}",
        entries(&spare)
    );
    let listed = t.outlet(&["list", "-q"]);
    listed.expect_ok("list");
    assert!(!listed.stdout.contains("spare"), "{listed:?}");

    // The next create takes it.
    stopped(&t, &b);
    assert_eq!(ino(&t.root.join(&b)), a_ino, "b did not take the spare");
    assert!(!spare.exists(), "the spare is still there");

    // Attack: a stray file in c's dir; c's dir must not be handed on.
    stopped(&t, &c);
    std::fs::write(t.root.join(&c).join("state.json.tmp"), b"stray").unwrap();
    t.outlet(&["delete", &c]).expect_ok("delete c");
    assert!(!t.state_dir_exists(&c));
    assert!(
        !spare.exists(),
        "a dir with a stray file became a spare: {:?}",
        entries(&spare)
    );
    stopped(&t, &d);
    let left = entries(&t.root.join(&d));
    assert!(
        !left.iter().any(|f| f == "state.json.tmp"),
        "d got c's stray file: {left:?}"
    );
    for id in [&b, &d] {
        t.outlet(&["delete", id]).expect_ok("delete");
    }
}

/// delete of a stopped container, paused with its lock held, while the
/// test hands the dir to another id and puts a copy at the old path.
/// Returns delete's output and what is left in the other id's dir.
fn waited_delete(t: &T, check: bool) -> (Out, Vec<String>) {
    let (x, z) = (t.id(&format!("x{check}")), t.id(&format!("z{check}")));
    stopped(t, &x);
    let xdir = t.root.join(&x);
    let zdir = t.root.join(&z);
    let gate = t.dir.join(format!("gate-{check}"));
    let pause = format!("state:locked={}", gate.display());
    let mut env = vec![("OUTLET_PAUSE", pause.as_str())];
    if !check {
        env.push(("OUTLET_DIR_CHECK", "off"));
    }
    let (mut cmd, so, se) = t.command(Path::new(OUTLET), &["delete", &x]);
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawn delete");
    let reached = gate.with_extension("reached");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reached.exists() {
        assert!(Instant::now() < deadline, "delete never took the lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The dir goes to z (a recycle and a take), and x is made again with
    // the same files (another container of that id).
    std::fs::rename(&xdir, &zdir).unwrap();
    std::fs::create_dir(&xdir).unwrap();
    for f in entries(&zdir) {
        std::fs::copy(zdir.join(&f), xdir.join(&f)).unwrap();
    }
    std::fs::write(&gate, b"").unwrap();
    let status = common::wait_timeout(&mut child, Duration::from_secs(30), "delete");
    let out = Out::from_files(status, so, se);
    let left = entries(&zdir);
    // x's cgroup goes with a delete of the copy (if the paused one did
    // not remove it); then whatever dirs the test made.
    let _ = t.outlet(&["delete", "--force", &x]);
    for p in [&xdir, &zdir, &t.root.join(SPARE)] {
        let _ = std::fs::remove_dir_all(p);
    }
    (out, left)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_delete_that_waited_never_touches_a_dir_handed_on() {
    let Some(t) = T::new() else { return };
    let (out, left) = waited_delete(&t, true);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("replaced while waiting"), "{out:?}");
    assert!(
        left.iter().any(|f| f == "state.json") && left.iter().any(|f| f == "intent.json"),
        "the other id's files were touched: {left:?}"
    );

    // Control: without the check, the same delete unlinks them.
    let (out, left) = waited_delete(&t, false);
    assert!(out.ok(), "{out:?}");
    assert!(
        !left.iter().any(|f| f == "state.json"),
        "the control did not reach the other id's dir: {left:?}"
    );
}

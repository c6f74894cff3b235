//! A container that can write its cgroupfs nests cgroups past PATH_MAX.
//!
//! The attack: a container given a read-write cgroup mount and a cgroup
//! namespace (what systemd-in-a-container setups ask for), without a pid
//! namespace of its own, makes child cgroups inside its own, each named
//! with 200 bytes, 30 deep: 6 KiB of path, past PATH_MAX (v1 has no
//! cgroup.max.depth to stop it). outlet walked the container's cgroup
//! tree by path, so every read and rmdir past PATH_MAX failed with
//! ENAMETOOLONG: `delete --force` exited 1 and left the state dir and the
//! container's cgroup in every hierarchy, and a process the container
//! moved into the deepest cgroup was never listed, so never killed: it
//! outlived the container it escaped from.
//!
//! Fixed: the tree is walked by directory fds (src/cgroups/walk.rs).
//! Control: `OUTLET_CGROUP_WALK_BY_PATH=1` (a debug build's switch) opens
//! each cgroup by its whole path, as before, on the same container: it
//! fails as the old walk did, and then a plain `delete --force` of the
//! same container cleans up what the control left.

mod common;

use std::time::{Duration, Instant};

use common::{OUTLET, Out, T};
use serde_json::json;

const DEPTH: usize = 30;

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_CGROUP_WALK_BY_PATH)");
    }
}

/// A started container (no pid namespace, cgroupfs writable) that has
/// nested its pids cgroup DEPTH levels of 200-byte names deep. With
/// `escape`, a `sleep` it started was moved into the deepest one; its
/// host pid is returned.
fn nested(t: &T, tag: &str, escape: bool) -> (String, Option<i32>) {
    let id = t.id(tag);
    // `cd -P`: busybox's plain cd chdirs to the whole logical path, which
    // itself fails past PATH_MAX; -P chdirs to the name given.
    let moved = if escape {
        "sleep 1000 & echo $! > cgroup.procs || exit 4; echo $! > /out/deep.pid;"
    } else {
        ""
    };
    let script = format!(
        "cd /sys/fs/cgroup/pids || exit 1; N=$(printf '%0200d' 0); i=0; \
         while [ $i -lt {DEPTH} ]; do mkdir $N || exit 2; cd -P $N || exit 3; i=$((i+1)); done; \
         {moved} cd /; touch /out/ready; exec sleep 1000"
    );
    let b = t.bundle(tag, |cfg| {
        common::drop_ns(cfg, "pid");
        for m in cfg["mounts"].as_array_mut().unwrap() {
            if m["type"] == "cgroup" {
                m["options"] = json!(["nosuid", "noexec", "nodev", "rw"]);
            }
        }
        common::sh(cfg, &script);
    });
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let ready = b.out.join("ready");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "the container did not nest its cgroups: status {}",
            t.status(&id)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let deep = escape.then(|| {
        let pid = std::fs::read_to_string(b.out.join("deep.pid")).unwrap();
        let pid: i32 = pid.trim().parse().unwrap();
        t.track_pid(pid);
        pid
    });
    (id, deep)
}

/// The deepest pids cgroup of the container is really past PATH_MAX on
/// the host: the test builds what it claims.
fn assert_past_path_max(id: &str) {
    let top = common::cgroup_dirs_for(id)
        .into_iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/pids") && d.exists())
        .expect("the container's pids cgroup");
    let mut p = top.into_os_string();
    for _ in 0..DEPTH {
        p.push(format!("/{:0200}", 0));
    }
    assert!(p.len() > 4096, "{} bytes only", p.len());
    let e = std::fs::metadata(&p).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENAMETOOLONG), "{e}");
}

fn delete_by_path(t: &T, id: &str) -> Out {
    t.call_env(
        OUTLET.as_ref(),
        &["delete", "--force", id],
        &[],
        &[("OUTLET_CGROUP_WALK_BY_PATH", "1")],
    )
}

/// Control: the walk by path fails past PATH_MAX and leaves the state
/// dir and cgroups behind. Then: `delete --force` exits 0 and leaves no
/// state dir, no cgroup directory in any hierarchy, no process.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_force_removes_cgroups_nested_past_path_max() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let (id, _) = nested(&t, "deep", false);
    assert_past_path_max(&id);

    let control = delete_by_path(&t, &id);
    control.expect_fail("delete --force by path (control)", "File name too long");
    assert!(t.state_dir_exists(&id), "the control left no state dir");
    assert!(
        common::cgroup_dirs_for(&id).iter().any(|d| d.exists()),
        "the control left no cgroup"
    );

    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    let left = t.settle();
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// A process the container moved into its deepest cgroup (no pid
/// namespace: only the cgroup says it is the container's) is killed by
/// `delete --force`. Control: by path, it is never listed and survives
/// the delete of its container (the init is dead by then).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_force_kills_a_process_in_the_deepest_cgroup() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let (id, deep) = nested(&t, "escape", true);
    let deep = deep.unwrap();
    assert!(common::pid_alive(deep), "the moved process is not running");
    let cg = std::fs::read_to_string(format!("/proc/{deep}/cgroup")).unwrap();
    // The kernel cuts the line at PATH_MAX: all it can show is that.
    assert!(
        cg.lines().any(|l| l.contains(":pids:") && l.len() >= 4000),
        "the process is not in the deepest pids cgroup: {cg}"
    );

    let control = delete_by_path(&t, &id);
    control.expect_fail("delete --force by path (control)", "File name too long");
    assert_eq!(
        t.status(&id),
        "stopped",
        "the control did not kill the init"
    );
    assert!(
        common::pid_alive(deep),
        "the control killed the process in the deepest cgroup"
    );

    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::pid_alive(deep) {
        assert!(
            Instant::now() < deadline,
            "process {deep} in the deepest cgroup outlived delete --force"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let left = t.settle();
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// `kill --all` (SIGTERM: the signal-each path, not the SIGKILL loop)
/// reaches the process in the deepest cgroup too. Control: by path, the
/// list fails past PATH_MAX; what it reached (the init) still got the
/// signal and the call says why it failed, but the deep process lives on.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_all_reaches_the_deepest_cgroup() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let (id, deep) = nested(&t, "killall", true);
    let deep = deep.unwrap();

    let control = t.call_env(
        OUTLET.as_ref(),
        &["kill", "--all", &id, "TERM"],
        &[],
        &[("OUTLET_CGROUP_WALK_BY_PATH", "1")],
    );
    control.expect_fail("kill --all by path (control)", "File name too long");
    t.wait_status(&id, "stopped");
    assert!(
        common::pid_alive(deep),
        "the control signalled the process in the deepest cgroup"
    );

    t.outlet(&["kill", "--all", &id, "TERM"])
        .expect_ok("kill --all");
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::pid_alive(deep) {
        assert!(
            Instant::now() < deadline,
            "process {deep} in the deepest cgroup outlived kill --all"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    t.outlet(&["delete", &id]).expect_ok("delete");
    let left = t.settle();
    assert!(left.is_empty(), "left behind: {left:#?}");
}

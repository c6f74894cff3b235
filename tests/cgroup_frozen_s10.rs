//! A container cgroup made by this create under a frozen v1 parent. The
//! kernel freezes a new freezer cgroup whose parent is frozen (its
//! freezer.parent_freezing reads 1), so a directory outlet has just made
//! can be frozen: create must still read the state of the nearest parent
//! that existed before it, or the init stops at its first step and
//! create hangs (runcbats_s9h.rs `frozen_cgroup_refused` covers a leaf
//! that existed before). Needs root and a v1 freezer hierarchy.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::T;
use serde_json::json;

const CG: &str = "/sys/fs/cgroup";

fn state(dir: &Path) -> String {
    let p = dir.join("freezer.state");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn new_cgroup_under_a_frozen_parent_is_refused() {
    let Some(t) = T::new() else { return };
    let parent = format!("{}-frz", t.token);
    let freezer = PathBuf::from(format!("{CG}/freezer/{parent}"));
    std::fs::create_dir(&freezer).unwrap();
    {
        // Thawed first; then, should create have let an init into the
        // frozen cgroup after all (the failure this test is for), that
        // init is killed through the cgroup only this test's container
        // was in, and the directories go once it has exited; last the
        // parent in every hierarchy (outlet makes it in the others, and
        // leaves it: not its own).
        let (f, p) = (freezer.clone(), parent.clone());
        t.on_cleanup(move || {
            let _ = std::fs::write(f.join("freezer.state"), "THAWED");
            let procs = std::fs::read_to_string(f.join("ct/cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.parse().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            for d in common::cgroup_dirs_for(&p) {
                for dir in [d.join("ct"), d] {
                    while dir.exists()
                        && std::fs::remove_dir(&dir).is_err()
                        && Instant::now() < deadline
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        });
    }
    std::fs::write(freezer.join("freezer.state"), "FROZEN").unwrap();
    // The kernel fact the check rests on: a directory made now is frozen.
    let probe = freezer.join("probe");
    std::fs::create_dir(&probe).unwrap();
    let probe_state = state(&probe);
    std::fs::remove_dir(&probe).unwrap();
    assert_eq!(probe_state, "FROZEN", "a new child of a frozen cgroup");

    let path = format!("/{parent}/ct");
    let b = t.bundle("ct", |c| {
        common::sh(c, "exec sleep 1000");
        c["linux"]["cgroupsPath"] = json!(path);
    });
    let id = t.id("ct");
    let o = t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id]);
    o.expect_fail("run under a frozen parent", "unexpectedly frozen");
    assert!(
        !freezer.join("ct").exists(),
        "the refused create left its own cgroup behind"
    );
    assert!(freezer.exists(), "the caller's frozen parent was removed");
    assert!(
        !t.state_dir_exists(&id),
        "the refused create left its state"
    );

    // Control: thawed, the same path takes the container, whose new cgroup
    // is then the one outlet made under the parent.
    std::fs::write(freezer.join("freezer.state"), "THAWED").unwrap();
    t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id])
        .expect_ok("run under the thawed parent");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    assert_eq!(state(&freezer.join("ct")), "THAWED");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

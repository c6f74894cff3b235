//! A restore re-makes no cgroup outside the container's own (see the
//! test). Alone in its test binary, because its control lets CRIU re-make
//! every cgroup that sat in the cgroup2 root at its dump: beside another
//! test's container (cargo runs the tests of one binary side by side),
//! that re-made the other container's directory after its `delete` had
//! removed it, and the leftover check failed the run. Needs root.

mod common;
mod criu_support;

use std::path::{Path, PathBuf};

use common::T;
use criu_support::*;

/// A criu that drops outlet's --cgroup-dump-controller pairs (outlet as
/// it was without them), for the control below.
fn criu_dumping_every_hierarchy(t: &T) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let w = t.dir.join("criu-all-cgroups");
    std::fs::write(
        &w,
        format!(
            "#!/bin/sh\nskip=0\nfor a do\n  shift\n  if [ $skip = 1 ]; then skip=0; continue; fi\n  \
             if [ \"$a\" = --cgroup-dump-controller ]; then skip=1; continue; fi\n  \
             set -- \"$@\" \"$a\"\ndone\nexec '{}' \"$@\"\n",
            criu()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    w
}

/// A sibling cgroup in the cgroup2 root of these hybrid hosts that existed
/// at the dump and is gone at the restore is not made again by the
/// restore. Two things keep it so: the container has a cgroup2 directory
/// of its own (since session 13, as runc; CRIU dumps the tree below the
/// task's cgroup), and the dump covers only the hierarchies where the
/// container has a cgroup of its own (outlet's --cgroup-dump-controller).
/// Each is shown alone: `criu-all` drops the second, debug builds'
/// OUTLET_NO_HYBRID_JOIN=1 the first (the container then sits in the
/// caller's cgroup2 root, as it did before). The control drops both: the
/// restore made the sibling anew in the host's hierarchy.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn restore_makes_no_cgroup_outside_the_containers() {
    let Some(t) = T::new() else { return };
    let unified = Path::new("/sys/fs/cgroup/unified");
    let hybrid = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .any(|l| l == "0::/");
    if !unified.is_dir() || !hybrid {
        eprintln!("not a hybrid host with the caller in the cgroup2 root: nothing to show");
        return;
    }
    let sibling = unified.join(format!("{}-sibling", t.token));
    let s2 = sibling.clone();
    t.on_cleanup(move || {
        let _ = std::fs::remove_dir(&s2);
    });
    let all = criu_dumping_every_hierarchy(&t);
    for (tag, criu_all, at_root) in [
        ("own", false, false),
        ("criu-all", true, false),
        ("at-root", false, true),
        ("control", true, true),
    ] {
        let b = counter_bundle(&t, tag, |_| {});
        let id = t.id(tag);
        let env: &[(&str, &str)] = if at_root {
            &[("OUTLET_NO_HYBRID_JOIN", "1")]
        } else {
            &[]
        };
        let dir = b.dir.to_str().unwrap();
        t.call_env(
            Path::new(common::OUTLET),
            &["run", "-d", "--bundle", dir, &id],
            &[],
            env,
        )
        .expect_ok("run -d");
        t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
        wait_past(&b, 3);
        std::fs::create_dir(&sibling).unwrap();
        let image = t.dir.join(format!("img-{tag}"));
        let bin = if criu_all {
            all.display().to_string()
        } else {
            criu().to_string()
        };
        let mut a = vec!["--criu", bin.as_str(), "checkpoint", "--image-path"];
        a.extend([image.to_str().unwrap(), id.as_str()]);
        t.outlet(&a).expect_ok("checkpoint");
        std::fs::remove_dir(&sibling).unwrap();
        restore(&t, &id, &b, &image);
        let made = sibling.exists();
        let _ = std::fs::remove_dir(&sibling);
        t.outlet(&["delete", "--force", &id]).expect_ok("delete");
        if tag == "control" {
            assert!(
                made,
                "control: dumping every hierarchy of a container in the root did not make the sibling again"
            );
        } else {
            assert!(!made, "{tag}: restore made {} again", sibling.display());
        }
    }
}

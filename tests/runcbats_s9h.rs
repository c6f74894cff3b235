//! runc's integration suite, ported (see runcbats_s9.rs for the method):
//! cgroups.bats (the parts a cgroup v1-hybrid host runs), resources.bats,
//! update.bats "update cpu period in a pod cgroup with pod limit set",
//! mount_propagation.bats, mounts_propagation_unsafe.bats.
//!
//! Found:
//! - "refuse pre-existing frozen cgroup": outlet ran the container in the
//!   frozen cgroup, whose init then hung before its first step and could
//!   not be killed by `delete --force`. Fixed (v1 backend: refused as runc
//!   1.1.5 refuses, "container's cgroup unexpectedly frozen").
//! - "exec (cgroup v1+hybrid joins correct cgroup)": runc 1.1.5 also puts
//!   the init in the container's directory of a hybrid host's unified
//!   hierarchy; outlet does not. Not fixed (see the test).
//! - "non-empty cgroup": runc 1.1.5 runs with a warning, runc 1.2 refuses;
//!   outlet runs without a warning. Kept (see the test).
//!
//! Not ported, and why:
//! - cgroups.bats "rootless + ..." (needs a rootless runtime without
//!   cgroup permission: rootless.rs covers outlet's rootless cgroups),
//!   "cgroup v2 + init process in non-root cgroup", "blkio weight",
//!   "cgroup v2 resources.unified only/override", "cgroupv2 mount inside
//!   container": cgroup v2 only.
//! - "per-device io weight for bfq": needs a loop device with the bfq
//!   scheduler; "hugetlb limits": hugetlb sits in the cgroup2 hierarchy
//!   here with no controller enabled below its root.
//! - "exec should refuse a paused container", "exec --ignore-paused":
//!   lifecycle.rs (exec_ignore_paused_then_resume and its neighbours).

mod common;

use std::path::PathBuf;

use common::runcbats::{exec, set_args};
use common::{Out, T};
use serde_json::{Value, json};

const CG: &str = "/sys/fs/cgroup";

/// runc's set_cgroups_path: an absolute path below a parent of the test's
/// own, which is removed from every hierarchy when the test ends.
fn cgroups_path(t: &T, tag: &str) -> String {
    let parent = format!("{}-{tag}", t.token);
    let p = parent.clone();
    t.on_cleanup(move || {
        for d in hierarchies() {
            let dir = d.join(&p);
            if dir.exists()
                && let Err(e) = std::fs::remove_dir(&dir)
            {
                eprintln!("cleanup: rmdir {}: {e}", dir.display());
            }
        }
    });
    format!("/{parent}/ct")
}

/// Every mounted hierarchy (the v1 controllers and the unified one).
fn hierarchies() -> Vec<PathBuf> {
    std::fs::read_dir(CG)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists())
        .collect()
}

fn cg_file(ctrl: &str, path: &str, file: &str) -> String {
    let p = format!("{CG}/{ctrl}{path}/{file}");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{p}: {e}"))
        .trim()
        .to_string()
}

fn run_d(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> (String, Out) {
    let b = t.bundle(tag, |c| {
        set_args(c, &["sleep", "1000"]);
        edit(c)
    });
    let id = t.id(tag);
    let o = t.outlet(&["run", "-d", "-b", b.dir.to_str().unwrap(), &id]);
    if o.ok() {
        t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    }
    (id, o)
}

// runc: cgroups.bats "runc create (no limits + no cgrouppath + no permission) succeeds",
//       cgroups.bats "runc create (limits + cgrouppath + permission on the cgroup dir) succeeds",
//       cgroups.bats "runc exec (limits + cgrouppath + permission on the cgroup dir) succeeds"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cgroups_limits_and_path() {
    let Some(t) = T::new() else { return };
    let (plain, o) = run_d(&t, "plain", |_| {});
    o.expect_ok("no limits, no cgroupsPath");
    let path = cgroups_path(&t, "lim");
    let (id, o) = run_d(&t, "lim", |c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["pids"] = json!({"limit": 100});
    });
    o.expect_ok("limits + cgroupsPath");
    assert_eq!(cg_file("pids", &path, "pids.max"), "100");
    let o = exec(&t, &id, &["echo", "cgroups_exec"]);
    assert_eq!(
        o.expect_ok("exec").stdout.lines().next(),
        Some("cgroups_exec")
    );
    let procs = cg_file("pids", &path, "cgroup.procs");
    assert!(
        procs.contains(&t.state(&id)["pid"].to_string()),
        "init not in {path}: {procs}"
    );
    // Control: the container without limits is not limited (the read
    // above could have shown another value).
    let d = common::cgroup_dirs_for(&plain)
        .into_iter()
        .find(|d| d.starts_with(format!("{CG}/pids")) && d.exists())
        .expect("pids cgroup of the plain container");
    let max = std::fs::read_to_string(d.join("pids.max")).unwrap();
    assert_eq!(max.trim(), "max");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

// runc: cgroups.bats "runc run (cgroup v1 + unified resources should fail)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cgroup_v1_refuses_unified() {
    let Some(t) = T::new() else { return };
    let path = cgroups_path(&t, "uni");
    let (_, o) = run_d(&t, "uni", |c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["pids"] = json!({"limit": 100});
        c["linux"]["resources"]["unified"] = json!({"memory.min": "131072"});
    });
    o.expect_fail("unified on a v1 host", "unified");
    t.assert_nothing_left("unified on v1");
    // Control: the same spec without the unified map runs.
    let (_, o) = run_d(&t, "ctl", |c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["pids"] = json!({"limit": 100});
    });
    o.expect_ok("same spec without unified");
}

// runc: cgroups.bats "runc run (cpu.idle)"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_cpu_idle() {
    let Some(t) = T::new() else { return };
    let path = cgroups_path(&t, "idle");
    let (_, o) = run_d(&t, "idle", |c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["cpu"] = json!({"idle": 1});
    });
    o.expect_ok("cpu.idle 1");
    assert_eq!(cg_file("cpu", &path, "cpu.idle"), "1");
    // Control: without it the value is the kernel's default.
    let path = cgroups_path(&t, "noidle");
    let (_, o) = run_d(&t, "noidle", |c| {
        c["linux"]["cgroupsPath"] = json!(path);
    });
    o.expect_ok("no cpu.idle");
    assert_eq!(cg_file("cpu", &path, "cpu.idle"), "0");
}

/// The line of hierarchy `ctrl` in a /proc/PID/cgroup text.
fn line_of(text: &str, ctrl: &str) -> String {
    text.lines()
        .find(|l| l.split(':').nth(1) == Some(ctrl))
        .unwrap_or_else(|| panic!("no {ctrl:?} line in {text}"))
        .to_string()
}

// runc: cgroups.bats "runc exec (cgroup v1+hybrid joins correct cgroup)"
//
// A difference, not fixed: runc 1.1.5 also puts the init (and exec) in
// the container's directory of the unified hierarchy of a hybrid host
// (`0::/PATH`); outlet leaves both where the caller was there (`0::/`),
// as it uses only the v1 hierarchies for resources. What the bats test
// is for, that exec lands where the init is in every hierarchy, holds.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_joins_the_hybrid_cgroup() {
    let Some(t) = T::new() else { return };
    let path = cgroups_path(&t, "hy");
    let (id, o) = run_d(&t, "hy", |c| {
        c["linux"]["cgroupsPath"] = json!(path);
    });
    o.expect_ok("run");
    let pid = t.state(&id)["pid"].as_i64().unwrap();
    let run_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(line_of(&run_cg, "pids").ends_with(&path), "{run_cg}");
    // Inside, the cgroup namespace shows paths from its root: compare the
    // exec'd process with the init as both see them from there.
    let o = exec(
        &t,
        &id,
        &[
            "sh",
            "-c",
            "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup",
        ],
    );
    let out = o.expect_ok("exec cat").stdout.clone();
    let (exec_cg, init_cg) = out.split_once("--\n").expect("two listings");
    for ctrl in ["", "pids", "memory", "freezer", "cpu", "cpuacct"] {
        assert_eq!(line_of(exec_cg, ctrl), line_of(init_cg, ctrl), "{ctrl}");
    }
    // Control: this test's own process is elsewhere.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert_ne!(line_of(&own, "pids"), line_of(&run_cg, "pids"));
}

// runc: cgroups.bats "runc run/create should error for a non-empty cgroup"
//
// runc 1.1.5 (the reference here) runs the second container in the used
// cgroup with a warning ("won't be supported in runc 1.2"); runc 1.2
// refuses. outlet does as 1.1.5 without the warning: the port checks
// that the second container runs beside the first, and that deleting it
// leaves the first alone is not claimed (a shared cgroup is killed as one).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn non_empty_cgroup_shared() {
    let Some(t) = T::new() else { return };
    let path = cgroups_path(&t, "share");
    let with_path = |c: &mut Value| c["linux"]["cgroupsPath"] = json!(path);
    let (id1, o) = run_d(&t, "ct1", with_path);
    o.expect_ok("first container");
    let (id2, o) = run_d(&t, "ct2", with_path);
    o.expect_ok("second container in the used cgroup (runc 1.1.5: a warning)");
    let procs = cg_file("pids", &path, "cgroup.procs");
    for id in [&id1, &id2] {
        let pid = t.state(id)["pid"].to_string();
        assert!(
            procs.lines().any(|l| l == pid),
            "{id} ({pid}) not in {procs}"
        );
    }
    // Control: a third container elsewhere is not in that cgroup.
    let (id3, o) = run_d(&t, "ct3", |_| {});
    o.expect_ok("third");
    let pid3 = t.state(&id3)["pid"].to_string();
    assert!(!procs.lines().any(|l| l == pid3));
    for id in [&id2, &id1] {
        t.outlet(&["delete", "--force", id]).expect_ok("delete");
    }
}

// runc: cgroups.bats "runc run/create should refuse pre-existing frozen cgroup"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn frozen_cgroup_refused() {
    let Some(t) = T::new() else { return };
    let path = cgroups_path(&t, "frz");
    let freezer = PathBuf::from(format!("{CG}/freezer{path}"));
    std::fs::create_dir_all(&freezer).unwrap();
    {
        let f = freezer.clone();
        // Thawed and removed before the parent goes (cleanups run in
        // order of registration, so this one must be removed by hand).
        t.on_cleanup(move || {
            let _ = std::fs::write(f.join("freezer.state"), "THAWED");
            let _ = std::fs::remove_dir(&f);
            let _ = std::fs::remove_dir(f.parent().unwrap());
        });
    }
    std::fs::write(freezer.join("freezer.state"), "FROZEN").unwrap();
    let with_path = |c: &mut Value| c["linux"]["cgroupsPath"] = json!(path);
    let (_, o) = run_d(&t, "ct1", with_path);
    o.expect_fail("run in a frozen cgroup", "frozen");
    let b = t.bundle("ct2", |c| {
        set_args(c, &["sleep", "1000"]);
        with_path(c)
    });
    t.create(&t.id("ct2"), &b)
        .expect_fail("create in a frozen cgroup", "frozen");
    assert!(freezer.exists(), "the caller's frozen cgroup was removed");
    // Control: thawed, the same cgroup takes a container.
    std::fs::write(freezer.join("freezer.state"), "THAWED").unwrap();
    let (id, o) = run_d(&t, "ct3", with_path);
    o.expect_ok("run in the thawed cgroup");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

// runc: resources.bats "runc run with RLIMIT_NOFILE"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rlimit_nofile() {
    let Some(t) = T::new() else { return };
    let run = |tag: &str, n: u64| {
        let b = t.bundle(tag, |c| {
            set_args(c, &["/bin/sh", "-c", "ulimit -n"]);
            c["process"]["capabilities"]["bounding"] = json!(["CAP_SYS_RESOURCE"]);
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": n, "soft": n}]);
        });
        let o = t.outlet(&["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)]);
        o.expect_ok("run ulimit -n").stdout.trim().to_string()
    };
    assert_eq!(run("n", 10000), "10000");
    // Control: another value is seen as another value.
    assert_eq!(run("m", 4321), "4321");
}

// runc: update.bats "update cpu period in a pod cgroup with pod limit set"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_in_a_limited_pod() {
    let Some(t) = T::new() else { return };
    let path = cgroups_path(&t, "pod");
    let pod = format!("{CG}/cpu{}", path.rsplit_once('/').unwrap().0);
    std::fs::create_dir(&pod).unwrap();
    std::fs::write(format!("{pod}/cpu.cfs_quota_us"), "50000").unwrap();
    assert_eq!(
        cg_file("cpu", &path.replace("/ct", ""), "cpu.cfs_period_us"),
        "100000"
    );
    let (id, o) = run_d(&t, "ct", |c| c["linux"]["cgroupsPath"] = json!(path));
    o.expect_ok("run in the pod");
    let cur: u64 = cg_file("cpu", &path, "cpu.cfs_period_us").parse().unwrap();
    // Control: 60% is above the pod's 50% and the kernel refuses it.
    let q = (cur * 6 / 10).to_string();
    let o = t.outlet(&["update", &id, "--cpu-quota", &q]);
    assert_eq!(o.code, Some(1), "60% in a 50% pod: {o:?}");
    t.outlet(&[
        "update",
        &id,
        "--cpu-period",
        "10000",
        "--cpu-quota",
        "3000",
    ])
    .expect_ok("30% with a shorter period");
    assert_eq!(cg_file("cpu", &path, "cpu.cfs_period_us"), "10000");
    assert_eq!(cg_file("cpu", &path, "cpu.cfs_quota_us"), "3000");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// `outlet --root R ARGS` in a mount namespace of its own (so no mount
/// reaches the host: `unshare -m` makes everything private first), after
/// `setup` ran there (sh), as runc's mounts_propagation_unsafe.bats does.
fn outlet_in_mntns(t: &T, setup: &str, args: &[&str]) -> Out {
    let script = format!("set -e; {setup}; exec \"$@\"");
    let root = t.root.to_str().unwrap();
    let full = [
        &["-m", "--propagation", "private", "sh", "-c", &script, "sh"][..],
        &[common::OUTLET, "--root", root][..],
        args,
    ]
    .concat();
    let (mut cmd, so, se) = t.command_plain(std::path::Path::new("unshare"), &full);
    let mut child = cmd.spawn().expect("spawn unshare");
    let st = common::wait_timeout(&mut child, std::time::Duration::from_secs(60), "unshare");
    Out::from_files(st, so, se)
}

// runc: mounts_propagation_unsafe.bats "runc run [rootfsPropagation slave]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rootfs_propagation_slave_of_a_shared_host() {
    let Some(t) = T::new() else { return };
    let root_line = |tag: &str, prop: &str| {
        let b = t.bundle(tag, |c| {
            c["linux"]["rootfsPropagation"] = json!(prop);
            set_args(c, &["cat", "/proc/self/mountinfo"]);
        });
        let args = ["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)];
        let o = outlet_in_mntns(&t, "mount --make-rshared /", &args);
        let o = o.expect_ok(tag);
        o.stdout
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap_or_else(|| panic!("no / line: {o:?}"))
            .to_string()
    };
    let l = root_line("slave", "slave");
    assert!(l.contains(" master:") && !l.contains(" shared:"), "{l}");
    // Control: private under the same shared host has neither.
    let l = root_line("private", "private");
    assert!(!l.contains(" master:") && !l.contains(" shared:"), "{l}");
}

// runc: mount_propagation.bats "mount propagation parent mount shared"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn pivot_under_a_shared_parent_mount() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("psh", |c| {
        set_args(c, &["sleep", "1000"]);
        c["linux"]["rootfsPropagation"] = json!("private");
    });
    b.own_rootfs();
    let dir = b.dir.to_str().unwrap();
    let setup = format!(
        "mount --bind {dir} {dir}; mount --make-private {dir}; mount --make-shared {dir}; \
         grep ' {dir} ' /proc/self/mountinfo"
    );
    let id = t.id("psh");
    let o = outlet_in_mntns(&t, &setup, &["run", "-d", "-b", dir, &id]);
    o.expect_ok("run -d under a shared bundle mount");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    // Control: the bundle really was a shared mount of its own (the
    // setup could have left it private, which pivots anyway).
    let bundle_line = o
        .stdout
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(dir))
        .unwrap_or_else(|| panic!("no bundle mount: {o:?}"));
    assert!(bundle_line.contains(" shared:"), "{bundle_line}");
    assert_eq!(t.status(&id), "running");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    assert!(!t.outlet(&["state", &id]).ok());
}

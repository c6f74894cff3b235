//! Resource limits that hold, on this (cgroup v1 hybrid) host, with real
//! containers: the v1 files are written before the application runs and the
//! kernel enforces them. The same checks on cgroup v2 run in tests/vm/.
//! Needs root (skipped otherwise).

mod common;

use common::T;
use serde_json::{Value, json};

const MIB: i64 = 1024 * 1024;

/// The container's cgroup dir of one v1 controller, from state.json.
fn v1_dir(t: &T, id: &str, ctrl: &str) -> std::path::PathBuf {
    let st: Value =
        serde_json::from_slice(&std::fs::read(t.root.join(id).join("state.json")).unwrap())
            .unwrap();
    st["cgroup"]["v1"][ctrl]
        .as_str()
        .unwrap_or_else(|| panic!("no v1 {ctrl} dir in {st}"))
        .into()
}

fn last_json(out: &str) -> Value {
    let line = out.lines().rev().find(|l| l.starts_with('{')).unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("no JSON in {out:?}: {e}"))
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn memory_limit_oom_kills_and_counts() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("oom", |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 64 * MIB});
        c["process"]["args"] = json!(["probe", "mem", "128"]);
    });
    let id = t.id("oom");
    // --keep: the cgroup stays so that its OOM counter can be read.
    let o = t.outlet(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(o.code, Some(137), "128 MiB under a 64 MiB limit: {o:#?}");
    let mem = v1_dir(&t, &id, "memory");
    let limit = std::fs::read_to_string(mem.join("memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), (64 * MIB).to_string());
    let oom = std::fs::read_to_string(mem.join("memory.oom_control")).unwrap();
    let kills: u64 = oom
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no oom_kill in memory.oom_control: {oom}"));
    assert!(kills >= 1, "oom_kill {kills}");
    t.outlet(&["delete", &id]).expect_ok("delete");

    let b = t.bundle("fits", |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 64 * MIB});
        c["process"]["args"] = json!(["probe", "mem", "32"]);
    });
    let o = t.run(&t.id("fits"), &b);
    assert_eq!(o.code, Some(0), "32 MiB under a 64 MiB limit: {o:#?}");
    t.assert_nothing_left("memory");
}

/// One `probe spin 2 4` (two threads, 4 s) and what its cgroup says.
struct Spin {
    /// The container's CPU time (its cgroup's usage), in seconds.
    used: f64,
    wall: f64,
    /// cpu.cfs_quota_us and cpu.cfs_period_us as the kernel has them.
    quota: String,
    period: String,
    /// cpu.stat's nr_throttled: periods in which the kernel stopped the
    /// cgroup for having used its quota.
    throttled: u64,
}

/// The CPU quota holds on a loaded machine too (other engineers build on
/// the same 2 cores): the checks are the kernel's own counters and an
/// upper bound, not a share of the machine the container may not get.
/// Limited to 0.25 CPU: the files read 25000/100000, the kernel throttled
/// it, and it never used more than a quarter of a CPU over its wall time
/// (25% slack). Control, unlimited, the same spin: never throttled. (That
/// it also uses more than the bound is shown, not asserted: on a machine
/// busy enough, two spinning threads get no more than a quarter CPU
/// either. Measured here under load: 1.03 s in 4 s unlimited against
/// 0.92 s limited, which the old assertions, at least 0.75 s limited and
/// twice that unlimited, failed on.)
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cpu_quota_holds() {
    let Some(t) = T::new() else { return };
    let spin = |name: &str, quota: Option<i64>| -> Spin {
        let b = t.bundle(name, |c| {
            if let Some(q) = quota {
                c["linux"]["resources"]["cpu"] = json!({"quota": q, "period": 100000});
            }
            c["process"]["args"] = json!(["probe", "spin", "2", "4"]);
        });
        let id = t.id(name);
        // --keep: the cgroup stays so that its files can be read.
        let o = t.outlet(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), &id]);
        o.expect_ok("spin");
        let r = last_json(&o.stdout);
        let cpu = v1_dir(&t, &id, "cpu");
        let read = |f: &str| {
            std::fs::read_to_string(cpu.join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        let stat = read("cpu.stat");
        let spin = Spin {
            used: r["cgroup_usage_s"]
                .as_f64()
                .unwrap_or_else(|| panic!("no cgroup usage: {r}")),
            wall: r["wall_s"].as_f64().unwrap(),
            quota: read("cpu.cfs_quota_us"),
            period: read("cpu.cfs_period_us"),
            throttled: stat
                .lines()
                .find_map(|l| l.strip_prefix("nr_throttled "))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no nr_throttled in cpu.stat: {stat}")),
        };
        t.outlet(&["delete", &id]).expect_ok("delete");
        spin
    };
    // At most 0.25 CPU over the spin's wall time, give or take 25%.
    let within_quota = |s: &Spin| s.used <= 0.25 * s.wall * 1.25;
    let q = spin("quarter", Some(25000));
    let what = format!(
        "0.25 CPU: {:.3}s of CPU in {:.2}s wall, quota {}/{}, throttled {} times",
        q.used, q.wall, q.quota, q.period, q.throttled
    );
    eprintln!("{what}");
    assert_eq!(
        (q.quota.as_str(), q.period.as_str()),
        ("25000", "100000"),
        "{what}"
    );
    assert!(q.throttled > 0, "the kernel never throttled it: {what}");
    assert!(within_quota(&q), "more than the quota: {what}");
    let f = spin("free", None);
    let what = format!(
        "unlimited: {:.3}s of CPU in {:.2}s wall, quota {}, throttled {} times",
        f.used, f.wall, f.quota, f.throttled
    );
    eprintln!("{what}");
    assert_eq!(f.throttled, 0, "control: {what}");
    eprintln!(
        "unlimited within the quarter-CPU bound: {} (false where the machine had room)",
        within_quota(&f)
    );
    t.assert_nothing_left("cpu");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn pids_limit_caps_a_fork_loop() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("pids", |c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 16});
        c["process"]["args"] = json!(["probe", "forks", "64"]);
    });
    let o = t.run(&t.id("pids"), &b);
    assert_eq!(o.code, Some(0), "the container survives: {o:#?}");
    let r = last_json(&o.stdout);
    let n = r["succeeded"].as_i64().unwrap();
    assert!(n < 16 && n > 0, "forks under pids.max 16: {r}");
    t.assert_nothing_left("pids");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn the_missions_slice_is_visible_inside() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("slice", |c| {
        c["linux"]["resources"]["cpu"] = json!({"quota": 25000, "period": 100000});
        c["linux"]["resources"]["memory"] = json!({"limit": 512 * MIB});
        c["process"]["args"] = json!(["probe", "cgroup"]);
    });
    let o = t.run(&t.id("slice"), &b);
    o.expect_ok("probe cgroup");
    let r = last_json(&o.stdout);
    let v1 = &r["v1"];
    let num = |k: &str| -> String {
        v1[k]
            .as_str()
            .map(|s| s.trim().to_string())
            .or_else(|| v1[k].as_i64().map(|n| n.to_string()))
            .unwrap_or_else(|| panic!("{k} missing: {r}"))
    };
    assert_eq!(num("cpu/cpu.cfs_quota_us"), "25000", "{r}");
    assert_eq!(num("cpu/cpu.cfs_period_us"), "100000", "{r}");
    assert_eq!(num("memory/memory.limit_in_bytes"), "536870912", "{r}");
    t.assert_nothing_left("slice");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn device_cgroup_refuses_what_is_not_allowed() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("dev", |c| {
        // CAP_MKNOD is granted, so only the device cgroup can refuse.
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        }
        c["root"]["readonly"] = json!(false);
        common::sh(
            c,
            "head -c 1 /dev/null; echo null=$?; \
             probe mknod /dev/xsda b 8 0 > /out/mknod.json; echo mknod=$?; \
             probe read /dev/xsda > /out/open.json; echo open=$?",
        );
    });
    let o = t.run(&t.id("dev"), &b);
    o.expect_ok("run");
    assert!(o.stdout.contains("null=0"), "{o:#?}");
    // runc's default `b *:* m`: the node can be made, never opened.
    assert!(o.stdout.contains("mknod=0"), "mknod of sda refused: {o:#?}");
    assert!(o.stdout.contains("open=1"), "open of sda allowed: {o:#?}");
    let r = b.wait_json("open.json");
    assert_eq!(r["errno"], 1, "EPERM expected: {r}");
    t.assert_nothing_left("devices");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn unified_keys_are_refused_on_a_v1_host() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("uni", |c| {
        c["linux"]["resources"]["unified"] = json!({"../cgroup.procs": "0"});
    });
    let id = t.id("uni");
    let o = t.create(&id, &b);
    o.expect_fail("unified escape", "unified");
    assert!(!t.state_dir_exists(&id));
    let left: Vec<_> = common::cgroup_dirs_for(&id)
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    assert!(
        left.is_empty(),
        "cgroup left after a refused create: {left:?}"
    );
}

/// The init and an exec'd process sit in the container's cgroup in every
/// v1 hierarchy (they move themselves in through the `tasks` files the
/// runtime opened for them), and the limits bind them: the memory limit
/// read from the cgroup they are in.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn init_and_exec_join_every_hierarchy() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("join", |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 64 * MIB});
        c["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000});
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let id = t.id("join");
    let init = t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let pid_file = b.dir.join("exec.pid");
    t.outlet(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "1000",
    ])
    .expect_ok("exec --detach");
    let exec: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    t.track_pid(exec);

    let st: Value =
        serde_json::from_slice(&std::fs::read(t.root.join(&id).join("state.json")).unwrap())
            .unwrap();
    let dirs = st["cgroup"]["v1"].as_object().expect("v1 cgroup paths");
    assert!(
        dirs.contains_key("memory") && dirs.contains_key("cpu"),
        "{st}"
    );
    for (ctrl, dir) in dirs {
        let procs = std::fs::read_to_string(format!("{}/cgroup.procs", dir.as_str().unwrap()))
            .unwrap_or_else(|e| panic!("{ctrl}: {e}"));
        let pids: Vec<i32> = procs.lines().map(|l| l.parse().unwrap()).collect();
        assert!(pids.contains(&init), "{ctrl}: init {init} not in {pids:?}");
        assert!(pids.contains(&exec), "{ctrl}: exec {exec} not in {pids:?}");
    }
    let limit =
        std::fs::read_to_string(v1_dir(&t, &id, "memory").join("memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), (64 * MIB).to_string());
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after delete");
}

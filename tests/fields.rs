//! Fields of the process and linux sections that the init applies with one
//! syscall each, checked from inside the container with probe (scheduler,
//! I/O priority, NUMA policy, personality, time namespace offsets), each
//! with a control container without the field that reads differently, and
//! their invalid values refused at create, naming the field, with nothing
//! left behind. Needs root (skipped otherwise).

mod common;

use common::T;
use serde_json::{Value, json};

/// The four fields at once, and a control container without them.
#[test]
fn scheduler_io_priority_memory_policy_personality_from_inside() {
    let Some(t) = T::new() else { return };
    let set = t.bundle("set", |c| {
        c["process"]["scheduler"] = json!({
            "policy": "SCHED_FIFO", "priority": 10,
            "flags": ["SCHED_FLAG_RESET_ON_FORK"]
        });
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
        // RT group scheduling (cgroup v1 here) gives a new cgroup no
        // real-time budget: SCHED_FIFO needs some.
        c["linux"]["resources"]["cpu"] =
            json!({"realtimePeriod": 1000000, "realtimeRuntime": 10000});
        // probe is exec'd by the shell: the reset-on-fork flag would put a
        // forked child back to SCHED_OTHER, an exec keeps the policy.
        common::sh(c, "uname -m > /out/uname; exec probe report");
    });
    let control = t.bundle("control", |c| {
        common::sh(c, "uname -m > /out/uname; exec probe report");
    });
    let mut seen = Vec::new();
    for b in [&set, &control] {
        let id = t.id("f");
        let out = t.run(&id, b);
        out.expect_ok("run");
        let uname = std::fs::read_to_string(b.out.join("uname")).unwrap();
        seen.push((out.json(), uname.trim().to_string()));
    }
    let (r, uname) = &seen[0];
    assert_eq!(r["sched"]["policy"], 1, "SCHED_FIFO: {}", r["sched"]);
    assert_eq!(r["sched"]["priority"], 10, "{}", r["sched"]);
    assert_eq!(r["sched"]["reset_on_fork"], true, "{}", r["sched"]);
    assert_eq!(r["ioprio"], 24576, "IOPRIO_CLASS_IDLE << 13");
    assert_eq!(r["numa_policy"], "bind:0");
    assert_eq!(uname, "i686");
    assert_eq!(r["machine"], "i686");

    // The control reads the defaults: the checks above can fail.
    let (c, uname) = &seen[1];
    assert_eq!(c["sched"]["policy"], 0, "{}", c["sched"]);
    assert_eq!(c["sched"]["priority"], 0);
    assert_ne!(c["ioprio"], 24576);
    assert_eq!(c["numa_policy"], "default");
    assert_eq!(uname, "x86_64");
}

/// The same process fields on `exec` (they belong to the process).
#[test]
fn exec_applies_scheduler_and_io_priority() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
        c["linux"]["resources"]["cpu"] =
            json!({"realtimePeriod": 1000000, "realtimeRuntime": 10000});
    });
    let id = t.id("exec");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let process = t.dir.join("process.json");
    let mut p: Value = b.config()["process"].clone();
    p["args"] = json!(["probe", "report"]);
    p["scheduler"] = json!({"policy": "SCHED_RR", "priority": 7});
    p["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 3});
    std::fs::write(&process, serde_json::to_vec(&p).unwrap()).unwrap();
    let out = t.outlet(&["exec", "--process", process.to_str().unwrap(), &id]);
    out.expect_ok("exec");
    let r = out.json();
    assert_eq!(r["sched"]["policy"], 2, "SCHED_RR: {}", r["sched"]);
    assert_eq!(r["sched"]["priority"], 7);
    assert_eq!(r["ioprio"], 2 << 13 | 3);
    // Control: an exec without them.
    let out = t.outlet(&["exec", &id, "probe", "report"]);
    out.expect_ok("exec control");
    assert_eq!(out.json()["sched"]["policy"], 0);
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// Each invalid value fails create with exit 1 and the field's name,
/// before any side effect; a valid neighbour of each is accepted (the
/// other tests run it).
#[test]
fn invalid_values_are_refused_naming_the_field() {
    let Some(t) = T::new() else { return };
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "prio-other",
            Box::new(|c| {
                c["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "priority": 10})
            }),
            "process.scheduler.priority",
        ),
        (
            "flag",
            Box::new(|c| {
                c["process"]["scheduler"] =
                    json!({"policy": "SCHED_OTHER", "flags": ["SCHED_RESET_ON_FORK"]})
            }),
            "process.scheduler.flags",
        ),
        (
            "policy",
            Box::new(|c| c["process"]["scheduler"] = json!({"policy": 5})),
            "process.scheduler",
        ),
        (
            "ioclass",
            Box::new(|c| {
                c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_NOPE", "priority": 0})
            }),
            "process.ioPriority",
        ),
        (
            "iolevel",
            Box::new(|c| {
                c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 8})
            }),
            "process.ioPriority.priority",
        ),
        (
            "bind-nonodes",
            Box::new(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND"})),
            "linux.memoryPolicy.nodes",
        ),
        (
            "mpol-mode",
            Box::new(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_NOPE", "nodes": "0"})),
            "linux.memoryPolicy",
        ),
        (
            "persona",
            Box::new(|c| c["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["x"]})),
            "linux.personality.flags",
        ),
        (
            "persona-domain",
            Box::new(|c| c["linux"]["personality"] = json!({"domain": "LINUX64"})),
            "linux.personality",
        ),
        (
            "offsets-nons",
            Box::new(|c| c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 10}})),
            "linux.timeOffsets",
        ),
        (
            "offsets-clock",
            Box::new(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "time"}));
                c["linux"]["timeOffsets"] = json!({"realtime": {"secs": 10}});
            }),
            "linux.timeOffsets.realtime",
        ),
    ];
    for (tag, edit, needle) in cases {
        let b = t.bundle(tag, |c| edit(c));
        let id = t.id(tag);
        t.create(&id, &b).expect_fail(tag, needle);
        t.assert_nothing_left(tag);
    }
}

/// A new time namespace with offsets: CLOCK_MONOTONIC and CLOCK_BOOTTIME
/// inside are the host's plus the offsets, for the init and for an exec;
/// the control (no time namespace) reads the host's clocks.
#[test]
fn time_namespace_offsets_from_inside() {
    let Some(t) = T::new() else { return };
    const MONO: i64 = 1_000_000;
    const BOOT: i64 = 2_000_000;
    let host = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime fills a valid local.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec
    };
    let with = t.bundle("time", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({
            "monotonic": {"secs": MONO},
            "boottime": {"secs": BOOT, "nanosecs": 0}
        });
        c["process"]["args"] = json!(["sh", "-c", "probe report > /out/init.json; sleep 1000"]);
    });
    let control = t.bundle("control", |_| {});
    let before = (host(libc::CLOCK_MONOTONIC), host(libc::CLOCK_BOOTTIME));
    let id = t.id("time");
    t.create_ok(&id, &with);
    t.outlet(&["start", &id]).expect_ok("start");
    let init = with.wait_json("init.json");
    let exec = t.outlet(&["exec", &id, "probe", "report"]);
    exec.expect_ok("exec");
    let exec = exec.json();
    let cid = t.id("control");
    let out = t.run(&cid, &control);
    out.expect_ok("run control");
    let ctl = out.json();
    let after = (host(libc::CLOCK_MONOTONIC), host(libc::CLOCK_BOOTTIME));
    let within = |v: &Value, lo: i64, hi: i64| {
        let v = v.as_i64().unwrap();
        v >= lo && v <= hi
    };
    for (who, r) in [("init", &init), ("exec", &exec)] {
        let c = &r["clocks"];
        assert!(
            within(&c["monotonic"], before.0 + MONO, after.0 + MONO),
            "{who}: monotonic {c} not host {before:?}..{after:?} + {MONO}"
        );
        assert!(
            within(&c["boottime"], before.1 + BOOT, after.1 + BOOT),
            "{who}: boottime {c} not host {before:?}..{after:?} + {BOOT}"
        );
        assert_ne!(r["namespaces"]["time"], json!(common::host_ns("time")));
    }
    let c = &ctl["clocks"];
    assert!(within(&c["monotonic"], before.0, after.0), "control: {c}");
    assert!(within(&c["boottime"], before.1, after.1), "control: {c}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

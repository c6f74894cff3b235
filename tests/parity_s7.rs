//! runc parity left over from session 6: `events --stats` carries every
//! key runc 1.1.5 prints, with numbers that follow a known load; invalid
//! capability names fail as the spec says; the commands engines call.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{T, sh};
use serde_json::{Value, json};

fn unified_host() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Waits for the container to create `/out/<name>`.
fn wait_out(b: &common::Bundle, name: &str) {
    let p = b.out.join(name);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !p.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every key runc 1.1.5 prints at the top of the data and in memory, also
/// when zero: runc's Go structs are never left out.
fn assert_runc_keys(d: &Value) {
    for k in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ] {
        assert!(d.get(k).is_some(), "data.{k} missing: {d}");
    }
    assert!(d["network_interfaces"].is_null(), "{d}");
    for k in ["usage", "swap", "kernel", "kernelTCP"] {
        let e = &d["memory"][k];
        assert!(e["limit"].is_u64() && e["failcnt"].is_u64(), "memory.{k}: {d}");
    }
    for k in ["kernel", "user"] {
        assert!(d["cpu"]["usage"][k].is_u64(), "cpu.usage.{k}: {d}");
    }
    let cs = &d["cpuset"];
    for k in [
        "cpu_exclusive",
        "mem_hardwall",
        "mem_exclusive",
        "memory_migrate",
        "memory_spread_page",
        "memory_spread_slab",
        "memory_pressure",
        "sched_load_balance",
        "sched_relax_domain_level",
    ] {
        assert!(cs[k].is_number(), "cpuset.{k}: {d}");
    }
}

/// A container pinned to CPU 1 that puts 24 MiB in its /dev/shm (tmpfs
/// pages are charged to its memory cgroup) and spins the CPU for about a
/// few hundred milliseconds (a 300000-round shell loop), then sleeps. The numbers must follow: memory usage
/// at least the 24 MiB and at most the 128 MiB limit; on v1, CPU time
/// on CPU 1 (percpu, percpu_user + percpu_kernel) and next to none on
/// CPU 0; the cpuset lists [1] and memory node [0]. The control: the
/// same read before the load starts shows memory usage under 24 MiB, so
/// the check can fail.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn events_stats_keys_and_numbers_follow_the_load() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("load", |c| {
        sh(
            c,
            "while [ ! -e /out/go ]; do sleep 0.05; done; \
             head -c 25165824 /dev/zero > /dev/shm/fill; \
             n=0; while [ $n -lt 300000 ]; do n=$((n+1)); done; \
             touch /out/done; exec sleep 1000",
        );
        c["linux"]["resources"]["memory"] = json!({"limit": 134217728});
        c["linux"]["resources"]["cpu"] = json!({"cpus": "1", "mems": "0"});
    });
    let id = t.id("load");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");

    let stats = || -> Value {
        let o = t.outlet(&["events", "--stats", &id]);
        o.expect_ok("events --stats");
        o.json()["data"].clone()
    };
    let before = stats();
    assert_runc_keys(&before);
    let mib24 = 24 << 20;
    let usage = |d: &Value| d["memory"]["usage"]["usage"].as_u64().unwrap();
    assert!(usage(&before) < mib24, "control: before the load {before}");

    std::fs::write(b.out.join("go"), "").unwrap();
    wait_out(&b, "done");
    let d = stats();
    assert_runc_keys(&d);
    assert!(usage(&d) >= mib24, "memory usage after 24 MiB in shm: {d}");
    assert_eq!(d["memory"]["usage"]["limit"], 134217728, "{d}");
    let total = d["cpu"]["usage"]["total"].as_u64().unwrap();
    assert!(total >= 20_000_000, "cpu total after the spin: {d}");

    if unified_host() {
        // runc 1.1 reads no cpuset or per-CPU statistics on v2.
        assert!(d["cpuset"].get("cpus").is_none(), "{d}");
        assert_eq!(d["cpuset"]["sched_relax_domain_level"], 0, "{d}");
        assert!(d["cpu"]["usage"].get("percpu").is_none(), "{d}");
        assert_eq!(d["memory"]["kernel"], json!({"failcnt": 0, "limit": 0}));
        // swap is memory+swap, as v1's memsw.
        assert!(d["memory"]["swap"]["usage"].as_u64() >= Some(usage(&d)), "{d}");
    } else {
        assert_eq!(d["cpuset"]["cpus"], json!([1]), "{d}");
        assert_eq!(d["cpuset"]["mems"], json!([0]), "{d}");
        let per = |k: &str, cpu: usize| d["cpu"]["usage"][k][cpu].as_u64().unwrap();
        assert_eq!(d["cpu"]["usage"]["percpu"].as_array().unwrap().len(), 2);
        let sum = per("percpu", 0) + per("percpu", 1);
        assert!(sum.abs_diff(total) <= total / 100, "percpu sum {sum}: {d}");
        assert!(per("percpu", 1) >= 20 * per("percpu", 0).max(1), "{d}");
        // usage_all's split is tick-sampled: near, not equal, to percpu.
        let split = per("percpu_user", 1) + per("percpu_kernel", 1);
        assert!(split >= per("percpu", 1) / 4, "{d}");
        assert!(d["memory"]["kernelTCP"]["limit"].as_u64() > Some(0), "{d}");
    }
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the stats container");
}

//! The attacker's review of session 14 (round 12): what earlier rounds
//! only read or reasoned about, tried for real from inside a running
//! container; session 13's name=systemd and hybrid cgroup2 joins; restore
//! into a hostile rootfs. docs/known-gaps.md, "Session 14, round 12",
//! lists what was tried and held, and what is left open.
//!
//! 1. `events --stats` against a container with a writable cgroupfs. The
//!    statistics are read by file name in the container's directories,
//!    and some names are files this kernel does not have (CFQ's
//!    `blkio.io_service_bytes_recursive` and `blkio.io_serviced_recursive`
//!    on 6.x; the throttle layer's are read instead). The container can
//!    `mkdir` a sub-cgroup by such a name; the read then failed with
//!    EISDIR and `events --stats` (and the `events` stream) failed for as
//!    long as the directory stayed. Fixed: a directory where a kernel file
//!    is read counts as missing (`cgroups::fs::read_opt`). Control
//!    `OUTLET_CGROUP_READ_DIRS=1`: `events --stats` fails "Is a
//!    directory".
//!
//! Needs root (ignored otherwise), the host's v1 hierarchies and a debug
//! build (the controls).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{OUTLET, T, sh};
use serde_json::json;

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (its OUTLET_* controls)");
    }
}

/// The spec's cgroup mount made read-write: the container may make
/// cgroups below its own.
fn rw_cgroup(c: &mut serde_json::Value) {
    for m in c["mounts"].as_array_mut().unwrap() {
        if m["type"] == "cgroup" {
            m["options"] = json!(["nosuid", "noexec", "nodev", "relatime", "rw"]);
        }
    }
}

/// Every file name the v1 statistics read (src/cgroups/stats), with the
/// suffixes the memory entries add. The container tries each in each
/// hierarchy: mkdir fails (EEXIST) where the kernel has the file, and
/// makes a sub-cgroup where it does not.
const STATS_NAMES: &str = "blkio.io_service_bytes_recursive blkio.io_serviced_recursive \
    blkio.throttle.io_service_bytes_recursive blkio.throttle.io_serviced_recursive \
    cpu.stat cpuacct.stat cpuacct.usage cpuacct.usage_all cpuacct.usage_percpu \
    cpuset.cpu_exclusive cpuset.mem_exclusive cpuset.cpus cpuset.mems \
    cpuset.memory_migrate cpuset.memory_pressure cpuset.memory_spread_page \
    cpuset.memory_spread_slab cpuset.mem_hardwall cpuset.memory_pressure_enabled \
    cpuset.sched_load_balance cpuset.sched_relax_domain_level \
    memory.stat memory.usage_in_bytes memory.max_usage_in_bytes memory.limit_in_bytes \
    memory.failcnt memory.memsw.usage_in_bytes memory.memsw.max_usage_in_bytes \
    memory.memsw.limit_in_bytes memory.memsw.failcnt memory.kmem.usage_in_bytes \
    memory.kmem.max_usage_in_bytes memory.kmem.limit_in_bytes memory.kmem.failcnt \
    memory.kmem.tcp.usage_in_bytes memory.kmem.tcp.max_usage_in_bytes \
    memory.kmem.tcp.limit_in_bytes memory.kmem.tcp.failcnt pids.current pids.max";

/// Finding 1. A container makes a sub-cgroup named like every statistics
/// file the kernel lacks, in every hierarchy; `events --stats` still
/// answers (and reads the throttle layer's blkio counters), and `delete`
/// leaves nothing. Control (OUTLET_CGROUP_READ_DIRS=1): the same call
/// fails "Is a directory", naming the file.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_sub_cgroup_named_like_a_stats_file_does_not_break_events_stats() {
    needs_debug_build();
    if !Path::new("/sys/fs/cgroup/blkio").is_dir() {
        panic!("no v1 blkio hierarchy on this host (the v2 VM runs the v2 side)");
    }
    let Some(t) = T::new() else { return };
    let b = t.bundle("stats-dirs", |c| {
        rw_cgroup(c);
        sh(
            c,
            &format!(
                "for h in /sys/fs/cgroup/*; do for n in {STATS_NAMES}; do \
                 mkdir $h/$n 2>/dev/null && echo $h/$n >> /out/made; done; done; \
                 echo done > /out/ready; exec sleep 1000"
            ),
        );
    });
    let id = t.id("stats-dirs");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.out.join("ready").exists() {
        assert!(Instant::now() < deadline, "the container never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The attack is there: the kernel lacks CFQ's files, so the container
    // made a directory by that name (if a kernel ever has them again, the
    // test says so rather than passing without an attack).
    let made = std::fs::read_to_string(b.out.join("made")).unwrap_or_default();
    assert!(
        made.contains("/sys/fs/cgroup/blkio/blkio.io_serviced_recursive"),
        "the container made no sub-cgroup named like a stats file: {made:?}"
    );

    let o = t.outlet(&["events", "--stats", &id]);
    o.expect_ok("events --stats with sub-cgroups named like stats files");
    let v = o.json();
    assert_eq!(v["type"], "stats", "{v}");
    assert!(v["data"]["pids"]["current"].as_u64() >= Some(1), "{v}");

    // Control: a directory read as a file fails the whole call.
    let o = t.call_env(
        Path::new(OUTLET),
        &["events", "--stats", &id],
        &[],
        &[("OUTLET_CGROUP_READ_DIRS", "1")],
    );
    o.expect_fail("the control's events --stats", "Is a directory");

    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    t.assert_nothing_left("after delete");
}

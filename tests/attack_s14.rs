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
//! 2. A hybrid host's cgroup2 directory frozen by the container. Session
//!    13 places the container (and exec's helper, by its clone) in
//!    /sys/fs/cgroup/unified/<id>. A container with CAP_SYS_ADMIN and a
//!    cgroup namespace mounts cgroup2 (rooted at that directory) and
//!    writes 1 to its `cgroup.freeze`. outlet's pause uses the v1
//!    freezer, so `state` still says running and `exec` goes ahead: its
//!    helper is frozen on arrival and the exec hangs. `delete --force`
//!    then killed the container (a frozen v2 task dies of SIGKILL) but
//!    exited 0 leaving the directory, frozen, with the helper in it (and
//!    the exec hanging on); a later container given the same cgroup was
//!    created into the frozen directory and hung its `create`, and,
//!    finding the directory there, did not own its cgroup. Fixed:
//!    delete's stop and `kill KILL` thaw the container's hybrid directory
//!    and every cgroup below it (`Cgroup::thaw_hybrid`) once the init is
//!    dead, and `destroy` does once a plain rmdir of it failed (an init
//!    killed by pid leaves a stopped container with the helper frozen
//!    there). Not before the init is dead: the first version thawed
//!    before delete's kill, and without a pid namespace the helper went
//!    on into the still living container and the exec succeeded (once in
//!    CI). The exec must fail in every case here. Control
//!    `OUTLET_NO_HYBRID_THAW=1`: the directory and the helper stay.
//!
//! 3. `checkpoint` of that container. CRIU seizes the tasks and runs its
//!    parasite in them; a task frozen by cgroup2 never ran it, and CRIU
//!    (so `outlet checkpoint`) waited in wait4 for ever (killed at 120 s
//!    by hand; the task was left at CRIU's injected code). Fixed: the dump
//!    thaws the hybrid directory once the v1 freezer holds every task, so
//!    none can freeze it again before CRIU seizes them. Control
//!    `OUTLET_NO_HYBRID_THAW=1`: the checkpoint is still running after
//!    5 s (then CRIU is killed).
//!
//! Needs root (ignored otherwise), the host's v1 hierarchies and a debug
//! build (the controls); test 3 also CRIU 4.1.1 (tests/criu_support).

mod common;
mod criu_support;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{OUTLET, T, sh};
use serde_json::json;

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
    common::needs_debug_build();
    if !Path::new("/sys/fs/cgroup/blkio").is_dir() {
        panic!("no v1 blkio hierarchy on this host (the v2 VM runs the v2 side)");
    }
    let Some(t) = T::new() else { return };
    let b = t.bundle("stats-dirs", |c| {
        common::rw_cgroup(c);
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

/// A container with CAP_SYS_ADMIN (and the spec's cgroup namespace) that
/// mounts cgroup2, rooted at its hybrid directory, and freezes it.
fn freezing_bundle(t: &T, tag: &str, pid_ns: bool) -> common::Bundle {
    t.bundle(tag, |c| {
        if !pid_ns {
            common::drop_ns(c, "pid");
        }
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_ADMIN"));
        }
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
            "options": ["rw", "nosuid", "nodev"]
        }));
        sh(
            c,
            "mkdir /tmp/u && mount -t cgroup2 none /tmp/u 2>/out/err && \
             echo ready > /out/ready && echo 1 > /tmp/u/cgroup.freeze; exec sleep 1000",
        );
    })
}

/// A started `freezing_bundle` container: its bundle, id and hybrid
/// cgroup2 directory.
fn start_freezing(t: &T, tag: &str, pid_ns: bool) -> (common::Bundle, String, PathBuf) {
    let b = freezing_bundle(t, tag, pid_ns);
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let hybrid = common::cgroup_dirs_for(&id)
        .into_iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/unified") && d.exists())
        .expect("the container's hybrid cgroup2 directory");
    (b, id, hybrid)
}

/// Waits up to 10 s for `done`, failing with `what`.
#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes 0 to `cgroup.freeze` in `dir` and every cgroup below it.
fn thaw_tree(dir: &Path) {
    let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            thaw_tree(&e.path());
        }
    }
}

/// Removes `dir` and every cgroup below it, children first.
fn rmdir_tree(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            rmdir_tree(&e.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Pids listed in `dir`'s cgroup.procs whose command is outlet.
fn outlet_procs_in(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|p: &i32| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "outlet")
        })
        .collect()
}

/// Finding 2. The container freezes its hybrid cgroup2 directory; an
/// `exec` hangs in it; `delete --force` (with and without a pid
/// namespace), and a plain `delete` once the init was killed by pid,
/// must leave nothing, and the exec must end. Control
/// (OUTLET_NO_HYBRID_THAW=1): delete exits 0 and leaves the directory
/// with outlet's helper frozen in it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_frozen_hybrid_cgroup_does_not_outlive_delete() {
    common::needs_debug_build();
    if !Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists()
        || !Path::new("/sys/fs/cgroup/freezer").is_dir()
    {
        panic!("not a hybrid host (cgroup2 at /sys/fs/cgroup/unified beside v1)");
    }
    let Some(t) = T::new() else { return };
    // (tag, pid namespace, control, the init killed first by pid so that
    // a plain delete of the stopped container meets the frozen helper)
    for (tag, pid_ns, control, stopped) in [
        ("hyfrozen", true, false, false),
        ("hyfrozen-hostpid", false, false, false),
        ("hyfrozen-stopped", true, false, true),
        ("hyfrozen-control", true, true, false),
        ("hyfrozen-stopped-control", true, true, true),
    ] {
        let (b, id, hybrid) = start_freezing(&t, tag, pid_ns);
        // Cleanup on any exit: thaw by hand, end the exec, remove the
        // directory (a no-op once delete has done it).
        let exec: Arc<Mutex<Option<Child>>> = Arc::default();
        let (h, e) = (hybrid.clone(), exec.clone());
        t.on_cleanup_first(move || {
            thaw_tree(&h);
            if let Some(mut c) = e.lock().unwrap().take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            wait_for_gone(&h);
        });
        wait_for(
            &format!(
                "{tag}: the container did not freeze its cgroup2 directory: {:?}",
                std::fs::read_to_string(b.out.join("err"))
            ),
            || {
                b.out.join("ready").exists()
                    && std::fs::read_to_string(hybrid.join("cgroup.events"))
                        .is_ok_and(|s| s.contains("frozen 1"))
            },
        );
        assert_eq!(t.status(&id), "running", "{tag}: outlet sees no pause");

        let (mut cmd, _, se) = t.command(Path::new(OUTLET), &["exec", &id, "true"]);
        *exec.lock().unwrap() = Some(cmd.spawn().expect("spawn outlet exec"));
        wait_for(
            &format!("{tag}: exec's helper never reached the directory"),
            || !outlet_procs_in(&hybrid).is_empty(),
        );
        std::thread::sleep(Duration::from_millis(300));
        let held = exec.lock().unwrap().as_mut().unwrap().try_wait().unwrap();
        assert!(held.is_none(), "{tag}: the exec was not held: {held:?}");

        let env: &[(&str, &str)] = if control {
            &[("OUTLET_NO_HYBRID_THAW", "1")]
        } else {
            &[]
        };
        let delete: &[&str] = if stopped {
            let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
            // SAFETY: kill(2) of the container's init, whose pid the state
            // just gave (the container is alive: its init is frozen).
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
            t.wait_status(&id, "stopped");
            &["delete", &id]
        } else {
            &["delete", "--force", &id]
        };
        let o = t.call_env(Path::new(OUTLET), delete, &[], env);
        o.expect_ok(&format!("{tag}: {delete:?}"));
        if control {
            std::thread::sleep(Duration::from_millis(300));
            assert!(hybrid.exists(), "{tag}: the control left no directory");
            assert!(
                !outlet_procs_in(&hybrid).is_empty(),
                "{tag}: the control's helper is not frozen in the directory"
            );
            thaw_tree(&hybrid);
        }
        // The exec ends (it cannot join a dead container), and then
        // nothing is left.
        wait_for(&format!("{tag}: the exec still hangs"), || {
            exec.lock()
                .unwrap()
                .as_mut()
                .unwrap()
                .try_wait()
                .unwrap()
                .is_some()
        });
        let st = exec.lock().unwrap().take().unwrap().wait().unwrap();
        assert!(
            !st.success(),
            "{tag}: the exec succeeded in a deleted container: {:?}",
            std::fs::read_to_string(&se)
        );
        if control {
            wait_for_gone(&hybrid);
        }
        let left = t.settle();
        assert!(left.is_empty(), "{tag}: left behind: {left:#?}");
    }
}

/// Removes a hybrid directory the control left (its helper gone by now).
fn wait_for_gone(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while dir.exists() && Instant::now() < deadline {
        rmdir_tree(dir);
        if dir.exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The pids of every descendant of `pid` (children first found first).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // The fields after the command's closing parenthesis: state, ppid.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(p) {
                out.push(child);
                todo.push(child);
            }
        }
    }
    out
}

/// Finding 3. `checkpoint` of a container that froze its hybrid cgroup2
/// directory finishes (and removes the container, as a checkpoint
/// without --leave-running does). Control (OUTLET_NO_HYBRID_THAW=1): it
/// is still running after 5 s; CRIU is then killed, the checkpoint
/// fails, and a delete removes the container.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn checkpoint_of_a_frozen_hybrid_cgroup_does_not_hang() {
    common::needs_debug_build();
    if !Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
        panic!("not a hybrid host (cgroup2 at /sys/fs/cgroup/unified beside v1)");
    }
    let Some(t) = T::new() else { return };
    for control in [false, true] {
        let tag = if control {
            "ckfrozen-control"
        } else {
            "ckfrozen"
        };
        let (b, id, hybrid) = start_freezing(&t, tag, true);
        let h = hybrid.clone();
        t.on_cleanup_first(move || thaw_tree(&h));
        wait_for(&format!("{tag}: the container did not freeze"), || {
            b.out.join("ready").exists()
                && std::fs::read_to_string(hybrid.join("cgroup.events"))
                    .is_ok_and(|s| s.contains("frozen 1"))
        });
        let image = t.dir.join(format!("img-{tag}"));
        let args = [
            "--criu",
            criu_support::criu(),
            "checkpoint",
            "--image-path",
            image.to_str().unwrap(),
            &id,
        ];
        let (mut cmd, so, se) = t.command(Path::new(OUTLET), &args);
        if control {
            cmd.env("OUTLET_NO_HYBRID_THAW", "1");
        }
        let mut child = cmd.spawn().expect("spawn outlet checkpoint");
        let limit = Duration::from_secs(if control { 5 } else { 30 });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break Some(st);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if control {
            assert!(
                status.is_none(),
                "{tag}: the control's checkpoint ended: {status:?}"
            );
            // CRIU first, so that outlet reaps it and fails as it would.
            for p in descendants(child.id()) {
                // SAFETY: kill(2) of CRIU, a child of the checkpoint this
                // test started.
                unsafe { libc::kill(p as i32, libc::SIGKILL) };
            }
            let st = child.wait().unwrap();
            assert!(
                !st.success(),
                "{tag}: the checkpoint succeeded with CRIU killed"
            );
            t.outlet(&["delete", "--force", &id])
                .expect_ok(&format!("{tag}: delete --force"));
        } else {
            let st = status.unwrap_or_else(|| {
                for p in descendants(child.id()) {
                    // SAFETY: as above, CRIU under this test's checkpoint.
                    unsafe { libc::kill(p as i32, libc::SIGKILL) };
                }
                let _ = child.kill();
                let _ = child.wait();
                panic!("{tag}: the checkpoint still runs after {limit:?}")
            });
            let out = common::Out::from_files(st, so, se);
            out.expect_ok(&format!("{tag}: checkpoint"));
            assert!(!t.state_dir_exists(&id), "{tag}: the state stayed");
        }
        let left = t.settle();
        assert!(left.is_empty(), "{tag}: left behind: {left:#?}");
    }
}

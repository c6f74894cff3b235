//! cgroups on the real host (cgroup v1 hybrid here; also runs on a unified
//! host): plan, create, limits read back from the kernel's files, a real
//! process moved in, frozen, thawed, killed, and everything removed. Needs
//! root (marked ignored when not built by root; see tests/common/mod.rs).
//! Every cgroup made here sits under a unique `outlet-test-*` directory and
//! is removed, also when an assertion fails.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{SystemTime, UNIX_EPOCH};

use oci_spec::runtime::LinuxResources;
use outlet::cgroups::{Cgroup, CgroupPaths};

/// See tests/common/mod.rs: root-only tests are marked ignored unless the
/// build ran as root; run without root after all, they fail here.
fn is_root() -> bool {
    // SAFETY: geteuid has no side effects.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(root, "this test needs root");
    root
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("outlet-test-{tag}-{}-{nanos}", std::process::id())
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", dir.display()))
}

/// Is `path` a cgroup2 mount? (The magic's integer type differs between
/// libc targets, hence the cast.)
#[allow(clippy::unnecessary_cast)]
fn is_cgroup2(path: &str) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 as i64 == 0x6367_7270)
}

fn unified_host() -> bool {
    is_cgroup2("/sys/fs/cgroup")
}

/// Removes the cgroup and kills the child whatever happens in the test.
struct Guard {
    paths: CgroupPaths,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Cgroup::from_paths(self.paths.clone()).destroy();
    }
}

fn all_dirs(p: &CgroupPaths) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = p
        .unified
        .iter()
        .cloned()
        .chain(p.v1.values().cloned())
        .collect();
    v.extend(p.created.iter().cloned());
    v.sort();
    v.dedup();
    v
}

/// Make the child write itself into each dir's cgroup.procs between fork
/// and exec. The paths are turned into C strings before the fork: the test
/// harness is multi-threaded, so the child must not allocate.
fn enter_before_exec(cmd: &mut Command, dirs: &[PathBuf]) {
    use std::os::unix::ffi::OsStrExt;
    let paths: Vec<std::ffi::CString> = dirs
        .iter()
        .map(|d| std::ffi::CString::new(d.join("cgroup.procs").as_os_str().as_bytes()).unwrap())
        .collect();
    // SAFETY: the closure only calls open/write/close (async-signal-safe)
    // on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for p in &paths {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            Ok(())
        });
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn limits_process_freeze_kill_destroy() {
    if !is_root() {
        return;
    }
    let prefix = unique("life");
    let path = format!("{prefix}/ctr");
    let r = res(
        r#"{"cpu":{"quota":25000,"period":100000},"memory":{"limit":67108864},"pids":{"limit":16},
                   "devices":[{"allow":false,"access":"rwm"}]}"#,
    );
    let mut cg = Cgroup::plan(Some(&path), "ignored-id", Some(&r)).unwrap();
    let mut guard = Guard {
        paths: cg.paths().clone(),
        child: None,
    };
    for d in all_dirs(cg.paths()) {
        assert!(!d.exists(), "plan must not create {}", d.display());
    }

    cg.create(Some(&r)).unwrap();
    guard.paths = cg.paths().clone();
    let p = cg.paths().clone();
    assert!(!p.created.is_empty());

    if let Some(dir) = &p.unified {
        assert_eq!(read(dir, "cpu.max").trim(), "25000 100000");
        assert_eq!(read(dir, "memory.max").trim(), "67108864");
        assert_eq!(read(dir, "pids.max").trim(), "16");
    } else {
        // A relative path sits under the caller's own cgroup in each
        // hierarchy (memory:/process_api/<hex> on these machines).
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let own_mem = own
            .lines()
            .find_map(|l| l.split_once(":memory:").map(|x| x.1))
            .unwrap();
        assert_eq!(
            p.v1["memory"],
            Path::new("/sys/fs/cgroup/memory")
                .join(own_mem.trim_start_matches('/'))
                .join(&path)
        );
        assert_eq!(read(&p.v1["cpu"], "cpu.cfs_quota_us").trim(), "25000");
        assert_eq!(read(&p.v1["cpu"], "cpu.cfs_period_us").trim(), "100000");
        assert_eq!(
            read(&p.v1["memory"], "memory.limit_in_bytes").trim(),
            "67108864"
        );
        assert_eq!(read(&p.v1["pids"], "pids.max").trim(), "16");
        assert!(!read(&p.v1["cpuset"], "cpuset.cpus").trim().is_empty());
        let list = read(&p.v1["devices"], "devices.list");
        assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
        assert!(list.lines().any(|l| l == "c 136:* rwm"), "{list}");
        assert!(!list.lines().any(|l| l.starts_with("a ")), "{list}");
    }

    let child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id() as i32;
    guard.child = Some(child);
    cg.add_pid(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    let proc_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(proc_cg.contains(&path), "{proc_cg}");

    cg.freeze(true).unwrap();
    assert!(cg.is_frozen().unwrap());
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(state.contains(") S ") || state.contains(") D "), "{state}");
    cg.freeze(false).unwrap();
    assert!(!cg.is_frozen().unwrap());

    cg.kill_all(libc::SIGKILL).unwrap();
    let status = guard.child.take().unwrap().wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(cg.pids().unwrap().is_empty());

    let stats = cg.stats().unwrap();
    eprintln!("stats: {stats:?}");
    assert_eq!(stats.memory.usage.limit, 67108864, "{stats:?}");
    assert_eq!(stats.pids.limit, 16, "{stats:?}");

    cg.destroy().unwrap();
    for d in all_dirs(&p) {
        assert!(!d.exists(), "left behind: {}", d.display());
    }
    // Idempotent: a second delete finds nothing and succeeds.
    cg.destroy().unwrap();
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn destroy_kills_what_is_left_even_when_frozen() {
    if !is_root() {
        return;
    }
    let path = unique("frozen");
    let mut cg = Cgroup::plan(Some(&path), "x", None).unwrap();
    cg.create(None).unwrap();
    let mut guard = Guard {
        paths: cg.paths().clone(),
        child: None,
    };
    let dir = cg
        .paths()
        .v1
        .get("freezer")
        .or(cg.paths().unified.as_ref())
        .unwrap()
        .clone();
    let mut cmd = Command::new("sleep");
    cmd.arg("100");
    // Enter the cgroup before exec, as the runtime's init does.
    let dirs: Vec<PathBuf> = cg
        .paths()
        .v1
        .values()
        .cloned()
        .chain(cg.paths().unified.clone())
        .collect();
    enter_before_exec(&mut cmd, &dirs);
    let child = cmd.spawn().unwrap();
    let pid = child.id() as i32;
    guard.child = Some(child);
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    cg.freeze(true).unwrap();
    cg.destroy().unwrap();
    let status = guard.child.take().unwrap().wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(!dir.exists());
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn failed_create_leaves_nothing() {
    if !is_root() {
        return;
    }
    let prefix = unique("fail");
    let path = format!("{prefix}/a/b");
    // A 10 us quota is below the kernel's 1 ms minimum: the write fails
    // after the directories (and some limits) are in place.
    let r = res(r#"{"memory":{"limit":67108864},"cpu":{"quota":10,"period":100000}}"#);
    let mut cg = Cgroup::plan(Some(&path), "x", Some(&r)).unwrap();
    let _guard = Guard {
        paths: cg.paths().clone(),
        child: None,
    };
    // The whole chain, as outlet prints it (the io error is the source).
    let err = format!("{:#}", cg.create(Some(&r)).unwrap_err());
    let file = if unified_host() {
        "cpu.max"
    } else {
        "cpu.cfs_quota_us"
    };
    let value = if unified_host() { "10 100000" } else { "10" };
    assert!(
        err.starts_with(&format!("cgroup: write {value:?} to /sys/fs/cgroup/")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{prefix}/a/b/{file}: Invalid argument")),
        "{err}"
    );
    assert!(cg.paths().created.is_empty());
    for d in all_dirs(cg.paths()) {
        assert!(!d.exists(), "left behind: {}", d.display());
    }
    let mut top: Vec<PathBuf> = cg
        .paths()
        .v1
        .values()
        .cloned()
        .chain(cg.paths().unified.clone())
        .collect();
    top.iter_mut().for_each(|d| {
        d.pop();
        d.pop();
    });
    for d in top {
        assert!(!d.exists(), "left behind: {}", d.display());
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn plan_refuses_with_clear_errors_and_no_side_effects() {
    if !is_root() {
        return;
    }
    let path = unique("plan");
    let e = Cgroup::plan(
        Some(&path),
        "x",
        Some(&res(r#"{"unified":{"../cgroup.procs":"0"}}"#)),
    )
    .err()
    .unwrap()
    .to_string();
    if unified_host() {
        assert_eq!(
            e,
            "linux.resources.unified: key \"../cgroup.procs\" would write outside the container's cgroup"
        );
    } else {
        assert!(
            e.starts_with(
                "linux.resources.unified: needs a cgroup v2 host; this host is cgroup v1"
            ),
            "{e}"
        );
        let e = Cgroup::plan(
            Some(&path),
            "x",
            Some(&res(
                r#"{"hugepageLimits":[{"pageSize":"2MB","limit":2097152}]}"#,
            )),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("the hugetlb controller is needed but not available"),
            "{e}"
        );
        assert!(e.contains("v1 controllers: "), "{e}");
    }
    let e = Cgroup::plan(Some("system.slice:outlet:x"), "x", None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("pass --systemd-cgroup"), "{e}");
    for root in [
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup",
    ] {
        assert!(!Path::new(root).join(&path).exists());
    }
}

/// The eBPF device program, for real: on a hybrid host the cgroup2 mount at
/// /sys/fs/cgroup/unified takes device programs too (the kernel runs them
/// for every task in the attached cgroup, before the v1 devices check).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ebpf_device_program_enforces_rules() {
    if !is_root() {
        return;
    }
    let base = if unified_host() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    if !is_cgroup2(base) {
        panic!("cannot run here: no cgroup2 mount at {base}");
    }
    let dir = Path::new(base).join(unique("bpf"));
    std::fs::create_dir(&dir).unwrap();
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _rm = Rm(dir.clone());
    let fd = std::fs::File::open(&dir).unwrap();
    // /dev/fuse (10:229) granted read only; tun comes from the defaults.
    let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":10,"minor":229,"access":"r"}]}"#);
    let rules = outlet::cgroups::devices::rules(Some(&r), true)
        .unwrap()
        .unwrap();
    use std::os::fd::AsFd;
    outlet::cgroups::v2::devices::apply(&dir, fd.as_fd(), &rules, false).unwrap();
    // Replacing keeps exactly one program attached.
    outlet::cgroups::v2::devices::apply(&dir, fd.as_fd(), &rules, true).unwrap();
    assert_eq!(
        outlet::cgroups::v2::devices::bpf::query(fd.as_fd())
            .unwrap()
            .len(),
        1
    );

    let tmp = std::env::temp_dir().join(unique("nodes"));
    std::fs::create_dir(&tmp).unwrap();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(
        "cat /dev/null && echo null-ok; \
         (: < /dev/kmsg) 2>/dev/null && echo kmsg-open || echo kmsg-denied; \
         mknod \"$1/ok\" c 1 3 && echo mknod-null-ok; \
         mknod \"$1/k\" c 1 11 && echo mknod-kmsg-ok; \
         (: < \"$1/k\") 2>&1 || echo open-kmsg-denied; \
         (: < /dev/fuse) && echo fuse-read-ok; \
         (: > /dev/fuse) 2>&1 || echo fuse-write-denied; \
         mknod \"$1/tun\" c 10 200 && (: <> \"$1/tun\") && echo tun-ok",
    );
    cmd.arg("sh").arg(&tmp);
    enter_before_exec(&mut cmd, std::slice::from_ref(&dir));
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(&tmp);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("null-ok"), "{text}");
    assert!(text.contains("kmsg-denied"), "{text}");
    assert!(text.contains("mknod-null-ok"), "{text}");
    // mknod of any node is allowed (`c *:* m`), its use is not.
    assert!(text.contains("mknod-kmsg-ok"), "{text}");
    assert!(
        text.contains("Operation not permitted") && text.contains("open-kmsg-denied"),
        "{text}"
    );
    // The spec's "r" stays "r".
    assert!(text.contains("fuse-read-ok"), "{text}");
    assert!(text.contains("fuse-write-denied"), "{text}");
    assert!(text.contains("tun-ok"), "{text}");
}

/// `update`: raising memory+swap must write memsw first, lowering must
/// write the limit first (v1), else the kernel refuses; devices are left
/// alone unless named. On v2 the same updates just land.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn apply_raises_and_lowers_memory_and_swap() {
    if !is_root() {
        return;
    }
    let path = unique("apply");
    let r = res(r#"{"memory":{"limit":67108864,"swap":134217728}}"#);
    let mut cg = Cgroup::plan(Some(&path), "x", Some(&r)).unwrap();
    let _guard = Guard {
        paths: cg.paths().clone(),
        child: None,
    };
    cg.create(Some(&r)).unwrap();
    let (dir, limit, swap) = match &cg.paths().unified {
        Some(d) => (d.clone(), "memory.max", "memory.swap.max"),
        None => (
            cg.paths().v1["memory"].clone(),
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
        ),
    };
    let swap_value = |total: u64, mem: u64| {
        if cg.paths().unified.is_some() {
            (total - mem).to_string()
        } else {
            total.to_string()
        }
    };
    assert_eq!(read(&dir, limit).trim(), "67108864");
    assert_eq!(read(&dir, swap).trim(), swap_value(134217728, 67108864));

    cg.apply(&res(r#"{"memory":{"limit":268435456,"swap":536870912}}"#))
        .unwrap();
    assert_eq!(read(&dir, limit).trim(), "268435456");
    assert_eq!(read(&dir, swap).trim(), swap_value(536870912, 268435456));

    cg.apply(&res(r#"{"memory":{"limit":33554432,"swap":50331648}}"#))
        .unwrap();
    assert_eq!(read(&dir, limit).trim(), "33554432");
    assert_eq!(read(&dir, swap).trim(), swap_value(50331648, 33554432));

    if let Some(devices) = cg.paths().v1.get("devices") {
        let before = read(devices, "devices.list");
        cg.apply(&res(r#"{"pids":{"limit":32}}"#)).unwrap();
        assert_eq!(read(devices, "devices.list"), before);
        assert_eq!(read(&cg.paths().v1["pids"], "pids.max").trim(), "32");
        cg.apply(&res(
            r#"{"devices":[{"allow":true,"type":"c","major":10,"minor":200,"access":"rwm"}]}"#,
        ))
        .unwrap();
        let after = read(devices, "devices.list");
        assert!(after.lines().any(|l| l == "c 10:200 rwm"), "{after}");
        assert!(after.lines().any(|l| l == "c 1:3 rwm"), "{after}");
    }
    cg.destroy().unwrap();
    assert!(!dir.exists());
}

/// clone3(CLONE_INTO_CGROUP) + execve, the way the runtime starts init on
/// v2 (through the runtime's own clone wrapper): the child is in the cgroup
/// before its first instruction.
fn spawn_into_cgroup(cgroup_fd: i32, argv: &[&std::ffi::CStr]) -> i32 {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let (forked, in_cgroup) = outlet::syscall::clone_process(0, Some(cgroup_fd))
        .unwrap_or_else(|e| panic!("clone3: {e}"));
    match forked {
        outlet::syscall::Forked::Child => {
            // SAFETY: the child only calls execve/_exit on data prepared
            // before the clone.
            unsafe {
                libc::execve(ptrs[0], ptrs.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
        }
        outlet::syscall::Forked::Parent(pid) => {
            assert!(in_cgroup, "clone3 did not take CLONE_INTO_CGROUP");
            pid
        }
    }
}

fn wait_signal(pid: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid);
    libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
}

/// The whole v2 manager on the cgroup2 mount this hybrid host has (or on
/// /sys/fs/cgroup on a unified host): parents created with controllers
/// enabled, a hugetlb limit, the eBPF device program, CLONE_INTO_CGROUP,
/// cgroup.freeze/cgroup.events, cgroup.kill, removal.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn v2_manager_on_a_real_cgroup2_hierarchy() {
    if !is_root() {
        return;
    }
    let root = if unified_host() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    if !is_cgroup2(root) {
        panic!("cannot run here: no cgroup2 mount at {root}");
    }
    let avail = std::fs::read_to_string(Path::new(root).join("cgroup.subtree_control")).unwrap();
    let hugetlb = avail.split_whitespace().any(|c| c == "hugetlb")
        && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    let prefix = unique("v2");
    let path = format!("/{prefix}/ctr");
    let json = if hugetlb {
        r#"{"devices":[{"allow":false,"access":"rwm"}],"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#
    } else {
        r#"{"devices":[{"allow":false,"access":"rwm"}]}"#
    };
    let r = res(json);
    let mut cg = Cgroup::plan_unified_at(Path::new(root), Some(&path), "x", Some(&r)).unwrap();
    let mut guard = Guard {
        paths: cg.paths().clone(),
        child: None,
    };
    let dir = cg.paths().unified.clone().unwrap();
    assert_eq!(dir, Path::new(root).join(&prefix).join("ctr"));
    cg.create(Some(&r)).unwrap();
    guard.paths = cg.paths().clone();
    assert_eq!(
        cg.paths().created,
        [Path::new(root).join(&prefix), dir.clone()]
    );
    if hugetlb {
        assert_eq!(read(&dir, "hugetlb.2MB.max").trim(), "4194304");
    }

    let out = std::env::temp_dir().join(unique("v2out"));
    let script = format!(
        "(: < /dev/kmsg) 2>/dev/null && echo kmsg-open > {0} || echo kmsg-denied > {0}; exec sleep 100",
        out.display()
    );
    let script = std::ffi::CString::new(script).unwrap();
    let fd = cg.clone_into_fd().expect("v2 has a cgroup fd");
    let pid = spawn_into_cgroup(fd, &[c"/bin/sh", c"-c", script.as_c_str()]);
    let ok = (0..500).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with('\n'))
    });
    let verdict = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    assert!(ok, "child never reported");
    assert_eq!(verdict.trim(), "kmsg-denied");
    let proc_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = dir.strip_prefix(root).unwrap();
    assert!(
        proc_cg
            .lines()
            .any(|l| l == format!("0::/{}", rel.display())),
        "{proc_cg}"
    );
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    let stats = cg.stats().unwrap();
    let printed = serde_json::to_value(&stats).unwrap();
    assert!(printed["cpu"]["usage"]["user"].is_u64(), "{stats:?}");
    if hugetlb {
        assert_eq!(
            stats.hugetlb.get("2MB").map(|h| h.failcnt),
            Some(0),
            "{stats:?}"
        );
    }

    cg.freeze(true).unwrap();
    assert!(cg.is_frozen().unwrap());
    assert!(read(&dir, "cgroup.events").contains("frozen 1"));
    cg.freeze(false).unwrap();
    assert!(!cg.is_frozen().unwrap());

    cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(wait_signal(pid), Some(libc::SIGKILL));
    cg.destroy().unwrap();
    for d in all_dirs(cg.paths()) {
        assert!(!d.exists(), "left behind: {}", d.display());
    }
}

/// The removal half of ownership, on the v1 hierarchies and on the cgroup2
/// mount: a container with its own pid namespace never kills through its
/// cgroup, so `destroy` leaves a directory it created that still holds a
/// process (someone else's) in place, and reports success; once empty, the
/// next `destroy` removes it and the parent it made. A handle that did not
/// create the directory never removes it. (The control, a destroy that
/// does kill what is inside, is destroy_kills_what_is_left_even_when_frozen.)
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn destroy_leaves_a_created_cgroup_others_still_use() {
    if !is_root() {
        return;
    }
    let v2_root = if unified_host() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    for v2 in [false, true] {
        if v2 && !is_cgroup2(v2_root) {
            eprintln!("SKIPPED: no cgroup2 mount at {v2_root}");
            continue;
        }
        let prefix = unique(if v2 { "keep2" } else { "keep1" });
        let path = format!("/{prefix}/ctr");
        let mut cg = if v2 {
            Cgroup::plan_unified_at(Path::new(v2_root), Some(&path), "x", None).unwrap()
        } else {
            Cgroup::plan(Some(&path), "x", None).unwrap()
        };
        cg.set_own_pid_ns(true);
        cg.create(None).unwrap();
        let mut guard = Guard {
            paths: cg.paths().clone(),
            child: None,
        };
        // What a second container sharing the path would hold: no dirs.
        let joined = Cgroup::from_paths(CgroupPaths {
            created: Vec::new(),
            ..cg.paths().clone()
        });
        let dirs: Vec<PathBuf> = cg
            .paths()
            .v1
            .values()
            .cloned()
            .chain(cg.paths().unified.clone())
            .collect();
        let mut cmd = Command::new("sleep");
        cmd.arg("100");
        enter_before_exec(&mut cmd, &dirs);
        let child = cmd.spawn().unwrap();
        let pid = child.id() as i32;
        guard.child = Some(child);
        assert_eq!(cg.pids().unwrap(), vec![pid]);

        cg.destroy().unwrap();
        joined.destroy().unwrap();
        assert!(
            guard.child.as_mut().unwrap().try_wait().unwrap().is_none(),
            "destroy killed a process it does not own"
        );
        for d in &dirs {
            assert!(
                d.is_dir(),
                "destroy removed {} with a process in it",
                d.display()
            );
        }
        let e = joined.kill_all(libc::SIGKILL).unwrap_err().to_string();
        assert!(e.contains("did not create it"), "{e}");

        let mut child = guard.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        joined.destroy().unwrap();
        for d in &dirs {
            assert!(
                d.is_dir(),
                "a handle that did not create {} removed it",
                d.display()
            );
        }
        cg.destroy().unwrap();
        for d in all_dirs(cg.paths()) {
            assert!(!d.exists(), "left behind: {}", d.display());
        }
    }
}

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
#[cfg_attr(not(outlet_root), ignore = "needs root")]
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

/// The same process fields on `exec` (they belong to the process), and
/// the container's personality and memory policy (as runc's exec).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_applies_scheduler_and_io_priority() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
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
    assert_eq!(r["machine"], "i686");
    assert_eq!(r["numa_policy"], "bind:0");
    // Control: an exec without them.
    let out = t.outlet(&["exec", &id, "probe", "report"]);
    out.expect_ok("exec control");
    assert_eq!(out.json()["sched"]["policy"], 0);
    assert_ne!(out.json()["ioprio"], 2 << 13 | 3);
    // A bad scheduler in a process file is refused before anything runs.
    p["scheduler"] = json!({"policy": "SCHED_RR", "priority": 0});
    std::fs::write(&process, serde_json::to_vec(&p).unwrap()).unwrap();
    t.outlet(&["exec", "--process", process.to_str().unwrap(), &id])
        .expect_exec_fail("exec with a bad scheduler", "process.scheduler.priority");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// Each invalid value fails create with exit 1 and the field's name,
/// before any side effect; a valid neighbour of each is accepted (the
/// other tests run it).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
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
#[cfg_attr(not(outlet_root), ignore = "needs root")]
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

/// `lo` is up in a network namespace the container made; a namespace it
/// joins (made by `ip netns add`, lo down) is left as it is: the control.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn loopback_up_in_a_new_network_namespace() {
    let Some(t) = T::new() else { return };
    const IFF_UP: i64 = 1;
    let b = t.bundle("new", |_| {});
    let id = t.id("lo");
    let out = t.run(&id, &b);
    out.expect_ok("run");
    let r = out.json();
    let flags = r["lo_flags"].as_i64().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(flags & IFF_UP, IFF_UP, "lo down in a new netns: {flags:#x}");
    assert_ne!(r["namespaces"]["net"], json!(common::host_ns("net")));

    let name = format!("outlet-t-{}", t.token.trim_start_matches("outlet-test-"));
    let st = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .expect("run ip netns add (iproute2)");
    assert!(st.success(), "ip netns add {name}");
    {
        let name = name.clone();
        t.on_cleanup(move || {
            let _ = std::process::Command::new("ip")
                .args(["netns", "delete", &name])
                .status();
        });
    }
    let joined = t.bundle("joined", |c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(format!("/run/netns/{name}"));
            }
        }
    });
    let id = t.id("lojoin");
    let out = t.run(&id, &joined);
    out.expect_ok("run joining a netns");
    let flags = out.json()["lo_flags"].as_i64().unwrap();
    assert_eq!(flags & IFF_UP, 0, "a joined netns was changed: {flags:#x}");
}

/// HOME from the container's /etc/passwd when process.env lacks it (the
/// uid's entry, else "/"), for the init and for exec; a given HOME stays.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn home_from_the_containers_passwd() {
    let Some(t) = T::new() else { return };
    let home_of = |r: &Value| -> Vec<String> {
        r["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_str().unwrap().strip_prefix("HOME="))
            .map(str::to_string)
            .collect()
    };
    for (tag, uid, env_home, want) in [
        ("root", 0, None, "/root"),
        ("nobody", 65534, None, "/nonexistent"),
        ("unlisted", 4321, None, "/"),
        ("given", 0, Some("/given"), "/given"),
    ] {
        let b = t.bundle(tag, |c| {
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            if let Some(h) = env_home {
                c["process"]["env"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(format!("HOME={h}")));
            }
        });
        let id = t.id(tag);
        let out = t.run(&id, &b);
        out.expect_ok(tag);
        assert_eq!(home_of(&out.json()), vec![want], "{tag}");
    }
    let b = t.bundle("exec", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let id = t.id("exec");
    t.create_ok(&id, &b);
    let out = t.outlet(&["exec", &id, "probe", "report"]);
    out.expect_ok("exec");
    assert_eq!(home_of(&out.json()), vec!["/root"], "exec");
    let out = t.outlet(&["exec", "--user", "65534:65534", &id, "probe", "report"]);
    out.expect_ok("exec as nobody");
    assert_eq!(home_of(&out.json()), vec!["/nonexistent"], "exec as nobody");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// A missing process.cwd is made inside the root (also under a read-only
/// root, before it turns read-only), and a symlink on the way that points
/// out of the root (`/evil -> /../../..<host dir>`) resolves inside it:
/// the host directory it names stays untouched.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn missing_cwd_is_created_inside_the_root() {
    let Some(t) = T::new() else { return };
    let host_target = t.dir.join("host-target");
    std::fs::create_dir_all(&host_target).unwrap();
    let b = t.bundle("cwd", |c| {
        c["process"]["cwd"] = json!("/nope/dir");
    });
    let rootfs = b.own_rootfs();
    let id = t.id("cwd");
    let out = t.run(&id, &b);
    out.expect_ok("run with a missing cwd");
    assert_eq!(out.json()["cwd"], "/nope/dir");
    assert!(rootfs.join("nope/dir").is_dir());

    let escape = format!("/../../../../../..{}", host_target.display());
    std::os::unix::fs::symlink(&escape, rootfs.join("evil")).unwrap();
    let mut cfg = b.config();
    cfg["process"]["cwd"] = json!("/evil/made");
    b.write_config(&cfg);
    let id = t.id("cwdevil");
    let out = t.run(&id, &b);
    out.expect_ok("run with a cwd through a symlink");
    assert!(
        !host_target.join("made").exists(),
        "the cwd was made outside the root"
    );
    // Made where RESOLVE_IN_ROOT puts it: <rootfs><host_target>/made.
    let inside = rootfs
        .join(host_target.strip_prefix("/").unwrap())
        .join("made");
    assert!(inside.is_dir(), "{} missing", inside.display());
}

/// stdio pipes are handed to a non-root container user: it can reopen
/// /proc/self/fd/1 (what `echo > /dev/stdout` does). The control is root,
/// whose pipe keeps its owner, and a file stdout is never chowned.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn stdio_pipes_belong_to_the_container_user() {
    let Some(t) = T::new() else { return };
    use std::io::Read;
    use std::process::{Command, Stdio};
    let script = "echo reopened > /proc/self/fd/1; probe report > /out/r.json";
    for (tag, uid) in [("user", 1000), ("root", 0)] {
        let b = t.bundle(tag, |c| {
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            common::sh(c, script);
        });
        std::os::unix::fs::chown(&b.out, Some(uid), Some(uid)).unwrap();
        let id = t.id(tag);
        let err = t.dir.join(format!("{tag}.stderr"));
        let mut child = Command::new(common::OUTLET)
            .args(["--root", t.root.to_str().unwrap(), "run", "--bundle"])
            .arg(&b.dir)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let mut pipe = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        });
        let st = common::wait_timeout(&mut child, std::time::Duration::from_secs(60), "outlet run");
        let stdout = reader.join().unwrap();
        let stderr = std::fs::read_to_string(&err).unwrap();
        assert!(st.success(), "{tag}: {stderr}");
        assert_eq!(stdout.trim(), "reopened", "{tag}: {stderr}");
        let r = common::read_json(&b.out.join("r.json"));
        assert_eq!(r["stdio_owner"]["1"], uid, "{tag}: {r}");
    }
    // A file as stdout (the harness's) keeps its owner.
    let b = t.bundle("file", |c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let id = t.id("file");
    let out = t.run(&id, &b);
    out.expect_ok("run with a file stdout");
    assert_eq!(out.json()["stdio_owner"]["1"], 0);
}

/// linux.resources.memory.kernelTCP on cgroup v1 lands in the container's
/// memory.kmem.tcp.limit_in_bytes, read from inside; the control without
/// it reads the kernel's unlimited value.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kernel_tcp_limit_on_v1() {
    let Some(t) = T::new() else { return };
    let file = "/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes";
    if !std::path::Path::new("/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes").exists() {
        eprintln!("SKIPPED: no cgroup v1 memory.kmem.tcp.limit_in_bytes on this host");
        return;
    }
    let mut seen = Vec::new();
    for (tag, tcp) in [("set", Some(16 << 20)), ("control", None)] {
        let b = t.bundle(tag, |c| {
            if let Some(v) = tcp {
                c["linux"]["resources"]["memory"] = json!({"kernelTCP": v});
            }
            common::sh(c, &format!("cat {file}"));
        });
        let id = t.id(tag);
        let out = t.run(&id, &b);
        out.expect_ok(tag);
        seen.push(out.stdout.trim().to_string());
    }
    assert_eq!(seen[0], (16 << 20).to_string());
    assert_ne!(seen[1], seen[0]);
}

/// linux.mountLabel on a host without SELinux: accepted and not applied,
/// as runc does (a context= option would only make every mount fail).
/// Where SELinux is enabled it becomes context="..." on the fresh mounts
/// (unit-tested in security::lsm; this host cannot show it).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn mount_label_without_selinux_is_accepted_like_runc() {
    let Some(t) = T::new() else { return };
    let selinux = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(" - selinuxfs ");
    if selinux {
        eprintln!("SKIPPED: SELinux is enabled here; this test is for hosts without it");
        return;
    }
    let b = t.bundle("label", |c| {
        c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0:c1,c2");
    });
    let id = t.id("label");
    let out = t.run(&id, &b);
    out.expect_ok("run with a mount label");
    let mi = out.json()["mountinfo"].to_string();
    assert!(!mi.contains("context="), "{mi}");
}

/// The time namespace is owned by the container's user namespace: its
/// mapped root sets the offsets (the init writes them before it turns
/// non-dumpable, when /proc/self still belongs to it).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn time_namespace_inside_a_user_namespace() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("usertime", |c| {
        let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
        nss.push(json!({"type": "user"}));
        nss.push(json!({"type": "time"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 5_000_000}});
        // The /out bind needs no access here: the report goes to stdout.
    });
    b.own_rootfs();
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills a valid local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let id = t.id("usertime");
    let out = t.run(&id, &b);
    out.expect_ok("run with user and time namespaces");
    let r = out.json();
    let mono = r["clocks"]["monotonic"].as_i64().unwrap();
    assert!(mono >= ts.tv_sec + 5_000_000, "{}", r["clocks"]);
    assert!(mono < ts.tv_sec + 5_000_000 + 60, "{}", r["clocks"]);
    assert_ne!(r["namespaces"]["user"], json!(common::host_ns("user")));
}

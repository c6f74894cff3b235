//! A container that joins another container's user namespace by path and
//! makes its other namespaces (pid, mount, ipc, uts, net) itself: the
//! shape of podman pods created with `--userns` and of Kubernetes pods
//! with `hostUsers: false`. Every new namespace must be owned by the
//! joined user namespace, so that the container's root can use it: its
//! /proc, its hostname, a tmpfs, its loopback. The init joins first and
//! forks pid 1 into the pid namespace it then makes
//! (src/process/init_fork.rs). Controls: `OUTLET_USERNS_CLONE_PID=1`
//! (the old order, the pid namespace made by the clone in the host's user
//! namespace) fails at /proc; a uts or net namespace of the host's user
//! namespace, joined by path, refuses the container's root.

mod common;

use std::os::unix::fs::MetadataExt;

use common::{Bundle, T, sh};
use serde_json::json;

/// A held container in a user namespace of its own (0 -> host 100000),
/// whose namespaces the others join. Returns its init's pid.
fn holder(t: &T) -> i32 {
    let b = t.bundle("holder", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let _ = std::fs::create_dir(b.own_rootfs().join("out"));
    t.create_ok(&t.id("holder"), &b)
}

/// A bundle joining `pid`'s user namespace by path, every other namespace
/// new (or as `edit` changes them), running `script`.
fn joiner(
    t: &T,
    name: &str,
    pid: i32,
    script: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Bundle {
    let b = t.bundle(name, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
        sh(c, script);
        // The container's root acts on what its user namespace owns.
        for set in ["bounding", "effective", "permitted"] {
            let v = c["process"]["capabilities"][set].as_array_mut().unwrap();
            v.push(json!("CAP_SYS_ADMIN"));
            v.push(json!("CAP_NET_ADMIN"));
        }
        edit(c);
    });
    let _ = std::fs::create_dir(b.own_rootfs().join("out"));
    std::os::unix::fs::chown(&b.out, Some(100000), Some(100000)).unwrap();
    b
}

fn ino(path: &str) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// The namespace links as `readlink` prints them inside, by name.
fn links(stdout: &str) -> std::collections::HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ns "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const NS_SCRIPT: &str = r#"for n in user pid net mnt ipc uts cgroup; do echo "ns $n $(readlink /proc/self/ns/$n)"; done
echo "pid1 $(cat /proc/1/comm) self $$"
echo "procs $(ls /proc | grep -c '^[0-9]')"
echo "uidmap $(cat /proc/self/uid_map)"
echo "uid $(id -u)"
hostname joined-host && echo "hostname $(hostname)"
mkdir /dev/m && mount -t tmpfs t /dev/m && grep -q ' /dev/m tmpfs' /proc/self/mounts && echo tmpfs-ok
ip link set lo mtu 1280 && ip link show lo | grep -q 'mtu 1280' && echo lo-mtu
true"#;

/// run: pid 1 is the container's shell, the user namespace is the
/// holder's with its map, every other namespace is new and usable by
/// the container's root. Control: the old clone order fails at /proc.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn joined_userns_owns_the_new_namespaces() {
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    let b = joiner(&t, "joiner", hp, NS_SCRIPT, |_| {});
    let out = t.run(&t.id("joiner"), &b);
    out.expect_ok("run joining the holder's user namespace");
    let l = links(&out.stdout);
    let host = |n: &str| format!("{n}:[{}]", ino(&format!("/proc/{hp}/ns/{n}")));
    assert_eq!(l["user"], host("user"), "user ns is the holder's: {out:#?}");
    for n in ["pid", "net", "mnt", "ipc", "uts", "cgroup"] {
        assert_ne!(l[n], host(n), "{n} is the holder's: {out:#?}");
        let hostns = format!("{n}:[{}]", common::host_ns(n));
        assert_ne!(l[n], hostns, "{n} is the host's: {out:#?}");
    }
    let s = &out.stdout;
    assert!(
        s.contains("pid1 sh self 1\n"),
        "pid 1 is the shell: {out:#?}"
    );
    // The shell, ls and grep, maybe the $(...) subshell: nothing of the host.
    let procs: u32 = s
        .lines()
        .find_map(|l| l.strip_prefix("procs "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(
        procs <= 4,
        "only the container's processes in /proc: {out:#?}"
    );
    let map: Vec<&str> = s
        .lines()
        .find_map(|l| l.strip_prefix("uidmap "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(map, ["0", "100000", "65536"], "{out:#?}");
    assert!(s.contains("uid 0\n"), "{out:#?}");
    assert!(
        s.contains("hostname joined-host\n"),
        "sethostname: {out:#?}"
    );
    assert!(s.contains("tmpfs-ok\n"), "mount a tmpfs: {out:#?}");
    assert!(s.contains("lo-mtu\n"), "ip link set lo mtu: {out:#?}");

    // Control: the pid namespace made by the clone, in the host's user
    // namespace: the container's root may not mount its procfs.
    let out = t.call_env(
        std::path::Path::new(common::OUTLET),
        &["run", "--bundle", b.dir.to_str().unwrap(), &t.id("old")],
        &[],
        &[("OUTLET_USERNS_CLONE_PID", "1")],
    );
    out.expect_fail("the old clone order", "proc");
    assert!(
        out.stderr.contains("Operation not permitted") || out.stderr.contains("EPERM"),
        "{out:#?}"
    );
}

/// The lifecycle follows the forked pid 1, not the intermediate: the
/// state's pid and the pid file are the container's pid 1 (NSpid ends in
/// 1), `exec` lands in its namespaces, `kill` stops it, `delete` leaves
/// nothing; `run` exits with the process's code.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn lifecycle_follows_the_forked_init() {
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    let b = joiner(
        &t,
        "life",
        hp,
        "echo started > /out/started; sleep 1000",
        |_| {},
    );
    let id = t.id("life");
    let pid_file = t.dir.join("life.pid");
    t.outlet(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ])
    .expect_ok("create");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    let in_file: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(in_file, pid, "pid file and state agree");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid: Vec<&str> = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        nspid,
        [pid.to_string().as_str(), "1"],
        "the state's pid is pid 1 inside"
    );
    assert_eq!(
        ino(&format!("/proc/{pid}/ns/user")),
        ino(&format!("/proc/{hp}/ns/user")),
        "the init is in the holder's user namespace"
    );
    assert_eq!(t.status(&id), "created");
    t.outlet(&["start", &id]).expect_ok("start");
    common::pause::wait_until(
        "the process started",
        std::time::Duration::from_secs(20),
        || b.out.join("started").exists(),
    );
    let e = t.outlet(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo $$ $(readlink /proc/self/ns/user) $(readlink /proc/1/ns/pid)",
    ]);
    e.expect_ok("exec");
    let want = format!(
        "user:[{}] pid:[{}]",
        ino(&format!("/proc/{hp}/ns/user")),
        ino(&format!("/proc/{pid}/ns/pid"))
    );
    assert!(
        e.stdout.contains(&want),
        "exec in the container's namespaces ({want}): {e:#?}"
    );
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
    assert!(!t.state_dir_exists(&id));

    let b = joiner(&t, "code", hp, "exit 7", |_| {});
    let out = t.run(&t.id("code"), &b);
    assert_eq!(
        out.code,
        Some(7),
        "run's exit code is the process's: {out:#?}"
    );
}

/// Namespaces of the host's user namespace joined by path next to the
/// joined user namespace (a netns a CNI plugin made): the init joins
/// them before the user namespace, where it still may (after it, setns
/// answers EPERM). Their owner is not the container's: the container's
/// root may not change the loopback there, where it may in a netns of its
/// own (the control: the same command in a fresh netns succeeds). Control
/// of the order: `OUTLET_JOIN_USER_FIRST=1` fails to join the netns.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn host_owned_netns_is_joined_and_not_owned() {
    let Some(t) = T::new() else { return };
    let name = format!("outlet-t-{}", t.token.trim_start_matches("outlet-test-"));
    let st = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .expect("ip netns add");
    assert!(st.success(), "ip netns add {name}");
    {
        let name = name.clone();
        t.on_cleanup(move || {
            let _ = std::process::Command::new("ip")
                .args(["netns", "delete", &name])
                .status();
        });
    }
    let path = format!("/run/netns/{name}");
    let hp = holder(&t);
    let script =
        "echo \"net $(readlink /proc/self/ns/net)\"; ip link set lo mtu 1280 && echo lo-mtu; true";
    let b = joiner(&t, "hostnet", hp, script, |c| {
        // sysfs needs a netns of the mounter's user namespace (crun binds
        // the host's /sys then; outlet refuses): not this test's matter.
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| !m["destination"].as_str().unwrap().starts_with("/sys"));
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(path);
            }
        }
    });
    let out = t.run(&t.id("hostnet"), &b);
    out.expect_ok("run joining the holder's userns and a host netns");
    assert!(
        out.stdout.contains(&format!("net net:[{}]", ino(&path))),
        "the host netns was joined: {out:#?}"
    );
    assert!(
        !out.stdout.contains("lo-mtu"),
        "root of the joined userns changed a host-owned netns: {out:#?}"
    );
    // Control of the order: the user namespace joined first, setns of the
    // host's netns is refused.
    let out = t.call_env(
        std::path::Path::new(common::OUTLET),
        &[
            "run",
            "--bundle",
            b.dir.to_str().unwrap(),
            &t.id("userfirst"),
        ],
        &[],
        &[("OUTLET_JOIN_USER_FIRST", "1")],
    );
    out.expect_fail(
        "user namespace joined first",
        &format!("join net namespace {path}"),
    );
    // Control: the same command in a netns of the container's own.
    let b = joiner(&t, "ownnet", hp, script, |_| {});
    let out = t.run(&t.id("ownnet"), &b);
    out.expect_ok("run with a netns of its own");
    assert!(out.stdout.contains("lo-mtu"), "{out:#?}");
}

/// The intermediate killed at each of its steps (after the unshare,
/// after the fork before it sent the pid): `create` fails and leaves no
/// process, cgroup or state. Control: the same create without the fault
/// succeeds, so the failure is the fault's.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_killed_intermediate_leaves_nothing() {
    let Some(th) = T::new() else { return };
    let hp = holder(&th);
    for step in ["userns:unshared", "userns:forked"] {
        let Some(t) = T::new() else { return };
        let b = joiner(&t, "crash", hp, "true", |_| {});
        let id = t.id("crash");
        let out = t.call_env(
            std::path::Path::new(common::OUTLET),
            &["create", "--bundle", b.dir.to_str().unwrap(), &id],
            &[],
            &[("OUTLET_FAULT", step)],
        );
        out.expect_fail(step, "before it forked into its pid namespace");
        assert!(out.stderr.contains("SIGKILL"), "{step}: {out:#?}");
        t.assert_nothing_left(step);
        let out = t.create(&t.id("fine"), &b);
        out.expect_ok("control: no fault");
        t.outlet(&["delete", "--force", &t.id("fine")])
            .expect_ok("delete");
    }
}

/// What the intermediate holds while it lives (held after its fork): it
/// is in the joined user namespace (its capabilities hold there only),
/// in the host's pid namespace (no process of the container can see it),
/// and the only directories it holds are the detached bind trees the init
/// takes over (opened before the clone: see create's
/// open_binds_for_userns; readlink "/"), one per bind mount of the spec,
/// and the detached mount of outlet's binary (read-only) that the init
/// keeps for its pivot: what the init itself holds at its start.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn the_intermediate_is_out_of_sight_and_holds_no_directory() {
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    let b = joiner(&t, "held", hp, "true", |_| {});
    let id = t.id("held");
    let p = common::pause::Pause::new(&t, "fork", "userns:forked");
    let mut seen = String::new();
    let out = p.around(
        t.command(
            std::path::Path::new(common::OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &id],
        ),
        || {
            let me = common::processes_mentioning(&t.token);
            let inter = me
                .iter()
                .copied()
                .find(|p| {
                    let a = std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
                    let c = std::fs::read_link(format!("/proc/{p}/ns/pid_for_children")).ok();
                    a.is_some() && c.is_some() && a != c && *p != hp
                })
                .expect("the intermediate");
            let user = ino(&format!("/proc/{inter}/ns/user"));
            assert_eq!(
                user,
                ino(&format!("/proc/{hp}/ns/user")),
                "in the joined userns"
            );
            assert_eq!(
                ino(&format!("/proc/{inter}/ns/pid")),
                common::host_ns("pid")
            );
            let status = std::fs::read_to_string(format!("/proc/{inter}/status")).unwrap();
            for l in status
                .lines()
                .filter(|l| l.starts_with("Cap") || l.starts_with("NSpid") || l.starts_with("Uid"))
            {
                seen.push_str(l);
                seen.push('\n');
            }
            for fd in std::fs::read_dir(format!("/proc/{inter}/fd"))
                .unwrap()
                .flatten()
            {
                let target = std::fs::read_link(fd.path()).unwrap_or_default();
                let is_dir = std::fs::metadata(fd.path()).is_ok_and(|m| m.is_dir());
                seen.push_str(&format!(
                    "fd {:?} {} dir={is_dir}\n",
                    fd.file_name(),
                    target.display()
                ));
            }
        },
    );
    out.expect_ok("run released after the pause");
    eprintln!("intermediate:\n{seen}");
    assert!(seen.contains("NSpid:"), "{seen}");
    let nspid = seen.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert_eq!(
        nspid.split_whitespace().count(),
        2,
        "one pid: host only: {seen}"
    );
    let dirs: Vec<&str> = seen.lines().filter(|l| l.ends_with("dir=true")).collect();
    let binds = b.config()["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["options"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o == "bind" || o == "rbind"))
        })
        .count();
    // Plus, at most, the detached overlay of outlet's binary that the init
    // keeps to attach below its old root (rootfs/pivot.rs).
    assert!(
        dirs.len() <= binds + 1,
        "directories held ({binds} binds): {seen}"
    );
    assert!(
        dirs.iter().all(|l| l.contains(" / dir=true")),
        "a host path: {seen}"
    );
}

/// The hooks are given the forked init's pid, not the intermediate's:
/// prestart, createRuntime (in `create`), createContainer and
/// startContainer (in the init) each save the state they read, and its
/// pid is the one `state` reports, pid 1 of the container (the
/// intermediate's pid, which the parent held until `InitPid`, is never
/// that one: a hook given it fails the comparison).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hooks_see_the_forked_init() {
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    let b = joiner(&t, "hooks", hp, "sleep 1000", |_| {});
    let mut c = b.config();
    let out = b.out.to_str().unwrap().to_string();
    let hook = |name: &str, dir: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {dir}/{name}.json")]});
    c["hooks"] = json!({
        "prestart": [hook("prestart", &out)],
        "createRuntime": [hook("createRuntime", &out)],
        "createContainer": [hook("createContainer", &out)],
        "startContainer": [hook("startContainer", "/out")],
    });
    b.write_config(&c);
    let id = t.id("hooks");
    let pid = t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    for name in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ] {
        let p = b.out.join(format!("{name}.json"));
        common::pause::wait_until(name, std::time::Duration::from_secs(20), || {
            std::fs::read_to_string(&p).is_ok_and(|s| s.ends_with('}'))
        });
        let st = common::read_json(&p);
        assert_eq!(st["pid"], pid, "{name} was given the init's pid: {st}");
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")),
        "{status}"
    );
}

/// A seccomp listener is sent the forked init's pid (in its message and
/// its state) during `create`, and its answer reaches the container's
/// process. Control: the notified mkdir is answered ENOSPC, so the
/// directory is never made (a filter not in force would make it).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_seccomp_listener_gets_the_forked_init() {
    use common::listener::{Answer, accept_within, answer_all, recv_with_fds};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    let sock = t.dir.join("listener.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let script = "mkdir /out/made 2>/out/err; echo rc=$? > /out/rc";
    let b = joiner(&t, "notify", hp, script, |c| {
        c["process"]["noNewPrivileges"] = json!(true);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let id = t.id("notify");
    let pid = t.create_ok(&id, &b);
    let conn = accept_within(&listener, Duration::from_secs(5)).expect("no listener connection");
    let (msg, mut fds) = recv_with_fds(&conn);
    let v: serde_json::Value = serde_json::from_slice(&msg).unwrap();
    assert_eq!(v["pid"], json!(pid), "{v}");
    assert_eq!(v["state"]["pid"], json!(pid), "{v}");
    let stop = Arc::new(AtomicBool::new(false));
    let agent = {
        let fd = fds.remove(0);
        let stop = stop.clone();
        std::thread::spawn(move || answer_all(fd, Answer::Errno(libc::ENOSPC), stop))
    };
    t.outlet(&["start", &id]).expect_ok("start");
    let rc = b.out.join("rc");
    common::pause::wait_until("the process's mkdir", Duration::from_secs(20), || {
        std::fs::read_to_string(&rc).is_ok_and(|s| s.ends_with('\n'))
    });
    stop.store(true, Ordering::SeqCst);
    let seen = agent.join().unwrap();
    assert!(
        seen.iter().any(|s| s == "mkdir" || s == "mkdirat"),
        "{seen:?}"
    );
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), "rc=1\n");
    assert!(!b.out.join("made").exists());
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
}

/// A join that fails in the intermediate (a netns path that is a plain
/// file: setns answers EINVAL) fails `create` with the path named, exit
/// 1, nothing left; the same bundle with the path fixed is created (the
/// control).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_failed_join_before_the_fork_says_which_and_leaves_nothing() {
    let Some(th) = T::new() else { return };
    let hp = holder(&th);
    let Some(t) = T::new() else { return };
    let missing = t.dir.join("not-a-netns");
    std::fs::write(&missing, "").unwrap();
    let b = joiner(&t, "badjoin", hp, "true", |c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(missing);
            }
        }
    });
    let out = t.create(&t.id("badjoin"), &b);
    out.expect_fail(
        "a netns path that is a file",
        &format!("join net namespace {}", missing.display()),
    );
    t.assert_nothing_left("a failed join");
    let mut c = b.config();
    for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "network" {
            n["path"] = json!(format!("/proc/{hp}/ns/net"));
        }
    }
    b.write_config(&c);
    t.create(&t.id("fixed"), &b)
        .expect_ok("control: an existing path");
    t.outlet(&["delete", "--force", &t.id("fixed")])
        .expect_ok("delete");
}

//! The attacker's review of session 10 (round 8): the code session 10
//! merged (the joined user namespace's fork, the namespace paths the init
//! joins). docs/known-gaps.md, "Session 10, round 8", says what held and
//! how it was looked at.
//!
//! 1. The init joined a user namespace by path while dumpable, and stayed
//!    so until it became the container's root: the intermediate of the
//!    fork and the forked init, both still host uid 0, could be ptraced
//!    by any process of that user namespace with CAP_SYS_PTRACE there
//!    that sees host pids (a pod member with the host's pid namespace).
//!    Control OUTLET_JOIN_DUMPABLE=1.
//!    The same attacker could take the intermediate's end of the sync
//!    channel (pidfd_getfd): a forged `InitPid` naming a host process made
//!    `run` take that process for the container's init (killed by its
//!    undo). With no capability at all when the joined user namespace is
//!    nested in one whose root the attacker is (its owner). `create` now also
//!    checks the pid is its child. Control OUTLET_INITPID_UNCHECKED=1.
//! 2. A namespace path was opened O_RDONLY as it stood: a FIFO there
//!    blocked the init's open forever (create hung until killed), and a
//!    device was opened with whatever its open does. Control
//!    OUTLET_NS_OPEN_PLAIN=1.
//! 3. The sysctl check (spec/sysctl.rs: a sysctl of a namespace the
//!    container does not have of its own would change the host's) looked
//!    at the namespace path when the spec was read; the init opened it
//!    later. A symlink swapped in between to the host's namespace had
//!    the sysctl written there. Now checked again on the fd the init
//!    joins. Control OUTLET_SYSCTL_NS_UNCHECKED=1.
//!
//! Needs root (ignored otherwise) and a debug build (the controls).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Bundle, T, sh};
use serde_json::json;

/// A held container in a user namespace of its own (0 -> host 100000),
/// whose user namespace the others join. Returns its init's pid.
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
/// new, running `true` (as a podman pod member with its own pid ns).
fn joiner(t: &T, name: &str, pid: i32, edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
    let b = t.bundle(name, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
        sh(c, "true");
        edit(c);
    });
    let _ = std::fs::create_dir(b.own_rootfs().join("out"));
    std::os::unix::fs::chown(&b.out, Some(100000), Some(100000)).unwrap();
    b
}

/// The attacker: a process of the holder's user namespace (root there,
/// host uid 100000, every capability of that namespace, CAP_SYS_PTRACE
/// included) in the host's pid and mount namespaces, as a pod member run
/// with the host's pid namespace. It PTRACE_SEIZEs `pid` (a seize stops
/// nothing; the tracer's exit detaches) and reads its /proc/PID/root
/// (a ptrace access check, as for its fds and memory).
fn attack(userns_of: i32, pid: i32) -> String {
    attack_as(userns_of, pid, &[])
}

/// `attack`, the python run through `wrap` (e.g. setpriv dropping every
/// capability) after nsenter.
fn attack_as(userns_of: i32, pid: i32, wrap: &[&str]) -> String {
    const PY: &str = "import ctypes,sys,os\n\
        l=ctypes.CDLL(None,use_errno=True)\n\
        p=int(sys.argv[1])\n\
        r=l.ptrace(0x4206,p,0,0)\n\
        print('uid',os.getuid(),'seize',r,ctypes.get_errno())\n\
        print('CapEff',int([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1],16))\n\
        try:\n  print('root',os.readlink('/proc/%d/root'%p))\n\
        except OSError as e: print('root',e.errno)\n";
    let out = std::process::Command::new("nsenter")
        .arg(format!("--user=/proc/{userns_of}/ns/user"))
        .args(["-S", "0", "-G", "0", "--"])
        .args(wrap)
        .args(["/usr/bin/python3", "-c", PY])
        .arg(pid.to_string())
        .output()
        .expect("nsenter python3");
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        s.contains(" seize "),
        "the attacker ran: {s} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

/// Kill `pid` (a process this test started) when the test ends, also when
/// it fails, and check it is gone.
fn kill_at_end(t: &T, pid: u32) {
    t.track_pid(pid as i32);
    t.on_cleanup(move || {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    });
}

/// The intermediate (host pid namespace, a new one for its children) and
/// the init it forked (in that new one), among our processes.
fn fork_pair(t: &T, hp: i32) -> (i32, i32) {
    let ns = |p: i32, n: &str| std::fs::read_link(format!("/proc/{p}/ns/{n}")).ok();
    let me = common::processes_mentioning(&t.token);
    let inter = me
        .iter()
        .copied()
        .find(|&p| p != hp && ns(p, "pid").is_some() && ns(p, "pid") != ns(p, "pid_for_children"))
        .expect("the intermediate");
    let child = ns(inter, "pid_for_children");
    let init = me
        .iter()
        .copied()
        .find(|&p| p != inter && ns(p, "pid") == child)
        .expect("the forked init");
    (inter, init)
}

/// Finding 1: held at the fork (the intermediate has sent nothing yet,
/// the forked init waits for it), both processes are host uid 0 in the
/// joined user namespace. Fixed: both are non-dumpable from before the
/// join, and the attacker's seize and readlink are refused (EPERM,
/// EACCES).
/// Control (OUTLET_JOIN_DUMPABLE=1, dumpable as before): both are
/// seized and read.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_pod_member_cannot_ptrace_the_intermediate_or_the_forked_init() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    for (tag, control) in [("ctl", true), ("fixed", false)] {
        let b = joiner(&t, tag, hp, |_| {});
        let p = common::pause::Pause::new(&t, tag, "userns:forked");
        let mut cmd = t.command(
            Path::new(common::OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &t.id(tag)],
        );
        if control {
            cmd.0.env("OUTLET_JOIN_DUMPABLE", "1");
        }
        let mut seen = Vec::new();
        let out = p.around(cmd, || {
            let (inter, init) = fork_pair(&t, hp);
            seen.push(("intermediate", attack(hp, inter)));
            seen.push(("forked init", attack(hp, init)));
        });
        out.expect_ok("run released after the attack");
        for (who, s) in &seen {
            eprintln!("{tag} {who}: {s}");
            if control {
                assert!(
                    s.contains("seize 0 0") && s.contains("root /"),
                    "control: the {who} was dumpable and seized: {s}"
                );
            } else {
                assert!(
                    s.contains("seize -1 1") && s.contains("root 13"),
                    "the {who} is out of the attacker's reach: {s}"
                );
            }
        }
    }
}

/// Finding 2: a FIFO at a namespace path (net: the init opens it; pid:
/// `create` does). Fixed: create fails at once,
/// naming the field and the path, exit 1, nothing left. Control
/// (OUTLET_NS_OPEN_PLAIN=1, the open as before): create still hangs in
/// the init's open after 5 s, and is killed.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_fifo_as_a_namespace_path_is_refused_not_waited_on() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let fifo = t.dir.join("netns-fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let b = t.bundle("fifo", |c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(fifo);
            }
        }
        sh(c, "true");
    });
    // Control: the plain open waits for a writer that never comes.
    let (mut cmd, so, se) = t.command(
        Path::new(common::OUTLET),
        &["create", "--bundle", b.dir.to_str().unwrap(), &t.id("ctl")],
    );
    let mut child = cmd.env("OUTLET_NS_OPEN_PLAIN", "1").spawn().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let hung = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let out = common::Out::from_files(child.wait().unwrap(), so, se);
    assert!(hung, "control: create ended: {out:#?}");
    // The init it left (its parent gone, PDEATHSIG) and the state dir.
    let _ = t.outlet(&["delete", "--force", &t.id("ctl")]);
    t.settle();

    let out = t.create(&t.id("fixed"), &b);
    out.expect_fail(
        "a FIFO as the network namespace",
        &format!(
            "join net namespace {}: not a namespace file",
            fifo.display()
        ),
    );
    assert_eq!(out.code, Some(1), "{out:#?}");
    t.assert_nothing_left("a FIFO namespace path");
    // The pid namespace, which `create` itself joins (for its clone).
    let b = t.bundle("fifopid", |c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "pid" {
                n["path"] = json!(fifo);
            }
        }
        sh(c, "true");
    });
    let out = t.create(&t.id("fifopid"), &b);
    out.expect_fail(
        "a FIFO as the pid namespace",
        &format!(
            "join pid namespace {}: not a namespace file",
            fifo.display()
        ),
    );
    t.assert_nothing_left("a FIFO pid namespace path");
}

/// The attacker of finding 1, through the channel: it takes the
/// intermediate's socket `fd` with pidfd_getfd and sends `InitPid(victim)`
/// on it, ahead of the intermediate's own.
fn forge(userns_of: i32, inter: i32, fd: &str, victim: u32) -> String {
    const PY: &str = "import ctypes,sys,os,struct\n\
        l=ctypes.CDLL(None,use_errno=True)\n\
        p,fd,v=int(sys.argv[1]),int(sys.argv[2]),int(sys.argv[3])\n\
        pfd=l.syscall(434,p,0)\n\
        s=l.syscall(438,pfd,fd,0)\n\
        if s<0: print('getfd',ctypes.get_errno()); sys.exit()\n\
        print('forged',os.write(s,b'\\x01F'+struct.pack('<i',v)))\n";
    let out = std::process::Command::new("nsenter")
        .arg(format!("--user=/proc/{userns_of}/ns/user"))
        .args(["-S", "0", "-G", "0", "--", "/usr/bin/python3", "-c", PY])
        .args([inter.to_string(), fd.to_string(), victim.to_string()])
        .output()
        .expect("nsenter python3");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The sockets the intermediate holds (its end of the sync channel).
fn socket_fds(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect()
}

/// Finding 1 through the channel, three ways. Fixed: the intermediate is
/// non-dumpable and pidfd_getfd is refused (EPERM). With it dumpable
/// (OUTLET_JOIN_DUMPABLE=1) the forgery lands, and `create` refuses the
/// pid as not its child: the host process lives. Control (both,
/// OUTLET_INITPID_UNCHECKED=1 too): `create` took the host process for
/// its init, and it is dead.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_forged_init_pid_names_no_host_process() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    let cases: [(&str, &[&str]); 3] = [
        ("ctl", &["OUTLET_JOIN_DUMPABLE", "OUTLET_INITPID_UNCHECKED"]),
        ("checked", &["OUTLET_JOIN_DUMPABLE"]),
        ("fixed", &[]),
    ];
    for (tag, controls) in cases {
        let mut victim = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        kill_at_end(&t, victim.id());
        let b = joiner(&t, tag, hp, |_| {});
        let p = common::pause::Pause::new(&t, tag, "userns:forked");
        let mut cmd = t.command(
            Path::new(common::OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &t.id(tag)],
        );
        for c in controls {
            cmd.0.env(c, "1");
        }
        let mut said = String::new();
        let out = p.around(cmd, || {
            let (inter, _) = fork_pair(&t, hp);
            for fd in socket_fds(inter) {
                said.push_str(&forge(hp, inter, &fd, victim.id()));
            }
        });
        // outlet has ended: a kill it sent is pending or has killed (no
        // sleep for it to land, which under load failed the control).
        let alive = common::untouched(victim.id() as i32);
        let _ = victim.kill();
        let _ = victim.wait();
        eprintln!("{tag}: {said} victim alive {alive}: {out:#?}");
        match tag {
            "ctl" => {
                assert!(said.contains("forged 6"), "control: forged: {said}");
                assert!(
                    !alive,
                    "control: the host process was taken for the init and killed: {out:#?}"
                );
            }
            "checked" => {
                assert!(said.contains("forged 6"), "forged: {said}");
                out.expect_fail("a forged InitPid", "is not a child of ours");
                assert!(alive, "the host process lives");
            }
            _ => {
                assert!(
                    said.contains("getfd 1") && !said.contains("forged"),
                    "{said}"
                );
                out.expect_ok("run, unforged");
                assert!(alive, "the host process lives");
            }
        }
        if tag != "fixed" {
            // A failed run can leave its cgroups to the real init (it may
            // not have died of its parent's death yet when the undo
            // looked; docs/known-gaps.md): removed once it is gone.
            common::pause::wait_until("the cgroups empty", Duration::from_secs(10), || {
                common::cgroup_dirs_for(&t.id(tag))
                    .iter()
                    .all(|d| std::fs::remove_dir(d).is_ok() || !d.exists())
            });
        }
        t.settle();
    }
}

/// Finding 3: an ipc namespace path that is a symlink to another
/// container's ipc namespace when `run` checks the spec's sysctl
/// (kernel.msgmax: ipc), swapped to the host's (ours, outlet's) before the
/// init opens it. The value written is the host's own, so the control
/// changes nothing. Fixed: `run` fails naming the sysctl, nothing left.
/// Control (OUTLET_SYSCTL_NS_UNCHECKED=1): the container runs in the
/// host's ipc namespace, its sysctl written there.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_namespace_path_swapped_after_the_sysctl_check_is_refused() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let hb = t.bundle("ipcholder", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let hp = t.create_ok(&t.id("ipcholder"), &hb);
    let msgmax = std::fs::read_to_string("/proc/sys/kernel/msgmax").unwrap();
    let host_ipc = format!("ipc:[{}]", common::host_ns("ipc"));
    for (tag, control) in [("ctl", true), ("fixed", false)] {
        let link = t.dir.join(format!("ipc-{tag}"));
        std::os::unix::fs::symlink(format!("/proc/{hp}/ns/ipc"), &link).unwrap();
        let b = t.bundle(tag, |c| {
            for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                if n["type"] == "ipc" {
                    n["path"] = json!(link);
                }
            }
            c["linux"]["sysctl"] = json!({"kernel.msgmax": msgmax.trim()});
            sh(c, "readlink /proc/self/ns/ipc");
        });
        let p = common::pause::Pause::new(&t, tag, "create:mkdir");
        let mut cmd = t.command(
            Path::new(common::OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &t.id(tag)],
        );
        if control {
            cmd.0.env("OUTLET_SYSCTL_NS_UNCHECKED", "1");
        }
        let out = p.around(cmd, || {
            std::fs::remove_file(&link).unwrap();
            let ours = format!("/proc/{}/ns/ipc", std::process::id());
            std::os::unix::fs::symlink(ours, &link).unwrap();
        });
        if control {
            out.expect_ok("control: run with the swapped path");
            assert_eq!(
                out.stdout.trim(),
                host_ipc,
                "control: in the host's ipc namespace: {out:#?}"
            );
        } else {
            out.expect_fail("a swapped ipc path", "linux.sysctl \"kernel.msgmax\"");
            assert!(out.stderr.contains("would change the host's"), "{out:#?}");
        }
    }
}

/// Finding 1 without CAP_SYS_PTRACE: the joined user namespace is one a
/// container's root made inside its own (owned by host uid 100000). The
/// owner of a user namespace, in its parent, holds every capability in
/// it, whatever its own sets: a process of the holder's namespace running
/// as its root with every capability dropped (setpriv) is the attacker.
/// Control (OUTLET_JOIN_DUMPABLE=1): it seizes the intermediate; fixed:
/// EPERM.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn the_capless_owner_of_a_nested_userns_cannot_ptrace_the_intermediate() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    // The nested user namespace, made from the holder's by its root.
    let mut nested = std::process::Command::new("nsenter")
        .arg(format!("--user=/proc/{hp}/ns/user"))
        .args([
            "-S",
            "0",
            "-G",
            "0",
            "--",
            "unshare",
            "-U",
            "--map-root-user",
        ])
        .args(["sleep", "1000"])
        .spawn()
        .unwrap();
    kill_at_end(&t, nested.id());
    let np = nested.id() as i32;
    common::pause::wait_until("the nested userns", Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{np}/uid_map"))
            .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "100000", "1"])
            && std::fs::read_to_string(format!("/proc/{np}/comm")).is_ok_and(|c| c == "sleep\n")
    });
    let capless = [
        "setpriv",
        "--bounding-set",
        "-all",
        "--inh-caps",
        "-all",
        "--",
    ];
    for (tag, control) in [("nctl", true), ("nfixed", false)] {
        let b = joiner(&t, tag, np, |_| {});
        let p = common::pause::Pause::new(&t, tag, "userns:forked");
        let mut cmd = t.command(
            Path::new(common::OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &t.id(tag)],
        );
        if control {
            cmd.0.env("OUTLET_JOIN_DUMPABLE", "1");
        }
        let mut seen = String::new();
        let out = p.around(cmd, || {
            let (inter, _) = fork_pair(&t, np);
            seen = attack_as(hp, inter, &capless);
        });
        eprintln!("{tag}: {seen}");
        assert!(
            seen.contains("CapEff 0"),
            "the attacker has no capability: {seen}"
        );
        if control {
            assert!(
                seen.contains("seize 0 0"),
                "control: seized: {seen} {out:#?}"
            );
        } else {
            assert!(seen.contains("seize -1 1"), "refused: {seen}");
        }
        // The run fails later whatever happens here (the nested map has
        // one id, and devpts's gid=5 is not in it): the window is what
        // counts. Its failure leaves nothing.
        assert!(out.stderr.contains("gid"), "{out:#?}");
    }
    t.settle();
    let _ = nested.kill();
    let _ = nested.wait();
}

/// What finding 1's fix could break: the init is non-dumpable from before
/// its joins now, so its /proc/self files belong to the host's root
/// earlier; the time namespace's offsets, which it writes itself, still
/// reach the namespace when it joins a user namespace and makes a time
/// namespace (it is still host uid 0 when it writes them). The old
/// dumpable order (OUTLET_JOIN_DUMPABLE=1) runs alongside as the
/// reference: both must show the offsets.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_joined_userns_with_a_new_time_namespace_gets_its_offsets() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    for (tag, control) in [("tctl", true), ("tfixed", false)] {
        let b = joiner(&t, tag, hp, |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "time"}));
            c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 7, "nanosecs": 8}});
            sh(c, "cat /proc/self/timens_offsets");
        });
        let env: &[(&str, &str)] = if control {
            &[("OUTLET_JOIN_DUMPABLE", "1")]
        } else {
            &[]
        };
        let out = t.call_env(
            Path::new(common::OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &t.id(tag)],
            &[],
            env,
        );
        out.expect_ok(tag);
        assert!(
            out.stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["monotonic", "7", "8"]),
            "{tag}: {out:#?}"
        );
    }
}

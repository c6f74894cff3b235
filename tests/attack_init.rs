//! The container's init, attacked from inside the container, from clone to
//! execve:
//! - the created init must hold no host fd (issue 10 class 2): only stdio,
//!   --preserve-fds and exec.fifo, seen from an `exec` with CAP_SYS_PTRACE
//!   and from a sibling container sharing its pid namespace;
//! - outlet's writes into /proc (linux.sysctl, process.oomScoreAdj) must not
//!   follow a spec mount over /proc (class 4);
//! - the seccomp filter is the last thing before execve (issue 11 item 1);
//! - hooks get stdio only, never an fd a caller leaked into outlet.
//!
//! Each attack has a control that shows the test can see the attack work.
//! Needs root (ignored in a build by another user).

mod common;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{OUTLET, Out, T, sh};
use serde_json::{Value, json};

fn add_cap(c: &mut Value, cap: &str) {
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!(cap));
    }
}

/// The attacker's look at the init's fds: one `fd N KIND TARGET` line per
/// fd, and a `via N: NAME` line for every directory entry reachable through
/// `/proc/1/fd/N/` or `/proc/1/fd/N/../`.
const FD_HUNT: &str = r#"cd /proc/1/fd || exit 9
for n in *; do
  k=other
  [ -p $n ] && k=fifo; [ -c $n ] && k=chr; [ -f $n ] && k=file; [ -d $n ] && k=dir
  echo "fd $n $k $(readlink $n)"
  ls -a $n/ 2>/dev/null | sed "s/^/via $n: /"
  ls -a $n/../ 2>/dev/null | sed "s/^/via $n: /"
done
echo hunt-done"#;

/// (fd, kind, target) per fd, and the `via` lines.
fn parse_hunt(o: &Out) -> (Vec<(u32, String, String)>, Vec<String>) {
    assert!(
        o.stdout.contains("hunt-done"),
        "the hunt did not run: {o:?}"
    );
    let mut fds = Vec::new();
    let mut via = Vec::new();
    for l in o.stdout.lines() {
        if let Some(rest) = l.strip_prefix("fd ") {
            let mut it = rest.splitn(3, ' ');
            let n = it.next().unwrap().parse().unwrap();
            let k = it.next().unwrap().to_string();
            let target = it.next().unwrap_or("").to_string();
            fds.push((n, k, target));
        } else if l.starts_with("via ") {
            via.push(l.to_string());
        }
    }
    fds.sort();
    (fds, via)
}

/// Exactly stdio and exec.fifo, and nothing reachable through them.
#[track_caller]
fn assert_only_stdio_and_fifo(o: &Out, what: &str) {
    let (fds, via) = parse_hunt(o);
    let numbers: Vec<u32> = fds.iter().map(|f| f.0).collect();
    assert_eq!(numbers.len(), 4, "{what}: {fds:?}\n{o:?}");
    assert_eq!(&numbers[..3], &[0, 1, 2], "{what}: {fds:?}");
    let fifo = &fds[3];
    assert_eq!(
        fifo.1, "fifo",
        "{what}: the fourth fd is not a fifo: {fds:?}"
    );
    assert!(fifo.2.ends_with("/exec.fifo"), "{what}: {fds:?}");
    for f in &fds[..3] {
        assert_ne!(f.1, "dir", "{what}: stdio fd is a directory: {fds:?}");
    }
    assert!(
        via.is_empty(),
        "{what}: reached through the init's fds: {via:?}"
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn created_init_holds_no_host_fd() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("target", |c| {
        c["process"]["args"] = json!(["true"]);
        add_cap(c, "CAP_SYS_PTRACE");
    });
    let id = t.id("target");
    let pid = t.create_ok(&id, &b);

    // From an exec into the created container, with CAP_SYS_PTRACE (which
    // gets past the init's non-dumpable guard).
    let o = t.outlet(&["exec", &id, "sh", "-c", FD_HUNT]);
    o.expect_ok("exec the hunt");
    assert_only_stdio_and_fifo(&o, "exec into the created container");

    // From a sibling container that shares the init's pid namespace (a
    // pod): its pid 1 is the created init.
    let b2 = t.bundle("sibling", |c| {
        sh(c, FD_HUNT);
        add_cap(c, "CAP_SYS_PTRACE");
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = json!(format!("/proc/{pid}/ns/pid"));
            }
        }
    });
    let o = t.run(&t.id("sibling"), &b2);
    o.expect_ok("run the sibling");
    assert_only_stdio_and_fifo(&o, "sibling sharing the pid namespace");

    // Still created and startable after all that.
    assert_eq!(t.status(&id), "created");
    t.outlet(&["start", &id]).expect_ok("start");
    t.wait_status(&id, "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
    t.assert_nothing_left("after the hunts");
}

/// Control: the same hunt against an init that does hold a host directory
/// (handed to it on purpose with --preserve-fds) finds it and reads the
/// host directory through it, so the test above can fail.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_the_hunt_finds_a_host_dir_fd() {
    let Some(t) = T::new() else { return };
    let host_dir = t.dir.join("host-dir");
    std::fs::create_dir_all(&host_dir).unwrap();
    let canary = format!("canary-{}", t.token);
    std::fs::write(host_dir.join(&canary), b"").unwrap();
    let dir_fd = std::fs::File::open(&host_dir).unwrap();
    let b = t.bundle("leaky", |c| {
        c["process"]["args"] = json!(["true"]);
        add_cap(c, "CAP_SYS_PTRACE");
    });
    let id = t.id("leaky");
    let bs = b.dir.to_str().unwrap();
    t.call(
        Path::new(OUTLET),
        &["create", "--preserve-fds", "1", "--bundle", bs, &id],
        &[(dir_fd.as_raw_fd(), 3)],
    )
    .expect_ok("create --preserve-fds 1 with a host directory");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let o = t.outlet(&["exec", &id, "sh", "-c", FD_HUNT]);
    o.expect_ok("exec the hunt");
    let (fds, via) = parse_hunt(&o);
    assert!(
        fds.iter().any(|f| f.0 == 3 && f.1 == "dir"),
        "the hunt missed the directory fd: {fds:?}"
    );
    assert!(
        via.iter().any(|v| v == &format!("via 3: {canary}")),
        "the hunt did not read the host directory: {via:?}\n{o:?}"
    );
    let r = std::panic::catch_unwind(|| assert_only_stdio_and_fifo(&o, "control"));
    assert!(r.is_err(), "the check passed an init holding a host dir");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the control");
}

/// A rootfs of the test's own with `/p -> /proc`: a mount destination under
/// /p is not "under /proc" to the spec check, but lands on the container's
/// /proc once resolved inside the root, which is how an image gets a mount
/// over /proc past create's validation.
fn rootfs_with_proc_link(b: &common::Bundle) {
    let rootfs = b.own_rootfs();
    std::os::unix::fs::symlink("/proc", rootfs.join("p")).unwrap();
}

/// Such a mount is refused once resolved (test 5 of attack_rootfs.rs);
/// to test the writes behind that refusal, `create` here runs with the
/// resolved check switched off (OUTLET_UNCHECKED_PROC_MOUNTS=1, honoured
/// by debug builds only), after showing the refusal.
fn create_past_the_proc_check(t: &T, id: &str, b: &common::Bundle) -> i32 {
    let bs = b.dir.to_str().unwrap();
    t.create(id, b).expect_fail(
        "create with a mount led into /proc",
        "resolves into a procfs",
    );
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_UNCHECKED_PROC_MOUNTS)");
    }
    t.call_env(
        OUTLET.as_ref(),
        &["create", "--bundle", bs, id],
        &[],
        &[("OUTLET_UNCHECKED_PROC_MOUNTS", "1")],
    )
    .expect_ok("create with the resolved /proc check switched off");
    let pid = t.state(id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    pid
}

fn host_dir_with(t: &T, name: &str, rel: &str, content: &str) -> PathBuf {
    let d = t.dir.join(name);
    let f = d.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, content).unwrap();
    d
}

fn bind(src: &Path, dest: &str) -> Value {
    json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rw"]})
}

/// A value in the container's network namespace, read from the host.
fn netns_sysctl(pid: i32, key_path: &str) -> String {
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "cat", key_path])
        .output()
        .expect("run nsenter");
    assert!(out.status.success(), "nsenter: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn sysctl_write_ignores_a_bind_over_proc_sys_net() {
    let Some(t) = T::new() else { return };
    let host = host_dir_with(&t, "hostnet", "ipv4/ip_forward", "0\n");
    let file = host.join("ipv4/ip_forward");
    let sysctl = json!({"net.ipv4.ip_forward": "1"});

    // Straight: refused at create, naming the mount, nothing done.
    let b = t.bundle("direct", |c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind(&host, "/proc/sys/net"));
        c["linux"]["sysctl"] = sysctl.clone();
    });
    let n = b.config()["mounts"].as_array().unwrap().len() - 1;
    let id = t.id("direct");
    t.create(&id, &b).expect_fail(
        "create with a bind over /proc/sys/net",
        &format!("mounts[{n}] (destination /proc/sys/net): mounts under /proc are refused"),
    );
    t.assert_nothing_left("after the refused create");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "0\n");

    // Through a symlink in the image: refused once resolved; made anyway
    // (the check switched off), the sysctl write must still reach the
    // container's own network namespace only.
    let b = t.bundle("linked", |c| {
        c["process"]["args"] = json!(["true"]);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind(&host, "/p/sys/net"));
        c["linux"]["sysctl"] = sysctl.clone();
        // Read-only /proc/sys would also make the control's write fail.
        c["linux"]["readonlyPaths"] = json!([]);
    });
    rootfs_with_proc_link(&b);
    let id = t.id("linked");
    let pid = create_past_the_proc_check(&t, &id, &b);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "0\n",
        "outlet's sysctl write went into the host directory"
    );
    assert_eq!(netns_sysctl(pid, "/proc/sys/net/ipv4/ip_forward"), "1");

    // Control: the bind really is in the way of a write by path; the same
    // write outlet used to make lands in the host directory.
    let o = t.outlet(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo 1 > /proc/sys/net/ipv4/ip_forward",
    ]);
    o.expect_ok("control write by path");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "1\n");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after delete");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn oom_score_adj_write_ignores_a_bind_over_proc_1() {
    let Some(t) = T::new() else { return };
    let host = host_dir_with(&t, "hostpid", "oom_score_adj", "0\n");
    let file = host.join("oom_score_adj");

    let b = t.bundle("direct", |c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind(&host, "/proc/1"));
        c["process"]["oomScoreAdj"] = json!(123);
    });
    let n = b.config()["mounts"].as_array().unwrap().len() - 1;
    let id = t.id("direct");
    t.create(&id, &b).expect_fail(
        "create with a bind over /proc/1",
        &format!("mounts[{n}] (destination /proc/1): mounts under /proc are refused"),
    );
    t.assert_nothing_left("after the refused create");

    let b = t.bundle("linked", |c| {
        c["process"]["args"] = json!(["true"]);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind(&host, "/p/1"));
        c["process"]["oomScoreAdj"] = json!(123);
    });
    rootfs_with_proc_link(&b);
    let id = t.id("linked");
    let pid = create_past_the_proc_check(&t, &id, &b);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "0\n",
        "outlet's oom_score_adj write went into the host directory"
    );
    let real = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(real.trim(), "123", "the init's own oom_score_adj");

    // Control: a write by path to the init's oom_score_adj lands in the
    // host directory.
    let o = t.outlet(&["exec", &id, "sh", "-c", "echo 7 > /proc/1/oom_score_adj"]);
    o.expect_ok("control write by path");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "7\n");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after delete");
}

const ARCHES: [&str; 3] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

/// Shows the filter is in force (the control for "the container runs"):
/// mkdir is denied by the same profile.
const FILTERED: &str = "grep ^Seccomp: /proc/self/status; \
     if mkdir /out/d-$$ 2>/dev/null; then echo mkdir-made; else echo mkdir-denied; fi";

#[track_caller]
fn assert_filtered(o: &Out, what: &str) {
    o.expect_ok(what);
    assert!(o.stdout.contains("Seccomp:\t2"), "{what}: {o:?}");
    assert!(o.stdout.contains("mkdir-denied"), "{what}: {o:?}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_denying_openat2_or_close_range_without_nnp() {
    let Some(t) = T::new() else { return };
    for denied in ["openat2", "close_range"] {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ARCHES,
            "syscalls": [{"names": [denied, "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        });
        let b = t.bundle(&format!("run-{denied}"), |c| {
            sh(c, FILTERED);
            c["process"]["noNewPrivileges"] = json!(false);
            c["linux"]["seccomp"] = profile.clone();
        });
        let o = t.run(&t.id(&format!("run-{denied}")), &b);
        assert_filtered(&o, &format!("run with {denied} denied"));

        let b = t.bundle(&format!("exec-{denied}"), |c| {
            c["process"]["args"] = json!(["true"]);
            c["process"]["noNewPrivileges"] = json!(false);
            c["linux"]["seccomp"] = profile.clone();
        });
        let id = t.id(&format!("exec-{denied}"));
        t.create_ok(&id, &b);
        let o = t.outlet(&["exec", &id, "sh", "-c", FILTERED]);
        assert_filtered(&o, &format!("exec with {denied} denied"));
        t.outlet(&["start", &id]).expect_ok("start");
        t.wait_status(&id, "stopped");
        t.outlet(&["delete", &id]).expect_ok("delete");
    }
    t.assert_nothing_left("after the runs");
}

/// What busybox `true` (static) calls, found with `strace -f`.
const TRUE_SYSCALLS: &[&str] = &[
    "arch_prctl",
    "brk",
    "exit_group",
    "getrandom",
    "getuid",
    "mprotect",
    "prctl",
    "prlimit64",
    "readlink",
    "rseq",
    "set_robust_list",
    "set_tid_address",
];

/// What exec's helper and process call after a filter loaded without
/// no_new_privs, up to the execve (strace of `outlet exec ID true`):
/// dropping capabilities, the fork, the user switch, the report to
/// outlet, the signal reset, the PATH lookup.
const EXEC_SETUP: &[&str] = &[
    "access",
    "capget",
    "chdir",
    "clone",
    "clone3",
    "close",
    "fstat",
    "openat2",
    "read",
    "rt_sigaction",
    "rt_sigprocmask",
    "sendto",
    "setgroups",
    "setresgid",
    "setresuid",
    "setsid",
    "stat",
];

/// Default deny; `true`'s syscalls plus `extra` allowed.
fn allowlist(extra: &[&str]) -> Value {
    let mut names: Vec<&str> = TRUE_SYSCALLS.to_vec();
    names.extend_from_slice(extra);
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ARCHES,
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    })
}

fn true_under(t: &T, tag: &str, nnp: bool, profile: &Value) -> Out {
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["true"]);
        c["process"]["noNewPrivileges"] = json!(nnp);
        c["linux"]["seccomp"] = profile.clone();
    });
    t.run(&t.id(tag), &b)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_allowlist_of_true_plus_execve_runs() {
    let Some(t) = T::new() else { return };
    for nnp in [true, false] {
        // Without no_new_privs the filter goes in while CAP_SYS_ADMIN is
        // held; dropping it (capset) is the one step left after it.
        let extra: &[&str] = if nnp {
            &["execve"]
        } else {
            &["execve", "capset"]
        };
        let profile = allowlist(extra);
        true_under(&t, &format!("run-{nnp}"), nnp, &profile)
            .expect_ok(&format!("run true, noNewPrivileges {nnp}"));

        // exec, into a created container (its init has not loaded the
        // filter yet and needs nothing of the list). Without no_new_privs
        // exec's helper loads the filter before it forks the process into
        // the container's pid namespace, so that the process never holds
        // CAP_SYS_ADMIN where a CAP_SYS_PTRACE holder there could take it
        // (src/container/exec_confine.rs): its setup then runs under the
        // filter, as runc's setns init runs its own, and the profile must
        // allow those calls too.
        let exec_list: Vec<&str> = if nnp {
            extra.to_vec()
        } else {
            extra.iter().chain(EXEC_SETUP).copied().collect()
        };
        let b = t.bundle(&format!("exec-{nnp}"), |c| {
            c["process"]["args"] = json!(["true"]);
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["linux"]["seccomp"] = allowlist(&exec_list);
        });
        let id = t.id(&format!("exec-{nnp}"));
        t.create_ok(&id, &b);
        t.outlet(&["exec", &id, "true"])
            .expect_ok(&format!("exec true, noNewPrivileges {nnp}"));
        t.outlet(&["start", &id]).expect_ok("start");
        t.wait_status(&id, "stopped");
        t.outlet(&["delete", &id]).expect_ok("delete");
        if !nnp {
            // Control: the run's list alone does not let exec's setup
            // through, so the filter is indeed in before it.
            let b = t.bundle("exec-short", |c| {
                c["process"]["args"] = json!(["true"]);
                c["process"]["noNewPrivileges"] = json!(false);
                c["linux"]["seccomp"] = profile.clone();
            });
            let id = t.id("exec-short");
            t.create_ok(&id, &b);
            let o = t.outlet(&["exec", &id, "true"]);
            assert_ne!(
                o.code,
                Some(0),
                "exec's setup ran outside the filter: {o:?}"
            );
            t.outlet(&["delete", "--force", &id]).expect_ok("delete");
        }

        // Controls: without execve nothing runs, so the list is what
        // decides; without capset (noNewPrivileges false) neither, so
        // capset is indeed made after the filter.
        let o = true_under(&t, &format!("noexec-{nnp}"), nnp, &allowlist(&extra[1..]));
        assert_ne!(o.code, Some(0), "ran without execve allowed: {o:?}");
        if !nnp {
            let o = true_under(&t, "nocapset", nnp, &allowlist(&["execve"]));
            assert_ne!(o.code, Some(0), "ran without capset allowed: {o:?}");
        }
    }
    t.assert_nothing_left("after the runs");
}

/// With the filter loaded late, what can fail for a reason the user must
/// hear still fails `create`, not `start`.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn late_filter_still_fails_create_for_user_errors() {
    let Some(t) = T::new() else { return };
    let profile = allowlist(&["execve", "capset"]);
    for (tag, field, value, needle) in [
        ("exe", "args", json!(["/nope"]), "exec: \"/nope\""),
        (
            "cwd",
            "cwd",
            json!("/bin/busybox"),
            "process.cwd /bin/busybox",
        ),
    ] {
        let b = t.bundle(tag, |c| {
            c["process"]["args"] = json!(["true"]);
            c["process"][field] = value.clone();
            c["process"]["noNewPrivileges"] = json!(false);
            c["linux"]["seccomp"] = profile.clone();
        });
        let id = t.id(tag);
        t.create(&id, &b)
            .expect_fail(&format!("create with a bad {field}"), needle);
        t.assert_nothing_left(&format!("after the failed create ({field})"));
    }
}

/// The same writes in a user namespace: the sysctl through the init's
/// private procfs (mountable there only before the masks exist), the
/// oom_score_adj by `create` before the init turns non-dumpable (after
/// which its /proc files belong to the host's root, not the container's).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn sysctl_and_oom_score_adj_in_a_user_namespace() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("userns", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        c["process"]["oomScoreAdj"] = json!(200);
        sh(
            c,
            "cat /proc/self/oom_score_adj /proc/sys/net/ipv4/ip_forward",
        );
    });
    b.own_rootfs();
    let o = t.run(&t.id("userns"), &b);
    o.expect_ok("run in a user namespace with sysctl and oomScoreAdj");
    assert_eq!(o.stdout, "200\n1\n", "{o:?}");
    t.assert_nothing_left("after run");
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: plain kill(2) of the init this test created.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill {pid} {sig}");
}

/// start's handshake without /proc: an init that dies after `start` wrote
/// its byte but before taking it is reported, not taken for started.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_reports_an_init_that_dies_during_start() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("dies", |c| c["process"]["args"] = json!(["true"]));
    let id = t.id("dies");
    let pid = t.create_ok(&id, &b);
    // Stopped, the init cannot read the byte; killed while start waits.
    signal(pid, libc::SIGSTOP);
    // Until it has really stopped, a byte written now would still be read.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap()
        .rsplit(") ")
        .next()
        .unwrap()
        .starts_with('T')
    {
        assert!(
            std::time::Instant::now() < deadline,
            "init {pid} did not stop"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        signal(pid, libc::SIGKILL);
    });
    let o = t.outlet(&["start", &id]);
    killer.join().unwrap();
    o.expect_fail(
        "start of an init killed during start",
        "container init exited before start",
    );
    assert_eq!(t.status(&id), "stopped");
    t.outlet(&["delete", &id]).expect_ok("delete");
    t.assert_nothing_left("after delete");
}

/// A process of the container holding CAP_SYS_PTRACE can reach exec.fifo
/// through /proc/1/fd and release the init early (as with runc's fifo):
/// nothing of the host's is involved, and start then says what happened
/// and leaves a truthful state.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn init_released_from_inside_then_start() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("early", |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        add_cap(c, "CAP_SYS_PTRACE");
    });
    let id = t.id("early");
    t.create_ok(&id, &b);
    let o = t.outlet(&[
        "exec",
        &id,
        "sh",
        "-c",
        "for f in /proc/1/fd/*; do [ -p $f ] && echo x > $f; done; true",
    ]);
    o.expect_ok("release from inside");
    let o = t.outlet(&["start", &id]);
    o.expect_ok("start after an early release");
    assert!(o.stderr.contains("released before start"), "{o:?}");
    assert_eq!(t.status(&id), "running");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after delete");
}

/// The capabilities a filter loaded without no_new_privs needed
/// (CAP_SYS_ADMIN) are gone by execve, and the spec's sets are exactly
/// what the process has, for root, a non-root user, and ambient sets;
/// the same as without a filter. (execve recomputes permitted and
/// effective, so the inheritable set is what shows the last capset.)
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn late_filter_leaves_exactly_the_specs_capabilities() {
    let Some(t) = T::new() else { return };
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ARCHES,
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    });
    // The default spec's sets: AUDIT_WRITE, KILL, NET_BIND_SERVICE.
    let default = "20000420";
    // (tag, uid, inheritable, ambient, [CapInh, CapEff, CapPrm, CapAmb])
    let cases: [(&str, u32, &str, &str, [&str; 4]); 3] = [
        ("root", 0, "CAP_KILL", "", ["20", default, default, "0"]),
        ("user", 1000, "", "", ["0", "0", "0", "0"]),
        (
            "ambient",
            1000,
            "CAP_NET_BIND_SERVICE",
            "CAP_NET_BIND_SERVICE",
            ["400", "400", "400", "400"],
        ),
    ];
    for (tag, uid, inh, amb, want) in cases {
        for filtered in [true, false] {
            let tag = format!("{tag}-{filtered}");
            let b = t.bundle(&tag, |c| {
                sh(c, "grep -E '^(Cap...|Seccomp):' /proc/self/status");
                c["process"]["noNewPrivileges"] = json!(false);
                c["process"]["user"] = json!({"uid": uid, "gid": uid});
                let set = |n: &str| json!(if n.is_empty() { vec![] } else { vec![n] });
                c["process"]["capabilities"]["inheritable"] = set(inh);
                c["process"]["capabilities"]["ambient"] = set(amb);
                if filtered {
                    c["linux"]["seccomp"] = profile.clone();
                }
            });
            let o = t.run(&t.id(&tag), &b);
            o.expect_ok(&tag);
            let field = |name: &str| -> u64 {
                let v = o
                    .stdout
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:\t")))
                    .unwrap_or_else(|| panic!("{tag}: no {name}: {o:?}"));
                u64::from_str_radix(v, 16).unwrap()
            };
            for (name, w) in ["CapInh", "CapEff", "CapPrm", "CapAmb"].iter().zip(want) {
                assert_eq!(
                    field(name),
                    u64::from_str_radix(w, 16).unwrap(),
                    "{tag} {name}: {o:?}"
                );
            }
            assert_eq!(field("Seccomp"), if filtered { 2 } else { 0 }, "{tag}");
        }
    }
    t.assert_nothing_left("after the runs");
}

/// `ls -l` lines of an fd directory as (fd, target), without the one
/// `ls` holds on the directory it lists.
fn fd_lines(listing: &str) -> Vec<(u32, String)> {
    listing
        .lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            let fd = left.split_whitespace().last()?.parse().ok()?;
            Some((fd, target.to_string()))
        })
        .filter(|(_, target)| !(target.starts_with("/proc/") && target.ends_with("/fd")))
        .collect()
}

/// A caller leaks a host directory into outlet as fd 7 (no O_CLOEXEC), at
/// `create` and at `start`. Each hook (createRuntime and createContainer
/// run by create and the init, startContainer by the init, poststart by
/// start) lists its own fds: only 0, 1 and 2 (the state on stdin).
/// Control: the same hook lists its parent's fds (outlet create, the init
/// before its sweep, outlet start): there fd 7 is the host directory, so
/// a hook that inherited the parent's table would have shown it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hooks_get_only_stdio_never_a_leaked_fd() {
    let Some(t) = T::new() else { return };
    let host_dir = t.dir.join("leaked-dir");
    std::fs::create_dir_all(&host_dir).unwrap();
    let dir_fd = std::fs::File::open(&host_dir).unwrap();
    let b = t.bundle("hooks", |c| c["process"]["args"] = json!(["true"]));
    let out = b.out.clone();
    let hook = |name: &str, dir: &str| {
        // The shell's PPid as the /proc it reads sees it: a hook run by the
        // init before pivot_root is in the container's pid namespace while
        // /proc is still the host's, so $PPID would name another process.
        // `ls` inherits the shell's fds (and adds its own, of the listed
        // directory, which `fd_lines` leaves out).
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!(
            "while read k v rest; do [ \"$k\" = PPid: ] && pp=$v; done < /proc/self/status; \
             ls -l /proc/self/fd > {dir}/{name}.self; \
             ls -l /proc/$pp/fd > {dir}/{name}.parent; true")]})
    };
    let host_out = out.to_str().unwrap().to_string();
    let mut cfg = b.config();
    cfg["hooks"] = json!({
        "createRuntime": [hook("createRuntime", &host_out)],
        "createContainer": [hook("createContainer", &host_out)],
        // Runs in the container: its /out is the same directory.
        "startContainer": [hook("startContainer", "/out")],
        "poststart": [hook("poststart", &host_out)],
    });
    b.write_config(&cfg);
    let id = t.id("hooks");
    let bs = b.dir.to_str().unwrap();
    let leak = [(dir_fd.as_raw_fd(), 7)];
    t.call(OUTLET.as_ref(), &["create", "--bundle", bs, &id], &leak)
        .expect_ok("create");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    t.call(OUTLET.as_ref(), &["start", &id], &leak)
        .expect_ok("start");
    // startContainer runs in the init once `start` has released it.
    t.wait_status(&id, "stopped");
    let leaked = host_dir.to_str().unwrap();
    for name in [
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
    ] {
        let own = std::fs::read_to_string(out.join(format!("{name}.self")))
            .unwrap_or_else(|e| panic!("{name} did not run: {e}"));
        let fds = fd_lines(&own);
        let nums: Vec<u32> = fds.iter().map(|f| f.0).collect();
        assert_eq!(
            nums,
            [0, 1, 2],
            "{name}: the hook holds more than stdio:\n{own}"
        );
        assert!(
            !own.contains(leaked),
            "{name}: the leaked fd reached the hook"
        );
        let parent = std::fs::read_to_string(out.join(format!("{name}.parent"))).unwrap();
        let has_leak = fd_lines(&parent)
            .iter()
            .any(|(fd, target)| *fd == 7 && target == leaked);
        // The init closed it before startContainer (its sweep before Ready).
        let want = name != "startContainer";
        assert_eq!(
            has_leak, want,
            "control: {name}'s parent holds the leaked fd 7: expected {want}:\n{parent}"
        );
        eprintln!("{name}: own fds {nums:?}; parent holds the leak: {has_leak}");
    }
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the hooks");
}

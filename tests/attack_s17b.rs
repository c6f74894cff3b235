//! The attacker's review of session 17, round 16: what outlet itself puts
//! into the container that is, or reaches, something of the host's,
//! attacked from inside by the container's root (docs/known-gaps.md,
//! "Session 17, round 16").
//!
//! Found: in a user namespace the container's /dev nodes (null, zero,
//! full, random, urandom, tty, and the spec's devices) are binds of the
//! host's nodes, and they were writable. With a mapping that gives the
//! container's root host uid 0, the root owns the inodes, and even with
//! `outlet spec`'s minimal capability set it could chmod, chown or set the
//! times of the host's /dev/null (runc 1.1.5 binds them writable too, and
//! lets the same through). Fixed: each bind is made read-only (nosuid,
//! noexec) while detached; a device node still opens for writing on a
//! read-only mount. Control `OUTLET_DEV_BIND_WRITABLE=1` (debug builds):
//! the binds stay writable and the chmod reaches the host's inode.
//!
//! Found: the container's stdio. When the caller closes fd 0, 1 or 2,
//! outlet opens the host's /dev/null there at start (so that no file it
//! opens becomes someone's stdout), and the init and `exec`'d processes
//! inherit it: the container's root, the inode's owner, could `chmod 0
//! /proc/self/fd/0` (runc 1.1.5 hands a pipe for a closed fd). Fixed: that
//! /dev/null is reopened through a read-only clone of /dev. Control
//! `OUTLET_STDIO_NULL_WRITABLE=1` (debug builds). A /dev/null the caller
//! passes itself (conmon's stdin, this harness's `Stdio::null()`) is left
//! as it is: see docs/known-gaps.md.
//!
//! Every attack changes a host node to the value it already has (chmod to
//! its mode, chown to its owner, times to its times) and is detected by
//! the node's ctime, which any such call moves.
//!
//! Needs root (ignored otherwise) and a debug build (the control).

mod common;
mod criu_support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use common::{OUTLET, Out, T, sh};
use serde_json::{Value, json};

/// Held by each test that watches the host's nodes' ctimes: the control
/// of one would move what the other asserts unmoved.
static HOST_NODES: Mutex<()> = Mutex::new(());

/// The default devices, each a bind of the host's node in a user namespace.
const NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// docker's default capability set.
const DOCKER_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_MKNOD",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
];

/// A host node's dev:ino, mode, uid, gid and ctime to the nanosecond.
type NodeState = (String, u32, u32, u32, (i64, i64));

fn host_nodes() -> Vec<NodeState> {
    NODES
        .iter()
        .map(|n| {
            let m = std::fs::metadata(format!("/dev/{n}")).unwrap();
            (
                format!("{}:{}", m.dev(), m.ino()),
                m.mode(),
                m.uid(),
                m.gid(),
                (m.ctime(), m.ctime_nsec()),
            )
        })
        .collect()
}

/// The container's root is host uid 0 (identity mapping): the owner of
/// the host's nodes.
fn identity_userns(c: &mut Value) {
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
}

fn docker_caps(c: &mut Value) {
    let caps = json!(DOCKER_CAPS);
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set] = caps.clone();
    }
}

/// Per node: `NAME DEV:INO MOUNT-OPTIONS CHMOD CHOWN TOUCH` (the exit
/// statuses of a chmod to its mode, a chown to its owner, and times set
/// to its times), then whether the devices still work.
const SCRIPT: &str = r#"
for f in null zero full random urandom tty; do
  p=/dev/$f
  m=$(grep " $p " /proc/self/mountinfo | cut -d' ' -f6)
  chmod $(stat -c %a $p) $p 2>/dev/null; c=$?
  chown $(stat -c %u:%g $p) $p 2>/dev/null; o=$?
  touch -c -r $p $p 2>/dev/null; u=$?
  echo "node $f $(stat -c %d:%i $p) ${m:-none} $c $o $u"
done
echo x >/dev/null; echo write=$?
echo read=$(head -c 4 /dev/zero | wc -c)
echo done
"#;

#[test]
fn the_host_device_nodes_bound_into_a_user_namespace_are_read_only() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    let _g = HOST_NODES.lock().unwrap_or_else(|e| e.into_inner());
    // (tag, user namespace, docker's caps, control)
    let cases = [
        ("uns-docker", true, true, false),
        ("uns-min", true, false, false),
        ("uns-ctl", true, true, true),
        ("nouns-docker", false, true, false),
    ];
    for (tag, userns, docker, control) in cases {
        let b = t.bundle(tag, |c| {
            sh(c, &format!("{{ {SCRIPT} }} >/out/report 2>&1"));
            if userns {
                identity_userns(c);
            }
            if docker {
                docker_caps(c);
            }
        });
        let id = t.id(tag);
        let env: &[(&str, &str)] = if control {
            &[("OUTLET_DEV_BIND_WRITABLE", "1")]
        } else {
            &[]
        };
        let before = host_nodes();
        t.call_env(
            Path::new(OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &id],
            &[],
            env,
        )
        .expect_ok(tag);
        let after = host_nodes();
        let report = std::fs::read_to_string(b.out.join("report")).unwrap();
        assert!(report.contains("done"), "{tag}: {report}");
        assert!(report.contains("write=0"), "{tag}: /dev/null: {report}");
        assert!(report.contains("read=4"), "{tag}: /dev/zero: {report}");
        let lines: Vec<Vec<&str>> = report
            .lines()
            .filter_map(|l| l.strip_prefix("node "))
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines.len(), NODES.len(), "{tag}: {report}");
        for (i, w) in lines.iter().enumerate() {
            let (host, was, now) = (&before[i].0, &before[i], &after[i]);
            let what = format!("{tag}: /dev/{}: {report}", w[0]);
            // The host's modes and owners are what they were, always.
            assert_eq!((was.1, was.2, was.3), (now.1, now.2, now.3), "{what}");
            if !userns {
                // mknod on outlet's /dev tmpfs: the container's own node,
                // its to change.
                assert_ne!(w[1], host, "{what}");
                assert_eq!(w[3], "0", "{what}");
                assert_eq!(was.4, now.4, "{what}");
                continue;
            }
            // The attack is real: the node is the host's inode.
            assert_eq!(w[1], host, "{what}");
            if control {
                assert!(w[2].starts_with("rw"), "{what}");
                assert_eq!(&w[3..6], ["0", "0", "0"], "control: {what}");
                assert_ne!(
                    was.4, now.4,
                    "control: the host's ctime did not move: {what}"
                );
            } else {
                assert!(w[2].starts_with("ro"), "{what}");
                assert_ne!(w[3], "0", "chmod reached the host: {what}");
                assert_ne!(w[4], "0", "chown reached the host: {what}");
                assert_ne!(w[5], "0", "utimes reached the host: {what}");
                assert_eq!(was.4, now.4, "the host's node changed: {what}");
            }
        }
    }
}

/// What the container's process does to its stdin, which the caller gave
/// as the host's /dev/null or closed: `same=DEV:INO`, the exit statuses of
/// a chmod to its mode and a chown to its owner, and what a read gives.
const STDIN_SCRIPT: &str = r#"
p=/proc/self/fd/0
echo same=$(stat -L -c %d:%i $p)
chmod $(stat -L -c %a $p) $p 2>/dev/null; echo chmod=$?
chown $(stat -L -c %u:%g $p) $p 2>/dev/null; echo chown=$?
echo read=$(wc -c)
echo done
"#;

/// `outlet ARGS` with stdin the host's /dev/null, or (`closed`) no fd 0.
fn call_stdin(t: &T, args: &[&str], closed: bool, control: bool) -> Out {
    let (mut cmd, so, se) = t.command(Path::new(OUTLET), args);
    if control {
        cmd.env("OUTLET_STDIO_NULL_WRITABLE", "1");
    }
    if closed {
        // SAFETY: only close(2), async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::close(0);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("spawn outlet");
    let status = common::wait_timeout(&mut child, Duration::from_secs(60), "outlet");
    Out::from_files(status, so, se)
}

#[test]
fn the_containers_stdio_gives_no_hold_on_the_hosts_dev_null() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    let _g = HOST_NODES.lock().unwrap_or_else(|e| e.into_inner());
    let null = std::fs::metadata("/dev/null").unwrap();
    let host = format!("{}:{}", null.dev(), null.ino());
    let ctime = || {
        let m = std::fs::metadata("/dev/null").unwrap();
        (m.ctime(), m.ctime_nsec(), m.mode(), m.uid(), m.gid())
    };
    // A running container for `exec`: its init waits for the test.
    let b = t.bundle("exec", |c| sh(c, "sleep 60"));
    let running = t.id("exec");
    t.create_ok(&running, &b);
    t.outlet(&["start", &running]).expect_ok("start");
    // (tag, exec rather than run, stdin closed, control)
    let cases = [
        ("run-closed", false, true, false),
        ("exec-closed", true, true, false),
        ("run-closed-ctl", false, true, true),
        ("exec-closed-ctl", true, true, true),
    ];
    for (tag, exec, closed, control) in cases {
        let before = ctime();
        let out = if exec {
            call_stdin(
                &t,
                &["exec", &running, "sh", "-c", STDIN_SCRIPT],
                closed,
                control,
            )
        } else {
            let b = t.bundle(tag, |c| sh(c, STDIN_SCRIPT));
            let id = t.id(tag);
            call_stdin(
                &t,
                &["run", "--bundle", b.dir.to_str().unwrap(), &id],
                closed,
                control,
            )
        };
        let after = ctime();
        out.expect_ok(tag);
        let report = &out.stdout;
        let line = |k: &str| common::report_value(report, k, tag);
        // The attack is real: stdin is the host's inode, and reads empty.
        assert_eq!(line("same"), host, "{tag}: {report}");
        assert_eq!(line("read"), "0", "{tag}: {report}");
        assert_eq!((before.2, before.3, before.4), (after.2, after.3, after.4));
        if control {
            assert_eq!(line("chmod"), "0", "control {tag}: {report}");
            assert_ne!(
                before, after,
                "control {tag}: the host's ctime did not move"
            );
        } else {
            assert_ne!(
                line("chmod"),
                "0",
                "{tag}: chmod reached the host: {report}"
            );
            assert_ne!(
                line("chown"),
                "0",
                "{tag}: chown reached the host: {report}"
            );
            assert_eq!(before, after, "{tag}: the host's /dev/null changed");
        }
    }
    t.outlet(&["kill", &running, "KILL"]).expect_ok("kill");
}

/// The fix's price: criu dumps a /dev/null on a detached mount but cannot
/// open it again on restore, so a checkpoint of a container made with a
/// closed stdin is refused before the dump (the container keeps running).
/// Control: made with `OUTLET_STDIO_NULL_WRITABLE=1` (its stdin the host's
/// /dev/null), the same container checkpoints.
#[test]
fn a_checkpoint_that_could_not_be_restored_is_refused() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    for control in [false, true] {
        let tag = if control { "ck-ctl" } else { "ck" };
        let b = t.bundle(tag, |c| sh(c, "sleep 60"));
        let id = t.id(tag);
        let args = ["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id];
        call_stdin(&t, &args, true, control).expect_ok(tag);
        let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
        t.track_pid(pid);
        let image = t.dir.join(format!("{tag}-img"));
        let out = criu_support::checkpoint(&t, &id, &image, &[]);
        if control {
            out.expect_ok("control: checkpoint");
        } else {
            out.expect_fail("checkpoint", "outlet's read-only /dev/null");
            assert_eq!(t.status(&id), "running");
            t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
        }
    }
}

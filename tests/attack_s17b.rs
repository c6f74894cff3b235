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
//! Every attack changes a host node to the value it already has (chmod to
//! its mode, chown to its owner, times to its times) and is detected by
//! the node's ctime, which any such call moves.
//!
//! Needs root (ignored otherwise) and a debug build (the control).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{OUTLET, T, sh};
use serde_json::{Value, json};

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

/// Each host node's (dev:ino, mode, uid, gid, ctime to the nanosecond).
fn host_nodes() -> Vec<(String, u32, u32, u32, (i64, i64))> {
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

//! The attacker's review of session 17: what a container can do to the
//! host through its masks.
//!
//! A masked file (`linux.maskedPaths`: /proc/keys, /proc/timer_list, ...)
//! is covered with a bind of the host's /dev/null, opened before
//! pivot_root and verified to be char 1:3 (the container's own /dev/null
//! may be anything a spec or a sibling made of it). The inode is the
//! host's, and the bind was writable: the container's root, the inode's
//! owner, could `chmod 0 /proc/keys` and so take /dev/null away from every
//! host program that is not root, or chown it to a user of its choice
//! (runc binds the container's own /dev/null, on its /dev tmpfs, so the
//! same call changes only the container's node). Fixed: the clone of the
//! host's /dev/null is made read-only (nosuid, noexec) while still
//! detached (src/rootfs/devices.rs `host_null`). A device node still opens
//! for writing on a read-only mount, so a masked file reads empty and takes
//! writes as before. Control `OUTLET_MASK_NULL_WRITABLE=1` (debug builds):
//! the clone stays writable, and the container's chmod reaches the host's
//! inode.
//!
//! Needs root (ignored otherwise) and a debug build (the control).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{OUTLET, T, sh};

/// The host's /dev/null's status change time, to the nanosecond: any
/// chmod or chown of the inode moves it, even one to the same mode and
/// owner, which is what the attack below makes (so that the control,
/// which must succeed, leaves the host's node as it found it).
fn host_null_ctime() -> (i64, i64) {
    let m = std::fs::metadata("/dev/null").unwrap();
    (m.ctime(), m.ctime_nsec())
}

#[test]
fn a_masked_file_gives_the_container_no_hold_on_the_hosts_dev_null() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    let null = std::fs::metadata("/dev/null").unwrap();
    assert_eq!(
        null.mode() & 0o7777,
        0o666,
        "the host's /dev/null is not 0666"
    );
    // /proc/keys is masked by `outlet spec`'s default list and exists on
    // every kernel with keys (outlet joins a session keyring of its own).
    let script = "
        f=/proc/keys
        [ -e $f ] || { echo missing; exit 0; }
        echo same=$(stat -c %d:%i $f)
        echo mount=$(grep \" $f \" /proc/self/mountinfo | cut -d' ' -f6)
        chmod 666 $f 2>/out/chmod.err; echo chmod=$?
        chown 0:0 $f 2>/out/chown.err; echo chown=$?
        echo read=$(wc -c <$f)
        echo x >$f; echo write=$?
    ";
    let host = format!("{}:{}", null.dev(), null.ino());
    for control in [false, true] {
        let tag = if control { "ctl" } else { "fix" };
        let b = t.bundle(tag, |c| sh(c, &format!("{{ {script} }} >/out/report")));
        let id = t.id(tag);
        let before = host_null_ctime();
        let env: &[(&str, &str)] = if control {
            &[("OUTLET_MASK_NULL_WRITABLE", "1")]
        } else {
            &[]
        };
        let bundle = b.dir.to_str().unwrap();
        t.call_env(
            Path::new(OUTLET),
            &["run", "--bundle", bundle, &id],
            &[],
            env,
        )
        .expect_ok("run");
        let after = host_null_ctime();
        let report = std::fs::read_to_string(b.out.join("report")).unwrap();
        assert!(
            !report.contains("missing"),
            "{tag}: no /proc/keys: {report}"
        );
        let line = |k: &str| common::report_value(&report, k, tag);
        // The mask's semantics hold either way: empty to read, writes taken.
        assert_eq!(line("read"), "0", "{tag}: {report}");
        assert_eq!(line("write"), "0", "{tag}: {report}");
        // The attack is real: the masked file is the host's inode.
        assert_eq!(
            line("same"),
            host,
            "{tag}: the mask is not the host's /dev/null"
        );
        if control {
            assert!(line("mount").starts_with("rw"), "{tag}: {report}");
            assert_eq!(line("chmod"), "0", "control: chmod failed: {report}");
            assert_ne!(before, after, "control: the host's ctime did not move");
        } else {
            assert!(line("mount").starts_with("ro"), "{tag}: {report}");
            assert_ne!(line("chmod"), "0", "chmod of the mask worked: {report}");
            assert_ne!(line("chown"), "0", "chown of the mask worked: {report}");
            let err = std::fs::read_to_string(b.out.join("chmod.err")).unwrap();
            assert!(err.contains("Read-only"), "{tag}: chmod said {err:?}");
            assert_eq!(before, after, "the container changed the host's /dev/null");
        }
        let m = std::fs::metadata("/dev/null").unwrap();
        assert_eq!(
            (m.mode(), m.uid(), m.gid()),
            (null.mode(), null.uid(), null.gid())
        );
    }
}

//! /dev's sub-mounts made from the fd of the /dev tmpfs outlet just made
//! (issue 15, session 7): the shortcut is taken only while /dev still
//! resolves to that tmpfs. A spec entry after it that covers /dev (here a
//! bind of a directory at /dev) sends the later /dev/pts back to the walk
//! from the root, so devpts lands where the spec's order puts it: in the
//! bound directory, which the program sees as /dev. Control: with the
//! shortcut applied blindly (`OUTLET_DEV_FD_BLIND=1`, debug builds) devpts
//! goes onto the covered tmpfs, where the program cannot see it.

mod common;

use common::{OUTLET, T};
use serde_json::{Value, json};
use std::path::Path;

/// The spec's mounts with a bind of `dir` at /dev right after its /dev
/// tmpfs, so that /dev/pts comes after a mount that covers /dev.
fn cover_dev(c: &mut Value, dir: &Path) {
    let mounts = c["mounts"].as_array_mut().unwrap();
    let at = mounts
        .iter()
        .position(|m| m["destination"] == "/dev")
        .expect("a /dev entry in outlet's spec")
        + 1;
    assert_eq!(
        mounts[at]["destination"], "/dev/pts",
        "outlet's spec: /dev/pts right after /dev"
    );
    mounts.insert(
        at,
        json!({"destination": "/dev", "type": "bind", "source": dir, "options": ["rbind", "rw"]}),
    );
    c["process"]["args"] = json!([
        "sh",
        "-c",
        "test -e /dev/pts/ptmx && echo PTS-SEEN; grep -c ' /dev/pts ' /proc/self/mountinfo"
    ]);
}

/// Runs the container with /dev covered after its tmpfs; stdout, and
/// whether devpts's directory was made in the bound directory.
fn attempt(t: &T, tag: &str, env: &[(&str, &str)]) -> (String, bool) {
    let dir = t.dir.join(format!("devdir-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let b = t.bundle(tag, |c| cover_dev(c, &dir));
    let id = t.id(tag);
    let o = t.call_env(
        Path::new(OUTLET),
        &["run", "--bundle", b.dir.to_str().unwrap(), &id],
        &[],
        env,
    );
    o.expect_ok(&format!("run with /dev covered ({tag})"));
    (o.stdout.clone(), dir.join("pts").is_dir())
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn dev_pts_after_a_mount_over_dev_lands_where_the_spec_says() {
    let Some(t) = T::new() else { return };
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_DEV_FD_BLIND)");
    }
    let (out, made) = attempt(&t, "fixed", &[]);
    assert!(
        out.contains("PTS-SEEN") && made,
        "devpts did not land in the /dev the program sees (made in the bind: {made}): {out}"
    );

    // Control: the fd of the covered tmpfs used all the same.
    let (out, made) = attempt(&t, "blind", &[("OUTLET_DEV_FD_BLIND", "1")]);
    assert!(
        !out.contains("PTS-SEEN") && !made,
        "control: the blind shortcut should have put devpts on the covered tmpfs \
         (made in the bind: {made}): {out}"
    );
    t.assert_nothing_left("after both runs");
}

/// The image's /dev is a symlink that climbs out of the root to a host
/// directory. /dev's tmpfs is resolved inside the root (to a directory of
/// the rootfs), and /dev/pts, /dev/shm and /dev/mqueue, made from that
/// tmpfs's fd, land in it: the program sees them at /dev, the host
/// directory stays empty (mountinfo names them by the path inside the
/// root the link led to). Control: the same link followed by path (a
/// plain mkdir from the host, what a walk without RESOLVE_IN_ROOT does)
/// lands in the host directory.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn dev_symlinked_out_of_the_root_keeps_its_submounts_inside() {
    let Some(t) = T::new() else { return };
    let host = t.dir.join("hostdev");
    std::fs::create_dir_all(&host).unwrap();
    let b = t.bundle("link", |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "test -e /dev/pts/ptmx && echo PTS-SEEN; \
             grep -E '/hostdev/(pts|shm|mqueue) ' /proc/self/mountinfo | wc -l"
        ]);
    });
    let rootfs = b.own_rootfs();
    std::fs::remove_dir_all(rootfs.join("dev")).unwrap();
    let climb = format!("../../../../../../../../..{}", host.display());
    std::os::unix::fs::symlink(&climb, rootfs.join("dev")).unwrap();

    let id = t.id("link");
    let o = t.call(
        Path::new(OUTLET),
        &["run", "--bundle", b.dir.to_str().unwrap(), &id],
        &[],
    );
    o.expect_ok("run with /dev a symlink out of the root");
    assert!(
        o.stdout.contains("PTS-SEEN") && o.stdout.trim_end().ends_with('3'),
        "the sub-mounts are not in the program's /dev: {}",
        o.stdout
    );
    let left: Vec<_> = std::fs::read_dir(&host).unwrap().collect();
    assert!(
        left.is_empty(),
        "outlet made {left:?} in the host directory"
    );

    // Control: the link, followed by path from the host, leads there.
    std::fs::create_dir_all(rootfs.join("dev/pts")).unwrap();
    assert!(
        host.join("pts").is_dir(),
        "control: the link does not lead to the host directory"
    );
    std::fs::remove_dir(host.join("pts")).unwrap();
    t.assert_nothing_left("after the run");
}

//! The attacker's review of session 4 and the /dev mount-id race, played
//! as the attacker in real containers.
//!
//! 1. The /dev race. outlet makes device nodes only in a /dev it mounted
//!    itself (a bind of a host directory reached through an image's
//!    symlink must never get nodes: mknod replaces what is there). It used
//!    to learn which mount that is by resolving /dev again after mounting
//!    it. A process that can change the rootfs tree (a sibling sharing the
//!    bundle, a shared volume) swaps /dev for a symlink to a bind of a host
//!    directory at that instant: the re-resolve lands on the host
//!    directory and outlet fills it with nodes. The window is held open by
//!    the debug build's `OUTLET_PAUSE=rootfs:dev-mounted=<file>`, so the
//!    swap always lands inside it. Control: `OUTLET_DEV_ID_BY_PATH=1` (a
//!    debug build's switch) takes the id the old way, and the same swap
//!    puts a `null` character device in the host directory.
//!
//! Needs root (skipped otherwise).

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use common::pause::Pause;
use common::{OUTLET, Out, T};
use serde_json::json;

/// What the host directory holds: (name, is a device node).
fn entries(dir: &Path) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                ft.is_char_device() || ft.is_block_device(),
            )
        })
        .collect();
    v.sort();
    v
}

/// One `create` under attack: the spec binds the host directory `volume`
/// at /data (first, so it is there when /dev is mounted) and mounts a
/// tmpfs at /dev (no /dev/* submounts, so the only thing that could land
/// in the volume is what outlet makes for /dev). While create is held
/// just after mounting /dev, the attacker renames the image's /dev away
/// and puts `/dev -> /data` in its place.
fn attempt(t: &T, tag: &str, env: &[(&str, &str)]) -> (Out, PathBuf) {
    let volume = t.dir.join(format!("volume-{tag}"));
    std::fs::create_dir_all(&volume).unwrap();
    let b = t.bundle(tag, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev/"));
        mounts.insert(
            0,
            json!({"destination": "/data", "type": "bind", "source": volume,
                   "options": ["rbind", "rw"]}),
        );
    });
    let rootfs = b.own_rootfs();
    let id = t.id(tag);
    let (mut cmd, so, se) = t.command(
        OUTLET.as_ref(),
        &["create", "--bundle", b.dir.to_str().unwrap(), &id],
    );
    cmd.envs(env.iter().copied());
    let out = Pause::new(t, tag, "rootfs:dev-mounted").around((cmd, so, se), || {
        // The attacker's move, from the host side of the shared tree: the
        // tmpfs stays mounted on the renamed directory in the container's
        // namespace; /dev now leads into the volume.
        std::fs::rename(rootfs.join("dev"), rootfs.join("dev.image")).unwrap();
        std::os::unix::fs::symlink("/data", rootfs.join("dev")).unwrap();
    });
    (out, volume)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn dev_swapped_after_its_mount_gets_no_nodes_in_a_host_dir() {
    let Some(t) = T::new() else { return };
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_PAUSE, OUTLET_DEV_ID_BY_PATH)");
    }

    let (out, volume) = attempt(&t, "fixed", &[]);
    out.expect_fail(
        "create with /dev swapped for a link to a host bind",
        "resolves onto a mount outlet did not make",
    );
    let got = entries(&volume);
    assert!(
        got.is_empty(),
        "outlet wrote into the host directory: {got:?}"
    );

    // Control: the id read by resolving /dev again after the swap.
    let (out, volume) = attempt(&t, "control", &[("OUTLET_DEV_ID_BY_PATH", "1")]);
    out.expect_ok("create with the old way of reading /dev's mount id");
    let got = entries(&volume);
    assert!(
        got.contains(&("null".to_string(), true)),
        "control: the old way should have made device nodes in the host directory, \
         found {got:?}"
    );
}

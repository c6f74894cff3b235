//! Attacks on the init's setup steps that session 6 moved onto fds (fewer
//! syscalls, no path looked up twice), played in real containers.
//!
//! 1. The cgroup mount. On a v1 host a `cgroup` mount is a tmpfs with one
//!    bind per controller. outlet used to mount the tmpfs by path, then
//!    resolve `<destination>/<controller>` in the rootfs again for each
//!    bind. A process that can change the rootfs tree (a sibling sharing
//!    the bundle, a shared volume) swaps the destination's parent for a
//!    symlink to a bind of a host directory at that instant: the
//!    re-resolve lands in the host directory, and outlet makes a directory
//!    per controller there. Now the controllers' directories are made in
//!    the new tmpfs through its fd. The window is held open by the debug
//!    build's `OUTLET_PAUSE=rootfs:cgroup-mounted=<file>`. Control:
//!    `OUTLET_CGROUP_BY_PATH=1` (a debug build's switch) resolves each
//!    directory by path again, and the same swap puts the controllers'
//!    directories in the host directory.
//!
//! 2. /dev's nodes without chown and chmod. mknod makes a node with the
//!    mode asked for less the umask (or as a default ACL says), owned by
//!    the creator's uid and by its gid or a setgid directory's. outlet
//!    now clears the umask around the mknods and skips the chown and
//!    chmod only in a directory of a tmpfs it made in this setup that is
//!    not setgid. The test runs outlet under umask 077 with a plain /dev
//!    and with a setgid /dev of another group, and compares every node's
//!    mode and owner with the spec's and with the same run where the
//!    debug switch `OUTLET_DEV_ALWAYS_CHOWN=1` fixes up every node as
//!    before. Control: a file the container itself makes in the same
//!    /dev shows that both the umask and the setgid group do reach it.
//!
//! 3. outlet itself in a user namespace (rootless podman) with a spec
//!    that lists none: the init no longer stats /proc/self/ns/user up
//!    front; a refused mknod (EPERM) makes it ask, and /dev's nodes become
//!    binds of the host's. Control: mknod of the same device by the same
//!    kind of caller is refused, so the binds are what made the nodes.
//!
//! Needs root (skipped otherwise).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::pause::Pause;
use common::{OUTLET, Out, T};
use serde_json::json;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// One `create` under attack: the spec binds the host directory `volume`
/// at /data (first, so it is there when the cgroup mount is made) and
/// makes a read-only `cgroup` mount at /a/cg. While create is held just
/// after the cgroup tmpfs is mounted, the attacker renames the image's
/// /a away and puts `/a -> /data` in its place, with a `cg` directory in
/// the volume for a re-resolve of `/a/cg/<controller>` to land in.
fn attempt(t: &T, tag: &str, env: &[(&str, &str)]) -> (Out, PathBuf) {
    let volume = t.dir.join(format!("volume-{tag}"));
    std::fs::create_dir_all(&volume).unwrap();
    let b = t.bundle(tag, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["type"] != "cgroup" && m["type"] != "cgroup2");
        mounts.insert(
            0,
            json!({"destination": "/data", "type": "bind", "source": volume,
                   "options": ["rbind", "rw"]}),
        );
        mounts.push(
            json!({"destination": "/a/cg", "type": "cgroup", "source": "cgroup",
                           "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
        );
    });
    let rootfs = b.own_rootfs();
    std::fs::create_dir_all(rootfs.join("a/cg")).unwrap();
    let id = t.id(tag);
    let (mut cmd, so, se) = t.command(
        OUTLET.as_ref(),
        &["create", "--bundle", b.dir.to_str().unwrap(), &id],
    );
    cmd.envs(env.iter().copied());
    let out = Pause::new(t, tag, "rootfs:cgroup-mounted").around((cmd, so, se), || {
        // The attacker's move, from the host side of the shared tree: the
        // tmpfs stays mounted on the renamed directory in the container's
        // namespace; /a now leads into the volume.
        std::fs::rename(rootfs.join("a"), rootfs.join("a.image")).unwrap();
        std::fs::create_dir(volume.join("cg")).unwrap();
        std::os::unix::fs::symlink("/data", rootfs.join("a")).unwrap();
    });
    (out, volume.join("cg"))
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cgroup_mount_swapped_after_its_tmpfs_makes_nothing_in_a_host_dir() {
    let Some(t) = T::new() else { return };
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_PAUSE, OUTLET_CGROUP_BY_PATH)");
    }

    let (out, cg) = attempt(&t, "fixed", &[]);
    out.expect_ok("create with the cgroup mount's parent swapped for a link to a host bind");
    let got = names(&cg);
    assert!(
        got.is_empty(),
        "outlet wrote into the host directory: {got:?}"
    );

    // Control: each controller's directory resolved by path again.
    let (out, cg) = attempt(&t, "control", &[("OUTLET_CGROUP_BY_PATH", "1")]);
    out.expect_ok("create with the old way of placing the cgroup binds");
    let got = names(&cg);
    assert!(
        got.iter().any(|n| n == "pids" || n == "memory"),
        "control: the old way should have made the controllers' directories in the host \
         directory (a cgroup v1 host), found {got:?}"
    );
}

/// `outlet run` under umask 077 of a shell listing the nodes' mode, uid
/// and gid, and of a file the container makes itself in /dev.
fn dev_listing(t: &T, tag: &str, dev_opts: &[&str], env: &[(&str, &str)]) -> String {
    let b = t.bundle(tag, |c| {
        let list = "stat -c '%n %a %u %g' /dev/null /dev/zero /dev/tty /dev/xa /dev/sub \\
                    /dev/sub/xc; touch /dev/made; stat -c '%n %a %u %g' /dev/made";
        c["process"]["args"] = json!(["sh", "-c", list]);
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                let o = m["options"].as_array_mut().unwrap();
                o.retain(|x| !x.as_str().unwrap().starts_with("mode="));
                o.extend(dev_opts.iter().map(|x| json!(x)));
            }
        }
        c["linux"]["devices"] = json!([
            {"path": "/dev/xa", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o640, "uid": 1000, "gid": 1001},
            {"path": "/dev/sub/xc", "type": "c", "major": 1, "minor": 5},
        ]);
    });
    let id = t.id(tag);
    let root = t.root.to_str().unwrap();
    let dir = b.dir.to_str().unwrap();
    let (mut cmd, so, se) = t.command_plain(
        Path::new("/bin/sh"),
        &[
            "-c",
            "umask 077; exec \"$0\" \"$@\"",
            OUTLET,
            "--root",
            root,
            "run",
            "--bundle",
            dir,
            &id,
        ],
    );
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawn outlet run");
    let status = common::wait_timeout(&mut child, Duration::from_secs(60), "outlet run");
    let out = Out::from_files(status, so, se);
    out.expect_ok(&format!("run listing /dev ({tag})"));
    out.stdout.clone()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn dev_nodes_get_the_spec_modes_and_owners_without_chown() {
    let Some(t) = T::new() else { return };
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_DEV_ALWAYS_CHOWN)");
    }
    let nodes = "/dev/null 666 0 0\n/dev/zero 666 0 0\n/dev/tty 666 0 0\n\
                 /dev/xa 640 1000 1001\n/dev/sub 755 0 0\n/dev/sub/xc 666 0 0\n";
    // A plain /dev: the nodes come out of mknod right.
    let plain = dev_listing(&t, "plain", &["mode=755"], &[]);
    assert_eq!(plain, format!("{nodes}/dev/made 600 0 0\n"));
    let before = dev_listing(
        &t,
        "plain-old",
        &["mode=755"],
        &[("OUTLET_DEV_ALWAYS_CHOWN", "1")],
    );
    assert_eq!(plain, before, "the fixed-up nodes differ from mknod's");

    // A setgid /dev of group 5: mknod alone would give group 5.
    let setgid = dev_listing(&t, "setgid", &["mode=2775", "gid=5"], &[]);
    let sub = "/dev/sub 2755 0 5\n";
    let want = nodes.replace("/dev/sub 755 0 0\n", sub);
    // Control: the container's own file in the same /dev has the umask's
    // mode and the directory's group.
    assert_eq!(setgid, format!("{want}/dev/made 600 0 5\n"));
    let before = dev_listing(
        &t,
        "setgid-old",
        &["mode=2775", "gid=5"],
        &[("OUTLET_DEV_ALWAYS_CHOWN", "1")],
    );
    assert_eq!(setgid, before, "the fixed-up nodes differ from mknod's");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn runtime_in_a_user_namespace_binds_the_host_nodes() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("in-userns", |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "stat -c '%n %t:%T %F' /dev/null /dev/zero; echo x >/dev/null && echo wrote"
        ]);
        let mounts = c["mounts"].as_array_mut().unwrap();
        // What a user namespace without the host's root can mount.
        mounts.retain(|m| m["type"] != "cgroup" && m["type"] != "cgroup2" && m["type"] != "sysfs");
        for m in mounts.iter_mut() {
            if m["destination"] == "/dev/pts" {
                m["options"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|o| o != "gid=5");
            }
        }
        mounts.push(
            json!({"destination": "/sys", "type": "bind", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
        );
        c["linux"].as_object_mut().unwrap().remove("resources");
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "user" && n["type"] != "cgroup");
    });
    let id = t.id("in-userns");
    let root = t.root.to_str().unwrap();
    let dir = b.dir.to_str().unwrap();
    let unshare = ["--user", "--map-root-user", "--mount"];
    let args = [
        &unshare[..],
        &[OUTLET, "--root", root, "run", "--bundle", dir, &id],
    ]
    .concat();
    let (mut cmd, so, se) = t.command_plain(Path::new("/usr/bin/unshare"), &args);
    let mut child = cmd.spawn().expect("spawn unshare outlet run");
    let status = common::wait_timeout(&mut child, Duration::from_secs(60), "outlet run");
    let out = Out::from_files(status, so, se);
    out.expect_ok("run by a caller in a user namespace");
    assert_eq!(
        out.stdout,
        "/dev/null 1:3 character special file\n/dev/zero 1:5 character special file\nwrote\n"
    );

    // Control: such a caller cannot make the node itself.
    let node = t.dir.join("null-by-mknod");
    let (mut cmd, so, se) = t.command_plain(
        Path::new("/usr/bin/unshare"),
        &[
            "--user",
            "--map-root-user",
            "mknod",
            node.to_str().unwrap(),
            "c",
            "1",
            "3",
        ],
    );
    let mut child = cmd.spawn().expect("spawn unshare mknod");
    let status = common::wait_timeout(&mut child, Duration::from_secs(30), "mknod");
    let out = Out::from_files(status, so, se);
    out.expect_fail("mknod in a user namespace", "Operation not permitted");
    assert!(!node.exists());
}

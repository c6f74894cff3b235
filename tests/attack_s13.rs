//! The attacker's review of session 13 (round 11): the spec fields that
//! reach the host or the kernel outside the container's own namespaces,
//! and input a caller may pass malformed. docs/known-gaps.md, "Session 13,
//! round 11", lists what was tried and held.
//!
//! 1. `linux.netDevices` with a network namespace joined by path that is
//!    the runtime's own. The spec check asked only that *some* network
//!    entry be there; the kernel takes a move into the namespace a device
//!    is already in as done (`__dev_change_net_namespace`: nothing to do),
//!    and the rename in the same RTM_NEWLINK then renamed the host's
//!    interface in place, set it up and added its addresses again: a
//!    config.json naming `/proc/1/ns/net` (or any path to the caller's
//!    namespace) and `{"eth0": {"name": "x"}}` renamed the host's uplink,
//!    and nothing put it back at delete. sysctl.rs already refuses a
//!    sysctl there for the same reason. Fixed: refused at the spec check
//!    naming the field (exit 1, nothing left), and again by create on the
//!    namespace the init is in (a path swapped after the check, held at
//!    `create:mkdir`). Control `OUTLET_NETDEV_NS_UNCHECKED=1`: run exits
//!    0 and the interface is renamed in the runtime's namespace.
//!
//! 2. `linux.devices` and blkio device numbers past the kernel's 12-bit
//!    major and 20-bit minor. mknod(2) takes the device as 32 bits, so
//!    `c 4097:3` and `c 1:1048579` were made as 1:3; blkio's `MAJ:MIN` is
//!    read into MKDEV, so a throttle for `0:(254 << 20)` limited 254:0.
//!    Fixed: refused naming the field. Control `OUTLET_DEVNUM_UNCHECKED=1`.
//! 3. A mount or uts namespace joined by path that is the runtime's own
//!    (or PID 1's). The checks asked only that the entry be there. In the
//!    mount namespace the init then did its rootfs setup and pivot_root
//!    *in the runtime's namespace*: pivot_root moves the root of every
//!    process there whose root is the old one, so the whole host found
//!    itself in the container's rootfs (seen in a private mount namespace:
//!    `ls /` there gave the fixture's `bin dev etc out proc root sys tmp
//!    usr`, and outlet itself then failed to write its state.json); in the
//!    uts namespace `hostname` and `domainname` renamed the host. Fixed:
//!    refused at the spec check naming the entry, and again by the init on
//!    the opened files before any join (a path swapped after the check,
//!    held at `create:mkdir`). Control `OUTLET_JOINED_HOST_NS_UNCHECKED=1`.
//! 4. A new time namespace's offsets in a mount namespace joined by path
//!    (another container's). The init wrote them to
//!    `/proc/self/timens_offsets` by path, as the host's root, in the
//!    joined tree, whose /proc the other container may cover: a `self`
//!    it planted there took the write to a file of its choosing (a host
//!    directory bound at its /out got `timens_offsets`). Fixed: with a
//!    joined mount namespace, the offsets and `time_for_children` go
//!    through a procfs instance of the init's own. Control
//!    `OUTLET_TIMENS_BY_PATH=1`.
//!
//! Every test that makes interfaces runs outlet from a thread in a network
//! namespace of its own (tests/common/netns.rs): "the host's" interface is
//! that namespace's, which dies with the thread. The mount and uts tests
//! do the same with a thread that unshared a mount namespace (made
//! private, so nothing propagates to the host's) or a uts namespace.
//!
//! Needs root (ignored otherwise) and a debug build (the controls).

mod common;

use std::path::Path;

use common::netns::{in_private_netns, ip, veth};
use common::{T, sh};
use serde_json::json;

fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// A veth `dev` (peer `peer`), up, with `addr` as a DHCP client leaves
/// it on an uplink: with a lifetime, so not IFA_F_PERMANENT (which a
/// move would carry, and a "move" in place would then fail to add again,
/// EEXIST, and so never reach the rename).
fn uplink(dev: &str, peer: &str, addr: &str) {
    veth(
        dev,
        peer,
        &format!("{addr} valid_lft 3600 preferred_lft 3600"),
    );
}

/// The bundle's network entry joins `path`, and `netDevices` renames
/// `dev` to `new`.
fn netdev_bundle(t: &T, tag: &str, path: &Path, dev: &str, new: &str) -> common::Bundle {
    t.bundle(tag, |c| {
        let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != "network");
        nss.push(json!({"type": "network", "path": path}));
        c["linux"]["netDevices"] = json!({dev: {"name": new}});
        sh(c, "echo ran > /out/ran");
    })
}

/// `dev` is still in the calling thread's namespace under its own name,
/// with its address, up; `new` is not there.
#[track_caller]
fn untouched(tag: &str, dev: &str, addr: &str, new: &str) {
    let (ok, text) = ip(&format!("-o addr show {dev}"));
    assert!(ok && text.contains(addr), "{tag}: {dev} changed: {text}");
    let (_, link) = ip(&format!("-o link show {dev}"));
    assert!(link.contains(",UP"), "{tag}: {dev} not up: {link}");
    let (there, text) = ip(&format!("-o link show {new}"));
    assert!(!there, "{tag}: {new} exists: {text}");
}

/// Finding 1. The runtime's own network namespace by path: refused at the
/// check (direct) and at the move (a path swapped after the check), the
/// interface untouched, nothing left. Control (OUTLET_NETDEV_NS_UNCHECKED=1):
/// exit 0 and the runtime's interface renamed in place.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn net_devices_never_rename_the_runtimes_own_interface() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    in_private_netns(|| {
        let (dev, addr, new) = ("o13-h0", "10.113.0.2/24", "o13-pwn");
        uplink(dev, "o13-p0", addr);
        let ours = std::path::PathBuf::from(format!("/proc/{}/ns/net", gettid()));

        // Direct: the path names our namespace.
        let b = netdev_bundle(&t, "direct", &ours, dev, new);
        let id = t.id("direct");
        t.run(&id, &b).expect_fail(
            "direct",
            "linux.netDevices: the network namespace joined by path is the runtime's own",
        );
        assert!(!b.out.join("ran").exists(), "direct: the container ran");
        assert!(!t.state_dir_exists(&id), "direct: state left behind");
        untouched("direct", dev, addr, new);

        // Swapped: another container's namespace at the check, ours by the
        // time the init opens the path.
        let hb = t.bundle("holder", |c| {
            c["process"]["args"] = json!(["sleep", "1000"]);
        });
        let hp = t.create_ok(&t.id("holder"), &hb);
        let link = t.dir.join("net-swapped");
        std::os::unix::fs::symlink(format!("/proc/{hp}/ns/net"), &link).unwrap();
        let b = netdev_bundle(&t, "swapped", &link, dev, new);
        let id = t.id("swapped");
        let p = common::pause::Pause::new(&t, "swapped", "create:mkdir");
        let cmd = t.command(
            Path::new(common::OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &id],
        );
        let out = p.around(cmd, || {
            std::fs::remove_file(&link).unwrap();
            std::os::unix::fs::symlink(&ours, &link).unwrap();
        });
        out.expect_fail(
            "swapped",
            "linux.netDevices: the container's network namespace is the runtime's own",
        );
        assert!(!b.out.join("ran").exists(), "swapped: the container ran");
        assert!(!t.state_dir_exists(&id), "swapped: state left behind");
        untouched("swapped", dev, addr, new);
        t.outlet(&["delete", "--force", &t.id("holder")])
            .expect_ok("delete the holder");

        // Control: unchecked, the "move" renames our own interface.
        let b = netdev_bundle(&t, "ctl", &ours, dev, new);
        let id = t.id("ctl");
        t.call_env(
            Path::new(common::OUTLET),
            &["run", "--bundle", b.dir.to_str().unwrap(), &id],
            &[],
            &[("OUTLET_NETDEV_NS_UNCHECKED", "1")],
        )
        .expect_ok("control: run with our own namespace");
        let (renamed, text) = ip(&format!("-o link show {new}"));
        assert!(renamed, "control: {new} not in our namespace: {text}");
        let (still, text) = ip(&format!("-o link show {dev}"));
        assert!(!still, "control: {dev} still there: {text}");
        t.outlet(&["delete", "--force", &id])
            .expect_ok("delete ctl");
    });
    t.assert_nothing_left("netdev in the runtime's namespace");
}

/// Finding 2, `linux.devices`. A major past 12 bits or a minor past 20
/// made another node: mknod(2) takes the device as 32 bits, so `c 4097:3`
/// and `c 1:1048579` were each made as 1:3 (/dev/null's number; on a host
/// 1:1 would be /dev/mem). Fixed: refused naming the entry, exit 1,
/// nothing left. Control (OUTLET_DEVNUM_UNCHECKED=1): the node is 1:3.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn device_numbers_past_the_kernels_bits_make_no_other_node() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    for (tag, major, minor, needle) in [
        ("major", 4097, 3, "major 4097 is outside 0..4095"),
        ("minor", 1, 1048579, "minor 1048579 is outside 0..1048575"),
    ] {
        for control in [false, true] {
            let tag = format!("{tag}-{}", if control { "ctl" } else { "fixed" });
            let b = t.bundle(&tag, |c| {
                c["linux"]["devices"] = json!([{"path": "/dev/o13", "type": "c",
                    "major": major, "minor": minor, "fileMode": 0o666}]);
                sh(c, "stat -c %t:%T /dev/o13 > /out/num");
            });
            let id = t.id(&tag);
            let env: &[(&str, &str)] = if control {
                &[("OUTLET_DEVNUM_UNCHECKED", "1")]
            } else {
                &[]
            };
            let out = t.call_env(
                Path::new(common::OUTLET),
                &["run", "--bundle", b.dir.to_str().unwrap(), &id],
                &[],
                env,
            );
            if control {
                out.expect_ok(&tag);
                let num = std::fs::read_to_string(b.out.join("num")).unwrap();
                assert_eq!(num.trim(), "1:3", "{tag}: the node made");
                t.outlet(&["delete", "--force", &id]).expect_ok("delete");
            } else {
                out.expect_fail(&tag, &format!("linux.devices[0] /dev/o13: {needle}"));
                assert!(!b.out.join("num").exists(), "{tag}: the container ran");
                assert!(!t.state_dir_exists(&id), "{tag}: state left behind");
            }
        }
    }
    t.assert_nothing_left("device numbers");
}

/// Finding 2, blkio. The kernel reads `MAJ:MIN` into MKDEV(major, minor):
/// a minor of 2^20 or more spills into the major, so a throttle written
/// for `0:(M << 20 | m)` limits the host's block device M:m. Fixed:
/// refused naming the field, nothing left. Control
/// (OUTLET_DEVNUM_UNCHECKED=1): the container's blkio file names M:m.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn blkio_minor_past_20_bits_limits_no_other_device() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    // The first block device the host lists.
    let parts = std::fs::read_to_string("/proc/partitions").unwrap();
    let (ma, mi): (i64, i64) = parts
        .lines()
        .skip(2)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.first()?.parse().ok()?, f.get(1)?.parse().ok()?))
        })
        .expect("a block device in /proc/partitions");
    let aliased = (ma << 20) | mi;
    for control in [false, true] {
        let tag = if control { "blkio-ctl" } else { "blkio-fixed" };
        let b = t.bundle(tag, |c| {
            c["process"]["args"] = json!(["sleep", "1000"]);
            c["linux"]["resources"]["blockIO"] = json!({"throttleReadBpsDevice":
                [{"major": 0, "minor": aliased, "rate": 1048576}]});
        });
        let id = t.id(tag);
        let env: &[(&str, &str)] = if control {
            &[("OUTLET_DEVNUM_UNCHECKED", "1")]
        } else {
            &[]
        };
        let out = t.call_env(
            Path::new(common::OUTLET),
            &["create", "--bundle", b.dir.to_str().unwrap(), &id],
            &[],
            env,
        );
        if control {
            out.expect_ok(tag);
            let dir = common::cgroup_dirs_for(&id)
                .into_iter()
                .find(|d| d.starts_with("/sys/fs/cgroup/blkio") && d.exists())
                .expect("the container's blkio cgroup");
            let f = std::fs::read_to_string(dir.join("blkio.throttle.read_bps_device")).unwrap();
            assert_eq!(f.trim(), format!("{ma}:{mi} 1048576"), "{tag}");
            t.outlet(&["delete", "--force", &id]).expect_ok("delete");
        } else {
            out.expect_fail(
                tag,
                &format!(
                    "linux.resources.blockIO.throttleReadBpsDevice: device 0:{aliased}: minor {aliased} is outside"
                ),
            );
            assert!(!t.state_dir_exists(&id), "{tag}: state left behind");
        }
    }
    t.assert_nothing_left("blkio device numbers");
}

/// `f` on a thread of its own that unshared `flags` (a mount namespace is
/// made private first thing, so that nothing done in it reaches the
/// host's). The namespaces die with the thread and what it started.
fn in_private_ns<R: Send>(flags: nix::sched::CloneFlags, f: impl FnOnce() -> R + Send) -> R {
    use nix::mount::{MsFlags, mount};
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            nix::sched::unshare(flags).expect("unshare for the test");
            if flags.contains(nix::sched::CloneFlags::CLONE_NEWNS) {
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )
                .expect("make the test's mount namespace private");
            }
            f()
        });
        h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// A bundle that joins `path` as its `typ` namespace (instead of making
/// one), with `edit` on top.
fn joining(
    t: &T,
    tag: &str,
    typ: &str,
    path: &Path,
    edit: impl FnOnce(&mut serde_json::Value),
) -> common::Bundle {
    t.bundle(tag, |c| {
        let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != typ);
        nss.push(json!({"type": typ, "path": path}));
        sh(c, "echo ran > /out/ran");
        edit(c);
    })
}

/// `outlet run` of `b` as `id`, with `env`, from the calling thread; with
/// `swap`, held at `create:mkdir` (after the spec check) while `link` is
/// repointed at `to`.
fn run_held(
    t: &T,
    b: &common::Bundle,
    id: &str,
    env: &[(&str, &str)],
    swap: Option<(&Path, &Path)>,
) -> common::Out {
    let args = ["run", "--bundle", b.dir.to_str().unwrap(), id];
    let Some((link, to)) = swap else {
        return t.call_env(Path::new(common::OUTLET), &args, &[], env);
    };
    let p = common::pause::Pause::new(t, id, "create:mkdir");
    let mut cmd = t.command(Path::new(common::OUTLET), &args);
    cmd.0.envs(env.iter().copied());
    p.around(cmd, || {
        std::fs::remove_file(link).unwrap();
        std::os::unix::fs::symlink(to, link).unwrap();
    })
}

fn root_id() -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/").unwrap();
    (m.dev(), m.ino())
}

/// A created container (`KIND-holder`, sleeping) whose `KIND` namespace
/// the attacks swap in after the check: a namespace that is not ours.
fn holder_ns(t: &T, kind: &str) -> std::path::PathBuf {
    let tag = format!("{kind}-holder");
    let hb = t.bundle(&tag, |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let pid = t.create_ok(&t.id(&tag), &hb);
    std::path::PathBuf::from(format!("/proc/{pid}/ns/{kind}"))
}

/// Finding 3, mount. Our own mount namespace by path, directly and
/// swapped in after the check: refused, our root unchanged, nothing left.
/// Controls (OUTLET_JOINED_HOST_NS_UNCHECKED=1, each in a thread of its
/// own, since it loses its root): the thread's root is the container's
/// rootfs afterwards, both ways.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_mount_namespace_joined_by_path_is_never_the_runtimes() {
    use nix::sched::CloneFlags;
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let holder = holder_ns(&t, "mnt");
    let unchecked = [("OUTLET_JOINED_HOST_NS_UNCHECKED", "1")];
    for (tag, swapped, control) in [
        ("mnt-direct", false, false),
        ("mnt-swapped", true, false),
        ("mnt-direct-ctl", false, true),
        ("mnt-swapped-ctl", true, true),
    ] {
        let (out, before, after) = in_private_ns(CloneFlags::CLONE_NEWNS, || {
            let ours = std::path::PathBuf::from(format!("/proc/{}/ns/mnt", gettid()));
            let link = t.dir.join(format!("link-{tag}"));
            std::os::unix::fs::symlink(if swapped { &holder } else { &ours }, &link).unwrap();
            let b = joining(&t, tag, "mount", &link, |_| {});
            let before = root_id();
            let env: &[(&str, &str)] = if control { &unchecked } else { &[] };
            let swap = swapped.then_some((link.as_path(), ours.as_path()));
            let out = run_held(&t, &b, &t.id(tag), env, swap);
            // The only path-free look at what happened to our root.
            (out, before, root_id())
        });
        if control {
            assert_ne!(before, after, "{tag}: our root was not pivoted: {out:#?}");
        } else {
            let needle = if swapped {
                "linux.namespaces: the mount namespace"
            } else {
                "linux.namespaces: the mount namespace joined by path"
            };
            out.expect_fail(tag, needle);
            assert!(out.stderr.contains("runtime's own"), "{tag}: {out:#?}");
            assert_eq!(before, after, "{tag}: our root changed");
            assert!(!t.state_dir_exists(&t.id(tag)), "{tag}: state left");
        }
    }
    t.outlet(&["delete", "--force", &t.id("mnt-holder")])
        .expect_ok("delete the holder");
    // The controls' failed runs left their state and cgroups (outlet lost
    // its own root); delete --force removes them.
    for tag in ["mnt-direct-ctl", "mnt-swapped-ctl"] {
        let id = t.id(tag);
        if t.state_dir_exists(&id) {
            t.outlet(&["delete", "--force", &id])
                .expect_ok("delete a control");
        }
    }
    t.assert_nothing_left("joined mount namespace");
}

/// Finding 3, uts. Our own uts namespace by path with a hostname and a
/// domain name, directly and swapped in after the check: refused, our
/// names unchanged. Control (OUTLET_JOINED_HOST_NS_UNCHECKED=1): our
/// hostname is the container's afterwards, both ways.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hostname_never_renames_the_runtimes_uts_namespace() {
    use nix::sched::CloneFlags;
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let holder = holder_ns(&t, "uts");
    let unchecked = [("OUTLET_JOINED_HOST_NS_UNCHECKED", "1")];
    in_private_ns(CloneFlags::CLONE_NEWUTS, || {
        let ours = std::path::PathBuf::from(format!("/proc/{}/ns/uts", gettid()));
        let host = || nix::unistd::gethostname().unwrap().into_string().unwrap();
        for (tag, swapped, control) in [
            ("uts-direct", false, false),
            ("uts-swapped", true, false),
            ("uts-direct-ctl", false, true),
            ("uts-swapped-ctl", true, true),
        ] {
            nix::unistd::sethostname("o13-orig").unwrap();
            let link = t.dir.join(format!("link-{tag}"));
            std::os::unix::fs::symlink(if swapped { &holder } else { &ours }, &link).unwrap();
            let b = joining(&t, tag, "uts", &link, |c| {
                c["hostname"] = json!("o13-pwned");
                c["domainname"] = json!("o13-dom");
            });
            let id = t.id(tag);
            let env: &[(&str, &str)] = if control { &unchecked } else { &[] };
            let swap = swapped.then_some((link.as_path(), ours.as_path()));
            let out = run_held(&t, &b, &id, env, swap);
            if control {
                out.expect_ok(tag);
                assert_eq!(host(), "o13-pwned", "{tag}: our hostname");
            } else {
                out.expect_fail(tag, "hostname/domainname: the uts namespace");
                assert!(out.stderr.contains("runtime's own"), "{tag}: {out:#?}");
                assert_eq!(host(), "o13-orig", "{tag}: our hostname changed");
                assert!(!b.out.join("ran").exists(), "{tag}: the container ran");
                assert!(!t.state_dir_exists(&id), "{tag}: state left");
            }
        }
    });
    t.outlet(&["delete", "--force", &t.id("uts-holder")])
        .expect_ok("delete the holder");
    t.assert_nothing_left("joined uts namespace");
}

/// Finding 4. A new time namespace with offsets, in a mount namespace
/// joined by path (another container's): the init wrote the offsets to
/// `/proc/self/timens_offsets` by path, in the joined tree, as host root,
/// before anything else of its setup. The holder, which can mount in its
/// own namespace (played here from the host with nsenter, as the earlier
/// rounds' attackers), covers its /proc with a tmpfs whose `self` leads to
/// /out, its bind of a host directory: the write created a file there.
/// Fixed: with a joined mount namespace the offsets go through a procfs
/// instance of the init's own. Control (OUTLET_TIMENS_BY_PATH=1): the
/// file appears in the host directory.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn time_offsets_never_follow_a_joined_mount_namespaces_proc() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let hb = t.bundle("tns-holder", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let hp = t.create_ok(&t.id("tns-holder"), &hb);
    let st = std::process::Command::new("nsenter")
        .args(["-t", &hp.to_string(), "-m", "--"])
        .args([
            "sh",
            "-c",
            "mount -t tmpfs none /proc && ln -s /out /proc/self",
        ])
        .status()
        .expect("nsenter");
    assert!(st.success(), "the holder's /proc covered");
    let planted = hb.out.join("timens_offsets");
    let mnt = std::path::PathBuf::from(format!("/proc/{hp}/ns/mnt"));
    for control in [false, true] {
        let tag = if control { "tns-ctl" } else { "tns-fixed" };
        let b = joining(&t, tag, "mount", &mnt, |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "time"}));
            c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 5, "nanosecs": 0}});
        });
        let env: &[(&str, &str)] = if control {
            &[("OUTLET_TIMENS_BY_PATH", "1")]
        } else {
            &[]
        };
        // The run fails either way (the bundle's rootfs is no path in the
        // holder's tree); what matters is where the offsets went.
        let out = run_held(&t, &b, &t.id(tag), env, None);
        assert!(!out.ok(), "{tag}: ran in the holder's tree: {out:#?}");
        if control {
            let text = std::fs::read_to_string(&planted)
                .unwrap_or_else(|e| panic!("{tag}: nothing written to the holder's choice: {e}"));
            assert_eq!(text, "monotonic 5 0\n", "{tag}");
        } else {
            assert!(
                !planted.exists(),
                "{tag}: the offsets went to {planted:?}: {out:#?}"
            );
            // The time namespace was made and entered: the run got as far
            // as the rootfs, which the holder's tree does not have.
            assert!(out.stderr.contains("root.path"), "{tag}: {out:#?}");
        }
        assert!(!t.state_dir_exists(&t.id(tag)), "{tag}: state left");
    }
    t.outlet(&["delete", "--force", &t.id("tns-holder")])
        .expect_ok("delete the holder");
    t.assert_nothing_left("time offsets in a joined mount namespace");
}

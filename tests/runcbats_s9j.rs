//! runc's integration suite, ported (see runcbats_s9.rs for the method):
//! netdev.bats, the cases netdev_s8.rs does not already cover. Each test
//! runs outlet from a thread that unshared a network namespace of its
//! own, so the dummy interface never exists on the host.

mod common;

use std::process::Command;

use common::T;
use common::netns::{in_private_netns, ip};
use serde_json::{Value, json};

/// netdev.bats's setup: dummy0, up, with 169.254.169.13/32 (a veth: this
/// kernel has no dummy driver; its peer stays behind and dies with the
/// test's namespace, or with dummy0 when that one is destroyed).
fn dummy0() {
    for cmd in [
        "link add dummy0 type veth peer name dummy0p",
        "link set up dev dummy0",
        "addr add 169.254.169.13/32 dev dummy0",
    ] {
        let (ok, out) = ip(cmd);
        assert!(ok, "ip {cmd}: {out}");
    }
}

fn set_netns(c: &mut Value, path: Option<&str>) {
    let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
    nss.retain(|n| n["type"] != "network");
    let mut ns = json!({"type": "network"});
    if let Some(p) = path {
        ns["path"] = json!(p);
    }
    nss.push(ns);
}

// runc: netdev.bats "move network device to container network namespace",
//       netdev.bats "move network device to container network namespace and rename"
// (the namespace given by path, as the bats tests give one made by
// `ip netns add`)
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn net_device_into_a_namespace_given_by_path() {
    let Some(t) = T::new() else { return };
    in_private_netns(|| {
        for (tag, devs, dev) in [
            ("keep", json!({"dummy0": {}}), "dummy0"),
            (
                "rename",
                json!({"dummy0": {"name": "ctr_dummy0"}}),
                "ctr_dummy0",
            ),
        ] {
            dummy0();
            // The namespace the container joins: a sleeper's of the
            // test's own; a dummy device dies with it.
            let mut holder = Command::new("unshare")
                .args(["-n", "sleep", "1000"])
                .spawn()
                .expect("spawn unshare -n sleep");
            t.track_pid(holder.id() as i32);
            let path = format!("/proc/{}/ns/net", holder.id());
            let in_holder = || {
                let args = format!("--net={path} ip link show dev {dev}");
                let st = Command::new("nsenter")
                    .args(args.split_whitespace())
                    .output()
                    .expect("nsenter");
                st.status.success()
            };
            // Wait for unshare to have entered its namespace.
            let own = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
            while std::fs::read_link(&path).ok().as_ref() == Some(&own) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            // Control: before the run the holder's namespace has no such
            // device (the check after could fail).
            assert!(
                !in_holder(),
                "{tag}: {dev} already in the holder's namespace"
            );
            let b = t.bundle(tag, |c| {
                set_netns(c, Some(&path));
                c["linux"]["netDevices"] = devs;
                c["process"]["args"] = json!(["ip", "address", "show", "dev", dev]);
            });
            let o = t.outlet(&["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)]);
            let o = o.expect_ok(tag);
            assert!(o.stdout.contains("169.254.169.13/32"), "{tag}: {o:?}");
            // It stays in the joined namespace, which outlives the
            // container, and is gone from the test's.
            assert!(in_holder(), "{tag}: {dev} not in the joined namespace");
            assert!(!ip("link show dev dummy0").0, "{tag}: still here");
            // The peer's deletion takes the moved end with it (the
            // holder's namespace goes away only later, asynchronously).
            let (ok, out) = ip("link del dummy0p");
            assert!(ok, "ip link del dummy0p: {out}");
            let _ = holder.kill();
            let _ = holder.wait();
        }
    });
}

// runc: netdev.bats "network device on root namespace fails"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn net_device_without_a_network_namespace_is_refused() {
    let Some(t) = T::new() else { return };
    in_private_netns(|| {
        dummy0();
        let run = |tag: &str, own_ns: bool| {
            let b = t.bundle(tag, |c| {
                common::drop_ns(c, "network");
                if own_ns {
                    set_netns(c, None);
                }
                c["linux"]["netDevices"] = json!({"dummy0": {}});
                c["process"]["args"] = json!(["true"]);
            });
            t.outlet(&["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)])
        };
        run("root", false).expect_fail("netDevices without a network namespace", "netDevices");
        t.assert_nothing_left("netDevices without a network namespace");
        assert!(ip("link show dev dummy0").0, "dummy0 moved anyway");
        // Control: the same spec with a namespace of its own runs.
        run("own", true).expect_ok("netDevices with a network namespace");
    });
}

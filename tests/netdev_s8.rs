//! `linux.netDevices` with real interfaces, never the host's: each test
//! runs outlet from a thread of its own that unshared a network namespace
//! (a thread's children inherit its namespaces), where it makes a veth
//! pair (this kernel has no `dummy` module; veth is built in). The
//! namespace, and every interface in it, dies with the thread and its
//! processes. And `process.execCPUAffinity` through `exec`.

mod common;

use common::netns::{in_private_netns, ip, veth};
use common::{T, sh};
use serde_json::json;

fn ensure_netns(c: &mut serde_json::Value) {
    let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
    if !nss.iter().any(|n| n["type"] == "network") {
        nss.push(json!({"type": "network"}));
    }
}

/// The interface is moved in, renamed, with its address and up; the
/// test's namespace no longer has it while the container lives. Control:
/// the same bundle without `netDevices` sees no such interface, and the
/// interface stays in the test's namespace.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn net_device_is_moved_renamed_with_its_address() {
    let Some(t) = T::new() else { return };
    in_private_netns(|| {
        let script =
            "ip -o addr show > /out/addr; ip -o link show > /out/link; echo ok > /out/done";
        for moved in [true, false] {
            let tag = if moved { "moved" } else { "control" };
            // A pair for each: the moved one dies with the container's
            // namespace (a virtual device), its peer with it, a moment
            // after (the kernel's cleanup runs in the background).
            let (host, peer) = if moved {
                ("o-h0", "o-p0")
            } else {
                ("o-h1", "o-p1")
            };
            veth(host, peer, "10.77.0.2/24");
            let b = t.bundle(tag, |c| {
                ensure_netns(c);
                sh(c, script);
                if moved {
                    c["linux"]["netDevices"] = json!({host: {"name": "ctr7"}});
                }
            });
            let id = t.id(tag);
            t.create_ok(&id, &b);
            // The init waits at the gate: the device is already in its
            // namespace, gone from ours.
            let (present, text) = ip(&format!("-o link show {host}"));
            assert_eq!(
                present, !moved,
                "{tag}: {host} in the test's namespace: {text}"
            );
            let (stays, text) = ip(&format!("-o link show {peer}"));
            assert!(stays, "{tag}: the peer stays: {text}");
            t.outlet(&["start", &id]).expect_ok("start");
            t.wait_status(&id, "stopped");
            let addr = std::fs::read_to_string(b.out.join("addr")).unwrap();
            let link = std::fs::read_to_string(b.out.join("link")).unwrap();
            t.outlet(&["delete", &id]).expect_ok("delete");
            let ctr7 = link
                .lines()
                .find(|l| l.contains(" ctr7@") || l.contains(" ctr7:"));
            if moved {
                let l = ctr7.unwrap_or_else(|| panic!("no ctr7 inside: {link}"));
                assert!(l.contains("<") && l.contains(",UP"), "ctr7 not up: {l}");
                assert!(
                    addr.lines()
                        .any(|l| l.contains("ctr7") && l.contains("inet 10.77.0.2/24")),
                    "address not kept: {addr}"
                );
                assert!(!link.contains(host), "old name inside: {link}");
            } else {
                assert!(ctr7.is_none(), "control: ctr7 inside: {link}");
                assert!(
                    !addr.contains("10.77.0.2"),
                    "control: address inside: {addr}"
                );
                let (still, text) = ip(&format!("-o addr show {host}"));
                assert!(still && text.contains("10.77.0.2/24"), "control: {text}");
            }
        }
    });
    t.assert_nothing_left("netdev");
}

/// A missing interface is refused naming it, with nothing left; one moved
/// before a later one failed is back under its own name with its address
/// and up. The failing ones: an interface that does not exist, and a new
/// name the container's namespace already has (`lo`).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn failed_net_device_is_refused_and_earlier_ones_come_back() {
    let Some(t) = T::new() else { return };
    in_private_netns(|| {
        veth("o-a0", "o-pa", "10.78.0.2/24");
        veth("o-b0", "o-pb", "10.79.0.2/24");
        for (tag, devices, needle) in [
            (
                "missing",
                json!({"o-a0": {}, "o-zz": {}}),
                "linux.netDevices[\"o-zz\"]: no interface \"o-zz\" in the runtime's network namespace",
            ),
            (
                "clash",
                json!({"o-a0": {"name": "x1"}, "o-b0": {"name": "lo"}}),
                "linux.netDevices[\"o-b0\"]: move \"o-b0\" into the container as \"lo\"",
            ),
        ] {
            let b = t.bundle(tag, |c| {
                ensure_netns(c);
                sh(c, "echo ran > /out/ran");
                c["linux"]["netDevices"] = devices.clone();
            });
            let id = t.id(tag);
            t.run(&id, &b).expect_fail(tag, needle);
            assert!(!b.out.join("ran").exists(), "{tag}: the container ran");
            assert!(!t.state_dir_exists(&id), "{tag}: state left behind");
            for (dev, addr) in [("o-a0", "10.78.0.2/24"), ("o-b0", "10.79.0.2/24")] {
                let (ok, text) = ip(&format!("-o addr show {dev}"));
                assert!(ok && text.contains(addr), "{tag}: {dev} not back: {text}");
                let (_, link) = ip(&format!("-o link show {dev}"));
                assert!(link.contains(",UP"), "{tag}: {dev} not up again: {link}");
            }
        }
    });
    t.assert_nothing_left("netdev refusals");
}

/// `exec` of a process file with `execCPUAffinity`, its allowed CPUs as
/// the process sees them (Cpus_allowed_list), and outlet's stderr.
fn exec_affinity(
    t: &T,
    id: &str,
    base: &serde_json::Value,
    aff: Option<serde_json::Value>,
) -> common::Out {
    let mut p = base.clone();
    p["args"] = json!(["sh", "-c", "grep Cpus_allowed_list /proc/self/status"]);
    if let Some(a) = aff {
        p["execCPUAffinity"] = a;
    }
    let file = t.dir.join("affinity-process.json");
    std::fs::write(&file, serde_json::to_vec(&p).unwrap()).unwrap();
    t.outlet(&["exec", "--process", file.to_str().unwrap(), id])
}

fn allowed(o: &common::Out) -> String {
    o.expect_ok("exec");
    o.stdout
        .trim()
        .strip_prefix("Cpus_allowed_list:")
        .unwrap_or_else(|| panic!("no Cpus_allowed_list: {o:#?}"))
        .trim()
        .to_string()
}

/// `final` is the exec'd process's affinity; with `initial` alone the
/// process ends with the container cgroup's CPUs, as without the field; a CPU that does
/// not exist is refused naming the field. Control: without the field the
/// process has the container's CPUs, which `final` must differ from.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_cpu_affinity_final_pins_the_process() {
    let Some(t) = T::new() else { return };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        panic!("needs 2 CPUs to tell a pinned process from an unpinned one");
    }
    let b = t.bundle("aff", |c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = t.id("aff");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let base = b.config()["process"].clone();
    let control = allowed(&exec_affinity(&t, &id, &base, None));
    assert_ne!(control, "1", "control: the container is pinned already");
    for cpu in ["0", "1"] {
        let got = allowed(&exec_affinity(&t, &id, &base, Some(json!({"final": cpu}))));
        assert_eq!(got, cpu, "final {cpu}");
    }
    let got = allowed(&exec_affinity(
        &t,
        &id,
        &base,
        Some(json!({"initial": "0", "final": "1"})),
    ));
    assert_eq!(got, "1", "initial 0, final 1");
    let initial_only = allowed(&exec_affinity(
        &t,
        &id,
        &base,
        Some(json!({"initial": "1"})),
    ));
    // runc's semantics: after the cgroup, the process has the cgroup's
    // CPUs (this kernel keeps the affinity when the cpuset's CPUs do not
    // change, so without outlet's reset it would stay "1").
    assert_eq!(initial_only, control, "initial 1 alone");
    exec_affinity(&t, &id, &base, Some(json!({"final": "1000"}))).expect_exec_fail(
        "a CPU that does not exist",
        "process.execCPUAffinity.final: \"1000\"",
    );
    exec_affinity(&t, &id, &base, Some(json!({"final": "3-1"})))
        .expect_exec_fail("a backward range", "process.execCPUAffinity.final: \"3-1\"");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

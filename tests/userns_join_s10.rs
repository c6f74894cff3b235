//! A container that joins another container's user namespace by path and
//! makes its other namespaces (pid, mount, ipc, uts, net) itself: the
//! shape of podman pods created with `--userns` and of Kubernetes pods
//! with `hostUsers: false`. Every new namespace must be owned by the
//! joined user namespace, so that the container's root can use it: its
//! /proc, its hostname, a tmpfs, its loopback. The init joins first and
//! forks pid 1 into the pid namespace it then makes
//! (src/process/init_fork.rs). Controls: `OUTLET_USERNS_CLONE_PID=1`
//! (the old order, the pid namespace made by the clone in the host's user
//! namespace) fails at /proc; a uts or net namespace of the host's user
//! namespace, joined by path, refuses the container's root.

mod common;

use std::os::unix::fs::MetadataExt;

use common::{Bundle, T, sh};
use serde_json::json;

/// A held container in a user namespace of its own (0 -> host 100000),
/// whose namespaces the others join. Returns its init's pid.
fn holder(t: &T) -> i32 {
    let b = t.bundle("holder", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let _ = std::fs::create_dir(b.own_rootfs().join("out"));
    t.create_ok(&t.id("holder"), &b)
}

/// A bundle joining `pid`'s user namespace by path, every other namespace
/// new (or as `edit` changes them), running `script`.
fn joiner(
    t: &T,
    name: &str,
    pid: i32,
    script: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Bundle {
    let b = t.bundle(name, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
        sh(c, script);
        // The container's root acts on what its user namespace owns.
        for set in ["bounding", "effective", "permitted"] {
            let v = c["process"]["capabilities"][set].as_array_mut().unwrap();
            v.push(json!("CAP_SYS_ADMIN"));
            v.push(json!("CAP_NET_ADMIN"));
        }
        edit(c);
    });
    let _ = std::fs::create_dir(b.own_rootfs().join("out"));
    std::os::unix::fs::chown(&b.out, Some(100000), Some(100000)).unwrap();
    b
}

fn ino(path: &str) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// The namespace links as `readlink` prints them inside, by name.
fn links(stdout: &str) -> std::collections::HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ns "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const NS_SCRIPT: &str = r#"for n in user pid net mnt ipc uts cgroup; do echo "ns $n $(readlink /proc/self/ns/$n)"; done
echo "pid1 $(cat /proc/1/comm) self $$"
echo "procs $(ls /proc | grep -c '^[0-9]')"
echo "uidmap $(cat /proc/self/uid_map)"
echo "uid $(id -u)"
hostname joined-host && echo "hostname $(hostname)"
mkdir /dev/m && mount -t tmpfs t /dev/m && grep -q ' /dev/m tmpfs' /proc/self/mounts && echo tmpfs-ok
ip link set lo mtu 1280 && ip link show lo | grep -q 'mtu 1280' && echo lo-mtu
true"#;

/// run: pid 1 is the container's shell, the user namespace is the
/// holder's with its map, every other namespace is new and usable by
/// the container's root. Control: the old clone order fails at /proc.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn joined_userns_owns_the_new_namespaces() {
    let Some(t) = T::new() else { return };
    let hp = holder(&t);
    let b = joiner(&t, "joiner", hp, NS_SCRIPT, |_| {});
    let out = t.run(&t.id("joiner"), &b);
    out.expect_ok("run joining the holder's user namespace");
    let l = links(&out.stdout);
    let host = |n: &str| format!("{n}:[{}]", ino(&format!("/proc/{hp}/ns/{n}")));
    assert_eq!(l["user"], host("user"), "user ns is the holder's: {out:#?}");
    for n in ["pid", "net", "mnt", "ipc", "uts", "cgroup"] {
        assert_ne!(l[n], host(n), "{n} is the holder's: {out:#?}");
        let hostns = format!("{n}:[{}]", common::host_ns(n));
        assert_ne!(l[n], hostns, "{n} is the host's: {out:#?}");
    }
    let s = &out.stdout;
    assert!(
        s.contains("pid1 sh self 1\n"),
        "pid 1 is the shell: {out:#?}"
    );
    // The shell, ls and grep, maybe the $(...) subshell: nothing of the host.
    let procs: u32 = s
        .lines()
        .find_map(|l| l.strip_prefix("procs "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(
        procs <= 4,
        "only the container's processes in /proc: {out:#?}"
    );
    let map: Vec<&str> = s
        .lines()
        .find_map(|l| l.strip_prefix("uidmap "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(map, ["0", "100000", "65536"], "{out:#?}");
    assert!(s.contains("uid 0\n"), "{out:#?}");
    assert!(
        s.contains("hostname joined-host\n"),
        "sethostname: {out:#?}"
    );
    assert!(s.contains("tmpfs-ok\n"), "mount a tmpfs: {out:#?}");
    assert!(s.contains("lo-mtu\n"), "ip link set lo mtu: {out:#?}");

    // Control: the pid namespace made by the clone, in the host's user
    // namespace: the container's root may not mount its procfs.
    let out = t.call_env(
        std::path::Path::new(common::OUTLET),
        &["run", "--bundle", b.dir.to_str().unwrap(), &t.id("old")],
        &[],
        &[("OUTLET_USERNS_CLONE_PID", "1")],
    );
    out.expect_fail("the old clone order", "proc");
    assert!(
        out.stderr.contains("Operation not permitted") || out.stderr.contains("EPERM"),
        "{out:#?}"
    );
}

//! The container's / is the bundle's rootfs and nothing of the host is
//! reachable; masked paths read empty; read-only paths and a read-only root
//! refuse writes with EROFS. Needs root (skipped otherwise).

mod common;

use common::{T, read_json, sh};
use serde_json::{Value, json};

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn root_is_the_bundles_rootfs() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["root"] = json!({"path": "rootfs", "readonly": true});
        sh(
            c,
            "probe read /marker-inside > /out/inside.json; \
             probe read \"$HOST_MARKER\" > /out/host.json; \
             probe read /../../..\"$HOST_MARKER\" > /out/host-dotdot.json; \
             ls -A / > /out/ls-root; \
             probe report > /out/report.json",
        );
    });
    // A real copy under the bundle, with a marker only it has.
    let rootfs = b.own_rootfs();
    std::fs::write(rootfs.join("marker-inside"), t.token.as_bytes()).unwrap();
    // A marker on the host, outside the rootfs: the container must not see it.
    let host_marker = t.dir.join("host-marker");
    std::fs::write(&host_marker, b"host").unwrap();
    let mut cfg = b.config();
    cfg["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!(format!("HOST_MARKER={}", host_marker.display())));
    b.write_config(&cfg);

    let id = t.id("root");
    t.run(&id, &b).expect_ok("run");
    let inside = read_json(&b.out.join("inside.json"));
    assert_eq!(inside["ok"], true, "{inside}");
    assert_eq!(inside["content"], t.token.as_str());
    for f in ["host.json", "host-dotdot.json"] {
        let host = read_json(&b.out.join(f));
        assert_eq!(host["ok"], false, "host file reachable from inside: {host}");
        assert_eq!(host["errno"], libc::ENOENT, "{host}");
    }
    let ls = std::fs::read_to_string(b.out.join("ls-root")).unwrap();
    let names: Vec<&str> = ls.lines().collect();
    for want in ["bin", "etc", "proc", "marker-inside"] {
        assert!(names.contains(&want), "/ inside lacks {want}: {names:?}");
    }
    // The host's top-level dirs that the fixture does not have are absent.
    assert!(!names.contains(&"work"), "{names:?}");
    assert!(!names.contains(&"boot"), "{names:?}");
    let r = read_json(&b.out.join("report.json"));
    let root_line = r["mountinfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("no / in mountinfo: {r}"));
    assert!(
        root_line.contains(rootfs.to_str().unwrap()),
        "/ is not the bundle's rootfs: {root_line}"
    );
}

/// Masked paths of the spec that exist on this kernel, with whether each is
/// a directory (some, like /proc/kcore, are not built into every kernel).
fn existing(cfg: &Value, key: &str) -> Vec<(String, bool)> {
    cfg["linux"][key]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p.clone(), m.is_dir())))
        .collect()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn masked_paths_are_empty() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |_| {});
    let cfg = b.config();
    let masked = existing(&cfg, "maskedPaths");
    assert!(
        masked.iter().any(|(_, d)| !d) && masked.iter().any(|(_, d)| *d),
        "the spec should mask at least one existing file and one dir here: {masked:?}"
    );
    // One line per path: a file is read with probe, a dir is listed.
    let mut script = String::new();
    for (i, (p, dir)) in masked.iter().enumerate() {
        if *dir {
            script.push_str(&format!("ls -A {p} > /out/m{i}; echo $? >> /out/m{i}.rc; "));
        } else {
            script.push_str(&format!("probe read {p} > /out/m{i}; "));
        }
    }
    let mut cfg = cfg;
    sh(&mut cfg, &script);
    b.write_config(&cfg);
    let id = t.id("masked");
    t.run(&id, &b).expect_ok("run");
    for (i, (p, dir)) in masked.iter().enumerate() {
        let got = std::fs::read_to_string(b.out.join(format!("m{i}"))).unwrap();
        if *dir {
            let rc = std::fs::read_to_string(b.out.join(format!("m{i}.rc"))).unwrap();
            assert_eq!(rc.trim(), "0", "ls {p} failed");
            assert_eq!(got, "", "masked dir {p} is not empty inside: {got}");
        } else {
            let v: Value = serde_json::from_str(&got).unwrap();
            // Reading may succeed with 0 bytes (/dev/null bound over it).
            assert_eq!(v["ok"], true, "read {p}: {v}");
            assert_eq!(v["bytes"], 0, "masked file {p} has content inside: {v}");
        }
    }
    // The control: on the host these have content.
    let (p, _) = masked.iter().find(|(_, d)| !d).unwrap();
    assert!(
        !std::fs::read(p).unwrap_or_default().is_empty(),
        "{p} is empty on the host too; the test would prove nothing"
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn readonly_paths_and_readonly_root_refuse_writes() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        assert!(
            c["linux"]["readonlyPaths"]
                .as_array()
                .unwrap()
                .contains(&json!("/proc/sys")),
            "the default spec makes /proc/sys read-only"
        );
        sh(
            c,
            "probe write /proc/sys/kernel/hostname > /out/procsys.json; \
             probe write /new-file > /out/root.json; \
             probe write /out/ok > /out/out.json; \
             true",
        );
    });
    let id = t.id("ro");
    t.run(&id, &b).expect_ok("run");
    let procsys = read_json(&b.out.join("procsys.json"));
    assert_eq!(procsys["ok"], false, "{procsys}");
    assert_eq!(procsys["errno"], libc::EROFS, "{procsys}");
    let root = read_json(&b.out.join("root.json"));
    assert_eq!(root["ok"], false, "{root}");
    assert_eq!(root["errno"], libc::EROFS, "{root}");
    // The control: a writable mount in the same container accepts writes.
    let out = read_json(&b.out.join("out.json"));
    assert_eq!(out["ok"], true, "{out}");
}

/// Whatever rootfsPropagation says, the container's mounts stay in its own
/// mount namespace: none shows up in the host's mountinfo while it exists.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rootfs_propagation_does_not_leak_mounts() {
    let Some(t) = T::new() else { return };
    for prop in ["shared", "rshared", "slave", "private", "unbindable"] {
        let b = t.bundle(prop, |c| {
            c["root"] = json!({"path": "rootfs", "readonly": false});
            c["linux"]["rootfsPropagation"] = json!(prop);
        });
        b.own_rootfs();
        let id = t.id(prop);
        // After create every mount is in place and the init waits.
        t.create_ok(&id, &b);
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let leaked: Vec<&str> = mi.lines().filter(|l| l.contains(&t.token)).collect();
        assert!(leaked.is_empty(), "{prop}: host sees {leaked:#?}");
        t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    }
}

/// linux.devices are made inside with their mode and are usable even under
/// the default spec's device cgroup "deny all" (runc allows them too); the
/// default devices are there; any node can be made (runc's default
/// `c *:* m`) but a device nobody allowed cannot be opened.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn spec_devices_exist_and_open() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["linux"]["devices"] = json!([{
            "path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200,
            "fileMode": 432, "uid": 0, "gid": 0
        }]);
        sh(
            c,
            "stat -c '%t:%T %a' /dev/net/tun > /out/tun; \
             (exec 3<>/dev/net/tun) && echo opened >> /out/tun; \
             for d in null zero full random urandom tty ptmx; do \
               [ -c /dev/$d ] && echo $d >> /out/defaults; done; \
             probe mknod /dev/xkmsg c 1 11 > /out/mknod.json; \
             probe openw /dev/xkmsg > /out/open.json; true",
        );
        // With CAP_MKNOD the EPERM below can only come from the cgroup.
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        }
    });
    let id = t.id("devices");
    t.run(&id, &b).expect_ok("run with linux.devices");
    let tun = std::fs::read_to_string(b.out.join("tun")).unwrap();
    assert_eq!(tun, "a:c8 660\nopened\n", "/dev/net/tun inside");
    let defaults = std::fs::read_to_string(b.out.join("defaults")).unwrap();
    assert_eq!(
        defaults.split_whitespace().collect::<Vec<_>>(),
        vec!["null", "zero", "full", "random", "urandom", "tty", "ptmx"]
    );
    // The cgroup still denies devices nobody asked for: /dev/kmsg's 1:11
    // (a write open is checked by nothing else) can be made, not opened.
    let mknod = read_json(&b.out.join("mknod.json"));
    assert_eq!(mknod["ok"], true, "{mknod}");
    let open = read_json(&b.out.join("open.json"));
    assert_eq!(open["direct_write"]["ok"], false, "{open}");
    assert_eq!(open["direct_write"]["errno"], libc::EPERM, "{open}");
}

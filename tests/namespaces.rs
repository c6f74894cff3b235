//! Each namespace of the default spec is new, seen from inside with probe;
//! a user namespace shows its mapping; a namespace joined by path shares the
//! host-side inode. Needs root (skipped otherwise).

mod common;

use std::process::Command;

use common::{T, host_ns};
use serde_json::json;

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn every_namespace_is_new() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["hostname"] = json!("inside-ns");
    });
    let id = t.id("ns");
    let out = t.run(&id, &b);
    out.expect_ok("run probe report");
    let r = out.json();
    assert_eq!(r["pid"], 1, "pid 1 inside a new pid namespace: {r}");
    assert_eq!(r["hostname"], "inside-ns");
    assert_eq!(r["net_interfaces"], json!(["lo"]), "only lo in a new netns");
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        let inside = r["namespaces"][ns].as_u64().unwrap();
        assert_ne!(inside, host_ns(ns), "{ns} namespace is the host's");
    }
    // Not asked for: the user namespace stays the host's.
    assert_eq!(r["namespaces"]["user"].as_u64().unwrap(), host_ns("user"));
    // The host's hostname did not change.
    assert_ne!(nix::unistd::gethostname().unwrap(), "inside-ns");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn user_namespace_with_mappings() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        // The output file is written from inside as host uid 100000.
        c["process"]["args"] = json!(["sh", "-c", "probe report > /out/report.json"]);
    });
    // Container root is host uid 100000: it must reach the rootfs (a copy
    // under /tmp, whatever the checkout's permissions) and write /out.
    b.own_rootfs();
    std::os::unix::fs::chown(&b.out, Some(100000), Some(100000)).unwrap();
    let id = t.id("userns");
    t.run(&id, &b).expect_ok("run in a user namespace");
    let r = common::read_json(&b.out.join("report.json"));
    // The kernel pads the columns: compare them space-joined.
    let map = |key: &str| -> Vec<String> {
        r[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l.as_str()
                    .unwrap()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert_eq!(
        map("uid_map"),
        vec!["0 100000 65536"],
        "uid_map inside: {r}"
    );
    assert_eq!(
        map("gid_map"),
        vec!["0 100000 65536"],
        "gid_map inside: {r}"
    );
    assert_eq!(r["uid"]["effective"], 0, "root inside the user namespace");
    assert_ne!(r["namespaces"]["user"].as_u64().unwrap(), host_ns("user"));
    // The file the container wrote belongs to the mapped host uid.
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(b.out.join("report.json")).unwrap();
    assert_eq!(m.uid(), 100000);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn network_namespace_joined_by_path() {
    let Some(t) = T::new() else { return };
    let name = format!("outlet-t-{}", t.token.trim_start_matches("outlet-test-"));
    let st = Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .expect("run ip netns add (iproute2)");
    assert!(st.success(), "ip netns add {name}");
    {
        let name = name.clone();
        t.on_cleanup(move || {
            let _ = Command::new("ip").args(["netns", "delete", &name]).status();
        });
    }
    let path = format!("/run/netns/{name}");
    use std::os::unix::fs::MetadataExt;
    let want = std::fs::metadata(&path).unwrap().ino();
    let b = t.bundle("b", |c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(path);
            }
        }
    });
    let id = t.id("joinnet");
    let out = t.run(&id, &b);
    out.expect_ok("run joining a netns");
    let r = out.json();
    assert_eq!(r["namespaces"]["net"].as_u64().unwrap(), want, "{r}");
    assert_ne!(want, host_ns("net"));
    // The other namespaces are still new, and the pid namespace too.
    assert_eq!(r["pid"], 1);
    assert_ne!(r["namespaces"]["uts"].as_u64().unwrap(), host_ns("uts"));
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn uts_namespace_joined_by_path_from_another_container() {
    let Some(t) = T::new() else { return };
    // A first container holds a uts namespace with its own hostname.
    let b1 = t.bundle("holder", |c| {
        c["hostname"] = json!("holder-host");
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let holder = t.id("holder");
    let pid = t.create_ok(&holder, &b1);
    let path = format!("/proc/{pid}/ns/uts");
    use std::os::unix::fs::MetadataExt;
    let want = std::fs::metadata(&path).unwrap().ino();
    let b2 = t.bundle("joiner", |c| {
        c.as_object_mut().unwrap().remove("hostname");
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "uts" {
                n["path"] = json!(path);
            }
        }
    });
    let id = t.id("joiner");
    let out = t.run(&id, &b2);
    out.expect_ok("run joining a uts namespace");
    let r = out.json();
    assert_eq!(r["namespaces"]["uts"].as_u64().unwrap(), want);
    assert_eq!(r["hostname"], "holder-host");
}

/// `"namespaces": []`: the container shares every namespace of its caller,
/// the mount namespace included (the spec's MUST). Run only inside a
/// private mount namespace made by the test (`unshare -m --propagation
/// private`), never in the host's: there the container's mounts land in
/// the caller's table, its root is a chroot, and the caller's `/` keeps
/// its propagation (made shared inside the private namespace, it must
/// still be shared after create; pivot_root or a recursive MS_SLAVE would
/// change it). exec from the same namespace and from the host's both get
/// the container's root.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn no_namespaces_listed_shares_the_callers_mount_namespace() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["linux"]["namespaces"] = json!([]);
        c.as_object_mut().unwrap().remove("hostname");
        c["process"]["args"] = json!(["sh", "-c", "probe report > /out/report.json; sleep 1000"]);
    });
    let id = t.id("nons");
    let out = b.out.display().to_string();
    let rootfs = common::rootfs().display().to_string();
    let script = format!(
        r#"set -e
mount --make-shared /
readlink /proc/self/ns/mnt > {out}/outer-mnt
{outlet} --root {root} create --bundle {bundle} {id} > {out}/create.out 2>&1
{outlet} --root {root} start {id}
{outlet} --root {root} exec {id} cat /etc/passwd > {out}/exec-inside
grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo > {out}/root-line
cat /proc/self/mountinfo > {out}/mountinfo
"#,
        outlet = common::OUTLET,
        root = t.root.display(),
        bundle = b.dir.display(),
    );
    let st = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .status()
        .expect("run unshare");
    let read = |f: &str| std::fs::read_to_string(b.out.join(f)).unwrap_or_default();
    assert!(
        st.success(),
        "script failed: create: {}",
        read("create.out")
    );
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let r = b.wait_json("report.json");
    let outer: String = read("outer-mnt");
    let outer_ino: u64 = outer
        .trim()
        .trim_start_matches("mnt:[")
        .trim_end_matches(']')
        .parse()
        .unwrap();
    assert_eq!(r["namespaces"]["mnt"].as_u64().unwrap(), outer_ino, "{r}");
    assert_ne!(
        outer_ino,
        host_ns("mnt"),
        "the test's namespace is the host's"
    );
    // Every other namespace is the caller's too.
    for ns in ["pid", "net", "ipc", "uts", "cgroup"] {
        assert_eq!(r["namespaces"][ns].as_u64().unwrap(), host_ns(ns), "{ns}");
    }
    assert_ne!(r["pid"], 1);
    // The container's mounts are in the caller's table, under the rootfs.
    let mi = read("mountinfo");
    assert!(
        mi.lines().any(|l| l.contains(&format!(" {rootfs}/proc "))),
        "no {rootfs}/proc in the caller's mount table:\n{mi}"
    );
    // The caller's / is still shared (not made a slave or private).
    let root_line = read("root-line");
    assert!(root_line.contains(" shared:"), "{root_line}");
    assert!(!root_line.contains(" master:"), "{root_line}");
    // exec from the same namespace and from the host's sees the rootfs's
    // /etc/passwd, not the host's.
    let fixture_passwd = std::fs::read_to_string(format!("{rootfs}/etc/passwd")).unwrap();
    assert_eq!(read("exec-inside"), fixture_passwd);
    let o = t.outlet(&["exec", &id, "cat", "/etc/passwd"]);
    o.expect_ok("exec from the host's mount namespace");
    assert_eq!(o.stdout, fixture_passwd);
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");

    // Control: what a recursive MS_SLAVE of / does to the same check.
    let ctl = Command::new("unshare")
        .args([
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount --make-shared / && mount --make-rslave / && \
             grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo",
        ])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&ctl.stdout);
    assert!(ctl.status.success());
    assert!(!line.contains(" shared:"), "control: {line}");
}

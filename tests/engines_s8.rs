//! What docker and podman users saw differ from runc on the same host
//! (found by running both runtimes side by side under the engines, see
//! tests/callers). Needs root.

mod common;

use common::{T, sh};
use serde_json::json;

/// The options of every mount below /sys/fs/cgroup/, from mountinfo.
fn cgroup_bind_options(t: &T, tag: &str, options: &[&str]) -> Vec<String> {
    let b = t.bundle(tag, |c| {
        sh(
            c,
            "awk '$5 ~ \"^/sys/fs/cgroup/\" { print $5, $6 }' /proc/self/mountinfo > /out/mi",
        );
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/sys/fs/cgroup" {
                m["options"] = json!(options);
            }
        }
    });
    t.run(&t.id(tag), &b).expect_ok("a cgroup mount");
    let mi = std::fs::read_to_string(b.out.join("mi")).unwrap_or_default();
    assert!(
        mi.lines().any(|l| l.starts_with("/sys/fs/cgroup/memory ")),
        "no memory hierarchy below /sys/fs/cgroup: {mi:?}"
    );
    mi.lines().map(str::to_owned).collect()
}

/// docker and podman ask for the cgroup mount with nosuid, noexec, nodev
/// and ro. outlet made each v1 hierarchy's bind only read-only (mountinfo
/// `ro,relatime`), runc carries all four (`ro,nosuid,nodev,noexec`). Here
/// every bind has them. The control: a spec asking only `ro` gets binds
/// without nosuid, so the check reads the flags the spec asked for, not
/// flags that are always there.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cgroup_binds_carry_the_specs_nosuid_nodev_noexec() {
    let Some(t) = T::new() else { return };
    let engines = ["nosuid", "noexec", "nodev", "relatime", "ro"];
    for line in cgroup_bind_options(&t, "engines", &engines) {
        let opts: Vec<&str> = line.split_once(' ').unwrap().1.split(',').collect();
        for want in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(opts.contains(&want), "{want} missing: {line}");
        }
    }
    // The control.
    for line in cgroup_bind_options(&t, "ro-only", &["ro"]) {
        let opts: Vec<&str> = line.split_once(' ').unwrap().1.split(',').collect();
        assert!(opts.contains(&"ro"), "ro missing: {line}");
        assert!(!opts.contains(&"nosuid"), "nosuid not asked for: {line}");
    }
}

/// The docker CLI picks `docker run`'s exit code from the create error by
/// a case-sensitive match: "no such file or directory" 127, "permission
/// denied" 126, anything else 125. outlet said "No such file or
/// directory" and "Permission denied" (docker: 125 for both), and let a
/// directory as the command pass create, failing only at start (docker:
/// exit 1, no message). Here create fails in runc's words, naming the
/// command, and leaves nothing behind. The control: an executable given
/// by the same kind of path creates.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_command_that_cannot_run_fails_create_in_runcs_words() {
    let Some(t) = T::new() else { return };
    for (tag, cmd, words) in [
        (
            "missing",
            "/no/such",
            "exec: \"/no/such\": stat /no/such: no such file or directory",
        ),
        ("dir", "/tmp", "exec: \"/tmp\": permission denied"),
        (
            "plain-file",
            "/etc/passwd",
            "exec: \"/etc/passwd\": permission denied",
        ),
        (
            "not-found",
            "nosuchcmd",
            "exec: \"nosuchcmd\": executable file not found in $PATH",
        ),
    ] {
        let b = t.bundle(tag, |c| c["process"]["args"] = json!([cmd]));
        t.create(&t.id(tag), &b).expect_fail(tag, words);
        t.assert_nothing_left(tag);
    }
    // The control.
    let b = t.bundle("runs", |c| c["process"]["args"] = json!(["/bin/true"]));
    t.run(&t.id("runs"), &b).expect_ok("/bin/true");
}

/// `docker run --domainname D` (docker 20.10) sends
/// `linux.sysctl {"kernel.domainname": D}`, not the spec's `domainname`;
/// runc sets it, outlet refused the spec ("use domainname"). Here the
/// sysctl lands in the container's own uts namespace and the host's
/// domainname stays. The attack: the same sysctl in a container without a
/// uts namespace of its own would rename the host, and is refused before
/// anything runs (the host's domainname unchanged).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn docker_domainname_sysctl_lands_in_the_containers_uts_namespace() {
    let Some(t) = T::new() else { return };
    let host = || std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let before = host();
    let want = format!("s8-{}.test", std::process::id());
    let b = t.bundle("dn", |c| {
        sh(c, "cat /proc/sys/kernel/domainname > /out/dn");
        c["linux"]["sysctl"] = json!({"kernel.domainname": want});
    });
    t.run(&t.id("dn"), &b).expect_ok("kernel.domainname sysctl");
    let inside = std::fs::read_to_string(b.out.join("dn")).unwrap_or_default();
    assert_eq!(inside.trim(), want);
    assert_eq!(host(), before, "the host's domainname changed");

    // The attack: no uts namespace of the container's own.
    let b = t.bundle("host-uts", |c| {
        c["linux"]["sysctl"] = json!({"kernel.domainname": "evil.test"});
        c.as_object_mut().unwrap().remove("hostname");
        common::drop_ns(c, "uts");
    });
    t.create(&t.id("host-uts"), &b).expect_fail(
        "kernel.domainname without a uts namespace",
        "belongs to the uts namespace",
    );
    t.assert_nothing_left("host-uts");
    assert_eq!(host(), before, "the host's domainname changed");
}

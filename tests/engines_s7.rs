//! Specs the engines write for everyday flags that outlet got wrong, found
//! by driving docker and podman (tests/callers) and seen against runc on
//! the same host. Needs root.

mod common;

use common::{T, sh};
use serde_json::json;

/// podman's `--systemd always` (its default when the command is
/// /sbin/init or systemd) on a v1 host puts a bind of the host's
/// name=systemd hierarchy at /sys/fs/cgroup/systemd after the read-only
/// cgroup mount. runc runs that spec; outlet refused it ("create
/// sys/fs/cgroup/systemd ...: Read-only file system") because its cgroup
/// tmpfs was already read-only. Here a bind of a host dir there and a
/// tmpfs two levels down both land, and the cgroup tmpfs itself stays
/// read-only. The control: a later mount inside a controller's directory
/// (a bind of the host's cgroup) is still refused and makes nothing in
/// the host's cgroup tree.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn later_mounts_below_a_read_only_cgroup_mount_land() {
    let Some(t) = T::new() else { return };
    let src = t.dir.join("systemd-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("marker"), "from-the-host\n").unwrap();
    let b = t.bundle("sysd", |c| {
        sh(
            c,
            "cat /sys/fs/cgroup/systemd/marker > /out/marker; \
             grep -c ' /sys/fs/cgroup/extra/deep ' /proc/self/mounts > /out/deep; \
             ls /sys/fs/cgroup > /out/ls; \
             if mkdir /sys/fs/cgroup/new 2>/out/mkdir-err; then echo made > /out/made; fi",
        );
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(
            json!({"destination": "/sys/fs/cgroup/systemd", "type": "bind",
            "source": src, "options": ["rbind", "rw"]}),
        );
        mounts.push(
            json!({"destination": "/sys/fs/cgroup/extra/deep", "type": "tmpfs",
            "source": "tmpfs", "options": ["size=64k"]}),
        );
    });
    t.run(&t.id("sysd"), &b)
        .expect_ok("a bind and a tmpfs below /sys/fs/cgroup");
    let read = |f: &str| std::fs::read_to_string(b.out.join(f)).unwrap_or_default();
    assert_eq!(
        read("marker"),
        "from-the-host\n",
        "ls /sys/fs/cgroup: {}",
        read("ls")
    );
    assert_eq!(
        read("deep").trim(),
        "1",
        "no tmpfs at /sys/fs/cgroup/extra/deep"
    );
    assert!(
        read("ls").lines().any(|l| l == "memory"),
        "no memory hierarchy: {}",
        read("ls")
    );
    assert!(
        !b.out.join("made").exists(),
        "the cgroup tmpfs became writable"
    );
    assert!(
        read("mkdir-err").contains("Read-only"),
        "mkdir: {}",
        read("mkdir-err")
    );

    // The control: inside a controller's bind nothing is made.
    let b = t.bundle("inside", |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/sys/fs/cgroup/memory/outlet-s7-evil", "type": "tmpfs",
            "source": "tmpfs", "options": ["size=64k"]}));
    });
    let id = t.id("inside");
    t.create(&id, &b)
        .expect_fail("inside a controller", "outlet-s7-evil");
    t.assert_nothing_left("inside a controller");
    let made = std::process::Command::new("find")
        .args([
            "/sys/fs/cgroup/memory",
            "-maxdepth",
            "4",
            "-name",
            "outlet-s7-evil",
        ])
        .output()
        .unwrap();
    assert!(
        made.stdout.is_empty(),
        "made in the host's cgroup tree: {made:?}"
    );
}

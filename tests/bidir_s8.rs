//! Kubernetes `mountPropagation: Bidirectional` as containerd's CRI asks
//! for it: `linux.rootfsPropagation: "rshared"` and a bind whose options
//! hold `rbind` + `rshared`, of a host directory on a shared mount. A mount
//! the container makes below that bind reaches the host, as with runc (CSI
//! node plugins rely on it); nothing else the container or outlet mounts
//! ever does. The host's `/` is never touched: the test's own directory is
//! bound onto itself and made shared. Needs root.

mod common;

use std::path::{Path, PathBuf};

use common::{T, sh};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use serde_json::{Value, json};

/// Mount points (field 5 of mountinfo) on the host that hold the token.
fn host_mounts_with(token: &str) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.contains(token))
        .map(str::to_string)
        .collect()
}

/// `<t.dir>/<name>` bound onto itself and made shared (a peer group of
/// the test's own, like kubelet's /var/lib/kubelet), with an empty `sub`
/// directory; everything below it is unmounted when the test ends, also
/// on failure.
fn shared_dir(t: &T, name: &str) -> PathBuf {
    let shared = t.dir.join(name);
    std::fs::create_dir_all(shared.join("sub")).unwrap();
    mount(
        Some(&shared),
        &shared,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let (s, d) = (shared.clone(), shared.join("sub"));
    t.on_cleanup(move || {
        while umount2(&d, MntFlags::MNT_DETACH).is_ok() {}
        while umount2(&s, MntFlags::MNT_DETACH).is_ok() {}
    });
    mount(
        None::<&str>,
        &shared,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    shared
}

/// Run a container with `root_prop` and a bind of `shared` at /s with
/// `opts`, which mounts a tmpfs at /s/sub (and writes a file in it) and
/// another at /other, outside the bind. Returns the host's mount points
/// holding the token after the container is gone, minus the shared dirs.
fn run_case(t: &T, tag: &str, root_prop: &str, opts: Value) -> (Vec<String>, PathBuf) {
    run_case_with(t, tag, root_prop, opts, &[])
}

fn run_case_with(
    t: &T,
    tag: &str,
    root_prop: &str,
    opts: Value,
    flags: &[&str],
) -> (Vec<String>, PathBuf) {
    let shared = shared_dir(t, &format!("shared-{tag}"));
    let b = t.bundle(tag, |c| {
        c["linux"]["rootfsPropagation"] = json!(root_prop);
        for set in ["bounding", "effective", "permitted"] {
            let caps = c["process"]["capabilities"][set].as_array_mut().unwrap();
            caps.push(json!("CAP_SYS_ADMIN"));
        }
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/s", "type": "bind", "source": shared, "options": opts}));
        sh(
            c,
            "mount -t tmpfs none /s/sub 2>/out/err && echo in > /s/sub/marker && \
             mount -t tmpfs none /other 2>>/out/err; echo $? > /out/rc",
        );
    });
    let rootfs = b.own_rootfs();
    std::fs::create_dir_all(rootfs.join("s")).unwrap();
    std::fs::create_dir_all(rootfs.join("other")).unwrap();
    let id = t.id(tag);
    let bundle = b.dir.to_str().unwrap();
    let args = [&["run"], flags, &["--bundle", bundle, &id]].concat();
    t.outlet(&args).expect_ok("run");
    let rc = std::fs::read_to_string(b.out.join("rc")).unwrap();
    let err = std::fs::read_to_string(b.out.join("err")).unwrap_or_default();
    // The container really made both mounts.
    assert_eq!(rc.trim(), "0", "{tag}: mounts inside failed: {err}");
    t.outlet(&["delete", "--force", &id]);
    // The shared dirs the test made itself (this case's and earlier ones').
    let made = |p: &String| {
        let p = Path::new(p);
        p.parent() == Some(t.dir.as_path())
            && p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("shared-"))
    };
    let seen = host_mounts_with(&t.token)
        .into_iter()
        .filter(|p| !made(p))
        .collect();
    (seen, shared)
}

fn marker(shared: &Path) -> Option<String> {
    std::fs::read_to_string(shared.join("sub/marker")).ok()
}

/// rshared root + rshared bind: the tmpfs the container mounted at /s/sub
/// is on the host at `<shared>/sub` (with the file written in it) after
/// the container is gone, as runc leaves it (the caller's to unmount; the
/// guard does). Nothing else reaches the host: not the rootfs's own bind,
/// /proc, /dev, /sys, the cgroup mount, the masks, nor the tmpfs at /other
/// outside the bind. The same filter sees the one mount that is meant to
/// arrive, so it is no blind check. The same with --no-pivot (MS_MOVE +
/// chroot), where the host's tree stays in the container's namespace.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rshared_bind_reaches_the_host_and_nothing_else() {
    let Some(t) = T::new() else { return };
    for (tag, flags) in [("bidir", &[][..]), ("nopivot", &["--no-pivot"][..])] {
        let opts = json!(["rbind", "rshared"]);
        let (seen, shared) = run_case_with(&t, tag, "rshared", opts, flags);
        let sub = shared.join("sub").to_str().unwrap().to_string();
        assert_eq!(seen, vec![sub], "{tag}: host mounts after the container");
        assert_eq!(marker(&shared).as_deref(), Some("in\n"), "{tag}");
        // The caller's to unmount, as after runc; the next case starts clean.
        umount2(&shared.join("sub"), MntFlags::MNT_DETACH).unwrap();
    }
}

/// Controls: (a) the bind without `rshared` under an rshared root, (b) an
/// `rshared` bind under an rslave root: the container's mounts stay
/// inside, as before; (c) `shared` (not recursive) on both still reaches
/// the host, as runc's does.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn bidir_needs_both_the_root_and_the_bind_shared() {
    let Some(t) = T::new() else { return };
    for (tag, root, opts) in [
        ("plain", "rshared", json!(["rbind"])),
        ("rslave", "rslave", json!(["rbind", "rshared"])),
        ("private", "rprivate", json!(["rbind", "rshared"])),
    ] {
        let (seen, shared) = run_case(&t, tag, root, opts);
        assert!(seen.is_empty(), "{tag}: host sees {seen:#?}");
        assert_eq!(marker(&shared), None, "{tag}");
    }
    let (seen, shared) = run_case(&t, "shared", "shared", json!(["bind", "shared"]));
    assert_eq!(seen.len(), 1, "shared: {seen:#?}");
    assert_eq!(marker(&shared).as_deref(), Some("in\n"));
}

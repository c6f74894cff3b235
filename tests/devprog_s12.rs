//! On cgroup v2 a create attaches the device program an earlier create
//! loaded for the same rules, found by the id kept in
//! `<root>/.cache/devprog/` and checked with the kernel before it is
//! attached (src/cgroups/v2/devices/reuse.rs). What must hold: the rules
//! are enforced as with a program of its own; an id that names another
//! program (planted), a freed one or a garbage record is never attached
//! (a fresh program is loaded and the record rewritten); the program is
//! freed once the last container using it is deleted. In bench/run.sh's
//! v2 field (a private mount namespace with a fresh cgroup2 mount) on
//! this hybrid host; the containers' cgroups are then in the host's
//! cgroup2 hierarchy, where this test reads their programs' ids.

mod common;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{OUTLET, Out, T, cgroup_dirs_for, sh, wait_timeout};
use outlet::cgroups::v2::devices::bpf;
use outlet::cgroups::v2::devices::program::{ALU64_MOV_K, JMP_EXIT, insn};
use outlet::cgroups::v2::devices::reuse;

/// `script` in a v2 field, `$OUTLET` and `$ROOT` set (as
/// tests/floor2_s10.rs).
fn in_v2_field(t: &T, script: &str, env: &[(&str, &str)]) -> Out {
    let full = format!("mount -t cgroup2 none /sys/fs/cgroup || exit 99\n{script}");
    let args = ["-m", "--propagation", "private", "sh", "-c", &full];
    let (mut c, so, se) = t.command_plain(Path::new("unshare"), &args);
    c.env("OUTLET", OUTLET)
        .env("ROOT", &t.root)
        .envs(env.iter().copied());
    let mut child = c.spawn().expect("spawn unshare");
    let status = wait_timeout(&mut child, Duration::from_secs(60), "v2 field");
    Out::from_files(status, so, se)
}

/// A bundle whose process tries to open /dev/kmsg (c 1:11, a node from
/// linux.devices, which gets no rule: the defaults deny it) and /dev/null
/// (allowed by the defaults) for writing, and writes what it could to
/// /out/r. Every such bundle has the same device rules.
fn bundle(t: &T, tag: &str) -> common::Bundle {
    t.bundle(tag, |c| {
        sh(
            c,
            "{ if true >/dev/kmsg; then echo kmsg; else echo no-kmsg; fi; \
             if true >/dev/null; then echo null; else echo no-null; fi; } >/out/r",
        );
        c["linux"]["devices"] = serde_json::json!([{
            "path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11,
            "fileMode": 0o666, "uid": 0, "gid": 0
        }]);
    })
}

fn create(t: &T, b: &common::Bundle, id: &str, env: &[(&str, &str)]) {
    let o = in_v2_field(
        t,
        &format!(
            "exec $OUTLET --root $ROOT create --bundle {} {id}",
            b.dir.display()
        ),
        env,
    );
    assert_eq!(o.code, Some(0), "create {id}: {o:?}");
}

/// Start `id` and wait for what its process wrote, then delete it.
fn start_and_result(t: &T, b: &common::Bundle, id: &str) -> String {
    let o = in_v2_field(t, &format!("exec $OUTLET --root $ROOT start {id}"), &[]);
    assert_eq!(o.code, Some(0), "start {id}: {o:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let r = b.out.join("r");
    loop {
        let text = std::fs::read_to_string(&r).unwrap_or_default();
        if text.lines().count() == 2 {
            return text;
        }
        assert!(Instant::now() < deadline, "{id} wrote {text:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn delete(t: &T, id: &str) {
    let o = in_v2_field(
        t,
        &format!("exec $OUTLET --root $ROOT delete --force {id}"),
        &[],
    );
    assert_eq!(o.code, Some(0), "delete {id}: {o:?}");
}

/// The ids of the device programs attached to `id`'s cgroup.
fn attached(id: &str) -> Vec<u32> {
    let dir = cgroup_dirs_for(id)
        .into_iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/unified") && d.is_dir())
        .unwrap_or_else(|| panic!("no cgroup2 directory for {id}"));
    let fd = std::fs::File::open(&dir).unwrap();
    bpf::query(fd.as_fd()).unwrap()
}

/// The one entry of the cache, and the id it records.
fn entry(t: &T) -> (PathBuf, u32) {
    let dir = reuse::cache_dir(&t.root);
    let names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let bytes = std::fs::read(&names[0]).unwrap();
    assert_eq!(bytes.len(), 16, "{bytes:?}");
    let id = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    (names[0].clone(), id)
}

/// A device program that allows everything, loaded by the test: the
/// attacker's. Alive while the fd is.
fn permissive() -> (OwnedFd, u32) {
    let fd = bpf::load(&[insn(ALU64_MOV_K, 0, 0, 0, 1), insn(JMP_EXIT, 0, 0, 0, 0)]).unwrap();
    let id = bpf::info(fd.as_fd(), 0).unwrap().id;
    (fd, id)
}

/// Bounded wait for the kernel to free program `id` (a deleted cgroup
/// lets go of its programs asynchronously).
fn freed(id: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while bpf::get_fd_by_id(id).is_ok() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Two containers with the same rules: the second has the very program
/// the first loaded attached (one id, the one in the cache), and in both
/// the denied open fails and the allowed one works. Once both are
/// deleted the program is gone. Controls: after deleting only the first,
/// the program is still there (the check sees a live program), and a
/// planted program's open of /dev/kmsg works (test below), so the
/// enforcement check can fail.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_second_container_attaches_the_first_ones_program_and_its_rules_hold() {
    let Some(t) = T::new() else { return };
    let (ba, bb) = (bundle(&t, "a"), bundle(&t, "b"));
    let (a, b) = (t.id("a"), t.id("b"));
    create(&t, &ba, &a, &[]);
    create(&t, &bb, &b, &[]);
    let (pa, pb) = (attached(&a), attached(&b));
    assert_eq!(pa.len(), 1, "{pa:?}");
    assert_eq!(
        pa, pb,
        "the second container reuses the first one's program"
    );
    assert_eq!(entry(&t).1, pa[0], "the cache names it");
    assert_eq!(start_and_result(&t, &ba, &a), "no-kmsg\nnull\n");
    assert_eq!(start_and_result(&t, &bb, &b), "no-kmsg\nnull\n");
    delete(&t, &a);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        bpf::get_fd_by_id(pa[0]).is_ok(),
        "control: b still holds it"
    );
    delete(&t, &b);
    assert!(freed(pa[0]), "program {} left after both deletes", pa[0]);
    t.assert_nothing_left("reused device program");
}

/// The attack: the cache names the id of another device program (one
/// that allows everything, loaded here). outlet must not attach it: the
/// container gets a program of its own, its /dev/kmsg stays denied, and
/// the record is rewritten with the new id. Control: with
/// `OUTLET_DEVPROG_TRUST_CACHE=1` (debug builds: no check) the planted
/// program is attached and the container opens /dev/kmsg.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_planted_id_of_another_program_is_not_attached() {
    let Some(t) = T::new() else { return };
    let (first, checked, trusted) = (bundle(&t, "first"), bundle(&t, "chk"), bundle(&t, "trust"));
    let (f, c, u) = (t.id("first"), t.id("chk"), t.id("trust"));
    create(&t, &first, &f, &[]);
    let (path, _) = entry(&t);
    let (evil, evil_id) = permissive();

    reuse::write_id(&path, evil_id);
    assert_eq!(entry(&t).1, evil_id, "planted");
    create(&t, &checked, &c, &[]);
    let got = attached(&c);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_ne!(got[0], evil_id, "the planted program was attached");
    assert_eq!(entry(&t).1, got[0], "the record is rewritten");
    assert_eq!(start_and_result(&t, &checked, &c), "no-kmsg\nnull\n");

    reuse::write_id(&path, evil_id);
    create(&t, &trusted, &u, &[("OUTLET_DEVPROG_TRUST_CACHE", "1")]);
    assert_eq!(attached(&u), [evil_id], "control: trusted, attached");
    assert_eq!(
        start_and_result(&t, &trusted, &u),
        "kmsg\nnull\n",
        "control"
    );
    for id in [&f, &c, &u] {
        delete(&t, id);
    }
    drop(evil);
    assert!(freed(evil_id), "the test's own program");
    t.assert_nothing_left("planted device program");
}

/// A freed program's id and a garbage record both fall back to a fresh
/// load that works (the rules hold) and leave a good record of it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_stale_id_and_a_garbage_record_fall_back_to_a_fresh_load() {
    let Some(t) = T::new() else { return };
    let (b0, b1, b2) = (bundle(&t, "s0"), bundle(&t, "s1"), bundle(&t, "s2"));
    let (i0, i1, i2) = (t.id("s0"), t.id("s1"), t.id("s2"));
    create(&t, &b0, &i0, &[]);
    let (path, _) = entry(&t);
    let (gone, gone_id) = permissive();
    drop(gone);
    assert!(freed(gone_id), "the stale program");

    reuse::write_id(&path, gone_id);
    create(&t, &b1, &i1, &[]);
    let got = attached(&i1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_ne!(got[0], gone_id);
    assert_eq!(entry(&t).1, got[0], "rewritten after the stale id");
    assert_eq!(start_and_result(&t, &b1, &i1), "no-kmsg\nnull\n");

    std::fs::write(&path, b"garbage").unwrap();
    create(&t, &b2, &i2, &[]);
    let got = attached(&i2);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(entry(&t).1, got[0], "rewritten after the garbage");
    assert_eq!(start_and_result(&t, &b2, &i2), "no-kmsg\nnull\n");
    for id in [&i0, &i1, &i2] {
        delete(&t, id);
    }
    t.assert_nothing_left("stale and garbage records");
}

/// A second container in the first one's cgroup (one cgroupsPath): the
/// kernel refuses the same program twice on one cgroup, so the reused
/// program's attach fails and create loads one of its own, as before
/// reuse: both programs attached, the rules hold. Control: the first
/// container's program is the one the cache names, so the second create
/// did try it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_container_in_a_cgroup_that_has_the_program_loads_its_own() {
    let Some(t) = T::new() else { return };
    let cg = format!("/{}-shared", t.token);
    let shared = |tag: &str| {
        let b = bundle(&t, tag);
        let mut c = b.config();
        c["linux"]["cgroupsPath"] = serde_json::json!(cg);
        b.write_config(&c);
        b
    };
    let (b1, b2) = (shared("sh1"), shared("sh2"));
    let (i1, i2) = (t.id("sh1"), t.id("sh2"));
    let dir = Path::new("/sys/fs/cgroup/unified").join(&cg[1..]);
    let gone = dir.clone();
    // After the guard's delete --force, also when an assert failed.
    t.on_cleanup(move || drop(std::fs::remove_dir(gone)));
    create(&t, &b1, &i1, &[]);
    let query = || bpf::query(std::fs::File::open(&dir).unwrap().as_fd()).unwrap();
    let first = query();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(entry(&t).1, first[0], "control: the cache names it");
    create(&t, &b2, &i2, &[]);
    let both = query();
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(both.contains(&first[0]), "{both:?}");
    assert_eq!(start_and_result(&t, &b1, &i1), "no-kmsg\nnull\n");
    assert_eq!(start_and_result(&t, &b2, &i2), "no-kmsg\nnull\n");
    delete(&t, &i2);
    delete(&t, &i1);
    t.assert_nothing_left("shared cgroup");
}

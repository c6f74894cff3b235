//! checkpoint/restore side by side with runc 1.1.5 (the Debian package,
//! with the same CRIU 4.1.1, see tests/criu_support): the same bundle, the
//! same flags, and what each runtime then does, exits with and says.
//! Where the two differ on purpose the test says so. Needs root.

mod common;
mod criu_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Bundle, Out, T, wait_timeout};
use criu_support::*;

/// `runc --root <test dir>/runc-root --criu <criu> ARGS`, output in files,
/// with a timeout. runc keeps its own state root: outlet's guard must not
/// meet runc's state dirs.
fn runc(t: &T, args: &[&str]) -> Out {
    let root = t.dir.join("runc-root");
    let mut full = vec!["--root", root.to_str().unwrap(), "--criu", criu()];
    full.extend_from_slice(args);
    let (mut cmd, so, se) = t.command_plain(Path::new("runc"), &full);
    if matches!(args.first(), Some(&"run" | &"create")) {
        // The init's stdio on /dev/null: runc cannot dump an init whose
        // stdout is a file outside the container (CRIU: "Can't lookup
        // mount=N for fd=1"); outlet declares it external (tests/checkpoint.rs).
        cmd.stdout(std::process::Stdio::null());
        cmd.stderr(std::process::Stdio::null());
    }
    let mut child = cmd.spawn().expect("spawn runc");
    let status = wait_timeout(&mut child, Duration::from_secs(60), "runc");
    Out::from_files(status, so, se)
}

/// A runc container id of this test, force-deleted when the test ends
/// (also on failure).
fn runc_id(t: &T, tag: &str) -> String {
    let id = format!("{}-runc-{tag}", t.token);
    let root = t.dir.join("runc-root");
    let copy = id.clone();
    t.on_cleanup(move || {
        let _ = std::process::Command::new("runc")
            .args(["--root", root.to_str().unwrap(), "delete", "-f", &copy])
            .output();
    });
    id
}

fn runc_pid(t: &T, id: &str) -> i32 {
    let o = runc(t, &["state", id]);
    o.json()["pid"].as_i64().unwrap() as i32
}

fn runc_status(t: &T, id: &str) -> String {
    let o = runc(t, &["state", id]);
    if !o.ok() {
        return "gone".into();
    }
    o.json()["status"].as_str().unwrap().to_string()
}

/// Both runtimes' counter, running: (outlet id, bundle), (runc id, bundle).
fn both_counting(t: &T, tag: &str) -> ((String, Bundle), (String, Bundle)) {
    let ob = counter_bundle(t, &format!("{tag}-outlet"), |_| {});
    let oid = t.id(tag);
    run_detached(t, &oid, &ob);
    let rb = counter_bundle(t, &format!("{tag}-runc"), |_| {});
    let rid = runc_id(t, tag);
    runc(
        t,
        &["run", "-d", "--bundle", rb.dir.to_str().unwrap(), &rid],
    )
    .expect_ok("runc run -d");
    t.track_pid(runc_pid(t, &rid));
    wait_past(&ob, 3);
    wait_past(&rb, 3);
    ((oid, ob), (rid, rb))
}

/// Whether this kernel tracks dirty pages (CONFIG_MEM_SOFT_DIRTY), asked
/// of criu itself.
fn tracks_memory() -> bool {
    std::process::Command::new(criu())
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The counter still moves: the refused checkpoint left it running.
#[track_caller]
fn still_counting(b: &Bundle, who: &str) {
    let n = last(b);
    let deadline = Instant::now() + Duration::from_secs(10);
    while last(b) <= n + 2 {
        assert!(
            Instant::now() < deadline,
            "{who}: the counter stopped at {n}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bad --parent-path values (absolute, missing, a file) and a checkpoint
/// of a created container: runc and outlet both refuse them with exit 1,
/// before CRIU runs, and the running container goes on. Before this
/// session outlet handed the path to CRIU, whose error named neither the
/// flag nor the path. The control: a --parent-path that is a directory
/// passes the value's check on both (see below for what follows).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn bad_parent_path_and_state_refused_as_runc_refuses() {
    let Some(t) = T::new() else { return };
    let ((oid, ob), (rid, rb)) = both_counting(&t, "pp");
    let oimg = t.dir.join("o-img");
    let rimg = t.dir.join("r-img");
    for d in [&oimg, &rimg] {
        std::fs::create_dir_all(d.join("a-dir")).unwrap();
        std::fs::write(d.join("a-file"), "x").unwrap();
    }
    // (value, runc's words, outlet's words)
    let cases = [
        ("/abs", "--parent-path must be relative", "must be relative"),
        (
            "nope",
            "invalid --parent-path",
            "invalid --parent-path nope",
        ),
        ("a-file", "invalid --parent-path", "is not a directory"),
    ];
    for (v, rwords, owords) in cases {
        let ro = runc(
            &t,
            &[
                "checkpoint",
                "--image-path",
                rimg.to_str().unwrap(),
                "--parent-path",
                v,
                &rid,
            ],
        );
        ro.expect_fail(&format!("runc --parent-path {v}"), rwords);
        let oo = checkpoint(&t, &oid, &oimg, &["--parent-path", v]);
        oo.expect_fail(&format!("outlet --parent-path {v}"), owords);
        assert!(!oo.stderr.contains("criu"), "CRIU ran for {v}: {oo:?}");
    }
    for d in [&oimg, &rimg] {
        assert!(
            !d.join("inventory.img").exists(),
            "a refused checkpoint dumped into {}",
            d.display()
        );
    }
    still_counting(&ob, "outlet");
    still_counting(&rb, "runc");
    assert_eq!(t.status(&oid), "running");
    assert_eq!(runc_status(&t, &rid), "running");

    // Control: a directory passes the value's check on both. A dump on a
    // parent asks CRIU for dirty-page tracking (--track-mem): where the
    // kernel has it, outlet's dump links the parent; where it has not
    // (this host), runc's CRIU call fails ("criu failed: type DUMP errno
    // 56") and outlet refuses up front, naming mem_dirty_track.
    let ro = runc(
        &t,
        &[
            "checkpoint",
            "--leave-running",
            "--image-path",
            rimg.to_str().unwrap(),
            "--parent-path",
            "a-dir",
            &rid,
        ],
    );
    assert!(!ro.stderr.contains("parent-path"), "runc: {ro:?}");
    let oo = checkpoint(
        &t,
        &oid,
        &oimg,
        &["--leave-running", "--parent-path", "a-dir"],
    );
    // An image directory still to be made, its parent reached by `..`
    // (how a final dump names its pre-dump): runc makes the directory and
    // then checks; outlet checks first and must find the same parent.
    let fresh = t.dir.join("o-final");
    let oo2 = checkpoint(
        &t,
        &oid,
        &fresh,
        &["--leave-running", "--parent-path", "../o-img/a-dir"],
    );
    if tracks_memory() {
        oo.expect_ok("outlet checkpoint with an empty parent directory");
        oo2.expect_ok("outlet checkpoint into a new image dir with ../ parent");
        let link = std::fs::read_link(fresh.join("parent")).expect("a parent link");
        assert_eq!(link, PathBuf::from("../o-img/a-dir"));
    } else {
        // A dump on a parent needs dirty-page tracking (--track-mem, as
        // runc asks for it, whose CRIU call fails here): refused saying so.
        for o in [&oo, &oo2] {
            o.expect_fail(
                "a dump on a parent without soft-dirty",
                "--parent-path: CRIU cannot track memory",
            );
        }
    }

    // A created container: runc's words, exit 1 for both.
    let ocb = counter_bundle(&t, "pp-oc", |_| {});
    let oc = t.id("created");
    t.create_ok(&oc, &ocb);
    let rcb = counter_bundle(&t, "pp-rc", |_| {});
    let rc = runc_id(&t, "created");
    runc(&t, &["create", "--bundle", rcb.dir.to_str().unwrap(), &rc]).expect_ok("runc create");
    t.track_pid(runc_pid(&t, &rc));
    let cimg = t.dir.join("c-img");
    runc(
        &t,
        &["checkpoint", "--image-path", cimg.to_str().unwrap(), &rc],
    )
    .expect_fail(
        "runc checkpoint created",
        "cannot be checkpointed in created state",
    );
    checkpoint(&t, &oc, &cimg, &[]).expect_fail(
        "outlet checkpoint created",
        "cannot be checkpointed in created state",
    );
    for (id, r) in [(&oc, false), (&rc, true)] {
        if r {
            runc(&t, &["delete", "-f", id]).expect_ok("runc delete");
        } else {
            t.outlet(&["delete", "--force", id]).expect_ok("delete");
        }
    }
    runc(&t, &["delete", "-f", &rid]).expect_ok("runc delete");
    t.outlet(&["delete", "--force", &oid]).expect_ok("delete");
}

/// `restore` into an id that is taken says so before the images are
/// looked at, as runc does (its order: the bundle, the id, the images;
/// runc: "container with given ID already exists"; outlet used to
/// complain about the images first). The control: the same call under a
/// free id is refused for the images; a bad bundle is still named first
/// (tests/callers_cmds.rs).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn restore_into_a_taken_id_is_refused_first() {
    let Some(t) = T::new() else { return };
    let ((oid, ob), (rid, rb)) = both_counting(&t, "taken");
    let none = t.dir.join("no-images");
    let img = none.to_str().unwrap();
    let ro = runc(
        &t,
        &[
            "restore",
            "-d",
            "--bundle",
            rb.dir.to_str().unwrap(),
            "--image-path",
            img,
            &rid,
        ],
    );
    ro.expect_fail("runc restore over a taken id", "already exists");
    let oo = restore_out(&t, &oid, &ob, &none);
    oo.expect_fail("outlet restore over a taken id", "container with id exists");
    assert_eq!(t.status(&oid), "running");
    // Control: a free id gets to the images and is refused for them.
    let free = t.id("free");
    restore_out(&t, &free, &ob, &none)
        .expect_fail("restore without images", "no CRIU checkpoint there");
    assert!(!t.state_dir_exists(&free));
    runc(&t, &["delete", "-f", &rid]).expect_ok("runc delete");
    t.outlet(&["delete", "--force", &oid]).expect_ok("delete");
}

/// The counter lines of a bundle from the `from`-th on.
fn lines_from(b: &Bundle, from: usize) -> Vec<(u64, String, String)> {
    lines(b).into_iter().skip(from).collect()
}

/// checkpoint --leave-running, delete, then restore under a new id from a
/// different bundle (its own /out bind): for both runtimes the counter
/// goes on from the dump in the new bundle's /out (the bind is mapped to
/// the new bundle's source), and the old bundle's stays still. The
/// control: the old bundle's counter, which stopped with the delete.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn restore_from_a_changed_bundle_under_a_new_id_as_runc() {
    let Some(t) = T::new() else { return };
    let ((oid, ob), (rid, rb)) = both_counting(&t, "moved");
    let oimg = t.dir.join("o-img");
    let rimg = t.dir.join("r-img");
    checkpoint(&t, &oid, &oimg, &["--leave-running"]).expect_ok("outlet checkpoint");
    runc(
        &t,
        &[
            "checkpoint",
            "--leave-running",
            "--image-path",
            rimg.to_str().unwrap(),
            &rid,
        ],
    )
    .expect_ok("runc checkpoint");
    let (o_at, r_at) = (last(&ob), last(&rb));
    t.outlet(&["delete", "--force", &oid]).expect_ok("delete");
    runc(&t, &["delete", "-f", &rid]).expect_ok("runc delete");
    let ob2 = counter_bundle(&t, "moved-outlet-2", |_| {});
    let rb2 = counter_bundle(&t, "moved-runc-2", |_| {});
    let oid2 = t.id("moved2");
    restore(&t, &oid2, &ob2, &oimg);
    let rid2 = runc_id(&t, "moved2");
    runc(
        &t,
        &[
            "restore",
            "-d",
            "--bundle",
            rb2.dir.to_str().unwrap(),
            "--image-path",
            rimg.to_str().unwrap(),
            &rid2,
        ],
    )
    .expect_ok("runc restore");
    t.track_pid(runc_pid(&t, &rid2));
    let (o_old, r_old) = (lines(&ob).len(), lines(&rb).len());
    for (who, b2, at) in [("outlet", &ob2, o_at), ("runc", &rb2, r_at)] {
        wait_past(b2, at + 3);
        let l = lines_from(b2, 0);
        continuous(&l).unwrap_or_else(|e| panic!("{who}: not continued: {e}"));
        assert!(
            l[0].0 > 1 && l[0].0 <= at + 2,
            "{who}: the restored counter began at {}, dumped at ~{at}",
            l[0].0
        );
    }
    assert_eq!(
        lines(&ob).len(),
        o_old,
        "outlet: the old bundle's counter moved"
    );
    assert_eq!(
        lines(&rb).len(),
        r_old,
        "runc: the old bundle's counter moved"
    );
    let bundle = t.state(&oid2)["bundle"].as_str().unwrap().to_string();
    assert_eq!(
        PathBuf::from(bundle),
        ob2.dir,
        "outlet's state names the new bundle"
    );
    runc(&t, &["delete", "-f", &rid2]).expect_ok("runc delete");
    t.outlet(&["delete", "--force", &oid2]).expect_ok("delete");
}

/// Whether `ip -o link show lo` run in the container says UP.
fn lo_up(t: &T, id: &str, runc_side: bool) -> bool {
    let args = ["exec", id, "ip", "-o", "link", "show", "lo"];
    let o = if runc_side {
        runc(t, &args)
    } else {
        t.outlet(&args)
    };
    o.expect_ok("exec ip link");
    o.stdout.contains(",UP")
}

/// --empty-ns network: both runtimes restore the container into an
/// empty network namespace (lo down), not the host's. Without it they
/// differ on purpose: runc 1.1.5 always asks CRIU for an empty network
/// namespace (it "doesn't manage network devices"), so its restored lo
/// is down even though lo was up at the dump; outlet lets CRIU restore
/// the namespace as dumped (lo up, a listening socket reachable). That
/// unflagged restore is the control: the same check reads UP there.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn empty_ns_network_as_runc_and_the_default_on_purpose_not() {
    let Some(t) = T::new() else { return };
    let ((oid, ob), (rid, rb)) = both_counting(&t, "ens");
    assert!(
        lo_up(&t, &oid, false) && lo_up(&t, &rid, true),
        "control: lo is up before the dump"
    );
    for (n, flag) in [(0, true), (1, false)] {
        let oimg = t.dir.join(format!("o-img{n}"));
        let rimg = t.dir.join(format!("r-img{n}"));
        let extra: &[&str] = if flag {
            &["--empty-ns", "network"]
        } else {
            &[]
        };
        let mut a = vec!["--leave-running"];
        a.extend_from_slice(extra);
        checkpoint(&t, &oid, &oimg, &a).expect_ok("outlet checkpoint");
        let mut ra = vec!["checkpoint", "--image-path", rimg.to_str().unwrap()];
        ra.extend_from_slice(&a);
        ra.push(&rid);
        runc(&t, &ra).expect_ok("runc checkpoint");
        let oid2 = t.id(&format!("ens{n}"));
        let mut oa = vec![
            "--criu",
            criu(),
            "restore",
            "-d",
            "--bundle",
            ob.dir.to_str().unwrap(),
        ];
        oa.extend(["--image-path", oimg.to_str().unwrap()]);
        oa.extend_from_slice(extra);
        oa.push(&oid2);
        t.outlet(&oa).expect_ok("outlet restore");
        let opid = t.state(&oid2)["pid"].as_i64().unwrap() as i32;
        t.track_pid(opid);
        let rid2 = runc_id(&t, &format!("ens{n}"));
        let mut ra = vec!["restore", "-d", "--bundle", rb.dir.to_str().unwrap()];
        ra.extend(["--image-path", rimg.to_str().unwrap()]);
        ra.extend_from_slice(extra);
        ra.push(&rid2);
        runc(&t, &ra).expect_ok("runc restore");
        let rpid = runc_pid(&t, &rid2);
        t.track_pid(rpid);
        for pid in [opid, rpid] {
            use std::os::unix::fs::MetadataExt;
            let ino = std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .unwrap()
                .ino();
            assert_ne!(
                ino,
                common::host_ns("net"),
                "restored into the host's netns"
            );
        }
        assert!(
            !lo_up(&t, &rid2, true),
            "runc: lo up after restore (flag {flag})"
        );
        assert_eq!(
            lo_up(&t, &oid2, false),
            !flag,
            "outlet: lo after restore (flag {flag})"
        );
        runc(&t, &["delete", "-f", &rid2]).expect_ok("runc delete");
        t.outlet(&["delete", "--force", &oid2]).expect_ok("delete");
    }
    runc(&t, &["delete", "-f", &rid]).expect_ok("runc delete");
    t.outlet(&["delete", "--force", &oid]).expect_ok("delete");
}

/// Memory and pids limits of the container `pid` is in (v1 files).
fn limits(pid: i32) -> (String, String) {
    (
        cgroup_file(pid, "memory", "memory.limit_in_bytes"),
        cgroup_file(pid, "pids", "pids.max"),
    )
}

/// --manage-cgroups-mode soft (the default): a restore from a bundle whose
/// limits changed since the dump takes the new bundle's limits, for runc
/// and outlet alike (each makes the cgroup from the bundle before CRIU
/// runs, and soft mode leaves an existing cgroup's properties alone). The
/// control: the dumped container had the old limits, read the same way.
/// (runc 1.1.5 refuses `ignore`, "Invalid manage cgroups mode"; outlet
/// takes it as later runc versions do, tests/checkpoint_flags.rs.)
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn soft_mode_restore_takes_the_new_bundles_limits_as_runc() {
    let Some(t) = T::new() else { return };
    let set = |c: &mut serde_json::Value, mem: u64, pids: u64| {
        c["linux"]["resources"]["memory"] = serde_json::json!({ "limit": mem });
        c["linux"]["resources"]["pids"] = serde_json::json!({ "limit": pids });
    };
    let ob = counter_bundle(&t, "lim-outlet", |c| set(c, 64 << 20, 50));
    let oid = t.id("lim");
    let opid = run_detached(&t, &oid, &ob);
    let rb = counter_bundle(&t, "lim-runc", |c| set(c, 64 << 20, 50));
    let rid = runc_id(&t, "lim");
    runc(
        &t,
        &["run", "-d", "--bundle", rb.dir.to_str().unwrap(), &rid],
    )
    .expect_ok("runc run -d");
    let rpid = runc_pid(&t, &rid);
    t.track_pid(rpid);
    let old = ((64u64 << 20).to_string(), "50".to_string());
    assert_eq!(
        limits(opid),
        old,
        "control: outlet's limits before the dump"
    );
    assert_eq!(limits(rpid), old, "control: runc's limits before the dump");
    let oimg = t.dir.join("o-img");
    let rimg = t.dir.join("r-img");
    checkpoint(&t, &oid, &oimg, &["--manage-cgroups-mode", "soft"]).expect_ok("outlet checkpoint");
    runc(
        &t,
        &[
            "checkpoint",
            "--manage-cgroups-mode",
            "soft",
            "--image-path",
            rimg.to_str().unwrap(),
            &rid,
        ],
    )
    .expect_ok("runc checkpoint");
    for b in [&ob, &rb] {
        let mut c = b.config();
        set(&mut c, 96 << 20, 77);
        b.write_config(&c);
    }
    let opid = restore(&t, &oid, &ob, &oimg);
    runc(
        &t,
        &[
            "restore",
            "-d",
            "--manage-cgroups-mode",
            "soft",
            "--bundle",
            rb.dir.to_str().unwrap(),
            "--image-path",
            rimg.to_str().unwrap(),
            &rid,
        ],
    )
    .expect_ok("runc restore");
    let rpid = runc_pid(&t, &rid);
    t.track_pid(rpid);
    let new = ((96u64 << 20).to_string(), "77".to_string());
    assert_eq!(limits(opid), new, "outlet's limits after the restore");
    assert_eq!(limits(rpid), new, "runc's limits after the restore");
    runc(&t, &["delete", "-f", &rid]).expect_ok("runc delete");
    t.outlet(&["delete", "--force", &oid]).expect_ok("delete");
}

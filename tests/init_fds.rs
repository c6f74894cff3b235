//! `create` and `run` hand the detached overlay mount of outlet's binary
//! (see src/security/protected_exe.rs) across their re-exec and close it
//! only once the init has closed its inherited copy, to keep the RCU grace
//! period of that close off the caller's wait. The mount is a host
//! directory (the binary's directory over /sys, read-only): neither the
//! created init, which the container can look at in /proc/1/fd while it
//! sits in "created", nor the application may ever hold it, not even when
//! the caller's --preserve-fds range covers the number it got. The
//! attack: a caller declares more preserved fds than it passes, so
//! outlet's own fds land inside the range the init keeps open.
//! Needs root (ignored in a build by another user).

mod common;

use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{OUTLET, T};
use nix::sys::statfs::{SYSFS_MAGIC, statfs};
use serde_json::json;

/// (fd, fs magic in hex, "dir" or "other").
type Fd = (u32, String, String);

fn hex(magic: nix::sys::statfs::FsType) -> String {
    format!("{:x}", magic.0)
}

/// The fds of a process as the host sees them in /proc/PID/fd.
fn host_view(pid: i32) -> Vec<Fd> {
    let mut v: Vec<Fd> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
        .map(|e| {
            let e = e.unwrap();
            let path = e.path();
            let fs = statfs(&path).unwrap_or_else(|err| panic!("statfs {path:?}: {err}"));
            let md = std::fs::metadata(&path).unwrap();
            let kind = if md.is_dir() { "dir" } else { "other" };
            let n = e.file_name().to_str().unwrap().parse().unwrap();
            (n, hex(fs.filesystem_type()), kind.to_string())
        })
        .collect();
    v.sort();
    v
}

/// The application's own listing, once it has written it.
fn app_view(out: &Path) -> Vec<Fd> {
    let file = out.join("fds");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let t = std::fs::read_to_string(&file).unwrap_or_default();
        if t.contains("types-done") {
            break t;
        }
        assert!(Instant::now() < deadline, "no listing in {file:?}: {t:?}");
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = std::fs::remove_file(&file);
    common::parse_fd_types(&text)
}

#[track_caller]
fn assert_sees_sys(fds: &[Fd], who: &str) {
    let want = (5, hex(SYSFS_MAGIC), "dir".to_string());
    assert!(
        fds.contains(&want),
        "{who}: the passed /sys directory fd was not seen: {fds:?}"
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn container_init_never_holds_the_binarys_overlay_mount() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("ovlfd", |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            format!("exec >/out/fds\n{}", common::FD_TYPES_SH)
        ]);
    });
    let kept = std::fs::File::create(b.out.join("kept")).unwrap();
    let k = kept.as_raw_fd();
    let bundle = b.dir.to_str().unwrap();

    // The attack: fds 3 and 4 passed, 3..10 declared. outlet's first
    // image gets the overlay's mount at the lowest free number (5 or 6),
    // inside the range, and the re-executed outlet keeps that number.
    let id = t.id("ovlfd");
    let create = ["create", "--preserve-fds", "8", "--bundle", bundle, &id];
    let o = t.call(Path::new(OUTLET), &create, &[(k, 3), (k, 4)]);
    o.expect_ok("create --preserve-fds 8 with two fds");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    common::assert_no_binary_mount(&host_view(pid), "the created init", &o);
    t.outlet(&["start", &id]).expect_ok("start");
    common::assert_no_binary_mount(&app_view(&b.out), "the application", &o);
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");

    // `run` takes the same way.
    let id = t.id("ovlrun");
    let run = ["run", "--preserve-fds", "8", "--bundle", bundle, &id];
    let o = t.call(Path::new(OUTLET), &run, &[(k, 3), (k, 4)]);
    o.expect_ok("run --preserve-fds 8 with two fds");
    common::assert_no_binary_mount(&app_view(&b.out), "the application of run", &o);

    // Control: a directory fd the caller does pass in that range (sysfs
    // at 5) is seen by both checks, with its filesystem and kind, so the
    // checks above can fail.
    let sys = std::fs::File::open("/sys").unwrap();
    let fds = [(k, 3), (k, 4), (sys.as_raw_fd(), 5)];
    let id = t.id("ovlsys");
    let create = ["create", "--preserve-fds", "8", "--bundle", bundle, &id];
    let o = t.call(Path::new(OUTLET), &create, &fds);
    o.expect_ok("create with /sys at fd 5");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    assert_sees_sys(&host_view(pid), "the created init");
    t.outlet(&["start", &id]).expect_ok("start");
    assert_sees_sys(&app_view(&b.out), "the application");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");

    t.assert_nothing_left("after the containers");
}

//! `exec` hands the detached overlay mount of outlet's binary (see
//! src/security/protected_exe.rs) across its re-exec and closes it late,
//! while the process starts, to keep the RCU grace period of that close
//! off the caller's wait. The mount is a host directory (the binary's
//! directory over /sys, read-only): the exec'd process must never hold it,
//! not even when the caller's --preserve-fds range covers the number it
//! got. The attack: a caller asks for more preserved fds than it passes,
//! so outlet's own fds land inside the range the helper keeps open.
//! Needs root (ignored in a build by another user).

mod common;

use std::os::fd::AsRawFd;
use std::path::Path;

use common::{OUTLET, Out, T};
use serde_json::json;

/// sysfs's (SYSFS_MAGIC): the control's directory fd.
const SYSFS_MAGIC: &str = "62656572";

/// (fd, fs magic, kind) per fd of the exec'd shell.
fn fd_types(o: &Out) -> Vec<(u32, String, String)> {
    assert!(
        o.stdout.contains("types-done"),
        "the script did not run: {o:?}"
    );
    common::parse_fd_types(&o.stdout)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_process_never_holds_the_binarys_overlay_mount() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("ovlfd", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let id = t.id("ovlfd");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let kept = std::fs::File::create(b.out.join("kept")).unwrap();
    let k = kept.as_raw_fd();

    // The attack: fds 3 and 4 passed, 3..10 declared. outlet's first
    // image gets the overlay's mount at the lowest free number (5 or 6),
    // inside the range.
    let exec = [
        "exec",
        "--preserve-fds",
        "8",
        &id,
        "sh",
        "-c",
        common::FD_TYPES_SH,
    ];
    let o = t.call(Path::new(OUTLET), &exec, &[(k, 3), (k, 4)]);
    o.expect_ok("exec --preserve-fds 8 with two fds");
    common::assert_no_binary_mount(&fd_types(&o), "the exec'd process", &o);

    // Control: a directory fd the caller does pass in that range (sysfs
    // at 5) is seen, with its filesystem and kind, so the checks above
    // can fail.
    let sys = std::fs::File::open("/sys").unwrap();
    let fds = [(k, 3), (k, 4), (sys.as_raw_fd(), 5)];
    let o = t.call(Path::new(OUTLET), &exec, &fds);
    o.expect_ok("exec with /sys at fd 5");
    let seen = fd_types(&o);
    assert!(
        seen.contains(&(5, SYSFS_MAGIC.to_string(), "dir".to_string())),
        "the passed /sys directory fd was not seen: {seen:?}\n{o:?}"
    );

    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the execs");
}

//! The state root's FS_TOPDIR_FL (session 16, src/state_root.rs
//! `spread_dirs`): on ext4, `create` marks a state root that passed its
//! checks, so each container's dir (and the files in it) is placed away
//! from the root's block group; the root's other inode flags are kept; and
//! a root that `create` refuses is left as it was. Needs root, and a state
//! root on ext4 (/run here; the test fails elsewhere).

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{OUTLET, T, sh};

const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;
const FS_NOATIME_FL: libc::c_int = 0x0000_0080;
const EXT4_SUPER_MAGIC: i64 = 0xEF53;

fn flags(p: &Path) -> libc::c_int {
    let f = std::fs::File::open(p).unwrap();
    let mut v: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one int into v.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_GETFLAGS as _, &mut v) };
    assert_eq!(r, 0, "FS_IOC_GETFLAGS {}", p.display());
    v
}

fn set_flags(p: &Path, v: libc::c_int) {
    let f = std::fs::File::open(p).unwrap();
    // SAFETY: FS_IOC_SETFLAGS reads one int that lives across the call.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_SETFLAGS as _, &v) };
    assert_eq!(r, 0, "FS_IOC_SETFLAGS {}", p.display());
}

fn on_ext4(p: &Path) -> bool {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    let mut s = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: statfs fills the struct we pass or fails and leaves it unread.
    if unsafe { libc::statfs(c.as_ptr(), s.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: statfs succeeded, so it wrote the whole struct.
    #[allow(clippy::unnecessary_cast)]
    let t = unsafe { s.assume_init() }.f_type as i64;
    t == EXT4_SUPER_MAGIC
}

/// The mark is ext4's; this machine's /run is ext4. Elsewhere the test
/// fails rather than pass without looking.
fn needs_ext4(p: &Path) {
    assert!(
        on_ext4(p),
        "{} is not on ext4: this test needs it",
        p.display()
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_marks_an_ext4_state_root_topdir_and_keeps_its_other_flags() {
    let Some(t) = T::new() else { return };
    let parent = t.root.parent().unwrap();
    needs_ext4(parent);
    // The root made beforehand (as a caller, or bench/storm.sh, does),
    // with a flag of the admin's that must survive.
    std::fs::create_dir(&t.root).unwrap();
    std::fs::set_permissions(&t.root, std::fs::Permissions::from_mode(0o700)).unwrap();
    set_flags(&t.root, flags(&t.root) | FS_NOATIME_FL);
    // Control: the test sees a root without the flag.
    assert_eq!(
        flags(&t.root) & FS_TOPDIR_FL,
        0,
        "fresh root already TOPDIR"
    );
    let b = t.bundle("b", |c| sh(c, "true"));
    let id = t.id("a");
    t.create(&id, &b).expect_ok("create");
    let f = flags(&t.root);
    assert_ne!(f & FS_TOPDIR_FL, 0, "root not marked: {f:#x}");
    assert_ne!(
        f & FS_NOATIME_FL,
        0,
        "the root's noatime flag was lost: {f:#x}"
    );
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("topdir root");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_refused_state_root_is_not_marked() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    needs_ext4(&t.dir);
    // Writable by others: `check` refuses it (another user could swap a
    // container's dir).
    let root = t.dir.join("open-root");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
    let b = t.bundle("b", |c| sh(c, "true"));
    let id = t.id("r");
    let args = ["--root", s(&root), "create", "--bundle", s(&b.dir), &id];
    let o = t.call_env(Path::new(OUTLET), &args, &[], &[]);
    o.expect_fail("create in a root others may write", "state root");
    assert_eq!(flags(&root) & FS_TOPDIR_FL, 0, "a refused root was marked");
    // Control: the same root unchecked (a debug build's knob) is taken and
    // marked, so the assertion above can see a mark.
    let unchecked = [("OUTLET_ROOT_UNCHECKED", "1")];
    let o = t.call_env(Path::new(OUTLET), &args, &[], &unchecked);
    o.expect_ok("control create");
    let marked = flags(&root) & FS_TOPDIR_FL != 0;
    let del = ["--root", s(&root), "delete", "--force", &id];
    t.call_env(Path::new(OUTLET), &del, &[], &unchecked)
        .expect_ok("control delete");
    assert!(marked, "control: the unchecked root was not marked");
    t.assert_nothing_left("refused root");
}

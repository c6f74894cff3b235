//! Another host user as an attacker of the state root: commands run as
//! that user, and a sticky world-writable directory (as /tmp) where that
//! user can place links and directories beside the test's own.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use super::T;

/// Runs `args` as `uid` (its own group, no others): what another host user
/// can do.
pub fn as_user(uid: u32, args: &[&str]) -> bool {
    let uid = uid.to_string();
    Command::new("setpriv")
        .args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "--"])
        .args(args)
        .status()
        .unwrap()
        .success()
}

/// A sticky directory everyone may write, as /tmp: `shared-tmp` in the
/// test's directory.
pub fn shared_dir(t: &T) -> PathBuf {
    let d = t.dir.join("shared-tmp");
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

//! Helpers the ports of runc's bats files share (tests/runcbats_s9*.rs).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Bundle, OUTLET, Out, T};

pub fn set_args(c: &mut Value, args: &[&str]) {
    c["process"]["args"] = json!(args);
}

/// A container started with `run -d` running `sleep 1000` (edited by
/// `edit`), its init tracked.
pub fn up(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> (String, Bundle) {
    let b = t.bundle(tag, |c| {
        set_args(c, &["sleep", "1000"]);
        edit(c)
    });
    let id = t.id(tag);
    t.outlet(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    (id, b)
}

pub fn exec(t: &T, id: &str, args: &[&str]) -> Out {
    t.outlet(&[&["exec", id][..], args].concat())
}

/// `outlet --root R ARGS` run in `cwd` (for relative --pid-file paths).
pub fn outlet_in(t: &T, cwd: &Path, args: &[&str]) -> Out {
    let (mut cmd, so, se) = t.command(Path::new(OUTLET), args);
    cmd.current_dir(cwd);
    let mut child = cmd.spawn().expect("spawn outlet");
    let st = super::wait_timeout(&mut child, Duration::from_secs(60), "outlet");
    Out::from_files(st, so, se)
}

pub fn gone(t: &T, id: &str) -> bool {
    !t.outlet(&["state", id]).ok()
}

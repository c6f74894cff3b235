//! Mends of session 7's reviews, each played for real.
//!
//! 1. `write_atomic` (the checkpoint record in a caller-given image
//!    directory, the pid file where there is no O_TMPFILE, state files,
//!    criu's cache) wrote its temporary `.<name>.<pid>` with
//!    `std::fs::write`, which opens through whatever is at that name: a
//!    symlink planted there sent the record to its target, outside the
//!    directory; a fifo there hung the command. A stand-in criu (`--criu`,
//!    a script: run by `checkpoint --pre-dump` first as `criu check`, with
//!    outlet as its parent, so `$PPID` names the temporary) plants it
//!    before the record is written. Fixed: the temporary is made with
//!    O_CREAT|O_EXCL|O_NOFOLLOW, what is there unlinked (never opened)
//!    once; the target is untouched and the record lands. Control: a debug
//!    build's `OUTLET_TMP_FOLLOW=1` opens as before, and the target gets
//!    the record.
//! 2. `exec` with a seccomp filter and noNewPrivileges false: since the
//!    helper loads the filter before it forks (attack_s7 4), the process
//!    set the container's personality and memory policy under it, and a
//!    profile that denies personality(2) or set_mempolicy (Docker's allows
//!    them only conditionally) made the exec fail where it had worked.
//!    Fixed: the helper sets both before it loads the filter (the fork
//!    inherits them). Each against a profile denying just one of them:
//!    the exec'd probe reads `bind:0` and `i686`. Control: a debug build's
//!    `OUTLET_EXEC_FULL_CAPS=attrs-in-process` (main's order) fails naming
//!    the field.
//!
//! Needs root (ignored otherwise) and a debug build (the switches).

mod common;

use std::path::{Path, PathBuf};

use common::{Out, T};
use serde_json::json;

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_TMP_FOLLOW)");
    }
}

/// A stand-in criu that, asked `check`, plants `plant` (a shell command
/// given the temporary's path as $T) in `image`, and whose dump succeeds.
fn planting_criu(t: &T, tag: &str, image: &Path, plant: &str) -> PathBuf {
    let criu = t.dir.join(format!("criu-{tag}"));
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = check ]; then\n  T={}/.outlet-criu.json.$PPID\n  {plant}\nfi\nexit 0\n",
        image.display()
    );
    std::fs::write(&criu, script).unwrap();
    let st = std::process::Command::new("chmod")
        .args(["755", criu.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    criu
}

/// `checkpoint --pre-dump` of a running container, with `plant` done at the
/// temporary record's name by the stand-in criu. Returns the call and
/// what the image directory holds afterwards.
fn checkpoint_attempt(t: &T, tag: &str, plant: &str, env: &[(&str, &str)]) -> (Out, Vec<String>) {
    let b = t.bundle(tag, |c| c["process"]["args"] = json!(["sleep", "600"]));
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let image = t.dir.join(format!("image-{tag}"));
    std::fs::create_dir(&image).unwrap();
    let criu = planting_criu(t, tag, &image, plant);
    let out = t.call_env(
        Path::new(common::OUTLET),
        &[
            "--criu",
            criu.to_str().unwrap(),
            "checkpoint",
            "--pre-dump",
            "--image-path",
            image.to_str().unwrap(),
            &id,
        ],
        &[],
        env,
    );
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    let mut held: Vec<String> = std::fs::read_dir(&image)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    held.sort();
    (out, held)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn checkpoint_record_never_follows_a_link_at_its_temporary_name() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let outside = t.dir.join("outside");
    std::fs::write(&outside, "untouched").unwrap();
    let link = format!("ln -s {} \"$T\"", outside.display());

    let (out, held) = checkpoint_attempt(&t, "link", &link, &[]);
    out.expect_ok("checkpoint with a link planted at the temporary name");
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "untouched",
        "the record went through the planted link"
    );
    assert_eq!(held, ["outlet-criu.json"], "the image directory: {out:#?}");

    let (out, held) = checkpoint_attempt(&t, "fifo", "mkfifo \"$T\"", &[]);
    out.expect_ok("checkpoint with a fifo planted at the temporary name");
    assert_eq!(held, ["outlet-criu.json"], "the image directory: {out:#?}");

    let (out, _) = checkpoint_attempt(&t, "control", &link, &[("OUTLET_TMP_FOLLOW", "1")]);
    out.expect_ok("control checkpoint");
    let got = std::fs::read_to_string(&outside).unwrap();
    assert!(
        got.contains("\"stdio\""),
        "control: opening as std::fs::write does, the record should have gone through the link, the target holds {got:?}"
    );
}

/// A container with a personality and a memory policy, and a filter
/// without no_new_privs that denies `denied` (EPERM) and allows the rest.
fn attrs_exec(t: &T, tag: &str, denied: &str, env: &[(&str, &str)]) -> Out {
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["sleep", "600"]);
        c["process"]["noNewPrivileges"] = json!(false);
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": [denied], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let out = t.call_env(
        Path::new(common::OUTLET),
        &["exec", &id, "probe", "report"],
        &[],
        env,
    );
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    out
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_sets_personality_and_memory_policy_before_a_filter_denying_them() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    for (denied, field) in [
        ("set_mempolicy", "linux.memoryPolicy"),
        ("personality", "linux.personality"),
    ] {
        let out = attrs_exec(&t, &format!("{denied}-fixed"), denied, &[]);
        out.expect_ok(&format!("exec under a filter denying {denied}"));
        let r = out.json();
        assert_eq!(r["numa_policy"], "bind:0", "{denied}: {r}");
        assert_eq!(r["machine"], "i686", "{denied}: {r}");

        let out = attrs_exec(
            &t,
            &format!("{denied}-control"),
            denied,
            &[("OUTLET_EXEC_FULL_CAPS", "attrs-in-process")],
        );
        out.expect_exec_fail(&format!("control: {denied} set under the filter"), field);
    }
}

//! The attacker's review of session 9 (round 5).
//!
//! 1. The state root's ancestors. Since round 4b, create/restore refused
//!    a root another user owns or may write to, and a parent of theirs;
//!    not a grandparent, nor a symlink of theirs on the way: `--root
//!    SHARED/theirs/ours/root` passed though the stranger who owns
//!    `theirs` can rename `ours` away and put their own in its place, and
//!    `--root SHARED/link/root` through a symlink the stranger owns in a
//!    sticky directory passed though they can point it elsewhere. Fixed:
//!    create and restore lstat every component (src/state_root.rs
//!    `check`): directories ours or root's and written by others only when
//!    sticky, symlinks ours or root's, then where the symlinks lead the
//!    same; exit 1 naming the directory or the symlink, nothing made.
//!    Control: a debug build's `OUTLET_ROOT_UNCHECKED=1`: the container is
//!    made there and the stranger moves its state away (or repoints the
//!    link) as themselves. `restore` the same (a real CRIU image): refused
//!    under the stranger's directory; unchecked, restored there and the
//!    stranger renames the root away.
//! 2. A root that became another user's after its containers were made
//!    (chowned, or made before round 4b's check). Only create/restore
//!    checked, so every other command read and acted on what the
//!    stranger put there: the stranger renames the container's directory
//!    away and puts in its place one whose state.json names a host
//!    process of root's (its pid and start time, both world-readable in
//!    /proc) and `outlet kill ID KILL`, run by root, killed that process.
//!    Fixed: every command that reads a root (kill, delete, state, list,
//!    start, exec, pause, resume, update, ps, events, checkpoint) checks
//!    the root and its parent first (`check_near`, two stats): each exits
//!    1 naming the root. Control: `OUTLET_ROOT_UNCHECKED=1`: the forged
//!    directory's victim dies, and a forged state.json naming a poststop
//!    hook has root's `delete` run the stranger's command as uid 0.
//!
//! Needs root (ignored otherwise) and a debug build (the switch).

mod common;
mod criu_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::stranger::{as_user, shared_dir};
use common::{OUTLET, T};

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_ROOT_UNCHECKED)");
    }
}

/// A real other host user (made for the test, removed after). One name
/// per test: the tests of this file run in parallel, and two useradd of
/// one name race (the second fails), as would one test's userdel under
/// another test still using the account.
fn stranger(t: &T, which: u8) -> u32 {
    t.system_user(&format!("outlet-s9-stranger{which}")).0
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn state_root_under_a_strangers_ancestor_or_symlink_is_refused() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let who = stranger(&t, 1);
    let shared = shared_dir(&t);
    // A directory of the stranger's two levels above a root of ours.
    let theirs = shared.join("theirs");
    assert!(as_user(who, &["mkdir", "-m", "0755", s(&theirs)]));
    let ours = theirs.join("ours");
    std::fs::create_dir_all(ours.join("root")).unwrap();
    // A root of ours reached through the stranger's symlink in /tmp-like
    // `shared` (they own the link, so they may replace it).
    let real = t.dir.join("real-root");
    std::fs::create_dir(&real).unwrap();
    let link = shared.join("link");
    assert!(as_user(who, &["ln", "-s", s(&real), s(&link)]));
    let decoy = shared.join("decoy");
    assert!(as_user(who, &["mkdir", "-m", "0755", s(&decoy)]));
    let cases = [
        ("anc", ours.join("root"), "its directory", theirs.clone()),
        ("lnk", link.join("root"), "the symlink", link.clone()),
    ];
    for (tag, root, needle, named) in cases {
        let b = t.bundle(tag, |c| common::sh(c, "sleep 100"));
        let id = t.id(tag);
        let args = ["--root", s(&root), "create", "--bundle", s(&b.dir), &id];
        let o = t.call_env(Path::new(OUTLET), &args, &[], &[]);
        o.expect_fail(&format!("create under the stranger's ({tag})"), needle);
        assert!(o.stderr.contains(s(&named)), "{tag}: {o:?}");
        assert!(!root.join(&id).exists(), "{tag}: the state dir was left");
        // Control: unchecked, the container is made there, and the
        // stranger, as themselves, takes the root away from under it.
        let unchecked = [("OUTLET_ROOT_UNCHECKED", "1")];
        let o = t.call_env(Path::new(OUTLET), &args, &[], &unchecked);
        o.expect_ok(&format!("control create ({tag})"));
        let swapped = if tag == "anc" {
            let away = theirs.join("ours.away");
            let ok = as_user(who, &["mv", s(&ours), s(&away)]);
            let hidden = !root.join(&id).exists();
            if ok {
                std::fs::rename(&away, &ours).unwrap();
            }
            ok && hidden
        } else {
            let ok = as_user(who, &["ln", "-sfn", s(&decoy), s(&link)]);
            let hidden = !root.join(&id).exists();
            std::fs::remove_file(&link).unwrap();
            std::os::unix::fs::symlink(&real, &link).unwrap();
            ok && hidden
        };
        let o = t.call_env(
            Path::new(OUTLET),
            &["--root", s(&root), "delete", "--force", &id],
            &[],
            &unchecked,
        );
        assert!(swapped, "control ({tag}): the stranger could not swap");
        o.expect_ok(&format!("control cleanup ({tag})"));
    }
    t.assert_nothing_left("state roots under a stranger");
}

/// Field 22 of /proc/PID/stat: the start time kill checks a pid against.
fn start_time(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(19).unwrap().to_string()
}

/// What the stranger puts at the container's name: its files with the
/// init's pid and start time replaced by the victim's.
fn forge(real: &Path, forged: &Path, init: &str, victim: u32, owner: u32) {
    let init_start = start_time(init.parse().unwrap());
    let victim_start = start_time(victim);
    std::fs::create_dir(forged).unwrap();
    for e in std::fs::read_dir(real).unwrap().flatten() {
        if !e.file_type().unwrap().is_file() {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap())
            .replace(&format!("\"pid\":{init}"), &format!("\"pid\":{victim}"))
            .replace(&format!("\"pid\": {init}"), &format!("\"pid\": {victim}"))
            .replace(&init_start, &victim_start);
        std::fs::write(forged.join(e.file_name()), text).unwrap();
    }
    common::chown_r(forged, owner, owner);
}

/// The forged state.json rewritten as a stopped container (a pid that is
/// no process, no cgroups) whose poststop hook records who ran it.
fn forge_hook(forged: &Path, marker: &Path, owner: u32) {
    let path = forged.join("state.json");
    let mut st = common::read_json(&path);
    st["pid"] = serde_json::json!(i32::MAX);
    st["init_start_time"] = serde_json::json!(1);
    st.as_object_mut().unwrap().remove("cgroup");
    let script = format!("id -u > {}", s(marker));
    st["hooks"] = serde_json::json!({"poststop": [
        {"path": "/bin/sh", "args": ["sh", "-c", script]}
    ]});
    std::fs::write(&path, st.to_string()).unwrap();
    let _ = std::fs::remove_file(forged.join("intent.json"));
    common::chown_r(forged, owner, owner);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn state_root_chowned_later_every_command_refuses() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let who = stranger(&t, 2);
    let b = t.bundle("c", |c| common::sh(c, "sleep 100"));
    let id = t.id("c");
    let init = t.create_ok(&id, &b).to_string();
    t.outlet(&["start", &id]).expect_ok("start");
    let mut victim = Command::new("sleep").arg("1000").spawn().unwrap();
    let vpid = victim.id();
    t.track_pid(vpid as i32);
    // The root becomes the stranger's; it is ours again at the end.
    let root = t.root.clone();
    std::os::unix::fs::chown(&root, Some(who), Some(who)).unwrap();
    let (real, away) = (root.join(&id), root.join(format!("{id}.away")));
    let (r, a, back) = (real.clone(), away.clone(), root.clone());
    t.on_cleanup(move || {
        if a.exists() {
            let _ = std::fs::remove_dir_all(&r);
            let _ = std::fs::rename(&a, &r);
        }
        let _ = std::fs::remove_dir_all(format!("{}.forged", s(&r)));
        std::os::unix::fs::chown(&back, Some(0), Some(0)).unwrap();
        let _ = Command::new("kill")
            .args(["-9", &vpid.to_string()])
            .status();
    });
    let commands: [&[&str]; 13] = [
        &["state", &id],
        &["list"],
        &["kill", &id, "0"],
        &["ps", &id],
        &["events", "--stats", &id],
        &["pause", &id],
        &["resume", &id],
        &["update", "--pids-limit", "1000", &id],
        &["exec", &id, "true"],
        &["start", &id],
        &["checkpoint", &id],
        &["delete", &id],
        &["delete", "--force", &id],
    ];
    for args in commands {
        let o = t.outlet(args);
        let what = format!("{args:?} in the stranger's root");
        if args[0] == "exec" {
            o.expect_exec_fail(&what, "must be ours");
        } else {
            o.expect_fail(&what, "must be ours");
        }
        assert!(o.stderr.contains(s(&root)), "{args:?}: {o:?}");
    }
    // The stranger swaps the container's directory for a forged one.
    let staged = root.join(format!("{id}.forged"));
    forge(&real, &staged, &init, vpid, who);
    assert!(as_user(who, &["mv", s(&real), s(&away)]));
    assert!(as_user(who, &["mv", s(&staged), s(&real)]));
    let o = t.outlet(&["kill", &id, "KILL"]);
    o.expect_fail("kill in the swapped root", "must be ours");
    assert!(common::pid_alive(vpid as i32), "the victim died: {o:?}");
    // Control: unchecked, root's kill kills the stranger's choice.
    let o = t.call_env(
        Path::new(OUTLET),
        &["--root", s(&root), "kill", &id, "KILL"],
        &[],
        &[("OUTLET_ROOT_UNCHECKED", "1")],
    );
    let died = common::wait_timeout(&mut victim, Duration::from_secs(5), "the victim");
    o.expect_ok("control: kill in the swapped root");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&died),
        Some(libc::SIGKILL),
        "control: the victim was not killed"
    );
    // The same forged state.json can name poststop hooks: root's
    // `delete` runs them.
    let marker = t.dir.join("hook-ran");
    forge_hook(&real, &marker, who);
    let o = t.outlet(&["delete", &id]);
    o.expect_fail("delete in the swapped root", "must be ours");
    assert!(!marker.exists(), "the stranger's hook ran: {o:?}");
    let o = t.call_env(
        Path::new(OUTLET),
        &["--root", s(&root), "delete", &id],
        &[],
        &[("OUTLET_ROOT_UNCHECKED", "1")],
    );
    o.expect_ok("control: delete in the swapped root");
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert_eq!(
        ran, "0\n",
        "control: the stranger's hook did not run as root"
    );
    std::fs::rename(&away, &real).unwrap();
    std::os::unix::fs::chown(&root, Some(0), Some(0)).unwrap();
    t.outlet(&["state", &id]).expect_ok("the container itself");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("a root chowned later");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn state_root_restore_under_a_strangers_ancestor_is_refused() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let who = stranger(&t, 3);
    let b = criu_support::counter_bundle(&t, "b", |_| {});
    let id = t.id("rs");
    criu_support::run_detached(&t, &id, &b);
    let image = t.dir.join("img");
    criu_support::checkpoint(&t, &id, &image, &[]).expect_ok("checkpoint");
    let shared = shared_dir(&t);
    let theirs = shared.join("theirs");
    assert!(as_user(who, &["mkdir", "-m", "0755", s(&theirs)]));
    let ours = theirs.join("ours");
    let root = ours.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let args = [
        "--root",
        s(&root),
        "--criu",
        criu_support::criu(),
        "restore",
        "-d",
        "--bundle",
        s(&b.dir),
        "--image-path",
        s(&image),
        &id,
    ];
    let o = t.call_env(Path::new(OUTLET), &args, &[], &[]);
    o.expect_fail("restore under the stranger's directory", "its directory");
    assert!(o.stderr.contains(s(&theirs)), "{o:?}");
    assert!(!root.join(&id).exists(), "the state dir was left");
    // Control: unchecked, the container is restored there and the
    // stranger renames its root away.
    let unchecked = [("OUTLET_ROOT_UNCHECKED", "1")];
    let o = t.call_env(Path::new(OUTLET), &args, &[], &unchecked);
    o.expect_ok("control: restore");
    let away = theirs.join("ours.away");
    let moved = as_user(who, &["mv", s(&ours), s(&away)]);
    let hidden = !root.join(&id).exists();
    if moved {
        std::fs::rename(&away, &ours).unwrap();
    }
    let del = ["--root", s(&root), "delete", "--force", &id];
    let o = t.call_env(Path::new(OUTLET), &del, &[], &unchecked);
    assert!(
        moved && hidden,
        "control: the stranger could not move the root"
    );
    o.expect_ok("control cleanup");
    t.assert_nothing_left("restore under a stranger");
}

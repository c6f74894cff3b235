//! The attacker's review of session 9 (round 6): the code the session
//! merged after round 5 (socket activation, `--no-pivot`'s proc/sys
//! hiding, the read-only /dev made last, the binary's overlay below the
//! old root, delete's wait for outlet's own process, unknown capability
//! names, the state root's checks). docs/known-gaps.md, "Session 9, round
//! 6", says what held and how it was looked at.
//!
//! 1. The state root's check (src/state_root.rs `check`) lstat'ed the
//!    prefixes of the path as given and then the ancestors of where it
//!    led: a symlink met only in a symlink's target (a chain) was never
//!    looked at, and a trailing slash made lstat follow the root's own
//!    final symlink. So `--root SHARED/theirs/` (the stranger's symlink,
//!    refused without the slash) and `--root MINE/link/root` with
//!    `MINE/link -> SHARED/theirs -> MINE/real` both passed, and the
//!    stranger could repoint their link afterwards. Fixed: the path is
//!    taken without a trailing slash, and every symlink's target is
//!    walked the same (owners checked, 40 hops at most). Control: a debug
//!    build's `OUTLET_ROOT_UNCHECKED=1`: created there, and the stranger,
//!    as themselves, repoints the link and the container is gone from the
//!    root's path.
//! 2. Socket activation (src/container/listen_fds.rs): a daemon started by
//!    systemd keeps LISTEN_FDS and LISTEN_PID=<its own pid> in its
//!    environment and a listening socket on fd 3; the outlet it runs sees
//!    a LISTEN_PID that is not its own and passes nothing: the container
//!    finds no fd 3 and no LISTEN_ variables. Control: the same socket and
//!    variables with LISTEN_PID naming outlet itself (as systemd would
//!    when activating outlet) reach the container.
//! 3. A container process that names itself "outlet" (`echo -n outlet
//!    >/proc/self/comm`) in a cgroup shared with another container held
//!    up that container's delete: the wait meant for outlet's own exec
//!    helper took any such name, 2 s per v1 hierarchy (16 s measured).
//!    Fixed: the process must be in our pid namespace too, and one
//!    deadline covers the whole destroy. Control: a debug build's
//!    `OUTLET_CGROUP_WAIT_EACH=1` (the name alone, a deadline each).
//! 4. LISTEN_FDS near u32::MAX (the caller's environment) overflowed the
//!    init's `3 + fds`: fixed by saturating; the control is the value one
//!    below the overflow, and the test fails on edf58d7 (the init panics).
//!
//! Needs root (ignored otherwise) and a debug build (the switches).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::stranger::{as_user, shared_dir};
use common::{OUTLET, T};

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_ROOT_UNCHECKED)");
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn state_root_through_a_strangers_link_in_a_chain_or_with_a_slash_is_refused() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let who = t.system_user("outlet-s9b-stranger").0;
    let shared = shared_dir(&t);
    let real = t.dir.join("real-root");
    std::fs::create_dir_all(real.join("root")).unwrap();
    let theirs = shared.join("theirs");
    assert!(as_user(who, &["ln", "-s", s(&real), s(&theirs)]));
    let decoy = shared.join("decoy");
    assert!(as_user(who, &["mkdir", "-m", "0755", s(&decoy)]));
    std::fs::create_dir(decoy.join("root")).ok();
    // Our own link, pointing at the stranger's: the chain.
    let mine = t.dir.join("mine-link");
    std::os::unix::fs::symlink(&theirs, &mine).unwrap();
    let slash = format!("{}/", s(&theirs));
    let cases = [
        ("slash", Path::new(&slash).to_path_buf()),
        ("chain", mine.join("root")),
    ];
    for (tag, root) in cases {
        let b = t.bundle(tag, |c| common::sh(c, "sleep 100"));
        let id = t.id(tag);
        let args = ["--root", s(&root), "create", "--bundle", s(&b.dir), &id];
        let o = t.call_env(Path::new(OUTLET), &args, &[], &[]);
        o.expect_fail(
            &format!("create through the stranger's link ({tag})"),
            "the symlink",
        );
        assert!(o.stderr.contains(s(&theirs)), "{tag}: {o:?}");
        assert!(!root.join(&id).exists(), "{tag}: the state dir was left");
        // Control: unchecked, the container is made there, and the
        // stranger, as themselves, repoints their link away from it.
        let unchecked = [("OUTLET_ROOT_UNCHECKED", "1")];
        let o = t.call_env(Path::new(OUTLET), &args, &[], &unchecked);
        o.expect_ok(&format!("control create ({tag})"));
        let made = root.join(&id).exists();
        let ok = as_user(who, &["ln", "-sfn", s(&decoy), s(&theirs)]);
        let hidden = !root.join(&id).exists();
        // Back as it was, the stranger's again (the next case uses it).
        assert!(as_user(who, &["ln", "-sfn", s(&real), s(&theirs)]));
        let o = t.call_env(
            Path::new(OUTLET),
            &["--root", s(&root), "delete", "--force", &id],
            &[],
            &unchecked,
        );
        assert!(
            made && ok && hidden,
            "control ({tag}): made {made}, swapped {ok}, hidden {hidden}"
        );
        o.expect_ok(&format!("control cleanup ({tag})"));
    }
    t.assert_nothing_left("state roots through a stranger's link");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_daemons_activation_socket_does_not_reach_the_container() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("lfd", |c| {
        common::sh(
            c,
            "echo \"pid=${LISTEN_PID:-unset} fds=${LISTEN_FDS:-unset}\"; \
             [ -e /proc/self/fd/3 ] && readlink /proc/self/fd/3; true",
        )
    });
    // The daemon's listening socket, systemd's fd 3, inheritable.
    let sock = t.dir.join("daemon.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    use std::os::fd::AsRawFd;
    let fds = [(listener.as_raw_fd(), 3)];
    let daemon = std::process::id().to_string();
    // The daemon runs outlet through this shell; `exec` keeps the pid, so
    // $$ is outlet's own.
    let wrapper = t.dir.join("daemon-runs-outlet");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\n[ \"$LISTEN_PID\" = self ] && LISTEN_PID=$$\nexport LISTEN_PID\nexec {OUTLET} \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |tag: &str, listen_pid: &str| {
        let id = t.id(tag);
        let args = ["run", "--bundle", s(&b.dir), &id];
        let env = [("LISTEN_FDS", "1"), ("LISTEN_PID", listen_pid)];
        let o = t.call_env(&wrapper, &args, &fds, &env);
        o.expect_ok(tag);
        o
    };
    let o = run("daemon", &daemon);
    assert_eq!(
        o.stdout, "pid=unset fds=unset\n",
        "the daemon's socket: {o:?}"
    );
    // Control: the variables name outlet itself, and the socket goes in.
    let o = run("self", "self");
    assert!(
        o.stdout.starts_with("pid=1 fds=1\nsocket:["),
        "activation meant for outlet: {o:?}"
    );
    t.assert_nothing_left("activation fds");
}

/// Deletes `a`, which shares its cgroup with `b`'s process named
/// "outlet"; how long the delete took.
fn delete_beside_a_fake_outlet(t: &T, tag: &str, env: &[(&str, &str)]) -> std::time::Duration {
    let shared = t.id(&format!("{tag}-cg"));
    let dirs = common::cgroup_dirs_for(&shared);
    let cleanup = dirs.clone();
    t.on_cleanup(move || cleanup.iter().for_each(|d| drop(std::fs::remove_dir(d))));
    let path = format!("/{shared}");
    let a = t.bundle(&format!("{tag}-a"), |c| {
        common::sh(c, "true");
        c["linux"]["cgroupsPath"] = path.clone().into();
    });
    let b = t.bundle(&format!("{tag}-b"), |c| {
        common::sh(
            c,
            "echo -n outlet >/proc/self/comm; while :; do sleep 1; done",
        );
        c["linux"]["cgroupsPath"] = path.clone().into();
    });
    let (ida, idb) = (t.id(&format!("{tag}-a")), t.id(&format!("{tag}-b")));
    t.create_ok(&ida, &a);
    t.outlet(&["start", &ida]).expect_ok("start a");
    t.wait_status(&ida, "stopped");
    t.outlet(&["run", "-d", "--bundle", s(&b.dir), &idb])
        .expect_ok("run b");
    let pid = t.state(&idb)["pid"].as_i64().unwrap();
    let comm = || std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while comm() != "outlet\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "b never named itself outlet"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let began = std::time::Instant::now();
    let o = t.call_env(Path::new(OUTLET), &["delete", &ida], &[], env);
    let took = began.elapsed();
    o.expect_ok("delete a");
    assert!(o.stderr.contains("left in place"), "{o:?}");
    t.outlet(&["delete", "--force", &idb]).expect_ok("delete b");
    for d in &dirs {
        if d.exists() {
            std::fs::remove_dir(d).unwrap();
        }
    }
    took
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_process_named_outlet_does_not_hold_up_a_sharers_delete() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let took = delete_beside_a_fake_outlet(&t, "fix", &[]);
    assert!(took.as_secs_f64() < 1.5, "delete took {took:?}");
    // Control: the name alone, each hierarchy its own 2 s.
    let ctl = delete_beside_a_fake_outlet(&t, "ctl", &[("OUTLET_CGROUP_WAIT_EACH", "1")]);
    assert!(ctl.as_secs_f64() > 4.0, "control delete took {ctl:?}");
    eprintln!("delete beside a process named outlet: {took:?}; control {ctl:?}");
    t.assert_nothing_left("a process named outlet");
}

/// LISTEN_FDS is the caller's environment, not a flag: near u32::MAX the
/// init's `3 + fds` overflowed (a debug build's init panicked: exit 1; a
/// release build's wrapped and closed the process's stderr). Now it keeps
/// every fd, as a large --preserve-fds does. Control: the same run one
/// below the overflow (4294967292) always worked.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_huge_listen_fds_keeps_the_process_stdio() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("huge", |c| common::sh(c, "echo out; echo err >&2"));
    for (tag, n) in [("below", "4294967292"), ("max", "4294967295")] {
        let id = t.id(tag);
        let args = ["run", "--bundle", s(&b.dir), &id];
        let o = t.call_env(Path::new(OUTLET), &args, &[], &[("LISTEN_FDS", n)]);
        o.expect_ok(tag);
        assert_eq!(
            (o.stdout.as_str(), o.stderr.as_str()),
            ("out\n", "err\n"),
            "{tag}: {o:?}"
        );
    }
    t.assert_nothing_left("huge LISTEN_FDS");
}

//! The attacker's review of session 11 (round 9): the surfaces no round
//! had attacked yet (pause/resume against a container that freezes
//! itself, ...). docs/known-gaps.md, "Session 11, round 9", says what held
//! and how it was looked at.
//!
//! 1. A container that froze its own cgroup (v1, writable cgroupfs: the
//!    spec's cgroup mount `rw`) reads `paused`, and `kill ID KILL` of a
//!    paused container signalled the init and returned at once, without a
//!    thaw: a frozen v1 task does not act on SIGKILL, so the container
//!    stayed alive and `paused` for ever. containerd's stop (`kill KILL`,
//!    then a wait for the init's exit) hung on a container that chose to
//!    be unkillable. runc (and youki) thaw after a SIGKILL to a paused
//!    container. Fixed: `kill KILL` thaws a paused container (and what it
//!    froze below its own) and waits for the init as for a running one.
//!    Control OUTLET_KILL_LEAVES_FROZEN=1.
//! 2. One thaw is not enough: tasks of the container that write FROZEN
//!    in a loop freeze it again right after the thaw, before the init
//!    has run to its SIGKILL (the pid namespace's zap of the others comes
//!    only with the init's exit), and then nothing thaws it: `kill KILL`
//!    warned "has not exited" and left it paused, and `delete --force`
//!    (which since round 7 thawed only below the container's cgroup in
//!    its wait) failed "did not die" and left it all. Fixed: the tasks of
//!    the init's pid namespace get SIGKILL while still frozen, then the
//!    thaw, and both waits thaw the container's own cgroup again when
//!    they find it frozen. Control OUTLET_KILL_THAWS_ONLY=1.
//! 3. A process without `capabilities` kept every capability of outlet's:
//!    a config.json that leaves the field out ran a container whose root
//!    held CAP_SYS_ADMIN, CAP_SYS_MODULE, ... with the full bounding set
//!    (and a non-root process a full bounding set, for any setuid binary
//!    of the image to fill), and an `exec --process` file without it ran
//!    with them all whatever the container's own sets were. runc gives
//!    none at create and the container's at exec. Fixed the same; and
//!    `exec --cap X` into a container without capabilities adds X to
//!    none, not to oci-spec's default set (AUDIT_WRITE, KILL,
//!    NET_BIND_SERVICE). Control OUTLET_CAPS_ABSENT_KEEP_ALL=1.
//!
//! Needs root (ignored otherwise), a debug build (the controls) and the
//! host's v1 freezer (test 1).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{OUTLET, T, sh};
use serde_json::json;

fn needs_v1_freezer() {
    if !Path::new("/sys/fs/cgroup/freezer").is_dir() {
        panic!("no v1 freezer hierarchy on this host (the v2 VM runs the v2 side)");
    }
}

/// The container's script: a child to keep company, then the init's shell
/// freezes the container's own cgroup (and itself with it).
const FREEZE_ITSELF: &str = "exec 2>/out/err; sleep 1000 & \
    echo FROZEN > /sys/fs/cgroup/freezer/freezer.state; sleep 1000";

/// A started container that froze its own cgroup: `paused` to outlet,
/// though no one ran `pause`. Returns its id and its init's host pid.
fn self_frozen(t: &T, tag: &str, pid_ns: bool) -> (String, i32) {
    let b = t.bundle(tag, |c| {
        common::rw_cgroup(c);
        if !pid_ns {
            common::drop_ns(c, "pid");
        }
        sh(c, FREEZE_ITSELF);
    });
    let id = t.id(tag);
    let pid = t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.status(&id) != "paused" {
        let err = std::fs::read_to_string(b.out.join("err")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "{tag}: the container did not freeze itself: {err}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (id, pid)
}

/// Finding 1. `kill ID KILL` of a container that froze itself: the init is
/// gone and the container `stopped` when kill returns, with its own pid
/// namespace (the init's SIGKILL, then the thaw) and without one (every
/// process of the cgroup, which thawed before too). A plain `delete` then
/// leaves nothing. Control: OUTLET_KILL_LEAVES_FROZEN=1 returns without
/// the thaw, as outlet did: after kill returned 0 the init is alive and
/// the container still `paused` (nothing else would ever thaw it).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_kill_ends_a_container_that_froze_itself() {
    common::needs_debug_build();
    needs_v1_freezer();
    let Some(t) = T::new() else { return };
    for pid_ns in [true, false] {
        let tag = if pid_ns { "selfice" } else { "selfice-hostpid" };
        let (id, pid) = self_frozen(&t, tag, pid_ns);
        let o = t.outlet(&["kill", &id, "KILL"]);
        o.expect_ok(&format!("{tag}: kill KILL"));
        assert!(!o.stderr.contains("has not exited"), "{tag}: {o:?}");
        assert_eq!(t.status(&id), "stopped", "{tag}: after kill KILL");
        assert!(!common::pid_alive(pid), "{tag}: the init {pid} lives on");
        t.outlet(&["delete", &id])
            .expect_ok("delete after kill KILL");
        let left = t.settle();
        assert!(left.is_empty(), "{tag}: left behind: {left:#?}");
    }

    let tag = "selfice-control";
    let (id, pid) = self_frozen(&t, tag, true);
    let o = t.call_env(
        Path::new(OUTLET),
        &["kill", &id, "KILL"],
        &[],
        &[("OUTLET_KILL_LEAVES_FROZEN", "1")],
    );
    o.expect_ok(&format!("{tag}: kill KILL"));
    // Nothing thaws a v1 cgroup by itself: what holds now holds for ever.
    assert_eq!(t.status(&id), "paused", "{tag}: the control's kill took");
    assert!(
        common::pid_alive(pid),
        "{tag}: the init died in the control"
    );
    // The fixed kill ends what the control left.
    t.outlet(&["kill", &id, "KILL"])
        .expect_ok(&format!("{tag}: kill KILL again"));
    assert_eq!(t.status(&id), "stopped", "{tag}: after the second kill");
    t.outlet(&["delete", &id]).expect_ok("delete");
    t.assert_nothing_left("after killing self-frozen containers");
}

/// Tasks that freeze the container's own cgroup again as soon as they
/// run, started together once all are forked.
const REFREEZE: &str = "exec 2>/out/err; \
    for i in $(seq 32); do (until [ -e /dev/shm/go ]; do sleep 0.01; done; \
    while :; do echo FROZEN > /sys/fs/cgroup/freezer/freezer.state; done) & done; \
    touch /dev/shm/go; sleep 1000";

/// A started container whose looping tasks have frozen it.
fn refreezing(t: &T, tag: &str) -> String {
    let b = t.bundle(tag, |c| {
        common::rw_cgroup(c);
        sh(c, REFREEZE);
    });
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.status(&id) != "paused" {
        let err = std::fs::read_to_string(b.out.join("err")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "{tag}: the container did not freeze itself: {err}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    id
}

/// Finding 2. `kill KILL` and `delete --force` of a container whose tasks
/// freeze it again in a loop: every round ends it (kill: `stopped` when
/// it returns; delete: nothing left). Control: OUTLET_KILL_THAWS_ONLY=1,
/// one thaw and no SIGKILL to the frozen tasks, as before: within 10
/// rounds (6 of 8 landed by hand) kill leaves it `paused` ("has not
/// exited") and delete --force fails "did not die"; the fixed delete
/// then ends what each control left.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_and_delete_end_a_container_that_refreezes_itself() {
    common::needs_debug_build();
    needs_v1_freezer();
    let Some(t) = T::new() else { return };
    for r in 0..3 {
        let id = refreezing(&t, &format!("refreeze-kill{r}"));
        let o = t.outlet(&["kill", &id, "KILL"]);
        o.expect_ok("kill KILL");
        assert!(!o.stderr.contains("has not exited"), "round {r}: {o:?}");
        assert_eq!(t.status(&id), "stopped", "round {r}: after kill KILL");
        t.outlet(&["delete", &id])
            .expect_ok("delete after kill KILL");

        let id = refreezing(&t, &format!("refreeze-delete{r}"));
        t.outlet(&["delete", "--force", &id])
            .expect_ok(&format!("round {r}: delete --force"));
        let left = t.settle();
        assert!(left.is_empty(), "round {r}: left behind: {left:#?}");
    }

    let control = [("OUTLET_KILL_THAWS_ONLY", "1")];
    for what in ["kill", "delete"] {
        let landed = (0..10).any(|r| {
            let id = refreezing(&t, &format!("refreeze-{what}-control{r}"));
            let landed = if what == "kill" {
                let o = t.call_env(Path::new(OUTLET), &["kill", &id, "KILL"], &[], &control);
                o.expect_ok("the control's kill KILL");
                o.stderr.contains("has not exited") && t.status(&id) == "paused"
            } else {
                let o = t.call_env(
                    Path::new(OUTLET),
                    &["delete", "--force", &id],
                    &[],
                    &control,
                );
                !o.ok() && o.stderr.contains("did not die")
            };
            eprintln!("control {what}, round {r}: landed {landed}");
            // The fixed delete ends whatever the control left.
            t.outlet(&["delete", "--force", &id])
                .expect_ok("delete --force after the control");
            landed
        });
        assert!(
            landed,
            "control: the refreeze never beat a single thaw ({what})"
        );
    }
    t.assert_nothing_left("after the refreezing containers");
}

/// The `CapEff` and `CapBnd` masks a process prints (`grep ^Cap`).
fn cap_masks(stdout: &str) -> (u64, u64) {
    let get = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap_or_else(|| panic!("no {name} in {stdout:?}"))
    };
    (get("CapEff:"), get("CapBnd:"))
}

const SYS_ADMIN: u64 = 1 << 21;
const KILL: u64 = 1 << 5;
const PTRACE: u64 = 1 << 19;
const PRINT_CAPS: &str = "grep -E '^Cap(Eff|Bnd)' /proc/self/status";

/// Finding 3. `run` of a config without process.capabilities, as root and
/// as uid 1000: no capability in any set, the bounding set empty. `exec
/// --process` of a file without it into a container given CAP_KILL only:
/// CAP_KILL, the container's. Control OUTLET_CAPS_ABSENT_KEEP_ALL=1:
/// root's process holds CAP_SYS_ADMIN, uid 1000's keeps a full bounding
/// set, and the exec'd process holds CAP_SYS_ADMIN.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_process_without_capabilities_gets_none_of_outlets() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let control = [("OUTLET_CAPS_ABSENT_KEEP_ALL", "1")];
    for uid in [0, 1000] {
        let b = t.bundle(&format!("nocaps{uid}"), |c| {
            c["process"].as_object_mut().unwrap().remove("capabilities");
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            sh(c, PRINT_CAPS);
        });
        let bundle = b.dir.to_str().unwrap();
        for env in [&[][..], &control[..]] {
            let id = t.id(&format!("nocaps{uid}"));
            let o = t.call_env(
                Path::new(OUTLET),
                &["run", "--bundle", bundle, &id],
                &[],
                env,
            );
            o.expect_ok(&format!("run as {uid}"));
            let (eff, bnd) = cap_masks(&o.stdout);
            if env.is_empty() {
                assert_eq!((eff, bnd), (0, 0), "uid {uid}: {o:?}");
            } else if uid == 0 {
                assert_ne!(eff & SYS_ADMIN, 0, "control, uid 0: {o:?}");
            } else {
                assert_ne!(bnd & SYS_ADMIN, 0, "control, uid 1000: {o:?}");
            }
        }
    }

    let b = t.bundle("execcaps", |c| {
        let kill = json!(["CAP_KILL"]);
        c["process"]["capabilities"] =
            json!({"bounding": kill, "effective": kill, "permitted": kill});
        sh(c, "sleep 1000");
    });
    let id = t.id("execcaps");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let pf = t.dir.join("nocaps-process.json");
    let p = json!({"args": ["sh", "-c", PRINT_CAPS], "cwd": "/", "user": {"uid": 0, "gid": 0}});
    std::fs::write(&pf, p.to_string()).unwrap();
    let args = ["exec", "--process", pf.to_str().unwrap(), &id];
    let o = t.outlet(&args);
    o.expect_ok("exec --process without capabilities");
    assert_eq!(cap_masks(&o.stdout), (KILL, KILL), "{o:?}");
    let o = t.call_env(Path::new(OUTLET), &args, &[], &control);
    o.expect_ok("the control's exec");
    assert_ne!(cap_masks(&o.stdout).0 & SYS_ADMIN, 0, "control: {o:?}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");

    // `exec --cap` into a container without capabilities adds that one
    // to none, not to oci-spec's default set (AUDIT_WRITE, KILL,
    // NET_BIND_SERVICE); the control still takes the default set.
    let b = t.bundle("capadd", |c| {
        c["process"].as_object_mut().unwrap().remove("capabilities");
        sh(c, "sleep 1000");
    });
    let id = t.id("capadd");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let args = [
        "exec",
        "--cap",
        "CAP_SYS_PTRACE",
        &id,
        "sh",
        "-c",
        PRINT_CAPS,
    ];
    let o = t.outlet(&args);
    o.expect_ok("exec --cap");
    assert_eq!(cap_masks(&o.stdout), (PTRACE, PTRACE), "{o:?}");
    let o = t.call_env(Path::new(OUTLET), &args, &[], &control);
    o.expect_ok("the control's exec --cap");
    assert_eq!(cap_masks(&o.stdout).0 & KILL, KILL, "control: {o:?}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the capability-less processes");
}

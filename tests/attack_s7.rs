//! The attacker's review of session 6, played in real containers.
//!
//! 1. The rootfs path swapped after create checked it. create resolves
//!    `root.path` (a realpath, so symlink-free) before the clone; the init
//!    then used that path again, later: to bind the rootfs onto itself, to
//!    open it for the spec's mounts, and to chdir into it for pivot_root.
//!    Whoever owns a directory on the path (the bundle's owner, a user
//!    whose unpacked image the runtime runs) can, in between, rename the
//!    rootfs away and put a symlink to a host directory in its place: the
//!    init followed it, and the container got that host directory as its
//!    root, read-write. The window is held open by the debug build's
//!    `OUTLET_PAUSE=<step>=<file>` at two instants: before the bind
//!    (`rootfs:bind`) and after the spec's mounts (`rootfs:dev-mounted`,
//!    where only pivot_root's chdir is left to follow the path). The
//!    container writes `/pwned`; the host directory (a bind mount, so that
//!    pivot_root could use it) must never get it. Fixed: the init opens the
//!    path once refusing any symlink (create fails naming root.path), binds
//!    from and onto that fd and enters the mount by its fd, so a swap after
//!    the bind changes nothing (the file lands in the real rootfs).
//!    Control: `OUTLET_ROOTFS_BY_PATH=1` (a debug build's switch) binds and
//!    enters by path as before, and at both instants the container's file
//!    lands in the host directory.
//! 2. The same swap against `restore`, which bound the bundle's rootfs on
//!    the directory CRIU pivots into by path, on the host, after making the
//!    spec's mount points in it by path. Held at `restore:rootfs`, the
//!    attacker links the rootfs's name to a host directory; a stand-in
//!    criu (`--criu`, a script: CRIU 3.17 cannot run on this kernel, and
//!    what matters is what it would be handed) lists the `--root` it gets.
//!    Fixed: restore fails naming root.path before any criu run, and the
//!    host directory is untouched. Control (`OUTLET_ROOTFS_BY_PATH=1`):
//!    criu is handed the host directory, and restore made dev, proc and
//!    sys in it.
//! 3. `exec` into a container that holds CAP_SYS_PTRACE (and nothing
//!    else of note). exec's child is forked into the container's pid
//!    namespace and sets itself up there (rlimits, terminal, user switch)
//!    before it drops to the process's capabilities: until then it held
//!    every capability of the runtime. Non-dumpable is no barrier to a
//!    CAP_SYS_PTRACE holder, so the container attached to it (seen here
//!    without any pause: 8 of 30 plain execs) and held a process with
//!    CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_DAC_READ_SEARCH... in the host's
//!    user namespace. The fixture's `probe ptrace-caps` attaches to any
//!    process in sight whose effective set reaches past its own bounding
//!    set and reads that set while the process is stopped. The exec is
//!    held at `exec:process` (the child's first step in the container) so
//!    the hunter always finds it. Fixed: the helper narrows every set to
//!    the process's own capabilities plus what the setup uses before it
//!    forks (`capabilities::narrow_for_setup`), so what the hunter holds
//!    is never more than that. Control: `OUTLET_EXEC_FULL_CAPS=1` (a debug
//!    build's switch) skips the narrowing, and the hunter holds
//!    CAP_SYS_ADMIN.
//! 4. As 3 with a seccomp filter and noNewPrivileges false (Docker's
//!    default), which the child used to load itself with CAP_SYS_ADMIN
//!    kept for it: see the test's comment.
//! 5. Not a protection: a measurement of the window still open for a
//!    created init that joins another container's pid namespace.
//!
//! Needs root (ignored otherwise) and a debug build (the switches).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::hunter::{self, attached_caps};
use common::pause::wait_for_file;
use common::{OUTLET, Out, T};
use serde_json::json;

fn run_cmd(args: &[&str]) {
    let st = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(st.success(), "{args:?} failed");
}

/// A host directory the attacker wants as the container's root: a copy of
/// the fixture (so the container's shell runs there too) bound onto itself
/// (a mount point, which pivot_root needs), unmounted at the end.
fn host_dir(t: &T, tag: &str) -> PathBuf {
    let dir = t.dir.join(format!("host-{tag}"));
    run_cmd(&[
        "cp",
        "-a",
        common::rootfs().to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    let d = dir.to_str().unwrap().to_string();
    run_cmd(&["mount", "--bind", &d, &d]);
    t.on_cleanup(move || {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&d)
            .stderr(Stdio::null())
            .status();
    });
    dir
}

/// Where the container's `/pwned` landed.
struct Landed {
    host: bool,
    rootfs: bool,
}

/// One `run` under attack: held at `step`, the attacker renames the
/// bundle's rootfs away and links its name to a host directory.
fn attempt(t: &T, tag: &str, step: &str, env: &[(&str, &str)]) -> (Out, Landed) {
    let host = host_dir(t, tag);
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["sh", "-c", "echo $OUTLET_TEST > /pwned"]);
    });
    b.own_rootfs();
    let mut cfg = b.config();
    cfg["root"]["readonly"] = json!(false);
    b.write_config(&cfg);
    let rootfs = b.dir.join("rootfs");
    let moved = b.dir.join("rootfs.image");
    let gate = t.dir.join(format!("gate-{tag}"));
    let reached = PathBuf::from(format!("{}.reached", gate.display()));
    let id = t.id(tag);
    let (mut cmd, so, se) = t.command(
        OUTLET.as_ref(),
        &["run", "--bundle", b.dir.to_str().unwrap(), &id],
    );
    cmd.env("OUTLET_PAUSE", format!("{step}={}", gate.display()))
        .envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawn outlet run");
    wait_for_file(&reached, step);
    // The attacker's move, from the host: only names in a directory it owns.
    std::fs::rename(&rootfs, &moved).unwrap();
    std::os::unix::fs::symlink(&host, &rootfs).unwrap();
    std::fs::write(&gate, "go").unwrap();
    let status = common::wait_timeout(&mut child, Duration::from_secs(60), "outlet run");
    let landed = Landed {
        host: host.join("pwned").exists(),
        rootfs: moved.join("pwned").exists(),
    };
    (Out::from_files(status, so, se), landed)
}

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_PAUSE, OUTLET_ROOTFS_BY_PATH)");
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rootfs_swapped_for_a_link_before_the_bind_is_refused() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let (out, landed) = attempt(&t, "fixed", "rootfs:bind", &[]);
    out.expect_fail("run with the rootfs swapped for a link", "root.path");
    assert!(
        !landed.host && !landed.rootfs,
        "the container ran and wrote /pwned (host dir: {}, rootfs: {}): {out:#?}",
        landed.host,
        landed.rootfs
    );

    let (out, landed) = attempt(
        &t,
        "control",
        "rootfs:bind",
        &[("OUTLET_ROOTFS_BY_PATH", "1")],
    );
    out.expect_ok("control: run binding the rootfs by path");
    assert!(
        landed.host,
        "control: by path, the container's root should have been the host directory: {out:#?}"
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rootfs_swapped_for_a_link_after_the_mounts_is_not_entered() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let (out, landed) = attempt(&t, "fixed", "rootfs:dev-mounted", &[]);
    out.expect_ok("run with the rootfs swapped after its mounts");
    assert!(
        landed.rootfs && !landed.host,
        "the container's /pwned should be in the real rootfs only \
         (host dir: {}, rootfs: {}): {out:#?}",
        landed.host,
        landed.rootfs
    );

    let (out, landed) = attempt(
        &t,
        "control",
        "rootfs:dev-mounted",
        &[("OUTLET_ROOTFS_BY_PATH", "1")],
    );
    out.expect_ok("control: run entering the rootfs by path");
    assert!(
        landed.host && !landed.rootfs,
        "control: by path, pivot_root should have entered the host directory \
         (host dir: {}, rootfs: {}): {out:#?}",
        landed.host,
        landed.rootfs
    );
}

/// One `restore` under attack, with a stand-in criu that lists the root
/// it is handed. Returns the call, that listing (None: criu never ran with
/// a root) and what the host directory holds afterwards.
fn restore_attempt(t: &T, tag: &str, env: &[(&str, &str)]) -> (Out, Option<String>, Vec<String>) {
    let host = t.dir.join(format!("host-{tag}"));
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("HOST_DIR"), "").unwrap();
    let b = t.bundle(tag, |_| {});
    b.own_rootfs();
    let rootfs = b.dir.join("rootfs");
    std::fs::write(rootfs.join("REAL_ROOTFS"), "").unwrap();
    // A checkpoint as restore reads it before handing it to criu.
    let image = t.dir.join(format!("image-{tag}"));
    std::fs::create_dir(&image).unwrap();
    std::fs::write(image.join("inventory.img"), "").unwrap();
    let record = json!({"mounts": [], "stdio": ["", "", ""], "external_netns": false});
    std::fs::write(image.join("outlet-criu.json"), record.to_string()).unwrap();
    let seen = t.dir.join(format!("criu-root-{tag}"));
    let criu = t.dir.join(format!("criu-{tag}"));
    let script = format!(
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  [ \"$1\" = --root ] && ls \"$2\" > {}\n  shift\ndone\nexit 1\n",
        seen.display()
    );
    std::fs::write(&criu, script).unwrap();
    run_cmd(&["chmod", "755", criu.to_str().unwrap()]);
    let gate = t.dir.join(format!("gate-{tag}"));
    let reached = PathBuf::from(format!("{}.reached", gate.display()));
    let id = t.id(tag);
    let (mut cmd, so, se) = t.command(
        OUTLET.as_ref(),
        &[
            "--criu",
            criu.to_str().unwrap(),
            "restore",
            "--image-path",
            image.to_str().unwrap(),
            "--bundle",
            b.dir.to_str().unwrap(),
            &id,
        ],
    );
    cmd.env("OUTLET_PAUSE", format!("restore:rootfs={}", gate.display()))
        .envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawn outlet restore");
    wait_for_file(&reached, "restore:rootfs");
    std::fs::rename(&rootfs, b.dir.join("rootfs.image")).unwrap();
    std::os::unix::fs::symlink(&host, &rootfs).unwrap();
    std::fs::write(&gate, "go").unwrap();
    let status = common::wait_timeout(&mut child, Duration::from_secs(60), "outlet restore");
    let listing = std::fs::read_to_string(&seen).ok();
    let mut held: Vec<String> = std::fs::read_dir(&host)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    held.sort();
    (Out::from_files(status, so, se), listing, held)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn restore_with_the_rootfs_swapped_for_a_link_is_refused() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let (out, listing, held) = restore_attempt(&t, "fixed", &[]);
    out.expect_fail("restore with the rootfs swapped for a link", "root.path");
    assert_eq!(listing, None, "criu ran with a root: {out:#?}");
    assert_eq!(held, ["HOST_DIR"], "restore changed the host directory");

    let (out, listing, held) = restore_attempt(&t, "control", &[("OUTLET_ROOTFS_BY_PATH", "1")]);
    assert!(!out.ok(), "control: the stand-in criu fails: {out:#?}");
    let listing = listing.unwrap_or_default();
    assert!(
        listing.contains("HOST_DIR") && !listing.contains("REAL_ROOTFS"),
        "control: by path, criu should have been handed the host directory, got {listing:?}"
    );
    assert!(
        held.len() > 1,
        "control: by path, restore should have made mount points in the host directory: {held:?}"
    );
}

/// What `narrow_for_setup` leaves besides the process's own capabilities:
/// chown, dac_override, fowner, setgid, setuid, setpcap. Only a process
/// with a scheduler or ioPriority gets sys_nice, only one with rlimits
/// sys_resource (the fixture's has neither), and none sys_chroot (the
/// helper enters a chroot before the fork).
const SETUP: u64 = 1 << 0 | 1 << 1 | 1 << 3 | 1 << 6 | 1 << 7 | 1 << 8;
const CAP_SYS_ADMIN: u64 = 1 << 21;

/// One `exec` into a ptrace-capable container whose hunter looks for
/// processes to attach to; returns the hunter's report.
fn ptrace_attempt(t: &T, tag: &str, env: &[(&str, &str)]) -> serde_json::Value {
    ptrace_attempt_with(t, tag, env, "exec:process", |_| {})
}

/// `ptrace_attempt` with the exec held at `step` and the config edited.
/// A step past the child's birth starts the hunter only once it is
/// reached: it attaches to a process once, at first sight, and would
/// otherwise report what the child held before the step.
fn ptrace_attempt_with(
    t: &T,
    tag: &str,
    env: &[(&str, &str)],
    step: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> serde_json::Value {
    let late = step != "exec:process";
    let b = t.bundle(tag, |c| {
        edit(c);
        hunter::make_hunter(c, late);
    });
    let id = t.id(tag);
    t.outlet(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .expect_ok("run -d the hunter");
    // The child pauses inside the container: the gate is in /out.
    let gate = b.out.join("gate");
    let reached = b.out.join("gate.reached");
    let (mut cmd, so, se) = t.command(OUTLET.as_ref(), &["exec", &id, "true"]);
    cmd.env("OUTLET_PAUSE", format!("{step}=/out/gate"))
        .envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawn outlet exec");
    wait_for_file(&reached, step);
    if late {
        std::fs::write(b.out.join("hunt"), "").unwrap();
    }
    // The hunter scans every millisecond or so: give it many rounds.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&gate, "go").unwrap();
    let status = common::wait_timeout(&mut child, Duration::from_secs(60), "outlet exec");
    // Whether exec survives the attach does not matter here.
    eprintln!("exec: {:?}", Out::from_files(status, so, se));
    std::fs::write(b.out.join("stop"), "").unwrap();
    let report = b.wait_json("report");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete the hunter");
    eprintln!("{tag}: hunter: {report}");
    report
}

/// The capabilities the hunter found on the held exec child, each checked
/// to be no more than the process's own bounding set and the setup's;
/// a report without an attach shows nothing and fails.
fn attached_within_setup(report: &serde_json::Value) -> Vec<u64> {
    let own = hunter::own_bounding(report);
    let caps = attached_caps(report);
    assert!(
        !caps.is_empty(),
        "the hunter never attached to the held exec child, the test shows nothing: {report}"
    );
    for c in &caps {
        assert_eq!(
            c & !(own | SETUP),
            0,
            "the container attached to a process holding {c:#x}, more than its own {own:#x} \
             and the setup's {SETUP:#x}: {report}"
        );
    }
    caps
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_child_in_a_ptrace_capable_container_holds_no_runtime_capabilities() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let report = ptrace_attempt(&t, "fixed", &[]);
    attached_within_setup(&report);

    let report = ptrace_attempt(&t, "control", &[("OUTLET_EXEC_FULL_CAPS", "1")]);
    let caps = attached_caps(&report);
    assert!(
        caps.iter().any(|c| c & CAP_SYS_ADMIN != 0),
        "control: with the runtime's capabilities the hunter should hold CAP_SYS_ADMIN: {report}"
    );
}

/// A profile that allows everything but kexec_load: what matters is that a
/// filter is loaded, without no_new_privs.
fn permissive_filter(c: &mut serde_json::Value) {
    c["process"]["noNewPrivileges"] = json!(false);
    c["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]
    });
}

/// 4. As 3, with a seccomp filter and noNewPrivileges false (Docker's
///    default): the kernel takes such a filter only from a holder of
///    CAP_SYS_ADMIN, and the child kept it (in the host's user namespace)
///    until the filter went in just before execve, so the container could
///    attach to a child holding CAP_SYS_ADMIN. Fixed: the helper loads the
///    filter before it forks (the child inherits it) and the child never
///    holds CAP_SYS_ADMIN. Control (`OUTLET_EXEC_FULL_CAPS=late-filter`,
///    the filter loaded last as before): the hunter holds CAP_SYS_ADMIN.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_child_with_a_filter_and_no_nnp_never_holds_sys_admin() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let report = ptrace_attempt_with(&t, "nnp-fixed", &[], "exec:process", permissive_filter);
    for c in attached_within_setup(&report) {
        assert_eq!(c & CAP_SYS_ADMIN, 0, "CAP_SYS_ADMIN held: {report}");
    }

    let report = ptrace_attempt_with(
        &t,
        "nnp-control",
        &[("OUTLET_EXEC_FULL_CAPS", "late-filter")],
        "exec:process",
        permissive_filter,
    );
    let caps = attached_caps(&report);
    assert!(
        caps.iter().any(|c| c & CAP_SYS_ADMIN != 0),
        "control: with the filter loaded last the hunter should hold CAP_SYS_ADMIN: {report}"
    );
}

/// 4b. As 4 with a listener (SCMP_ACT_NOTIFY): that filter is loaded by
///    the process itself, as its first step, once the helper has told it
///    its host pid through a pipe (the listener is told it), and
///    CAP_SYS_ADMIN goes right after. Unheld, a hunter scanning from the
///    start still caught it before that step in 1 of 6 runs here (debug
///    build): the window is short, not closed. Held just after that step (`exec:confined`), the hunter finds
///    no CAP_SYS_ADMIN. Control: held at its birth (`exec:process`), before
///    that step, it does: the window this leaves open, and proof that the
///    hunter would see the capability were it kept. The listener is a
///    socket nobody accepts on: the messages wait in its backlog, and the
///    profile notifies only on kexec_load, which nothing makes.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_child_with_a_listener_and_no_nnp_drops_sys_admin_after_its_first_step() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let sock = t.dir.join("listener.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let notify = |c: &mut serde_json::Value| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock.to_str().unwrap(),
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_NOTIFY"}]
        });
    };
    let report = ptrace_attempt_with(&t, "listener-fixed", &[], "exec:confined", notify);
    let caps = attached_caps(&report);
    assert!(
        !caps.is_empty(),
        "the hunter never attached to the held exec child, the test shows nothing: {report}"
    );
    for c in &caps {
        assert_eq!(c & CAP_SYS_ADMIN, 0, "CAP_SYS_ADMIN held: {report}");
    }

    let report = ptrace_attempt_with(&t, "listener-control", &[], "exec:process", notify);
    let caps = attached_caps(&report);
    assert!(
        caps.iter().any(|c| c & CAP_SYS_ADMIN != 0),
        "control: before its first step the process should still hold CAP_SYS_ADMIN: {report}"
    );
}

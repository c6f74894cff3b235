//! The attacker's review of session 12 (round 10): a container that has
//! had time to prepare, and a caller's malformed input, against the later
//! commands. docs/known-gaps.md, "Session 12, round 10", says what held
//! and how it was looked at.
//!
//! 1. A hook `timeout` near i64::MAX. create only refused a timeout of
//!    zero or less; the hook's deadline was `now + timeout` on the
//!    monotonic clock, which overflows and panics. For a poststop hook the
//!    panic came in every `delete`, also `delete --force`, after the init
//!    was killed and before the state was removed: the container stayed
//!    listed, `stopped`, and no command could ever remove it (containerd
//!    retries its delete for ever). Fixed: create refuses a timeout past
//!    4294967295 s naming the field and leaves nothing; a container saved
//!    with one (made before the fix) is deleted, its hook run without a
//!    deadline the clock cannot hold. Control:
//!    `OUTLET_HOOK_TIMEOUT_UNCHECKED=1` skips the check and adds as
//!    before: create passes, and `delete --force` aborts and leaves the
//!    state dir (which the fixed delete then removes).
//! 2. A forged `ProcessPid` on exec's channel. The exec'd process holds
//!    its end of the channel to `outlet exec` from its fork to its
//!    execve, in the container's pid namespace, where a container process
//!    holding CAP_SYS_PTRACE can attach to it (attack_s7 finding 3 shows
//!    that happens without any pause) or take the socket with
//!    pidfd_getfd. `outlet exec` took every `ProcessPid` it read, the last
//!    one winning: a second one naming a host process, then `Ready`, and
//!    `exec --detach --pid-file P` exited 0 with the host process's pid in
//!    P. The caller (containerd's shim, conmon) then owns that pid as the
//!    exec's process: it signals it to kill the exec (a `crictl exec`
//!    timeout, `ctr task kill --exec-id`) and reports its end; a
//!    foreground exec returned at once (not its child) and left the real
//!    process unwatched. The probe: the process held at `exec:process`,
//!    the attacker (played from the host with the same capability, as
//!    attack_s10b's forger) takes the socket and writes `ProcessPid(victim)`
//!    and `Ready`. Fixed: a `ProcessPid` is taken once and only naming a
//!    child of exec's (the process is forked CLONE_PARENT): exec fails
//!    refusing the second `ProcessPid` (one that came first would fail
//!    "is not a child of ours"), no pid file, the real process killed,
//!    the victim untouched. Control: `OUTLET_EXEC_PID_UNCHECKED=1`: exit 0
//!    and the pid file names the victim.
//!
//! Needs root (ignored otherwise) and a debug build (the controls).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{OUTLET, T};
use serde_json::json;

/// A poststop hook whose timeout the clock cannot add.
fn huge_timeout_bundle(t: &T, tag: &str) -> common::Bundle {
    t.bundle(tag, |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
        c["hooks"] = json!({"poststop": [{"path": "/bin/true", "timeout": i64::MAX}]});
    })
}

/// Finding 1. create refuses the timeout naming the hook's field and
/// leaves nothing. Control: OUTLET_HOOK_TIMEOUT_UNCHECKED=1 lets create
/// pass, and `delete --force` (with the control) aborts on the overflow
/// and leaves the container; the fixed `delete --force` then removes it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hook_timeout_past_the_clock_is_refused_and_deletable() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let b = huge_timeout_bundle(&t, "hooktime");
    let id = t.id("hooktime");
    t.create(&id, &b).expect_fail(
        "create with a poststop timeout of i64::MAX",
        "hooks.poststop[0].timeout: 9223372036854775807: more than 4294967295 seconds",
    );
    t.assert_nothing_left("the refused create");

    let unchecked = [("OUTLET_HOOK_TIMEOUT_UNCHECKED", "1")];
    let id = t.id("hooktime-control");
    let dir = b.dir.to_str().unwrap();
    let o = t.call_env(
        Path::new(OUTLET),
        &["create", "--bundle", dir, &id],
        &[],
        &unchecked,
    );
    o.expect_ok("create in the control");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let o = t.call_env(
        Path::new(OUTLET),
        &["delete", "--force", &id],
        &[],
        &unchecked,
    );
    assert!(
        !o.ok() && o.stderr.contains("overflow"),
        "control: delete --force did not trip on the timeout: {o:?}"
    );
    assert!(t.state_dir_exists(&id), "control: the state went anyway");
    // What an older outlet left: the fixed delete removes it.
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force of the container the control left");
    t.assert_nothing_left("after the fixed delete");
}

/// The attacker of finding 2: takes every socket `pid` holds (the exec
/// process's end of the channel) with pidfd_getfd and writes
/// `ProcessPid(victim)` then `Ready` on it.
const FORGE_PY: &str = "import ctypes,sys,os,struct\n\
    l=ctypes.CDLL(None,use_errno=True)\n\
    p,v=int(sys.argv[1]),int(sys.argv[2])\n\
    pfd=l.syscall(434,p,0)\n\
    n=0\n\
    for fd in os.listdir('/proc/%d/fd'%p):\n\
    \x20if not os.readlink('/proc/%d/fd/%s'%(p,fd)).startswith('socket:'): continue\n\
    \x20s=l.syscall(438,pfd,int(fd),0)\n\
    \x20if s<0: print('getfd',ctypes.get_errno()); continue\n\
    \x20os.write(s,b'\\x01P'+struct.pack('<i',v)); os.write(s,b'\\x01R'); n+=1\n\
    print('forged',n)\n";

/// The exec process held at the pause: a live process in the container's
/// pid namespace whose environment carries the pause's gate (the helper,
/// in ours, has exited by then or is a zombie with none).
fn held_exec_process(gate: &str) -> Option<i32> {
    let ours = std::fs::read_link("/proc/self/ns/pid").ok()?;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let theirs = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
            env.windows(gate.len()).any(|w| w == gate.as_bytes())
                && theirs.is_some_and(|ns| ns != ours)
        })
}

/// Finding 2. A forged second `ProcessPid` naming a host process: exec
/// fails naming it, writes no pid file, leaves no process running, and the
/// victim lives. Control: OUTLET_EXEC_PID_UNCHECKED=1, exit 0 with the
/// victim's pid in the pid file.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_forged_exec_pid_names_no_host_process() {
    common::needs_debug_build();
    let Some(t) = T::new() else { return };
    let b = t.bundle("execpid", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let id = t.id("execpid");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    for (tag, controls) in [
        ("ctl", &[("OUTLET_EXEC_PID_UNCHECKED", "1")][..]),
        ("fixed", &[]),
    ] {
        let mut victim = std::process::Command::new("sleep")
            .arg("1000")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let vpid = victim.id();
        // SAFETY: kill(2) of the test's own child, also when the test fails.
        t.on_cleanup(move || unsafe {
            libc::kill(vpid as i32, libc::SIGKILL);
        });
        let pid_file = t.dir.join(format!("exec-{tag}.pid"));
        // The process pauses inside the container: its gate is in /out.
        let gate = format!("/out/gate-{tag}");
        let (mut cmd, so, se) = t.command(
            Path::new(OUTLET),
            &[
                "exec",
                "--detach",
                "--pid-file",
                pid_file.to_str().unwrap(),
                &id,
                "sleep",
                "999",
            ],
        );
        cmd.envs(controls.iter().copied())
            .env("OUTLET_PAUSE", format!("exec:process={gate}"));
        let mut child = cmd.spawn().expect("spawn outlet exec");
        common::pause::wait_for_file(
            &b.out.join(format!("gate-{tag}.reached")),
            "the exec process's pause",
        );
        let held = held_exec_process(&gate).expect("the held exec process");
        let o = std::process::Command::new("/usr/bin/python3")
            .args(["-c", FORGE_PY, &held.to_string(), &vpid.to_string()])
            .output()
            .expect("python3");
        let said = String::from_utf8_lossy(&o.stdout).into_owned();
        std::fs::write(b.out.join(format!("gate-{tag}")), "go").unwrap();
        let status = common::wait_timeout(&mut child, Duration::from_secs(60), "outlet exec");
        let out = common::Out::from_files(status, so, se);
        let written = std::fs::read_to_string(&pid_file).unwrap_or_default();
        let alive = common::untouched(vpid as i32);
        let _ = victim.kill();
        let _ = victim.wait();
        eprintln!("{tag}: {said} pid file {written:?}: {out:#?}");
        assert!(said.contains("forged 1"), "{tag}: the forgery: {said}");
        assert!(alive, "{tag}: the victim died");
        let sleepers = || {
            let ps = t.outlet(&["ps", "--format", "json", &id]);
            ps.expect_ok("ps");
            ps.json().as_array().unwrap().len()
        };
        if tag == "ctl" {
            out.expect_ok("control: exec with the forged pid");
            assert_eq!(
                written.trim(),
                vpid.to_string(),
                "control: the pid file does not name the victim"
            );
        } else {
            out.expect_exec_fail("a forged ProcessPid", "ProcessPid");
            assert!(out.stderr.contains("refused"), "{out:#?}");
            assert!(written.is_empty(), "a pid file was written: {written:?}");
            common::pause::wait_until("only the init left", Duration::from_secs(10), || {
                sleepers() == 1
            });
        }
    }
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    t.assert_nothing_left("after the forged exec pids");
}

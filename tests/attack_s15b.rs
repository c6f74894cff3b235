//! The attacker's review of session 15 (round 14): what session 15 merged
//! (`git log 94300c9..38aac82`): exec's stall watch
//! (src/container/exec_stall.rs), exec's view of the stored config
//! (src/spec/exec_view.rs) and the bounded inputs (syscall::fs::read_input).
//! docs/known-gaps.md, "Session 15, round 14", lists what was tried and
//! held, and what is left open.
//!
//! 1. The stall watch SIGKILLed a pid that was no longer exec's. It looks
//!    at the helper's pid every 250 ms until the process reports `Ready`,
//!    taking it for an unreaped child of ours. But a caller that ignores
//!    SIGCHLD (a daemon's auto-reaping setting, kept over its execve) has
//!    the kernel reap the helper the moment it exits, right after it
//!    forked the process; a `--detach` exec (the shim's and conmon's form)
//!    never put SIGCHLD back (only the foreground one did, for its wait).
//!    While the container then holds the process before its execve (a
//!    stop lifted within each look, a tracer's stop, or just a slow
//!    setup), the helper's pid is free: a host process that takes it and
//!    is stopped (a job in a shell, a process under a debugger) was
//!    SIGKILLed by the watch, and the exec failed as stalled. Seen here:
//!    a process of the test's own made at the freed pid (clone3 set_tid)
//!    and stopped, killed by outlet within a second. Fixed: every clone of
//!    outlet's (process/spawn.rs) puts SIGCHLD back to its default first,
//!    so the helper stays a zombie of ours (its pid unusable) until exec
//!    reaps it; create's init likewise (the last test).
//!    Control `OUTLET_SIGCHLD_AS_GIVEN=1` (debug builds): the pid is
//!    taken and its process killed again.
//!
//! 2. Held: the watch firing on an exec that would have succeeded. The
//!    container keeps a frozen freezer sub-cgroup `ice` and moves exec's
//!    process (held before its execve) into another sub-cgroup whose name
//!    plays with /proc/PID/cgroup's and /proc/PID/stat's syntax (`:`, a
//!    space, `) T `, the word FROZEN): exec succeeds. A name with a
//!    newline (a forged line) is refused by the kernel's mkdir. The
//!    variant moving it into `ice` fails as a stall (the test can fail).
//!
//! 3. Held: the bounded inputs at 32 MiB and one byte more, and a
//!    directory, a socket and a growing file as input
//!    (`inputs_at_their_bound_and_odd_files`).
//!
//! Needs root (ignored otherwise) and a debug build (the holds and the
//! control).

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::pause::wait_for_file as wait_file;
use common::{OUTLET, T, needs_v1_freezer, sh};

/// `cmd` started as a daemon with auto-reaping starts its children: with
/// SIGCHLD ignored, kept across the execve.
fn ignoring_sigchld(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only signal(2), async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            Ok(())
        });
    }
}

/// The state letter of /proc/PID/stat, None once the pid is free.
fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}

/// A process of the test's own at a chosen host pid, stopped: a host
/// process that took a pid the kernel freed. Killed and reaped on drop.
struct Squatter(i32);

impl Squatter {
    /// Err(errno) when `pid` is still taken (EEXIST: a zombie holds it).
    fn at(pid: i32) -> Result<Squatter, i32> {
        #[repr(C)]
        #[derive(Default)]
        struct CloneArgs {
            flags: u64,
            pidfd: u64,
            child_tid: u64,
            parent_tid: u64,
            exit_signal: u64,
            stack: u64,
            stack_size: u64,
            tls: u64,
            set_tid: u64,
            set_tid_size: u64,
            cgroup: u64,
        }
        let tid = [pid];
        let args = CloneArgs {
            exit_signal: libc::SIGCHLD as u64,
            set_tid: tid.as_ptr() as u64,
            set_tid_size: 1,
            ..Default::default()
        };
        // SAFETY: without CLONE_VM or a stack this is a fork at a chosen
        // pid (root: CAP_SYS_ADMIN in the host's pid namespace); the child
        // of this multi-threaded process only calls pause(2), which is
        // async-signal-safe, until it is killed; `args` and `tid` outlive
        // the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        match r {
            0 => loop {
                // SAFETY: see above.
                unsafe { libc::pause() };
            },
            -1 => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
            p => {
                let s = Squatter(p as i32);
                // SAFETY: a plain kill(2) of our own child.
                unsafe { libc::kill(s.0, libc::SIGSTOP) };
                Ok(s)
            }
        }
    }

    /// Whether something killed it (waited for without reaping).
    fn killed(&self) -> bool {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        let f = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        !matches!(
            waitid(Id::Pid(nix::unistd::Pid::from_raw(self.0)), f),
            Ok(WaitStatus::StillAlive)
        )
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        // SAFETY: kill and waitpid of our own, unreaped child.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

/// The outlet call under attack, killed and reaped if the test fails.
struct Running(Child);

impl Running {
    /// Its exit status, within 15 s: the test fails as a hang otherwise.
    fn finished(&mut self, tag: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "{tag}: exec hung");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_stall_watch_never_kills_the_pid_of_a_helper_already_gone() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    for control in [false, true] {
        let tag = if control { "ctl" } else { "ign" };
        let b = t.bundle(tag, |c| sh(c, "exec sleep 1000"));
        let id = t.id(tag);
        t.create_ok(&id, &b);
        t.outlet(&["start", &id]).expect_ok("start");
        // The helper is held before it joins anything (its hold in the
        // host's mount namespace), the process before its setup (in the
        // container's: /out is the bundle's out dir).
        let helper_hold = t.dir.join(format!("hold-helper-{tag}"));
        let process_hold = b.out.join("hold");
        let pause = format!(
            "exec:entered={},exec:process=/out/hold",
            helper_hold.display()
        );
        let (mut cmd, so, se) =
            t.command(Path::new(OUTLET), &["exec", "--detach", &id, "/bin/true"]);
        cmd.env("OUTLET_PAUSE", pause);
        if control {
            cmd.env("OUTLET_SIGCHLD_AS_GIVEN", "1");
        }
        ignoring_sigchld(&mut cmd);
        let mut exec = Running(cmd.spawn().expect("spawn exec"));
        let exec_pid = exec.0.id();
        wait_file(&helper_hold.with_extension("reached"), tag);
        let children =
            std::fs::read_to_string(format!("/proc/{exec_pid}/task/{exec_pid}/children")).unwrap();
        let helper: i32 = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{tag}: no helper under exec {exec_pid}: {children:?}"));
        std::fs::write(&helper_hold, "").unwrap();
        // The helper forks the process, reports its pid and exits; the
        // process waits at its hold meanwhile (as long as the container
        // keeps it from its execve, in the attack).
        wait_file(&process_hold.with_extension("reached"), tag);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(state_of(helper), None | Some('Z')) {
            assert!(Instant::now() < deadline, "{tag}: the helper did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
        // A host process takes the helper's pid if it can, and is stopped.
        let squatter = Squatter::at(helper);
        // Several of the watch's looks.
        std::thread::sleep(Duration::from_millis(1200));
        let killed = squatter.as_ref().map(Squatter::killed).map_err(|e| *e);
        std::fs::write(&process_hold, "").unwrap();
        let status = exec.finished(tag);
        let o = common::Out::from_files(status, so, se);
        drop(squatter);
        if control {
            assert_eq!(
                killed,
                Ok(true),
                "control: the freed helper pid {helper} was not taken and killed"
            );
            o.expect_exec_fail("control", "stopped exec's helper");
        } else {
            // EEXIST: the pid is still the helper's (a zombie of exec's).
            assert_eq!(
                killed,
                Err(libc::EEXIST),
                "the helper's pid {helper} was free for another process while exec watched it \
                 (Ok(true): that process was killed)"
            );
            o.expect_ok("exec --detach with SIGCHLD ignored");
        }
        t.outlet(&["delete", "--force", &id])
            .expect_ok(&format!("{tag}: delete --force"));
        let left = t.settle();
        assert!(left.is_empty(), "{tag}: left behind: {left:#?}");
    }
    t.assert_nothing_left("stall watch and a freed pid");
}

/// The container's script: a frozen `ice`, an unfrozen sub-cgroup named
/// $TARGET_NAME (or `ice` itself), a try at a name with a newline; at
/// /out/go every other process of its cgroup moves into the target.
const MOVE_NEWCOMERS: &str = "exec 2>/out/err; f=/sys/fs/cgroup/freezer; mkdir $f/ice || exit 1; \
    until grep -q FROZEN $f/ice/freezer.state; do echo FROZEN > $f/ice/freezer.state; sleep 0.05; done; \
    t=\"$f/$TARGET_NAME\"; [ -d \"$t\" ] || mkdir \"$t\" || exit 1; \
    if mkdir \"$f/$(printf 'n\\n9:freezer:')\" 2>/dev/null; then echo made > /out/newline; fi; \
    echo ready > /out/ready; until [ -e /out/go ]; do sleep 0.05; done; \
    for q in $(cat $f/cgroup.procs); do [ $q = $$ ] || echo $q > \"$t/cgroup.procs\"; done; \
    cat \"$t/cgroup.procs\" > /out/moved.new; mv /out/moved.new /out/moved; exec sleep 1000";

#[test]
fn the_stall_watch_lets_an_exec_through_a_sub_cgroup_that_only_looks_frozen() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    needs_v1_freezer();
    // (tag, the target sub-cgroup, whether exec must succeed)
    for (tag, target, passes) in [("odd", "a:b c) T FROZEN", true), ("ice", "ice", false)] {
        let b = t.bundle(tag, |c| {
            common::rw_cgroup(c);
            sh(c, MOVE_NEWCOMERS);
            c["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!(format!("TARGET_NAME={target}")));
        });
        let id = t.id(tag);
        t.create_ok(&id, &b);
        t.outlet(&["start", &id]).expect_ok("start");
        wait_file(&b.out.join("ready"), tag);
        assert!(
            !b.out.join("newline").exists(),
            "{tag}: the kernel made a cgroup whose name holds a newline"
        );
        let hold = b.out.join("hold");
        let (mut cmd, so, se) =
            t.command(Path::new(OUTLET), &["exec", "--detach", &id, "/bin/true"]);
        cmd.env("OUTLET_PAUSE", "exec:process=/out/hold");
        let mut exec = Running(cmd.spawn().expect("spawn exec"));
        wait_file(&hold.with_extension("reached"), tag);
        std::fs::write(b.out.join("go"), "").unwrap();
        wait_file(&b.out.join("moved"), tag);
        let moved = std::fs::read_to_string(b.out.join("moved")).unwrap();
        assert!(
            !moved.trim().is_empty(),
            "{tag}: the container moved nothing"
        );
        // Several looks of the watch while the process sits there.
        std::thread::sleep(Duration::from_millis(800));
        std::fs::write(&hold, "").unwrap();
        let status = exec.finished(tag);
        let o = common::Out::from_files(status, so, se);
        if passes {
            o.expect_ok(tag);
        } else {
            o.expect_exec_fail(tag, "a cgroup it froze");
        }
        t.outlet(&["delete", "--force", &id])
            .expect_ok(&format!("{tag}: delete --force"));
        let left = t.settle();
        assert!(left.is_empty(), "{tag}: left behind: {left:#?}");
    }
    t.assert_nothing_left("odd sub-cgroup names");
}

/// A file of exactly `len` bytes: `json` followed by spaces.
fn padded(t: &T, name: &str, json: &serde_json::Value, len: usize) -> std::path::PathBuf {
    let mut text = json.to_string().into_bytes();
    assert!(text.len() <= len);
    text.resize(len, b' ');
    let p = t.dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// 3. Held: the bounded inputs at their bound. A `--process`, a
///    `--resources` (a file and stdin) and a `--config` of exactly 32 MiB
///    are taken; one byte more is refused naming the path, nothing
///    changed. Each size is the other's control. A directory, a socket
///    and a file that grows while it is read fail naming the path.
#[test]
fn inputs_at_their_bound_and_odd_files() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| sh(c, "exec sleep 1000"));
    let id = t.id("bound");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    const MAX: usize = 32 << 20;
    let process = serde_json::json!({"args": ["/bin/true"], "cwd": "/",
        "user": {"uid": 0, "gid": 0}});
    let resources = serde_json::json!({"pids": {"limit": 77}});
    let config = common::read_json(&b.dir.join("config.json"));
    let other = t.id("cfg");
    let bundle = b.dir.to_str().unwrap();
    for (len, ok) in [(MAX, true), (MAX + 1, false)] {
        let p = padded(&t, &format!("p-{len}.json"), &process, len);
        let r = padded(&t, &format!("r-{len}.json"), &resources, len);
        let c = padded(&t, &format!("c-{len}.json"), &config, len);
        let (p, r, c) = (
            p.to_str().unwrap(),
            r.to_str().unwrap(),
            c.to_str().unwrap(),
        );
        let exec = t.outlet(&["exec", "--process", p, &id]);
        let update = t.outlet(&["update", "--resources", r, &id]);
        let (mut cmd, so, se) = t.command(Path::new(OUTLET), &["update", "--resources", "-", &id]);
        cmd.stdin(std::fs::File::open(r).unwrap());
        let mut child = cmd.spawn().unwrap();
        let st = common::wait_timeout(&mut child, Duration::from_secs(60), "update -");
        let stdin = common::Out::from_files(st, so, se);
        let create = t.outlet(&["create", "--config", c, "--bundle", bundle, &other]);
        if ok {
            exec.expect_ok("exec --process of 32 MiB");
            update.expect_ok("update --resources of 32 MiB");
            stdin.expect_ok("update --resources - of 32 MiB");
            create.expect_ok("create --config of 32 MiB");
            t.outlet(&["delete", "--force", &other])
                .expect_ok("delete --force the 32 MiB one");
        } else {
            exec.expect_exec_fail(
                "exec --process of 32 MiB + 1",
                &format!("{p}: larger than 32 MiB"),
            );
            update.expect_fail(
                "update --resources of 32 MiB + 1",
                &format!("{r}: read: larger than 32 MiB"),
            );
            stdin.expect_fail("update --resources - of 32 MiB + 1", "larger than 32 MiB");
            create.expect_fail(
                "create --config of 32 MiB + 1",
                &format!("{c}: larger than 32 MiB"),
            );
            assert!(
                !t.state_dir_exists(&other),
                "create of 32 MiB + 1 left state"
            );
        }
    }
    // A directory, a socket.
    let sock = t.dir.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    for (what, path, why) in [
        ("a directory", t.dir.clone(), "Is a directory"),
        ("a socket", sock.clone(), "No such device or address"),
    ] {
        let s = path.to_str().unwrap();
        t.outlet(&["exec", "--process", s, &id])
            .expect_exec_fail(what, &format!("{s}: {why}"));
        t.outlet(&["update", "--resources", s, &id])
            .expect_fail(what, &format!("{s}: read: {why}"));
    }
    // A file that grows while it is read: an error either way (too large,
    // or the JSON cut where the read met the end), never a hang.
    let grow = t.dir.join("grow.json");
    std::fs::write(&grow, vec![b' '; 16 << 20]).unwrap();
    let writer = {
        let grow = grow.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(grow).unwrap();
            for _ in 0..48 {
                f.write_all(&[b' '; 1 << 20]).unwrap();
            }
        })
    };
    let g = grow.to_str().unwrap();
    let o = t.outlet(&["exec", "--process", g, &id]);
    writer.join().unwrap();
    o.expect_exec_fail("a growing --process", g);
    // Nothing changed: the init alone, its limit the 32 MiB one's.
    assert_eq!(t.status(&id), "running");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    t.assert_nothing_left("inputs at their bound");
}

/// The same class in create (the review's note, closed by the lead): a
/// create whose init fails its setup undoes itself by killing the init's
/// pid. With SIGCHLD ignored by the caller the kernel had reaped the init
/// the moment it exited, and the undo's SIGKILL went to whatever took the
/// pid next. Now every clone of outlet's (process/spawn.rs) puts SIGCHLD
/// back first: at the undo the failed init is still a zombie of create's,
/// its pid taken. Control `OUTLET_SIGCHLD_AS_GIVEN=1`: create has no child
/// left at the undo, the pid is free.
#[test]
fn a_failed_create_kills_its_init_only_while_the_pid_is_still_its_own() {
    let Some(t) = T::new() else { return };
    common::needs_debug_build();
    for control in [false, true] {
        let tag = if control { "cctl" } else { "cign" };
        // A value the kernel refuses, written by the init after the clone.
        let b = t.bundle(tag, |c| {
            c["linux"]["sysctl"] = serde_json::json!({"kernel.shmmni": "not-a-number"});
        });
        let id = t.id(tag);
        let hold = t.dir.join(format!("hold-undo-{tag}"));
        let (mut cmd, so, se) = t.command(
            Path::new(OUTLET),
            &["create", "--bundle", b.dir.to_str().unwrap(), &id],
        );
        cmd.env("OUTLET_PAUSE", format!("create:undo={}", hold.display()));
        if control {
            cmd.env("OUTLET_SIGCHLD_AS_GIVEN", "1");
        }
        ignoring_sigchld(&mut cmd);
        let mut create = Running(cmd.spawn().expect("spawn create"));
        let pid = create.0.id();
        wait_file(&hold.with_extension("reached"), tag);
        // The init reported its error; give it time to exit.
        let children = || {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
                .collect::<Vec<_>>()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let seen = loop {
            let c = children();
            let settled = match c.as_slice() {
                [] => true,
                [init] => state_of(*init) == Some('Z'),
                _ => false,
            };
            if settled || Instant::now() > deadline {
                break c;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Looked at while create is still held before its kill.
        let taken = seen.first().map(|&init| Squatter::at(init).map(|_| ()));
        std::fs::write(&hold, "").unwrap();
        let status = create.0.wait().unwrap();
        let o = common::Out::from_files(status, so, se);
        o.expect_fail(&format!("{tag}: create"), "kernel.shmmni");
        if control {
            assert!(
                seen.is_empty(),
                "control: the failed init {seen:?} was still create's child at the undo"
            );
        } else {
            let [init] = seen.as_slice() else {
                panic!("at the undo create's children were {seen:?}, not its failed init alone")
            };
            // The zombie holds the pid: no other process can take it.
            assert_eq!(
                taken,
                Some(Err(libc::EEXIST)),
                "the failed init's pid {init} was free while create was about to kill it"
            );
        }
        let left = t.settle();
        assert!(left.is_empty(), "{tag}: left behind: {left:#?}");
    }
    t.assert_nothing_left("a failed create with SIGCHLD ignored");
}

//! A `start` killed right after its byte went into exec.fifo, before the
//! init (slow to be scheduled) took it, and the caller's retry: the retry
//! writes its own byte, the init takes the first and closes the fifo, and
//! the retry finds its byte unread. outlet took an unread byte for an
//! init that died first, waited 2 s for the death and said "container init
//! exited before start" of a container that runs (races_s9_kill's
//! start_killed_then_next_caller failed so under load). Fixed: an init
//! still alive after that wait took another byte and runs: the retry
//! succeeds. Forced here without timing: the init is held stopped
//! (SIGSTOP) while the killed start's byte and the retry's byte go in,
//! the retry's write seen as the fifo's second unread byte.
//! Control: a debug build's `OUTLET_START_UNREAD_IS_DEATH=1` judges as
//! before and fails the retry while the init runs (and, the fifo left,
//! `state` says "created").

mod common;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use common::{T, sh, wait_timeout};

/// Bytes waiting in the pipe behind `fd`.
fn unread(fd: &impl AsRawFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which points
    // at our local for the whole call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(r, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n
}

fn stopped(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('T'))
        })
        .unwrap_or(false)
}

/// One retry of `start` after a killed one's byte; its output and the
/// status it leaves.
fn retry_after_a_killed_start(t: &T, tag: &str, env: &[(&str, &str)]) -> (common::Out, String) {
    let b = t.bundle(tag, |c| sh(c, "exec sleep 1000"));
    let id = t.id(tag);
    let pid = t.create_ok(&id, &b);
    // SAFETY: kill(2) of the init this test created.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stopped(pid) {
        assert!(Instant::now() < deadline, "{tag}: the init never stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The killed start's byte: written, never seen taken.
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(t.root.join(&id).join("exec.fifo"))
        .expect("open exec.fifo (the stopped init holds it)");
    fifo.write_all(b"0").unwrap();
    let (mut cmd, so, se) = t.command(std::path::Path::new(common::OUTLET), &["start", &id]);
    cmd.envs(env.iter().copied());
    let mut start = cmd.spawn().unwrap();
    // The event: the retry's byte behind the first.
    while unread(&fifo) < 2 {
        if let Some(st) = start.try_wait().unwrap() {
            panic!(
                "{tag}: start ended before its write: {:#?}",
                common::Out::from_files(st, so, se)
            );
        }
        assert!(Instant::now() < deadline, "{tag}: start never wrote");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) of the init this test created.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let st = wait_timeout(&mut start, Duration::from_secs(30), "start");
    let out = common::Out::from_files(st, so, se);
    let status = t.status(&id);
    assert!(common::pid_alive(pid), "{tag}: the init died");
    drop(fifo);
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    (out, status)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_retried_after_a_killed_starts_byte_succeeds() {
    let Some(t) = T::new() else { return };
    let (out, status) = retry_after_a_killed_start(&t, "fixed", &[]);
    out.expect_ok("start after a killed start's byte");
    assert_eq!(status, "running");
    if cfg!(debug_assertions) {
        let ctl = [("OUTLET_START_UNREAD_IS_DEATH", "1")];
        let (out, status) = retry_after_a_killed_start(&t, "ctl", &ctl);
        out.expect_fail(
            "control: the unread byte taken for a death",
            "exited before start",
        );
        // Its fifo left in place: a running init reads "created".
        assert_eq!(status, "created", "control");
    }
    t.assert_nothing_left("after the retried starts");
}

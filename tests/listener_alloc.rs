//! With `linux.seccomp.listenerPath` the init loads its filter before
//! Ready and then sends the listener the notify fd: that sendmsg must not
//! allocate (the filter may deny brk and mmap; see process/init.rs
//! `exec_process`). The attack: a profile that sends every memory call
//! (brk, mmap, munmap, mremap, madvise) to the listener, and the
//! allocator's arena full from just before the filter (OUTLET_ARENA=full,
//! debug builds: every allocation then reaches the C library's malloc and
//! makes a brk first, see src/syscall/arena.rs). A memory call before the
//! fd is sent would wait for an answer from a listener that has no fd to
//! answer with: the fd would never come and create would hang. After the
//! fd, the test answers every memory call with "continue" and counts
//! them until create returns: that the init's later steps (Ready and
//! after) are seen allocating shows the trap catches allocations. Control, run by hand: the same test
//! with nix's `sendmsg` back in `syscall::fdpass::send_fd` (its control
//! message is a `Vec`) gets no fd within 10 s and fails.
//! Needs root (ignored in a build by another user).

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::listener::{Answer, accept_within, answer_all, try_recv_with_fds};
use common::{OUTLET, Out, T};
use serde_json::json;

const MEMORY_CALLS: [&str; 5] = ["brk", "mmap", "munmap", "mremap", "madvise"];

/// The first connection within 10 s and the fd of its first message.
fn notify_fd_within(l: &UnixListener) -> Option<OwnedFd> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let conn = accept_within(l, Duration::from_secs(10))?;
    let left = deadline.saturating_duration_since(Instant::now());
    try_recv_with_fds(&conn, left).ok()?.1.into_iter().next()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn the_notify_fd_goes_to_the_listener_without_a_memory_call() {
    let Some(t) = T::new() else { return };
    let sock = t.dir.join("listener.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let b = t.bundle("lalloc", |c| {
        c["process"]["args"] = json!(["true"]);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "syscalls": [{"names": MEMORY_CALLS, "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let id = t.id("lalloc");
    let args = ["create", "--bundle", b.dir.to_str().unwrap(), &id];
    let (mut cmd, so, se) = t.command(Path::new(OUTLET), &args);
    let mut create = cmd.env("OUTLET_ARENA", "full").spawn().expect("spawn");
    let Some(fd) = notify_fd_within(&listener) else {
        // The init waits on a memory call nobody can answer: create's
        // death signal takes it along.
        let _ = create.kill();
        let status = create.wait().unwrap();
        panic!(
            "no notify fd within 10 s (a memory call between the filter and \
             the send?): {:#?}",
            Out::from_files(status, so, se)
        );
    };
    let stop = Arc::new(AtomicBool::new(false));
    let agent = {
        let stop = stop.clone();
        std::thread::spawn(move || answer_all(fd, Answer::Continue, stop))
    };
    let status = common::wait_timeout(&mut create, Duration::from_secs(60), "create");
    let out = Out::from_files(status, so, se);
    // Until create returns the init's are the only calls (the container's
    // process has not started): the trap must have seen some, or it
    // could not have caught one before the fd either.
    stop.store(true, Ordering::SeqCst);
    let seen = agent.join().unwrap();
    out.expect_ok("create with the listener and the arena full");
    assert!(
        seen.iter().any(|s| MEMORY_CALLS.contains(&s.as_str())),
        "no memory call of the init seen after the fd: {seen:?}"
    );
    eprintln!("the init's memory calls after the fd was sent: {seen:?}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the listener's container");
}

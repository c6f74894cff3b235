//! What the init does to itself last, just before execve: capabilities,
//! no_new_privs, LSM labels and the seccomp filter.
//!
//! Parent, before any side effect: `capabilities::check_config_names` on the
//! raw config JSON (typed parsing would only say "no variant for ..."),
//! `capabilities::validate`, `seccomp::prepare` or `prepare_cached` (+ log
//! `Prepared::warnings`; `Prepared::connect_listener` when
//! `listener_path()` is set, before clone), `lsm::validate`.
//!
//! Init (`process::init`), after pivot_root:
//! 1. only with a seccomp listener: `Prepared::load` before Ready, so the
//!    listener has its fd while `create` still waits (runc's order);
//! 2. `capabilities::drop_bounding` (still root);
//! 3. PR_SET_KEEPCAPS, setgroups, setresgid, setresuid;
//! 4. `capabilities::apply`, or `apply_keeping_admin` when a filter is still
//!    to be loaded without no_new_privs (the kernel then wants
//!    CAP_SYS_ADMIN);
//! 5. PR_SET_NO_NEW_PRIVS if process.noNewPrivileges;
//! 6. `lsm::apply_exec_labels`;
//! 7. wait for `start`; the runtime's fds close-on-exec, signals reset,
//!    `Prepared::load`, `capabilities::set_exact` if CAP_SYS_ADMIN was kept
//!    for it; execve.

pub mod cap_names;
pub mod capabilities;
mod capabilities_check;
pub mod lsm;
pub mod protected_exe;
pub mod seccomp;

#[cfg(test)]
pub(crate) mod testutil {
    //! Run a closure in a forked child, so that what it does to its own
    //! credentials and filters cannot leak into the test harness.

    use std::io::Read;
    use std::os::fd::AsFd;

    pub enum Outcome {
        /// The child's report and its exit code.
        Exited(String, i32),
        /// Killed by this signal (its report so far).
        Signaled(i32, String),
    }

    impl Outcome {
        /// The report of a child that exited 0; panics otherwise.
        pub fn ok(self) -> String {
            match self {
                Outcome::Exited(s, 0) => s,
                Outcome::Exited(s, c) => panic!("child exited {c}: {s}"),
                Outcome::Signaled(sig, s) => panic!("child killed by signal {sig}: {s}"),
            }
        }
    }

    /// Fork; the child runs `f` and writes its result to a pipe. glibc keeps
    /// malloc usable in the child of a multi-threaded parent (it takes the
    /// arena locks around fork), but other locks are not: a child forked
    /// while another test thread captures a backtrace (anyhow does, with
    /// RUST_BACKTRACE set) would wait forever for std's backtrace lock. Such
    /// a child is killed after a timeout and the fork retried; the production
    /// init is forked from a single-threaded outlet and has no such hazard.
    pub fn in_child(f: impl Fn() -> Result<String, String>) -> Outcome {
        for _ in 0..3 {
            if let Some(o) = try_in_child(&f, std::time::Duration::from_secs(5)) {
                return o;
            }
            eprintln!(
                "{}: forked child hung (a lock held at fork time?); killed, retrying",
                std::thread::current().name().unwrap_or("?")
            );
        }
        panic!("forked test child hung three times");
    }

    fn try_in_child(
        f: &dyn Fn() -> Result<String, String>,
        timeout: std::time::Duration,
    ) -> Option<Outcome> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use nix::sys::signal::{Signal, kill};
        use nix::sys::wait::{WaitStatus, waitpid};

        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
        // The child only runs `f`, writes and _exits (see above).
        let pid = crate::syscall::testing::fork(|| {
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let (msg, code) = match res {
                Ok(Ok(s)) => (s, 0),
                Ok(Err(s)) => (s, 1),
                Err(_) => ("panic".to_string(), 2),
            };
            // Borrowed, not moved: the parent drops the closure unrun, and
            // must keep its copy of `rd`. _exit closes the child's fds.
            let mut rest = msg.as_bytes();
            while let Ok(n @ 1..) = nix::unistd::write(&wr, rest) {
                rest = &rest[n..];
            }
            // Not the harness's atexit handlers: they belong to the parent.
            code
        })
        .expect("fork");
        drop(wr);
        let deadline = std::time::Instant::now() + timeout;
        let mut file = std::fs::File::from(rd);
        let mut out = Vec::new();
        let mut hung = false;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let mut pfd = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            match poll(&mut pfd, ms) {
                Ok(0) => {
                    hung = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => continue, // EINTR
            }
            let mut buf = [0u8; 4096];
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        if hung {
            let _ = kill(pid, Signal::SIGKILL);
        }
        let status = waitpid(pid, None).expect("waitpid of our own child");
        if hung {
            return None;
        }
        let out = String::from_utf8_lossy(&out).into_owned();
        Some(match status {
            WaitStatus::Signaled(_, sig, _) => Outcome::Signaled(sig as i32, out),
            WaitStatus::Exited(_, code) => Outcome::Exited(out, code),
            other => panic!("child {pid}: unexpected wait status {other:?}"),
        })
    }

    /// A directory removed when dropped, also when the test panics.
    pub struct TempDir(pub std::path::PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("outlet-{tag}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&p).expect("create temp dir");
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The value of a `Key:\tvalue` line of /proc/self/status.
    pub fn status_field(key: &str) -> Result<String, String> {
        let s = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
        s.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
            .map(|v| v.trim().to_string())
            .ok_or_else(|| format!("{key} not in /proc/self/status"))
    }
}

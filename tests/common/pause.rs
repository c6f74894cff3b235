//! outlet held at a named step while a test changes the world at exactly
//! that instant: debug builds' `OUTLET_PAUSE=<step>=<file>` (src/fault.rs
//! `pause`) creates `<file>.reached` there and waits for `<file>`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Out, T, wait_timeout};

/// One hold of one step, its gate file in the test's directory.
pub struct Pause {
    step: String,
    gate: PathBuf,
}

impl Pause {
    pub fn new(t: &T, tag: &str, step: &str) -> Pause {
        Pause {
            step: step.to_string(),
            gate: t.dir.join(format!("gate-{tag}")),
        }
    }

    /// The variable that makes outlet stop at the step.
    pub fn env(&self) -> (&'static str, String) {
        (
            "OUTLET_PAUSE",
            format!("{}={}", self.step, self.gate.display()),
        )
    }

    /// The file outlet creates once it is held.
    fn reached(&self) -> PathBuf {
        PathBuf::from(format!("{}.reached", self.gate.display()))
    }

    /// Waits (30 s at most, outlet's own limit) until outlet is held.
    #[track_caller]
    pub fn wait_reached(&self) {
        let reached = self.reached();
        wait_until(
            &format!("the pause at {}", self.step),
            Duration::from_secs(30),
            || reached.exists(),
        );
    }

    /// Lets outlet go on.
    pub fn release(&self) {
        std::fs::write(&self.gate, "go").unwrap();
    }

    /// Spawns `cmd` (from `T::command`: its stdout and stderr go to `so`
    /// and `se`) held at the step, runs `act` once it is held, releases it
    /// and waits (60 s at most) for it to end.
    #[track_caller]
    pub fn around(&self, cmd: (Command, PathBuf, PathBuf), act: impl FnOnce()) -> Out {
        let (mut cmd, so, se) = cmd;
        let (k, v) = self.env();
        let mut child = cmd.env(k, v).spawn().expect("spawn outlet");
        // Not a fixed wait: outlet's end (a failure before the step) or
        // outlet's own limit, whichever comes first.
        let reached = self.reached();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reached.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                let out = Out::from_files(status, so, se);
                panic!("outlet ended before the pause at {}: {out:#?}", self.step);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the pause at {} not reached within 30 s", self.step);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        act();
        self.release();
        let status = wait_timeout(&mut child, Duration::from_secs(60), &self.step);
        Out::from_files(status, so, se)
    }
}

/// Waits until `done` holds, at most `limit`: the test fails naming
/// `what` otherwise.
#[track_caller]
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `p` exists (a pause point's `.reached` file), at most 30
/// s: the test fails naming `what` and the path otherwise.
#[track_caller]
pub fn wait_for_file(p: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !p.exists() {
        assert!(
            Instant::now() < deadline,
            "{what}: {} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

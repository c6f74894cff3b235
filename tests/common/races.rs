//! What the race tests (tests/races_s9.rs, races_s9_kill.rs) share: a
//! seeded generator for the timing between two callers, outlet calls run
//! in the background, the judgement of one call's outcome, and the clean-up
//! that checks nothing is left.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use super::strace::{cache_strays, rootfs_mounts};
use super::{Bundle, OUTLET, Out, T, sh, wait_timeout};

/// The limit of one command in a round: a hang fails the test.
pub const LIMIT: Duration = Duration::from_secs(30);

use super::rng::Rng;

/// The generator of one race test: RACES_S9_SEED (a number, or `pid`),
/// each test its own stream from the one seed.
pub fn seeded(test: &str) -> Rng {
    let seed = match std::env::var("RACES_S9_SEED").ok().as_deref() {
        Some("pid") => std::process::id() as u64,
        Some(v) => v.parse().unwrap_or(0x5eed_0009),
        None => 0x5eed_0009,
    };
    eprintln!("{test}: seed {seed} (RACES_S9_SEED={seed} repeats it)");
    Rng::new(test.bytes().fold(seed, |h, b| h.rotate_left(5) ^ b as u64))
}

pub fn rounds(default: usize) -> usize {
    std::env::var("RACES_S9_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One outlet call running in the background.
pub struct Running {
    pub child: Child,
    so: PathBuf,
    se: PathBuf,
    what: String,
}

pub fn spawn(t: &T, args: &[&str], env: &[(&str, &str)]) -> Running {
    let (mut cmd, so, se) = t.command(std::path::Path::new(OUTLET), args);
    cmd.envs(env.iter().copied());
    Running {
        child: cmd.spawn().expect("spawn outlet"),
        so,
        se,
        what: format!("outlet {args:?}"),
    }
}

impl Running {
    /// `finish` polling at 100 µs instead of the harness's 5 ms: for a
    /// command whose duration is measured (a few milliseconds).
    pub fn finish_timed(mut self) -> (Out, Duration) {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (Out::from_files(status, self.so, self.se), started.elapsed());
            }
            if started.elapsed() > LIMIT {
                return (self.finish(), LIMIT);
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    pub fn finish(mut self) -> Out {
        let status = wait_timeout(&mut self.child, LIMIT, &self.what);
        Out::from_files(status, self.so, self.se)
    }
}

/// Two calls with a drawn gap between their starts, in a drawn order.
pub fn pair(t: &T, rng: &mut Rng, a: &[&str], b: &[&str], gap_us: u64) -> (Out, Out) {
    let gap = rng.delay(gap_us);
    if rng.coin() {
        let ra = spawn(t, a, &[]);
        std::thread::sleep(gap);
        let rb = spawn(t, b, &[]);
        (ra.finish(), rb.finish())
    } else {
        let rb = spawn(t, b, &[]);
        std::thread::sleep(gap);
        let ra = spawn(t, a, &[]);
        (ra.finish(), rb.finish())
    }
}

/// The judgement of any one call: it ended by itself (no signal, no
/// panic), 0 or one of `codes`, and a failure is one line holding one of
/// `words` (the runc words a caller matches on).
#[track_caller]
pub fn judge(round: &str, o: &Out, codes: &[i32], words: &[&str]) {
    assert!(o.signal.is_none(), "{round}: died of a signal: {o:#?}");
    assert!(!o.stderr.contains("panicked"), "{round}: panicked: {o:#?}");
    let code = o.code.unwrap();
    if code == 0 {
        return;
    }
    assert!(codes.contains(&code), "{round}: exit {code}: {o:#?}");
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{round}: not one stderr line: {o:#?}");
    assert!(
        words.iter().any(|w| lines[0].contains(w)),
        "{round}: {:?} says none of {words:?}: {o:#?}",
        lines[0]
    );
}

/// The container gone for good: delete --force exits 0, and nothing is
/// left of it (the harness's checks, the rootfs's mounts, cache strays).
#[track_caller]
pub fn clean(t: &T, id: &str, round: &str) {
    let d = t.outlet(&["delete", "--force", id]);
    judge(round, &d, &[], &[]);
    let left = t.settle();
    assert!(left.is_empty(), "{round}: left behind: {left:#?}");
    let m = rootfs_mounts(t);
    assert!(m.is_empty(), "{round}: host mounts left: {m:#?}");
    let s = cache_strays(t);
    assert!(s.is_empty(), "{round}: seccomp cache strays: {s:?}");
}

pub fn sleeper(t: &T, tag: &str) -> Bundle {
    t.bundle(tag, |c| sh(c, "exec sleep 1000"))
}

pub fn create(t: &T, b: &Bundle, id: &str) {
    t.outlet(&["create", "--bundle", b.dir.to_str().unwrap(), id])
        .expect_ok("create");
}

pub fn create_started(t: &T, b: &Bundle, id: &str) {
    create(t, b, id);
    t.outlet(&["start", id]).expect_ok("start");
}

/// The status `state` reads, or "absent".
pub fn status(t: &T, id: &str, round: &str) -> String {
    let o = t.outlet(&["state", id]);
    if o.ok() {
        return o.json()["status"].as_str().unwrap().to_string();
    }
    judge(round, &o, &[1], &["does not exist"]);
    "absent".into()
}

//! What the checkpoint/restore tests share: the criu they run (CRIU 4.1.1
//! from trixie, fetched by scripts/fetch-criu.sh: bookworm's 3.17 cannot
//! dump on this kernel), a container that counts in a loop into
//! /out/count ("i pid hostname" per step), and the checks that a restored
//! one goes on with i+1 (not 1: a restart), as pid 1, with the same
//! hostname.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{self, Bundle, T, sh};
use serde_json::json;

pub const COUNTER: &str =
    r#"i=0; while :; do i=$((i+1)); echo "$i $$ $(hostname)" >> /out/count; sleep 0.05; done"#;

pub fn criu() -> &'static str {
    static CRIU: OnceLock<String> = OnceLock::new();
    CRIU.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-criu.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .expect("run fetch-criu.sh");
        assert!(
            out.status.success(),
            "fetch-criu.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

pub fn counter_bundle(t: &T, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
    t.bundle(name, |c| {
        sh(c, COUNTER);
        c["hostname"] = json!("cr-host");
        edit(c);
    })
}

/// The counter lines as (i, pid, hostname).
pub fn lines(b: &Bundle) -> Vec<(u64, String, String)> {
    std::fs::read_to_string(b.out.join("count"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            Some((
                f.next()?.parse().ok()?,
                f.next()?.to_string(),
                f.next()?.to_string(),
            ))
        })
        .collect()
}

pub fn last(b: &Bundle) -> u64 {
    lines(b).last().map_or(0, |l| l.0)
}

/// Waits until the counter has passed `n`.
#[track_caller]
pub fn wait_past(b: &Bundle, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while last(b) <= n {
        assert!(Instant::now() < deadline, "counter stuck at {}", last(b));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every line follows the one before (i+1), as pid 1 with the hostname:
/// Err names the first line that does not (a restart shows as "1" again).
pub fn continuous(l: &[(u64, String, String)]) -> Result<(), String> {
    for (k, (i, pid, host)) in l.iter().enumerate() {
        if pid != "1" || host != "cr-host" {
            return Err(format!("line {k}: pid {pid}, hostname {host}"));
        }
        if k > 0 && *i != l[k - 1].0 + 1 {
            return Err(format!("line {k}: {} follows {}", i, l[k - 1].0));
        }
    }
    Ok(())
}

pub fn run_detached(t: &T, id: &str, b: &Bundle) -> i32 {
    t.outlet(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), id])
        .expect_ok("run -d");
    let pid = t.state(id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    pid
}

pub fn checkpoint(t: &T, id: &str, image: &Path, extra: &[&str]) -> common::Out {
    let mut a = vec![
        "--criu",
        criu(),
        "checkpoint",
        "--image-path",
        image.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    a.push(id);
    t.outlet(&a)
}

/// `outlet restore -d` of `image` as `id` from bundle `b`, whatever it
/// ends with (its stdout, which the restored init writes to, is the
/// returned `Out`'s file).
pub fn restore_out(t: &T, id: &str, b: &Bundle, image: &Path) -> common::Out {
    t.outlet(&[
        "--criu",
        criu(),
        "restore",
        "-d",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--image-path",
        image.to_str().unwrap(),
        id,
    ])
}

pub fn restore(t: &T, id: &str, b: &Bundle, image: &Path) -> i32 {
    restore_out(t, id, b, image).expect_ok("restore");
    let pid = t.state(id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    pid
}

/// The count does not move for a while: nothing is running.
#[track_caller]
pub fn assert_still(b: &Bundle) {
    let n = last(b);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(last(b), n, "the counter moved while it should be stopped");
}

pub fn cgroup_file(pid: i32, ctrl: &str, file: &str) -> String {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = cg
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let _ = f.next();
            let c = f.next()?;
            c.split(',')
                .any(|x| x == ctrl)
                .then(|| f.next().unwrap().to_string())
        })
        .unwrap_or_else(|| panic!("{pid} has no {ctrl} cgroup: {cg}"));
    let p = format!("/sys/fs/cgroup/{ctrl}{rel}/{file}");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {p}: {e}"))
        .trim()
        .to_string()
}

//! What outlet writes for its callers stays whole when several of its
//! processes write at once.
//!
//! 1. Every diagnostic is one write(2) of a whole line. Many `run`s whose
//!    init fails its execve (after the start gate, on the caller's stderr)
//!    while their parent warns about a failing poststart hook, and many
//!    `create`s that fail in the parent with `--log` JSON, write on ONE
//!    stderr pipe, full when they start (so that they all write the moment
//!    the test reads), and append to one log file, round after round.
//!    Every stderr line must be exactly a line one of them prints alone,
//!    as many of each as there were failures, and every log line must
//!    parse as the JSON object of that error. Control, run by hand: the
//!    same test against main's binary before the change (eprintln!, three
//!    writes per message) failed 3 runs of 3, with 68 to 84 of 270 lines
//!    glued from pieces of two messages.
//!
//! It needs root (ignored otherwise).

mod common;

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Bundle, OUTLET, T, wait_timeout};
use serde_json::{Value, json};

const ROUNDS: usize = 15;
/// Containers of each kind started at once in a round.
const AT_ONCE: usize = 6;

/// A bundle whose application cannot be executed (a text file marked
/// executable: ENOEXEC, found only by the execve after the start gate),
/// with a poststart hook that fails.
fn failing_exec_bundle(t: &T) -> Bundle {
    let b = t.bundle("bad-exec", |c| {
        c["process"]["args"] = json!(["/out/garbage"]);
        c["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    });
    let garbage = b.out.join("garbage");
    std::fs::write(&garbage, "this is not a program\n").unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o755)).unwrap();
    b
}

/// A bundle `create` refuses in the parent: process.args is empty.
fn bad_config_bundle(t: &T) -> Bundle {
    t.bundle("bad-config", |c| c["process"]["args"] = json!([]))
}

/// `outlet --root R [--log LOG --log-format json] VERB --bundle B ID`
/// writing its stderr to `stderr`.
fn spawn(t: &T, verb: &str, b: &Bundle, id: &str, stderr: impl AsFd, log: Option<&str>) -> Child {
    let mut cmd = Command::new(OUTLET);
    cmd.args(["--root", t.root.to_str().unwrap()]);
    if let Some(log) = log {
        cmd.args(["--log", log, "--log-format", "json"]);
    }
    cmd.args([verb, "--bundle", b.dir.to_str().unwrap(), id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.as_fd().try_clone_to_owned().unwrap())
        .spawn()
        .expect("spawn outlet")
}

/// `line` with the test's container ids (token-kN) made `ID`.
fn without_ids(t: &T, line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(&t.token) {
        out.push_str(&rest[..at]);
        out.push_str("ID");
        rest = rest[at + t.token.len()..]
            .trim_start_matches(|c: char| c == '-' || c.is_ascii_alphanumeric());
    }
    out.push_str(rest);
    out
}

/// What one call's processes (outlet and its init) print with nobody else
/// writing: its stderr lines, ids made `ID`.
fn alone(t: &T, verb: &str, b: &Bundle, log: &std::path::Path) -> Vec<String> {
    let path = t.dir.join(format!("alone-{verb}.stderr"));
    let f = File::create(&path).unwrap();
    let id = t.id(&format!("{verb}-alone"));
    let mut c = spawn(t, verb, b, &id, &f, Some(log.to_str().unwrap()));
    let st = wait_timeout(&mut c, Duration::from_secs(60), verb);
    assert_eq!(st.code(), Some(1), "{verb} alone: {st:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines().map(|l| without_ids(t, l)).collect()
}

/// The stderr of the children `spawn_all` starts, all on one pipe that is
/// full when they start: each blocks in its first write until the test
/// reads, a moment later, so that all of them write at the same time, in
/// whatever order the kernel wakes them (what a slow reader of a shared
/// pipe, conmon's or the shim's under load, does to outlet's processes).
/// Returns what they wrote, every child having exited with status 1.
fn through_a_full_pipe(spawn_all: impl FnOnce(&OwnedFd) -> Vec<Child>) -> String {
    let (r, w) = nix::unistd::pipe().unwrap();
    let filled = fill(&w);
    let children = spawn_all(&w);
    drop(w);
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut all = Vec::new();
        File::from(r).read_to_end(&mut all).unwrap();
        all
    });
    for mut c in children {
        let st = wait_timeout(&mut c, Duration::from_secs(120), "outlet");
        assert_eq!(st.code(), Some(1), "{st:?}");
    }
    let all = reader.join().unwrap();
    assert!(all[..filled].iter().all(|&b| b == b'.'), "filler changed");
    String::from_utf8(all[filled..].to_vec()).unwrap()
}

/// Fills the pipe `w` writes to with dots; how many it took.
fn fill(w: &OwnedFd) -> usize {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(w.as_raw_fd(), FcntlArg::F_GETFL).unwrap());
    fcntl(w.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).unwrap();
    let dots = [b'.'; 4096];
    let mut filled = 0;
    loop {
        match nix::unistd::write(w, &dots) {
            Ok(n) => filled += n,
            Err(nix::errno::Errno::EAGAIN) => break,
            Err(e) => panic!("fill the pipe: {e}"),
        }
    }
    // The children share this open file: they must block, not fail.
    fcntl(w.as_raw_fd(), FcntlArg::F_SETFL(flags)).unwrap();
    filled
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn concurrent_init_and_parent_failures_write_whole_lines() {
    let Some(t) = T::new() else { return };
    let exec_b = failing_exec_bundle(&t);
    let config_b = bad_config_bundle(&t);
    let scratch_log = t.dir.join("alone.log");
    let run_lines = alone(&t, "run", &exec_b, &scratch_log);
    let create_lines = alone(&t, "create", &config_b, &scratch_log);
    // The failures this test is about, as outlet words them alone.
    assert!(
        run_lines
            .iter()
            .any(|l| l.starts_with("outlet: container init: exec /out/garbage: "))
            && run_lines
                .iter()
                .any(|l| l.starts_with("outlet: warning: hooks.poststart[0]")),
        "run alone: {run_lines:#?}"
    );
    assert!(
        create_lines.len() == 1 && create_lines[0].contains("process.args"),
        "create alone: {create_lines:#?}"
    );
    let create_msg = create_lines[0]
        .strip_prefix("outlet: ")
        .unwrap()
        .to_string();

    let log_path = t.dir.join("shared.log");
    let log = log_path.to_str().unwrap();
    let mut text = String::new();
    for round in 0..ROUNDS {
        text += &through_a_full_pipe(|stderr| {
            let mut children = Vec::new();
            for i in 0..AT_ONCE {
                let id = t.id(&format!("r{round}-{i}"));
                children.push(spawn(&t, "run", &exec_b, &id, stderr, None));
                let id = t.id(&format!("c{round}-{i}"));
                children.push(spawn(&t, "create", &config_b, &id, stderr, Some(log)));
            }
            children
        });
    }
    let calls = ROUNDS * AT_ONCE;

    assert!(text.ends_with('\n'), "stderr ends mid-line: {text:?}");
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut broken = Vec::new();
    for line in text.lines() {
        let l = without_ids(&t, line);
        if run_lines.contains(&l) || create_lines.contains(&l) {
            *seen.entry(l).or_default() += 1;
        } else {
            broken.push(line.to_string());
        }
    }
    assert!(
        broken.is_empty(),
        "{} of {} stderr lines are not whole lines of outlet's: {broken:#?}",
        broken.len(),
        text.lines().count()
    );
    for l in run_lines.iter().chain(&create_lines) {
        assert_eq!(seen.get(l).copied().unwrap_or(0), calls, "count of {l:?}");
    }

    let log_text = std::fs::read_to_string(&log_path).unwrap();
    let mut entries = 0;
    for line in log_text.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("--log line is not JSON ({e}): {line:?}"));
        assert_eq!(v["level"], "error", "{line}");
        assert_eq!(
            without_ids(&t, v["msg"].as_str().unwrap()),
            create_msg,
            "{line}"
        );
        entries += 1;
    }
    assert_eq!(entries, calls, "--log lines");
    t.assert_nothing_left("failed runs and creates");
}

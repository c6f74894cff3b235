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
//! 2. Nothing allocates in the init (or `exec`'s helper) after its
//!    seccomp filter, even with the allocator's arena full: the debug-only
//!    `OUTLET_ARENA=full` (src/fault.rs) fills it at the start of
//!    `exec_process` and makes every call that reaches the C library's
//!    malloc make a brk first (src/syscall/arena.rs: musl might otherwise
//!    find a free slot and hide the allocation). Profiles that deny brk,
//!    mmap, munmap, mremap and madvise, with EPERM and with a kill, still
//!    let `run` and `exec` execute the application: a hand-made ELF that
//!    makes no memory call and exits 42. Control, run by hand: one
//!    `Box::new([7u8; 64])` after `filter.load` in process/init.rs (then
//!    removed) fails both, with exit 1 and "memory asked of the C library
//!    while brk is denied" (EPERM) and 159, SIGSYS (kill), for `run` and
//!    for `exec` alike. Without the brk the same control passed: musl
//!    served the Box from a slot of the page it had mapped before the
//!    filter.
//!
//! All need root (ignored otherwise).

mod common;

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
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
                .any(|l| l.starts_with("outlet: warning: ") && l.contains("hooks.poststart[0]")),
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

// 2. No allocation after the init's seccomp filter, the arena full.

/// A static x86-64 ELF of `code` alone: no libc, no loader, so it makes
/// no memory call the kernel's execve does not make for it. One PT_LOAD
/// (read and execute) maps the whole file at 0x400000; the code follows
/// the ELF header (64 bytes) and the program header (56).
fn tiny_elf(code: &[u8]) -> Vec<u8> {
    let size = (64 + 56 + code.len()) as u64;
    let mut b = Vec::new();
    b.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    b.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    b.extend_from_slice(&1u32.to_le_bytes()); // version
    b.extend_from_slice(&(0x400000u64 + 120).to_le_bytes()); // entry
    b.extend_from_slice(&64u64.to_le_bytes()); // program headers
    b.extend_from_slice(&0u64.to_le_bytes()); // no sections
    b.extend_from_slice(&0u32.to_le_bytes()); // flags
    for half in [64u16, 56, 1, 0, 0, 0] {
        b.extend_from_slice(&half.to_le_bytes());
    }
    b.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    b.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for word in [0u64, 0x400000, 0x400000, size, size, 0x1000] {
        b.extend_from_slice(&word.to_le_bytes());
    }
    b.extend_from_slice(code);
    assert_eq!(b.len() as u64, size);
    b
}

/// exit(42).
const EXIT_42: &[u8] = &[0xbf, 42, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05];
/// pause() for ever.
const PAUSE: &[u8] = &[0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];

/// A bundle running `/out/app` (`code`, see `tiny_elf`) under a profile
/// whose `action` meets every call by which the C library's malloc gets
/// memory or gives it back. /out also holds `/out/exit42`.
fn memory_denied_bundle(t: &T, tag: &str, action: &str, code: &[u8]) -> Bundle {
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["/out/app"]);
        let mut rule = json!({
            "names": ["brk", "mmap", "munmap", "mremap", "madvise"],
            "action": action,
        });
        // errnoRet belongs to the actions that return an errno only (a
        // KILL with one is refused, config-linux.md).
        if action == "SCMP_ACT_ERRNO" {
            rule["errnoRet"] = json!(1);
        }
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [rule]
        });
    });
    for (name, code) in [("app", code), ("exit42", EXIT_42)] {
        let exe = b.out.join(name);
        std::fs::write(&exe, tiny_elf(code)).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    b
}

/// `outlet ARGS` with the arena full from the init's last steps on.
fn arena_full(t: &T, args: &[&str]) -> common::Out {
    t.call_env(Path::new(OUTLET), args, &[], &[("OUTLET_ARENA", "full")])
}

#[track_caller]
fn expect_42(what: &str, out: &common::Out) {
    assert_eq!(
        out.code,
        Some(42),
        "{what}: the application did not run (the init failed after its \
         filter?): {out:#?}"
    );
    assert!(out.stderr.is_empty(), "{what}: {out:#?}");
}

/// `run` (the init) and `exec` (its helper), three of each.
fn execs_with_memory_denied(action: &str) {
    let Some(t) = T::new() else { return };
    for i in 0..3 {
        let b = memory_denied_bundle(&t, &format!("run{i}"), action, EXIT_42);
        let id = t.id(&format!("run{i}"));
        let out = arena_full(&t, &["run", "--bundle", b.dir.to_str().unwrap(), &id]);
        expect_42(&format!("{action}: run"), &out);
    }
    let b = memory_denied_bundle(&t, "exec", action, PAUSE);
    let id = t.id("exec");
    let dir = b.dir.to_str().unwrap();
    t.outlet(&["run", "--detach", "--bundle", dir, &id])
        .expect_ok("run the pausing init");
    for _ in 0..3 {
        expect_42(
            &format!("{action}: exec"),
            &arena_full(&t, &["exec", &id, "/out/exit42"]),
        );
    }
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("runs and execs with memory calls denied");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn init_execs_with_the_arena_full_and_memory_calls_failing_eperm() {
    execs_with_memory_denied("SCMP_ACT_ERRNO");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn init_execs_with_the_arena_full_and_memory_calls_killing() {
    execs_with_memory_denied("SCMP_ACT_KILL_PROCESS");
}

//! The attacker's review of session 8, played in real containers.
//!
//! 1. startContainer hooks outside the container's seccomp filter. The
//!    runtime-spec resolves a startContainer hook's `path` in the
//!    container, so the binary it runs is the image's: hostile. The init
//!    ran those hooks after `start` released it but before it loaded the
//!    filter (only a profile with a listener was loaded earlier): the
//!    image's program ran with `Seccomp: 0`, made the very syscalls the
//!    profile denies, and anything it left running in the container (a
//!    daemon the later processes talk to) stayed unfiltered for the
//!    container's life. runc loads the filter before its startContainer
//!    hooks whatever noNewPrivileges says. The probe: the hook and the
//!    container's process each write their `Seccomp:` line and try a
//!    `mkdir` the profile answers with EPERM. Fixed: the init loads the
//!    filter before the hooks, and the hook reads `Seccomp: 2` and makes
//!    nothing. Control: `OUTLET_START_HOOKS_UNFILTERED=1` (a debug build's
//!    switch) runs the hooks before the filter as before: the hook reads
//!    `Seccomp: 0` and its directory is made, while the process after it
//!    is still filtered (the probe tells the two apart).
//! 2. A hook's timeout defeated by its stdin. outlet wrote the state to a
//!    hook's stdin with one blocking write and only then began to watch
//!    the hook's timeout. A state larger than the pipe (64 KiB: a caller's
//!    annotations reach that) stays unwritten while the hook does not
//!    read, so a hook that never reads and never exits held `start` (and
//!    `run`, `create` for the runtime's hooks) past its timeout, for as
//!    long as it liked. For startContainer the hook is the image's
//!    program. The probe: 100 KiB of annotations and a startContainer hook
//!    `sleep 12` with `timeout: 1`. Fixed: the state is fed without
//!    blocking, watched against the same deadline, and `run` fails naming
//!    the hook and "timed out after 1s" within seconds. Control:
//!    `OUTLET_HOOK_STDIN_BLOCKING=1` (a debug build's switch) writes as
//!    before, and `run` takes the hook's whole 12 s.
//! 3. tmpcopyup over a volume another container writes. The copy stat'ed
//!    each entry and then opened a regular one by name, blocking, without
//!    checking what it opened. A writer of the volume (a sibling
//!    container sharing it) that swaps the file for a fifo in between
//!    holds `create` in that open for as long as it likes (the init waits
//!    for a writer, the caller waits for the init), and then feeds the
//!    copy what it wants; swapped for a device node, the init (every
//!    capability, the host's user namespace) would open and read the
//!    device. The window is held open at `OUTLET_PAUSE=copyup:stat`; the
//!    racer swaps `f` for a fifo and, once a reader has it open, waits 3 s
//!    before it writes. Fixed: the file is opened non-blocking and checked
//!    by fstat to be the regular file stat saw: `create` fails at once
//!    naming the entry. Control: `OUTLET_COPYUP_TRUSTS_STAT=1` (a debug
//!    build's switch) opens as before: `run` waits the racer's 3 s and the
//!    container reads the racer's bytes as `f`.
//! 4. The caller's environment handed to the image. A startContainer hook
//!    that gives no `env` ran with the runtime's own environment, and in
//!    the init that is whatever the caller (containerd, podman, a CI job)
//!    had: its tokens and proxies went to the image's program. runc's init
//!    clears its environment and gives such a hook the container process's.
//!    The probe: `outlet run` with `CALLER_SECRET=hunter2` in its
//!    environment and a hook `env > /out/hookenv`. Fixed: the hook sees
//!    the process's variables (the spec's PATH and the harness's token)
//!    and not the secret. Control: `OUTLET_HOOK_RUNTIME_ENV=1` (a debug
//!    build's switch): the hook reads `CALLER_SECRET=hunter2`.
//!
//! Needs root (ignored otherwise) and a debug build (the switches).

mod common;

use std::path::Path;

use common::pause::Pause;
use common::{OUTLET, Out, T};
use serde_json::json;

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_START_HOOKS_UNFILTERED)");
    }
}

/// What one side (the hook or the process) saw: its `Seccomp:` mode and
/// whether its `mkdir` went through.
#[derive(Debug, PartialEq)]
struct Seen {
    mode: String,
    made: bool,
}

fn seen(out: &Path, who: &str) -> Seen {
    let line = std::fs::read_to_string(out.join(format!("{who}.seccomp")))
        .unwrap_or_else(|e| panic!("{who} did not run: {e}"));
    let mode = line
        .trim()
        .strip_prefix("Seccomp:")
        .unwrap_or_else(|| panic!("{who}: no Seccomp line: {line:?}"))
        .trim()
        .to_string();
    Seen {
        mode,
        made: out.join(format!("{who}.made")).exists(),
    }
}

/// The probe both sides run, writing into `dir`.
fn probe(dir: &str, who: &str) -> String {
    format!(
        "grep ^Seccomp: /proc/self/status > {dir}/{who}.seccomp; \
         mkdir {dir}/{who}.made 2>/dev/null; true"
    )
}

/// A container whose profile allows all but mkdir/mkdirat (EPERM), with a
/// startContainer hook run from the image; returns what the hook and the
/// process saw.
fn attempt(t: &T, tag: &str, nnp: bool, env: &[(&str, &str)]) -> (Out, Seen, Seen) {
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["sh", "-c", probe("/out", "process")]);
        c["process"]["noNewPrivileges"] = json!(nnp);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{
                "names": ["mkdir", "mkdirat"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": libc::EPERM
            }]
        });
        // Resolved and run in the container: the image's /bin/sh.
        c["hooks"] = json!({"startContainer": [
            {"path": "/bin/sh", "args": ["sh", "-c", probe("/out", "hook")]}
        ]});
    });
    let id = t.id(tag);
    let bs = b.dir.to_str().unwrap();
    let out = t.call_env(OUTLET.as_ref(), &["run", "--bundle", bs, &id], &[], env);
    let _ = t.outlet(&["delete", "--force", &id]);
    if !out.ok() {
        panic!("{tag}: run failed: {out:#?}");
    }
    (out, seen(&b.out, "hook"), seen(&b.out, "process"))
}

fn filtered() -> Seen {
    Seen {
        mode: "2".into(),
        made: false,
    }
}

fn check_fixed(tag: &str, nnp: bool) {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let (out, hook, process) = attempt(&t, tag, nnp, &[]);
    assert_eq!(
        hook,
        filtered(),
        "the image's startContainer hook ran outside the filter: {out:#?}"
    );
    assert_eq!(process, filtered(), "the process: {out:#?}");
    t.assert_nothing_left(tag);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_container_hook_runs_under_the_filter_with_no_new_privileges() {
    check_fixed("hook-nnp", true);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_container_hook_runs_under_the_filter_without_no_new_privileges() {
    check_fixed("hook-privs", false);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_container_hook_control_runs_unfiltered_before_the_filter() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    for nnp in [true, false] {
        let tag = format!("hook-control-{nnp}");
        let (out, hook, process) =
            attempt(&t, &tag, nnp, &[("OUTLET_START_HOOKS_UNFILTERED", "1")]);
        assert_eq!(
            hook,
            Seen {
                mode: "0".into(),
                made: true
            },
            "control (nnp {nnp}): the hook should have run unfiltered: {out:#?}"
        );
        assert_eq!(process, filtered(), "control (nnp {nnp}): the process");
    }
    t.assert_nothing_left("hook control");
}

/// `run` of a container whose startContainer hook sleeps 12 s without
/// reading its stdin, with a 1 s timeout and a state past the pipe's size.
fn slow_hook_run(t: &T, tag: &str, env: &[(&str, &str)]) -> (Out, std::time::Duration) {
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["true"]);
        c["annotations"] = json!({"big": "x".repeat(100 * 1024)});
        c["hooks"] = json!({"startContainer": [
            {"path": "/bin/sleep", "args": ["sleep", "12"], "timeout": 1}
        ]});
    });
    let id = t.id(tag);
    let bs = b.dir.to_str().unwrap();
    let began = std::time::Instant::now();
    let out = t.call_env(OUTLET.as_ref(), &["run", "--bundle", bs, &id], &[], env);
    let took = began.elapsed();
    let _ = t.outlet(&["delete", "--force", &id]);
    (out, took)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hook_that_never_reads_a_large_state_still_times_out() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let (out, took) = slow_hook_run(&t, "stdin-fixed", &[]);
    out.expect_fail("run with a hook past its timeout", "timed out after 1s");
    out.expect_fail("run with a hook past its timeout", "startContainer");
    assert!(
        took < std::time::Duration::from_secs(8),
        "run took {took:?}: the hook's 1 s timeout was not kept"
    );
    eprintln!("fixed: run failed after {took:?}");
    t.assert_nothing_left("stdin fixed");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hook_stdin_control_blocking_write_outlives_the_timeout() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let (out, took) = slow_hook_run(&t, "stdin-control", &[("OUTLET_HOOK_STDIN_BLOCKING", "1")]);
    assert!(
        took >= std::time::Duration::from_secs(11),
        "control: run took {took:?}, expected the hook's whole 12 s: {out:#?}"
    );
    eprintln!("control: run returned after {took:?} (ok: {})", out.ok());
    t.assert_nothing_left("stdin control");
}

/// What the fifo racer saw: whether a reader (the init) opened the fifo,
/// and when it wrote.
struct Raced {
    reader: bool,
    wrote_at: Option<std::time::Instant>,
}

/// Swaps `f` for a fifo, then (in a thread) waits up to 10 s for a reader,
/// holds it 3 s and writes the racer's bytes.
fn swap_for_fifo(vol: &Path) -> std::thread::JoinHandle<Raced> {
    let f = vol.join("f");
    std::fs::remove_file(&f).unwrap();
    nix::unistd::mkfifo(&f, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            // Without a reader a non-blocking open for writing is ENXIO.
            if let Ok(mut w) = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&f)
            {
                std::thread::sleep(std::time::Duration::from_secs(3));
                let _ = w.write_all(b"racer\n");
                return Raced {
                    reader: true,
                    wrote_at: Some(std::time::Instant::now()),
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Raced {
            reader: false,
            wrote_at: None,
        }
    })
}

/// `run` of a container whose /tmp is a shared volume covered by a
/// tmpcopyup tmpfs, with `f` swapped for a fifo at `copyup:stat`.
fn copyup_race(t: &T, tag: &str, env: &[(&str, &str)]) -> (Out, Raced, std::path::PathBuf) {
    let vol = t.dir.join(format!("vol-{tag}"));
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("f"), "image\n").unwrap();
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["sh", "-c", "cat /tmp/f > /out/seen"]);
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/tmp", "type": "bind",
            "source": vol, "options": ["rbind", "rw"]}));
        mounts.push(json!({"destination": "/tmp", "type": "tmpfs",
            "source": "tmpfs", "options": ["tmpcopyup"]}));
    });
    let id = t.id(tag);
    let bs = b.dir.to_str().unwrap().to_string();
    let pause = Pause::new(t, tag, "copyup:stat");
    let (mut cmd, so, se) = t.command(OUTLET.as_ref(), &["run", "--bundle", &bs, &id]);
    cmd.envs(env.iter().copied());
    let mut racer = None;
    let out = pause.around((cmd, so, se), || racer = Some(swap_for_fifo(&vol)));
    let raced = racer.unwrap().join().unwrap();
    let _ = t.outlet(&["delete", "--force", &id]);
    (out, raced, b.out.join("seen"))
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn tmpcopyup_refuses_a_file_swapped_for_a_fifo() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let (out, raced, seen) = copyup_race(&t, "copyup-fixed", &[]);
    out.expect_fail(
        "run with f swapped for a fifo",
        "replaced between its stat and its open",
    );
    out.expect_fail("run with f swapped for a fifo", "tmpcopyup");
    assert!(!seen.exists(), "the container ran: {out:#?}");
    eprintln!(
        "fixed: {} (a reader seen by the racer: {})",
        out.stderr.trim(),
        raced.reader
    );
    t.assert_nothing_left("copyup fixed");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn tmpcopyup_control_reads_the_racers_fifo() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let began = std::time::Instant::now();
    let (out, raced, seen) =
        copyup_race(&t, "copyup-control", &[("OUTLET_COPYUP_TRUSTS_STAT", "1")]);
    out.expect_ok("control: run with f swapped for a fifo");
    assert!(raced.reader, "control: the init never opened the fifo");
    let wrote = raced.wrote_at.unwrap();
    assert!(wrote.duration_since(began) >= std::time::Duration::from_secs(3));
    let got = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(got, "racer\n", "control: the container's /tmp/f");
    eprintln!(
        "control: run held {:?}, /tmp/f is the racer's {got:?}",
        began.elapsed()
    );
    t.assert_nothing_left("copyup control");
}

/// The environment a startContainer hook without `env` saw, `outlet run`
/// having `CALLER_SECRET` in its own.
fn hook_env(t: &T, tag: &str, env: &[(&str, &str)]) -> Vec<String> {
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["true"]);
        c["hooks"] = json!({"startContainer": [
            {"path": "/bin/sh", "args": ["sh", "-c", "env > /out/hookenv"]}
        ]});
    });
    let id = t.id(tag);
    let bs = b.dir.to_str().unwrap();
    let mut all = vec![("CALLER_SECRET", "hunter2")];
    all.extend_from_slice(env);
    let out = t.call_env(OUTLET.as_ref(), &["run", "--bundle", bs, &id], &[], &all);
    let _ = t.outlet(&["delete", "--force", &id]);
    out.expect_ok("run with a startContainer hook");
    std::fs::read_to_string(b.out.join("hookenv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_container_hook_gets_the_process_env_not_the_callers() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let env = hook_env(&t, "env-fixed", &[]);
    assert!(
        !env.iter().any(|l| l.contains("hunter2")),
        "the caller's secret reached the image's hook: {env:?}"
    );
    let token = format!("OUTLET_TEST={}", t.token);
    assert!(env.contains(&token), "no process env in the hook: {env:?}");
    assert!(env.iter().any(|l| l.starts_with("PATH=")), "{env:?}");
    t.assert_nothing_left("env fixed");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_container_hook_env_control_sees_the_callers_secret() {
    let Some(t) = T::new() else { return };
    needs_debug_build();
    let env = hook_env(&t, "env-control", &[("OUTLET_HOOK_RUNTIME_ENV", "1")]);
    assert!(
        env.iter().any(|l| l == "CALLER_SECRET=hunter2"),
        "control: the hook should have had the caller's environment: {env:?}"
    );
    t.assert_nothing_left("env control");
}

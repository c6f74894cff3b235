//! OCI hooks: each runs with the container's state JSON on stdin, its own
//! args and env, and is killed when its timeout passes.
//!
//! Two kinds of list, as the runtime-spec has them: the hooks before the
//! application runs (prestart, createRuntime, ...) stop at the first failure,
//! which fails the operation; poststart and poststop run to the end of the
//! list whatever fails, and each failure is a warning.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::fcntl::{FcntlArg, OFlag};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use oci_spec::runtime::Hook;

/// How often a hook that has a timeout is checked for its end: what its
/// exit can wait to be noticed, for a wake-up cheap enough to repeat.
const TIMEOUT_POLL: Duration = Duration::from_millis(2);

/// Runs the hooks in order; the first failure ends the list and is the error.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) -> Result<()> {
    run_all_env(kind, hooks, state_json, None)
}

/// `run_all`, with `default_env` for a hook that gives no `env`: the
/// container's process environment for hooks run in the container, as
/// runc's init (which clears its own) gives them. The runtime's own
/// environment is the caller's, and a startContainer hook is the image's
/// program: it must not read the caller's variables.
pub fn run_all_env(
    kind: &str,
    hooks: Option<&Vec<Hook>>,
    state_json: &str,
    default_env: Option<&[String]>,
) -> Result<()> {
    let dir = hook_dir(kind, hooks, state_json);
    run_all_in(kind, hooks, state_json, default_env, dir.as_deref())
}

/// `run_all_env` in `dir`: the createContainer hooks run in the mounted
/// rootfs, as runc's init (which chdirs there before it runs them) has
/// them, so a hook's relative paths name the container's files.
pub fn run_all_in(
    kind: &str,
    hooks: Option<&Vec<Hook>>,
    state_json: &str,
    default_env: Option<&[String]>,
    dir: Option<&std::path::Path>,
) -> Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run_one(h, state_json, default_env, dir).with_context(|| context(kind, i, h))?;
    }
    Ok(())
}

/// Where a hook runs: the bundle, as runc (which works from the bundle)
/// and crun run them, so a hook may name the bundle's files relatively.
/// Not for startContainer (it runs in the container, after the pivot,
/// where the bundle's path means nothing), nor when the bundle is gone
/// (a caller may remove it before `delete`): then the caller's.
fn hook_dir(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) -> Option<std::path::PathBuf> {
    if kind == "startContainer" || hooks.is_none_or(|h| h.is_empty()) {
        return None;
    }
    let state: serde_json::Value = serde_json::from_str(state_json).ok()?;
    let bundle = std::path::PathBuf::from(state["bundle"].as_str()?);
    bundle.is_dir().then_some(bundle)
}

/// Runs every hook of the list even when some fail (poststart, poststop:
/// the spec's MUST), logging each failure as a warning. Returns how many
/// failed.
pub fn run_all_warn(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) -> usize {
    let mut failed = 0;
    let dir = hook_dir(kind, hooks, state_json);
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run_one(h, state_json, None, dir.as_deref()) {
            failed += 1;
            crate::logging::warn(&format!("{}: {e:#}", context(kind, i, h)));
        }
    }
    failed
}

/// Names the hook by its field, after the words runc's error carries
/// ("error running prestart hook #1:"), which scripts and tests match.
fn context(kind: &str, i: usize, h: &Hook) -> String {
    format!(
        "error running {kind} hook #{i}: hooks.{kind}[{i}] {}",
        h.path().display()
    )
}

fn run_one(
    h: &Hook,
    state_json: &str,
    default_env: Option<&[String]>,
    dir: Option<&std::path::Path>,
) -> Result<()> {
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    // As runc (Go's exec.Cmd with the hook's Env): no `env` at all means the
    // runtime's own environment; a list, even an empty one, is exactly that.
    if let Some(env) = h.env().as_deref().or(default_env) {
        cmd.env_clear();
        for kv in env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    cmd.stdin(Stdio::piped());
    crate::syscall::hook_exec::only_stdio(&mut cmd);
    let mut child = cmd.spawn().context("start")?;
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .and_then(|t| deadline_after(t as u64));
    if let Some(stdin) = child.stdin.take()
        && !feed(stdin, state_json.as_bytes(), deadline)
    {
        let _ = child.kill();
        let _ = child.wait();
        bail!("timed out after {}s", h.timeout().unwrap_or(0));
    }
    let Some(deadline) = deadline else {
        let status = child.wait().context("wait")?;
        if !status.success() {
            bail!("failed: {}", failure(status));
        }
        return Ok(());
    };
    let status = loop {
        if let Some(s) = child.try_wait().context("wait")? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", h.timeout().unwrap_or(0));
        }
        std::thread::sleep(TIMEOUT_POLL);
    };
    if !status.success() {
        bail!("failed: {}", failure(status));
    }
    Ok(())
}

/// When a timeout of `secs` from now ends; None when the clock cannot
/// count that far, which no hook will live to see either. create refuses
/// such a timeout (spec/hooks.rs), but a container made before it did
/// still has one in its saved config, and a plain `+` panicked in every
/// `delete` of it (tests/attack_s12.rs). Debug builds'
/// `OUTLET_HOOK_TIMEOUT_UNCHECKED=1` (the control) adds as before.
fn deadline_after(secs: u64) -> Option<Instant> {
    let d = Duration::from_secs(secs);
    if crate::fault::control("OUTLET_HOOK_TIMEOUT_UNCHECKED") {
        return Some(Instant::now() + d);
    }
    Instant::now().checked_add(d)
}

/// A failed hook's end as runc words it (Go's ProcessState: "exit status
/// 1", "signal: bad system call"), which callers' scripts match, with the
/// signal's name added for the reader.
fn failure(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    let Some(sig) = status.signal() else {
        return status.to_string();
    };
    let name = nix::sys::signal::Signal::try_from(sig).map_or("?", |s| s.as_str());
    let core = if status.core_dumped() {
        " (core dumped)"
    } else {
        ""
    };
    match crate::signals::described(sig) {
        Some(text) => format!("signal: {text} ({name}){core}"),
        None => format!("signal: {sig} ({name}){core}"),
    }
}

/// Writes the state to the hook's stdin and closes it; false if the
/// deadline passed first. A state larger than the pipe (big annotations)
/// waits for the hook to read it, and a hook that never reads (a
/// startContainer hook is the image's program) must not hold the write,
/// and with it the caller, past its timeout. A hook that does not read its
/// stdin at all is fine: EPIPE ends the feed.
fn feed(mut stdin: std::process::ChildStdin, mut bytes: &[u8], deadline: Option<Instant>) -> bool {
    let Some(deadline) = deadline.filter(|_| !crate::fault::hook_stdin_blocking()) else {
        let _ = stdin.write_all(bytes);
        return true;
    };
    let fd = stdin.as_fd();
    if nix::fcntl::fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_err() {
        let _ = stdin.write_all(bytes);
        return true;
    }
    while !bytes.is_empty() {
        match stdin.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLOUT)];
                let wait = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
                let _ = poll(&mut fds, wait);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    true
}

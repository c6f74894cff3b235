//! The spec's prestart and createRuntime hooks on restore, run as runc runs
//! them: from CRIU's setup-namespaces action, with the restored init's pid,
//! while its tasks are still stopped (so a hook can set up the network
//! before the application runs again). CRIU's CLI calls an action script:
//! a few lines of sh that hand the pid to outlet over a fifo and wait for
//! the answer on another; a failing hook fails the script, which aborts
//! the restore.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::stat::Mode;

/// The script and its two fifos in the container's state directory.
struct Action {
    script: PathBuf,
    req: PathBuf,
    ack: PathBuf,
}

impl Action {
    fn make(dir: &Path) -> Result<Action> {
        let a = Action {
            script: dir.join("hook.sh"),
            req: dir.join("hook.req"),
            ack: dir.join("hook.ack"),
        };
        for f in [&a.req, &a.ack] {
            nix::unistd::mkfifo(f, Mode::from_bits_truncate(0o600))
                .with_context(|| format!("mkfifo {}", f.display()))?;
        }
        let text = format!(
            "#!/bin/sh\n[ \"$CRTOOLS_SCRIPT_ACTION\" = setup-namespaces ] || exit 0\n\
             echo \"$CRTOOLS_INIT_PID\" > '{}' || exit 1\nread r < '{}'\n[ \"$r\" = ok ]\n",
            a.req.display(),
            a.ack.display()
        );
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&a.script)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("write {}", a.script.display()))?;
        Ok(a)
    }

    /// Non-blocking: the open must not wait for a writer that may never come.
    fn open_requests(&self) -> Result<File> {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.req)
            .with_context(|| format!("open {}", self.req.display()))
    }

    /// Writes `reply` once the script opens the ack fifo (right after it
    /// wrote the pid), unless criu exits first.
    fn answer(&self, reply: &[u8], child: &mut Child) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.ack);
            match opened {
                Ok(mut f) => {
                    let _ = f.write_all(reply);
                    return Ok(());
                }
                Err(_)
                    if Instant::now() < deadline && child.try_wait().ok().flatten().is_none() =>
                {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(e).context("answer CRIU's action script"),
            }
        }
    }
}

impl Drop for Action {
    fn drop(&mut self) {
        for f in [&self.script, &self.req, &self.ack] {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Reads the pid line the script writes, if it came within ~20 ms.
fn poll_pid(req: &mut File, got: &mut Vec<u8>) -> Option<i32> {
    let mut pfd = [nix::poll::PollFd::new(
        req.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(20u8));
    let mut buf = [0u8; 32];
    if let Ok(n) = req.read(&mut buf) {
        got.extend_from_slice(&buf[..n]);
    }
    if !got.contains(&b'\n') {
        return None;
    }
    Some(String::from_utf8_lossy(got).trim().parse().unwrap_or(0))
}

/// Runs `criu` with `args` plus the action script, calls `on_setup` with
/// the restored init's pid at setup-namespaces, and returns criu's exit
/// status; Err when a hook failed (criu then aborts the restore).
pub fn run(
    criu: &Path,
    mut args: Vec<OsString>,
    what: &str,
    dir: &Path,
    on_setup: &mut dyn FnMut(i32) -> Result<()>,
    into_cgroups: Vec<std::os::fd::OwnedFd>,
) -> Result<std::process::ExitStatus> {
    let action = Action::make(dir)?;
    args.extend(["--action-script".into(), action.script.clone().into()]);
    let mut req = action.open_requests()?;
    // criu's stdio is outlet's, as without hooks (see criu::run_criu).
    let mut child = super::criu::command(criu, &args, what, into_cgroups)
        .spawn()
        .with_context(|| format!("{what}: run {}", criu.display()))?;
    let mut got = Vec::new();
    let mut hook_err = None;
    let mut answered = false;
    let status = loop {
        if let Some(st) = child.try_wait().context("wait for criu")? {
            break st;
        }
        if answered {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let Some(pid) = poll_pid(&mut req, &mut got) else {
            continue;
        };
        let res = if pid > 0 {
            on_setup(pid)
        } else {
            Err(anyhow::anyhow!("CRIU's setup-namespaces gave no pid"))
        };
        let reply: &[u8] = if res.is_ok() { b"ok\n" } else { b"fail\n" };
        hook_err = res.err();
        if let Err(e) = action.answer(reply, &mut child) {
            hook_err.get_or_insert(e);
        }
        answered = true;
    };
    if let Some(e) = hook_err {
        return Err(e.context(format!("{what}: a hook failed at CRIU's setup-namespaces")));
    }
    Ok(status)
}

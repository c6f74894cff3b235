//! `start`: release the init blocked on exec.fifo, then run poststart hooks.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Loaded;
use crate::state::Status;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let c = super::load(root, id)?;
    release(&c)?;
    poststart(&c)
}

pub fn poststart(c: &Loaded) -> Result<()> {
    let poststart = c.state.hooks.as_ref().and_then(|h| h.poststart().as_ref());
    if poststart.is_none_or(|v| v.is_empty()) {
        return Ok(());
    }
    let json = serde_json::to_string(&c.state.oci(Status::Running))?;
    // The runtime-spec makes a poststart failure a warning (the container
    // is already running) and the rest of the list still runs.
    crate::hooks::run_all_warn("poststart", poststart, &json);
    Ok(())
}

pub fn release(c: &Loaded) -> Result<()> {
    match c.status {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped: {}", c.state.id),
        s => bail!(
            "cannot start an already {} container: {}",
            s.as_str(),
            c.state.id
        ),
    }
    let fifo = c.dir.fifo();
    // Non-blocking: opening for read succeeds at once and lets the init's
    // blocked open for write go on; the byte it writes says it did.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .with_context(|| format!("open {}", fifo.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut pfd = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n > 0 && pfd.revents & libc::POLLIN != 0 {
            let mut b = [0u8; 1];
            // SAFETY: reading into a live one-byte buffer.
            let r = unsafe { libc::read(f.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
            if r == 1 {
                break;
            }
        }
        if !crate::state::init_alive(&c.state) {
            bail!("container init exited before start: {}", c.state.id);
        }
        if Instant::now() > deadline {
            bail!(
                "container init did not take the start signal within 10s: {}",
                c.state.id
            );
        }
    }
    crate::fault::point("start:released");
    std::fs::remove_file(&fifo).with_context(|| format!("remove {}", fifo.display()))?;
    crate::logging::debug(|| format!("start {}: init {} released", c.state.id, c.state.pid));
    Ok(())
}

//! `start`: release the init blocked on exec.fifo, then run poststart hooks.

use std::fmt::Display;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::Opened;
use crate::state::{State, Status};

/// How long the init may take to read the start byte (it is blocked on
/// the fifo, so only a stopped or frozen init takes long).
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the wait for the init to take the byte looks whether it is
/// still alive (milliseconds; an init that died leaves no reader).
const ALIVE_CHECK_MS: u8 = 100;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let c = super::load(root, id)?;
    release(&c, None)?;
    poststart(&c)
}

pub fn poststart(c: &Opened) -> Result<()> {
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

/// Releases the init blocked on the start gate: exec.fifo, or the pipe
/// whose write end `run` holds (`gate`, see create::Gate::Pipe).
pub fn release(c: &Opened, gate: Option<&OwnedFd>) -> Result<()> {
    match c.status {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped: {}", c.state.id),
        // runc's words for each state.
        Status::Running => bail!("cannot start an already running container: {}", c.state.id),
        s => bail!(
            "cannot start a container in the {} state: {}",
            s.as_str(),
            c.state.id
        ),
    }
    match gate {
        Some(g) => release_pipe(c, g.as_fd()),
        // Held by a `run`, which starts it itself: there is no exec.fifo.
        None if c.state.start_gate.is_some() => bail!(
            "container {} is started by the `outlet run` that created it",
            c.state.id
        ),
        None => release_fifo(c),
    }
}

/// `run`'s gate when create put the byte in already (`Gate::PipeOpened`):
/// only the wait until the init has taken it.
pub fn wait_opened(c: &Opened, g: &OwnedFd) -> Result<()> {
    wait_taken(&c.state, g.as_fd(), &"the start gate")
}

/// `run`'s gate. A write finding no reader (EPIPE) is the fifo's ENXIO:
/// the init is gone, or was released from inside and runs.
fn release_pipe(c: &Opened, g: BorrowedFd) -> Result<()> {
    match write_start_byte(g) {
        Ok(_) => wait_taken(&c.state, g, &"the start gate")?,
        Err(Errno::EPIPE) => return released_early(c),
        Err(e) => return Err(e).context("write the start gate"),
    }
    crate::logging::debug(|| format!("start {}: init {} released", c.state.id, c.state.pid));
    Ok(())
}

/// No reader left on the gate: an init that is alive was released by a
/// process of the container that could reach the gate (through
/// /proc/1/fd). It is running, which is what start was to achieve.
fn released_early(c: &Opened) -> Result<()> {
    if !crate::state::init_alive(&c.state) {
        bail!("container init exited before start: {}", c.state.id);
    }
    crate::logging::stderr(format_args!(
        "outlet: warning: container {}: the init was released before start \
         (from inside the container)",
        c.state.id
    ));
    Ok(())
}

fn release_fifo(c: &Opened) -> Result<()> {
    let fifo = c.dir.fifo();
    // The init holds the fifo open for reading (and writing) and blocks
    // reading it: a byte from us releases it, and it closes the fifo once
    // it has the byte. Non-blocking, so that with no reader left (the init
    // is gone) the open fails at once with ENXIO instead of waiting.
    let f = match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&fifo)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            released_early(c)?;
            std::fs::remove_file(&fifo).with_context(|| format!("remove {}", fifo.display()))?;
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("open {}", fifo.display())),
    };
    push_start_byte(&c.state, f.as_fd(), &fifo.display())?;
    crate::fault::point("start:released");
    std::fs::remove_file(&fifo).with_context(|| format!("remove {}", fifo.display()))?;
    crate::logging::debug(|| format!("start {}: init {} released", c.state.id, c.state.pid));
    Ok(())
}

/// Writes the start byte into the gate `f` (its write end) and waits until
/// the init has taken it.
fn push_start_byte(state: &State, f: BorrowedFd, what: &dyn Display) -> Result<()> {
    write_start_byte(f).with_context(|| format!("write {what}"))?;
    wait_taken(state, f, what)
}

/// The one byte that releases the init; a signal that interrupts the
/// write is no reason to leave the container unstarted (faults_s8.rs
/// `eintr_is_retried_by_start`).
pub(super) fn write_start_byte(f: BorrowedFd) -> nix::Result<usize> {
    loop {
        match nix::unistd::write(f, b"0") {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// The init closes its reading end once it has the byte: no reader is
/// left (POLLERR) and nothing is left unread.
fn wait_taken(state: &State, f: BorrowedFd, what: &dyn Display) -> Result<()> {
    // With startContainer hooks the init takes the byte only once they
    // have passed: it is alive and busy as long as they take.
    let hooks = state
        .hooks
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
        .is_some_and(|v| !v.is_empty());
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        // No events asked for: POLLERR (no reader left) is always reported.
        let mut pfd = [PollFd::new(f, PollFlags::empty())];
        let n = poll(&mut pfd, PollTimeout::from(ALIVE_CHECK_MS)).unwrap_or(0);
        if n > 0
            && pfd[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLERR))
        {
            break;
        }
        if !crate::state::init_alive(state) {
            bail!("container init exited before start: {}", state.id);
        }
        if !hooks && Instant::now() > deadline {
            bail!(
                "container init did not take the start signal within {}s: {}",
                START_TIMEOUT.as_secs(),
                state.id
            );
        }
    }
    // The last reader is gone: the init took our byte, or died first and
    // left it in the pipe.
    let unread =
        crate::syscall::process::unread_bytes(f).with_context(|| format!("FIONREAD {what}"))?;
    if unread == 0 {
        return Ok(());
    }
    // A dying process closes its files before it turns zombie: wait for
    // the end, so that a `state` right after the error says stopped, not
    // created.
    let gone_by = Instant::now() + Duration::from_secs(2);
    while crate::state::init_alive(state) && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Alive all the same: it took another byte (a `start` killed after
    // its write left one before ours) and runs, which is what we were to
    // achieve; ours is left in a gate nobody reads.
    if crate::state::init_alive(state) && !crate::fault::control("OUTLET_START_UNREAD_IS_DEATH") {
        return Ok(());
    }
    if hooks {
        bail!(
            "container {} stopped before its process ran: a startContainer hook failed \
             (its error is on the container's stderr) or the init was killed",
            state.id
        );
    }
    bail!("container init exited before start: {}", state.id);
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    /// This test process as the "init": alive for the whole test.
    fn state() -> State {
        let pid = nix::unistd::getpid().as_raw();
        let (start, _) = crate::process::pidstat::start_time(pid).unwrap();
        State {
            oci_version: String::new(),
            id: "gate".into(),
            pid,
            bundle: Default::default(),
            rootfs: Default::default(),
            created: String::new(),
            owner: String::new(),
            annotations: Default::default(),
            init_start_time: start,
            cgroup: Default::default(),
            hooks: None,
            namespaces: Vec::new(),
            use_terminal: false,
            start_gate: None,
        }
    }

    /// Waits until `r` has something to read, then reads it or not.
    fn reader(r: OwnedFd, take: bool) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let mut pfd = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
            poll(&mut pfd, PollTimeout::NONE).unwrap();
            if take {
                let mut b = [0u8; 1];
                assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut b), Ok(1));
                assert_eq!(b[0], b'0');
            }
        })
    }

    /// `run`'s pipe gate: released once the reader has taken the byte and
    /// closed its end. The control: a reader that closes its end without
    /// taking the byte, with the init gone (it died on the way), is an
    /// error. (An init still alive took an earlier byte: tests/
    /// start_stale_byte_s11.rs.)
    #[test]
    fn the_pipe_gate_is_released_only_by_a_reader_that_took_the_byte() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let t = reader(r, true);
        push_start_byte(&state(), w.as_fd(), &"gate").expect("released");
        t.join().unwrap();

        let mut gone = state();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        gone.pid = child.id() as i32;
        child.wait().unwrap();
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let t = reader(r, false);
        let err = push_start_byte(&gone, w.as_fd(), &"gate").unwrap_err();
        t.join().unwrap();
        assert_eq!(
            err.to_string(),
            "container init exited before start: gate",
            "{err:#}"
        );
    }

    /// A gate nobody reads any more: with the init alive (released from
    /// inside), `run` goes on; the control, an init that is gone, is the
    /// error it must be.
    #[test]
    fn a_gate_without_reader_is_an_early_release_only_while_the_init_lives() {
        let t = crate::security::testutil::TempDir::new("start-gate");
        let opened = |state: State| Opened {
            dir: crate::state::ContainerDir::create(&t.0, &state.id).unwrap(),
            state,
            status: Status::Created,
        };
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        drop(r);
        release(&opened(state()), Some(&w)).expect("released from inside");

        let mut gone = state();
        gone.id = "gone".into();
        let child = std::process::Command::new("true").spawn().unwrap();
        gone.pid = child.id() as i32;
        let mut child = child;
        child.wait().unwrap();
        let err = release(&opened(gone), Some(&w)).unwrap_err();
        assert_eq!(err.to_string(), "container init exited before start: gone");
    }
}

//! The gate a created init waits at until it is started: exec.fifo for
//! `create` (then `start`, another process), a pipe for `run`, which may
//! put the start byte in with `Recorded` (see `Gate::PipeOpened`).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use anyhow::{Context, Result};

use crate::state::{ContainerDir, StartGate};
use crate::syscall;

/// What the created init blocks on until it is started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// exec.fifo in the state dir: `start` is another process, which finds
    /// it by path (and `state` reads "created" while it exists).
    Fifo,
    /// A pipe whose write end stays with `run`, the one process that
    /// starts this container: no file in the state dir to make and remove
    /// (an inode each way, which on a journal-less ext4 root costs a scan
    /// of recently freed inodes). The init reads it exactly as it reads the
    /// fifo.
    Pipe,
    /// `Pipe`, with the start byte put into the gate right before
    /// `Recorded` (`run` with nothing of its own to do between create and
    /// start): the init, once it has turned its death signal off, finds the
    /// byte waiting and goes on to its execve, instead of sleeping until the
    /// parent has seen the channel close and written it (one cross-CPU
    /// wake-up and the parent's syscalls off the path to the application).
    /// The byte is harmless before `Recorded`: the init reads the gate only
    /// after it. With `block`, the signals `run` forwards are blocked first,
    /// so that none is lost once the application can run.
    PipeOpened { block: bool },
}

/// The init's end of the gate (the fifo, or the pipe's reading end) and,
/// with a pipe, `run`'s end and the record by which `state` tells the init
/// still waits at it.
pub(super) fn open_ends(
    gate: Gate,
    dir: &ContainerDir,
) -> Result<(OwnedFd, Option<(OwnedFd, StartGate)>)> {
    Ok(match gate {
        Gate::Fifo => (open_exec_fifo(dir)?, None),
        Gate::Pipe | Gate::PipeOpened { .. } => {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .context("pipe for the start gate")?;
            // The init keeps its end at this fd number (see init::Args).
            let st = nix::sys::stat::fstat(r.as_raw_fd()).context("fstat the start gate")?;
            let g = StartGate {
                fd: r.as_raw_fd(),
                pipe: st.st_ino,
            };
            (r, Some((w, g)))
        }
    })
}

/// The init gets the fifo open for reading and writing (which never
/// blocks) and waits on it without reopening it: it needs no /proc and no
/// path, and only `start`, from the host, opens the file again.
fn open_exec_fifo(dir: &ContainerDir) -> Result<OwnedFd> {
    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .with_context(|| format!("mkfifo {}", fifo_path.display()))?;
    syscall::openat2(
        libc::AT_FDCWD,
        &fifo_path,
        libc::O_RDWR | libc::O_NOFOLLOW,
        0,
    )
    .with_context(|| format!("open {}", fifo_path.display()))
}

/// `Gate::PipeOpened`: the start byte, written while the init still waits
/// for `Recorded` (it holds the reading end until it has the byte, so
/// `state` reads "created" until then, as with `Gate::Pipe`).
pub(super) fn put_byte(end: &OwnedFd, block: bool) -> Result<Option<nix::sys::signal::SigSet>> {
    let blocked = match block {
        true => Some(crate::signals::block_forwarded()?),
        false => None,
    };
    super::start::write_start_byte(end.as_fd()).context("write the start gate")?;
    Ok(blocked)
}

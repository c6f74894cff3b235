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

/// `put_byte`, where a gate nobody reads any more (EPIPE: the init, its
/// only reader, is gone) is reported by the init's own error when it left
/// one on the channel: an init that failed on its own (its wait for
/// `Recorded`, say) exits, and the write's EPIPE alone would hide why
/// (faults_s8 saw `write the start gate: EPIPE` for an injected EAGAIN).
/// The channel is closed by then (the init's fds went with it), so the
/// read does not wait.
pub(super) fn put_byte_or_why(
    end: &OwnedFd,
    block: bool,
    chan: &crate::process::sync::Channel,
) -> Result<Option<nix::sys::signal::SigSet>> {
    use crate::process::sync::{self, Channel, Msg};
    match put_byte(end, block) {
        Err(e) if Channel::peer_gone(&e) => match chan.recv() {
            Ok(Some(Msg::Error { errno, context })) => {
                Err(sync::remote_error(errno, context).context("container init before start"))
            }
            _ => Err(e),
        },
        r => r,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::sync::{self, Msg};

    /// A gate whose reader is gone, with the init's error waiting on the
    /// channel: that error is the answer, not the write's EPIPE. Control:
    /// an init gone without a word leaves the EPIPE. (The test harness
    /// ignores SIGPIPE, as outlet does.)
    #[test]
    fn a_gate_nobody_reads_says_why_the_init_left() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        drop(r);
        let (ours, init) = sync::pair().unwrap();
        init.send(&Msg::Error {
            errno: libc::EAGAIN,
            context: "sync: recv".into(),
        })
        .unwrap();
        drop(init);
        let e = put_byte_or_why(&w, false, &ours).unwrap_err();
        assert!(format!("{e:#}").contains("sync: recv"), "{e:#}");

        let (ours, init) = sync::pair().unwrap();
        drop(init);
        let e = put_byte_or_why(&w, false, &ours).unwrap_err();
        assert!(format!("{e:#}").contains("write the start gate"), "{e:#}");
    }
}

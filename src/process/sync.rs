//! The sync protocol between outlet and the processes it clones (the
//! container's init in `create`; the helper and the process in `exec`),
//! over a SOCK_SEQPACKET socketpair: one message per send, never merged or
//! split, so a message needs no length prefix.
//!
//! Wire format: `[VERSION][tag][payload]`. Integers are little-endian i32.
//!
//! | tag | message            | payload          | direction and meaning |
//! |-----|--------------------|------------------|-----------------------|
//! | `U` | `Unshared`         | -                | init/helper -> outlet: its namespaces (a user namespace above all) exist: map the ids and place it in its cgroup |
//! | `M` | `Placed`           | i32 init pid     | outlet -> init (create): mapped and placed; the payload is the init's host pid |
//! | `V` | `DevicesSet`       | -                | outlet -> init (create, v2, the program deferred past the clone): the device program is attached; the init waits for it before it makes or opens anything in the container's /dev (see container/create_devices.rs) |
//! | `J` | `HelperPlaced`     | -                | outlet -> exec helper: placed in the cgroup, go on |
//! | `H` | `HooksDue`         | -                | init -> outlet: mounts are done, run prestart/createRuntime |
//! | `D` | `HooksDone`        | -                | outlet -> init: those hooks ran |
//! | `P` | `ProcessPid`       | i32 host pid     | exec helper -> outlet: the pid of the process it forked |
//! | `F` | `InitPid`          | i32 host pid     | init -> outlet (create), only when a joined user namespace owns a new pid namespace: the init forked the container's pid 1 (see init_fork.rs) and exits; from here on that child is the init |
//! | `R` | `Ready`            | -                | init/exec process -> outlet: set up, about to block on exec.fifo (create) or execve (exec) |
//! | `C` | `Recorded`         | -                | outlet -> init (create), after `R`: state.json and the pid file are written, so the init may turn its death signal off; it then closes its end, which `create` waits for |
//! | `E` | `Error`            | i32 errno, text  | -> outlet: setup failed (errno 0: none known), the sender exits |
//! | `W` | `Warning`          | text             | -> outlet: logged, setup goes on |
//!
//! A message is at most `MAX_MSG` bytes: error and warning texts are cut to
//! fit, anything longer is refused on both sides.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, socketpair};

/// Bumped when the wire format changes: outlet and its init are the same
/// binary, but a mismatch must fail loudly rather than be misread.
const VERSION: u8 = 1;
/// Big enough for any error chain outlet builds; small enough to receive
/// into a stack buffer that costs nothing to clear.
pub const MAX_MSG: usize = 4096;
/// Version, tag.
const HEADER: usize = 2;

const TAG_UNSHARED: u8 = b'U';
const TAG_PLACED: u8 = b'M';
const TAG_HELPER_PLACED: u8 = b'J';
const TAG_DEVICES_SET: u8 = b'V';
const TAG_HOOKS_DUE: u8 = b'H';
const TAG_HOOKS_DONE: u8 = b'D';
const TAG_PROCESS_PID: u8 = b'P';
const TAG_INIT_PID: u8 = b'F';
const TAG_READY: u8 = b'R';
const TAG_RECORDED: u8 = b'C';
const TAG_ERROR: u8 = b'E';
const TAG_WARNING: u8 = b'W';

// Debug only for tests: errors name a message by `name`, which costs the
// binary less than derived formatting.
#[cfg_attr(test, derive(Debug))]
#[derive(Clone, PartialEq, Eq)]
pub enum Msg {
    Unshared,
    Placed { init_pid: i32 },
    DevicesSet,
    HelperPlaced,
    HooksDue,
    HooksDone,
    ProcessPid(i32),
    InitPid(i32),
    Ready,
    Recorded,
    Error { errno: i32, context: String },
    Warning(String),
}

impl Msg {
    /// The variant's name, for errors about an unexpected message.
    pub fn name(&self) -> &'static str {
        match self {
            Msg::Unshared => "Unshared",
            Msg::Placed { .. } => "Placed",
            Msg::DevicesSet => "DevicesSet",
            Msg::HelperPlaced => "HelperPlaced",
            Msg::HooksDue => "HooksDue",
            Msg::HooksDone => "HooksDone",
            Msg::ProcessPid(_) => "ProcessPid",
            Msg::InitPid(_) => "InitPid",
            Msg::Ready => "Ready",
            Msg::Recorded => "Recorded",
            Msg::Error { .. } => "Error",
            Msg::Warning(_) => "Warning",
        }
    }

    /// The error as it crosses: the errno of the first OS error in its chain
    /// (kept apart, so the parent can rebuild it as a source) and the rest of
    /// the chain as text, cut to fit one message.
    pub fn error(err: &anyhow::Error) -> Msg {
        let mut errno = 0;
        let mut context = String::new();
        for cause in err.chain() {
            let os = cause
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error)
                .or_else(|| cause.downcast_ref::<Errno>().map(|e| *e as i32));
            if errno == 0
                && let Some(n) = os
            {
                errno = n;
                continue;
            }
            if !context.is_empty() {
                context.push_str(": ");
            }
            context.push_str(&cause.to_string());
        }
        Msg::Error {
            errno,
            context: cut(context, MAX_MSG - HEADER - 4),
        }
    }

    pub fn warning(text: String) -> Msg {
        Msg::Warning(cut(text, MAX_MSG - HEADER))
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        let (tag, num, text): (u8, Option<i32>, &str) = match self {
            Msg::Unshared => (TAG_UNSHARED, None, ""),
            Msg::Placed { init_pid } => (TAG_PLACED, Some(*init_pid), ""),
            Msg::DevicesSet => (TAG_DEVICES_SET, None, ""),
            Msg::HelperPlaced => (TAG_HELPER_PLACED, None, ""),
            Msg::HooksDue => (TAG_HOOKS_DUE, None, ""),
            Msg::HooksDone => (TAG_HOOKS_DONE, None, ""),
            Msg::ProcessPid(pid) => (TAG_PROCESS_PID, Some(*pid), ""),
            Msg::InitPid(pid) => (TAG_INIT_PID, Some(*pid), ""),
            Msg::Ready => (TAG_READY, None, ""),
            Msg::Recorded => (TAG_RECORDED, None, ""),
            Msg::Error { errno, context } => (TAG_ERROR, Some(*errno), context),
            Msg::Warning(text) => (TAG_WARNING, None, text),
        };
        let len = HEADER + num.map_or(0, |_| 4) + text.len();
        if len > MAX_MSG {
            bail!("sync: a {len}-byte message is over the {MAX_MSG}-byte limit");
        }
        let mut buf = Vec::with_capacity(len);
        buf.extend_from_slice(&[VERSION, tag]);
        if let Some(n) = num {
            buf.extend_from_slice(&n.to_le_bytes());
        }
        buf.extend_from_slice(text.as_bytes());
        Ok(buf)
    }

    pub fn decode(buf: &[u8]) -> Result<Msg> {
        let [version, tag, payload @ ..] = buf else {
            bail!("sync: a {}-byte message is too short", buf.len());
        };
        if *version != VERSION {
            bail!("sync: protocol version {version}, expected {VERSION}");
        }
        let empty = |m: Msg| -> Result<Msg> {
            if !payload.is_empty() {
                bail!("sync: message {:?} with a stray payload", *tag as char);
            }
            Ok(m)
        };
        let int = || -> Result<(i32, &[u8])> {
            let (n, rest) = payload
                .split_first_chunk::<4>()
                .with_context(|| format!("sync: message {:?} cut short", *tag as char))?;
            Ok((i32::from_le_bytes(*n), rest))
        };
        let int_only = || -> Result<i32> {
            let (n, rest) = int()?;
            if !rest.is_empty() {
                bail!("sync: message {:?} with a stray payload", *tag as char);
            }
            Ok(n)
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(match *tag {
            TAG_UNSHARED => empty(Msg::Unshared)?,
            TAG_PLACED => Msg::Placed {
                init_pid: int_only()?,
            },
            TAG_DEVICES_SET => empty(Msg::DevicesSet)?,
            TAG_HELPER_PLACED => empty(Msg::HelperPlaced)?,
            TAG_HOOKS_DUE => empty(Msg::HooksDue)?,
            TAG_HOOKS_DONE => empty(Msg::HooksDone)?,
            TAG_PROCESS_PID => Msg::ProcessPid(int_only()?),
            TAG_INIT_PID => Msg::InitPid(int_only()?),
            TAG_READY => empty(Msg::Ready)?,
            TAG_RECORDED => empty(Msg::Recorded)?,
            TAG_ERROR => {
                let (errno, rest) = int()?;
                Msg::Error {
                    errno,
                    context: text(rest),
                }
            }
            TAG_WARNING => Msg::Warning(text(payload)),
            other => bail!("sync: unknown message tag {other:#04x}"),
        })
    }
}

/// The error a peer reported, rebuilt so that its errno is an io::Error
/// source callers can match the kind of, and its text reads as it did.
pub fn remote_error(errno: i32, context: String) -> anyhow::Error {
    match (errno, context.is_empty()) {
        (0, _) => anyhow::Error::msg(context),
        (n, true) => std::io::Error::from_raw_os_error(n).into(),
        (n, false) => anyhow::Error::new(std::io::Error::from_raw_os_error(n)).context(context),
    }
}

/// At most `max` bytes, cut at a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the init sync")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let buf = msg.encode()?;
        // MSG_NOSIGNAL: a peer that died is an error to report, not SIGPIPE.
        loop {
            match nix::sys::socket::send(self.fd.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                r => return r.map(drop).context("sync: send"),
            }
        }
    }

    /// `send`, then the peer's answer. A peer that failed on its own first
    /// sent its error and exited: the send meets a closed socket, and the
    /// error it left is still there to read, which is what the caller
    /// must report (faults_s8 saw the send's EPIPE instead). `None` only
    /// when the send went through and the peer then closed its end.
    pub fn send_then_recv(&self, msg: &Msg) -> Result<Option<Msg>> {
        let sent = self.send(msg);
        if let Err(e) = &sent
            && !Self::peer_gone(e)
        {
            return sent.map(|()| None);
        }
        match self.recv()? {
            None => sent.map(|()| None),
            answer => Ok(answer),
        }
    }

    /// `send`, where a peer already gone is not the sender's failure:
    /// `create`'s messages sent before it reads the init's (whose reading
    /// tells how the init ended).
    pub fn send_unless_gone(&self, msg: &Msg) -> Result<()> {
        match self.send(msg) {
            Err(e) if !Self::peer_gone(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether `send` failed because the peer is gone (it exited, or was
    /// killed): a child whose parent already said why, or died, has no
    /// one to tell and must not add a second line to the caller's stderr.
    pub fn peer_gone(e: &anyhow::Error) -> bool {
        e.chain().any(|c| {
            matches!(
                c.downcast_ref::<Errno>(),
                Some(Errno::EPIPE | Errno::ECONNRESET)
            )
        })
    }

    /// `send` with `fd` passed along (SCM_RIGHTS): the init's socket in its
    /// new network namespace, with `Unshared`, for `create` to bring `lo`
    /// up while the init mounts.
    pub fn send_with_fd(&self, msg: &Msg, fd: BorrowedFd) -> Result<()> {
        let buf = msg.encode()?;
        loop {
            match crate::syscall::fdpass::send_fd(self.as_fd(), &buf, fd, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                r => return r.map(drop).context("sync: send"),
            }
        }
    }

    /// The next message, warnings included; None when every peer has closed
    /// its end (exited).
    pub fn recv_any(&self) -> Result<Option<Msg>> {
        self.recv_inner(None)
    }

    /// `recv`, keeping an fd the message carries (see `send_with_fd`).
    /// Parent side only: receiving a control message allocates.
    pub fn recv_with_fd(&self) -> Result<(Option<Msg>, Option<OwnedFd>)> {
        let mut fd = None;
        loop {
            match self.recv_inner(Some(&mut fd))? {
                Some(Msg::Warning(w)) => crate::logging::warn(&w),
                other => return Ok((other, fd)),
            }
        }
    }

    fn recv_inner(&self, mut fd: Option<&mut Option<OwnedFd>>) -> Result<Option<Msg>> {
        // One byte over the limit: a message that fills it is too long (a
        // SEQPACKET read cuts the rest off).
        let mut buf = [0u8; MAX_MSG + 1];
        let mut reset = false;
        let n = loop {
            let got = match fd.as_deref_mut() {
                Some(slot) => {
                    crate::syscall::fdpass::recv_fd(self.as_fd(), &mut buf).map(|(n, f)| {
                        *slot = f;
                        n
                    })
                }
                None => nix::sys::socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()),
            };
            match got {
                Err(Errno::EINTR) => continue,
                // A peer that died with our last message unread (an init
                // the OOM killer took during setup, or one that failed
                // with `Placed` still queued) resets the connection. The
                // kernel reports the reset once, before what the peer
                // sent last (its Error): read on, and only what follows
                // the queue, EOF, is its exit, which the caller explains
                // (faults_s8: run -d, PR_SET_PDEATHSIG failing with Placed
                // unread; conform_s8: a namespace path that is a file).
                Err(Errno::ECONNRESET) if !reset => reset = true,
                Err(Errno::ECONNRESET) => return Ok(None),
                r => break r.context("sync: recv")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        if n > MAX_MSG {
            bail!("sync: a message over the {MAX_MSG}-byte limit");
        }
        Msg::decode(&buf[..n]).map(Some)
    }

    /// The next message that is not a warning: warnings go to the log.
    pub fn recv(&self) -> Result<Option<Msg>> {
        loop {
            match self.recv_any()? {
                Some(Msg::Warning(w)) => crate::logging::warn(&w),
                other => return Ok(other),
            }
        }
    }

    /// Whether the peer has closed its end (exited, or was killed), asked
    /// without waiting. Queued messages do not hide it: a peer that sent
    /// and then died still reads as closed.
    pub fn peer_closed(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        // POLLHUP needs no asking: the kernel reports it once the peer's
        // end is closed.
        let mut fds = [PollFd::new(self.as_fd(), PollFlags::empty())];
        // A poll that fails says nothing either way: the setup goes on,
        // and its next exchange with the parent finds out.
        poll(&mut fds, PollTimeout::ZERO).is_ok()
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLHUP))
    }

    /// Die with the parent at the other end: SIGKILL when it dies from
    /// here on, and an end at once when it is already gone. The death
    /// signal covers only a parent that dies after it is set; a child whose
    /// parent was killed before (while the child waited for a CPU) would go
    /// on alone into the cgroup, where a `delete --force` that had already
    /// found it empty takes it for someone else's process and leaves the
    /// directory (tests/crash.rs). The parent's closed end says it is gone.
    /// Debug builds' `OUTLET_ORPHAN_GOES_ON=1`: the tests' control.
    pub fn die_with_parent(&self) -> Result<()> {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
            .context("PR_SET_PDEATHSIG")?;
        if self.peer_closed() && !crate::fault::control("OUTLET_ORPHAN_GOES_ON") {
            crate::syscall::exit_now(1);
        }
        Ok(())
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Msg> {
        vec![
            Msg::Unshared,
            Msg::Placed { init_pid: 4242 },
            Msg::Placed { init_pid: i32::MAX },
            Msg::DevicesSet,
            Msg::HelperPlaced,
            Msg::HooksDue,
            Msg::HooksDone,
            Msg::ProcessPid(7),
            Msg::InitPid(8),
            Msg::Ready,
            Msg::Recorded,
            Msg::Error {
                errno: libc::EACCES,
                context: "mount /proc: ünïcode".into(),
            },
            Msg::Error {
                errno: 0,
                context: String::new(),
            },
            Msg::Warning("seccomp: arch skipped".into()),
        ]
    }

    #[test]
    fn every_message_round_trips_over_a_socketpair() {
        let (a, b) = pair().unwrap();
        for m in all() {
            a.send(&m).unwrap();
            assert_eq!(b.recv_any().unwrap(), Some(m.clone()));
            b.send(&m).unwrap();
            assert_eq!(a.recv_any().unwrap(), Some(m));
        }
    }

    #[test]
    fn recv_skips_warnings() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::warning("w".into())).unwrap();
        a.send(&Msg::Ready).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Ready));
    }

    /// A peer that sent its error and closed before our send: the answer
    /// is its error, not our send's EPIPE. Controls: a peer that closed
    /// without a word is the send's failure; one that stays and closes
    /// after reading is the plain end.
    #[test]
    fn send_then_recv_reads_what_a_gone_peer_left() {
        let (a, b) = pair().unwrap();
        let error = Msg::Error {
            errno: libc::EAGAIN,
            context: "sync: recv".into(),
        };
        b.send(&error).unwrap();
        drop(b);
        assert_eq!(a.send_then_recv(&Msg::Recorded).unwrap(), Some(error));

        let (a, b) = pair().unwrap();
        drop(b);
        let e = a.send_then_recv(&Msg::Recorded).unwrap_err();
        assert!(Channel::peer_gone(&e), "{e:#}");

        let (a, b) = pair().unwrap();
        let t = std::thread::spawn(move || assert_eq!(b.recv().unwrap(), Some(Msg::Recorded)));
        assert_eq!(a.send_then_recv(&Msg::Recorded).unwrap(), None);
        t.join().unwrap();
    }

    #[test]
    fn eof_when_the_peer_closes() {
        let (a, b) = pair().unwrap();
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
        assert!(b.send(&Msg::Ready).is_err(), "send to a closed peer");
    }

    #[test]
    fn peer_closed_only_once_the_peer_has_closed() {
        let (a, b) = pair().unwrap();
        assert!(!b.peer_closed(), "an open peer");
        // A message queued by a peer that then went still reads as closed
        // (the init's check after the parent sent Placed and died).
        a.send(&Msg::Ready).unwrap();
        assert!(!b.peer_closed(), "a message alone is no hangup");
        drop(a);
        assert!(b.peer_closed(), "a closed peer with a message queued");
    }

    #[test]
    fn eof_when_the_peer_dies() {
        use crate::syscall::{Forked, clone_process};
        use nix::sys::wait::{WaitStatus, waitpid};
        use nix::unistd::Pid;
        let (a, b) = pair().unwrap();
        // Encoded before the clone: the child must not allocate, since a
        // raw clone runs no atfork handler and another test thread may hold
        // the allocator's lock (seen: the child stuck on a futex). It only
        // sends bytes on an inherited socket and _exits.
        let bytes = Msg::Unshared.encode().unwrap();
        match clone_process(0, None).unwrap().0 {
            Forked::Child => {
                drop(b);
                let sent = nix::sys::socket::send(a.raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL);
                crate::syscall::exit_now(i32::from(sent.is_err()))
            }
            Forked::Parent(child) => {
                let child = Pid::from_raw(child);
                drop(a);
                assert_eq!(b.recv().unwrap(), Some(Msg::Unshared));
                assert_eq!(b.recv().unwrap(), None, "EOF once the child died");
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            }
        }
    }

    fn raw_send(c: &Channel, bytes: &[u8]) {
        nix::sys::socket::send(c.raw_fd(), bytes, MsgFlags::empty()).unwrap();
    }

    #[test]
    fn short_and_garbled_messages_are_refused() {
        let (a, b) = pair().unwrap();
        let bad: &[&[u8]] = &[
            &[VERSION],                                 // no tag
            &[VERSION, TAG_PLACED, 1, 2],               // pid cut short
            &[VERSION, TAG_ERROR, 1],                   // errno cut short
            &[VERSION, TAG_READY, 0],                   // stray payload
            &[VERSION, TAG_PROCESS_PID, 1, 0, 0, 0, 9], // stray payload
            &[VERSION, b'?'],                           // unknown tag
            &[VERSION + 1, TAG_READY],                  // other version
            b"G1234",                                   // the old format
        ];
        for m in bad {
            raw_send(&a, m);
            assert!(b.recv_any().is_err(), "{m:?} accepted");
        }
        // Control: the well-formed bytes of the same messages pass.
        raw_send(&a, &[VERSION, TAG_PLACED, 1, 2, 0, 0]);
        assert_eq!(
            b.recv_any().unwrap(),
            Some(Msg::Placed { init_pid: 0x0201 })
        );
    }

    /// `Unshared` with the init's socket: the fd arrives with the message,
    /// and a plain `recv` of the same drops it (the control: only
    /// `recv_with_fd` keeps it).
    #[test]
    fn a_message_brings_its_fd_along() {
        use std::os::fd::AsFd;
        let (a, b) = pair().unwrap();
        let (r, _w) = nix::unistd::pipe().unwrap();
        a.send_with_fd(&Msg::Unshared, r.as_fd()).unwrap();
        let (m, fd) = b.recv_with_fd().unwrap();
        assert_eq!(m, Some(Msg::Unshared));
        let got = nix::sys::stat::fstat(fd.expect("the fd").as_raw_fd()).unwrap();
        let sent = nix::sys::stat::fstat(r.as_raw_fd()).unwrap();
        assert_eq!((got.st_dev, got.st_ino), (sent.st_dev, sent.st_ino));
        a.send_with_fd(&Msg::Unshared, r.as_fd()).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Unshared));
        a.send(&Msg::Ready).unwrap();
        let (m, fd) = b.recv_with_fd().unwrap();
        assert!(m == Some(Msg::Ready) && fd.is_none());
    }

    #[test]
    fn oversized_messages_are_refused() {
        let (a, b) = pair().unwrap();
        let big = "x".repeat(MAX_MSG);
        assert!(Msg::Warning(big.clone()).encode().is_err());
        // A peer that sends more anyway is refused by the reader.
        let mut raw = vec![VERSION, TAG_WARNING];
        raw.extend_from_slice(big.as_bytes());
        raw_send(&a, &raw);
        assert!(b.recv_any().is_err());
        // Control: exactly the limit passes.
        raw.truncate(MAX_MSG);
        raw_send(&a, &raw);
        assert!(matches!(b.recv_any().unwrap(), Some(Msg::Warning(w)) if w.len() == MAX_MSG - 2));
        // Errors and warnings are cut to fit rather than lost.
        let e = Msg::error(&anyhow::anyhow!("x{}", "é".repeat(MAX_MSG)));
        assert_eq!(
            e.encode().unwrap().len(),
            MAX_MSG - 1,
            "cut at a char boundary"
        );
        a.send(&e).unwrap();
        assert_eq!(b.recv_any().unwrap(), Some(e));
        a.send(&Msg::warning(big)).unwrap();
        assert!(b.recv_any().unwrap().is_some());
    }

    /// The init that failed with the parent's `Placed` still unread: its
    /// close resets the channel, and its Error, queued before the close,
    /// must still be read (the reset comes first). Control: a peer that
    /// closes with our message unread and sent nothing is an exit (None),
    /// not an error, and not a hang.
    #[test]
    fn the_error_queued_before_a_reset_is_read() {
        let (parent, init) = pair().unwrap();
        parent.send(&Msg::Placed { init_pid: 7 }).unwrap();
        let err = Msg::Error {
            errno: libc::EINVAL,
            context: "join net namespace /x".into(),
        };
        init.send(&err).unwrap();
        drop(init);
        assert_eq!(parent.recv().unwrap(), Some(err));
        assert_eq!(parent.recv().unwrap(), None);

        let (parent, init) = pair().unwrap();
        parent.send(&Msg::Placed { init_pid: 7 }).unwrap();
        drop(init);
        assert_eq!(parent.recv().unwrap(), None);
    }

    #[test]
    fn an_error_keeps_its_errno_and_text() {
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let err = anyhow::Error::new(io).context("open /x").context("mount y");
        let text = format!("{err:#}");
        let Msg::Error { errno, context } = Msg::error(&err) else {
            panic!("not an error")
        };
        assert_eq!(
            (errno, context.as_str()),
            (libc::ENOENT, "mount y: open /x")
        );
        let back = remote_error(errno, context);
        assert_eq!(format!("{back:#}"), text);
        let kind = back
            .chain()
            .find_map(|c| c.downcast_ref::<std::io::Error>());
        assert_eq!(
            kind.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );

        // A nix errno crosses as the same errno.
        let err = anyhow::Error::new(Errno::EPERM).context("setns");
        assert!(matches!(Msg::error(&err), Msg::Error { errno, .. } if errno == libc::EPERM));

        // Without an OS error: text only, no source invented.
        let Msg::Error { errno, context } = Msg::error(&anyhow::anyhow!("bad spec")) else {
            panic!("not an error")
        };
        assert_eq!(errno, 0);
        let back = remote_error(errno, context);
        assert_eq!(format!("{back:#}"), "bad spec");
        assert!(back.downcast_ref::<std::io::Error>().is_none());
    }
}

//! `run` (or a foreground `exec`) of a terminal process without
//! --console-socket: outlet is its own console socket's peer. It listens
//! on a socket in a private temp dir, the init (or the exec'd process)
//! sends the pty master there during setup (exactly as to the shim or
//! conmon), and outlet then relays between its own stdio and the master
//! until that process exits.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// How long to wait for the init's connection once create has returned
/// (it connected during setup, so this is only a guard).
const ACCEPT_TIMEOUT_MS: u16 = 10_000;

/// A listening console socket in a fresh 0700 temp dir, removed on drop.
pub struct OwnConsole {
    dir: PathBuf,
    path: PathBuf,
    listener: UnixListener,
}

impl OwnConsole {
    pub fn new() -> Result<OwnConsole> {
        let template = std::env::temp_dir().join("outlet-console-XXXXXX");
        let dir = nix::unistd::mkdtemp(&template)
            .with_context(|| format!("make a temp dir like {}", template.display()))?;
        let path = dir.join("sock");
        match UnixListener::bind(&path) {
            Ok(listener) => Ok(OwnConsole {
                dir,
                path,
                listener,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e).with_context(|| format!("listen on {}", path.display()))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the pty master the init sent (one SCM_RIGHTS fd).
    pub fn receive_master(&self) -> Result<OwnedFd> {
        let mut pfd = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut pfd, PollTimeout::from(ACCEPT_TIMEOUT_MS))
            .context("wait for the init on the console socket")?;
        if n == 0 {
            bail!("the container init did not connect to the console socket");
        }
        let (conn, _) = self
            .listener
            .accept()
            .context("accept on the console socket")?;
        // The payload is the fd's name, read and dropped.
        match crate::syscall::fdpass::recv_fd(conn.as_fd(), &mut [0u8; 4096]) {
            Ok((_, Some(master))) => Ok(master),
            Ok((_, None)) => bail!("the console socket message carried no file descriptor"),
            Err(e) => Err(e).context("receive the pty master"),
        }
    }
}

impl OwnConsole {
    /// Remove the socket and its dir (also done on drop).
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for OwnConsole {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Our stdin's terminal settings, restored on drop.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Raw mode on stdin when it is a terminal: keys reach the container's
    /// pty unprocessed (its own line discipline echoes and edits).
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// Our terminal's size, when stdin is a terminal with a size: given to a
/// process made after the pty exists (exec) so that it starts at the
/// right size instead of 0x0 until the relay copies it.
pub fn stdin_size() -> Option<oci_spec::runtime::Box> {
    let ws = crate::syscall::process::window_size(std::io::stdin().as_fd()).ok()?;
    if ws.ws_row == 0 {
        return None;
    }
    oci_spec::runtime::BoxBuilder::default()
        .height(ws.ws_row)
        .width(ws.ws_col)
        .build()
        .ok()
}

/// Copy our terminal's size to the container's pty (the kernel then sends
/// SIGWINCH to its foreground process group).
pub fn copy_winsize(master: BorrowedFd) {
    if let Ok(ws) = crate::syscall::process::window_size(std::io::stdin().as_fd()) {
        let _ = crate::syscall::process::set_window_size(master, &ws);
    }
}

fn read_fd(fd: BorrowedFd, buf: &mut [u8]) -> nix::Result<usize> {
    nix::unistd::read(fd.as_raw_fd(), buf)
}

fn write_all_fd(fd: BorrowedFd, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Relay stdin -> master and master -> stdout, forward the signals in
/// `set` (already blocked) to the init, and return its exit code (128+n
/// for signal n) once it has exited and its output is drained.
pub fn relay(master: OwnedFd, init: i32, set: &SigSet) -> Result<i32> {
    let _raw = RawMode::enter();
    copy_winsize(master.as_fd());
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .context("signalfd for the forwarded signals")?;
    let mut r = Relay {
        master,
        stdin: std::io::stdin(),
        stdout: std::io::stdout().lock(),
        child: Pid::from_raw(init),
        stdin_open: true,
        master_open: true,
        buf: [0u8; 8192],
    };
    loop {
        // SIGCHLD may have come before the signalfd existed: look each time.
        if let Some(code) = reap(r.child)? {
            drain(r.master.as_fd(), &mut r.stdout);
            return Ok(code);
        }
        let Some((sig_ready, master_ready, stdin_ready)) = r.poll(&sfd)? else {
            continue;
        };
        if sig_ready {
            r.forward_signals(&sfd);
        }
        if master_ready {
            r.copy_out()?;
        }
        if stdin_ready {
            r.copy_in();
        }
    }
}

/// Both directions of the relay, and whether each is still open.
struct Relay {
    master: OwnedFd,
    stdin: std::io::Stdin,
    stdout: std::io::StdoutLock<'static>,
    child: Pid,
    stdin_open: bool,
    master_open: bool,
    buf: [u8; 8192],
}

impl Relay {
    /// Which of the signalfd, the master and stdin are ready; None when
    /// a signal interrupted the wait.
    fn poll(&self, sfd: &SignalFd) -> Result<Option<(bool, bool, bool)>> {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if self.master_open {
            fds.push(PollFd::new(self.master.as_fd(), PollFlags::POLLIN));
        }
        if self.stdin_open {
            fds.push(PollFd::new(self.stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e).context("poll the terminal"),
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        Ok(Some((
            ready(0),
            self.master_open && ready(1),
            self.stdin_open && ready(if self.master_open { 2 } else { 1 }),
        )))
    }

    fn forward_signals(&self, sfd: &SignalFd) {
        while let Ok(Some(info)) = sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => {}
                Ok(Signal::SIGWINCH) => copy_winsize(self.master.as_fd()),
                Ok(sig) => {
                    // The init is our unreaped child: its pid is not reused.
                    let _ = nix::sys::signal::kill(self.child, sig);
                }
                Err(_) => {}
            }
        }
    }

    /// master -> stdout.
    fn copy_out(&mut self) -> Result<()> {
        match read_fd(self.master.as_fd(), &mut self.buf) {
            Ok(0) | Err(Errno::EIO) => self.master_open = false,
            Ok(n) => {
                if self
                    .stdout
                    .write_all(&self.buf[..n])
                    .and_then(|()| self.stdout.flush())
                    .is_err()
                {
                    // Nobody reads our output any more; keep the
                    // container's writes from blocking on a full pty.
                    self.master_open = false;
                }
            }
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => return Err(e).context("read the pty master"),
        }
        Ok(())
    }

    /// stdin -> master.
    fn copy_in(&mut self) {
        match read_fd(self.stdin.as_fd(), &mut self.buf) {
            Ok(0) => self.stdin_open = false,
            Ok(n) => {
                if write_all_fd(self.master.as_fd(), &self.buf[..n]).is_err() {
                    self.stdin_open = false;
                }
            }
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => self.stdin_open = false,
        }
    }
}

fn reap(child: Pid) -> Result<Option<i32>> {
    match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
        Ok(status) => Ok(crate::signals::exit_code(status)),
        Err(Errno::ECHILD) => Ok(Some(0)),
        Err(e) => Err(e).context("wait for the container init"),
    }
}

/// What the init wrote before exiting is still in the pty: copy it out
/// without waiting for processes that may hold the pty open.
fn drain(master: BorrowedFd, out: &mut impl Write) {
    let _ = nix::fcntl::fcntl(
        master.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let mut buf = [0u8; 8192];
    while let Ok(n) = read_fd(master, &mut buf) {
        if n == 0 || out.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = out.flush();
}

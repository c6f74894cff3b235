//! Terminals: the pty is made inside the container's devpts after
//! pivot_root, and its master is sent over --console-socket with exactly one
//! SCM_RIGHTS message whose data is the fd's name (what the shim and conmon
//! expect). Nothing here trusts a path in the container: /dev/ptmx is
//! opened inside the root and verified to be the pty multiplexer, the slave
//! comes from the master itself (TIOCGPTPEER), and the slave is mounted on
//! /dev/console from its fd onto a target that is not a symlink.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::rootfs::devices::{expect_node, file_kind};
use crate::rootfs::fdmount;
use crate::spec::Process;
use crate::syscall::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, fdpass, ioctl, openat2};
use anyhow::{Context, Result, bail};
use nix::sys::socket::MsgFlags;
use nix::sys::stat::SFlag;

/// Majors of UNIX98 pty slaves (UNIX98_PTY_SLAVE_MAJOR and the 7 after).
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u64> = 136..=143;

/// The error for a console socket given to a process without a terminal:
/// nothing would ever be sent on it, and a caller waiting there would wait
/// forever (runc refuses it too).
pub fn no_terminal_to_send(socket: &Path) -> String {
    format!(
        "--console-socket {}: process.terminal is false, so there is no terminal to send on it",
        socket.display()
    )
}

pub fn connect(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).with_context(|| format!("connect console socket {}", path.display()))
}

/// The container's init: a terminal whose slave is also /dev/console.
pub fn setup_init_terminal(sock: UnixStream, process: &Process) -> Result<()> {
    terminal(sock, process, true)
}

/// An `exec`'d process: a terminal of its own; /dev/console stays the
/// init's.
pub fn setup_terminal(sock: UnixStream, process: &Process) -> Result<()> {
    terminal(sock, process, false)
}

/// Open a pty, send its master, mount its slave on /dev/console when
/// `console`, make the slave our controlling terminal and stdio. Runs
/// inside the container's root.
fn terminal(sock: UnixStream, process: &Process, console: bool) -> Result<()> {
    let root = openat2(
        libc::AT_FDCWD,
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .context("open /")?;
    let master = open_ptmx(&root)?;
    ioctl::pty_unlock(&master).context("/dev/ptmx: unlock the pty")?;
    let n = ioctl::pty_number(&master).context("/dev/ptmx: not a pty master")?;
    let name = format!("/dev/pts/{n}");
    // The slave straight from the master: no /dev/pts/N path to swap.
    let slave = ioctl::pty_peer(&master, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC)
        .with_context(|| format!("open {name}"))?;
    let st = nix::sys::stat::fstat(slave.as_raw_fd()).with_context(|| format!("fstat {name}"))?;
    let major = nix::sys::stat::major(st.st_rdev);
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || !PTY_SLAVE_MAJORS.contains(&major) {
        bail!(
            "{name}: not a pty slave ({} major {major})",
            file_kind(st.st_mode & libc::S_IFMT)
        );
    }
    // The pty is made while we are still root: give the slave to the
    // process's user (gid and 0620 stay devpts's), as runc does with its
    // stdio, or a non-root process cannot reopen its own terminal by name
    // (sudo, ssh, script, pinentry). By fd: nothing in the container to
    // swap. Debug builds' `OUTLET_PTY_ROOT_OWNED=1` (a test's control)
    // leaves it root's.
    let uid = process.user().uid();
    if uid != 0 && !pty_left_root_owned() {
        nix::unistd::fchown(slave.as_raw_fd(), Some(uid.into()), None)
            .with_context(|| format!("{name}: chown to process.user.uid {uid}"))?;
    }
    if let Some(size) = process.console_size() {
        let ws = libc::winsize {
            ws_row: size.height() as u16,
            ws_col: size.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // As before: a size the terminal refuses is not worth failing for.
        let _ = ioctl::set_window_size(&slave, &ws);
    }
    if console {
        mount_console(&root, &slave)?;
    }
    fdpass::send_fd(
        sock.as_fd(),
        name.as_bytes(),
        master.as_fd(),
        MsgFlags::empty(),
    )
    .context("send pty master over the console socket")?;
    drop(master);
    drop(sock);
    // The slave is a tty we opened; we are a session leader.
    ioctl::set_controlling_tty(&slave).context("TIOCSCTTY")?;
    for target in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), target).context("dup2 pty slave")?;
    }
    Ok(())
}

fn pty_left_root_owned() -> bool {
    crate::fault::control("OUTLET_PTY_ROOT_OWNED")
}

/// /dev/ptmx inside the root (our own `pts/ptmx` link is followed, never a
/// magic link), checked to be char 5:2 before it is opened for real, and
/// the opened file checked to be the same one, so an image's fifo, regular
/// file or symlink to a host file there is refused, not used as a console.
fn open_ptmx(root: &OwnedFd) -> Result<OwnedFd> {
    let path = Path::new("dev/ptmx");
    let how = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    let probe = openat2(root.as_raw_fd(), path, libc::O_PATH, how).context("open /dev/ptmx")?;
    expect_node(&probe, SFlag::S_IFCHR, 5, 2).context("/dev/ptmx")?;
    let master = openat2(root.as_raw_fd(), path, libc::O_RDWR | libc::O_NOCTTY, how)
        .context("open /dev/ptmx")?;
    let a = nix::sys::stat::fstat(probe.as_raw_fd()).context("fstat /dev/ptmx")?;
    let b = nix::sys::stat::fstat(master.as_raw_fd()).context("fstat /dev/ptmx")?;
    if (a.st_dev, a.st_ino, a.st_rdev) != (b.st_dev, b.st_ino, b.st_rdev) {
        bail!("/dev/ptmx changed while it was being opened");
    }
    Ok(master)
}

/// Bind the pty slave over /dev/console (made by rootfs::prepare): the
/// target is opened without following any symlink and must be a regular
/// file or a character device.
fn mount_console(root: &OwnedFd, slave: &OwnedFd) -> Result<()> {
    let target = openat2(
        root.as_raw_fd(),
        Path::new("dev/console"),
        libc::O_PATH | libc::O_NOFOLLOW,
        RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS,
    )
    .context("open /dev/console")?;
    let st = nix::sys::stat::fstat(target.as_raw_fd()).context("fstat /dev/console")?;
    let fmt = st.st_mode & libc::S_IFMT;
    if fmt != libc::S_IFREG && fmt != libc::S_IFCHR {
        bail!(
            "/dev/console is {}, not a file to mount the console on",
            file_kind(fmt)
        );
    }
    let tree = fdmount::clone_tree(slave, false).context("clone the pty slave")?;
    fdmount::attach(&tree, &target).context("mount the pty slave on /dev/console")
}

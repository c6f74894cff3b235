//! ioctl requests nix has no safe call for: the pty ones a terminal needs,
//! and raising a network interface. Each takes the fd it acts on; the
//! argument structs live on our stack across the call.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

/// TIOCSPTLCK 0: unlock the slave of the pty master `master`.
pub fn pty_unlock(master: &impl AsRawFd) -> io::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int that lives across the call.
    check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) }).map(drop)
}

/// TIOCGPTN: the number N of the pty master's slave, /dev/pts/N.
pub fn pty_number(master: &impl AsRawFd) -> io::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into n.
    check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) })?;
    Ok(n)
}

/// TIOCGPTPEER: the slave opened straight from the master with `flags`.
pub fn pty_peer(master: &impl AsRawFd, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new fd.
    let fd = check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) })?;
    // SAFETY: the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// TIOCSWINSZ: the terminal's size.
pub fn set_window_size(tty: &impl AsRawFd, ws: &libc::winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, ws) }).map(drop)
}

/// TIOCSCTTY 0: make `tty` the caller's controlling terminal (the caller
/// must lead a session that has none).
pub fn set_controlling_tty(tty: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// SIOCSIFFLAGS on `sock`: set interface `name`'s changeable flags to
/// exactly `flags`.
pub fn set_interface_flags(
    sock: &impl AsRawFd,
    name: &[u8],
    flags: libc::c_short,
) -> io::Result<()> {
    // SAFETY: ifreq is plain data, valid all zero.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    // Leave the last byte zero: the kernel wants a NUL-terminated name.
    if name.len() >= req.ifr_name.len() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    for (dst, &b) in req.ifr_name.iter_mut().zip(name) {
        *dst = b as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = flags;
    // SAFETY: SIOCSIFFLAGS reads an ifreq that lives across the call.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) }).map(drop)
}

/// FS_TOPDIR_FL (linux/fs.h): "top of directory hierarchies", ext4's
/// hint to spread the directories made in this one over its block groups.
const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;

/// The inode flags of the file `f` (FS_IOC_GETFLAGS, `lsattr`).
fn inode_flags(f: &impl AsRawFd) -> io::Result<libc::c_int> {
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one int into flags (an int in every
    // file system's handler, whatever size the request's number encodes).
    check(unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_GETFLAGS as _, &mut flags) })?;
    Ok(flags)
}

/// Adds FS_TOPDIR_FL to the directory `dir`'s inode flags unless it has
/// it (then no write). The other flags are written back as read.
pub fn mark_topdir(dir: &impl AsRawFd) -> io::Result<()> {
    let flags = inode_flags(dir)?;
    if flags & FS_TOPDIR_FL != 0 {
        return Ok(());
    }
    let flags = flags | FS_TOPDIR_FL;
    // SAFETY: FS_IOC_SETFLAGS reads one int that lives across the call.
    check(unsafe { libc::ioctl(dir.as_raw_fd(), libc::FS_IOC_SETFLAGS as _, &flags) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    #[test]
    fn pty_calls_give_the_masters_own_slave() {
        let master = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open("/dev/ptmx")
            .unwrap();
        pty_unlock(&master).unwrap();
        let n = pty_number(&master).unwrap();
        let slave = pty_peer(&master, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC).unwrap();
        let st = nix::sys::stat::fstat(slave.as_raw_fd()).unwrap();
        assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFCHR);
        assert!((136..=143).contains(&nix::sys::stat::major(st.st_rdev)));
        assert_eq!(nix::sys::stat::minor(st.st_rdev), u64::from(n));
        let ws = libc::winsize {
            ws_row: 33,
            ws_col: 77,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        set_window_size(&slave, &ws).unwrap();
        // Control: a file that is no pty master is refused.
        let null = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(
            pty_number(&null).unwrap_err().raw_os_error(),
            Some(libc::ENOTTY)
        );
        assert!(pty_peer(&null, libc::O_RDWR).is_err());
    }

    #[test]
    fn interface_name_must_leave_room_for_its_nul() {
        let sock = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let long = [b'x'; libc::IFNAMSIZ];
        let err = set_interface_flags(&sock, &long, 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}

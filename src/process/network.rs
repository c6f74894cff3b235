//! `lo` up in a network namespace the container made, as runc does:
//! programs expect 127.0.0.1 to work. One ioctl on a throwaway socket, no
//! `ip` to launch; nothing for a joined or inherited network namespace.

use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

pub fn loopback_up() -> Result<()> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("bring lo up: socket")?;
    // SAFETY: ifreq is plain data; zeroing it NUL-terminates the name.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SIOCSIFFLAGS replaces the changeable flags: in a namespace made a
    // moment ago lo has none of them (only the fixed IFF_LOOPBACK), so
    // IFF_UP alone changes nothing else and no SIOCGIFFLAGS is needed.
    req.ifr_ifru.ifru_flags = libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq on our own socket.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) } != 0 {
        return Err(std::io::Error::last_os_error()).context("bring lo up: SIOCSIFFLAGS");
    }
    Ok(())
}

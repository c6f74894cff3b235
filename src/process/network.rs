//! `lo` up in a network namespace the container made, as runc does:
//! programs expect 127.0.0.1 to work. One ioctl on a throwaway socket, no
//! `ip` to launch; nothing for a joined or inherited network namespace.

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
    // SIOCSIFFLAGS replaces the changeable flags: in a namespace made a
    // moment ago lo has none of them (only the fixed IFF_LOOPBACK), so
    // IFF_UP alone changes nothing else and no SIOCGIFFLAGS is needed.
    crate::syscall::ioctl::set_interface_flags(&sock, b"lo", libc::IFF_UP as libc::c_short)
        .context("bring lo up: SIOCSIFFLAGS")
}

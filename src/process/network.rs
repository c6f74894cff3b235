//! `lo` up in a network namespace the container made, as runc does:
//! programs expect 127.0.0.1 to work. One ioctl on a throwaway socket, no
//! `ip` to launch; nothing for a joined or inherited network namespace.
//! The socket belongs to the namespace it was made in, whoever holds it:
//! the init makes it and, where `create` can act for it, passes it with
//! `Unshared`, and create's parent (idle while the init mounts) makes the
//! call, which takes the host-wide rtnl lock and sets up lo's addresses
//! and routes (0.06-0.13 ms), off the init's path.

use std::os::fd::OwnedFd;

use anyhow::{Context, Result};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

pub fn loopback_up() -> Result<()> {
    loopback_up_on(&lo_socket()?)
}

/// A socket in the calling process's network namespace.
pub fn lo_socket() -> Result<OwnedFd> {
    socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("bring lo up: socket")
}

/// `lo` up in the network namespace `sock` was made in.
pub fn loopback_up_on(sock: &OwnedFd) -> Result<()> {
    // SIOCSIFFLAGS replaces the changeable flags: in a namespace made a
    // moment ago lo has none of them (only the fixed IFF_LOOPBACK), so
    // IFF_UP alone changes nothing else and no SIOCGIFFLAGS is needed.
    crate::syscall::ioctl::set_interface_flags(sock, b"lo", libc::IFF_UP as libc::c_short)
        .context("bring lo up: SIOCSIFFLAGS")
}

/// Whether `create` brings `lo` up for the init: the clone made the
/// network namespace (nothing joined first, so the init is in it from its
/// first instruction and sends its socket with `Unshared`).
pub fn lo_by_parent(ns: &crate::namespaces::NsPlan) -> bool {
    ns.join.is_empty() && ns.creates(oci_spec::runtime::LinuxNamespaceType::Network)
}

/// create's side, at `Unshared`: lo up on the socket the init sent, which
/// it must have sent when `lo_by_parent`.
pub fn lo_up_for(ns: &crate::namespaces::NsPlan, sock: Option<OwnedFd>) -> Result<()> {
    match sock {
        Some(s) => loopback_up_on(&s),
        None if lo_by_parent(ns) => {
            anyhow::bail!("sync: Unshared without the init's network socket")
        }
        None => Ok(()),
    }
}

//! A minimal rtnetlink client: one socket, requests built by hand, each
//! answered by the kernel's ack (or a dump, read to its end). Enough for
//! `linux.netDevices`: find a link, move and rename it, copy addresses.
//! No unsafe: nix has the socket calls; the messages are plain bytes in
//! the kernel's native byte order.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send,
    socket,
};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_NET_NS_FD: u16 = 28;
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_BROADCAST: u16 = 4;

/// `struct nlmsghdr`.
const HDR: usize = 16;
/// `struct ifinfomsg`.
pub const IFINFO: usize = 16;
/// `struct ifaddrmsg`.
pub const IFADDR: usize = 8;

/// An rtnetlink socket of the network namespace the calling thread is in
/// when it is opened; it stays in that namespace.
pub struct Route {
    fd: OwnedFd,
    seq: u32,
}

/// A message body under construction: a fixed header, then attributes.
pub struct Body(pub Vec<u8>);

impl Body {
    /// `struct ifinfomsg` for link `index` (AF_UNSPEC), with `flags` set
    /// under the `change` mask.
    pub fn link(index: i32, flags: u32, change: u32) -> Body {
        let mut b = vec![0u8; IFINFO];
        b[4..8].copy_from_slice(&index.to_ne_bytes());
        b[8..12].copy_from_slice(&flags.to_ne_bytes());
        b[12..16].copy_from_slice(&change.to_ne_bytes());
        Body(b)
    }

    /// An attribute (`struct rtattr` + data, padded to 4 bytes).
    pub fn attr(mut self, kind: u16, data: &[u8]) -> Body {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().next_multiple_of(4), 0);
        self
    }

    /// A NUL-terminated string attribute.
    pub fn attr_str(self, kind: u16, s: &str) -> Body {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(kind, &v)
    }
}

/// The attributes following a fixed header of `skip` bytes in `msg`.
pub fn attrs(msg: &[u8], skip: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = msg.get(skip..).unwrap_or(&[]);
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        let data = &rest[4..len];
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        Some((kind, data))
    })
}

impl Route {
    pub fn open() -> Result<Route, Errno> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(Route { fd, seq: 0 })
    }

    fn send(&mut self, kind: u16, flags: u16, body: &Body) -> Result<u32, Errno> {
        self.seq += 1;
        let mut m = Vec::with_capacity(HDR + body.0.len());
        m.extend_from_slice(&((HDR + body.0.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&body.0);
        send(self.fd.as_fd().as_raw_fd(), &m, MsgFlags::empty())?;
        Ok(self.seq)
    }

    /// Read answers to `seq`, handing each message (type, payload) to `each`
    /// until the ack, an error or the dump's end.
    fn answers(&mut self, seq: u32, mut each: impl FnMut(u16, &[u8])) -> Result<(), Errno> {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let mut rest = &buf[..n];
            while rest.len() >= HDR {
                let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                let mseq = u32::from_ne_bytes(rest[8..12].try_into().unwrap());
                if len < HDR || len > rest.len() {
                    return Err(Errno::EBADMSG);
                }
                let payload = &rest[HDR..len];
                rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
                if mseq != seq {
                    continue;
                }
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        let code = payload.get(..4).map_or(-libc::EBADMSG, |c| {
                            i32::from_ne_bytes(c.try_into().unwrap())
                        });
                        return if code == 0 {
                            Ok(())
                        } else {
                            Err(Errno::from_raw(-code))
                        };
                    }
                    _ => each(kind, payload),
                }
            }
        }
    }

    /// A request answered by an ack.
    pub fn request(&mut self, kind: u16, flags: u16, body: &Body) -> Result<(), Errno> {
        let seq = self.send(kind, flags | NLM_F_ACK, body)?;
        self.answers(seq, |_, _| {})
    }

    /// A request answered by one message (a GET of one object), returned.
    pub fn get(&mut self, kind: u16, body: &Body) -> Result<Vec<u8>, Errno> {
        let seq = self.send(kind, NLM_F_ACK, body)?;
        let mut got = None;
        self.answers(seq, |_, p| got = Some(p.to_vec()))?;
        got.ok_or(Errno::ENODEV)
    }

    /// A dump: every message of the answer.
    pub fn dump(&mut self, kind: u16, body: &Body) -> Result<Vec<Vec<u8>>, Errno> {
        let seq = self.send(kind, NLM_F_DUMP, body)?;
        let mut all = Vec::new();
        self.answers(seq, |_, p| all.push(p.to_vec()))?;
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_with_padding() {
        let b = Body::link(7, 1, 1)
            .attr_str(IFLA_IFNAME, "eth0x")
            .attr(IFLA_NET_NS_FD, &5u32.to_ne_bytes());
        assert_eq!(b.0.len() % 4, 0);
        let got: Vec<_> = attrs(&b.0, IFINFO).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (IFLA_IFNAME, &b"eth0x\0"[..]));
        assert_eq!(got[1], (IFLA_NET_NS_FD, &5u32.to_ne_bytes()[..]));
        assert_eq!(i32::from_ne_bytes(b.0[4..8].try_into().unwrap()), 7);
    }
}

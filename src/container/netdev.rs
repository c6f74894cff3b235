//! `linux.netDevices`: after the clone, while the init waits at `Unshared`,
//! create moves each named interface from its own network namespace into
//! the init's new one, renamed in the same RTM_NEWLINK, as runc does (the
//! kernel moves first and renames after, so a new name already taken
//! inside fails with the device moved: that move is undone). The kernel
//! drops an interface's addresses when it changes namespace, so the
//! permanent, global-scope ones are read first and added again inside,
//! and the link is brought up there. All or nothing: a device that fails,
//! and every one moved before it, goes back under its own name with its
//! addresses and up state. A failure of create after this step kills the
//! init: its namespace goes, with what the paragraph below says.
//!
//! Nothing moves them back at delete, as with runc: the namespace dies with
//! the container and the kernel returns physical devices to the initial
//! network namespace and destroys virtual ones.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use anyhow::{Context, Result, anyhow};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use oci_spec::runtime::{Linux, LinuxNamespaceType, LinuxNetDevice};

use crate::syscall::netlink::{self as nl, Body, Route};

const IFF_UP: u32 = 0x1;
const IFA_F_PERMANENT: u8 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;

/// Whether create has devices to move (no syscall: the hot path asks).
pub fn wanted(linux: Option<&Linux>) -> bool {
    linux
        .and_then(|l| l.net_devices().as_ref())
        .is_some_and(|d| !d.is_empty())
}

/// An interface as found in one namespace: its index there, whether it
/// was up, and the addresses to carry (ifaddrmsg + attributes, index 0).
struct Link {
    index: i32,
    up: bool,
    addrs: Vec<Body>,
}

/// A device moved in: what moving it back needs.
struct Moved<'a> {
    host_name: &'a str,
    index: i32,
    host_up: bool,
    addrs: Vec<Body>,
}

/// Move every device of `linux.netDevices` into the network namespace of
/// `init_pid` (which create cloned: its /proc entry is ours).
pub fn move_all(devices: &HashMap<String, LinuxNetDevice>, init_pid: i32) -> Result<()> {
    let target = File::open(format!("/proc/{init_pid}/ns/net"))
        .context("linux.netDevices: open the container's network namespace")?;
    let own = File::open("/proc/thread-self/ns/net")
        .context("linux.netDevices: open the runtime's network namespace")?;
    not_the_hosts(&target)?;
    let mut s = Sides {
        host: Route::open().context("linux.netDevices: netlink socket")?,
        inside: route_in(target.as_fd(), own.as_fd())?,
        own: own.as_fd(),
        target: target.as_fd(),
    };
    let mut names: Vec<&String> = devices.keys().collect();
    names.sort();
    let mut moved: Vec<Moved> = Vec::with_capacity(names.len());
    for name in names {
        let new = devices[name]
            .name()
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(name);
        match move_one(&mut s, name, new) {
            Ok(m) => moved.push(m),
            Err(e) => {
                for m in moved.iter().rev() {
                    if let Err(back) = move_back(m, &mut s) {
                        crate::logging::warn(&format!(
                            "linux.netDevices[{:?}]: moving it back failed: {back:#}",
                            m.host_name
                        ));
                    }
                }
                return Err(e.context(format!("linux.netDevices[{name:?}]")));
            }
        }
    }
    crate::logging::debug(|| format!("moved {} network device(s) in", moved.len()));
    Ok(())
}

/// The spec check (spec/netdevices.rs) stat()ed the path; the init
/// opened it later, and a path swapped in between could put the init in
/// the runtime's own namespace (or PID 1's), where a "move" is no move
/// and the rename renames the host's interface. So the namespace the init
/// is in now is compared too.
fn not_the_hosts(target: &File) -> Result<()> {
    if crate::fault::control("OUTLET_NETDEV_NS_UNCHECKED") {
        return Ok(());
    }
    let hosts = crate::namespaces::is_hosts(target.as_fd(), LinuxNamespaceType::Network)
        .context("linux.netDevices: fstat the container's network namespace")?;
    if hosts {
        anyhow::bail!(
            "linux.netDevices: the container's network namespace is the runtime's own (or PID 1's): a device moved there stays the host's, renamed in place"
        );
    }
    Ok(())
}

/// An rtnetlink socket of the namespace `ns`: a socket belongs to the
/// namespace it was made in, so step in, make it, step back.
fn route_in(ns: BorrowedFd, own: BorrowedFd) -> Result<Route> {
    nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)
        .context("linux.netDevices: enter the container's network namespace")?;
    let r = Route::open();
    nix::sched::setns(own, CloneFlags::CLONE_NEWNET)
        .context("linux.netDevices: return to the runtime's network namespace")?;
    r.context("linux.netDevices: netlink socket in the container's network namespace")
}

/// The two namespaces and their sockets.
struct Sides<'f> {
    host: Route,
    inside: Route,
    own: BorrowedFd<'f>,
    target: BorrowedFd<'f>,
}

fn move_one<'a>(s: &mut Sides, name: &'a str, new: &str) -> Result<Moved<'a>> {
    let link = find(&mut s.host, name).map_err(|e| match e {
        Errno::ENODEV => anyhow!("no interface {name:?} in the runtime's network namespace"),
        e => anyhow!("look up interface {name:?}: {e}"),
    })?;
    let to = Dest {
        ns: s.target,
        name: new,
        up: true,
    };
    let back = Dest {
        ns: s.own,
        name,
        up: link.up,
    };
    let index = transfer(
        &mut s.host,
        &mut s.inside,
        link.index,
        &link.addrs,
        &to,
        &back,
    )
    .with_context(|| format!("move {name:?} into the container as {new:?}"))?;
    Ok(Moved {
        host_name: name,
        index,
        host_up: link.up,
        addrs: link.addrs,
    })
}

fn move_back(m: &Moved, s: &mut Sides) -> Result<()> {
    let to = Dest {
        ns: s.own,
        name: m.host_name,
        up: m.host_up,
    };
    // Should the way back fail halfway, the device stays inside (and goes
    // with the namespace): there is no third place to put it.
    let stay = Dest {
        ns: s.target,
        name: m.host_name,
        up: false,
    };
    transfer(&mut s.inside, &mut s.host, m.index, &m.addrs, &to, &stay)?;
    Ok(())
}

/// Where a link goes: a namespace, its name there, and whether it is up.
struct Dest<'a, 'f> {
    ns: BorrowedFd<'f>,
    name: &'a str,
    up: bool,
}

/// Move link `index` of `from`'s namespace into `to.ns` (whose socket is
/// `to_route`), add `addrs` there and set it up if asked. Should a step
/// after the move fail, the link goes back to `back` (named and set as it
/// was there: `back.name` is its name in `from`). Returns its index in
/// `to.ns`.
fn transfer(
    from: &mut Route,
    to_route: &mut Route,
    index: i32,
    addrs: &[Body],
    to: &Dest,
    back: &Dest,
) -> Result<i32> {
    if let Err(e) = from.request(nl::RTM_NEWLINK, 0, &relink(index, to)) {
        // The kernel moves first and renames after: a new name taken in
        // the target fails the rename with the device already there under
        // its old name. Gone from `from` means moved.
        if find(from, back.name).is_err()
            && let Ok(there) = find(to_route, back.name)
        {
            let _ = bring_back(to_route, from, there.index, addrs, back);
        }
        return Err(anyhow!("RTM_NEWLINK: {e}"));
    }
    let there =
        find(to_route, to.name).map_err(|e| anyhow!("find {:?} after the move: {e}", to.name))?;
    if let Err(e) = settle(to_route, there.index, to, addrs) {
        let _ = bring_back(to_route, from, there.index, addrs, back);
        return Err(e);
    }
    Ok(there.index)
}

/// Link `index` of `r`'s namespace gets `addrs` and, if asked, goes up.
fn settle(r: &mut Route, index: i32, d: &Dest, addrs: &[Body]) -> Result<()> {
    for a in addrs {
        let mut b = Body(a.0.clone());
        b.0[4..8].copy_from_slice(&index.to_ne_bytes());
        r.request(nl::RTM_NEWADDR, nl::NLM_F_CREATE | nl::NLM_F_EXCL, &b)
            .map_err(|e| anyhow!("add an address of {:?}: {e}", d.name))?;
    }
    if d.up {
        r.request(nl::RTM_NEWLINK, 0, &Body::link(index, IFF_UP, IFF_UP))
            .map_err(|e| anyhow!("set {:?} up: {e}", d.name))?;
    }
    Ok(())
}

/// Undo a move: link `index` of `here`'s namespace back to `back.ns`,
/// under its old name, with its addresses and state.
fn bring_back(
    here: &mut Route,
    there: &mut Route,
    index: i32,
    addrs: &[Body],
    back: &Dest,
) -> Result<()> {
    here.request(nl::RTM_NEWLINK, 0, &relink(index, back))
        .map_err(|e| anyhow!("RTM_NEWLINK: {e}"))?;
    let l = find(there, back.name).map_err(|e| anyhow!("find {:?}: {e}", back.name))?;
    settle(there, l.index, back, addrs)
}

/// RTM_NEWLINK's body that moves link `index` to `d.ns` named `d.name`.
fn relink(index: i32, d: &Dest) -> Body {
    let fd = d.ns.as_raw_fd() as u32;
    Body::link(index, 0, 0)
        .attr(nl::IFLA_NET_NS_FD, &fd.to_ne_bytes())
        .attr_str(nl::IFLA_IFNAME, d.name)
}

/// The interface named `name` in `r`'s namespace, with the addresses to
/// carry: permanent (set by hand, not autoconfigured) and of global scope.
fn find(r: &mut Route, name: &str) -> Result<Link, Errno> {
    let info = r.get(
        nl::RTM_GETLINK,
        &Body::link(0, 0, 0).attr_str(nl::IFLA_IFNAME, name),
    )?;
    if info.len() < nl::IFINFO {
        return Err(Errno::EBADMSG);
    }
    let index = i32::from_ne_bytes(info[4..8].try_into().unwrap());
    let flags = u32::from_ne_bytes(info[8..12].try_into().unwrap());
    let mut addrs = Vec::new();
    for a in r.dump(nl::RTM_GETADDR, &Body(vec![0u8; nl::IFADDR]))? {
        if a.len() < nl::IFADDR || i32::from_ne_bytes(a[4..8].try_into().unwrap()) != index {
            continue;
        }
        if a[2] & IFA_F_PERMANENT == 0 || a[3] != RT_SCOPE_UNIVERSE {
            continue;
        }
        // The label names the old interface; the rest is the kernel's own.
        let mut b = Body(a[..nl::IFADDR].to_vec());
        for (kind, data) in nl::attrs(&a, nl::IFADDR) {
            if matches!(kind, nl::IFA_ADDRESS | nl::IFA_LOCAL | nl::IFA_BROADCAST) {
                b = b.attr(kind, data);
            }
        }
        addrs.push(b);
    }
    Ok(Link {
        index,
        up: flags & IFF_UP != 0,
        addrs,
    })
}

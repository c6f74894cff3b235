//! The v2 device program, attached after the init's clone instead of
//! before it: its BPF_PROG_LOAD (the verifier) and attach were the largest
//! piece of `create`'s parent between the cgroup's mkdir and the clone,
//! while after the clone the parent only waits for the init. The program
//! must be in force before anything in the cgroup can open or make a
//! device node: it is attached right after the clone, and the parent then
//! sends `DevicesSet`, the answer the init waits for right before the
//! first step that makes or opens a node in the container (a tmpcopyup,
//! /dev's nodes and console: `rootfs::DevicesGate`); the init's mounts
//! before that overlap the load (where placement needs nothing from the
//! parent, `Placed` goes first, right after the clone; else the parent
//! attaches while the init unshares, and sends `DevicesSet` right after
//! `Placed`). Until `DevicesSet` the init runs only outlet's code and
//! opens nothing but O_PATH fds, directories and new files (mounts need
//! no open of a device; hooks, the console and execve all come after
//! /dev). An init that joins namespaces by path
//! opens those paths before `Placed`: then the program is attached before
//! the clone, as before. runc applies its device rules later still, after
//! the init's mounts (libcontainer's `procHooks`).

use anyhow::Result;

use super::create::{CreateOpts, Rootless};
use crate::cgroups::Cgroup;
use crate::namespaces::NsPlan;

/// Before `Cgroup::create`: leave the device program for `attach` when
/// the init needs nothing opened before `Placed`. Returns whether the
/// init is to wait for `DevicesSet`.
/// `OUTLET_DEVICES_BEFORE_CLONE=1` (debug builds) keeps the old order: the
/// control of tests/floor2_s10.rs.
pub(super) fn defer(o: &CreateOpts, ns: &NsPlan, cgroup: &mut Cgroup) -> bool {
    ns.join.is_empty()
        && o.rootless != Rootless::Yes
        && !crate::fault::control("OUTLET_DEVICES_BEFORE_CLONE")
        && cgroup.defer_devices(&crate::cgroups::v2::devices::reuse::cache_dir(o.root))
        && !ungated()
}

/// Right after the clone (and an early `Placed`); `late`: again at the
/// init's `Ready`, where it is a no-op unless the ungated control left it.
/// A failure fails the create (which kills the init and removes what it
/// made), as one before the clone did.
pub(super) fn attach(cgroup: &Cgroup, late: bool) -> Result<()> {
    if late != ungated() {
        return Ok(());
    }
    cgroup.attach_deferred_devices()
}

/// `OUTLET_DEVICES_UNGATED=1` (debug builds): the init does not wait for
/// `DevicesSet`, and the program is attached only at its `Ready`, after
/// /dev's nodes were made (never after the execve: the application still
/// runs under it). The control of tests/floor2_s10.rs's order check.
fn ungated() -> bool {
    crate::fault::control("OUTLET_DEVICES_UNGATED")
}

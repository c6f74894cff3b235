//! The v2 device program, attached after the init's clone instead of
//! before it: its BPF_PROG_LOAD (the verifier) and attach were the largest
//! piece of `create`'s parent between the cgroup's mkdir and the clone,
//! while after the clone the parent only waits for the init. The program
//! must be in force before anything in the cgroup can open or make a
//! device node: it is attached right after the clone, before any
//! `Placed`, the answer the init waits for before it mounts or runs
//! anything but outlet's own code (closing an fd, prctl, unshare, one
//! message; with a user namespace of its own the parent attaches while
//! the init unshares it). An init that joins namespaces by path
//! opens those paths before `Placed`: then the program is attached before
//! the clone, as before. runc applies its device rules later still, after
//! the init's mounts (libcontainer's `procHooks`).

use anyhow::Result;

use super::create::{CreateOpts, Rootless};
use crate::cgroups::Cgroup;
use crate::namespaces::NsPlan;

/// Before `Cgroup::create`: leave the device program for `attach` when
/// the init needs nothing opened before `Placed`.
/// `OUTLET_DEVICES_BEFORE_CLONE=1` (debug builds) keeps the old order: the
/// control of tests/floor2_s10.rs.
pub(super) fn defer(o: &CreateOpts, ns: &NsPlan, cgroup: &mut Cgroup) {
    if ns.join.is_empty()
        && o.rootless != Rootless::Yes
        && !crate::fault::control("OUTLET_DEVICES_BEFORE_CLONE")
    {
        cgroup.defer_devices();
    }
}

/// Right after the clone, before any `Placed`. A failure fails the create (which
/// kills the init and removes what it made), as one before the clone did.
pub(super) fn attach(cgroup: &Cgroup) -> Result<()> {
    cgroup.attach_deferred_devices()
}

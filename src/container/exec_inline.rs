//! The process of an inline `exec ID CMD...`: the container's own process
//! (env, user, capabilities, ...) with the command line's overrides.

use std::path::PathBuf;

use anyhow::{Context, Result};
use oci_spec::runtime::LinuxCapabilities;

use crate::spec::{ExecSpec, Process};

/// The overrides of an inline `exec ID CMD...`, as the caller gave them:
/// each one left empty keeps the container's own setting.
pub struct InlineProcess<'a> {
    pub command: &'a [String],
    pub tty: bool,
    pub cwd: Option<&'a str>,
    /// KEY=VALUE, replacing the container's KEY.
    pub env: &'a [String],
    /// uid[:gid], as typed (parsed here, so the error can quote it).
    pub user: Option<&'a str>,
    pub additional_gids: &'a [u32],
    /// Capability names, CAP_KILL or KILL, added to bounding/effective/permitted
    /// (and ambient when the process has an inheritable set).
    pub cap: &'a [String],
    pub no_new_privs: bool,
    pub apparmor: Option<&'a str>,
    pub process_label: Option<&'a str>,
}

/// Build the process of an inline `exec ID CMD...` from the container's own
/// process (env, user, capabilities, ...) with the command-line overrides.
pub(super) fn inline_process(base: &ExecSpec, a: &InlineProcess) -> Result<Process> {
    let mut p = base.process().clone().unwrap_or_default();
    p.args = Some(a.command.to_vec());
    p.terminal = Some(a.tty);
    if let Some(cwd) = a.cwd {
        p.cwd = PathBuf::from(cwd);
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        for kv in a.env {
            let key = kv.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p.env = Some(env);
    }
    if let Some(u) = a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u, None),
        };
        let mut user = p.user().clone();
        user.set_uid(
            uid.parse()
                .with_context(|| format!("--user {u:?}: uid is not a number"))?,
        );
        if let Some(g) = gid {
            user.set_gid(
                g.parse()
                    .with_context(|| format!("--user {u:?}: gid is not a number"))?,
            );
        }
        p.user = user;
    }
    // runc applies -g on its own, with or without -u, appending to the
    // process's own additionalGids; a gid already there is not repeated
    // (runc's init sets each group once).
    if !a.additional_gids.is_empty() {
        let mut gids = p.user().additional_gids().clone().unwrap_or_default();
        for g in a.additional_gids {
            if !gids.contains(g) {
                gids.push(*g);
            }
        }
        p.user.set_additional_gids(Some(gids));
    }
    if a.no_new_privs {
        p.no_new_privileges = Some(true);
    }
    if !a.cap.is_empty() {
        // A container without capabilities has none to add to: not
        // oci-spec's Default (AUDIT_WRITE, KILL, NET_BIND_SERVICE), which
        // debug builds' OUTLET_CAPS_ABSENT_KEEP_ALL=1 (a control of
        // tests/attack_s11.rs) still takes.
        let mut caps = match p.capabilities() {
            Some(c) => c.clone(),
            None if crate::fault::control("OUTLET_CAPS_ABSENT_KEEP_ALL") => Default::default(),
            None => no_capabilities(),
        };
        for name in a.cap {
            // runc's spelling is CAP_KILL; KILL is accepted as well.
            let up = name.to_ascii_uppercase();
            // An unknown name adds nothing and is only warned about, as
            // runc and crun do: it can only leave the process with less.
            let Ok(cap) = up
                .strip_prefix("CAP_")
                .unwrap_or(&up)
                .parse::<oci_spec::runtime::Capability>()
            else {
                crate::logging::warn(&format!(
                    "exec: --cap {name:?}: unknown capability, ignored"
                ));
                continue;
            };
            let add = |s: Option<oci_spec::runtime::Capabilities>| {
                let mut s = s.unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            let b = add(caps.bounding().clone());
            let e = add(caps.effective().clone());
            let pm = add(caps.permitted().clone());
            caps.set_bounding(b);
            caps.set_effective(e);
            caps.set_permitted(pm);
            // And to ambient when the process has an inheritable set at
            // all (even empty), as runc: ambient needs inheritable, which
            // --cap does not add to.
            if caps.inheritable().is_some() {
                let am = add(caps.ambient().clone());
                caps.set_ambient(am);
            }
        }
        p.capabilities = Some(caps);
    }
    if let Some(label) = a.apparmor {
        p.apparmor_profile = Some(label.to_owned());
    }
    if let Some(label) = a.process_label {
        p.selinux_label = Some(label.to_owned());
    }
    Ok(p)
}

/// Every set present and empty.
fn no_capabilities() -> LinuxCapabilities {
    let mut c = LinuxCapabilities::default();
    for set in [
        LinuxCapabilities::set_bounding,
        LinuxCapabilities::set_effective,
        LinuxCapabilities::set_permitted,
        LinuxCapabilities::set_inheritable,
        LinuxCapabilities::set_ambient,
    ] {
        set(&mut c, Some(Default::default()));
    }
    c
}

//! `process.capabilities`: the five capability sets of the container process.
//!
//! Order in the init (see the module docs of `security`):
//! 1. `drop_bounding` while still root (PR_CAPBSET_DROP needs CAP_SETPCAP);
//! 2. the caller sets PR_SET_KEEPCAPS and switches uid/gid (a switch away
//!    from uid 0 clears the effective set and, without KEEPCAPS, the
//!    permitted set too);
//! 3. `apply`: permitted, effective and inheritable in one capset(2) (set one
//!    at a time, the kernel's "effective within permitted" rule can reject an
//!    intermediate state), then the ambient set, which the kernel only lets
//!    us raise for capabilities already in permitted and inheritable.
//!
//! What the runtime itself lacks cannot be granted: a capability missing from
//! outlet's own bounding set (this host's shell lacks CAP_SYS_RESOURCE, for
//! example) makes capset(2) fail with EPERM when it is asked for in
//! permitted/effective/inheritable/ambient. runc fails the same way, at
//! start, with "unable to apply caps: operation not permitted"; `validate`
//! reports it at create time instead, naming the set and the capability. In
//! the bounding set such a capability is simply absent already (dropping is
//! all the bounding set allows), so it is accepted there, as runc does.
//!
//! Why not the `caps` crate: its `set` changes one set per call, each a
//! capget plus a capset, so the three sets would cost six syscalls instead
//! of one and pass through the intermediate states the kernel may refuse
//! (see 3. above); its prctl wrappers map 1:1 but return errors as text,
//! losing the errno the sync protocol carries to `create`, and its
//! `Capability` enum stops at the capabilities it knows, where the bounding
//! probe must go on until the kernel says EINVAL (a bounding capability it
//! could not name would never be dropped).

use anyhow::{Context, Result};

use crate::syscall;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

// The create-time checks live in their own file; callers name them here.
pub use super::capabilities_check::{check_config_names, check_names, validate, warnings};

/// Every capability name the kernel headers define, with its number.
const NAMES: [(&str, u32); 41] = [
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_DAC_READ_SEARCH", 2),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_LINUX_IMMUTABLE", 9),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_BROADCAST", 11),
    ("CAP_NET_ADMIN", 12),
    ("CAP_NET_RAW", 13),
    ("CAP_IPC_LOCK", 14),
    ("CAP_IPC_OWNER", 15),
    ("CAP_SYS_MODULE", 16),
    ("CAP_SYS_RAWIO", 17),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_SYS_PTRACE", 19),
    ("CAP_SYS_PACCT", 20),
    ("CAP_SYS_ADMIN", 21),
    ("CAP_SYS_BOOT", 22),
    ("CAP_SYS_NICE", 23),
    ("CAP_SYS_RESOURCE", 24),
    ("CAP_SYS_TIME", 25),
    ("CAP_SYS_TTY_CONFIG", 26),
    ("CAP_MKNOD", 27),
    ("CAP_LEASE", 28),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_AUDIT_CONTROL", 30),
    ("CAP_SETFCAP", 31),
    ("CAP_MAC_OVERRIDE", 32),
    ("CAP_MAC_ADMIN", 33),
    ("CAP_SYSLOG", 34),
    ("CAP_WAKE_ALARM", 35),
    ("CAP_BLOCK_SUSPEND", 36),
    ("CAP_AUDIT_READ", 37),
    ("CAP_PERFMON", 38),
    ("CAP_BPF", 39),
    ("CAP_CHECKPOINT_RESTORE", 40),
];

/// The five sets in the order the spec lists them (and errors name them).
pub(super) const SETS: [&str; 5] = [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// Name -> number, accepting what oci-spec's deserializer accepts (any case,
/// with or without the `CAP_` prefix), so that a name it lets through is
/// never refused here and vice versa.
pub fn number_of(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let mut bare = upper.as_str();
    while let Some(rest) = bare.strip_prefix("CAP_") {
        bare = rest;
    }
    NAMES
        .iter()
        .find(|(n, _)| &n[4..] == bare)
        .map(|&(_, nr)| nr)
}

/// Is `name` a capability as capabilities(7) and the spec spell it
/// (`CAP_NET_ADMIN`)? runtime-tools' validation requires exactly this
/// (the `CAP_` prefix, upper case, a known name); runc 1.1.5 silently
/// ignores any other spelling (the container runs without the capability)
/// and crun's libcap takes lower case but not a missing prefix, so no
/// engine can depend on another spelling working: engines (docker,
/// podman, containerd's CRI) all send `CAP_` + upper case.
pub fn is_canonical(name: &str) -> bool {
    name.starts_with("CAP_") && NAMES.iter().any(|&(n, _)| n == name)
}

/// Number -> canonical name (`CAP_NET_ADMIN`).
pub fn name_of(nr: u32) -> &'static str {
    NAMES
        .iter()
        .find(|&&(_, n)| n == nr)
        .map(|&(name, _)| name)
        .unwrap_or("CAP_UNKNOWN")
}

/// The number of a typed capability. oci-spec serializes each variant as its
/// `CAP_*` name, so this cannot disagree with `NAMES`.
pub fn number(cap: Capability) -> u32 {
    let name = serde_json::to_value(cap)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    number_of(&name).unwrap_or_else(|| panic!("oci-spec capability {name} missing from NAMES"))
}

static LAST_CAP: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// The highest capability number the running kernel knows. Asked of the
/// kernel with PR_CAPBSET_READ (EINVAL past the last one) rather than read
/// from /proc/sys/kernel/cap_last_cap, because the init calls this after
/// pivot_root, where the container may have no /proc; cached, so the
/// parent's probe is inherited by the forked init.
pub fn last_cap() -> u32 {
    *LAST_CAP.get_or_init(|| probe_bounding().0)
}

/// One PR_CAPBSET_READ per capability until the kernel says EINVAL: the
/// last capability it knows and the calling thread's bounding set.
fn probe_bounding() -> (u32, u64) {
    let (mut last, mut set) = (0, 0u64);
    for nr in 0..64u32 {
        let Ok(has) = syscall::capbset_read(nr) else {
            break;
        };
        last = nr;
        if has {
            set |= 1u64 << nr;
        }
    }
    (last, set)
}

/// A set as a bit mask, keeping only what the running kernel knows.
pub(super) fn mask(set: Option<&Capabilities>, last: u32) -> u64 {
    set.into_iter()
        .flatten()
        .map(|&c| number(c))
        .filter(|&nr| nr <= last)
        .fold(0u64, |m, nr| m | (1u64 << nr))
}

/// Canonical names of a mask's bits, for messages.
pub(super) fn names(mask: u64) -> String {
    (0..64)
        .filter(|nr| mask & (1u64 << nr) != 0)
        .map(name_of)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The five sets of a config, named as `SETS` names them.
pub(super) fn sets(caps: &LinuxCapabilities) -> [(&'static str, Option<&Capabilities>); 5] {
    [
        ("bounding", caps.bounding().as_ref()),
        ("effective", caps.effective().as_ref()),
        ("inheritable", caps.inheritable().as_ref()),
        ("permitted", caps.permitted().as_ref()),
        ("ambient", caps.ambient().as_ref()),
    ]
}

/// The calling thread's bounding set, read with PR_CAPBSET_READ; the same
/// pass tells `last_cap`, so `validate` probes the kernel once.
pub fn read_bounding() -> Result<u64> {
    let (last, set) = probe_bounding();
    let _ = LAST_CAP.set(last);
    Ok(set)
}

/// Drop what is not in the bounding set; called while still privileged,
/// before the uid switch. `None` (no `process.capabilities`) keeps none,
/// as runc does (see `absent_keeps_all`).
pub fn drop_bounding(caps: Option<&LinuxCapabilities>) -> Result<()> {
    if caps.is_none() && absent_keeps_all() {
        return Ok(());
    }
    let last = last_cap();
    let keep = caps.map_or(0, |c| mask(c.bounding().as_ref(), last));
    drop_from_bounding(keep, last, "process.capabilities.bounding")
}

/// A process with no `capabilities` gets none, in every set, as runc
/// gives it (its init starts from an empty set when the spec has none):
/// keeping the runtime's own sets made a config that left the field out
/// a fully privileged container (CAP_SYS_ADMIN, CAP_SYS_MODULE, ...;
/// tests/attack_s11.rs). Debug builds' OUTLET_CAPS_ABSENT_KEEP_ALL=1 (the
/// control) keeps them, as outlet did.
fn absent_keeps_all() -> bool {
    crate::fault::control("OUTLET_CAPS_ABSENT_KEEP_ALL")
}

/// Bounding-set bits this process (or the process it was forked from)
/// already dropped: a bounding drop cannot be undone, so none is made
/// twice (exec's process after its helper's narrowing: ~30 prctl calls).
static DROPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// PR_CAPBSET_DROP of every capability up to `last` not in `keep` and not
/// dropped before; `what` names the step in an error.
fn drop_from_bounding(keep: u64, last: u32, what: &str) -> Result<()> {
    let gone = DROPPED.load(std::sync::atomic::Ordering::Relaxed);
    for nr in 0..=last.min(63) {
        if (keep | gone) & (1u64 << nr) != 0 {
            continue;
        }
        syscall::capbset_drop(nr)
            .with_context(|| format!("{what}: prctl(PR_CAPBSET_DROP, {})", name_of(nr)))?;
        DROPPED.fetch_or(1u64 << nr, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}

/// What every process's setup uses before its own sets are applied: the
/// user switch (setuid, setgid), the bounding set (setpcap), the stdio
/// pipes' and terminal's owner (chown, fowner), the cwd entered with the
/// runtime's rights (dac_override). A chroot is the helper's, before the
/// fork.
pub const SETUP: u64 = 1 << 0 | 1 << 1 | 1 << 3 | 1 << 6 | 1 << 7 | 1 << 8;
/// Only with process.scheduler or process.ioPriority.
pub const SETUP_NICE: u64 = 1 << 23;
/// Only with process.rlimits (a hard limit raised).
pub const SETUP_RESOURCE: u64 = 1 << 24;
/// Only for what cannot be done without it in the process itself: the
/// procfs for LSM label writes, a seccomp filter without no_new_privs that
/// must be loaded there (a listener's), both dropped by `drop_admin` the
/// moment they are done.
pub const SETUP_ADMIN: u64 = 1 << 21;

/// Narrow the bounding, effective, permitted and inheritable sets to the
/// process's own capabilities and what its setup still needs (`need`, from
/// the `SETUP*` masks): for `exec`'s helper before it forks the process
/// into the container's pid namespace, where a container process holding
/// CAP_SYS_PTRACE can attach to it (no dumpable flag stops that holder)
/// and run anything with what it holds. A process without `capabilities`
/// keeps only `need` (see `absent_keeps_all`).
pub fn narrow_for_setup(caps: Option<&LinuxCapabilities>, need: u64) -> Result<()> {
    if caps.is_none() && absent_keeps_all() {
        return Ok(());
    }
    let last = last_cap();
    let keep = caps.map_or(need, |caps| {
        sets(caps)
            .iter()
            .fold(need, |k, (_, set)| k | mask(*set, last))
    });
    drop_all_but(keep, last)
}

/// Drop CAP_SYS_ADMIN from every set unless the process itself has it:
/// `exec`'s process, the moment the steps that needed it are done.
pub fn drop_admin(caps: Option<&LinuxCapabilities>) -> Result<()> {
    if caps.is_none() && absent_keeps_all() {
        return Ok(());
    }
    let last = last_cap();
    let own = caps.map_or(0, |caps| {
        sets(caps)
            .iter()
            .fold(0, |k, (_, set)| k | mask(*set, last))
    });
    if own & SETUP_ADMIN != 0 {
        return Ok(());
    }
    drop_all_but(!SETUP_ADMIN, last)
}

fn drop_all_but(keep: u64, last: u32) -> Result<()> {
    drop_from_bounding(keep, last, "exec: before entering")?;
    let (eff, prm, inh) = read_current()?;
    capset(eff & keep, prm & keep, inh & keep).context("exec: capset before entering")
}

/// The calling thread's (effective, permitted, inheritable) masks.
pub fn read_current() -> Result<(u64, u64, u64)> {
    syscall::capget_self().context("capget")
}

fn capset(effective: u64, permitted: u64, inheritable: u64) -> std::io::Result<()> {
    syscall::capset_self(effective, permitted, inheritable)
}

/// Set effective, permitted, inheritable and ambient after the uid switch
/// (the caller set PR_SET_KEEPCAPS before it).
pub fn apply(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(caps) = caps else {
        if absent_keeps_all() {
            return Ok(());
        }
        return apply_masks(0, 0, 0, 0);
    };
    let last = last_cap();
    apply_masks(
        mask(caps.effective().as_ref(), last),
        mask(caps.permitted().as_ref(), last),
        mask(caps.inheritable().as_ref(), last),
        mask(caps.ambient().as_ref(), last),
    )
}

fn apply_masks(eff: u64, prm: u64, inh: u64, amb: u64) -> Result<()> {
    set_exact((eff, prm, inh))?;
    clear_ambient()?;
    // Only what the kernel allows: ambient within permitted and inheritable.
    let amb = amb & prm & inh;
    for nr in 0..=last_cap().min(63) {
        if amb & (1u64 << nr) == 0 {
            continue;
        }
        if let Err(e) = syscall::cap_ambient(libc::PR_CAP_AMBIENT_RAISE, nr) {
            return Err(e).with_context(|| {
                format!(
                    "process.capabilities.ambient: prctl(PR_CAP_AMBIENT_RAISE, {})",
                    name_of(nr)
                )
            });
        }
    }
    Ok(())
}

fn clear_ambient() -> Result<()> {
    match syscall::cap_ambient(libc::PR_CAP_AMBIENT_CLEAR_ALL, 0) {
        // EINVAL: a kernel before 4.3 without ambient capabilities; with
        // nothing to raise that is fine, otherwise the raise reports it.
        Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
            Err(e).context("process.capabilities.ambient: prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
        }
        _ => Ok(()),
    }
}

/// The kernel takes a seccomp filter without no_new_privs only from a
/// holder of CAP_SYS_ADMIN (effective). When the filter is loaded after
/// the user switch, as late as possible, this applies the spec's sets plus
/// CAP_SYS_ADMIN now and returns the (effective, permitted, inheritable)
/// that `set_exact` applies once the filter is in: the only step left
/// between the filter and execve. None: nothing is left to do (the spec
/// gives CAP_SYS_ADMIN, or the process cannot get it at all, which the
/// filter load then reports).
///
/// `root`: the uid switch left uid 0, so the effective set still holds
/// CAP_SYS_ADMIN; then the capset can wait for after the filter (one
/// capset in all, as without a filter) unless ambient capabilities must
/// be raised (they need inheritable set first) or the inheritable set
/// could be refused (outside the bounding set): a refusal must fail
/// `create`, not `start`.
pub fn apply_keeping_admin(
    caps: Option<&LinuxCapabilities>,
    root: bool,
) -> Result<Option<(u64, u64, u64)>> {
    const ADMIN: u64 = 1 << 21;
    let caps = match caps {
        Some(caps) => Some(caps),
        // No sets at all: as an empty `capabilities` object.
        None if !absent_keeps_all() => None,
        None => return keep_all_for_filter(root),
    };
    let last = last_cap();
    let m = |set: fn(&LinuxCapabilities) -> &Option<Capabilities>| {
        caps.map_or(0, |c| mask(set(c).as_ref(), last))
    };
    let eff = m(LinuxCapabilities::effective);
    let prm = m(LinuxCapabilities::permitted);
    let inh = m(LinuxCapabilities::inheritable);
    let amb = m(LinuxCapabilities::ambient);
    let bnd = m(LinuxCapabilities::bounding);
    if eff & ADMIN != 0 {
        apply_masks(eff, prm, inh, amb)?;
        return Ok(None);
    }
    if root && amb & prm & inh == 0 && inh & !bnd == 0 {
        clear_ambient()?;
        return Ok(Some((eff, prm, inh)));
    }
    apply_masks(eff | ADMIN, prm | ADMIN, inh, amb)?;
    Ok(Some((eff, prm, inh)))
}

/// `apply_keeping_admin` for a process without `capabilities` under the
/// control OUTLET_CAPS_ABSENT_KEEP_ALL=1: the sets stay as they are.
fn keep_all_for_filter(root: bool) -> Result<Option<(u64, u64, u64)>> {
    const ADMIN: u64 = 1 << 21;
    if root {
        return Ok(None);
    }
    // The sets stay as the switch left them, but the effective set lost
    // CAP_SYS_ADMIN with the uid.
    let (eff, prm, inh) = read_current()?;
    if prm & ADMIN == 0 {
        return Ok(None);
    }
    capset(eff | ADMIN, prm, inh).context("capset: CAP_SYS_ADMIN for the seccomp filter")?;
    Ok(Some((eff, prm, inh)))
}

/// The last capset, after the seccomp filter (see `apply_keeping_admin`).
pub fn set_exact(caps: (u64, u64, u64)) -> Result<()> {
    set_exact_raw(caps).with_context(|| describe(caps))
}

/// `set_exact` without the error's context, which allocates: for the init
/// after its seccomp filter (see `init::exec_process`).
pub fn set_exact_raw((eff, prm, inh): (u64, u64, u64)) -> std::io::Result<()> {
    capset(eff, prm, inh)
}

/// What `set_exact(caps)` does, for its errors.
pub fn describe((eff, prm, inh): (u64, u64, u64)) -> String {
    format!(
        "process.capabilities: capset(permitted=[{}], effective=[{}], inheritable=[{}])",
        names(prm),
        names(eff),
        names(inh)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps_from(v: serde_json::Value) -> LinuxCapabilities {
        serde_json::from_value(v).expect("valid LinuxCapabilities")
    }

    #[test]
    fn last_cap_matches_procfs() {
        let procfs: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(last_cap(), procfs);
    }

    #[test]
    fn names_map_to_kernel_numbers() {
        assert_eq!(number_of("CAP_NET_ADMIN"), Some(12));
        assert_eq!(number_of("NET_ADMIN"), Some(12));
        assert_eq!(number_of("cap_sys_admin"), Some(21));
        assert_eq!(number_of("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number_of("CAP_FOO"), None);
        assert_eq!(number_of("CAP_"), None);
        assert_eq!(name_of(24), "CAP_SYS_RESOURCE");
        assert_eq!(number(Capability::SysResource), 24);
        assert_eq!(number(Capability::Chown), 0);
    }

    #[test]
    fn every_oci_spec_capability_is_known() {
        // If oci-spec grows a variant, number() would panic at run time;
        // catch it here instead.
        for (name, nr) in NAMES {
            let cap: Capability = serde_json::from_value(json!(name)).expect(name);
            assert_eq!(number(cap), nr, "{name}");
        }
    }

    fn hex(key: &str) -> Result<u64, String> {
        let v = crate::security::testutil::status_field(key)?;
        u64::from_str_radix(&v, 16).map_err(|e| format!("{key} {v:?}: {e}"))
    }

    fn report() -> Result<String, String> {
        Ok(format!(
            "bnd={:x} prm={:x} eff={:x} inh={:x} amb={:x}",
            hex("CapBnd")?,
            hex("CapPrm")?,
            hex("CapEff")?,
            hex("CapInh")?,
            hex("CapAmb")?
        ))
    }

    #[test]
    #[cfg_attr(
        not(outlet_root),
        ignore = "needs root to drop the bounding set and switch uid"
    )]
    fn kernel_applies_all_five_sets_across_uid_switch() {
        let caps = caps_from(json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE", "CAP_NET_ADMIN"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN"],
            "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_KILL", "CAP_NET_BIND_SERVICE"]}));
        validate(Some(&caps)).unwrap();
        let out = crate::security::testutil::in_child(|| {
            drop_bounding(Some(&caps)).map_err(|e| format!("{e:#}"))?;
            let (uid, gid) = (
                nix::unistd::Uid::from_raw(1000),
                nix::unistd::Gid::from_raw(1000),
            );
            nix::sys::prctl::set_keepcaps(true)
                .and_then(|()| nix::unistd::setgroups(&[]))
                .and_then(|()| nix::unistd::setresgid(gid, gid, gid))
                .and_then(|()| nix::unistd::setresuid(uid, uid, uid))
                .map_err(|e| format!("uid switch: {}", std::io::Error::from(e)))?;
            apply(Some(&caps)).map_err(|e| format!("{e:#}"))?;
            report()
        })
        .ok();
        // KILL=5, NET_BIND_SERVICE=10, NET_ADMIN=12, AUDIT_WRITE=29.
        assert_eq!(out, "bnd=20001420 prm=1420 eff=420 inh=420 amb=420");
    }

    #[test]
    #[cfg_attr(not(outlet_root), ignore = "needs root to drop the bounding set")]
    fn kernel_applies_default_spec_sets_as_root() {
        let caps = LinuxCapabilities::default();
        let out = crate::security::testutil::in_child(|| {
            drop_bounding(Some(&caps)).map_err(|e| format!("{e:#}"))?;
            apply(Some(&caps)).map_err(|e| format!("{e:#}"))?;
            report()
        })
        .ok();
        assert_eq!(
            out,
            "bnd=20000420 prm=20000420 eff=20000420 inh=20000420 amb=20000420"
        );
    }

    #[test]
    #[cfg_attr(not(outlet_root), ignore = "needs root")]
    fn kernel_refuses_a_cap_the_process_lacks_with_a_clear_error() {
        let caps = caps_from(json!({
            "bounding": ["CAP_NET_ADMIN"], "effective": ["CAP_NET_ADMIN"],
            "permitted": ["CAP_NET_ADMIN"]}));
        let out = crate::security::testutil::in_child(|| {
            // Lose NET_ADMIN from permitted first, as a host that withholds
            // it from the runtime would.
            let (e, p, i) = read_current().map_err(|e| e.to_string())?;
            capset(e & !(1 << 12), p & !(1 << 12), i).map_err(|e| e.to_string())?;
            match apply(Some(&caps)) {
                Ok(()) => Ok("apply succeeded".into()),
                Err(e) => Ok(format!("{e:#}")),
            }
        })
        .ok();
        assert_eq!(
            out,
            "process.capabilities: capset(permitted=[CAP_NET_ADMIN], effective=[CAP_NET_ADMIN], \
             inheritable=[]): Operation not permitted (os error 1)"
        );
    }
}

//! Whose systemd the driver talks to, decided from the kernel's view of
//! this process rather than from the environment: systemd itself (PID 1's
//! manager) for host root, the session bus's user instance for anyone
//! else. "Anyone else" includes uid 0 inside a user namespace that is not
//! the initial one: rootless podman runs its runtime as uid 0 in its own
//! namespace, where uid 0 is the user (say 1000) to everyone outside, so
//! the system manager would refuse it and the user's manager is the one
//! that owns its cgroups (runc and crun decide alike).

use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The manager that makes this caller's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// Host root: systemd (PID 1).
    System,
    /// The systemd instance of the host user `uid` (`user@uid.service`),
    /// on that user's session bus.
    User { uid: u32 },
}

impl Manager {
    pub fn is_user(self) -> bool {
        matches!(self, Manager::User { .. })
    }
}

/// This process's manager, decided once per command (`scope`, `start`,
/// `add_pid` and `available` ask it). In the initial user namespace (one
/// stat tells, the common case of root on the host) the uid decides; in
/// any other, its uid_map does.
pub fn manager() -> Result<Manager> {
    static CACHED: OnceLock<Manager> = OnceLock::new();
    if let Some(m) = CACHED.get() {
        return Ok(*m);
    }
    let euid = nix::unistd::geteuid().as_raw();
    let m = if !crate::namespaces::running_in_user_namespace() {
        from_uid_map(INITIAL_MAP, euid)?
    } else {
        let map = std::fs::read_to_string("/proc/self/uid_map")
            .context("systemd cgroup driver: read /proc/self/uid_map")?;
        from_uid_map(&map, euid)?
    };
    Ok(*CACHED.get_or_init(|| m))
}

/// The initial namespace's uid_map: every id is itself.
const INITIAL_MAP: &str = "0 0 4294967295";

/// The manager for effective uid `euid` (as this namespace sees it) given
/// this namespace's uid_map. The initial namespace maps every id to
/// itself (`0 0 4294967295`); in any other, `euid` is whatever the map
/// says it is outside: that uid owns the session bus we must use. A
/// nested namespace's map names ids of its parent, not the host's; the
/// bus address from the environment still leads to the right bus, and
/// the bus daemon judges us by the kernel's credentials, not this number.
pub fn from_uid_map(text: &str, euid: u32) -> Result<Manager> {
    let mut ranges = Vec::with_capacity(1);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<u64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow::anyhow!("/proc/self/uid_map: bad line {line:?}"))?;
        let [inside, outside, count] = f[..] else {
            bail!("/proc/self/uid_map: bad line {line:?}");
        };
        ranges.push((inside, outside, count));
    }
    if ranges == [(0, 0, u64::from(u32::MAX))] {
        return Ok(if euid == 0 {
            Manager::System
        } else {
            Manager::User { uid: euid }
        });
    }
    let e = u64::from(euid);
    let outside = ranges
        .iter()
        .find(|(inside, _, count)| e >= *inside && e - inside < *count)
        .map(|(inside, outside, _)| outside + (e - inside));
    match outside.and_then(|o| u32::try_from(o).ok()) {
        Some(uid) => Ok(Manager::User { uid }),
        None => bail!(
            "systemd cgroup driver: uid {euid} is not mapped in this user namespace (/proc/self/uid_map): no user's systemd instance to ask"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_namespace() {
        let full = "         0          0 4294967295\n";
        assert_eq!(from_uid_map(INITIAL_MAP, 0).unwrap(), Manager::System);
        assert_eq!(from_uid_map(full, 0).unwrap(), Manager::System);
        assert_eq!(
            from_uid_map(full, 1000).unwrap(),
            Manager::User { uid: 1000 }
        );
    }

    #[test]
    fn rootless_podman_namespace() {
        // podman's: 0 is the user, 1.. the subordinate range.
        let podman = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(
            from_uid_map(podman, 0).unwrap(),
            Manager::User { uid: 1000 }
        );
        assert_eq!(
            from_uid_map(podman, 2).unwrap(),
            Manager::User { uid: 100001 }
        );
        // A map that is the identity but not over the whole range is
        // still another namespace: root there is not host root.
        assert_eq!(
            from_uid_map("0 0 65536\n", 0).unwrap(),
            Manager::User { uid: 0 }
        );
    }

    #[test]
    fn unmapped_or_garbled_named() {
        let e = from_uid_map("0 1000 1\n", 5).unwrap_err().to_string();
        assert!(e.contains("uid 5 is not mapped"), "{e}");
        let e = from_uid_map("0 x 1\n", 0).unwrap_err().to_string();
        assert!(e.contains("bad line"), "{e}");
        let e = from_uid_map("0 1\n", 0).unwrap_err().to_string();
        assert!(e.contains("bad line"), "{e}");
    }
}

//! Device access rules: the spec's `linux.resources.devices` parsed once into
//! a form both backends use (v1 devices.allow/deny lines, the v2 eBPF
//! program), plus the allowlist the runtime always grants.

use std::fmt;

use anyhow::{Result, bail};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    All,
    Char,
    Block,
}

impl DeviceKind {
    pub fn as_char(self) -> char {
        match self {
            DeviceKind::All => 'a',
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        }
    }
}

/// Access bits, with the kernel's BPF_DEVCG_ACC_* values so the eBPF
/// program can compare them directly.
pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
pub const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: DeviceKind,
    /// None = any.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl DeviceRule {
    /// `a *:* rwm`: the rule that resets the whole list.
    pub fn is_everything(&self) -> bool {
        self.kind == DeviceKind::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }
}

/// What a rule list means for one access (`access` bits) to the block
/// (`block`) or char device `major:minor`: the last rule that matches
/// decides, and with none matching it is denied. The one statement of that
/// meaning which the device programs are checked against, by the v2
/// equivalence and kernel tests and by the fuzz target.
pub fn decide(rules: &[DeviceRule], block: bool, access: u8, major: u32, minor: u32) -> bool {
    for r in rules.iter().rev() {
        let kind_ok = match r.kind {
            DeviceKind::All => true,
            DeviceKind::Char => !block,
            DeviceKind::Block => block,
        };
        if !kind_ok || r.major.is_some_and(|m| m != major) || r.minor.is_some_and(|m| m != minor) {
            continue;
        }
        // An allow rule must grant every bit asked for; a deny rule
        // refuses as soon as it names one of them.
        let matches = if r.allow {
            access & !r.access == 0
        } else {
            access & r.access != 0
        };
        if matches {
            return r.allow;
        }
    }
    false
}

pub fn access_string(access: u8) -> String {
    let mut s = String::with_capacity(3);
    if access & ACC_READ != 0 {
        s.push('r');
    }
    if access & ACC_WRITE != 0 {
        s.push('w');
    }
    if access & ACC_MKNOD != 0 {
        s.push('m');
    }
    s
}

/// `c 1:3 rwm`, the v1 devices.allow/deny syntax.
impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.kind.as_char())?;
        match self.major {
            Some(m) => write!(f, "{m}:")?,
            None => f.write_str("*:")?,
        }
        match self.minor {
            Some(m) => write!(f, "{m} ")?,
            None => f.write_str("* ")?,
        }
        f.write_str(&access_string(self.access))
    }
}

/// One of the devices every container may use whatever its config, as
/// runc 1.1's `AllowedDevices`: the rule is appended after the spec's
/// rules, and `node` names the file the rootfs code makes for it in /dev
/// (None: only the rule; ptmx and pts come from devpts, /dev/net/tun from
/// the spec if wanted). No rule for the host's console (c 5:1): runc 1.1
/// dropped it, and with `c *:* m` it let any container with CAP_MKNOD
/// open the host's /dev/console; a container's own /dev/console is a bind
/// of its pty (c 136:N, allowed by the pts rule), and an engine that wants
/// 5:1 says so in its rules (docker does, podman does not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultDevice {
    pub node: Option<&'static str>,
    pub rule: DeviceRule,
}

const fn char_dev(node: Option<&'static str>, major: u32, minor: Option<u32>) -> DefaultDevice {
    DefaultDevice {
        node,
        rule: DeviceRule {
            allow: true,
            kind: DeviceKind::Char,
            major: Some(major),
            minor,
            access: ACC_ALL,
        },
    }
}

/// mknod of any node: what a node may be used for is decided at open, by
/// the r and w rules, so `m` alone grants no access. It is also what lets
/// the init make `linux.devices` nodes under a spec that starts by
/// denying everything (runc's order).
const fn mknod_any(kind: DeviceKind) -> DefaultDevice {
    DefaultDevice {
        node: None,
        rule: DeviceRule {
            allow: true,
            kind,
            major: None,
            minor: None,
            access: ACC_MKNOD,
        },
    }
}

const DEFAULT_DEVICES: &[DefaultDevice] = &[
    mknod_any(DeviceKind::Char),
    mknod_any(DeviceKind::Block),
    char_dev(Some("/dev/null"), 1, Some(3)),
    char_dev(Some("/dev/random"), 1, Some(8)),
    char_dev(Some("/dev/full"), 1, Some(7)),
    char_dev(Some("/dev/tty"), 5, Some(0)),
    char_dev(Some("/dev/zero"), 1, Some(5)),
    char_dev(Some("/dev/urandom"), 1, Some(9)),
    char_dev(None, 136, None),     // /dev/pts/*
    char_dev(None, 5, Some(2)),    // /dev/ptmx
    char_dev(None, 10, Some(200)), // /dev/net/tun
];

/// The devices every container may use, and the nodes made for them.
pub fn default_allowed_devices() -> &'static [DefaultDevice] {
    DEFAULT_DEVICES
}

/// (path, major, minor) of the character device nodes the runtime makes in
/// every container's /dev.
pub fn default_nodes() -> impl Iterator<Item = (&'static str, u32, u32)> {
    DEFAULT_DEVICES
        .iter()
        .filter_map(|d| Some((d.node?, d.rule.major?, d.rule.minor?)))
}

fn default_rules() -> impl Iterator<Item = DeviceRule> {
    DEFAULT_DEVICES.iter().map(|d| d.rule)
}

fn number(field: &str, i: usize, v: Option<i64>) -> Result<Option<u32>> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) => match u32::try_from(n) {
            Ok(n) => Ok(Some(n)),
            Err(_) => bail!("linux.resources.devices[{i}].{field}: {n} is not a device number"),
        },
    }
}

pub fn parse_access(i: usize, s: Option<&str>) -> Result<u8> {
    let s = s.unwrap_or("");
    if s.is_empty() {
        return Ok(ACC_ALL);
    }
    let mut acc = 0;
    for c in s.chars() {
        acc |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => bail!(
                "linux.resources.devices[{i}].access: {s:?} is not a combination of r, w and m"
            ),
        };
    }
    Ok(acc)
}

fn parse_rule(i: usize, d: &LinuxDeviceCgroup) -> Result<Option<DeviceRule>> {
    let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => DeviceKind::All,
        LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
        LinuxDeviceType::B => DeviceKind::Block,
        // FIFOs are not devices to the kernel's device controller.
        LinuxDeviceType::P => return Ok(None),
    };
    Ok(Some(DeviceRule {
        allow: d.allow(),
        kind,
        major: number("major", i, d.major())?,
        minor: number("minor", i, d.minor())?,
        access: parse_access(i, d.access().as_deref())?,
    }))
}

/// The effective rule list, in order, later rules overriding earlier ones:
/// the spec's rules, then the default allowlist (appended last, as runc
/// does, so a leading "deny all" in the spec does not remove it).
/// With `with_defaults == false` and no spec rules (an `update` without
/// devices), None: leave the device policy alone.
pub fn rules(r: Option<&LinuxResources>, with_defaults: bool) -> Result<Option<Vec<DeviceRule>>> {
    let spec = r.and_then(|r| r.devices().as_ref());
    if !with_defaults && spec.is_none() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(spec.map_or(0, Vec::len) + DEFAULT_DEVICES.len());
    for (i, d) in spec.into_iter().flatten().enumerate() {
        if let Some(rule) = parse_rule(i, d)? {
            out.push(rule);
        }
    }
    out.extend(default_rules());
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn spec_rules_then_defaults() {
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":200,"access":"rw"},
            {"allow":true,"type":"p","access":"rwm"}]}"#);
        let rules = rules(Some(&r), true).unwrap().unwrap();
        assert!(rules[0].is_everything() && !rules[0].allow);
        assert_eq!(rules[1].to_string(), "c 10:200 rw");
        let defaults: Vec<String> = rules[2..].iter().map(|r| r.to_string()).collect();
        assert_eq!(
            defaults,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:8 rwm",
                "c 1:7 rwm",
                "c 5:0 rwm",
                "c 1:5 rwm",
                "c 1:9 rwm",
                "c 136:* rwm",
                "c 5:2 rwm",
                "c 10:200 rwm",
            ]
        );
        assert!(rules.iter().all(|r| r.allow || r.is_everything()));
    }

    #[test]
    fn default_nodes_are_the_plain_char_devices() {
        let nodes: Vec<_> = default_nodes().collect();
        assert_eq!(
            nodes,
            [
                ("/dev/null", 1, 3),
                ("/dev/random", 1, 8),
                ("/dev/full", 1, 7),
                ("/dev/tty", 5, 0),
                ("/dev/zero", 1, 5),
                ("/dev/urandom", 1, 9),
            ]
        );
    }

    #[test]
    fn update_without_devices_leaves_policy() {
        assert_eq!(rules(Some(&res("{}")), false).unwrap(), None);
        assert!(rules(None, true).unwrap().is_some());
    }

    #[test]
    fn bad_access_and_numbers_are_refused() {
        let e = rules(
            Some(&res(r#"{"devices":[{"allow":true,"access":"rwx"}]}"#)),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("devices[0].access: \"rwx\""), "{e}");
        let e = rules(
            Some(&res(r#"{"devices":[{"allow":true,"major":-4}]}"#)),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("devices[0].major: -4"), "{e}");
    }

    #[test]
    fn wildcard_major_minor() {
        let r = res(r#"{"devices":[{"allow":true,"type":"b","major":-1,"access":"m"}]}"#);
        assert_eq!(
            rules(Some(&r), true).unwrap().unwrap()[0].to_string(),
            "b *:* m"
        );
    }
}

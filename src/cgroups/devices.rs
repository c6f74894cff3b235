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
    pub const fn allow_char(major: u32, minor: Option<u32>) -> DeviceRule {
        DeviceRule {
            allow: true,
            kind: DeviceKind::Char,
            major: Some(major),
            minor,
            access: ACC_ALL,
        }
    }

    /// `a *:* rwm`: the rule that resets the whole list.
    pub fn is_everything(&self) -> bool {
        self.kind == DeviceKind::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }
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

/// A device node every container gets, and may use, regardless of its
/// config (runc's list, minus the `*:* m` wildcards so that mknod of any
/// other device is refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultDevice {
    /// Path in the container. `/dev/pts/*` stands for the devpts instance.
    pub path: &'static str,
    pub major: u32,
    /// None: every minor (the pty slaves).
    pub minor: Option<u32>,
    /// Mode for the node when the runtime creates it in /dev.
    pub mode: u32,
}

const DEFAULT_DEVICES: &[DefaultDevice] = &[
    DefaultDevice {
        path: "/dev/null",
        major: 1,
        minor: Some(3),
        mode: 0o666,
    },
    DefaultDevice {
        path: "/dev/zero",
        major: 1,
        minor: Some(5),
        mode: 0o666,
    },
    DefaultDevice {
        path: "/dev/full",
        major: 1,
        minor: Some(7),
        mode: 0o666,
    },
    DefaultDevice {
        path: "/dev/random",
        major: 1,
        minor: Some(8),
        mode: 0o666,
    },
    DefaultDevice {
        path: "/dev/urandom",
        major: 1,
        minor: Some(9),
        mode: 0o666,
    },
    DefaultDevice {
        path: "/dev/tty",
        major: 5,
        minor: Some(0),
        mode: 0o666,
    },
    DefaultDevice {
        path: "/dev/console",
        major: 5,
        minor: Some(1),
        mode: 0o620,
    },
    DefaultDevice {
        path: "/dev/ptmx",
        major: 5,
        minor: Some(2),
        mode: 0o666,
    },
    DefaultDevice {
        path: "/dev/pts/*",
        major: 136,
        minor: None,
        mode: 0o620,
    },
];

/// The devices a container may always use (all character devices). The
/// rootfs code creates the nodes among them that are plain files in /dev
/// (null, zero, full, random, urandom, tty); console, ptmx and pts come from
/// the pty setup and devpts.
pub fn default_allowed_devices() -> &'static [DefaultDevice] {
    DEFAULT_DEVICES
}

fn default_rules() -> impl Iterator<Item = DeviceRule> {
    DEFAULT_DEVICES
        .iter()
        .map(|d| DeviceRule::allow_char(d.major, d.minor))
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
        assert_eq!(rules[2].to_string(), "c 1:3 rwm");
        assert_eq!(rules.last().unwrap().to_string(), "c 136:* rwm");
        assert_eq!(rules.len(), 2 + DEFAULT_DEVICES.len());
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

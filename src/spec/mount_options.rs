//! The options of one `mounts[]` entry, read as runc reads them (its
//! specconv tables mountFlags, mountPropagationMapping, recAttrFlags and
//! extensionFlags): mount(2) flags, propagation changes, recursive mount
//! attributes for mount_setattr(2), the tmpcopyup extension and id-mapping;
//! anything else is filesystem data. `check` refuses the combinations that
//! could only be ignored, naming the option.

use anyhow::{Result, bail};
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;

// <linux/mount.h>; the libc crate does not carry them.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_IDMAP: u64 = 0x10_0000;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x20_0000;
/// MS_NOSYMFOLLOW (since 5.10); nix does not name it.
const MS_NOSYMFOLLOW: u64 = 256;

/// Changes to mount attributes: bits to set and to clear, the access-time
/// mode kept apart because the kernel takes exactly one mode, with the
/// whole MOUNT_ATTR__ATIME mask in `attr_clr`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    set: u64,
    clr: u64,
    atime: Option<u64>,
}

impl Attrs {
    fn change(&mut self, bit: u64, on: bool) {
        if on {
            self.set |= bit;
            self.clr &= !bit;
        } else {
            self.clr |= bit;
            self.set &= !bit;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clr == 0 && self.atime.is_none()
    }

    /// `(attr_set, attr_clr)` for mount_setattr.
    pub fn set_clr(&self) -> (u64, u64) {
        match self.atime {
            Some(mode) => (self.set | mode, self.clr | MOUNT_ATTR_ATIME_MASK),
            None => (self.set, self.clr),
        }
    }
}

/// What the options of one mount ask for.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Flags for mount(2) of a new filesystem (the last of ro/rw etc. wins).
    pub flags: MsFlags,
    /// The same per-mount flags as attribute changes, for a bind mount,
    /// which is made with open_tree and changed with mount_setattr.
    pub attrs: Attrs,
    /// Options that change the filesystem (superblock), not the mount: a
    /// bind mount shares its source's filesystem and cannot apply them.
    pub sb_options: Vec<String>,
    /// Propagation changes, in the order given.
    pub propagation: Vec<MsFlags>,
    /// rro, rnosuid, ...: applied to the mount and every mount below it.
    pub rec: Attrs,
    pub data: Vec<String>,
    pub bind: bool,
    pub recursive_bind: bool,
    pub tmpcopyup: bool,
    /// `idmap` (Some(false)) or `ridmap` (Some(true)).
    pub idmap: Option<bool>,
}

pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// runc's mountFlags: (clear, flag). The per-mount ones also carry their
/// mount_setattr bit (0: a superblock flag).
fn mount_flag(name: &str) -> Option<(bool, MsFlags, u64)> {
    use MsFlags as F;
    let nosym = F::from_bits_retain(MS_NOSYMFOLLOW);
    Some(match name {
        "defaults" => (false, F::empty(), 0),
        "ro" => (false, F::MS_RDONLY, MOUNT_ATTR_RDONLY),
        "rw" => (true, F::MS_RDONLY, MOUNT_ATTR_RDONLY),
        "nosuid" => (false, F::MS_NOSUID, MOUNT_ATTR_NOSUID),
        "suid" => (true, F::MS_NOSUID, MOUNT_ATTR_NOSUID),
        "nodev" => (false, F::MS_NODEV, MOUNT_ATTR_NODEV),
        "dev" => (true, F::MS_NODEV, MOUNT_ATTR_NODEV),
        "noexec" => (false, F::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        "exec" => (true, F::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        "nodiratime" => (false, F::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        "diratime" => (true, F::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        "nosymfollow" => (false, nosym, MOUNT_ATTR_NOSYMFOLLOW),
        "symfollow" => (true, nosym, MOUNT_ATTR_NOSYMFOLLOW),
        // Access-time modes: handled apart for mount_setattr (see Attrs).
        "noatime" => (false, F::MS_NOATIME, 0),
        "atime" => (true, F::MS_NOATIME, 0),
        "relatime" => (false, F::MS_RELATIME, 0),
        "norelatime" => (true, F::MS_RELATIME, 0),
        "strictatime" => (false, F::MS_STRICTATIME, 0),
        "nostrictatime" => (true, F::MS_STRICTATIME, 0),
        "sync" => (false, F::MS_SYNCHRONOUS, 0),
        "async" => (true, F::MS_SYNCHRONOUS, 0),
        "dirsync" => (false, F::MS_DIRSYNC, 0),
        "mand" => (false, F::MS_MANDLOCK, 0),
        "nomand" => (true, F::MS_MANDLOCK, 0),
        "silent" => (false, F::MS_SILENT, 0),
        "loud" => (true, F::MS_SILENT, 0),
        "acl" => (false, F::MS_POSIXACL, 0),
        "noacl" => (true, F::MS_POSIXACL, 0),
        "iversion" => (false, F::MS_I_VERSION, 0),
        "noiversion" => (true, F::MS_I_VERSION, 0),
        "lazytime" => (false, F::MS_LAZYTIME, 0),
        "nolazytime" => (true, F::MS_LAZYTIME, 0),
        "remount" => (false, F::MS_REMOUNT, 0),
        "bind" => (false, F::MS_BIND, 0),
        "rbind" => (false, F::MS_BIND | F::MS_REC, 0),
        _ => return None,
    })
}

/// The access-time mode an option selects, for mount_setattr. Clearing a
/// mode means the kernel's default, relatime.
fn atime_mode(name: &str) -> Option<u64> {
    Some(match name {
        "noatime" => MOUNT_ATTR_NOATIME,
        "strictatime" => MOUNT_ATTR_STRICTATIME,
        "relatime" | "atime" | "norelatime" | "nostrictatime" => MOUNT_ATTR_RELATIME,
        _ => return None,
    })
}

/// Apply a per-mount option (`ro`, `nosuid`, `noatime`, ...) to `attrs`;
/// false if `name` is not one.
fn change_attr(attrs: &mut Attrs, name: &str) -> bool {
    if let Some(mode) = atime_mode(name) {
        attrs.atime = Some(mode);
        return true;
    }
    match mount_flag(name) {
        Some((clear, _, bit)) if bit != 0 => {
            attrs.change(bit, !clear);
            true
        }
        _ => false,
    }
}

/// Every option `parse` acts on (listed by `outlet features`).
pub const KNOWN: &[&str] = &[
    "acl",
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noacl",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

pub fn parse(opts: &[String]) -> Options {
    let mut o = Options {
        flags: MsFlags::empty(),
        attrs: Attrs::default(),
        sb_options: Vec::new(),
        propagation: Vec::new(),
        rec: Attrs::default(),
        data: Vec::new(),
        bind: false,
        recursive_bind: false,
        tmpcopyup: false,
        idmap: None,
    };
    for opt in opts {
        let name = opt.as_str();
        if let Some((clear, flag, bit)) = mount_flag(name) {
            if clear {
                o.flags &= !flag;
            } else {
                o.flags |= flag;
            }
            if flag.contains(MsFlags::MS_BIND) {
                o.bind = true;
                o.recursive_bind |= flag.contains(MsFlags::MS_REC);
            } else if !change_attr(&mut o.attrs, name) && !clear && bit == 0 && !flag.is_empty() {
                o.sb_options.push(opt.clone());
            }
        } else if let Some(p) = propagation_flag(name) {
            o.propagation.push(p);
        } else if name
            .strip_prefix('r')
            .is_some_and(|plain| change_attr(&mut o.rec, plain))
        {
            // runc's recAttrFlags: rro, rnosuid, ..., applied recursively.
        } else if name == "tmpcopyup" {
            o.tmpcopyup = true;
        } else if name == "idmap" || name == "ridmap" {
            o.idmap = Some(name == "ridmap");
        } else {
            // As runc: anything else is for the filesystem.
            o.data.push(opt.clone());
        }
    }
    o
}

/// Every entry's options, indexed like `mounts`: parsed once by `create`
/// before the clone, so the init, which asks several questions of each
/// entry (and of every later one for a read-only cgroup tmpfs), matches
/// no option string itself (it inherits the parent's memory).
pub fn parse_all(mounts: &[Mount]) -> Vec<Options> {
    mounts
        .iter()
        .map(|m| parse(m.options().as_deref().unwrap_or(&[])))
        .collect()
}

/// Refuse what could only be ignored: done before anything is set up, so
/// a bad mount leaves nothing behind.
pub fn check(index: usize, m: &Mount) -> Result<()> {
    let field = || format!("mounts[{index}] ({})", m.destination().display());
    let o = parse(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let bind = o.bind || typ == "bind";
    if bind {
        if let Some(opt) = o.sb_options.first() {
            bail!(
                "{}: option {opt:?} changes a filesystem, and a bind mount shares its source's: \
                 it cannot be applied to a bind",
                field()
            );
        }
        if let Some(opt) = o.data.first() {
            bail!(
                "{}: option {opt:?} is not a mount option, and a bind mount passes no data to \
                 a filesystem",
                field()
            );
        }
    }
    if o.tmpcopyup && o.flags.contains(MsFlags::MS_REMOUNT) {
        bail!(
            "{}: option \"tmpcopyup\" fills a new tmpfs, and \"remount\" makes none",
            field()
        );
    }
    if o.tmpcopyup && typ != "tmpfs" {
        bail!(
            "{}: option \"tmpcopyup\" applies to a tmpfs only, not to type {typ:?}",
            field()
        );
    }
    let mapped = m.uid_mappings().is_some() || m.gid_mappings().is_some();
    if mapped || o.idmap.is_some() {
        let what = if mapped {
            "uidMappings/gidMappings"
        } else {
            "option \"idmap\""
        };
        if !bind {
            bail!(
                "{}: {what}: an id-mapped mount must be a bind mount",
                field()
            );
        }
        let empty = |v: &Option<Vec<_>>| v.as_ref().is_none_or(Vec::is_empty);
        if empty(m.uid_mappings()) || empty(m.gid_mappings()) {
            bail!(
                "{}: {what}: an id-mapped mount needs both uidMappings and gidMappings",
                field()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_flags_data_and_propagation() {
        let o = parse(&s(&[
            "nosuid",
            "noexec",
            "mode=755",
            "size=65536k",
            "rslave",
        ]));
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert!(!o.bind);
        assert_eq!(
            o.attrs.set_clr(),
            (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0)
        );
    }

    #[test]
    fn later_options_win() {
        let o = parse(&s(&["ro", "rw", "rbind"]));
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert!(o.bind && o.recursive_bind);
        assert_eq!(o.attrs.set_clr(), (0, MOUNT_ATTR_RDONLY));
        let o = parse(&s(&["rw", "ro"]));
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert_eq!(o.attrs.set_clr(), (MOUNT_ATTR_RDONLY, 0));
    }

    #[test]
    fn recursive_attributes() {
        let o = parse(&s(&["rro", "rnosuid", "rdev", "rnoatime", "rnosymfollow"]));
        assert_eq!(
            o.rec.set_clr(),
            (
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME | MOUNT_ATTR_NOSYMFOLLOW,
                MOUNT_ATTR_NODEV | MOUNT_ATTR_ATIME_MASK
            )
        );
        assert!(o.data.is_empty() && o.flags.is_empty());
        // ratime: back to the default mode, with the whole mask cleared.
        let o = parse(&s(&["rstrictatime", "ratime", "rrw"]));
        assert_eq!(
            o.rec.set_clr(),
            (
                MOUNT_ATTR_RELATIME,
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_ATIME_MASK
            )
        );
    }

    #[test]
    fn every_known_option_is_acted_on() {
        for k in KNOWN {
            let o = parse(&s(&[k]));
            assert!(o.data.is_empty(), "{k} would be passed as data");
        }
        for unknown in ["mode=1777", "nocopyup", "copy-symlink", "z"] {
            assert_eq!(parse(&s(&[unknown])).data, vec![unknown]);
        }
        let o = parse(&s(&["tmpcopyup", "ridmap", "lazytime", "noacl"]));
        assert!(o.tmpcopyup);
        assert_eq!(o.idmap, Some(true));
        assert_eq!(o.sb_options, vec!["lazytime"]);
        assert_eq!(o.flags, MsFlags::MS_LAZYTIME);
    }

    fn mount(v: serde_json::Value) -> Mount {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn refusals_name_index_destination_and_option() {
        let cases = [
            (
                serde_json::json!({"destination": "/d", "type": "bind", "source": "/tmp",
                    "options": ["rbind", "sync"]}),
                "\"sync\"",
            ),
            (
                serde_json::json!({"destination": "/d", "source": "/tmp",
                    "options": ["bind", "size=1k"]}),
                "\"size=1k\"",
            ),
            (
                serde_json::json!({"destination": "/d", "type": "proc", "source": "proc",
                    "options": ["tmpcopyup"]}),
                "tmpcopyup",
            ),
            (
                serde_json::json!({"destination": "/d", "type": "tmpfs", "source": "tmpfs",
                    "options": ["remount", "tmpcopyup"]}),
                "makes none",
            ),
            (
                serde_json::json!({"destination": "/d", "type": "tmpfs", "source": "tmpfs",
                    "options": ["idmap"]}),
                "idmap",
            ),
            (
                serde_json::json!({"destination": "/d", "type": "bind", "source": "/tmp",
                    "options": ["rbind"],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
                "gidMappings",
            ),
        ];
        for (v, what) in cases {
            let err = format!("{:#}", check(3, &mount(v)).unwrap_err());
            assert!(err.contains("mounts[3] (/d)"), "{err}");
            assert!(err.contains(what), "{err}");
        }
        let ok = mount(serde_json::json!({"destination": "/d", "type": "tmpfs",
            "source": "tmpfs", "options": ["tmpcopyup", "rro", "mode=700", "sync"]}));
        check(0, &ok).unwrap();
    }
}

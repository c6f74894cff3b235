//! What kind of cgroup host this is, found with one statfs and, on v1, one
//! read of /proc/self/cgroup (mountinfo only when a hierarchy is not where
//! every distribution mounts it).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

pub const ROOT: &str = "/sys/fs/cgroup";

// From linux/magic.h.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// cgroup2 mounted at the given root (/sys/fs/cgroup on a unified host).
    Unified(PathBuf),
    /// v1 controllers, one hierarchy per line of /proc/self/cgroup.
    Legacy(Vec<Hierarchy>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Controllers bound to this hierarchy (`cpu`, `cpuacct` when co-mounted).
    pub controllers: Vec<String>,
    /// Where the hierarchy is mounted.
    pub mount: PathBuf,
    /// The calling process's cgroup in it, from /proc/self/cgroup.
    pub own: String,
}

fn fs_magic(path: &str) -> Result<i64> {
    let st = nix::sys::statfs::statfs(path).with_context(|| format!("cgroup: statfs {path}"))?;
    // The type's width differs between libc targets; the magic fits in 32 bits.
    #[allow(clippy::unnecessary_cast)]
    Ok(st.filesystem_type().0 as i64)
}

pub fn probe() -> Result<Host> {
    let magic = fs_magic(ROOT)?;
    if magic == CGROUP2_SUPER_MAGIC {
        return Ok(Host::Unified(PathBuf::from(ROOT)));
    }
    let text =
        std::fs::read_to_string("/proc/self/cgroup").context("cgroup: read /proc/self/cgroup")?;
    let mut hierarchies = parse_v1_hierarchies(&text);
    if hierarchies.iter().all(|h| h.controllers.is_empty()) {
        bail!("cgroup: no cgroup v1 controllers and no cgroup2 at {ROOT} (fs magic {magic:#x})");
    }
    // The v2 line names a hierarchy only where cgroup2 is mounted at
    // /sys/fs/cgroup/unified (one statfs; a cgroup2 anywhere else is not
    // this host's hybrid layout).
    hierarchies.retain(|h| {
        !h.controllers.is_empty()
            || fs_magic(&h.mount.to_string_lossy()).is_ok_and(|m| m == CGROUP2_SUPER_MAGIC)
    });
    let mut mountinfo: Option<Vec<(Vec<String>, PathBuf)>> = None;
    for h in &mut hierarchies {
        if h.mount.exists() {
            continue;
        }
        // Not at /sys/fs/cgroup/<controllers>: find it in mountinfo.
        if mountinfo.is_none() {
            let text = std::fs::read_to_string("/proc/self/mountinfo")
                .context("cgroup: read /proc/self/mountinfo")?;
            mountinfo = Some(parse_v1_mounts(&text));
        }
        let mounts = mountinfo.as_ref().expect("just filled");
        let found = mounts.iter().find(|(ctrls, _)| {
            let mut a = ctrls.clone();
            let mut b = h.controllers.clone();
            a.sort();
            b.sort();
            a == b
        });
        match found {
            Some((_, p)) => h.mount = p.clone(),
            // The named hierarchy unmounted: nothing of the spec needs it.
            None if h.controllers == [SYSTEMD_NAMED] => h.mount = PathBuf::new(),
            None => bail!(
                "cgroup: v1 hierarchy {} is not mounted",
                h.controllers.join(",")
            ),
        }
    }
    hierarchies.retain(|h| !h.mount.as_os_str().is_empty());
    Ok(Host::Legacy(hierarchies))
}

/// The named hierarchy a container joins besides the controllers' (as
/// runc does): systemd on a v1 host tracks services by it, and a systemd
/// inside the container needs its own directory there. No limit lives in
/// it; it is a v1 "controller" named as /proc/self/cgroup names it.
pub const SYSTEMD_NAMED: &str = "name=systemd";

/// Where a hybrid host mounts its controller-less cgroup2 hierarchy, under
/// ROOT (runc looks there too). A `Hierarchy` with no controllers is it.
const HYBRID_UNIFIED: &str = "unified";

/// The hierarchies of /proc/self/cgroup a container joins: the v1 lines
/// (`4:memory:/a/b`), the named `name=systemd` one (mounted at
/// /sys/fs/cgroup/systemd) and the v2 line (`0::/`, one with no
/// controllers, kept by `probe` only on a hybrid host); other named
/// hierarchies left out: nothing of a container's lives there.
pub fn parse_v1_hierarchies(text: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            // The v2 line: a hierarchy only on a hybrid host, where
            // `probe` finds cgroup2 mounted at /sys/fs/cgroup/unified.
            out.push(Hierarchy {
                controllers: Vec::new(),
                mount: Path::new(ROOT).join(HYBRID_UNIFIED),
                own: path.to_owned(),
            });
            continue;
        }
        if ctrls == SYSTEMD_NAMED {
            out.push(Hierarchy {
                controllers: vec![SYSTEMD_NAMED.to_owned()],
                mount: Path::new(ROOT).join(mount_name(SYSTEMD_NAMED)),
                own: path.to_owned(),
            });
            continue;
        }
        if ctrls.starts_with("name=") {
            continue;
        }
        let controllers: Vec<String> = ctrls
            .split(',')
            .filter(|c| !c.starts_with("name="))
            .map(str::to_owned)
            .collect();
        out.push(Hierarchy {
            mount: Path::new(ROOT).join(ctrls),
            controllers,
            own: path.to_owned(),
        });
    }
    out
}

/// (controllers, mount point) of every cgroup v1 mount in mountinfo.
fn parse_v1_mounts(text: &str) -> Vec<(Vec<String>, PathBuf)> {
    let mut out = Vec::new();
    for line in text.lines() {
        // id parent maj:min root mountpoint options [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        if r.next() != Some("cgroup") {
            continue;
        }
        let superopts = r.nth(1).unwrap_or("");
        let Some(mountpoint) = left.split(' ').nth(4) else {
            continue;
        };
        let ctrls = superopts
            .split(',')
            .filter(|o| KNOWN_V1.contains(o) || *o == SYSTEMD_NAMED)
            .map(str::to_owned)
            .collect::<Vec<_>>();
        if !ctrls.is_empty() {
            out.push((ctrls, PathBuf::from(unescape_mount(mountpoint))));
        }
    }
    out
}

const KNOWN_V1: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

fn unescape_mount(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The caller's cgroup on a unified host (the `0::` line).
pub fn own_unified_cgroup() -> Result<String> {
    let text =
        std::fs::read_to_string("/proc/self/cgroup").context("cgroup: read /proc/self/cgroup")?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("cgroup: /proc/self/cgroup has no cgroup v2 (0::) line"))
}

/// A sentence describing the host's layout, for errors about a missing
/// controller. Only computed on the error path.
pub fn describe(host: &Host) -> String {
    match host {
        Host::Unified(root) => {
            let ctrls =
                std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            format!(
                "cgroup v2 (unified) at {}, controllers available: {}",
                root.display(),
                list_or_none(ctrls.split_whitespace())
            )
        }
        Host::Legacy(hs) => {
            let unified = Path::new(ROOT).join("unified");
            let kind = match fs_magic(&unified.to_string_lossy()) {
                Ok(CGROUP2_SUPER_MAGIC) => {
                    let ctrls = std::fs::read_to_string(unified.join("cgroup.controllers"))
                        .unwrap_or_default();
                    format!(
                        "hybrid: cgroup2 at {} with controllers: {}",
                        unified.display(),
                        list_or_none(ctrls.split_whitespace())
                    )
                }
                _ => "legacy".to_owned(),
            };
            let v1 = hs
                .iter()
                .flat_map(|h| h.controllers.iter().map(String::as_str))
                .filter(|c| *c != SYSTEMD_NAMED);
            format!("cgroup v1 ({kind}); v1 controllers: {}", list_or_none(v1))
        }
    }
}

/// The directory a v1 hierarchy is mounted at under /sys/fs/cgroup, in the
/// host's layout and in the container's: the controllers' names, a named
/// hierarchy's name without `name=`.
pub fn mount_name(controller: &str) -> &str {
    controller.strip_prefix("name=").unwrap_or(controller)
}

fn list_or_none<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hybrid_proc_self_cgroup() {
        let text = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/7b\n2:cpu,cpuacct:/x\n0::/\n";
        let mut hs = parse_v1_hierarchies(text);
        assert_eq!(hs.len(), 5);
        let v2 = hs.pop().unwrap();
        assert!(v2.controllers.is_empty());
        assert_eq!(v2.mount, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(hs[0].controllers, ["name=systemd"]);
        assert_eq!(hs[0].mount, Path::new("/sys/fs/cgroup/systemd"));
        assert_eq!(hs[1].controllers, ["pids"]);
        assert_eq!(hs[1].mount, Path::new("/sys/fs/cgroup/pids"));
        assert_eq!(hs[2].own, "/process_api/7b");
        assert_eq!(hs[3].controllers, ["cpu", "cpuacct"]);
        assert_eq!(hs[3].mount, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        // Other named hierarchies hold nothing of a container's.
        assert_eq!(parse_v1_hierarchies("3:name=elogind:/\n0::/a\n").len(), 1);
    }

    #[test]
    fn parses_mountinfo_v1_mounts() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                    32 31 0:29 / /cg/cpu\\040x rw,relatime - cgroup cgroup rw,cpu,cpuacct\n\
                    33 31 0:30 / /cg/sd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n\
                    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let m = parse_v1_mounts(text);
        assert_eq!(
            m,
            vec![
                (
                    vec!["cpu".to_owned(), "cpuacct".to_owned()],
                    PathBuf::from("/cg/cpu x")
                ),
                (vec!["name=systemd".to_owned()], PathBuf::from("/cg/sd"))
            ]
        );
    }
}

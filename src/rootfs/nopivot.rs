//! `--no-pivot`: the host's own proc and sysfs mounts go before the rootfs
//! is moved onto `/`.
//!
//! MS_MOVE + chroot leaves the host's tree in the container's mount
//! namespace, under the chroot. The kernel lets a new user namespace mount
//! a fresh procfs (or sysfs) only if a fully visible one is already
//! mounted in the mount namespace (mount_too_revealing), and it counts
//! every mount of the namespace, reachable from the chroot or not: the
//! host's bare /proc there let `unshare -mrpf` in the container mount a
//! procfs with none of the container's masked paths (runc's no_pivot.bats
//! "runc run --no-pivot must not expose bare /proc"). runc detaches them
//! the same way.

use std::path::Path;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

/// Detaches every whole (root "/") proc and sysfs mount outside `rootfs`,
/// or, where it cannot be detached, covers it with an empty tmpfs.
pub fn hide_host_proc_sys(rootfs: &Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .context("--no-pivot: read /proc/self/mountinfo")?;
    for target in revealing(&info, rootfs) {
        let p = Path::new(&target);
        // The detach must not propagate to the host's namespace.
        match mount(
            None::<&str>,
            p,
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        ) {
            Ok(()) => {}
            // Gone with a parent detached before it.
            Err(Errno::ENOENT | Errno::EINVAL) => continue,
            Err(e) => return Err(e).with_context(|| format!("--no-pivot: make {target} a slave")),
        }
        match umount2(p, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL | Errno::EPERM) => {
                mount(
                    Some("tmpfs"),
                    p,
                    Some("tmpfs"),
                    MsFlags::empty(),
                    None::<&str>,
                )
                .with_context(|| format!("--no-pivot: cover the host's {target}"))?;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("--no-pivot: detach the host's {target}"));
            }
        }
    }
    Ok(())
}

/// The mount points, in mountinfo's order, of whole proc and sysfs mounts
/// that are not the container's own (at or under `rootfs`).
fn revealing(mountinfo: &str, rootfs: &Path) -> Vec<String> {
    let rootfs = rootfs.to_string_lossy();
    let rootfs = rootfs.trim_end_matches('/');
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mut pre = pre.split(' ').skip(3);
            let (root, point) = (pre.next()?, unescape(pre.next()?));
            let fstype = post.split(' ').next()?;
            let inside = point == rootfs
                || point
                    .strip_prefix(rootfs)
                    .is_some_and(|r| r.starts_with('/'));
            let whole = root == "/" && matches!(fstype, "proc" | "sysfs");
            (whole && !inside).then_some(point)
        })
        .collect()
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revealing_skips_the_containers_own_and_partial_mounts() {
        let mi = "\
22 1 0:5 / /proc rw - proc proc rw
23 1 0:6 / /sys rw - sysfs sysfs rw
24 1 0:7 / /srv/my\\040box rw - proc proc rw
40 30 0:5 / /b/rootfs/proc rw - proc proc rw
41 30 0:6 / /b/rootfs/sys rw - sysfs sysfs rw
42 30 0:5 /sys /b/rootfsx/x rw - proc proc rw
43 30 0:8 / /b/rootfsx/proc rw - proc proc rw
44 30 0:9 / /b/rootfs/dev rw - tmpfs tmpfs rw
";
        assert_eq!(
            revealing(mi, Path::new("/b/rootfs/")),
            ["/proc", "/sys", "/srv/my box", "/b/rootfsx/proc"]
        );
    }
}

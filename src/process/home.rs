//! `HOME` for a process whose env lacks it, from the container's
//! /etc/passwd entry of its uid, else `/` (runc's rule, for the init and
//! for exec). The file belongs to the image, so it is opened inside the
//! root, must be a regular file, and is read only so far.

use std::borrow::Cow;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::Result;

use crate::spec::Process;
use crate::syscall::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2};

/// More than any real passwd file; a larger one is read up to here.
const MAX_PASSWD: u64 = 4 << 20;

/// The process as given when its env has HOME, else a copy with HOME set.
/// Runs inside the container's root and mount namespace.
pub fn with_home(process: &Process) -> Result<Cow<'_, Process>> {
    let env = process.env().as_deref().unwrap_or(&[]);
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return Ok(Cow::Borrowed(process));
    }
    let home = read_passwd()
        .and_then(|text| home_of(&text, process.user().uid()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string());
    let mut p = process.clone();
    p.env
        .get_or_insert_with(Vec::new)
        .push(format!("HOME={home}"));
    Ok(Cow::Owned(p))
}

/// The container's /etc/passwd, or None when it is missing, not a regular
/// file (a fifo would block, a device could be endless) or unreadable.
fn read_passwd() -> Option<String> {
    let root = openat2(
        libc::AT_FDCWD,
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .ok()?;
    let fd = openat2(
        root.as_raw_fd(),
        Path::new("etc/passwd"),
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
    .ok()?;
    let f = std::fs::File::from(fd);
    let md = f.metadata().ok()?;
    if !md.is_file() {
        return None;
    }
    // Room for the whole file and the read that sees its end: two reads
    // instead of read_to_string's growing from 32 bytes.
    let mut text = String::with_capacity(md.len().min(MAX_PASSWD) as usize + 1);
    f.take(MAX_PASSWD).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The home field of the first entry with this uid.
fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_fields() {
        let p = "root:x:0:0:root:/root:/bin/sh\n# c\nbad\nu:x:1000:1000::/home/u:/bin/sh\n";
        assert_eq!(home_of(p, 0).as_deref(), Some("/root"));
        assert_eq!(home_of(p, 1000).as_deref(), Some("/home/u"));
        assert_eq!(home_of(p, 5), None);
    }
}

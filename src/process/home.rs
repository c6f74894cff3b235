//! The env a process is given, as runc gives it (for the init and for
//! exec): a name set twice keeps its first place and its last value, and
//! `HOME`, when missing or empty, comes from the container's /etc/passwd
//! entry of the uid, else `/`. The file belongs to the image, so it is
//! opened inside the root, must be a regular file, and is read only so far.

use std::borrow::Cow;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::Result;

use crate::spec::Process;
use crate::syscall::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2};

/// More than any real passwd file; a larger one is read up to here.
const MAX_PASSWD: u64 = 4 << 20;

/// The process as given when its env has no name twice and a non-empty
/// HOME (the common case: no copy), else a copy with the env resolved.
/// Runs inside the container's root and mount namespace.
pub fn with_home(process: &Process) -> Result<Cow<'_, Process>> {
    let given = process.env().as_deref().unwrap_or(&[]);
    let deduped = dedup(given);
    let env = deduped.as_deref().unwrap_or(given);
    let home_set = env
        .iter()
        .any(|e| e.strip_prefix("HOME=").is_some_and(|h| !h.is_empty()));
    if home_set && deduped.is_none() {
        return Ok(Cow::Borrowed(process));
    }
    let mut env = deduped.unwrap_or_else(|| given.to_vec());
    if !home_set {
        let home = read_passwd()
            .and_then(|text| home_of(&text, process.user().uid()))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "/".to_string());
        let home = format!("HOME={home}");
        // An empty HOME= is replaced where it stands.
        match env.iter_mut().find(|e| e.starts_with("HOME=")) {
            Some(e) => *e = home,
            None => env.push(home),
        }
    }
    let mut p = process.clone();
    p.env = Some(env);
    Ok(Cow::Owned(p))
}

/// The name of an entry (`process.env` was checked at create: each has '=').
fn name_of(e: &str) -> &str {
    e.split_once('=').map_or(e, |(n, _)| n)
}

/// `env` with each name once, at its first place with its last value; None
/// when no name repeats. Quadratic, but over a few dozen entries that is
/// less work than building a hash set.
fn dedup(env: &[String]) -> Option<Vec<String>> {
    let repeats = |i: usize| env[..i].iter().any(|f| name_of(f) == name_of(&env[i]));
    if !(1..env.len()).any(repeats) {
        return None;
    }
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for e in env {
        match out.iter_mut().find(|o| name_of(o) == name_of(e)) {
            Some(o) => o.clone_from(e),
            None => out.push(e.clone()),
        }
    }
    Some(out)
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

    #[test]
    fn a_repeated_name_keeps_its_first_place_and_last_value() {
        let env = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(dedup(&env(&["A=1", "B=2"])), None);
        assert_eq!(
            dedup(&env(&["ONE=two", "P=x", "ONE=", "ONE=three"])),
            Some(env(&["ONE=three", "P=x"]))
        );
    }
}

//! --log / --log-format. Callers parse this: containerd's shim decodes the
//! file as a stream of JSON objects and keeps the last `"level":"error"`;
//! podman reads the whole file as ONE object, so at the default level only the
//! final error is written.

use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, Result};

/// How each line of the log is written: logfmt-like text, or one JSON
/// object per line (what containerd's shim and podman decode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct Logger {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

/// The command's logger, for code far from `main` (create's steps, hooks,
/// seccomp): set once by `Logger::new`.
static GLOBAL: OnceLock<Logger> = OnceLock::new();

/// A warning through the command's logger (stderr before there is one).
pub fn warn(msg: &str) {
    match GLOBAL.get() {
        Some(l) => l.warn(msg),
        None => stderr(format_args!("outlet: warning: {msg}")),
    }
}

/// A debug line through the command's logger: nothing unless `--debug`.
/// Takes a closure so that the message is not even formatted otherwise.
pub fn debug(msg: impl FnOnce() -> String) {
    if let Some(l) = GLOBAL.get()
        && l.debug
    {
        l.debug(&msg());
    }
}

impl Logger {
    pub fn new(file: Option<PathBuf>, format: LogFormat, debug: bool) -> Logger {
        let l = Logger {
            file,
            format,
            debug,
        };
        let _ = GLOBAL.set(l.clone());
        l
    }

    /// The log file must be writable: a caller that asked for one reads
    /// its errors there, so a silent fall back to stderr would lose them.
    /// Opened and closed again at once: a descriptor kept open would be
    /// inherited by a container's init until its execve.
    pub fn check_file(&self) -> Result<()> {
        if let Some(path) = &self.file {
            open(path).with_context(|| format!("--log {}: cannot open", path.display()))?;
        }
        Ok(())
    }

    pub fn error(&self, msg: &str) {
        // The shim does not see stderr for create/exec, and conmon forwards
        // stderr to podman: write both when a log file is given.
        self.stderr("error", msg);
        if self.file.is_some() {
            self.write("error", msg);
        }
    }

    /// To the log file only with --debug: podman reads the file as ONE
    /// object at the default level. Otherwise to stderr, so that a warning
    /// is never lost.
    pub fn warn(&self, msg: &str) {
        if self.file.is_some() && self.debug {
            self.write("warning", msg);
        } else {
            self.stderr("warning", msg);
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            if self.file.is_some() {
                self.write("debug", msg);
            } else {
                self.stderr("debug", msg);
            }
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let Some(path) = &self.file else { return };
        let line = match self.format {
            LogFormat::Json => json_line(level, msg),
            LogFormat::Text => format!("time=\"{}\" level={level} msg={msg:?}\n", rfc3339_now()),
        };
        if let Ok(mut f) = open(path) {
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// A line on stderr. Without --log, `--log-format json` makes it a JSON
    /// object, as runc writes it there (the caller asked for JSON and parses
    /// what it reads); with a log file the JSON goes to the file and stderr
    /// keeps the plain message, which conmon hands to podman.
    fn stderr(&self, level: &str, msg: &str) {
        match (self.format, level) {
            (LogFormat::Json, _) if self.file.is_none() => {
                write_stderr(json_line(level, msg).as_bytes())
            }
            (_, "error") => stderr(format_args!("outlet: {msg}")),
            _ => stderr(format_args!("outlet: {level}: {msg}")),
        }
    }
}

fn json_line(level: &str, msg: &str) -> String {
    format!(
        "{}\n",
        serde_json::json!({"level": level, "msg": msg, "time": rfc3339_now()})
    )
}

/// `line` and a newline on stderr in ONE write(2). `eprintln!` writes each
/// piece of its format separately, and outlet's stderr is often shared (the
/// init inherits the caller's; conmon and the shim collect several
/// runtimes' output in one pipe): pieces of two messages would interleave
/// into lines that belong to neither. A pipe takes up to PIPE_BUF bytes
/// whole whatever the other writers do; a longer line is still one call,
/// which a file opened O_APPEND also keeps together.
pub fn stderr(line: fmt::Arguments<'_>) {
    let mut buf = String::with_capacity(128);
    let _ = buf.write_fmt(line);
    buf.push('\n');
    write_stderr(buf.as_bytes());
}

/// `parts` and a newline on stderr in one write(2), assembled on the
/// stack: for the init after its seccomp filter, where nothing may
/// allocate (the filter may deny brk and mmap). A line longer than the
/// buffer is cut, still ending in a newline.
pub fn stderr_parts(parts: &[&str]) {
    let mut buf = [0u8; 1024];
    let room = buf.len() - 1;
    let mut n = 0;
    for p in parts {
        let take = p.len().min(room - n);
        buf[n..n + take].copy_from_slice(&p.as_bytes()[..take]);
        n += take;
    }
    buf[n] = b'\n';
    write_stderr(&buf[..=n]);
}

/// One write(2) of `bytes` to fd 2; the rest again only if the kernel took
/// part (a full pipe), and then there is nothing better to do. No lock and
/// no allocation: std's `Stderr` would take a reentrant lock.
fn write_stderr(mut bytes: &[u8]) {
    let fd = std::io::stderr();
    while !bytes.is_empty() {
        match nix::unistd::write(&fd, bytes) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

/// O_APPEND keeps concurrent writers (shim, conmon) from clobbering. In a
/// directory that others may write to and that is sticky (/tmp), the name
/// may have been planted by another user: a symlink there would send a
/// root outlet's lines into the file it names (/etc/shadow), a fifo would
/// hang the command. There the name is never followed nor waited on, and
/// what was opened must be a regular file with one link, owned by us or
/// by the directory's owner; the kernel's fs.protected_* sysctls do the
/// same, but they may be off (they are on this host). Debug builds'
/// `OUTLET_LOG_FOLLOW=1` (a test's control) opens as before everywhere.
fn open(path: &std::path::Path) -> std::io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut how = OpenOptions::new();
    how.create(true).append(true);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let shared = std::fs::metadata(dir)
        .ok()
        .filter(|d| d.mode() & 0o1000 != 0 && d.mode() & 0o022 != 0);
    let follow = crate::fault::control("OUTLET_LOG_FOLLOW");
    let Some(dir) = shared.filter(|_| !follow) else {
        return how.open(path);
    };
    let f = how
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(
            |e| match std::fs::symlink_metadata(path).map(|m| m.file_type()) {
                // ELOOP, or EACCES: the kernel's own sticky check on a name of
                // another owner comes first.
                Ok(t) if t.is_symlink() => shared_refusal("a symlink, not followed"),
                Ok(t) if std::os::unix::fs::FileTypeExt::is_fifo(&t) => {
                    shared_refusal("a fifo, not waited on")
                }
                _ => e,
            },
        )?;
    let st = f.metadata()?;
    let us = nix::unistd::geteuid().as_raw();
    if !st.file_type().is_file() || st.nlink() != 1 || (st.uid() != us && st.uid() != dir.uid()) {
        return Err(shared_refusal(&format!(
            "not a regular file of ours with one link (owner uid {}, {} links)",
            st.uid(),
            st.nlink()
        )));
    }
    Ok(f)
}

fn shared_refusal(what: &str) -> std::io::Error {
    std::io::Error::other(format!("in a sticky directory others can write to, {what}"))
}

/// RFC 3339 in UTC with nanoseconds, computed without a date crate.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{nanos:09}Z")
}

#[cfg(test)]
mod tests {
    use super::{rfc3339, stderr, stderr_parts};

    /// What `f` writes on fd 2, run in a child whose fd 2 is a pipe.
    fn on_stderr(f: fn()) -> String {
        crate::security::testutil::in_child(move || {
            use std::io::Read;
            use std::os::fd::AsRawFd;
            let (r, w) = nix::unistd::pipe().map_err(|e| e.to_string())?;
            nix::unistd::dup2(w.as_raw_fd(), 2).map_err(|e| e.to_string())?;
            drop(w);
            f();
            nix::unistd::close(2).map_err(|e| e.to_string())?;
            let mut text = String::new();
            std::fs::File::from(r)
                .read_to_string(&mut text)
                .map_err(|e| e.to_string())?;
            Ok(text)
        })
        .ok()
    }

    #[test]
    fn lines_end_in_a_newline_and_a_long_one_is_cut_to_the_stack_buffer() {
        assert_eq!(
            on_stderr(|| stderr(format_args!("outlet: {}", 42))),
            "outlet: 42\n"
        );
        assert_eq!(on_stderr(|| stderr_parts(&["a: ", "b"])), "a: b\n");
        let long = on_stderr(|| stderr_parts(&[&"x".repeat(1000), &"y".repeat(1000)]));
        assert_eq!(long.len(), 1024, "{long}");
        assert!(long.starts_with(&"x".repeat(1000)) && long.ends_with("yyy\n"));
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_889_779, 0), "2026-11-28T18:16:19.000000000Z");
    }
}

//! What checkpoint and restore share about CRIU itself: the options both
//! directions take (plain values, no command-line types), finding the
//! binary, whether it works on this kernel (`criu check`, cached for
//! `features`), running it and turning its failure into an error that
//! quotes CRIU's own log.
//!
//! CRIU is driven through its command line, not its RPC (swrk): every
//! option outlet needs has a CLI spelling (a terminal's pty slave included:
//! `--external tty[..]` on dump, `--inherit-fd fd[N]:tty[..]` on restore),
//! the CLI needs no protobuf code (not among outlet's dependencies), and a
//! dump costs one process launch either way.

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// How CRIU treats the container's cgroups (runc's --manage-cgroups-mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CgroupsMode {
    #[default]
    Soft,
    Full,
    Strict,
    Ignore,
}

impl CgroupsMode {
    pub fn parse(s: &str) -> Result<CgroupsMode> {
        Ok(match s {
            "soft" => CgroupsMode::Soft,
            "full" => CgroupsMode::Full,
            "strict" => CgroupsMode::Strict,
            "ignore" => CgroupsMode::Ignore,
            _ => bail!("--manage-cgroups-mode {s:?}: must be soft, full, strict or ignore"),
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            CgroupsMode::Soft => "soft",
            CgroupsMode::Full => "full",
            CgroupsMode::Strict => "strict",
            CgroupsMode::Ignore => "ignore",
        }
    }
}

/// full and strict make CRIU dump and restore the properties of every
/// cgroup below the container's in each hierarchy. Where the container has
/// no cgroup2 directory of its own but a cgroup2 hierarchy is mounted (the
/// v1-hybrid hosts here), its cgroup there is the root, and "every cgroup
/// below" is other tenants' (seen: CRIU writing another test's
/// cgroup.subtree_control). Refused there, before anything is made.
pub fn check_cgroups_mode(mode: CgroupsMode, paths: &crate::cgroups::CgroupPaths) -> Result<()> {
    if !matches!(mode, CgroupsMode::Full | CgroupsMode::Strict) || paths.unified.is_some() {
        return Ok(());
    }
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .context("read /proc/self/mountinfo")?
        .lines()
        .any(|l| {
            l.split_once(" - ")
                .is_some_and(|(_, r)| r.starts_with("cgroup2 "))
        });
    if mounted {
        bail!(
            "--manage-cgroups-mode {}: the container has no cgroup2 directory of its own on this \
             hybrid host, so CRIU would dump and restore the properties of every cgroup in the \
             cgroup2 hierarchy, other containers' included; use soft or ignore",
            mode.as_str()
        );
    }
    Ok(())
}

/// The options both directions take the same way (runc's shared flags).
#[derive(Debug, Clone, Default)]
pub struct CriuOptions {
    /// Image directory; None: `checkpoint` under the base directory.
    pub image_path: Option<PathBuf>,
    /// CRIU's work directory (logs); None: the image directory.
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub cgroups_mode: CgroupsMode,
    /// `--empty-ns network`: the network namespace is made empty on
    /// restore, its contents left to the caller.
    pub empty_netns: bool,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

/// runc's `--empty-ns` values: only the network namespace may be left empty.
pub fn parse_empty_ns(values: &[String]) -> Result<bool> {
    if let Some(ns) = values.iter().find(|n| *n != "network") {
        bail!("--empty-ns {ns:?}: only network is supported");
    }
    Ok(!values.is_empty())
}

impl CriuOptions {
    /// The criu arguments both directions pass the same way.
    pub fn push_args(&self, args: &mut Vec<OsString>) {
        args.push(format!("--manage-cgroups={}", self.cgroups_mode.as_str()).into());
        if self.empty_netns {
            args.extend(["--empty-ns".into(), "net".into()]);
        }
        for (on, flag) in [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
            (self.auto_dedup, "--auto-dedup"),
            (self.lazy_pages, "--lazy-pages"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
    }

    /// The image directory, relative paths taken from `base`.
    pub fn image_dir(&self, base: &Path) -> PathBuf {
        base.join(
            self.image_path
                .as_deref()
                .unwrap_or(Path::new("checkpoint")),
        )
    }

    /// Image and work directories: runc's defaults (<base>/checkpoint,
    /// work = image); relative paths are taken from `base` (checkpoint: the
    /// current directory; restore: the bundle, as runc works from there).
    pub fn dirs(&self, base: Option<&Path>, create: bool) -> Result<(PathBuf, PathBuf)> {
        let cwd = match base {
            Some(b) => b.to_path_buf(),
            None => std::env::current_dir().context("current directory")?,
        };
        let image = self.image_dir(&cwd);
        let work = self
            .work_path
            .as_ref()
            .map_or_else(|| image.clone(), |w| cwd.join(w));
        if create {
            for d in [&image, &work] {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(d)
                    .with_context(|| format!("create {}", d.display()))?;
            }
        }
        for (flag, d) in [("--image-path", &image), ("--work-path", &work)] {
            not_planted(flag, d)?;
        }
        Ok((image, work))
    }
}

/// In a sticky directory others can write to (/tmp), the image or work
/// directory may be another user's plant: a symlink sends criu's images
/// and outlet's record (written as root) where they chose; a directory of
/// theirs feeds `restore` images they wrote. There it must be a real
/// directory owned by us or the parent's owner; once it is, sticky keeps
/// anyone else from renaming it. Debug builds'
/// `OUTLET_CRIU_DIR_UNCHECKED=1` (a test's control) skips this.
fn not_planted(flag: &str, d: &Path) -> Result<()> {
    if crate::fault::control("OUTLET_CRIU_DIR_UNCHECKED") {
        return Ok(());
    }
    let parent = d.parent().filter(|p| !p.as_os_str().is_empty());
    let Some(Ok(up)) = parent.map(std::fs::metadata) else {
        return Ok(());
    };
    if up.mode() & 0o1000 == 0 || up.mode() & 0o022 == 0 {
        return Ok(());
    }
    let st = std::fs::symlink_metadata(d).with_context(|| format!("{flag} {}", d.display()))?;
    let us = nix::unistd::geteuid().as_raw();
    if !st.is_dir() || (st.uid() != us && st.uid() != up.uid()) {
        bail!(
            "{flag} {}: in a sticky directory others can write to, it is {} owned by uid {}, not a directory of ours",
            d.display(),
            if st.file_type().is_symlink() {
                "a symlink"
            } else if st.is_dir() {
                "a directory"
            } else {
                "a file"
            },
            st.uid()
        );
    }
    Ok(())
}

fn is_executable(m: &std::fs::Metadata) -> bool {
    m.is_file() && m.mode() & 0o111 != 0
}

/// The criu binary: `--criu PATH`, else `criu` on PATH.
pub fn find_criu(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = flag {
        let md = std::fs::metadata(p).with_context(|| format!("--criu {}", p.display()))?;
        if !is_executable(&md) {
            bail!("--criu {}: not an executable file", p.display());
        }
        return Ok(p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let c = dir.join("criu");
        if std::fs::metadata(&c).is_ok_and(|m| is_executable(&m)) {
            return Ok(c);
        }
    }
    bail!(
        "criu not found on PATH ({}): checkpoint/restore need CRIU (>= 4.1 on kernels >= 6.13); \
         install it or pass --criu PATH",
        path.to_string_lossy()
    )
}

/// Whether `criu check` passes; Err holds what is missing, in CRIU's words.
pub fn criu_check(criu: &Path) -> std::result::Result<String, String> {
    let version = Command::new(criu)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {} --version: {e}", criu.display()))?;
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let out = Command::new(criu)
        .arg("check")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {} check: {e}", criu.display()))?;
    if out.status.success() {
        return Ok(version);
    }
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let why: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error") || l.contains("rror ("))
        .filter(|l| !l.contains("RLIMIT_NOFILE"))
        .take(3)
        .collect();
    Err(format!(
        "`{} check` (CRIU {version}) fails on this kernel: {}",
        criu.display(),
        if why.is_empty() {
            text.trim().to_string()
        } else {
            why.join("; ")
        }
    ))
}

/// What identifies a verdict of `criu check`: the binary (path, inode,
/// size, mtime) and the running kernel. Empty when either is unreadable.
fn check_key(criu: &Path) -> String {
    match (
        std::fs::metadata(criu),
        std::fs::read_to_string("/proc/sys/kernel/osrelease"),
    ) {
        (Ok(m), Ok(release)) => format!(
            "{}\n{}:{}:{}.{}\n{}",
            criu.display(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            release.trim()
        ),
        _ => String::new(),
    }
}

/// For `features`: "true" when criu (`--criu`, else on PATH) is found and
/// `criu check` passes, else "false: " and what is missing. `criu check`
/// costs ~150 ms, so its verdict is kept in the cache of the state root
/// the command runs with (`--root`), keyed by `check_key`; a cache file not
/// owned by us or writable by others is ignored.
pub fn availability(root: &Path, criu_flag: Option<&Path>) -> String {
    let criu = match find_criu(criu_flag) {
        Ok(c) => c,
        Err(e) => return format!("false: {e}"),
    };
    let key = check_key(&criu);
    let cache = root.join(crate::state::CACHE_DIR).join("criu-check");
    if !key.is_empty()
        && let Ok(m) = std::fs::symlink_metadata(&cache)
        && m.is_file()
        && m.uid() == nix::unistd::geteuid().as_raw()
        && m.mode() & 0o022 == 0
        && let Ok(text) = std::fs::read_to_string(&cache)
        && let Some(verdict) = text.strip_prefix(&format!("{key}\n"))
    {
        return verdict.to_string();
    }
    let verdict = match criu_check(&criu) {
        Ok(_) => "true".to_string(),
        Err(why) => format!("false: {why}"),
    };
    if !key.is_empty()
        && let Some(dir) = cache.parent()
        && std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .is_ok()
    {
        let _ = crate::syscall::write_atomic(&cache, format!("{key}\n{verdict}").as_bytes());
    }
    verdict
}

/// criu with `args`, logged at debug level, started inside the cgroups
/// whose `cgroup.procs` are in `into_cgroups` (if any).
pub fn command(
    criu: &Path,
    args: &[OsString],
    what: &str,
    into_cgroups: Vec<std::os::fd::OwnedFd>,
) -> Command {
    crate::logging::debug(|| format!("{what}: {} {args:?}", criu.display()));
    let mut cmd = Command::new(criu);
    cmd.args(args);
    if !into_cgroups.is_empty() {
        crate::syscall::criu::spawn_into_cgroups(&mut cmd, into_cgroups);
    }
    cmd
}

/// Runs criu with `args`. `capture` (dump): stdin and stdout null, stderr
/// kept for the error; else (restore) criu's stdio stays outlet's: the
/// restored init's stdio is mapped onto it (--inherit-fd fd[0..2], and a
/// shell job's terminal is criu's stdin). On failure the error quotes
/// CRIU's log.
/// `into_cgroups`: `cgroup.procs` files criu writes itself into before it
/// runs (restore with --manage-cgroups-mode ignore).
pub fn run_criu(
    criu: &Path,
    args: &[OsString],
    log: &Path,
    what: &str,
    capture: bool,
    into_cgroups: Vec<std::os::fd::OwnedFd>,
) -> Result<()> {
    let mut cmd = command(criu, args, what, into_cgroups);
    let out = if capture {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    } else {
        cmd.status().map(|status| std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: Vec::new(),
        })
    }
    .with_context(|| format!("{what}: run {}", criu.display()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(criu_failed(
        criu,
        out.status,
        &String::from_utf8_lossy(&out.stderr),
        log,
        what,
    ))
}

/// CRIU hands an external regular file (the init's stdout as a file of
/// the caller's) back in only when the fd for it has the mode, and unless
/// it was opened O_APPEND the size, the file had at the dump; its own
/// message names its own fd ("File fd/5 has bad size 0 (expect 6)").
const STDIO_FILE_HINT: &str = "; a regular file outside the container (such as the init's stdout \
                               or stderr, where restore's own fd stands for it) must come back \
                               with the mode and, unless it was opened for append, the size it \
                               had at the dump";

/// How many of CRIU's error lines the error quotes.
const QUOTED_ERRORS: usize = 4;

/// CRIU's error lines from a log, as the error quotes them: the first
/// ones, since CRIU logs the cause first and then each caller's
/// consequence ("Unable to open fd=1", "Restoring FAILED.", cgroupd's
/// teardown), and how many of those follow is timing: its SIGCHLD handler
/// adds "PID exited, status=1" only when it sees the failed task exit
/// first. Without CAP_SYS_RESOURCE every run logs an RLIMIT_NOFILE error
/// that is none. The hint about stdio files is looked for in all of them.
fn quote_errors(text: &str) -> Option<String> {
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error (") && !l.contains("RLIMIT_NOFILE"))
        .map(str::trim)
        .collect();
    if errors.is_empty() {
        return None;
    }
    let mut quoted = errors[..errors.len().min(QUOTED_ERRORS)].join(" | ");
    if errors.len() > QUOTED_ERRORS {
        quoted.push_str(&format!(" | ({} more)", errors.len() - QUOTED_ERRORS));
    }
    if errors
        .iter()
        .any(|l| l.contains("has bad size") || l.contains("has bad mode"))
    {
        quoted.push_str(STDIO_FILE_HINT);
    }
    Some(quoted)
}

/// The error for a criu that exited with `status`: CRIU's own error lines
/// from `log` (else its stderr), and what `criu check` says when it fails
/// too (an old CRIU on a new kernel fails every dump the same way).
pub fn criu_failed(
    criu: &Path,
    status: std::process::ExitStatus,
    stderr: &str,
    log: &Path,
    what: &str,
) -> anyhow::Error {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut msg = format!(
        "{what}: criu failed ({status}); log {}: {}",
        log.display(),
        quote_errors(&text).unwrap_or_else(|| stderr.trim().to_string())
    );
    if let Err(check) = criu_check(criu) {
        msg.push_str(&format!("; {check}"));
    }
    anyhow::anyhow!("{msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_criu_flags() {
        let o = CriuOptions {
            tcp_established: true,
            file_locks: true,
            empty_netns: true,
            cgroups_mode: CgroupsMode::parse("full").unwrap(),
            ..Default::default()
        };
        let mut args = Vec::new();
        o.push_args(&mut args);
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--manage-cgroups=full",
                "--empty-ns",
                "net",
                "--tcp-established",
                "--file-locks"
            ]
        );
    }

    /// A real CRIU 4.1.1 restore.log (tests/checkpoint.rs
    /// restore_onto_new_stdout_file_needs_append_or_same_size, under load):
    /// the SIGCHLD handler's "exited" line made five errors after the cause.
    const BAD_SIZE_LOG: &str = "\
Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
Warn  (criu/cr-restore.c:1043): Set CLONE_PARENT | CLONE_NEWPID but it might cause restore problem,because not all kernels support such clone flags combinations!
Error: ipv4: Address already assigned.
     1: Error (criu/files-reg.c:2175): File fd/1 has bad size 0 (expect 18)
     1: Error (criu/files.c:1221): Unable to open fd=1 id=0x3
Error (criu/cr-restore.c:1258): 3274 exited, status=1
Warn  (criu/cr-restore.c:2307): Unable to wait 3274: No child processes
Error (criu/cr-restore.c:2320): Restoring FAILED.
Error (criu/cgroup.c:1998): cg: cgroupd: recv req error: No such file or directory
";

    #[test]
    fn the_cause_is_quoted_however_many_consequences_follow() {
        let q = quote_errors(BAD_SIZE_LOG).unwrap();
        assert!(
            q.starts_with("1: Error (criu/files-reg.c:2175): File fd/1 has bad size 0"),
            "{q}"
        );
        assert!(q.contains("Restoring FAILED. | (1 more)"), "{q}");
        assert!(q.ends_with(STDIO_FILE_HINT), "{q}");
        assert!(!q.contains("RLIMIT_NOFILE"), "{q}");
        // Control: the same failure without CRIU's size line gets no hint.
        let other: String = BAD_SIZE_LOG
            .lines()
            .filter(|l| !l.contains("bad size"))
            .map(|l| format!("{l}\n"))
            .collect();
        let q = quote_errors(&other).unwrap();
        assert!(q.starts_with("1: Error (criu/files.c:1221)"), "{q}");
        assert!(!q.contains(STDIO_FILE_HINT), "{q}");
        assert_eq!(quote_errors("Warn  (x): y\n"), None);
        let mode = "     1: Error (criu/files-reg.c:2191): File fd/2 has bad mode 0100600 \
                    (expect 0100644)\nFile r/w/x checks can be skipped with the \
                    --skip-file-rwx-check option\n";
        assert!(quote_errors(mode).unwrap().ends_with(STDIO_FILE_HINT));
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let e = CgroupsMode::parse("bogus").unwrap_err().to_string();
        assert!(e.contains("--manage-cgroups-mode \"bogus\""), "{e}");
        let e = parse_empty_ns(&["pid".into()]).unwrap_err().to_string();
        assert!(e.contains("--empty-ns \"pid\""), "{e}");
        assert!(parse_empty_ns(&["network".into()]).unwrap());
        assert!(!parse_empty_ns(&[]).unwrap());
    }
}

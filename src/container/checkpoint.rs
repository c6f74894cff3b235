//! `checkpoint`: dump a running container with CRIU, then (unless it is to
//! keep running) remove it, as runc does. Also what `restore` shares with
//! it: finding criu, running it, and the record of what the container's
//! mount table and stdio hold outside the container (`outlet-criu.json` in
//! the image directory), which restore maps to the new bundle's paths.
//!
//! CRIU is driven through its command line, not its RPC (swrk): every
//! option outlet needs has a CLI spelling, the CLI needs no protobuf code
//! (not among outlet's dependencies), and a dump costs one process launch
//! either way. What the CLI cannot do is hand back a pty master (the RPC's
//! orphan-pts-master notification), so terminal containers are refused.

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::cli::{CheckpointArgs, CriuArgs};
use crate::state::Status;

/// outlet's own record in the image directory, beside CRIU's images.
pub const RECORD_FILE: &str = "outlet-criu.json";
/// The key CRIU's image uses for a network namespace joined by path (the
/// same as runc's, so either runtime names it the same way).
pub const EXT_NETNS: &str = "extRootNetNS";

/// What a mount of the container was, for restore to find its source anew.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum External {
    /// A bind mount of the spec: source = the restoring bundle's source for
    /// this destination.
    Bind,
    /// A masked file: a bind of the host's /dev/null.
    Masked,
    /// A cgroup v1 hierarchy bind: source = the new container's directory.
    Cgroup { controllers: Vec<String> },
}

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Record {
    /// Mount point in the container -> what it is.
    pub mounts: Vec<(String, External)>,
    /// The init's fds 0-2 as CRIU names them for --inherit-fd ("" when
    /// CRIU restores the fd from the image itself).
    pub stdio: Vec<String>,
    /// The network namespace was joined by path (external to the dump).
    pub external_netns: bool,
}

/// The criu binary: `--criu PATH`, else `criu` on PATH.
pub fn find_criu(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = flag {
        let md = std::fs::metadata(p).with_context(|| format!("--criu {}", p.display()))?;
        if !md.is_file() || md.mode() & 0o111 == 0 {
            bail!("--criu {}: not an executable file", p.display());
        }
        return Ok(p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let c = dir.join("criu");
        if std::fs::metadata(&c).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0) {
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

/// For `features`: "true" when criu is on PATH and `criu check` passes,
/// else "false: " and what is missing. `criu check` costs ~150 ms, so its
/// verdict is kept in the state root's cache, keyed by the criu binary
/// (path, inode, size, mtime) and the running kernel; a cache file not
/// owned by us or writable by others is ignored.
pub fn availability() -> String {
    let criu = match find_criu(None) {
        Ok(c) => c,
        Err(e) => return format!("false: {e}"),
    };
    let key = match (
        std::fs::metadata(&criu),
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
    };
    let cache = crate::state::default_root()
        .join(crate::state::CACHE_DIR)
        .join("criu-check");
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

/// Runs criu with `args`; on failure the error carries CRIU's own error
/// lines from `log`, and what `criu check` says when it fails too (an old
/// CRIU on a new kernel fails every dump the same way).
pub fn run_criu(
    criu: &Path,
    args: &[OsString],
    log: &Path,
    what: &str,
    capture: bool,
) -> Result<()> {
    crate::logging::debug(|| format!("{what}: {} {args:?}", criu.display()));
    let mut cmd = Command::new(criu);
    cmd.args(args).stdin(Stdio::null());
    let out = if capture {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output()
    } else {
        // criu's stdio stays outlet's: restore maps the init's onto it.
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

/// The error for a criu that exited with `status`: CRIU's own error lines
/// from `log`, and what `criu check` says when it fails too (an old CRIU
/// on a new kernel fails every dump the same way).
pub fn criu_failed(
    criu: &Path,
    status: std::process::ExitStatus,
    stderr: &str,
    log: &Path,
    what: &str,
) -> anyhow::Error {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error (") && !l.contains("RLIMIT_NOFILE"))
        .collect();
    if errors.len() > 4 {
        errors.drain(..errors.len() - 4);
    }
    let mut msg = format!(
        "{what}: criu failed ({status}); log {}: {}",
        log.display(),
        if errors.is_empty() {
            stderr.trim().to_string()
        } else {
            errors.join(" | ")
        }
    );
    if let Err(check) = criu_check(criu) {
        msg.push_str(&format!("; {check}"));
    }
    anyhow::anyhow!("{msg}")
}

/// Refuses bad option values before anything is made.
pub fn validate(a: &CriuArgs) -> Result<()> {
    if let Some(mode) = a.manage_cgroups_mode.as_deref()
        && !matches!(mode, "soft" | "full" | "strict" | "ignore")
    {
        bail!("--manage-cgroups-mode {mode:?}: must be soft, full, strict or ignore");
    }
    if let Some(ns) = a.empty_ns.iter().find(|n| *n != "network") {
        bail!("--empty-ns {ns:?}: only network is supported");
    }
    Ok(())
}

/// The options both directions pass the same way (validated first).
pub fn common_args(a: &CriuArgs, args: &mut Vec<OsString>) -> Result<()> {
    validate(a)?;
    let mode = a.manage_cgroups_mode.as_deref().unwrap_or("soft");
    args.push(format!("--manage-cgroups={mode}").into());
    for _ in &a.empty_ns {
        args.extend(["--empty-ns".into(), "net".into()]);
    }
    for (on, flag) in [
        (a.tcp_established, "--tcp-established"),
        (a.ext_unix_sk, "--ext-unix-sk"),
        (a.shell_job, "--shell-job"),
        (a.file_locks, "--file-locks"),
        (a.auto_dedup, "--auto-dedup"),
        (a.lazy_pages, "--lazy-pages"),
    ] {
        if on {
            args.push(flag.into());
        }
    }
    Ok(())
}

/// Image and work directories: runc's defaults (<base>/checkpoint, work =
/// image); relative paths are taken from `base` (checkpoint: the current
/// directory; restore: the bundle, as runc works from there).
pub fn dirs(a: &CriuArgs, base: Option<&Path>, create: bool) -> Result<(PathBuf, PathBuf)> {
    let cwd = match base {
        Some(b) => b.to_path_buf(),
        None => std::env::current_dir().context("current directory")?,
    };
    let image = cwd.join(a.image_path.clone().unwrap_or_else(|| "checkpoint".into()));
    let work = a
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
    Ok((image, work))
}

/// One line of /proc/PID/mountinfo, the fields used here.
pub struct MountLine {
    pub id: u32,
    pub mount_point: String,
    pub fstype: String,
    pub super_opts: String,
}

pub fn mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountLine {
                id: f.first()?.parse().ok()?,
                mount_point: f.get(4)?.to_string(),
                fstype: r.first()?.to_string(),
                super_opts: r.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// Which of the container's mounts CRIU must treat as external: their
/// content lies outside the container's mount table, so the dump names
/// them by mount point and restore binds the new source there.
pub fn classify(
    mounts: &[MountLine],
    bind_dests: &[String],
    masked: &[String],
) -> Vec<(String, External)> {
    let mut out = Vec::new();
    for m in mounts {
        let mp = &m.mount_point;
        if mp == "/" {
            continue;
        }
        let ext = if m.fstype == "cgroup" {
            let controllers: Vec<String> = m
                .super_opts
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('='))
                .map(str::to_string)
                .collect();
            External::Cgroup { controllers }
        } else if bind_dests.contains(mp) {
            External::Bind
        } else if masked.contains(mp) && m.fstype != "tmpfs" {
            External::Masked
        } else {
            continue;
        };
        out.push((mp.clone(), ext));
    }
    out
}

fn clean(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.to_string()
    }
}

/// The spec's bind mount destinations and masked paths.
pub fn spec_binds_and_masks(spec: &crate::spec::Spec) -> (Vec<String>, Vec<String>) {
    let binds = spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|m| is_bind(m))
        .map(|m| clean(&m.destination().to_string_lossy()))
        .collect();
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
        .iter()
        .map(|p| clean(p))
        .collect();
    (binds, masked)
}

pub fn is_bind(m: &oci_spec::runtime::Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|o| o == "bind" || o == "rbind")
}

/// The init's fds 0-2: pipes are restored onto restore's own stdio by
/// their pipe name; a file opened outside the container's mount table
/// (the caller's /dev/null, a log file) is declared external to the dump
/// and likewise replaced by restore's fd.
fn stdio(pid: i32, own_mounts: &[MountLine], externals: &mut Vec<OsString>) -> Vec<String> {
    let mut keys = Vec::new();
    for fd in 0..3 {
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = if link.starts_with("pipe:") {
            link
        } else if link.starts_with('/') {
            let mnt_id: Option<u32> = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("mnt_id:"))
                        .and_then(|v| v.trim().parse().ok())
                });
            let ino = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")).map(|m| m.ino());
            match (mnt_id, ino) {
                (Some(mnt), Ok(ino)) if !own_mounts.iter().any(|m| m.id == mnt) => {
                    let key = format!("file[{mnt:x}:{ino:x}]");
                    if !keys.contains(&key) {
                        externals.extend(["--external".into(), key.clone().into()]);
                    }
                    key
                }
                _ => String::new(),
            }
        } else {
            String::new()
        };
        keys.push(key);
    }
    keys
}

pub fn checkpoint(
    root: &Path,
    id: &str,
    criu_flag: Option<&Path>,
    a: &CheckpointArgs,
) -> Result<()> {
    validate(&a.criu)?;
    let c = super::load(root, id)?;
    if !matches!(c.status, Status::Running | Status::Paused) {
        bail!("container not running: {id} is {}", c.status.as_str());
    }
    if c.state.use_terminal {
        bail!(
            "checkpoint {id}: the container has a terminal (process.terminal): outlet drives CRIU \
             through its CLI, which cannot hand back the pty master on restore; not supported"
        );
    }
    if a.page_server.is_none() && a.criu.lazy_pages {
        bail!("--lazy-pages needs --page-server ADDRESS:PORT");
    }
    let criu = find_criu(criu_flag)?;
    let spec = crate::spec::from_validated(&c.dir.load_config()?)?;
    let pid = c.state.pid;
    let (image, work) = dirs(&a.criu, None, true)?;

    let mut args: Vec<OsString> = vec![if a.pre_dump { "pre-dump" } else { "dump" }.into()];
    args.extend(["-t".into(), pid.to_string().into()]);
    args.extend([
        "-D".into(),
        image.clone().into(),
        "-W".into(),
        work.clone().into(),
    ]);
    let log_name = if a.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    args.extend(["-o".into(), log_name.into()]);
    common_args(&a.criu, &mut args)?;
    if a.pre_dump {
        // As runc: without the kernel's dirty-page tracking a pre-dump
        // would copy everything and save nothing; say so up front.
        let ok = Command::new(&criu)
            .args(["check", "--feature", "mem_dirty_track"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!(
                "checkpoint {id} --pre-dump: CRIU cannot track memory changes on this kernel \
                 (`criu check --feature mem_dirty_track` fails: no CONFIG_MEM_SOFT_DIRTY); \
                 pre-dumps are impossible here, take a plain checkpoint"
            );
        }
        args.push("--track-mem".into());
    }
    if let Some(p) = &a.parent_path {
        args.extend(["--prev-images-dir".into(), p.clone().into()]);
    }
    if a.leave_running && !a.pre_dump {
        args.push("--leave-running".into());
    }
    if let Some(ps) = &a.page_server {
        let (addr, port) = ps
            .rsplit_once(':')
            .with_context(|| format!("--page-server {ps:?}: not ADDRESS:PORT"))?;
        args.extend(["--page-server".into(), "--address".into(), addr.into()]);
        args.extend(["--port".into(), port.into()]);
    }
    if a.status_fd >= 0 {
        args.extend(["--status-fd".into(), a.status_fd.to_string().into()]);
    }
    // The freezer stops every task at once (no ptrace race with forks).
    if let Some(f) = c.state.cgroup.controller_dir("freezer") {
        args.extend(["--freeze-cgroup".into(), f.into()]);
    }

    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .with_context(|| format!("read /proc/{pid}/mountinfo"))?;
    let own = mountinfo(&text);
    let (binds, masked) = spec_binds_and_masks(&spec);
    let mut record = Record {
        mounts: classify(&own, &binds, &masked),
        ..Default::default()
    };
    for (mp, _) in &record.mounts {
        args.extend(["--external".into(), format!("mnt[{mp}]:{mp}").into()]);
    }
    record.stdio = stdio(pid, &own, &mut args);
    let netns_by_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|n| {
            n.iter()
                .find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
        })
        .is_some_and(|n| n.path().is_some());
    if netns_by_path {
        let ino = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            .with_context(|| format!("stat /proc/{pid}/ns/net"))?
            .ino();
        args.extend([
            "--external".into(),
            format!("net[{ino}]:{EXT_NETNS}").into(),
        ]);
        record.external_netns = true;
    }
    let json = serde_json::to_vec_pretty(&record).context("serialise the checkpoint record")?;
    crate::syscall::write_atomic(&image.join(RECORD_FILE), &json)?;

    run_criu(
        &criu,
        &args,
        &work.join(log_name),
        &format!("checkpoint {id}"),
        true,
    )?;
    if a.leave_running || a.pre_dump {
        return Ok(());
    }
    // CRIU killed the dumped tasks: the container is gone as runc's is
    // after a checkpoint (poststop hooks, cgroup and state removed), so
    // that `restore ID` can bring it back under the same id.
    super::delete::stop(&c)?;
    super::delete::destroy(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: &str = "\
66 43 254:0 /work/rootfs / ro,relatime - ext4 /dev/vda rw
67 66 0:40 / /proc rw,relatime - proc proc rw
70 66 0:41 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
78 76 0:29 /c1 /sys/fs/cgroup/cpu ro,relatime - cgroup cgroup rw,cpu
79 76 0:29 /c1 /sys/fs/cgroup/cpu,cpuacct ro,relatime - cgroup cgroup rw,cpu,cpuacct
80 76 0:29 / /sys/fs/cgroup/systemd ro - cgroup cgroup rw,name=systemd
85 66 254:0 /tmp/b/out /out rw,relatime - ext4 /dev/vda rw
86 67 0:6 /null /proc/keys rw,relatime - devtmpfs devtmpfs rw
48 67 0:46 / /proc/acpi ro,nosuid - tmpfs none rw
";

    #[test]
    fn externals_are_binds_masked_files_and_v1_cgroups() {
        let got = classify(
            &mountinfo(MI),
            &["/out".into()],
            &["/proc/keys".into(), "/proc/acpi".into()],
        );
        assert_eq!(
            got,
            vec![
                (
                    "/sys/fs/cgroup/cpu".into(),
                    External::Cgroup {
                        controllers: vec!["cpu".into()]
                    }
                ),
                (
                    "/sys/fs/cgroup/cpu,cpuacct".into(),
                    External::Cgroup {
                        controllers: vec!["cpu".into(), "cpuacct".into()]
                    }
                ),
                (
                    "/sys/fs/cgroup/systemd".into(),
                    External::Cgroup {
                        controllers: vec![]
                    }
                ),
                ("/out".into(), External::Bind),
                ("/proc/keys".into(), External::Masked),
            ]
        );
    }
}

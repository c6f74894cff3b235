//! `checkpoint`: dump a running container with CRIU, then (unless it is to
//! keep running) remove it, as runc does. What the container holds outside
//! its own mount table (spec binds, masked files, v1 cgroup binds, stdio
//! opened by the caller, a network namespace joined by path, the pty slave
//! of a terminal) is declared external to the dump and recorded in
//! `outlet-criu.json` beside CRIU's images, for restore to map anew. The
//! container is frozen before its fds are read and stays so until CRIU
//! has seized it, so that what is declared is what CRIU finds.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::criu::{CriuOptions, find_criu, run_criu};
use crate::cgroups::Cgroup;
use crate::state::Status;

/// outlet's own record in the image directory, beside CRIU's images.
pub const RECORD_FILE: &str = "outlet-criu.json";
/// The key CRIU's image uses for a network namespace joined by path (the
/// same as runc's, so either runtime names it the same way).
pub const EXT_NETNS: &str = "extRootNetNS";
/// Majors of UNIX98 pty slaves (UNIX98_PTY_SLAVE_MAJOR and the 7 after).
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u64> = 136..=143;

/// What `outlet checkpoint` is asked to do, beside the shared options.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    pub criu: CriuOptions,
    /// Images of a previous pre-dump, relative to the image directory.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    /// ADDRESS:PORT of a page server (with lazy pages).
    pub page_server: Option<String>,
    /// An fd of ours CRIU writes \0 to once lazy pages are ready.
    pub status_fd: Option<i32>,
}

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
    /// /dev/console, a bind of the terminal's pty slave: source = the new
    /// pty's slave.
    Console,
}

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Record {
    /// Mount point in the container -> what it is.
    pub mounts: Vec<(String, External)>,
    /// The init's fds 0-2 as CRIU names them for --inherit-fd ("" when
    /// CRIU restores the fd from the image itself, or the fd is the pty).
    pub stdio: Vec<String>,
    /// The network namespace was joined by path (external to the dump).
    pub external_netns: bool,
    /// The terminal's pty slave as CRIU names it (`tty[rdev:dev]`): restore
    /// hands in a new pty's slave under this name.
    #[serde(default)]
    pub tty: Option<String>,
}

/// One line of /proc/PID/mountinfo, the fields used here.
pub struct MountLine {
    pub id: u32,
    pub root: String,
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
                root: f.get(3)?.to_string(),
                mount_point: f.get(4)?.to_string(),
                fstype: r.first()?.to_string(),
                super_opts: r.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// Which of the container's mounts CRIU must treat as external: their
/// content lies outside the container's mount table (or, for the console,
/// is a pty that restore replaces), so the dump names them by mount point
/// and restore binds the new source there.
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
                .filter(|o| {
                    !matches!(*o, "rw" | "ro") && (!o.contains('=') || o.starts_with("name="))
                })
                .map(str::to_string)
                .collect();
            External::Cgroup { controllers }
        } else if mp == "/dev/console" && m.fstype == "devpts" && m.root != "/" {
            External::Console
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

/// What one of the init's stdio fds is to the dump.
enum StdioFd {
    /// CRIU's name for it, to be handed in anew on restore; true: a file
    /// outside the container's mount table, declared external.
    Key(String, bool),
    /// A file on one of the container's own mounts: the container's own
    /// doing, for good or for a moment (a shell running `echo $i > f`
    /// moves its stdout to fd 10 and back around the builtin).
    Inside,
    /// Nothing to hand in: a pty, a socket, a closed fd.
    Other,
}

/// The CRIU name of one of the init's stdio fds, when it must be handed in
/// anew on restore: a pipe by its pipe name; a file opened outside the
/// container's mount table (the caller's /dev/null, a log file) declared
/// external to the dump. The pty slave of a terminal container goes to
/// `tty` instead; any other pty is the caller's own terminal, which CRIU
/// takes as a shell job's (--shell-job) and reattaches to its stdin.
fn stdio_key(
    pid: i32,
    fd: i32,
    own_mounts: &[MountLine],
    tty: &mut Option<String>,
    terminal: bool,
) -> StdioFd {
    let proc_fd = format!("/proc/{pid}/fd/{fd}");
    let Ok(link) = std::fs::read_link(&proc_fd) else {
        return StdioFd::Other;
    };
    let link = link.to_string_lossy();
    if link.starts_with("pipe:") {
        return StdioFd::Key(link.into_owned(), false);
    }
    if !link.starts_with('/') {
        return StdioFd::Other;
    }
    let Ok(md) = std::fs::metadata(&proc_fd) else {
        return StdioFd::Other;
    };
    if md.file_type().is_char_device()
        && PTY_SLAVE_MAJORS.contains(&nix::sys::stat::major(md.rdev()))
    {
        if terminal {
            tty.get_or_insert_with(|| format!("tty[{:x}:{:x}]", md.rdev(), md.dev()));
        }
        return StdioFd::Other;
    }
    let mnt: Option<u32> = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("mnt_id:"))
                .and_then(|v| v.trim().parse().ok())
        });
    match mnt {
        None => StdioFd::Other,
        Some(mnt) if own_mounts.iter().any(|m| m.id == mnt) => StdioFd::Inside,
        Some(mnt) => StdioFd::Key(format!("file[{mnt:x}:{:x}]", md.ino()), true),
    }
}

use std::os::unix::fs::FileTypeExt;

/// The init's fds 0-2 (see `stdio_key`), the externals they need added to
/// `args`, and the pty slave's name into `record.tty`. True when one of
/// them is a file of the container's own (see `StdioFd::Inside`).
fn record_stdio(
    pid: i32,
    terminal: bool,
    own_mounts: &[MountLine],
    record: &mut Record,
    args: &mut Vec<OsString>,
) -> bool {
    let mut inside = false;
    for fd in 0..3 {
        let key = match stdio_key(pid, fd, own_mounts, &mut record.tty, terminal) {
            StdioFd::Key(key, external) => {
                if external && !record.stdio.contains(&key) {
                    args.extend(["--external".into(), key.clone().into()]);
                }
                key
            }
            StdioFd::Inside => {
                inside = true;
                String::new()
            }
            StdioFd::Other => String::new(),
        };
        record.stdio.push(key);
    }
    if let Some(tty) = &record.tty {
        args.extend(["--external".into(), tty.into()]);
    }
    inside
}

/// Whether the spec joins a network namespace by path.
pub fn netns_path(spec: &crate::spec::Spec) -> Option<PathBuf> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|n| {
            n.iter()
                .find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
        })
        .and_then(|n| n.path().clone())
}

/// A stdio fd of the init that is /dev/null on a mount no mount table
/// shows: the read-only one outlet opens in place of a stdio fd the
/// caller closed (syscall/start.rs `stdio_null_read_only`). criu dumps it
/// but cannot open it again on restore (`Can't open file fd/0`), so the
/// dump is refused before it stops the container.
fn refuse_detached_null(pid: i32, own: &[MountLine]) -> Result<()> {
    let host =
        std::fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    let host = mountinfo(&host);
    for fd in 0..3 {
        let Ok(md) = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")) else {
            continue;
        };
        let null = md.file_type().is_char_device() && md.rdev() == nix::sys::stat::makedev(1, 3);
        let mnt = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("mnt_id:"))
                    .and_then(|v| v.trim().parse::<u32>().ok())
            });
        if let Some(mnt) = mnt.filter(|_| null)
            && !own.iter().chain(&host).any(|m| m.id == mnt)
        {
            bail!(
                "checkpoint: the init's fd {fd} is outlet's read-only /dev/null for a stdio fd the caller \
                 closed at create: criu could dump it but not restore it; create the container \
                 with that fd open (on /dev/null) to checkpoint it"
            );
        }
    }
    Ok(())
}

/// Everything the dump must leave outside its images: the criu
/// arguments, the record restore reads, and whether one of the init's
/// stdio fds was a file of the container's own (see `settled_externals`).
fn record_externals(
    c: &super::Opened,
    spec: &crate::spec::Spec,
) -> Result<(Record, Vec<OsString>, bool)> {
    let pid = c.state.pid;
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .with_context(|| format!("read /proc/{pid}/mountinfo"))?;
    let own = mountinfo(&text);
    refuse_detached_null(pid, &own)?;
    let (binds, masked) = spec_binds_and_masks(spec);
    let mut record = Record {
        mounts: classify(&own, &binds, &masked),
        ..Default::default()
    };
    let mut args: Vec<OsString> = Vec::new();
    for (mp, _) in &record.mounts {
        args.extend(["--external".into(), format!("mnt[{mp}]:{mp}").into()]);
    }
    let inside = record_stdio(pid, c.state.use_terminal, &own, &mut record, &mut args);
    if netns_path(spec).is_some() {
        let ino = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            .with_context(|| format!("stat /proc/{pid}/ns/net"))?
            .ino();
        args.extend([
            "--external".into(),
            format!("net[{ino}]:{EXT_NETNS}").into(),
        ]);
        record.external_netns = true;
    }
    Ok((record, args, inside))
}

/// How many times a held container whose init has its stdio on a file of
/// its own is let run for a moment and looked at again before it is taken
/// as it is (thawed 1+2+4+..+50 ms, about 0.1 s in all).
const SETTLE_TRIES: u32 = 8;

/// Freezes a running container for the dump, so that what outlet reads of
/// its fds is what CRIU then seizes: read while it ran, a shell's
/// `echo $i > /tmp/n` could show the init's stdout as a file of the
/// container (nothing to declare) while CRIU, a moment later, found the
/// caller's file back on fd 1, undeclared ("Can't lookup mount=N for
/// fd=1", seen in the VM suite). CRIU's --freeze-cgroup finds it frozen,
/// seizes it as it is and leaves it frozen. Some: outlet froze it and
/// thaws it after. A paused container is frozen already and stays so; one
/// without a freezer cannot be held.
fn hold(c: &super::Opened, id: &str) -> Result<Option<Cgroup>> {
    if c.status != Status::Running
        || c.state.cgroup.controller_dir("freezer").is_none()
        || unheld_switch()
    {
        return Ok(None);
    }
    let cg = Cgroup::from_paths(c.state.cgroup.clone());
    cg.freeze(true)
        .with_context(|| format!("checkpoint {id}: freeze the container for the dump"))?;
    Ok(Some(cg))
}

/// The test-only way back to reading the init's fds while it runs (no
/// `hold`, no settling), so a test can show the race that closes. Debug
/// builds only.
#[cfg(debug_assertions)]
fn unheld_switch() -> bool {
    std::env::var_os("OUTLET_CHECKPOINT_UNHELD").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
fn unheld_switch() -> bool {
    false
}

/// `record_externals` of the held container at a moment when its init's
/// stdio is in place: frozen inside a redirection (stdout on the
/// container's own file, the caller's moved to fd 10), the caller's file
/// would go undeclared and CRIU fail on fd 10, and restore would not know
/// which of its fds stands for it. So the container is let run for a
/// moment and frozen again, up to SETTLE_TRIES times; an init that keeps
/// its stdio on its own files is then taken as it is.
fn settled_externals(
    c: &super::Opened,
    spec: &crate::spec::Spec,
    held: Option<&Cgroup>,
) -> Result<(Record, Vec<OsString>)> {
    let mut thawed_for = std::time::Duration::from_millis(1);
    let mut tries = 1;
    loop {
        let (record, args, inside) = record_externals(c, spec)?;
        crate::fault::pause("checkpoint:scanned");
        let Some(cg) = held.filter(|_| inside && tries < SETTLE_TRIES) else {
            return Ok((record, args));
        };
        crate::logging::debug(|| {
            format!("checkpoint: the init's stdio is on its own file (try {tries}); letting it run")
        });
        cg.freeze(false)?;
        std::thread::sleep(thawed_for);
        cg.freeze(true)?;
        thawed_for = (thawed_for * 2).min(std::time::Duration::from_millis(50));
        tries += 1;
    }
}

/// `--cgroup-dump-controller` for each hierarchy of the init (named as in
/// /proc/PID/cgroup) where the container has a cgroup of its own. CRIU
/// otherwise dumps the whole tree below the init's cgroup in every
/// hierarchy, and where that is the root (name=systemd and the cgroup2
/// hierarchy on the hybrid hosts here) restore re-creates every other
/// tenant's cgroup directory that has gone since (seen).
fn dump_controllers(pid: i32, paths: &crate::cgroups::CgroupPaths) -> Result<Vec<OsString>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("read /proc/{pid}/cgroup"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once(':') else {
            continue;
        };
        let Some((name, _)) = rest.split_once(':') else {
            continue;
        };
        let own = if name.is_empty() {
            paths.unified.is_some()
        } else {
            name.split(',').any(|c| paths.v1.contains_key(c))
        };
        if own {
            out.extend(["--cgroup-dump-controller".into(), name.into()]);
        }
    }
    Ok(out)
}

/// As runc: without the kernel's dirty-page tracking a pre-dump would copy
/// everything and save nothing, and a dump on a parent (which needs
/// --track-mem to write only what changed) fails in CRIU; say so up front.
fn check_pre_dump(criu: &Path, id: &str, flag: &str) -> Result<()> {
    let ok = Command::new(criu)
        .args(["check", "--feature", "mem_dirty_track"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        bail!(
            "checkpoint {id} {flag}: CRIU cannot track memory changes on this kernel \
             (`criu check --feature mem_dirty_track` fails: no CONFIG_MEM_SOFT_DIRTY); \
             pre-dumps are impossible here, take a plain checkpoint"
        );
    }
    Ok(())
}

/// The criu arguments that follow from the options alone.
fn option_args(o: &CheckpointOptions, args: &mut Vec<OsString>) -> Result<()> {
    o.criu.push_args(args);
    // A dump on a parent writes only the pages dirtied since the parent
    // when it, too, asks the kernel's soft-dirty bits (as runc sets
    // TrackMem with a parent): without --track-mem CRIU links the parent
    // and still writes every page (seen in the VM: 2.2 MB both times).
    if o.pre_dump || o.parent_path.is_some() {
        args.push("--track-mem".into());
    }
    if let Some(p) = &o.parent_path {
        args.extend(["--prev-images-dir".into(), p.clone().into()]);
    }
    if o.leave_running && !o.pre_dump {
        args.push("--leave-running".into());
    }
    if let Some(ps) = &o.page_server {
        let (addr, port) = ps
            .rsplit_once(':')
            .with_context(|| format!("--page-server {ps:?}: not ADDRESS:PORT"))?;
        // The pages go to a `criu page-server` listening there.
        args.extend(["--page-server".into(), "--address".into(), addr.into()]);
        args.extend(["--port".into(), port.into()]);
    }
    Ok(())
}

/// Lazy migration is refused: tried with CRIU 4.1.1 here (runc's recipe:
/// checkpoint serving the pages, `criu lazy-pages`, restore
/// --lazy-pages), the restore failed in CRIU ("uffd: Failed sending
/// restore finished indication: Broken pipe") and then hung; not offered
/// until that works.
pub const LAZY_REFUSED: &str = "--lazy-pages is not supported by outlet (lazy migration \
                                through userfaultfd failed with CRIU 4.1.1 here); take a \
                                plain checkpoint, with --page-server to send the pages away";

/// `--parent-path` names the images of an earlier pre-dump relative to
/// the image directory, as CRIU's --prev-images-dir takes it. Checked as
/// runc checks it, before the container is frozen: CRIU's own refusal
/// ("Invalid parent image directory provided") says neither which flag
/// nor which path.
fn check_parent(parent: Option<&Path>, image: &Path) -> Result<()> {
    let Some(p) = parent else {
        return Ok(());
    };
    if p.is_absolute() {
        bail!(
            "--parent-path {}: must be relative (to the image path {})",
            p.display(),
            image.display()
        );
    }
    let real = parent_dir(image, p);
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!(
            "invalid --parent-path {}: {} is not a directory",
            p.display(),
            real.display()
        ),
        Err(e) => bail!(
            "invalid --parent-path {}: {}: {e}",
            p.display(),
            real.display()
        ),
    }
}

/// Where CRIU will find the parent images: `image`/`parent` as the kernel
/// resolves it once the image directory exists. Until then each leading
/// `..` of `parent` that lands in a part of `image` still to be made is
/// taken lexically: that part is made as plain directories (no symlink),
/// so its `..` is the directory above. The first existing ancestor on,
/// the kernel resolves (symlinks included).
fn parent_dir(image: &Path, parent: &Path) -> PathBuf {
    use std::path::Component;
    let mut base = image.to_path_buf();
    let mut rest = parent.components().peekable();
    while rest.peek() == Some(&Component::ParentDir) && std::fs::symlink_metadata(&base).is_err() {
        base.pop();
        rest.next();
    }
    base.join(rest.collect::<PathBuf>())
}

/// Refuses what cannot work before anything is made.
fn check_options(o: &CheckpointOptions) -> Result<()> {
    if o.criu.lazy_pages {
        bail!("{LAZY_REFUSED}");
    }
    if o.status_fd.is_some() {
        bail!("--status-fd only serves --lazy-pages, which outlet does not support");
    }
    if let Some(ps) = &o.page_server
        && ps
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        bail!("--page-server {ps:?}: not ADDRESS:PORT");
    }
    Ok(())
}

pub fn checkpoint(
    root: &Path,
    id: &str,
    criu_flag: Option<&Path>,
    o: &CheckpointOptions,
) -> Result<()> {
    check_options(o)?;
    let c = super::load(root, id)?;
    if !matches!(c.status, Status::Running | Status::Paused) {
        // runc's words (and exit code 1), with the id.
        bail!(
            "container not running: {id} cannot be checkpointed in {} state",
            c.status.as_str()
        );
    }
    let cwd = std::env::current_dir().context("current directory")?;
    check_parent(o.parent_path.as_deref(), &o.criu.image_dir(&cwd))?;
    super::criu::check_cgroups_mode(o.criu.cgroups_mode, &c.state.cgroup)?;
    let criu = find_criu(criu_flag)?;
    if o.pre_dump {
        check_pre_dump(&criu, id, "--pre-dump")?;
    } else if o.parent_path.is_some() {
        check_pre_dump(&criu, id, "--parent-path")?;
    }
    let spec = crate::spec::from_validated(&c.dir.load_config()?)?;
    let pid = c.state.pid;
    let (image, work) = o.criu.dirs(None, true)?;
    let log_name = if o.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    let mut args: Vec<OsString> = vec![if o.pre_dump { "pre-dump" } else { "dump" }.into()];
    args.extend(["-t".into(), pid.to_string().into()]);
    args.extend([
        "-D".into(),
        image.clone().into(),
        "-W".into(),
        work.clone().into(),
    ]);
    args.extend(["-o".into(), log_name.into()]);
    option_args(o, &mut args)?;
    // The freezer stops every task at once (no ptrace race with forks).
    if let Some(f) = c.state.cgroup.controller_dir("freezer") {
        args.extend(["--freeze-cgroup".into(), f.into()]);
    }
    args.extend(dump_controllers(pid, &c.state.cgroup)?);
    let held = hold(&c, id)?;
    let log = work.join(log_name);
    let dumped = dump(&c, &spec, held.as_ref(), &criu, args, &image, &log);
    // CRIU left the tasks frozen as it found them (or killed them).
    let thawed = held.map_or(Ok(()), |cg| {
        cg.freeze(false)
            .with_context(|| format!("checkpoint {id}: thaw the container after the dump"))
    });
    let keeps_running = o.leave_running || o.pre_dump;
    match (dumped, thawed) {
        (Err(e), Err(t)) => bail!("{e:#}; {t:#}"),
        (Err(e), Ok(())) => return Err(e),
        // After a dump that killed the tasks there is nothing to thaw.
        (Ok(()), Err(t)) if keeps_running => return Err(t),
        _ => {}
    }
    if keeps_running {
        return Ok(());
    }
    // CRIU killed the dumped tasks: the container is gone as runc's is
    // after a checkpoint (poststop hooks, cgroup and state removed), so
    // that `restore ID` can bring it back under the same id.
    super::delete::stop(&c)?;
    super::delete::destroy(&c)
}

/// The dump itself, of a container `hold` froze (if it could): externals
/// read at a settled moment, the record written beside the images, criu.
fn dump(
    c: &super::Opened,
    spec: &crate::spec::Spec,
    held: Option<&Cgroup>,
    criu: &Path,
    mut args: Vec<OsString>,
    image: &Path,
    log: &Path,
) -> Result<()> {
    // A frozen hybrid cgroup2 directory (see `Cgroup::thaw_hybrid`) keeps
    // CRIU's parasite from running: the dump waited in wait4 for ever
    // (tests/attack_s14.rs). Thawed while the v1 freezer holds the tasks:
    // before the settling (whose thawed moments must let the init run),
    // and again once they are held for good, so that none can have frozen
    // it anew before CRIU seizes them. Debug builds'
    // OUTLET_NO_HYBRID_THAW=1 is the control.
    let cg = Cgroup::from_paths(c.state.cgroup.clone());
    cg.thaw_hybrid();
    let (record, externals) = settled_externals(c, spec, held)?;
    cg.thaw_hybrid();
    args.extend(externals);
    let json = serde_json::to_vec_pretty(&record).context("serialise the checkpoint record")?;
    crate::syscall::write_atomic(&image.join(RECORD_FILE), &json)?;
    let what = format!("checkpoint {}", c.state.id);
    run_criu(criu, &args, log, &what, true, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: &str = "\
66 43 254:0 /work/rootfs / ro,relatime - ext4 /dev/vda rw
67 66 0:40 / /proc rw,relatime - proc proc rw
70 66 0:41 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
71 70 0:42 / /dev/pts rw,nosuid - devpts devpts rw,mode=620,ptmxmode=666
72 70 0:42 /0 /dev/console rw,nosuid - devpts devpts rw,mode=620,ptmxmode=666
78 76 0:29 /c1 /sys/fs/cgroup/cpu ro,relatime - cgroup cgroup rw,cpu
79 76 0:29 /c1 /sys/fs/cgroup/cpu,cpuacct ro,relatime - cgroup cgroup rw,cpu,cpuacct
80 76 0:29 / /sys/fs/cgroup/systemd ro - cgroup cgroup rw,name=systemd
85 66 254:0 /tmp/b/out /out rw,relatime - ext4 /dev/vda rw
86 67 0:6 /null /proc/keys rw,relatime - devtmpfs devtmpfs rw
48 67 0:46 / /proc/acpi ro,nosuid - tmpfs none rw
";

    #[test]
    fn externals_are_binds_masked_files_v1_cgroups_and_the_console() {
        let got = classify(
            &mountinfo(MI),
            &["/out".into()],
            &["/proc/keys".into(), "/proc/acpi".into()],
        );
        assert_eq!(
            got,
            vec![
                ("/dev/console".into(), External::Console),
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
                        controllers: vec!["name=systemd".into()]
                    }
                ),
                ("/out".into(), External::Bind),
                ("/proc/keys".into(), External::Masked),
            ]
        );
    }

    #[test]
    fn parent_of_an_image_dir_still_to_be_made() {
        let d = std::env::temp_dir().join(format!("outlet-unit-parent-{}", std::process::id()));
        std::fs::create_dir_all(d.join("pre")).unwrap();
        let fresh = d.join("new/final");
        assert_eq!(parent_dir(&fresh, Path::new("../../pre")), d.join("pre"));
        check_parent(Some(Path::new("../../pre")), &fresh).unwrap();
        // Control: one `..` short lands in the directory still to be made.
        assert!(check_parent(Some(Path::new("../pre")), &fresh).is_err());
        check_parent(Some(Path::new("pre")), &d).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn page_server_needs_a_port() {
        let mut o = CheckpointOptions {
            page_server: Some("10.0.0.1".into()),
            ..Default::default()
        };
        assert!(check_options(&o).is_err());
        o.page_server = Some("10.0.0.1:27".into());
        check_options(&o).unwrap();
        o.criu.lazy_pages = true;
        let e = check_options(&o).unwrap_err().to_string();
        assert!(e.contains("--lazy-pages is not supported"), "{e}");
    }
}

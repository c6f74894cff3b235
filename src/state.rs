//! <root>/<id>/: state.json, intent.json, the lock and exec.fifo (made by
//! `create` only: `run` holds its init at a pipe of its own, so its
//! container reads "running" from the moment it is recorded, which is
//! microseconds before `run` releases it).
//! state.json is written atomically (tmp + rename) and holds the OCI state
//! plus what later commands need without re-reading the bundle (the hooks,
//! the resolved cgroup paths, the init's start time against pid reuse).
//! intent.json opens with the config the container was created from, for
//! `exec` (config.json in the dirs of `restore` and of older outlets).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupPaths;
use crate::state_lock::{Opened, lock_dir, missing, open_dir};
use crate::syscall;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
/// The validated config as `restore` (and outlets before intent.json held
/// it) read it: `exec` takes the container's process defaults and seccomp
/// profile from here or from intent.json's head, never from the bundle,
/// which may have been edited or removed since.
pub const CONFIG_FILE: &str = "config.json";
/// What `create` is about to make, written before it makes it (intent
/// before effect), so that `delete --force` can undo a create that died at
/// any instant, or a container whose state.json was damaged later. A log
/// of JSON lines, each a whole `Intent` that replaces the one before: the
/// last line that reads whole is the record (see `ContainerDir::begin_intent`).
/// Made by create and run, it opens with the container's config, framed
/// by CONFIG_HEAD (one file where there were two: on this ext4 host every
/// new inode costs a scan of the recently freed ones).
pub const INTENT_FILE: &str = "intent.json";
/// `config <length>\n`, the config's bytes, `\n`: the head of a create's
/// intent.json. The length, not a line, marks where the log starts: a
/// config's own lines may read as JSON objects.
const CONFIG_HEAD: &[u8] = b"config ";
/// The files of a create's or run's dir, in the order `ContainerDir::remove`
/// unlinks them: state.json first, so that a delete killed halfway leaves
/// a container "being created", whose intent record `delete --force`
/// still reads. (restore's config.json takes remove's general way.)
const OWN_FILES: [&str; 3] = [STATE_FILE, EXEC_FIFO, INTENT_FILE];
/// The state root: others may pass through it (to a container dir they
/// are told of) but not list the ids in it.
const ROOT_MODE: u32 = 0o711;
/// A container's dir and its files are root's alone: config.json holds
/// the process's environment, secrets included.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Lookups that callers act on by kind; the texts are runc's, which the
/// shim and podman match.
#[derive(Debug, thiserror::Error)]
pub enum Lookup {
    #[error("container does not exist: {0}")]
    NotFound(String),
    /// Another create's record in the dir this create made (id retaken).
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("container {0} is being created (no state yet)")]
    Creating(String),
    /// state.json exists but cannot be read as a state: truncated, garbled.
    #[error("container {0} has a damaged state ({1}); delete --force removes it")]
    Damaged(String, String),
}

impl Lookup {
    pub fn of(e: &anyhow::Error) -> Option<&Lookup> {
        e.downcast_ref()
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    /// Ordered, not hashed: a HashMap's random seed cost every command
    /// that reads a state a getrandom(2), and this map is rarely filled.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Start time (clock ticks since boot) of the init: a pid with another
    /// start time is a recycled pid, never ours.
    pub init_start_time: u64,
    #[serde(default)]
    pub cgroup: CgroupPaths,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
    /// The /proc/PID/ns names of the namespaces the spec lists (new or
    /// joined): exec enters a container without "mnt" by its root, not setns.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// process.terminal: the init's stdio is a pty whose master the caller
    /// holds.
    #[serde(default)]
    pub use_terminal: bool,
    /// `run`'s start gate as the init holds it until released (see
    /// `create::Gate::Pipe`): while it does, the container is "created".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_gate: Option<StartGate>,
}

/// The pipe the init of a `run` waits at: its fd number in the init and
/// the pipe's inode. The init closes it once it has the start byte.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartGate {
    pub fd: i32,
    pub pipe: u64,
}

impl StartGate {
    /// Whether the init `pid` still holds the gate, read from its fd link
    /// (one readlink; an fd it holds now for something else, or a link it
    /// does not let us read, says no).
    fn held_by(&self, pid: i32) -> bool {
        let link = format!("/proc/{pid}/fd/{}", self.fd);
        std::fs::read_link(link).is_ok_and(|l| {
            l.to_str()
                .and_then(|l| l.strip_prefix("pipe:["))
                .and_then(|l| l.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok())
                == Some(self.pipe)
        })
    }
}

/// The intent record (INTENT_FILE): first the cgroup directories `create`
/// will use and which of them it will make (before it makes any), then the
/// init's pid and start time as soon as it exists.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Intent {
    #[serde(default)]
    pub cgroup: CgroupPaths,
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub init_start_time: u64,
}

/// The intent log's bytes to the record that stands: its last line that
/// parses whole, after the config when the file opens with one.
pub fn parse_intent(bytes: &[u8]) -> Option<Intent> {
    split_config(bytes)
        .1
        .split(|b| *b == b'\n')
        .rev()
        .find_map(|line| serde_json::from_slice(line).ok())
}

/// intent.json's bytes as (the config at its head, the log after it).
/// A file without the head is all log (restore's, older outlets'); one
/// whose head or config was cut short has neither: it was cut in the one
/// write that makes it, before create made anything the log could name.
fn split_config(bytes: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let Some(rest) = bytes.strip_prefix(CONFIG_HEAD) else {
        return (None, bytes);
    };
    let whole = || {
        let nl = rest.iter().position(|b| *b == b'\n')?;
        let len: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
        let end = (nl + 1).checked_add(len)?;
        let config = rest.get(nl + 1..end)?;
        let log = rest[end..].strip_prefix(b"\n")?;
        Some((Some(config), log))
    };
    whole().unwrap_or((None, &[]))
}

/// state.json's bytes to a State, without touching the file system (the
/// fuzz target's entry).
pub fn parse_state(bytes: &[u8]) -> serde_json::Result<State> {
    serde_json::from_slice(bytes)
}

/// The OCI state as `outlet state` prints it (runtime-spec + runc's extras).
#[derive(Serialize, Debug)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: &'static str,
    pub pid: i32,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
}

impl State {
    pub fn oci(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: &self.oci_version,
            id: &self.id,
            status: status.as_str(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }
}

/// The state root: --root, else /run/outlet for root, else
/// $XDG_RUNTIME_DIR/outlet (podman passes no --root for rootless users).
/// Rootless podman runs us as uid 0 of its user namespace, which may not
/// write /run/outlet: there too, unless USER says root (runc's rule).
pub fn default_root() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR")
        && !xdg.is_empty()
        && (!nix::unistd::geteuid().is_root() || userns_not_root())
    {
        return Path::new(&xdg).join("outlet");
    }
    PathBuf::from("/run/outlet")
}

/// uid 0 of a user namespace that is not the initial one (whose uid_map
/// is the identity over the whole range), run by someone other than root.
fn userns_not_root() -> bool {
    std::env::var_os("USER").is_none_or(|u| u != "root")
        && std::fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// Beside the containers' directories in the state root (as crun keeps
/// its own): compiled seccomp filters and loaded device programs' ids
/// (cgroups::v2::devices::reuse), for later containers with the same
/// profile or rules. `spec::check_id` refuses it; `list` skips it.
pub const CACHE_DIR: &str = ".cache";

pub fn seccomp_cache(root: &Path) -> PathBuf {
    root.join(CACHE_DIR).join("seccomp")
}

/// A container's directory, locked (flock) for the life of this value so that
/// concurrent commands on one id serialise.
pub struct ContainerDir {
    pub path: PathBuf,
    lock: Option<File>,
}

impl ContainerDir {
    /// Make <root>/<id> (DIR_MODE); EEXIST means the id is taken. The state
    /// root is made (ROOT_MODE) only when it is missing (one mkdir after that).
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir> {
        let path = root.join(id);
        let mkdir = || std::fs::DirBuilder::new().mode(DIR_MODE).create(&path);
        let made = match mkdir() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(ROOT_MODE)
                    .create(root)
                    .with_context(|| format!("state root {}", root.display()))?;
                mkdir()
            }
            r => r,
        };
        match made {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                bail!("container with id exists: {id}")
            }
            Err(e) => {
                return Err(e).with_context(|| format!("create state dir {}", path.display()));
            }
        }
        if let Err(e) = crate::state_root::check(root) {
            let _ = std::fs::remove_dir(&path);
            return Err(e);
        }
        crate::fault::pause("create:mkdir");
        let lock = lock_dir(&path)?;
        crate::state_root::spread_dirs(root, &lock);
        Ok(ContainerDir {
            path,
            lock: Some(lock),
        })
    }

    pub fn open(root: &Path, id: &str) -> Result<ContainerDir> {
        Self::open_with(root, id, true)
    }

    /// For readers (`state`, `list`): state.json is replaced atomically, so
    /// they need no lock and never wait for a `create` in progress.
    pub fn open_unlocked(root: &Path, id: &str) -> Result<ContainerDir> {
        Self::open_with(root, id, false)
    }

    fn open_with(root: &Path, id: &str, lock: bool) -> Result<ContainerDir> {
        crate::spec::check_id(id)?;
        let path = root.join(id);
        loop {
            let dir = match open_dir(&path, lock) {
                Ok(Opened::Live(d)) => d,
                // Removed by the holder we waited for (a delete): what is
                // at the path now, if anything, is what we are about.
                Ok(Opened::Removed) => continue,
                // By the open's errno: exists() could find the dir a create
                // made a moment after, and say ENOENT, not "does not exist".
                Err(e) if missing(&e) => {
                    crate::fault::pause("open:missing");
                    if !crate::fault::control("OUTLET_LOOKUP_BY_EXISTS") || !path.exists() {
                        return Err(Lookup::NotFound(id.to_string()).into());
                    }
                    return Err(e);
                }
                Err(_) if !path.exists() => return Err(Lookup::NotFound(id.to_string()).into()),
                Err(e) => return Err(e),
            };
            return Ok(ContainerDir {
                path,
                lock: Some(dir),
            });
        }
    }

    pub fn load(&self) -> Result<Option<State>> {
        let file = self.path.join(STATE_FILE);
        match std::fs::read(&file) {
            Ok(bytes) => match parse_state(&bytes) {
                Ok(st) => Ok(Some(st)),
                Err(e) => {
                    let id = self.path.file_name().unwrap_or_default();
                    let why = format!("{}: {e}", file.display());
                    Err(Lookup::Damaged(id.to_string_lossy().into_owned(), why).into())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", file.display())),
        }
    }

    pub fn save_intent(&self, intent: &Intent) -> Result<()> {
        let json = serde_json::to_vec(intent).context("serialise intent")?;
        syscall::write_atomic(&self.path.join(INTENT_FILE), &json)
    }

    /// The first intent record, after the container's config (see
    /// CONFIG_HEAD), into a new file with one plain write (no temporary
    /// file and rename): it is written before anything it names exists,
    /// so a create killed halfway through the write has made nothing the
    /// record would have to lead to.
    pub fn begin_intent(&self, intent: &Intent, config: &[u8]) -> Result<()> {
        let mut head = CONFIG_HEAD.to_vec();
        head.extend_from_slice(format!("{}\n", config.len()).as_bytes());
        head.extend_from_slice(config);
        head.push(b'\n');
        let new = std::fs::OpenOptions::new()
            .create_new(true)
            .mode(FILE_MODE)
            .clone();
        let r = self.write_intent(head, intent, new);
        match &r {
            Err(e)
                if e.chain()
                    .filter_map(|c| c.downcast_ref::<std::io::Error>())
                    .any(|io| io.kind() == std::io::ErrorKind::AlreadyExists) =>
            {
                let id = self.path.file_name().unwrap_or_default();
                Err(Lookup::Exists(id.to_string_lossy().into_owned()).into())
            }
            _ => r,
        }
    }

    /// A later record, appended as one more line (one write, no new inode
    /// and no rename over the old file, which ext4 would flush at once): a
    /// line cut short by a kill does not read whole, and the line before
    /// it still stands, as if create had died just before the write.
    pub fn append_intent(&self, intent: &Intent) -> Result<()> {
        let append = std::fs::OpenOptions::new().append(true).clone();
        self.write_intent(Vec::new(), intent, append)
    }

    /// `intent` as one line after `head`, in one write.
    fn write_intent(
        &self,
        mut line: Vec<u8>,
        intent: &Intent,
        mut how: std::fs::OpenOptions,
    ) -> Result<()> {
        let file = self.path.join(INTENT_FILE);
        serde_json::to_writer(&mut line, intent).context("serialise intent")?;
        line.push(b'\n');
        how.write(true)
            .open(&file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &line))
            .with_context(|| format!("write {}", file.display()))
    }

    /// The intent record, if one was written and can be read: the last
    /// line that parses (a file `save_intent` wrote is one such line).
    pub fn load_intent(&self) -> Option<Intent> {
        let bytes = std::fs::read(self.path.join(INTENT_FILE)).ok()?;
        parse_intent(&bytes)
    }

    pub fn save(&self, state: &State) -> Result<()> {
        let json = serde_json::to_vec(state).context("serialise state")?;
        syscall::write_atomic(&self.path.join(STATE_FILE), &json)
    }

    /// `save` in two steps: the bytes now, under the temporary name
    /// `save` uses (no reader looks at it), and the rename that makes them
    /// state.json when `StagedState::commit` is called.
    pub fn stage(&self, state: &State) -> Result<StagedState> {
        let json = serde_json::to_vec(state).context("serialise state")?;
        let tmp = self
            .path
            .join(format!(".{STATE_FILE}.{}", std::process::id()));
        std::fs::write(&tmp, json).with_context(|| format!("write {}", tmp.display()))?;
        Ok(StagedState {
            tmp,
            path: self.path.join(STATE_FILE),
        })
    }

    /// Keeps the config's text in a file of its own (`restore`; create and
    /// run keep it in intent.json). Written before state.json, whose rename
    /// is what makes the container exist for other commands: no reader can
    /// see a partial config.json, so one plain write is enough.
    pub fn save_config(&self, text: &[u8]) -> Result<()> {
        let file = self.path.join(CONFIG_FILE);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text))
            .with_context(|| format!("write {}", file.display()))
    }

    /// The config the container was created from: intent.json's head, or
    /// config.json where there is none (only where intent.json is missing:
    /// another failure, EMFILE, is the answer, not config.json's ENOENT).
    pub fn load_config(&self) -> Result<Vec<u8>> {
        let what = |f: &Path| format!("read the container's config {}", f.display());
        let intent = self.path.join(INTENT_FILE);
        let bytes = match std::fs::read(&intent) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            r => Some(r.with_context(|| what(&intent))?),
        };
        if let Some((Some(config), _)) = bytes.as_deref().map(split_config) {
            return Ok(config.to_vec());
        }
        let file = self.path.join(CONFIG_FILE);
        std::fs::read(&file).with_context(|| what(&file))
    }

    /// Whether the dir was removed since it was opened (a delete between
    /// the open and the lock, or a reader's look): then the container is
    /// gone, not "being created". Control: OUTLET_LOCK_STALE_DIR=1.
    pub fn removed(&self) -> bool {
        if crate::fault::control("OUTLET_LOCK_STALE_DIR") {
            return false;
        }
        self.lock
            .as_ref()
            .is_some_and(|d| nix::sys::stat::fstat(d.as_raw_fd()).is_ok_and(|st| st.st_nlink == 0))
    }

    /// The locked directory's fd (-1 once unlocked).
    pub fn lock_fd(&self) -> i32 {
        self.lock.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Lets other commands on this id go on before this one ends: for a
    /// command about to wait on the container's processes, which a paused
    /// container keeps frozen until `resume` (and `resume` needs the lock).
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Removes the directory: the files outlet makes, by name through the
    /// locked dir's fd, then the dir (5-6 syscalls where remove_dir_all
    /// takes 16: lstat, open, fstat, fcntl, two getdents, musl's malloc for
    /// the DIR, ...). Anything else left in it (a killed create's temporary
    /// state file) takes the general way.
    pub fn remove(&self) -> Result<()> {
        if let Some(dir) = &self.lock {
            for name in OWN_FILES {
                let _ = nix::unistd::unlinkat(
                    Some(dir.as_raw_fd()),
                    name,
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
            }
            match std::fs::remove_dir(&self.path) {
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {}
                r => {
                    return r.with_context(|| format!("remove state dir {}", self.path.display()));
                }
            }
        }
        std::fs::remove_dir_all(&self.path)
            .with_context(|| format!("remove state dir {}", self.path.display()))
    }
}

/// A state written by `ContainerDir::stage`, not yet in place.
pub struct StagedState {
    tmp: PathBuf,
    path: PathBuf,
}

impl StagedState {
    /// state.json appears, whole, in one rename.
    pub fn commit(self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("rename {} to {}", self.tmp.display(), self.path.display()))
    }
}

/// The status as it is at this moment: the init's pid is checked against its
/// recorded start time, so a dead or recycled pid reads `stopped`.
/// A status that could not be read (the init's stat, the freezer's
/// state) is an error, never a guess: "stopped" for a live init would let
/// `delete` remove a running container's record.
pub fn status_of(dir: &ContainerDir, state: &State) -> Result<Status> {
    let alive = crate::process::pidstat::recorded(state.pid, state.init_start_time)
        .with_context(|| format!("container {}: read /proc/{}/stat", state.id, state.pid))?;
    if !alive {
        return Ok(Status::Stopped);
    }
    let cg = crate::cgroups::Cgroup::from_paths(state.cgroup.clone());
    match cg.is_frozen() {
        Ok(true) => return Ok(Status::Paused),
        Ok(false) => {}
        // A driver that cannot tell (no freezer of its own) is not
        // frozen; a read that failed is the answer's failure.
        Err(e) if e.chain().any(|c| c.is::<std::io::Error>()) => {
            return Err(e.context(format!("container {}: read the freezer state", state.id)));
        }
        Err(_) => {}
    }
    let waiting = match &state.start_gate {
        Some(gate) => gate.held_by(state.pid),
        // exists() takes any stat error for absence: a created container
        // then read as running (faults_s8: start, stat failing).
        None => {
            let fifo = dir.fifo();
            fifo.try_exists()
                .with_context(|| format!("stat {}", fifo.display()))?
        }
    };
    Ok(if waiting {
        Status::Created
    } else {
        Status::Running
    })
}

pub fn init_alive(state: &State) -> bool {
    crate::process::pidstat::is_recorded(state.pid, state.init_start_time)
}

/// The caller's user name for `owner` (runc prints the user name; the uid
/// is what we know cheaply without NSS).
pub fn owner() -> String {
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        "root".to_string()
    } else {
        uid.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> (tempdir::Dir, ContainerDir) {
        let t = tempdir::Dir::new();
        let d = ContainerDir::create(&t.0, "c").unwrap();
        (t, d)
    }

    /// A private directory under /tmp, removed on drop.
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = nix::unistd::mkdtemp(&std::env::temp_dir().join("outlet-state-XXXXXX"))
                    .unwrap();
                // The state root itself is made by ContainerDir::create.
                Dir(p.join("root"))
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
            }
        }
    }

    fn intent(pid: i32) -> Intent {
        let mut i = Intent {
            pid,
            init_start_time: 77,
            ..Default::default()
        };
        i.cgroup.created = vec![PathBuf::from("/sys/fs/cgroup/pids/x")];
        i
    }

    /// A staged state is invisible until committed: a reader in between
    /// finds a container still being created (no state), then the whole
    /// state (the control: the same reader after commit).
    #[test]
    fn a_staged_state_appears_only_on_commit() {
        let (_t, d) = dir();
        let st: State = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2", "id": "c", "pid": 42, "bundle": "/b",
            "rootfs": "/b/rootfs", "created": "x", "owner": "root",
            "init_start_time": 77
        }))
        .unwrap();
        let staged = d.stage(&st).unwrap();
        assert!(d.load().unwrap().is_none(), "visible before commit");
        staged.commit().unwrap();
        let got = d.load().unwrap().expect("state after commit");
        assert_eq!((got.pid, got.init_start_time), (42, 77));
    }

    #[test]
    fn the_last_whole_intent_line_stands() {
        let (_t, d) = dir();
        d.begin_intent(&intent(0), b"{}").unwrap();
        assert_eq!(d.load_intent().unwrap().pid, 0);
        d.append_intent(&intent(42)).unwrap();
        let got = d.load_intent().unwrap();
        assert_eq!((got.pid, got.init_start_time), (42, 77));
        assert_eq!(got.cgroup.created, intent(42).cgroup.created);
        // A second create of the record in the same dir is refused.
        assert!(d.begin_intent(&intent(1), b"{}").is_err());
    }

    /// A config at the head of the log never reads as a record, cut
    /// wherever a kill may cut the file (every byte): the record is none,
    /// the first or the second, and the config comes back whole or not at
    /// all. Control: the same bytes read line by line, as before the
    /// head, take a line of this config for a record with pid 99.
    #[test]
    fn a_config_at_the_head_of_the_log_never_reads_as_a_record() {
        let (_t, d) = dir();
        let config = b"{\n\"a\": 1\n}\n{\"pid\": 99, \"init_start_time\": 77}\n";
        d.begin_intent(&intent(0), config).unwrap();
        d.append_intent(&intent(42)).unwrap();
        assert_eq!(d.load_config().unwrap(), config);
        assert_eq!(d.load_intent().unwrap().pid, 42);
        let bytes = std::fs::read(d.path.join(INTENT_FILE)).unwrap();
        let naive = |b: &[u8]| {
            b.split(|c| *c == b'\n')
                .rev()
                .find_map(|l| serde_json::from_slice::<Intent>(l).ok())
        };
        let head_len = bytes.len() - serde_json::to_vec(&intent(42)).unwrap().len() - 1;
        assert_eq!(naive(&bytes[..head_len / 2]).map(|i| i.pid), Some(99));
        for cut in 0..=bytes.len() {
            let got = parse_intent(&bytes[..cut]).map(|i| i.pid);
            assert!(
                matches!(got, None | Some(0) | Some(42)),
                "cut {cut}: {got:?}"
            );
            let (c, _) = split_config(&bytes[..cut]);
            assert!(c.is_none_or(|c| c == config), "cut {cut}");
        }
        // A head that lies about the length reads as nothing, not a panic.
        for lie in [
            "config 18446744073709551615\n{}\n",
            "config -1\n",
            "config 99\n{}\n",
        ] {
            assert_eq!(split_config(lie.as_bytes()), (None, &b""[..]), "{lie}");
        }
        // The config's file is root's alone: it holds the environment.
        let mode = std::fs::metadata(d.path.join(INTENT_FILE))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    /// restore's dir (and an older outlet's) keeps the config in
    /// config.json and a plain log in intent.json: both still read.
    #[test]
    fn a_dir_with_config_json_reads_as_before() {
        let (_t, d) = dir();
        d.save_intent(&intent(42)).unwrap();
        d.save_config(b"{\"ociVersion\": \"1.0.2\"}").unwrap();
        assert_eq!(d.load_intent().unwrap().pid, 42);
        assert_eq!(d.load_config().unwrap(), b"{\"ociVersion\": \"1.0.2\"}");
        d.remove().unwrap();
        assert!(!d.path.exists());
    }

    #[test]
    fn a_line_cut_short_leaves_the_one_before() {
        let first = serde_json::to_string(&intent(0)).unwrap();
        let second = serde_json::to_string(&intent(42)).unwrap();
        for cut in [1, second.len() / 2, second.len() - 1] {
            let log = format!("{first}\n{}", &second[..cut]);
            assert_eq!(parse_intent(log.as_bytes()).unwrap().pid, 0, "cut at {cut}");
        }
        // Control: the whole line wins.
        let log = format!("{first}\n{second}\n");
        assert_eq!(parse_intent(log.as_bytes()).unwrap().pid, 42);
        // save_intent's single record, without a newline, reads too.
        assert_eq!(parse_intent(second.as_bytes()).unwrap().pid, 42);
        // A first line cut short: no record.
        assert!(parse_intent(&first.as_bytes()[..first.len() / 2]).is_none());
        assert!(parse_intent(b"").is_none());
    }

    /// The dir goes with every file outlet makes in it (the fifo too), and
    /// with one it does not know (a killed create's temporary state file:
    /// the control, which the unlinks by name alone would leave behind).
    #[test]
    fn remove_takes_the_dir_with_known_and_unknown_files() {
        for stranger in [None, Some(".state.json.4242")] {
            let (_t, d) = dir();
            for f in OWN_FILES.iter().filter(|f| **f != EXEC_FIFO) {
                std::fs::write(d.path.join(f), b"x").unwrap();
            }
            nix::unistd::mkfifo(&d.fifo(), nix::sys::stat::Mode::from_bits_truncate(0o600))
                .unwrap();
            if let Some(s) = stranger {
                std::fs::write(d.path.join(s), b"x").unwrap();
            }
            d.remove().unwrap();
            assert!(!d.path.exists(), "{stranger:?}: {} left", d.path.display());
        }
    }

    #[test]
    fn the_state_root_is_made_when_missing() {
        let (t, d) = dir();
        assert!(d.path.is_dir());
        let mode = std::fs::metadata(&t.0).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o711
        );
        // The root exists now: a second container takes one mkdir, and a
        // taken id is refused as before.
        let e = ContainerDir::create(&t.0, "c").err().unwrap();
        assert_eq!(e.to_string(), "container with id exists: c");
        ContainerDir::create(&t.0, "d").unwrap();
    }
}

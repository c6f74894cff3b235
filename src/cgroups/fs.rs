//! The few filesystem operations cgroups need, each error naming the file
//! (and the value, for writes) so that a caller's log line says exactly
//! which limit the kernel refused.

use std::ffi::CStr;
use std::io::{self, Read, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::walk::{self, Left, Visitor, Where};

/// Write `value` with one write(2): cgroup files parse each write as one
/// request, so a split write would be two (wrong) requests. No O_CREAT: a
/// missing file means a missing controller and must say ENOENT.
pub fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    let n = f.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write ({n} of {} bytes)", value.len()),
        ));
    }
    Ok(())
}

pub fn write(path: &Path, value: &str) -> Result<()> {
    write_raw(path, value).map_err(|e| write_error(path, value, &e))
}

/// The io error stays the source (callers look at its kind, e.g. a
/// rootless create without a delegated cgroup); the text names file and value.
pub fn write_error(path: &Path, value: &str, e: &io::Error) -> anyhow::Error {
    let source = match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    };
    anyhow::Error::new(source).context(format!("cgroup: write {value:?} to {}", path.display()))
}

fn io_error(e: io::Error, what: &str, path: &Path) -> anyhow::Error {
    anyhow::Error::new(e).context(format!("cgroup: {what} {}", path.display()))
}

/// Read by hand, not with `File::read_to_string`: that one sizes its
/// buffer with an fstat and an lseek first, two syscalls per file that
/// tell nothing here (cgroup files report size 0), and create reads a few
/// on every run (cpuset.cpus, cpuset.mems, a parent's freezer.state).
pub fn read_raw(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(64);
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

pub fn read(path: &Path) -> Result<String> {
    read_raw(path).with_context(|| format!("cgroup: read {}", path.display()))
}

/// Like `read`, but a missing file (cgroup already removed, controller
/// absent) is `None`. ENODEV is a removal too: the cgroup went away
/// between open and read (systemd removes an emptied scope on its own).
/// A directory is missing too: the kernel's files are never directories,
/// so one by that name is a sub-cgroup the container made (a writable
/// cgroupfs lets it mkdir any name this kernel has no file for, such as
/// CFQ's `blkio.io_serviced_recursive`), and failing on it made `events
/// --stats` fail for as long as the container liked (tests/attack_s14.rs).
/// Debug builds' OUTLET_CGROUP_READ_DIRS=1 (the control) fails as before.
pub fn read_opt(path: &Path) -> Result<Option<String>> {
    match read_raw(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e)
            if e.raw_os_error() == Some(libc::EISDIR)
                && !crate::fault::control("OUTLET_CGROUP_READ_DIRS") =>
        {
            Ok(None)
        }
        Err(e) => Err(io_error(e, "read", path)),
    }
}

/// How long `mkdir_all` keeps making again a parent that vanished before
/// the child could be made in it: each time means another container's
/// `delete` removed the shared parent it had made, which had just become
/// empty. In a start storm that happens, but not forever; the bound only
/// stops a livelock.
const PARENT_VANISHED_FOR: Duration = Duration::from_secs(2);

/// mkdir -p that records, parents first, every directory it really created,
/// so that cleanup removes exactly those and never a directory that existed.
/// A parent is shared with other containers, and the one that made it
/// removes it on `delete` once it is empty: a parent found (or made) here
/// can be gone again before the child is made in it, so that ENOENT makes
/// the parent again instead of failing the create.
pub fn mkdir_all(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let deadline = Instant::now() + PARENT_VANISHED_FOR;
    mkdir_all_until(dir, created, Some(deadline)).map(|_| ())
}

/// `mkdir_all` that makes a missing parent again until `deadline` (None:
/// once only); how many times it found the parent missing.
fn mkdir_all_until(
    dir: &Path,
    created: &mut Vec<PathBuf>,
    deadline: Option<Instant>,
) -> Result<u32> {
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(0o755);
    let mut tries = 0;
    loop {
        match builder.create(dir) {
            Ok(()) => {
                created.push(dir.to_path_buf());
                return Ok(tries);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(tries),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && (tries == 0 || deadline.is_some_and(|d| Instant::now() < d)) =>
            {
                tries += 1;
                let parent = dir
                    .parent()
                    .ok_or_else(|| anyhow!("cgroup: mkdir {}: {e}", dir.display()))?;
                let before = created.len();
                mkdir_all_until(parent, created, deadline)?;
                // Made again after another's delete removed it: on record once.
                let mut i = before;
                while i < created.len() {
                    if created[..i].contains(&created[i]) {
                        created.remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            Err(e) => return Err(io_error(e, "mkdir", dir)),
        }
    }
}

/// rmdir a cgroup and any child cgroups the container made inside it
/// (deepest first, walked by fds: see walk.rs). The kernel answers EBUSY
/// for a short while after the last process died (its css is still being
/// released), so retry briefly. A directory that is already gone is
/// success (true). One that still lists live processes at the deadline
/// (another container or a host process sharing it) is left in place, with its
/// ancestors in the tree, and a warning says so: false. A listed pid that
/// is a zombie or already gone is a process on its way out, not a sharer:
/// taking it for one left an empty cgroup behind after a delete that
/// succeeded, so such a cgroup is retried until the deadline and then is
/// an error. The processes are only read once rmdir has said EBUSY, and
/// the tree only walked once it said ENOTEMPTY or EBUSY, so the common
/// case (an empty cgroup) costs one rmdir.
pub fn remove_tree(dir: &Path, deadline: Instant) -> Result<bool> {
    let deadline = if crate::fault::control("OUTLET_CGROUP_WAIT_EACH") {
        removal_deadline()
    } else {
        deadline
    };
    remove_tree_until(dir, deadline)
}

/// When a removal that starts now stops waiting for a busy cgroup. One
/// for all of a container's directories (`Cgroup::destroy`): a process
/// that passes for outlet's own made each of v1's hierarchies wait its
/// own 2 s (16 s for one delete, tests/attack_s9b.rs); debug builds'
/// OUTLET_CGROUP_WAIT_EACH=1 (the control) gives each its own again.
pub fn removal_deadline() -> Instant {
    Instant::now() + Duration::from_secs(2)
}

fn remove_tree_until(dir: &Path, deadline: Instant) -> Result<bool> {
    let mut delay = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(0);
                if errno == libc::ENOTEMPTY || errno == libc::EBUSY {
                    let out = walk::walk(dir, &mut RemoveBelow { deadline });
                    if let Some(err) = out.err {
                        return Err(err);
                    }
                    if out.kept {
                        return Ok(false);
                    }
                    if out.done_any {
                        continue;
                    }
                }
                // outlet's own process only passes through: an exec helper
                // that joined the cgroup just before a `delete --force`
                // killed the init goes once it fails to join the
                // namespaces (tests/races_s9.rs `exec_vs_delete_force`);
                // leaving the cgroup at once leaked it. Another's process
                // (a container sharing the cgroup) is not waited for.
                // Debug builds' OUTLET_CGROUP_LEAVE_BUSY=1 (the control)
                // never waits.
                if errno == libc::EBUSY
                    && let Some(pid) = live_process(dir)?
                    && (Instant::now() >= deadline
                        || !runs_outlet(pid)
                        || crate::fault::control("OUTLET_CGROUP_LEAVE_BUSY"))
                {
                    crate::logging::warn(&format!(
                        "cgroup {} left in place: process {pid} still in it",
                        dir.display()
                    ));
                    return Ok(false);
                }
                if errno != libc::EBUSY || Instant::now() >= deadline {
                    return Err(io_error(e, "remove", dir));
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(20));
            }
        }
    }
}

/// Removes every cgroup below the top of a walk, children first, with
/// `remove_tree`'s rules for busy ones.
struct RemoveBelow {
    deadline: Instant,
}

impl Visitor for RemoveBelow {
    fn leave(&mut self, parent: BorrowedFd, name: &CStr, at: &Where) -> Result<Left> {
        let mut delay = Duration::from_millis(1);
        loop {
            let e = match unlinkat(Some(parent.as_raw_fd()), name, UnlinkatFlags::RemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => return Ok(Left::Done),
                Err(e) => e,
            };
            let late = Instant::now() >= self.deadline;
            match e {
                // A child made since its list was read: walk it again.
                Errno::ENOTEMPTY if !late => return Ok(Left::Again),
                Errno::EBUSY => {
                    let procs = match open_at(parent, name) {
                        Ok(dir) => read_at(dir.as_fd(), c"cgroup.procs")
                            .map_err(|e| anyhow!("cgroup: read {at}/cgroup.procs: {e}"))?,
                        Err(_) => None,
                    };
                    if let Some(pid) = procs.as_deref().and_then(live_in) {
                        crate::logging::warn(&format!(
                            "cgroup {at} left in place: process {pid} still in it"
                        ));
                        return Ok(Left::Kept);
                    }
                    if late {
                        return Err(anyhow!("cgroup: remove {at}: {e}"));
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(20));
                }
                _ => return Err(anyhow!("cgroup: remove {at}: {e}")),
            }
        }
    }
}

fn open_at(dir: BorrowedFd, name: &CStr) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    crate::syscall::fs::openat(dir.as_raw_fd(), name, flags, Mode::empty())
}

/// The file `name` in the directory `dir`, read whole with plain reads
/// (std's `File::read_to_end` would stat it first); None if it is gone
/// (ENODEV: the cgroup went away between open and read).
pub fn read_at(dir: BorrowedFd, name: &CStr) -> nix::Result<Option<Vec<u8>>> {
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    let fd = match crate::syscall::fs::openat(dir.as_raw_fd(), name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENODEV) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut out = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if out.len() - len < 512 {
            out.resize(out.len() * 2, 0);
        }
        match nix::unistd::read(fd.as_raw_fd(), &mut out[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::EINTR) => {}
            Err(Errno::ENODEV) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    out.truncate(len);
    Ok(Some(out))
}

/// A live process that `dir`'s cgroup.procs lists, if any (see `live_in`).
fn live_process(dir: &Path) -> Result<Option<i32>> {
    let Some(list) = read_opt(&dir.join("cgroup.procs"))? else {
        return Ok(None);
    };
    Ok(live_in(list.as_bytes()))
}

/// Whether `pid` may be outlet's own exec helper, which leaves a cgroup
/// by itself: its command name is ours and it is in our pid namespace
/// (setns does not move the helper itself). Any process can name itself
/// "outlet" (PR_SET_NAME, /proc/self/comm); one in a container's own pid
/// namespace is then still not taken for ours. Read only on the EBUSY
/// path.
fn runs_outlet(pid: i32) -> bool {
    let comm = |p: &str| std::fs::read(format!("/proc/{p}/comm")).ok();
    let pidns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let p = pid.to_string();
    comm(&p).is_some_and(|c| Some(c) == comm("self"))
        && (crate::fault::control("OUTLET_CGROUP_WAIT_EACH")
            || pidns(&p).is_some_and(|n| Some(n) == pidns("self")))
}

/// A live process in a cgroup.procs list. The list can name a task that
/// is exiting (a zombie, or one reaped since, whose pid is gone from
/// /proc) while the kernel has not yet unlinked it from the cgroup; those
/// do not count, nor does one that was killed and has not yet run to its
/// exit (see `pidstat::staying`). A 0 is a process outside our pid
/// namespace: someone else's, live as far as we can tell.
fn live_in(list: &[u8]) -> Option<i32> {
    // Debug builds' OUTLET_CGROUP_KILLED_COUNT=1 (the control of
    // tests/crash.rs) counts a killed process as live, as before.
    let killed_count = crate::fault::control("OUTLET_CGROUP_KILLED_COUNT");
    list.split(u8::is_ascii_whitespace)
        .filter_map(|p| std::str::from_utf8(p).ok()?.parse::<i32>().ok())
        .find(|&pid| {
            pid == 0
                || if killed_count {
                    crate::process::pidstat::start_time(pid)
                        .is_some_and(|(_, st)| st != 'Z' && st != 'X')
                } else {
                    crate::process::pidstat::staying(pid)
                }
        })
}

/// rmdir that tolerates a parent still shared with other cgroups.
pub fn remove_if_unused(dir: &Path) -> Result<()> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTEMPTY | libc::EBUSY) => Ok(()),
            _ => Err(anyhow!("cgroup: remove {}: {e}", dir.display())),
        },
    }
}

/// Poll `done` with a growing sleep until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_micros(200);
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};

    /// A private directory with a `cgroup.procs` listing `pids`, standing in
    /// for a cgroup that rmdir called busy.
    fn listing(pids: &[i32]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "outlet-procs-{}-{}",
            std::process::id(),
            pids.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join("-")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
        std::fs::write(dir.join("cgroup.procs"), text).unwrap();
        dir
    }

    fn spawn(prog: &str, arg: &str) -> Child {
        Command::new(prog)
            .arg(arg)
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Two containers' creates in a shared parent, while deletes of the
    /// containers that made it remove it whenever it is empty
    /// (`remove_if_unused`, as `Cgroup::destroy` does with a parent it
    /// created), in a tight loop: far more often than a real storm, which
    /// makes the rare window a create had (between finding the parent and
    /// making its dir in it) easy to hit. Stops at the first create that
    /// fails, or after `rounds` creates each. Also says how many creates found the parent
    /// gone again after making it (the race, survived).
    fn shared_parent_race(retry: bool, rounds: u32) -> (Option<String>, usize) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let base = crate::security::testutil::TempDir::new("cg-parent-race");
        let parent = base.0.join("storm");
        let failed = std::sync::Mutex::new(None);
        let running = AtomicUsize::new(2);
        let raced = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for name in ["a", "b"] {
                let (parent, failed, running, raced) = (&parent, &failed, &running, &raced);
                s.spawn(move || {
                    let dir = parent.join(name);
                    for _ in 0..rounds {
                        if failed.lock().unwrap().is_some() {
                            break;
                        }
                        let deadline = retry.then(|| Instant::now() + PARENT_VANISHED_FOR);
                        match mkdir_all_until(&dir, &mut Vec::new(), deadline) {
                            Ok(tries) if tries > 1 => _ = raced.fetch_add(1, Ordering::SeqCst),
                            Ok(_) => {}
                            Err(e) => {
                                *failed.lock().unwrap() = Some(format!("{e:#}"));
                                break;
                            }
                        }
                        std::fs::remove_dir(&dir).unwrap();
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                });
            }
            while running.load(Ordering::SeqCst) > 0 {
                remove_if_unused(&parent).unwrap();
            }
        });
        (failed.into_inner().unwrap(), raced.into_inner())
    }

    /// A start storm's creates and deletes share the parent cgroup, and
    /// the delete of the container that made it removes it once empty:
    /// a create that had found (or made) the parent then failed with
    /// ENOENT making its own dir in it. Now it makes the parent again.
    /// Control: allowed only the one re-make of before, the same race
    /// fails, so the race is real and the test can fail.
    #[test]
    fn a_parent_removed_by_another_delete_is_made_again() {
        let (control, _) = shared_parent_race(false, 20_000);
        assert!(
            control
                .as_deref()
                .is_some_and(|e| e.contains("No such file")),
            "the control did not hit the race: {control:?}"
        );
        // The race is timing: on a loaded machine 300 rounds can pass
        // without it, so go on in batches until it has been met (and
        // survived), up to the control's budget.
        let mut raced = 0;
        for _ in 0..(20_000 / 300) {
            let (failed, r) = shared_parent_race(true, 300);
            assert_eq!(failed, None);
            raced += r;
            if raced > 0 {
                break;
            }
        }
        assert!(
            raced > 0,
            "the race did not happen: the test showed nothing"
        );
    }

    /// The leak: a cgroup whose list still named a process that had
    /// exited (a zombie, or a pid reaped since) was taken for one shared
    /// with a live process and left behind by a delete that succeeded.
    /// Those are now on their way out (retried), while a live process
    /// (the control: a running `sleep`) and a pid outside our namespace
    /// (0) still count, so the check can fail.
    #[test]
    fn exiting_processes_do_not_count_as_sharers() {
        let mut zombie = spawn("true", "");
        let deadline = Instant::now() + Duration::from_secs(5);
        let zpid = zombie.id() as i32;
        while crate::process::pidstat::start_time(zpid).map(|(_, s)| s) != Some('Z') {
            assert!(Instant::now() < deadline, "`true` did not exit");
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut reaped = spawn("true", "");
        let gone = reaped.id() as i32;
        reaped.wait().unwrap();
        let mut sleeper = spawn("sleep", "100");
        let live = sleeper.id() as i32;

        let exiting = listing(&[zpid, gone]);
        let shared = listing(&[zpid, live]);
        let foreign = listing(&[0]);
        let got = (
            live_process(&exiting).unwrap(),
            live_process(&shared).unwrap(),
            live_process(&foreign).unwrap(),
        );
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        let _ = zombie.wait();
        for d in [&exiting, &shared, &foreign] {
            let _ = std::fs::remove_dir_all(d);
        }
        assert_eq!(got, (None, Some(live), Some(0)));
    }
}

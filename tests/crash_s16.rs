//! The state root on a filesystem that is full or read-only, as on a node
//! whose /run filled up (a runaway log, thousands of dead containers'
//! dirs) or was remounted read-only after an error: until now only
//! faked, one errno at one syscall (tests/faults_s8.rs). Here the
//! filesystem is real (a small tmpfs of the test's own, mounted under its
//! temp dir and unmounted at the end, also on failure), so every write
//! after the first that fails fails too, a write may be cut short mid
//! way, and a container made before the filesystem filled must still be
//! served. Checked (session 16, round 15):
//!
//! - a `create` on a full root (every amount of free space and of free
//!   inodes up to what it needs, and the intent record's appended line
//!   made to cross into a page that is not there) exits 1 naming the path
//!   and "No space left on device", and leaves nothing: no state dir, no
//!   cgroup, no process, no mount; with room the same id is then created;
//! - a container made before the root filled is still read (`state`,
//!   `list`), paused, resumed, exec'd into, updated, signalled and
//!   force-deleted (none of those write to the root), leaving nothing;
//! - on a read-only root `state` and `list` work, `start` fails naming
//!   the path and changes nothing (the container stays `created`),
//!   `delete` fails naming the path once it has stopped the container
//!   (runc's order: the record goes last), and what is left reads
//!   `stopped` and goes once the root is writable.
//!
//! Controls: each check is also run where it must fail (a create given
//! room leaves a container that the "nothing left" check reports; a start
//! on a writable root changes the status the read-only case keeps).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Bundle, Out, T, cgroup_dirs_for, processes_mentioning, sh};
use serde_json::json;

const PAGE: u64 = 4096;

/// A tmpfs of `opts` at `<test dir>/<name>`, unmounted when the test
/// ends (lazily: a failure may leave a cwd or an fd in it). Every
/// container under a root in it is force-deleted first: `T`'s own clean-up
/// only knows its default root.
fn tmpfs(t: &T, name: &str, opts: &str) -> PathBuf {
    let dir = t.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", opts, "outlet-s16"])
        .arg(&dir)
        .status()
        .expect("run mount");
    assert!(st.success(), "mount tmpfs at {}", dir.display());
    let d = dir.clone();
    t.on_cleanup(move || {
        let _ = Command::new("umount").arg("-l").arg(&d).status();
    });
    dir
}

/// `outlet --root ROOT ARGS` with T's files and timeout.
fn at(t: &T, root: &Path, args: &[&str]) -> Out {
    let mut full = vec!["--root", root.to_str().unwrap()];
    full.extend_from_slice(args);
    t.outlet_plain(&full)
}

/// Force-deletes `id` under `root` when the test ends (before the tmpfs
/// goes), whatever state the test left it in.
fn delete_at_end(t: &T, root: &Path, id: &str) {
    let (root, id) = (root.to_path_buf(), id.to_string());
    let bin = Path::new(common::OUTLET).to_path_buf();
    t.on_cleanup_first(move || {
        if root.join(&id).exists() {
            let _ = Command::new(&bin)
                .arg("--root")
                .arg(&root)
                .args(["delete", "--force", &id])
                .status();
        }
    });
}

fn statvfs(p: &Path) -> nix::sys::statvfs::Statvfs {
    nix::sys::statvfs::statvfs(p).unwrap_or_else(|e| panic!("statvfs {}: {e}", p.display()))
}

fn free_bytes(fs: &Path) -> u64 {
    let v = statvfs(fs);
    v.blocks_available() * v.fragment_size()
}

/// Leaves exactly `pages` pages free on the tmpfs at `fs` (one file,
/// `fill`, sized to take the rest).
fn leave_pages(fs: &Path, pages: u64) {
    let fill = fs.join("fill");
    let _ = std::fs::remove_file(&fill);
    let free = free_bytes(fs);
    let take = free
        .checked_sub(pages * PAGE)
        .expect("the tmpfs has that much room");
    std::fs::write(&fill, vec![0u8; take as usize]).unwrap();
    let left = free_bytes(fs);
    assert_eq!(left, pages * PAGE, "free space on {}", fs.display());
}

/// Leaves exactly `n` inodes free on the tmpfs at `fs` (empty files in
/// `inodes/`).
fn leave_inodes(fs: &Path, n: u64) {
    let dir = fs.join("inodes");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let mut i = 0;
    while statvfs(fs).files_available() > n {
        std::fs::write(dir.join(i.to_string()), b"").unwrap();
        i += 1;
    }
}

fn unfill(fs: &Path) {
    let _ = std::fs::remove_file(fs.join("fill"));
    let _ = std::fs::remove_dir_all(fs.join("inodes"));
}

/// What `id` left under `root` and on the host (the test's processes are
/// found by its token in their environment).
fn left_by(t: &T, root: &Path, id: &str) -> Vec<String> {
    let mut l = Vec::new();
    if root.join(id).exists() {
        l.push(format!("state dir {}", root.join(id).display()));
    }
    l.extend(
        cgroup_dirs_for(id)
            .into_iter()
            .filter(|d| d.exists())
            .map(|d| format!("cgroup {}", d.display())),
    );
    l.extend(
        processes_mentioning(&t.token)
            .into_iter()
            .map(|p| format!("process {p}")),
    );
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    l.extend(
        mi.lines()
            .filter(|m| m.contains(id))
            .map(|m| format!("mount {m}")),
    );
    l
}

/// `left_by`, polled for a moment: a killed init may linger as a zombie
/// of PID 1's.
fn settled(t: &T, root: &Path, id: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let l = left_by(t, root, id);
        if l.is_empty() || std::time::Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn sleeper(t: &T, tag: &str) -> Bundle {
    t.bundle(tag, |c| sh(c, "exec sleep 1000"))
}

/// A small tmpfs (256 KiB, 64 inodes) holding a state root, a sleeping
/// container's bundle and id for it, deleted at the test's end.
struct Small {
    fs: PathBuf,
    root: PathBuf,
    b: Bundle,
    id: String,
    bundle: String,
}

fn small_root(t: &T, tag: &str) -> Small {
    let fs = tmpfs(t, "fs", "size=256k,nr_inodes=64,mode=0755");
    let root = fs.join("root");
    let b = sleeper(t, tag);
    let id = t.id(tag);
    delete_at_end(t, &root, &id);
    let bundle = b.dir.to_str().unwrap().to_string();
    Small {
        fs,
        root,
        b,
        id,
        bundle,
    }
}

/// The bytes of intent.json before its appended line (the config and the
/// first record) and the appended line's length, for a container of an
/// id of `id`'s length made from `b` under `root`.
fn intent_sizes(t: &T, root: &Path, b: &Bundle, id: &str) -> (u64, u64) {
    at(
        t,
        root,
        &["create", "--bundle", b.dir.to_str().unwrap(), id],
    )
    .expect_ok("measure");
    let bytes = std::fs::read(root.join(id).join("intent.json")).unwrap();
    at(t, root, &["delete", "--force", id]).expect_ok("measure: delete");
    let text = String::from_utf8(bytes).unwrap();
    let last = text
        .trim_end_matches('\n')
        .rsplit('\n')
        .next()
        .unwrap()
        .len() as u64
        + 1;
    (text.len() as u64 - last, last)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_create_on_a_full_state_root_fails_cleanly_at_every_amount_of_room() {
    let Some(t) = T::new() else { return };
    let Small {
        fs,
        root,
        b,
        id,
        bundle,
    } = small_root(&t, "full");

    // The config padded so that intent.json's first part ends 64 bytes
    // short of a page: the appended record (the init's pid, written after
    // the clone) then needs a page of its own, and a root with exactly
    // the first part's pages free fails that write half done, with the
    // init already made.
    let mut cfg = b.config();
    cfg["annotations"] = json!({"pad": "p"});
    b.write_config(&cfg);
    let (first, last) = intent_sizes(&t, &root, &b, &id);
    assert!(last > 64, "the appended record is longer than the gap");
    let boundary = (first / PAGE + 1) * PAGE;
    cfg["annotations"]["pad"] = json!("p".repeat((1 + boundary - 64 - first) as usize));
    b.write_config(&cfg);
    assert_eq!(intent_sizes(&t, &root, &b, &id).0, boundary - 64);

    let mut failed_at = Vec::new();
    // The kind of room (pages, inodes) a create last succeeded with: more
    // of it must not fail again.
    let mut made = None;
    let create = || at(&t, &root, &["create", "--bundle", &bundle, &id]);
    for (what, pages, inodes) in (0..=boundary / PAGE + 2)
        .map(|p| ("pages", p, None))
        .chain((0..=5).map(|n| ("inodes", 64, Some(n))))
    {
        unfill(&fs);
        match inodes {
            Some(n) => leave_inodes(&fs, n),
            None => leave_pages(&fs, pages),
        }
        let free = inodes.unwrap_or(pages);
        let round = format!("create with {free} {what} free");
        let o = create();
        if o.ok() {
            made = Some(what);
            // The control: a container made is what the check below
            // reports as left.
            let l = left_by(&t, &root, &id);
            assert!(
                l.iter().any(|x| x.starts_with("state dir"))
                    && l.iter().any(|x| x.starts_with("cgroup"))
                    && l.iter().any(|x| x.starts_with("process")),
                "{round}: control: the check does not see the container made: {l:?}"
            );
            assert_eq!(
                t.outlet_plain(&["--root", root.to_str().unwrap(), "state", &id])
                    .json()["status"],
                "created"
            );
            unfill(&fs);
            at(&t, &root, &["delete", "--force", &id]).expect_ok(&round);
        } else {
            assert_ne!(
                made,
                Some(what),
                "{round}: failed with less room needed than a round before: {o:#?}"
            );
            o.expect_fail(&round, "No space left on device");
            assert!(
                o.stderr.contains(root.to_str().unwrap()),
                "{round}: the error names no path under the root: {o:#?}"
            );
            failed_at.push(format!("{what} {free}: {}", o.stderr.trim()));
        }
        let l = settled(&t, &root, &id);
        assert!(l.is_empty(), "{round}: left behind: {l:#?}");
        // The same id, with room, at once.
        unfill(&fs);
        at(&t, &root, &["create", "--bundle", &bundle, &id]).expect_ok(&format!("{round}: again"));
        at(&t, &root, &["delete", "--force", &id]).expect_ok(&format!("{round}: again"));
    }
    eprintln!("failures: {failed_at:#?}");
    // Every write of create's was reached by some round: the first record,
    // the appended one (with the init made), the fifo, the state.
    for want in [
        "create state dir",
        "intent.json",
        "exec.fifo",
        ".state.json",
    ] {
        assert!(
            failed_at.iter().any(|f| f.contains(want)),
            "no round failed at {want}: {failed_at:#?}"
        );
    }
    let appended = format!("pages {}:", boundary / PAGE);
    assert!(
        failed_at
            .iter()
            .any(|f| f.starts_with(&appended) && f.contains("intent.json")),
        "the round with the first part's pages free did not fail at the appended record: \
         {failed_at:#?}"
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_container_is_served_while_its_state_root_is_full() {
    let Some(t) = T::new() else { return };
    let Small {
        fs,
        root,
        b: _bundle_dir,
        id,
        bundle,
    } = small_root(&t, "live");
    at(&t, &root, &["run", "--detach", "--bundle", &bundle, &id]).expect_ok("run -d");
    leave_pages(&fs, 0);
    leave_inodes(&fs, 0);
    let status = || at(&t, &root, &["state", &id]).expect_ok("state").json()["status"].clone();
    assert_eq!(status(), "running");
    at(&t, &root, &["list"]).expect_ok("list");
    at(&t, &root, &["pause", &id]).expect_ok("pause");
    assert_eq!(status(), "paused");
    at(&t, &root, &["resume", &id]).expect_ok("resume");
    assert_eq!(status(), "running");
    at(&t, &root, &["exec", &id, "true"]).expect_ok("exec");
    at(&t, &root, &["exec", "--detach", &id, "sleep", "100"]).expect_ok("exec -d");
    at(&t, &root, &["update", "--pids-limit", "50", &id]).expect_ok("update");
    at(&t, &root, &["kill", &id, "USR1"]).expect_ok("kill");
    at(&t, &root, &["ps", &id]).expect_ok("ps");
    at(&t, &root, &["delete", "--force", &id]).expect_ok("delete --force");
    let l = settled(&t, &root, &id);
    assert!(l.is_empty(), "delete --force on a full root left: {l:#?}");
    at(&t, &root, &["create", "--bundle", &bundle, &id])
        .expect_fail("create on the full root", "No space left on device");
    unfill(&fs);
    at(&t, &root, &["create", "--bundle", &bundle, &id]).expect_ok("create with room");
    at(&t, &root, &["delete", &id]).expect_ok("delete");
    let l = settled(&t, &root, &id);
    assert!(l.is_empty(), "left: {l:#?}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_read_only_state_root_is_read_and_changed_by_nothing() {
    let Some(t) = T::new() else { return };
    let fs = tmpfs(&t, "fs", "size=256k,mode=0755");
    let root = fs.join("root");
    let b = sleeper(&t, "ro");
    let bundle = b.dir.to_str().unwrap().to_string();
    let (made, ctl) = (t.id("ro"), t.id("ro-ctl"));
    for id in [&made, &ctl] {
        delete_at_end(&t, &root, id);
        at(&t, &root, &["create", "--bundle", &bundle, id]).expect_ok("create");
    }
    let status =
        |id: &str| at(&t, &root, &["state", id]).expect_ok("state").json()["status"].clone();
    // The control: on the writable root start changes the status the
    // read-only case must keep.
    at(&t, &root, &["start", &ctl]).expect_ok("control: start");
    assert_eq!(status(&ctl), "running", "control");

    let remount = |how: &str| {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{how}")])
            .arg(&fs)
            .status()
            .unwrap();
        assert!(st.success(), "remount {how}");
    };
    remount("ro");
    t.on_cleanup_first({
        let fs = fs.clone();
        move || {
            let _ = Command::new("mount")
                .args(["-o", "remount,rw"])
                .arg(&fs)
                .status();
        }
    });
    assert!(
        at(&t, &root, &["list"])
            .expect_ok("list")
            .stdout
            .contains(&made)
    );
    assert_eq!(status(&made), "created");
    at(&t, &root, &["start", &made])
        .expect_fail("start on a read-only root", "Read-only file system");
    assert_eq!(
        status(&made),
        "created",
        "a failed start changed the status"
    );
    // delete stops the container before it removes the record (as runc's
    // does): what is left must read true, and go once the root is
    // writable.
    let init = at(&t, &root, &["state", &made]).json()["pid"]
        .as_i64()
        .unwrap() as i32;
    at(&t, &root, &["delete", &made])
        .expect_fail("delete on a read-only root", "Read-only file system");
    assert_eq!(
        status(&made),
        "stopped",
        "after a failed delete, with its init {init} gone"
    );
    assert!(!common::pid_alive(init));
    at(&t, &root, &["create", "--bundle", &bundle, &t.id("ro-new")])
        .expect_fail("create on a read-only root", "Read-only file system");
    at(&t, &root, &["pause", &ctl]).expect_ok("pause");
    at(&t, &root, &["resume", &ctl]).expect_ok("resume");
    at(&t, &root, &["exec", &ctl, "true"]).expect_ok("exec");

    remount("rw");
    at(&t, &root, &["delete", &made]).expect_ok("delete once writable");
    at(&t, &root, &["delete", "--force", &ctl]).expect_ok("delete --force");
    for id in [&made, &ctl] {
        let l = settled(&t, &root, id);
        assert!(l.is_empty(), "left: {l:#?}");
    }
}

/// Every descendant of `pid` now (the init before its execve, exec's
/// helper and its process, a pty relay), children before their own.
fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    for task in tasks.flatten() {
        let kids = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
            out.push(k);
            out.extend(descendants(k));
        }
    }
    out
}

/// A console socket that takes every pty master sent to it and keeps it
/// open until `release` (a closed master hangs the container's session
/// up, which is not what is tested here).
struct Console {
    path: PathBuf,
    masters: std::sync::Arc<std::sync::Mutex<Vec<std::os::fd::OwnedFd>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Console {
    fn new(t: &T) -> Console {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::{AsRawFd, FromRawFd, RawFd};
        let path = t.dir.join("console.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let masters = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m, s) = (masters.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let conn = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        continue;
                    }
                };
                // A sender killed before its message: nothing to take.
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let mut buf = [0u8; 4096];
                let mut iov = [std::io::IoSliceMut::new(&mut buf)];
                let mut space = nix::cmsg_space!([RawFd; 2]);
                let Ok(msg) = recvmsg::<()>(
                    conn.as_raw_fd(),
                    &mut iov,
                    Some(&mut space),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) else {
                    continue;
                };
                for c in msg.cmsgs().into_iter().flatten() {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for fd in fds {
                            // SAFETY: the kernel just installed this fd for us.
                            m.lock()
                                .unwrap()
                                .push(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
                        }
                    }
                }
            }
        });
        Console {
            path,
            masters,
            stop,
        }
    }

    fn release(&self) {
        self.masters.lock().unwrap().clear();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.release();
    }
}

#[derive(Clone, Copy, Debug)]
enum Victim {
    /// The outlet command itself.
    Outlet,
    /// Every process it started, as they are at that instant: the init
    /// before its execve, exec's helper, the exec'd process before its
    /// execve (an OOM kill of those, a `kill` of the wrong pid).
    Children,
    Both,
}

/// One round: `args` (ID replaced) started after `setup`, the victim
/// SIGKILLed `delay` after the spawn; then what a caller checks.
fn kill_round(
    t: &T,
    con: &Console,
    id: &str,
    setup: &dyn Fn(),
    args: &[&str],
    victim: Victim,
    delay: std::time::Duration,
) -> String {
    use std::time::{Duration, Instant};
    setup();
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "ID" { id } else { a })
        .collect();
    let round = format!("{args:?} {victim:?} at {delay:?}");
    let (mut cmd, so, se) = t.command(Path::new(common::OUTLET), &args);
    let mut child = cmd.spawn().expect("spawn outlet");
    std::thread::sleep(delay);
    let pid = child.id() as i32;
    let kids = descendants(pid);
    let kill = |p: i32| {
        // SAFETY: kill(2) of a process this test started (the command or
        // a descendant of it read a moment ago, still unreaped: a child
        // of the command's, or the command itself, unwaited).
        unsafe { libc::kill(p, libc::SIGKILL) };
    };
    if matches!(victim, Victim::Outlet | Victim::Both) {
        kill(pid);
    }
    if matches!(victim, Victim::Children | Victim::Both) {
        kids.iter().copied().for_each(kill);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            kill(pid);
            let _ = child.wait();
            panic!("{round}: the command did not finish within 10 s of the kill");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let o = Out::from_files(status, so, se);
    assert!(
        // 137: a foreground exec whose process was the one killed.
        o.signal.is_some() || matches!(o.code, Some(0 | 1 | 255 | 137)),
        "{round}: {o:#?}"
    );
    let st = t.outlet(&["state", id]);
    let said = if st.ok() {
        st.json()["status"].as_str().unwrap().to_string()
    } else {
        assert_eq!(st.code, Some(1), "{round}: state: {st:#?}");
        assert!(
            st.stderr.contains("does not exist") || st.stderr.contains("being created"),
            "{round}: state: {st:#?}"
        );
        assert_eq!(
            st.stderr.trim().lines().count(),
            1,
            "{round}: state: {st:#?}"
        );
        "absent/creating".to_string()
    };
    assert!(
        [
            "creating",
            "created",
            "running",
            "stopped",
            "absent/creating"
        ]
        .contains(&said.as_str()),
        "{round}: state said {said}"
    );
    t.outlet(&["list"]).expect_ok(&format!("{round}: list"));
    t.outlet(&["delete", "--force", id])
        .expect_ok(&format!("{round}: delete --force"));
    con.release();
    let l = settled(t, &t.root, id);
    assert!(l.is_empty(), "{round}: left behind: {l:#?}");
    format!(
        "{}/{}",
        o.code.map_or("killed".to_string(), |c| c.to_string()),
        said
    )
}

/// A command under test: its name, what makes the container it needs,
/// and its argv (ID for the id).
type Case<'a> = (&'a str, &'a dyn Fn(), Vec<&'a str>);

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn terminal_commands_and_their_children_killed_at_any_instant() {
    use std::time::Instant;
    let Some(t) = T::new() else { return };
    let con = Console::new(&t);
    let sock = con.path.to_str().unwrap().to_string();
    let tty = t.bundle("tty", |c| {
        sh(c, "exec sleep 1000");
        c["process"]["terminal"] = json!(true);
    });
    let plain = sleeper(&t, "plain");
    let (tty_b, plain_b) = (tty.dir.to_str().unwrap(), plain.dir.to_str().unwrap());
    let id = t.id("tty");
    let none = || {};
    let started = || {
        t.outlet(&["run", "--detach", "--bundle", plain_b, &id])
            .expect_ok("setup: run -d");
    };
    let cases: [Case; 4] = [
        (
            "create -t",
            &none,
            vec!["create", "--bundle", tty_b, "--console-socket", &sock, "ID"],
        ),
        (
            "run -d -t",
            &none,
            vec![
                "run",
                "--detach",
                "--bundle",
                tty_b,
                "--console-socket",
                &sock,
                "ID",
            ],
        ),
        (
            "exec -d -t",
            &started,
            vec![
                "exec",
                "--detach",
                "--tty",
                "--console-socket",
                &sock,
                "ID",
                "sleep",
                "100",
            ],
        ),
        ("exec", &started, vec!["exec", "ID", "true"]),
    ];
    let rounds: u32 = std::env::var("CRASH_S16_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    for (name, setup, args) in &cases {
        // The command's own duration here and now: the kills are spread
        // over it, and a little past it.
        setup();
        let args_id: Vec<&str> = args
            .iter()
            .map(|a| if *a == "ID" { id.as_str() } else { a })
            .collect();
        let started_at = Instant::now();
        t.outlet(&args_id)
            .expect_ok(&format!("{name}: a whole run"));
        let whole = started_at.elapsed();
        t.outlet(&["delete", "--force", &id])
            .expect_ok("delete --force");
        con.release();
        let mut seen = std::collections::BTreeMap::new();
        for victim in [Victim::Outlet, Victim::Children, Victim::Both] {
            for i in 0..=rounds {
                let delay = whole * i / rounds;
                let r = kill_round(&t, &con, &id, *setup, args, victim, delay);
                *seen.entry(format!("{victim:?} {r}")).or_insert(0) += 1;
                // The same id at once.
                setup();
                if args[0] != "exec" {
                    t.outlet(&["create", "--bundle", plain_b, &id])
                        .expect_ok("create again");
                }
                t.outlet(&["delete", "--force", &id])
                    .expect_ok("delete again");
            }
        }
        eprintln!("{name} ({whole:?} whole): {seen:?}");
    }
    // The control: a container the rounds' `delete --force` did not
    // remove is what their check (`settled`) reports.
    started();
    let l = left_by(&t, &t.root, &id);
    assert!(
        l.iter().any(|x| x.starts_with("state dir")) && l.iter().any(|x| x.starts_with("process")),
        "control: the checks do not see a container left: {l:?}"
    );
    t.outlet(&["delete", "--force", &id])
        .expect_ok("control: delete");
}

//! The attacker's review of session 8, second round: the caller's paths.
//!
//! 1. `--log` in a sticky directory others can write to (/tmp). outlet
//!    opened the log with O_CREAT|O_APPEND through whatever was at the
//!    name, and this host has fs.protected_symlinks, protected_regular and
//!    protected_fifos all 0: another user who plants `/tmp/x.log` before a
//!    root caller runs `outlet --log /tmp/x.log ...` gets outlet's lines
//!    appended to any file (a symlink to /etc/shadow, or a hard link made
//!    where protected_hardlinks is off), or holds the command forever (a
//!    fifo nobody reads). The probe: a sticky 1777 directory, a victim
//!    file outside it, and at the log's name in turn a symlink to the
//!    victim owned by another uid, a hard link of the victim, and a fifo
//!    owned by another uid; each time `state` of a missing container,
//!    whose error is a log line. Fixed: in such a directory the name is
//!    opened O_NOFOLLOW|O_NONBLOCK and must be a regular file with one
//!    link owned by us or the directory's owner: exit 1 naming `--log`,
//!    the victim untouched, no hang. A fresh log and an existing one of
//!    ours there still work. Control: a debug build's `OUTLET_LOG_FOLLOW=1`
//!    opens as before: the victim gets the error line, and the fifo holds
//!    outlet until the test kills it.
//! 2. `process.user.uid` (or `gid`) 4294967295. To the kernel (uid_t)-1
//!    in setresuid/setresgid means "leave this one unchanged", and the
//!    call succeeds: a config (or `exec --process` file) asking for that
//!    uid ran the container's process as root (`id -u` printed 0), with
//!    whatever capabilities a root process keeps. Fixed: refused at
//!    create/run/exec before anything forks, naming the field (also an
//!    additionalGids entry of -1). Control: a debug build's
//!    `OUTLET_USER_ID_UNCHECKED=1` skips the check: `uid=0 gid=1000` and
//!    `uid=1000 gid=0`.
//! 3. A state root another user can change. Every command trusts what
//!    it reads under `<root>/<id>` (the init's pid, cgroup paths), and
//!    outlet took any existing directory as its root: a `--root
//!    /tmp/outlet` made in advance by another user (or a root of ours
//!    inside a directory of theirs) let that user rename a container's
//!    state away and put their own in its place. Fixed: `create` and
//!    `restore` refuse a root not ours or writable by group/others, or
//!    whose directory is neither ours nor root's or is writable without
//!    the sticky bit; nothing is left. Control: a debug build's
//!    `OUTLET_ROOT_UNCHECKED=1` makes the container there, and the
//!    stranger (`setpriv --reuid 54321 mv`) moves its state dir (or the
//!    directory holding the root) away.
//! 4. The pty slave of a non-root process. The pty is made while the
//!    process is still root, so its slave was root's (0620, gid tty): an
//!    `exec -t --user 1000` process could not reopen its own terminal
//!    (sudo, ssh, script, pinentry do), where runc gives its stdio to the
//!    process's user. Not a hole but a denial the terminal review found.
//!    Fixed: the slave is fchown'd by fd to process.user.uid (gid and mode
//!    stay devpts's): owner 1000, `crw--w----`, reopened. Control: a debug
//!    build's `OUTLET_PTY_ROOT_OWNED=1`: owner 0, the reopen fails.
//! 5. `checkpoint --image-path` in a sticky directory others can write
//!    to. outlet made the image (and work) directory with a recursive
//!    mkdir that follows a planted symlink, and criu (as root) plus
//!    outlet's record wrote through it into the directory of the
//!    stranger's choice; `restore` likewise read images from a directory
//!    the stranger made. Fixed: there, the directory must be a real one
//!    owned by us or the parent's owner (sticky then keeps it ours):
//!    exit 1 naming `--image-path`, the victim directory empty. Control: a
//!    debug build's `OUTLET_CRIU_DIR_UNCHECKED=1`: the record lands in the
//!    victim directory (a stand-in criu that succeeds).
//!
//! Needs root (ignored otherwise) and a debug build (the switches).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{OUTLET, T};

const STRANGER: u32 = 54_321;
const VICTIM: &str = "victim's own bytes\n";

fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (OUTLET_LOG_FOLLOW)");
    }
}

fn shared_dir(t: &T) -> std::path::PathBuf {
    let d = t.dir.join("shared-tmp");
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

fn log_state(t: &T, log: &Path, env: &[(&str, &str)]) -> common::Out {
    let id = t.id("missing");
    let args = [
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        &id,
    ];
    t.call_env(Path::new(OUTLET), &args, &[], env)
}

fn plant(kind: &str, at: &Path, victim: &Path) {
    match kind {
        "symlink" => {
            std::os::unix::fs::symlink(victim, at).unwrap();
            std::os::unix::fs::lchown(at, Some(STRANGER), Some(STRANGER)).unwrap();
        }
        "hardlink" => std::fs::hard_link(victim, at).unwrap(),
        _ => unreachable!(),
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn log_planted_in_sticky_dir_is_not_written_through() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let shared = shared_dir(&t);
    for kind in ["symlink", "hardlink"] {
        let victim = t.dir.join(format!("victim-{kind}"));
        std::fs::write(&victim, VICTIM).unwrap();
        let log = shared.join(format!("{kind}.log"));
        plant(kind, &log, &victim);
        let o = log_state(&t, &log, &[]);
        o.expect_fail(&format!("--log at a planted {kind}"), "--log");
        assert!(o.stderr.contains("sticky"), "{kind}: {o:?}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), VICTIM, "{kind}");
        // Control: opened as before, the victim gets the error line.
        let o = log_state(&t, &log, &[("OUTLET_LOG_FOLLOW", "1")]);
        assert!(!o.ok(), "{o:?}");
        let after = std::fs::read_to_string(&victim).unwrap();
        assert!(
            after.starts_with(VICTIM) && after.contains("\"level\":\"error\""),
            "control {kind}: the victim should have been written: {after:?}"
        );
    }
    // What is ours there still works: a fresh log, then the same again.
    let ours = shared.join("ours.log");
    for n in 1..=2 {
        let o = log_state(&t, &ours, &[]);
        o.expect_fail("state of a missing container", "does not exist");
        let text = std::fs::read_to_string(&ours).unwrap();
        assert_eq!(text.matches("\"level\":\"error\"").count(), n, "{text}");
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn log_fifo_planted_in_sticky_dir_does_not_hang() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let shared = shared_dir(&t);
    let fifo = shared.join("fifo.log");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    std::os::unix::fs::lchown(&fifo, Some(STRANGER), Some(STRANGER)).unwrap();
    let started = Instant::now();
    let o = log_state(&t, &fifo, &[]);
    o.expect_fail("--log at a planted fifo", "--log");
    assert!(o.stderr.contains("fifo"), "{o:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Control: opened as before, outlet waits for a reader.
    let id = t.id("missing");
    let args = ["--log", fifo.to_str().unwrap(), "state", &id];
    let (mut cmd, _, _) = t.command(Path::new(OUTLET), &args);
    let mut child = cmd.env("OUTLET_LOG_FOLLOW", "1").spawn().unwrap();
    // The event, not a pause: outlet asleep in the fifo's open waiting for
    // a reader (the kernel's wait_for_partner). A fixed sleep here passed
    // whenever outlet was merely slow to get as far as the open.
    let wchan = format!("/proc/{}/wchan", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    let held = loop {
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        seen = std::fs::read_to_string(&wchan).unwrap_or_default();
        if seen == "wait_for_partner" {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        held,
        "control: outlet should hang on the fifo (wchan {seen:?})"
    );
}

/// `run` of `id -u; id -g` as `uid`/`gid`, with `env` for outlet.
fn run_ids(t: &T, tag: &str, uid: u32, gid: u32, env: &[(&str, &str)]) -> common::Out {
    let b = t.bundle(tag, |c| {
        common::sh(c, "echo uid=$(id -u) gid=$(id -g)");
        c["process"]["user"]["uid"] = serde_json::json!(uid);
        c["process"]["user"]["gid"] = serde_json::json!(gid);
    });
    let id = t.id(tag);
    let args = ["run", "--bundle", b.dir.to_str().unwrap(), &id];
    t.call_env(Path::new(OUTLET), &args, &[], env)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn user_id_minus_one_is_refused_not_left_root() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let max = u32::MAX;
    let o = run_ids(&t, "uidmax", max, 1000, &[]);
    o.expect_fail("run with uid 4294967295", "process.user.uid");
    let o = run_ids(&t, "gidmax", 1000, max, &[]);
    o.expect_fail("run with gid 4294967295", "process.user.gid");
    // Control: unchecked, setresuid(-1) leaves the process root.
    let unchecked = [("OUTLET_USER_ID_UNCHECKED", "1")];
    let o = run_ids(&t, "uidmax-c", max, 1000, &unchecked);
    o.expect_ok("control uid");
    assert_eq!(o.stdout, "uid=0 gid=1000\n", "control: {o:?}");
    let o = run_ids(&t, "gidmax-c", 1000, max, &unchecked);
    o.expect_ok("control gid");
    assert_eq!(o.stdout, "uid=1000 gid=0\n", "control: {o:?}");
    // exec --process with the same uid is refused too.
    let b = t.bundle("execd", |c| common::sh(c, "sleep 100"));
    let id = t.id("execd");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let mut p = b.config()["process"].clone();
    p["args"] = serde_json::json!(["id", "-u"]);
    p["user"]["uid"] = serde_json::json!(max);
    let pf = t.dir.join("process.json");
    std::fs::write(&pf, p.to_string()).unwrap();
    let o = t.outlet(&["exec", "--process", pf.to_str().unwrap(), &id]);
    o.expect_exec_fail("exec with uid 4294967295", "process.user.uid");
    let o = t.outlet(&["exec", "--user", "4294967295:0", &id, "id", "-u"]);
    o.expect_exec_fail("exec --user 4294967295", "process.user.uid");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("ids");
}

/// `setpriv` as the stranger: what another host user can do.
fn as_stranger(args: &[&str]) -> bool {
    let uid = STRANGER.to_string();
    Command::new("setpriv")
        .args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "--"])
        .args(args)
        .status()
        .unwrap()
        .success()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn state_root_another_user_can_swap_is_refused() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let shared = shared_dir(&t);
    // Made in advance by the stranger: the root itself, and a directory
    // of theirs that holds a root of ours.
    let theirs = shared.join("root-theirs");
    let parent = shared.join("parent-theirs");
    for d in [&theirs, &parent] {
        assert!(as_stranger(&["mkdir", "-m", "0755", d.to_str().unwrap()]));
    }
    let ours_in_theirs = parent.join("root");
    std::fs::create_dir(&ours_in_theirs).unwrap();
    for (tag, root, needle) in [
        ("own", &theirs, "must be ours"),
        ("par", &ours_in_theirs, "rename the root away"),
    ] {
        let b = t.bundle(tag, |c| common::sh(c, "sleep 100"));
        let id = t.id(tag);
        let r = root.to_str().unwrap();
        let args = [
            "--root",
            r,
            "create",
            "--bundle",
            b.dir.to_str().unwrap(),
            &id,
        ];
        let o = t.call_env(Path::new(OUTLET), &args, &[], &[]);
        o.expect_fail(
            &format!("create in a root the stranger can swap ({tag})"),
            needle,
        );
        assert!(!root.join(&id).exists(), "{tag}: the state dir was left");
        // Control: unchecked, the container is made there, and the
        // stranger moves its state away (and could put their own).
        let unchecked = [("OUTLET_ROOT_UNCHECKED", "1")];
        let o = t.call_env(Path::new(OUTLET), &args, &[], &unchecked);
        o.expect_ok(&format!("control create ({tag})"));
        let (from, to) = (root.join(&id), root.join(format!("{id}.moved")));
        let moved = if tag == "own" {
            as_stranger(&["mv", from.to_str().unwrap(), to.to_str().unwrap()])
        } else {
            let away = parent.with_file_name("parent-away");
            let ok = as_stranger(&["mv", parent.to_str().unwrap(), away.to_str().unwrap()]);
            if ok {
                std::fs::rename(&away, &parent).unwrap();
            }
            ok
        };
        // Unchecked too: every command now refuses the stranger's root.
        let del = |id: &str| {
            let args = ["--root", r, "delete", "--force", id];
            t.call_env(Path::new(OUTLET), &args, &[], &unchecked)
        };
        let (o, o2) = (del(&id), del(&format!("{id}.moved")));
        assert!(
            moved,
            "control ({tag}): the stranger could not move the state"
        );
        assert!(o.ok() || o2.ok(), "control cleanup ({tag}): {o:?} {o2:?}");
    }
    t.assert_nothing_left("state roots");
}

/// `exec -t` as uid 1000: who owns the pty slave, and can the process
/// reopen its own terminal (what sudo, ssh and script do).
fn exec_tty_probe(t: &T, id: &str, env: &[(&str, &str)]) -> String {
    let script = "ls -lnL /proc/$$/fd/0; (: <> /proc/$$/fd/0) 2>/dev/null && echo reopened; true";
    let args = ["exec", "-t", "--user", "1000:1000", id, "sh", "-c", script];
    let o = t.call_env(Path::new(OUTLET), &args, &[], env);
    o.expect_ok("exec -t");
    o.stdout.replace('\r', "")
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_tty_slave_belongs_to_the_process_user() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let b = t.bundle("tty", |c| common::sh(c, "sleep 100"));
    let id = t.id("tty");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let out = exec_tty_probe(&t, &id, &[]);
    let owner = out.split_whitespace().nth(2).unwrap_or("");
    assert_eq!(owner, "1000", "{out}");
    assert!(
        out.contains("crw--w----") && out.contains("reopened"),
        "{out}"
    );
    // Control: left root's, the process cannot reopen its terminal.
    let out = exec_tty_probe(&t, &id, &[("OUTLET_PTY_ROOT_OWNED", "1")]);
    let owner = out.split_whitespace().nth(2).unwrap_or("");
    assert_eq!(owner, "0", "control: {out}");
    assert!(!out.contains("reopened"), "control: {out}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("exec tty");
}

/// `checkpoint --pre-dump --image-path IMAGE` of a running container with a
/// stand-in criu that succeeds at everything.
fn pre_dump(t: &T, tag: &str, image: &Path, env: &[(&str, &str)]) -> common::Out {
    let criu = t.dir.join(format!("criu-{tag}"));
    std::fs::write(&criu, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&criu, std::fs::Permissions::from_mode(0o755)).unwrap();
    let b = t.bundle(tag, |c| common::sh(c, "sleep 600"));
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let (c, i) = (criu.to_str().unwrap(), image.to_str().unwrap());
    let args = [
        "--criu",
        c,
        "checkpoint",
        "--pre-dump",
        "--image-path",
        i,
        &id,
    ];
    let o = t.call_env(Path::new(OUTLET), &args, &[], env);
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    o
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn checkpoint_image_path_planted_in_sticky_dir_is_refused() {
    needs_debug_build();
    let Some(t) = T::new() else { return };
    let shared = shared_dir(&t);
    let victim = t.dir.join("victim-dir");
    std::fs::create_dir(&victim).unwrap();
    let image = shared.join("ckpt");
    plant("symlink", &image, &victim);
    let held = || std::fs::read_dir(&victim).unwrap().count();
    let o = pre_dump(&t, "ckpt", &image, &[]);
    o.expect_fail("checkpoint into a planted symlink", "--image-path");
    assert_eq!(held(), 0, "the victim directory was written");
    // Control: unchecked, outlet's record lands in the victim directory.
    let o = pre_dump(&t, "ckpt-c", &image, &[("OUTLET_CRIU_DIR_UNCHECKED", "1")]);
    o.expect_ok("control checkpoint");
    assert_eq!(held(), 1, "control: the record should be in the victim dir");
    // Ours there still works.
    let ours = shared.join("ours");
    pre_dump(&t, "ckpt-ok", &ours, &[]).expect_ok("checkpoint into our own dir");
    t.assert_nothing_left("checkpoint dirs");
}

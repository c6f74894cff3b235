//! checkpoint/restore with each flag runc's callers pass (see
//! tests/criu_support): a terminal container over --console-socket, the
//! shared CRIU flags, --file-locks, every --manage-cgroups-mode, the LSM
//! flags, --page-server; --lazy-pages refused. Needs root.

mod common;
mod criu_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{T, sh};
use criu_support::*;
use serde_json::json;

/// Accepts one connection on `listener` and returns the fd it carries
/// (SCM_RIGHTS), as conmon and the runc shim receive the pty master.
fn receive_master(listener: &std::os::unix::net::UnixListener) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "nobody connected to the console socket"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept on the console socket: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg on the console socket");
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            assert_eq!(fds.len(), 1, "one fd per message");
            // SAFETY: the kernel just installed this fd for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("the console socket message carried no fd")
}

/// Writes `line` to the pty master and reads until `want` shows up (Err:
/// what was read instead within 10 s, or the read error).
fn talk(master: &std::os::fd::OwnedFd, line: &str, want: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut f = std::fs::File::from(master.try_clone().unwrap());
    f.write_all(line.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&f),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let mut got = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        match f.read(&mut buf) {
            Ok(0) => return Err(format!("EOF after {got:?}")),
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(format!("read: {e} after {got:?}")),
        }
        if got.contains(want) {
            return Ok(got);
        }
    }
    Err(format!("no {want:?} within 10 s: {got:?}"))
}

/// A terminal container (process.terminal, the master sent over
/// --console-socket as the shim and conmon take it) comes back on a new
/// pty: restore sends a new master over its --console-socket, and the
/// shell keeps its state (the reply count goes on: a restart would say 1
/// again) and /dev/console is the new pty. The controls: the old master
/// is dead after the checkpoint, and a restore without --console-socket is
/// refused and leaves nothing.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn terminal_container_talks_on_a_new_pty_after_restore() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["process"]["terminal"] = json!(true);
        sh(
            c,
            r#"i=0; while read l; do i=$((i+1)); echo "reply $i $l $(tty)"; done"#,
        );
    });
    let id = t.id("tty");
    let sock = t.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let create = {
        let t_root = t.root.clone();
        let (sock, bdir, id) = (sock.clone(), b.dir.clone(), id.clone());
        std::thread::spawn(move || {
            Command::new(common::OUTLET)
                .args([
                    "--root",
                    t_root.to_str().unwrap(),
                    "create",
                    "--console-socket",
                ])
                .args([
                    sock.as_os_str(),
                    "--bundle".as_ref(),
                    bdir.as_os_str(),
                    id.as_ref(),
                ])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap()
        })
    };
    let master = receive_master(&listener);
    let o = create.join().unwrap();
    assert!(o.status.success(), "create: {o:?}");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    t.outlet(&["start", &id]).expect_ok("start");
    talk(&master, "a\n", "reply 1 a").unwrap();
    let image = t.dir.join("img");
    checkpoint(&t, &id, &image, &[]).expect_ok("checkpoint of a terminal container");
    let dead = talk(&master, "x\n", "reply");
    assert!(
        dead.is_err(),
        "control: the old pty still answers: {dead:?}"
    );
    drop(master);

    let restore_args = |console: Option<&Path>| {
        let mut a = vec!["--criu", criu(), "restore", "-d"];
        if let Some(s) = console {
            a.extend(["--console-socket", s.to_str().unwrap()]);
        }
        a.extend(["--bundle", b.dir.to_str().unwrap(), "--image-path"]);
        a.push(image.to_str().unwrap());
        a.push(&id);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = restore_args(None);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    t.outlet(&args).expect_fail(
        "restore of a terminal without --console-socket",
        "--console-socket",
    );
    t.assert_nothing_left("after a refused terminal restore");

    let sock2 = t.dir.join("console2.sock");
    let listener2 = std::os::unix::net::UnixListener::bind(&sock2).unwrap();
    let args = restore_args(Some(&sock2));
    let restore = {
        let mut full = vec!["--root".to_string(), t.root.to_str().unwrap().to_string()];
        full.extend(args);
        std::thread::spawn(move || {
            Command::new(common::OUTLET)
                .args(&full)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap()
        })
    };
    let master = receive_master(&listener2);
    let o = restore.join().unwrap();
    assert!(o.status.success(), "restore: {o:?}");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    let said = talk(&master, "b\n", "reply 2 b").unwrap_or_else(|e| panic!("after restore: {e}"));
    eprintln!("after restore the shell said: {said:?}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// A criu that records its argv (one line per call) in `log`, then runs
/// the real one: what outlet passed for a flag whose effect this host
/// cannot show is read from there, and the round trip still runs on the
/// real CRIU.
fn recording_criu(t: &T, log: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let w = t.dir.join("criu-rec");
    std::fs::write(
        &w,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            criu()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    w
}

/// The criu call of `verb` (dump, restore, ...) recorded in `log`.
fn criu_call(log: &Path, verb: &str) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(&format!("{verb} ")))
        .unwrap_or_else(|| panic!("no criu {verb} call in {}", log.display()))
        .to_string()
}

/// runc's shared flags that the shim and podman pass, on both directions,
/// reach criu in its spelling, and the round trip with all of them still
/// continues the counter. The control is the same round trip without the
/// flags, whose criu calls lack them.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn shared_flags_reach_criu_and_round_trip() {
    let Some(t) = T::new() else { return };
    let flags = [
        "--tcp-established",
        "--ext-unix-sk",
        "--shell-job",
        "--file-locks",
        "--auto-dedup",
    ];
    for with in [true, false] {
        let b = counter_bundle(&t, if with { "with" } else { "without" }, |_| {});
        let id = t.id(if with { "flags" } else { "plain" });
        run_detached(&t, &id, &b);
        wait_past(&b, 3);
        let log = t.dir.join(format!("argv-{with}"));
        let rec = recording_criu(&t, &log);
        let image = t.dir.join(format!("img-{with}"));
        let extra: Vec<&str> = if with { flags.to_vec() } else { vec![] };
        let mut a = vec![
            "--criu",
            rec.to_str().unwrap(),
            "checkpoint",
            "--image-path",
        ];
        a.push(image.to_str().unwrap());
        a.extend(&extra);
        a.push(&id);
        t.outlet(&a).expect_ok("checkpoint");
        let at_dump = last(&b);
        let mut a = vec!["--criu", rec.to_str().unwrap(), "restore", "-d", "--bundle"];
        a.push(b.dir.to_str().unwrap());
        a.extend(["--image-path", image.to_str().unwrap()]);
        a.extend(&extra);
        a.push(&id);
        t.outlet(&a).expect_ok("restore");
        t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
        wait_past(&b, at_dump + 3);
        continuous(&lines(&b)).unwrap_or_else(|e| panic!("not continued: {e}"));
        for verb in ["dump", "restore"] {
            let call = criu_call(&log, verb);
            for f in flags
                .iter()
                .filter(|f| verb == "dump" || **f != "--auto-dedup")
            {
                let has = call.split(' ').any(|w| w == *f);
                assert_eq!(has, with, "criu {verb} {f}: {call}");
            }
            // The default mode, as runc's.
            assert!(
                call.contains("--manage-cgroups=soft"),
                "criu {verb}: {call}"
            );
        }
        t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    }
}

/// --file-locks: a container holding a flock is refused by CRIU without
/// it (the control: outlet passes CRIU's refusal on and the container
/// keeps running), and with it the lock is taken again on restore (the
/// control: it was gone while the container was dumped).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn file_locks_are_dumped_and_held_after_restore() {
    let Some(t) = T::new() else { return };
    let b = counter_bundle(&t, "b", |c| {
        sh(c, &format!("probe flock /out/lock & {COUNTER}"));
    });
    let id = t.id("lock");
    run_detached(&t, &id, &b);
    wait_past(&b, 3);
    // Found by the file's inode: the holder is probe, not the init.
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(b.out.join("lock")).unwrap());
    let locked = || {
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .any(|l| l.contains("FLOCK") && l.contains(&format!(":{ino} ")))
    };
    assert!(locked(), "control: no flock on /out/lock before the dump");
    let image = t.dir.join("img");
    let o = checkpoint(&t, &id, &image, &[]);
    o.expect_fail(
        "checkpoint of a lock holder without --file-locks",
        "criu failed",
    );
    assert_eq!(
        t.status(&id),
        "running",
        "a refused dump stopped the container"
    );
    let image = t.dir.join("img2");
    checkpoint(&t, &id, &image, &["--file-locks"]).expect_ok("checkpoint --file-locks");
    assert!(!locked(), "control: the lock outlived the dumped container");
    let at_dump = last(&b);
    let o = t.outlet(&[
        "--criu",
        criu(),
        "restore",
        "-d",
        "--file-locks",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--image-path",
        image.to_str().unwrap(),
        &id,
    ]);
    o.expect_ok("restore --file-locks");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    assert!(locked(), "no flock on /out/lock after restore");
    wait_past(&b, at_dump + 3);
    continuous(&lines(&b)).unwrap();
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// Whether /sys/fs/cgroup is cgroup v1 (hybrid or legacy), as on the
/// hosts here: the container then has no cgroup2 directory of its own.
fn cgroup_v1_host() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// Every --manage-cgroups-mode runc takes: the restored init and its child
/// sit in the container's own cgroup with the bundle's memory limit,
/// whatever CRIU does with the dumped cgroups (with ignore, CRIU leaves
/// them in its own: seen outside the container before criu was started
/// inside it). strict is refused on restore, naming why, leaving nothing.
/// On a v1/hybrid host full (and strict) are refused both ways: the
/// container's cgroup2 cgroup is the root there, and CRIU dumped and
/// restored the properties of every other cgroup in it (seen: it wrote
/// another test's cgroup.subtree_control). soft passing on the same host
/// is the control. (limits_hold_after_restore holds the control for the
/// limits: a bundle without limits reads unlimited.)
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn every_cgroups_mode_keeps_the_bundles_limits() {
    let Some(t) = T::new() else { return };
    let modes: &[&str] = if cgroup_v1_host() {
        &["soft", "ignore"]
    } else {
        &["soft", "full", "ignore"]
    };
    for &mode in modes {
        let b = counter_bundle(&t, mode, |c| {
            c["linux"]["resources"]["memory"] = json!({"limit": 64 * 1024 * 1024});
            sh(c, &format!("probe sleep 1000 & {COUNTER}"));
        });
        let id = t.id(mode);
        run_detached(&t, &id, &b);
        wait_past(&b, 3);
        let image = t.dir.join(format!("img-{mode}"));
        checkpoint(&t, &id, &image, &["--manage-cgroups-mode", mode])
            .expect_ok(&format!("checkpoint --manage-cgroups-mode {mode}"));
        let at_dump = last(&b);
        let log = t.dir.join(format!("argv-{mode}"));
        let rec = recording_criu(&t, &log);
        let o = t.outlet(&[
            "--criu",
            rec.to_str().unwrap(),
            "restore",
            "-d",
            "--manage-cgroups-mode",
            mode,
            "--bundle",
            b.dir.to_str().unwrap(),
            "--image-path",
            image.to_str().unwrap(),
            &id,
        ]);
        o.expect_ok(&format!("restore --manage-cgroups-mode {mode}"));
        let call = criu_call(&log, "restore");
        assert!(call.contains(&format!("--manage-cgroups={mode}")), "{call}");
        let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
        t.track_pid(pid);
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let mem = cg
            .lines()
            .find(|l| l.contains(":memory:"))
            .unwrap_or_default();
        assert!(
            mem.contains(&id),
            "{mode}: restored init not in the container's memory cgroup: {cg}"
        );
        let procs = cgroup_file(pid, "memory", "cgroup.procs");
        assert!(
            procs.lines().count() >= 2,
            "{mode}: the init's child is not in the container's cgroup: {procs}"
        );
        assert_eq!(
            cgroup_file(pid, "memory", "memory.limit_in_bytes"),
            "67108864",
            "{mode}"
        );
        wait_past(&b, at_dump + 3);
        continuous(&lines(&b)).unwrap_or_else(|e| panic!("{mode}: not continued: {e}"));
        t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    }
    let b = counter_bundle(&t, "strict", |_| {});
    let id = t.id("strict");
    run_detached(&t, &id, &b);
    if cgroup_v1_host() {
        for mode in ["full", "strict"] {
            checkpoint(
                &t,
                &id,
                &t.dir.join("refused"),
                &["--manage-cgroups-mode", mode],
            )
            .expect_fail(
                &format!("checkpoint --manage-cgroups-mode {mode}"),
                "other containers'",
            );
            assert_eq!(t.status(&id), "running");
        }
        assert!(!t.dir.join("refused").join("inventory.img").exists());
    }
    let image = t.dir.join("img-strict");
    checkpoint(&t, &id, &image, &[]).expect_ok("checkpoint");
    t.assert_nothing_left("after checkpoint");
    let restore_mode = |mode: &str| {
        t.outlet(&[
            "--criu",
            criu(),
            "restore",
            "-d",
            "--manage-cgroups-mode",
            mode,
            "--bundle",
            b.dir.to_str().unwrap(),
            "--image-path",
            image.to_str().unwrap(),
            &id,
        ])
    };
    restore_mode("strict").expect_fail(
        "restore --manage-cgroups-mode strict",
        "strict is not supported",
    );
    t.assert_nothing_left("after a refused strict restore");
    if cgroup_v1_host() {
        restore_mode("full").expect_fail("restore --manage-cgroups-mode full", "other containers'");
        t.assert_nothing_left("after a refused full restore");
    }
}

/// --lsm-profile and --lsm-mount-context (podman's restore) reach criu
/// as given. On a kernel without AppArmor (these hosts) CRIU refuses the
/// profile, and that refusal is what outlet must pass on, leaving
/// nothing; with AppArmor the profile named does not exist, so CRIU fails
/// otherwise. The branch is chosen from the kernel, not from the outcome.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn lsm_flags_reach_criu() {
    let Some(t) = T::new() else { return };
    let b = counter_bundle(&t, "b", |_| {});
    let id = t.id("lsm");
    run_detached(&t, &id, &b);
    wait_past(&b, 3);
    let image = t.dir.join("img");
    checkpoint(&t, &id, &image, &[]).expect_ok("checkpoint");
    let log = t.dir.join("argv");
    let rec = recording_criu(&t, &log);
    let o = t.outlet(&[
        "--criu",
        rec.to_str().unwrap(),
        "restore",
        "-d",
        "--lsm-profile",
        "apparmor:outlet-test",
        "--lsm-mount-context",
        "system_u:object_r:container_file_t:s0",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--image-path",
        image.to_str().unwrap(),
        &id,
    ]);
    let call = criu_call(&log, "restore");
    assert!(
        call.contains("--lsm-profile apparmor:outlet-test"),
        "{call}"
    );
    assert!(
        call.contains("--lsm-mount-context system_u:object_r:container_file_t:s0"),
        "{call}"
    );
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y");
    if apparmor {
        // The profile does not exist: CRIU cannot apply it (unseen here).
        o.expect_fail("restore with a missing AppArmor profile", "criu failed");
        t.assert_nothing_left("after criu refused the LSM profile");
    } else {
        // CRIU's own refusal, passed on; nothing left behind.
        o.expect_fail(
            "restore with an AppArmor profile on a kernel without AppArmor",
            "apparmor not supported by kernel",
        );
        t.assert_nothing_left("after criu refused the LSM profile");
    }
}

/// The total size of CRIU's page images in `dir`.
fn pages_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("pages-"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// --page-server ADDR:PORT: the memory goes to a `criu page-server`
/// listening there (pre-copy migration to another host), the rest of the
/// images to --image-path; with the pages brought beside them, restore
/// continues the counter. The control: the local images hold no pages,
/// the page server's directory holds them all. --lazy-pages and
/// --status-fd (which only serves it) are refused, naming why, with the
/// container untouched and nothing left by a refused restore.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn page_server_takes_the_memory_and_lazy_pages_are_refused() {
    let Some(t) = T::new() else { return };
    let b = counter_bundle(&t, "b", |_| {});
    let id = t.id("ps");
    run_detached(&t, &id, &b);
    wait_past(&b, 3);
    let image = t.dir.join("img");
    checkpoint(
        &t,
        &id,
        &image,
        &["--lazy-pages", "--page-server", "127.0.0.1:1"],
    )
    .expect_fail("checkpoint --lazy-pages", "--lazy-pages is not supported");
    checkpoint(&t, &id, &image, &["--status-fd", "1"]).expect_fail("--status-fd", "--status-fd");
    assert_eq!(t.status(&id), "running");
    let srv = t.dir.join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut server = Command::new(criu())
        .args(["page-server", "--address", "127.0.0.1", "--port", &port])
        .args(["-D", srv.to_str().unwrap(), "-o", "page-server.log"])
        .spawn()
        .unwrap();
    let server_pid = server.id() as i32;
    t.track_pid(server_pid);
    t.on_cleanup(move || {
        let pid = nix::unistd::Pid::from_raw(server_pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
    });
    // Until it listens (read from /proc: a test connection would be the
    // one connection it serves).
    let hex = format!(":{:04X} ", port.parse::<u16>().unwrap());
    let listening = || {
        std::fs::read_to_string("/proc/net/tcp")
            .unwrap()
            .lines()
            .any(|l| l.contains(&hex) && l.split_whitespace().nth(3) == Some("0A"))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listening() {
        assert!(
            Instant::now() < deadline,
            "criu page-server does not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ps = format!("127.0.0.1:{port}");
    checkpoint(&t, &id, &image, &["--page-server", &ps]).expect_ok("checkpoint --page-server");
    let _ = common::wait_timeout(&mut server, Duration::from_secs(30), "criu page-server");
    let at_dump = last(&b);
    let (local, remote) = (pages_size(&image), pages_size(&srv));
    eprintln!("page images: {local} bytes local, {remote} bytes at the page server");
    assert_eq!(local, 0, "the pages were written locally");
    assert!(
        remote > 64 * 1024,
        "control: the page server got no pages ({remote})"
    );
    for e in std::fs::read_dir(&srv).unwrap().flatten() {
        let dst = image.join(e.file_name());
        if !dst.exists() {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
    let restore_lazy = t.outlet(&[
        "--criu",
        criu(),
        "restore",
        "-d",
        "--lazy-pages",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--image-path",
        image.to_str().unwrap(),
        &id,
    ]);
    restore_lazy.expect_fail("restore --lazy-pages", "--lazy-pages is not supported");
    t.assert_nothing_left("after a refused lazy restore");
    restore(&t, &id, &b, &image);
    wait_past(&b, at_dump + 3);
    continuous(&lines(&b)).unwrap_or_else(|e| panic!("not continued: {e}"));
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

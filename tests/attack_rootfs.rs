//! Issue 10 class 3 (the CVE-2025-31133 family), played as the attacker:
//! a spec or an image that makes the container's /dev/null, /dev/console
//! or /dev/ptmx point at a host file, or a sibling that swaps them while
//! the container is made, must never get a host file mounted into the
//! container or used as its console.
//!
//! The host file under attack is a canary the test makes (standing in for
//! /proc/sys/kernel/core_pattern), never the real one; the real
//! core_pattern is only read before and after, and put back if it changed.
//!
//! Each attack has a control: the same redirect, done the way a runtime
//! that trusts paths does it (`mount --bind` by path, in a private mount
//! namespace the test makes with `unshare -m`), must hit the canary and be
//! caught by the same checks, so the checks are shown able to fail.
//!
//! Needs root (skipped otherwise).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Bundle, Out, T, sh};
use serde_json::{Value, json};

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";

/// The attacker's shared host directory (bound at /dev) next to the canary
/// it aims at: `<base>/dev/null -> ../canary/core_pattern`. The link is
/// relative so that it reaches the canary both inside the container (where
/// the canary dir is bound at /canary) and on the host (for the control).
struct Layout {
    dev: PathBuf,
    canary_dir: PathBuf,
    canary: PathBuf,
    content: String,
}

const LINK: &str = "../canary/core_pattern";

fn layout(t: &T, name: &str) -> Layout {
    let base = t.dir.join(name);
    let dev = base.join("dev");
    let canary_dir = base.join("canary");
    std::fs::create_dir_all(dev.join("pts")).unwrap();
    std::fs::create_dir_all(&canary_dir).unwrap();
    let canary = canary_dir.join("core_pattern");
    let content = format!("canary {}\n", t.token);
    std::fs::write(&canary, &content).unwrap();
    std::os::unix::fs::symlink(LINK, dev.join("null")).unwrap();
    Layout {
        dev,
        canary_dir,
        canary,
        content,
    }
}

impl Layout {
    #[track_caller]
    fn assert_canary_untouched(&self, what: &str) {
        let now = std::fs::read_to_string(&self.canary).unwrap();
        assert_eq!(
            now, self.content,
            "{what}: the host canary file was written"
        );
    }
}

/// The spec of the attack: /dev is an rbind of the attacker's directory
/// instead of a tmpfs, and the canary's directory is visible at /canary
/// (as /proc/sys is in every container).
fn attack_spec(c: &mut Value, l: &Layout) {
    let mounts = c["mounts"].as_array_mut().unwrap();
    for m in mounts.iter_mut() {
        if m["destination"] == "/dev" {
            *m = json!({"destination": "/dev", "type": "bind", "source": l.dev,
                        "options": ["rbind", "rw"]});
        }
    }
    mounts.push(
        json!({"destination": "/canary", "type": "bind", "source": l.canary_dir,
                       "options": ["rbind", "rw"]}),
    );
}

/// Lines of a mountinfo whose mounted root is the canary (or anything
/// named core_pattern): a host file mounted somewhere in the container.
fn canary_mounts(mountinfo: &str, canary_dir: &Path) -> Vec<String> {
    let dir = canary_dir.to_string_lossy();
    mountinfo
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let (root, point) = (
                f.get(3).copied().unwrap_or(""),
                f.get(4).copied().unwrap_or(""),
            );
            // The spec's own bind of the canary dir at /canary is expected.
            point != "/canary" && (root.contains("core_pattern") || root.starts_with(dir.as_ref()))
        })
        .map(str::to_string)
        .collect()
}

/// Reads the real core_pattern; `check` later compares and puts it back.
struct CorePattern(Vec<u8>);

impl CorePattern {
    fn read() -> CorePattern {
        CorePattern(std::fs::read(CORE_PATTERN).unwrap())
    }

    #[track_caller]
    fn check(&self) {
        let now = std::fs::read(CORE_PATTERN).unwrap();
        if now != self.0 {
            let _ = std::fs::write(CORE_PATTERN, &self.0);
            panic!(
                "the host's core_pattern changed: {:?} (restored to {:?})",
                String::from_utf8_lossy(&now),
                String::from_utf8_lossy(&self.0)
            );
        }
    }
}

/// Run `script` with `sh` in a private mount namespace (propagation
/// private, so nothing reaches the host's table), output captured.
fn in_private_mountns(script: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("run unshare")
}

/// The control: what a runtime that binds `/dev/null` by path does with
/// this layout. The bind follows the link to the canary; the same checks
/// the attack tests use must see it.
fn by_path_control(t: &T, tag: &str) {
    let l = layout(t, tag);
    let target = t.dir.join(format!("{tag}-target"));
    std::fs::write(&target, b"").unwrap();
    let out = in_private_mountns(&format!(
        "mount --bind {dev}/null {target} && cat /proc/self/mountinfo && \
         echo '|/payload {token}' > {target}; umount {target}",
        dev = l.dev.display(),
        target = target.display(),
        token = t.token
    ));
    let mi = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "control: {out:?}");
    let hits = canary_mounts(&mi, &l.canary_dir);
    assert!(
        !hits.is_empty(),
        "control: a bind by path of <dev>/null should have mounted the canary:\n{mi}"
    );
    let now = std::fs::read_to_string(&l.canary).unwrap();
    assert!(
        now.contains("/payload"),
        "control: the write through the mask should have reached the canary: {now:?}"
    );
    eprintln!("{tag}: control hit the canary as expected: {hits:?}");
}

/// The container's view, written to /out: its mountinfo, what /proc/keys
/// is, and a write to masked files whose masks the attacker hoped to
/// redirect. (Not to /mask/dir/secret: while the racer runs, that path is
/// at times its link to /canary, which the spec made writable; its mask is
/// judged from the mountinfo.)
/// (No `2>/dev/null` in these scripts: the container's own /dev/null is
/// the attacker's link to the canary, which the spec made writable.)
const REPORT: &str = "cat /proc/self/mountinfo > /out/mountinfo; \
     stat -c '%F %t:%T' /proc/keys > /out/keys; \
     for p in /proc/keys /proc/timer_list; do \
       echo \"|/payload $OUTLET_TEST\" > $p 2>>/out/errors; done; true";

/// 1. /dev is a bind of a host directory whose `null` links to a host file
///    (the canary standing in for core_pattern). Masking must not mount it
///    anywhere, /proc/keys must be the null device, writes to masked files
///    must not reach the host, and /proc/sys must still be read-only.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn masks_never_mount_a_symlinked_dev_null() {
    let Some(t) = T::new() else { return };
    let core = CorePattern::read();
    let l = layout(&t, "attack");
    let b = t.bundle("attack", |c| {
        attack_spec(c, &l);
        sh(
            c,
            &format!(
                "{REPORT}; echo x > /proc/sys/kernel/domainname 2>>/out/errors; echo $? > /out/sysrc; \
                 for d in /proc/acpi /sys/firmware; do \
                   test -d $d && ! touch $d/x 2>>/out/errors && echo $d >> /out/ro; done"
            ),
        );
    });
    let id = t.id("attack");
    t.run(&id, &b)
        .expect_ok("run with /dev bound from the attacker's dir");
    let mi = std::fs::read_to_string(b.out.join("mountinfo")).unwrap();
    let hits = canary_mounts(&mi, &l.canary_dir);
    assert!(
        hits.is_empty(),
        "a host file was mounted in the container: {hits:#?}"
    );
    let keys = std::fs::read_to_string(b.out.join("keys")).unwrap();
    assert_eq!(
        keys.trim(),
        "character special file 1:3",
        "/proc/keys is not null"
    );
    let keys_line = mi
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/proc/keys"));
    assert!(
        keys_line.is_some_and(|l| l.split(' ').nth(3) == Some("/null")),
        "/proc/keys is not covered by a null device: {keys_line:?}"
    );
    let sysrc = std::fs::read_to_string(b.out.join("sysrc")).unwrap();
    assert_ne!(sysrc.trim(), "0", "/proc/sys was writable in the container");
    // Masked directories (one tmpfs attached, the others its clones) are
    // read-only, each of them.
    let ro = std::fs::read_to_string(b.out.join("ro")).unwrap_or_default();
    assert_eq!(
        ro.lines().count(),
        2,
        "a masked directory is writable: {ro:?}"
    );
    l.assert_canary_untouched("masks with a symlinked /dev/null");
    // The container did not touch the attacker's link either.
    assert_eq!(
        std::fs::read_link(l.dev.join("null")).unwrap(),
        Path::new(LINK)
    );
    core.check();

    by_path_control(&t, "control");
    core.check();
    t.assert_nothing_left("after the symlinked /dev/null attack");
}

/// A host-side stand-in for a sibling container sharing the attacker's
/// directories: flips `<dev>/null` between a real null device and a link
/// to the canary, and `<rootfs>/mask/dir` between a real directory and a
/// link to /canary, by rename (atomic), until stopped.
fn racer(
    dev: PathBuf,
    mask_parent: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let null = dev.join("null");
        let (tmp_link, tmp_node) = (dev.join(".l"), dev.join(".n"));
        let dir = mask_parent.join("dir");
        let (tmp_dlink, real_dir) = (mask_parent.join(".dl"), mask_parent.join(".real"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), b"secret").unwrap();
        let mut flips = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let _ = std::fs::remove_file(&tmp_link);
            let _ = std::os::unix::fs::symlink(LINK, &tmp_link);
            let _ = std::fs::rename(&tmp_link, &null);
            let _ = std::fs::remove_file(&tmp_node);
            let c = std::ffi::CString::new(tmp_node.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a NUL-terminated path; mknod of a char 1:3 node in
            // the test's own directory.
            unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
            let _ = std::fs::rename(&tmp_node, &null);
            // The masked path's parent: a link to /canary, then the real dir.
            let _ = std::fs::remove_file(&tmp_dlink);
            let _ = std::os::unix::fs::symlink("/canary", &tmp_dlink);
            if dir.is_dir() && !dir.is_symlink() {
                let _ = std::fs::rename(&dir, &real_dir);
            }
            let _ = std::fs::rename(&tmp_dlink, &dir);
            std::thread::yield_now();
            let _ = std::fs::remove_file(&dir);
            let _ = std::fs::rename(&real_dir, &dir);
            flips += 1;
        }
        flips
    })
}

/// 2. The race: while containers are created, a sibling keeps swapping a
///    symlink over the shared /dev/null and over a masked path's parent.
///    50 tries: never a host file mounted or written; each create either
///    succeeds or fails with a clear error. The control runs the same race
///    against a bind by path.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn swapping_dev_null_and_mask_parents_during_create_gives_nothing() {
    let Some(t) = T::new() else { return };
    let core = CorePattern::read();
    let l = layout(&t, "race");
    std::fs::write(l.canary_dir.join("secret"), &l.content).unwrap();
    let b = t.bundle("race", |c| {
        attack_spec(c, &l);
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/mask/dir/secret"));
        sh(c, REPORT);
    });
    let rootfs = b.own_rootfs();
    let mask_parent = rootfs.join("mask");
    std::fs::create_dir_all(mask_parent.join("dir")).unwrap();
    std::fs::write(mask_parent.join("dir/secret"), b"secret").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let racing = racer(l.dev.clone(), mask_parent.clone(), stop.clone());
    let (mut ok, mut failed) = (0, Vec::new());
    for i in 0..50 {
        let _ = std::fs::remove_file(b.out.join("mountinfo"));
        let id = t.id(&format!("race{i}"));
        let o: Out = t.run(&id, &b);
        if o.ok() {
            ok += 1;
            let mi = std::fs::read_to_string(b.out.join("mountinfo")).unwrap();
            let hits = canary_mounts(&mi, &l.canary_dir);
            assert!(
                hits.is_empty(),
                "try {i}: a host file was mounted: {hits:#?}"
            );
        } else {
            assert_eq!(o.code, Some(1), "try {i}: {o:#?}");
            assert!(
                o.stderr.starts_with("outlet: ") && o.stderr.contains('/'),
                "try {i}: the failure does not name what failed: {o:#?}"
            );
            failed.push(o.stderr.trim().to_string());
            assert!(
                !t.state_dir_exists(&id),
                "try {i}: state left after a failed run"
            );
        }
        l.assert_canary_untouched(&format!("try {i}"));
        assert_eq!(
            std::fs::read(l.canary_dir.join("secret")).unwrap(),
            l.content.as_bytes(),
            "try {i}: the masked path's redirect wrote the host file"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let flips = racing.join().unwrap();
    eprintln!(
        "race: {ok} runs succeeded, {} failed ({flips} flips); failures: {failed:?}",
        failed.len()
    );
    assert!(ok > 0, "no run succeeded under the race: {failed:?}");
    core.check();

    // Control: the same race against a by-path bind of <dev>/null, 50 tries.
    let c = layout(&t, "race-control");
    std::fs::remove_file(c.dev.join("null")).unwrap();
    let cparent = t.dir.join("race-control-mask");
    let stop = Arc::new(AtomicBool::new(false));
    let racing = racer(c.dev.clone(), cparent, stop.clone());
    let target = t.dir.join("race-control-target");
    std::fs::write(&target, b"").unwrap();
    // Batches of 50 until the race has been won once (at most 20): on a
    // loaded machine the racer may not flip inside any bind of one batch.
    let mut batches = 0;
    let (out, hits) = loop {
        batches += 1;
        let out = in_private_mountns(&format!(
            "for i in $(seq 50); do mount --bind {dev}/null {target} 2>/dev/null || continue; \
             grep core_pattern /proc/self/mountinfo; umount {target}; done",
            dev = c.dev.display(),
            target = target.display()
        ));
        let hits = canary_mounts(&String::from_utf8_lossy(&out.stdout), &c.canary_dir);
        if !hits.is_empty() || batches == 20 {
            break (out, hits);
        }
    };
    stop.store(true, Ordering::Relaxed);
    racing.join().unwrap();
    eprintln!(
        "race control: {} of {} by-path binds mounted the canary",
        hits.len(),
        batches * 50
    );
    assert!(
        !hits.is_empty(),
        "control: the race never won against a bind by path: {out:?}"
    );
    t.assert_nothing_left("after the /dev/null race");
}

/// A terminal container run in the foreground: `run` relays the pty to
/// its stdio (files here).
fn terminal_bundle(t: &T, name: &str, edit: impl FnOnce(&mut Value)) -> Bundle {
    t.bundle(name, |c| {
        c["process"]["terminal"] = json!(true);
        sh(
            c,
            "stat -c '%F %t' /dev/console; test -t 0 && echo tty-ok; \
             grep ' /dev/console ' /proc/self/mountinfo > /out/console; \
             echo \"|/payload $OUTLET_TEST\" > /dev/console",
        );
        edit(c);
    })
}

/// 3. /dev/console and /dev/ptmx replaced in the image or in a bound /dev:
///    a symlink to a host file, a regular file, a fifo. Each is refused
///    with an error naming it, or replaced so that the console is the
///    container's own pty; the host file is never touched and a terminal
///    container still works.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hostile_console_and_ptmx_are_refused_or_replaced() {
    let Some(t) = T::new() else { return };
    let core = CorePattern::read();

    // a) The image's own /dev (no /dev mount in the spec): console links to
    //    the canary, ptmx is a fifo. Both replaced; the terminal works.
    let l = layout(&t, "image");
    let b = terminal_bundle(&t, "image", |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/dev");
        mounts.push(
            json!({"destination": "/canary", "type": "bind", "source": l.canary_dir,
                           "options": ["rbind", "rw"]}),
        );
    });
    let rootfs = b.own_rootfs();
    let dev = rootfs.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    let _ = std::fs::remove_file(dev.join("console"));
    std::os::unix::fs::symlink("/canary/core_pattern", dev.join("console")).unwrap();
    let _ = std::fs::remove_file(dev.join("ptmx"));
    mkfifo(&dev.join("ptmx"));
    let id = t.id("image");
    let o = t.run(&id, &b);
    o.expect_ok("terminal container with a hostile /dev in its image");
    assert!(o.stdout.contains("tty-ok"), "no terminal inside: {o:#?}");
    assert!(
        o.stdout.contains("character special file 88"),
        "/dev/console is not a pty slave (major 0x88): {o:#?}"
    );
    assert!(
        o.stdout.contains("/payload"),
        "the console did not reach the pty: {o:#?}"
    );
    let console = std::fs::read_to_string(b.out.join("console")).unwrap();
    assert!(
        console.contains(" - devpts "),
        "/dev/console is not a devpts mount: {console}"
    );
    assert!(
        canary_mounts(&console, &l.canary_dir).is_empty(),
        "{console}"
    );
    l.assert_canary_untouched("hostile /dev/console in the image");

    // b) A bound /dev whose ptmx is a link to the canary, a regular file or
    //    a fifo: refused, naming /dev/ptmx; nothing left.
    for (tag, make) in [
        ("ptmx-link", 0),
        ("ptmx-file", 1),
        ("ptmx-fifo", 2),
        ("ptmx-ok", 3),
    ] {
        let l = layout(&t, tag);
        let ptmx = l.dev.join("ptmx");
        match make {
            0 => std::os::unix::fs::symlink(LINK, &ptmx).unwrap(),
            1 => std::fs::write(&ptmx, b"").unwrap(),
            2 => mkfifo(&ptmx),
            _ => std::os::unix::fs::symlink("pts/ptmx", &ptmx).unwrap(),
        }
        // A console outlet may mount on (test 6 covers hostile ones).
        std::fs::write(l.dev.join("console"), b"").unwrap();
        let b = terminal_bundle(&t, tag, |c| attack_spec(c, &l));
        let id = t.id(tag);
        let o = t.run(&id, &b);
        if make == 3 {
            // The control of this case: a sane bound /dev works.
            o.expect_ok("terminal container with a bound /dev and a real ptmx");
            assert!(o.stdout.contains("character special file 88"), "{o:#?}");
        } else {
            o.expect_fail(tag, "/dev/ptmx");
            eprintln!("{tag}: refused: {}", o.stderr.trim());
        }
        l.assert_canary_untouched(tag);
        assert!(!t.state_dir_exists(&id), "{tag}: state left behind");
    }
    core.check();

    // Control: a console mounted by path onto the image's /dev/console
    // lands on the canary.
    let c = layout(&t, "console-control");
    let target = c.dev.join("console");
    std::os::unix::fs::symlink(LINK, &target).unwrap();
    let out = in_private_mountns(&format!(
        "mount --bind /dev/null {} && cat /proc/self/mountinfo",
        target.display()
    ));
    let mi = String::from_utf8_lossy(&out.stdout);
    let on_canary: Vec<&str> = mi
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(c.canary.to_str().unwrap()))
        .collect();
    assert!(
        !on_canary.is_empty(),
        "control: a console bound by path should have covered the canary: {out:?}"
    );
    eprintln!("console control: by path it covered the canary: {on_canary:?}");
    t.assert_nothing_left("after the hostile console and ptmx");
}

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
}

/// 4. In a user namespace device nodes are binds of the host's nodes. A
///    spec device whose host path is a symlink (`/dev/stdout ->
///    /proc/self/fd/1`, which is create's own stdout file) or a node of
///    another number than the spec says is refused, naming the device; a
///    plain one works. Control: a bind of /dev/stdout by path mounts the
///    file behind it.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn userns_device_binds_are_verified() {
    let Some(t) = T::new() else { return };
    let userns = |c: &mut Value, dev: Value| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["devices"] = json!([dev]);
    };
    for (tag, path, minor, want) in [
        (
            "dev-link",
            "/dev/stdout",
            3,
            Err("host device /dev/stdout: is a symlink"),
        ),
        (
            "dev-number",
            "/dev/zero",
            3,
            Err("expected a character device 1:3"),
        ),
        ("dev-ok", "/dev/zero", 5, Ok(())),
    ] {
        let b = t.bundle(tag, |c| {
            userns(
                c,
                json!({"path": path, "type": "c", "major": 1, "minor": minor,
                       "fileMode": 0o666, "uid": 0, "gid": 0}),
            );
            sh(c, &format!("stat -c '%F %t:%T' {path}"));
        });
        b.own_rootfs();
        let id = t.id(tag);
        let o = t.run(&id, &b);
        match want {
            Ok(()) => {
                o.expect_ok(tag);
                assert_eq!(o.stdout.trim(), "character special file 1:5", "{o:#?}");
            }
            Err(needle) => {
                o.expect_fail(tag, needle);
                eprintln!("{tag}: refused: {}", o.stderr.trim());
            }
        }
        assert!(!t.state_dir_exists(&id), "{tag}: state left behind");
    }

    // Control: by path, /dev/stdout is whatever the binding process's fd 1
    // is: here a canary file of ours.
    let canary = t.dir.join("stdout-canary");
    std::fs::write(&canary, b"canary").unwrap();
    let target = t.dir.join("stdout-target");
    std::fs::write(&target, b"").unwrap();
    let out = in_private_mountns(&format!(
        "mount --bind /dev/stdout {target} > {canary} && cat /proc/self/mountinfo >&2",
        target = target.display(),
        canary = canary.display()
    ));
    let mi = String::from_utf8_lossy(&out.stderr);
    assert!(
        mi.lines().any(|l| l.split(' ').nth(3) == canary.to_str()
            || l.split(' ')
                .nth(3)
                .is_some_and(|r| r.ends_with("stdout-canary"))),
        "control: a bind of /dev/stdout by path should have mounted the canary: {out:?}"
    );
    t.assert_nothing_left("after the user namespace devices");
}

/// `outlet` with extra environment, output in files like the harness's.
fn outlet_env(t: &T, env: &[(&str, &str)], args: &[&str]) -> Out {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let so = t.dir.join(format!("env-{n}.stdout"));
    let se = t.dir.join(format!("env-{n}.stderr"));
    let mut child = Command::new(common::OUTLET)
        .arg("--root")
        .arg(&t.root)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&so).unwrap())
        .stderr(std::fs::File::create(&se).unwrap())
        .spawn()
        .expect("spawn outlet");
    let status = common::wait_timeout(
        &mut child,
        std::time::Duration::from_secs(60),
        &format!("outlet {args:?}"),
    );
    Out::from_files(status, so, se)
}

/// 5. Spec mounts led into /proc by the image. The spec's destinations
///    are `/p/sys/net` (a bind of a host directory) and `/q/sys/fs` (a
///    tmpfs), harmless as written; the image makes `/p` and `/q` symlinks
///    to `/proc`. Both must be refused, naming the mount, before anything
///    covers the container's /proc/sys. Control: the same bundle with the
///    resolved check switched off (OUTLET_UNCHECKED_PROC_MOUNTS=1, a debug
///    build's switch) runs, and the container's mountinfo shows the host
///    directory mounted over /proc/sys/net: the attack is real.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn spec_mounts_that_resolve_into_proc_are_refused() {
    let Some(t) = T::new() else { return };
    let host = t.dir.join("hostnet");
    std::fs::create_dir_all(host.join("ipv4")).unwrap();
    let canary = host.join("ipv4/ip_forward");
    std::fs::write(&canary, "canary\n").unwrap();
    let report = "grep -E ' /proc/sys/(net|fs) ' /proc/self/mountinfo > /out/mi; \
                  cat /proc/sys/net/ipv4/ip_forward > /out/fwd; true";
    for (tag, mount) in [
        (
            "bind",
            json!({"destination": "/p/sys/net", "type": "bind", "source": host,
                   "options": ["rbind", "rw"]}),
        ),
        (
            "tmpfs",
            json!({"destination": "/q/sys/fs", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid"]}),
        ),
    ] {
        let b = t.bundle(tag, |c| {
            c["mounts"].as_array_mut().unwrap().push(mount.clone());
            sh(c, report);
        });
        let rootfs = b.own_rootfs();
        std::os::unix::fs::symlink("/proc", rootfs.join("p")).unwrap();
        std::os::unix::fs::symlink("../proc", rootfs.join("q")).unwrap();
        let index = b.config()["mounts"].as_array().unwrap().len() - 1;
        let id = t.id(tag);
        let o = t.run(&id, &b);
        let dest = mount["destination"].as_str().unwrap();
        o.expect_fail(tag, &format!("mounts[{index}] ({dest})"));
        o.expect_fail(tag, "resolves into a procfs");
        eprintln!("{tag}: refused: {}", o.stderr.trim());
        assert!(!t.state_dir_exists(&id), "{tag}: state left behind");
        assert!(!b.out.join("mi").exists(), "{tag}: the container ran");
        assert_eq!(std::fs::read_to_string(&canary).unwrap(), "canary\n");

        // Control: unchecked, the mount lands on the container's /proc.
        if !cfg!(debug_assertions) {
            panic!("the control needs a debug build of outlet (OUTLET_UNCHECKED_PROC_MOUNTS)");
        }
        let id = t.id(&format!("{tag}-control"));
        let bundle = b.dir.to_str().unwrap();
        let o = outlet_env(
            &t,
            &[("OUTLET_UNCHECKED_PROC_MOUNTS", "1")],
            &["run", "--bundle", bundle, &id],
        );
        o.expect_ok(&format!("{tag} control (check switched off)"));
        let mi = std::fs::read_to_string(b.out.join("mi")).unwrap();
        let under = if tag == "bind" {
            " /proc/sys/net "
        } else {
            " /proc/sys/fs "
        };
        assert!(
            mi.contains(under),
            "{tag} control: the mount did not land under /proc: {mi:?}"
        );
        if tag == "bind" {
            let fwd = std::fs::read_to_string(b.out.join("fwd")).unwrap();
            assert_eq!(
                fwd, "canary\n",
                "control: /proc/sys/net is not the host dir"
            );
        }
        eprintln!("{tag} control: landed under /proc: {}", mi.trim());
    }
    t.assert_nothing_left("after the mounts led into /proc");
}

/// 6. A terminal container whose /dev is a bind of a host directory:
///    outlet must never unlink or create anything there. A `console` that
///    is a symlink (to a host canary), a fifo or a socket, or no console
///    at all, is refused naming /dev/console, and the host directory is
///    left exactly as it was; a regular file there is used (the pty is
///    mounted over it; the file is unchanged). The image's own /dev (the
///    rootfs, outlet's to shape, as runc does) and a /dev tmpfs still get
///    a console made. Control: a symlink reached by a by-path bind of
///    <dev>/console lands on the canary (see test 3), and the refused
///    cases are shown able to fail by the image case, where the same
///    symlink is replaced.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn console_in_a_bound_host_dev_is_never_replaced_or_created() {
    let Some(t) = T::new() else { return };
    let listing = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let ft = e.file_type().unwrap();
                format!(
                    "{:?} {:?}",
                    e.file_name(),
                    (ft.is_symlink(), ft.is_file(), ft.is_dir())
                )
            })
            .collect();
        v.sort();
        v
    };
    for tag in ["link", "fifo", "socket", "missing", "file"] {
        let l = layout(&t, &format!("con-{tag}"));
        // A real null in the attacker's dir: only the console is at stake.
        std::fs::remove_file(l.dev.join("null")).unwrap();
        std::os::unix::fs::symlink("pts/ptmx", l.dev.join("ptmx")).unwrap();
        // The spec's mount points below /dev, there already as in a host's
        // /dev (outlet, as runc, makes a missing mount point, which is
        // not the question here).
        for d in ["shm", "mqueue"] {
            std::fs::create_dir_all(l.dev.join(d)).unwrap();
        }
        let console = l.dev.join("console");
        let _sock;
        match tag {
            "link" => std::os::unix::fs::symlink(LINK, &console).unwrap(),
            "fifo" => mkfifo(&console),
            "socket" => _sock = Some(std::os::unix::net::UnixListener::bind(&console).unwrap()),
            "file" => std::fs::write(&console, b"host console file").unwrap(),
            _ => {}
        }
        let before = listing(&l.dev);
        let b = terminal_bundle(&t, &format!("con-{tag}"), |c| {
            attack_spec(c, &l);
        });
        let id = t.id(&format!("con-{tag}"));
        let o = t.run(&id, &b);
        if tag == "file" {
            o.expect_ok("a bound /dev with a regular file as console");
            assert!(o.stdout.contains("character special file 88"), "{o:#?}");
            assert_eq!(std::fs::read(&console).unwrap(), b"host console file");
        } else {
            o.expect_fail(tag, "/dev/console");
            o.expect_fail(tag, "did not make");
            eprintln!("{tag}: refused: {}", o.stderr.trim());
            assert!(!t.state_dir_exists(&id), "{tag}: state left behind");
        }
        assert_eq!(
            listing(&l.dev),
            before,
            "{tag}: outlet changed the host directory bound at /dev"
        );
        if tag == "link" {
            assert_eq!(std::fs::read_link(&console).unwrap(), Path::new(LINK));
        }
        l.assert_canary_untouched(tag);
    }

    // The image's own /dev: the same symlink is replaced (the rootfs is
    // outlet's to shape), which shows the bound cases could have gone that
    // way too.
    let l = layout(&t, "con-image");
    let b = terminal_bundle(&t, "con-image", |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/dev");
    });
    let rootfs = b.own_rootfs();
    let dev = rootfs.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    let _ = std::fs::remove_file(dev.join("console"));
    std::os::unix::fs::symlink(LINK, dev.join("console")).unwrap();
    let id = t.id("con-image");
    t.run(&id, &b)
        .expect_ok("image /dev with a symlinked console");
    assert!(
        !dev.join("console").is_symlink(),
        "control: the image's symlinked console was not replaced"
    );
    l.assert_canary_untouched("image");

    // A /dev tmpfs (the default spec): a console is made there.
    let b = terminal_bundle(&t, "con-tmpfs", |_| {});
    let id = t.id("con-tmpfs");
    let o = t.run(&id, &b);
    o.expect_ok("a terminal container with the default /dev tmpfs");
    assert!(o.stdout.contains("character special file 88"), "{o:#?}");
    t.assert_nothing_left("after the consoles in a bound /dev");
}

/// 7. An image whose `/dev` is a symlink to `/data`, where the spec binds a
///    host directory (a volume): the spec's /dev tmpfs lands under the
///    volume's mount point and the volume covers it, so /dev resolves
///    into the host directory. outlet must make no device node, link or
///    console there (mknod replaces what a name holds): the run is refused
///    naming /dev, and the host directory is unchanged, its `null` still
///    the file it was. Control: the same image without the volume gets
///    its nodes (a char device at /data/null inside), so the listing of
///    the volume would have shown them had outlet made them there.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn dev_through_a_symlink_into_a_volume_gets_no_nodes() {
    let Some(t) = T::new() else { return };
    let vol = t.dir.join("hostvol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("null"), b"precious").unwrap();
    std::os::unix::fs::symlink("elsewhere", vol.join("ptmx")).unwrap();
    let listing = || -> Vec<(String, bool, u64)> {
        let mut v: Vec<_> = std::fs::read_dir(&vol)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = std::fs::symlink_metadata(e.path()).unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    m.file_type().is_file(),
                    m.len(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = listing();
    for (tag, with_volume) in [("volume", true), ("no-volume", false)] {
        let b = t.bundle(tag, |c| {
            if with_volume {
                c["mounts"].as_array_mut().unwrap().push(
                    json!({"destination": "/data", "type": "bind", "source": vol,
                           "options": ["rbind", "rw"]}),
                );
            }
            sh(c, "stat -c '%F %t:%T' /data/null");
        });
        let rootfs = b.own_rootfs();
        std::fs::create_dir_all(rootfs.join("data")).unwrap();
        let dev = rootfs.join("dev");
        if dev.exists() {
            std::fs::remove_dir_all(&dev).unwrap();
        }
        std::os::unix::fs::symlink("/data", &dev).unwrap();
        let id = t.id(tag);
        let o = t.run(&id, &b);
        if with_volume {
            o.expect_fail(tag, "/dev resolves onto a mount outlet did not make");
            eprintln!("{tag}: refused: {}", o.stderr.trim());
            assert!(!t.state_dir_exists(&id), "{tag}: state left behind");
        } else {
            o.expect_ok("the same image without a volume");
            assert_eq!(
                o.stdout.trim(),
                "character special file 1:3",
                "control: /data/null is not the null device: {o:#?}"
            );
        }
        assert_eq!(listing(), before, "{tag}: the volume changed");
        assert_eq!(std::fs::read(vol.join("null")).unwrap(), b"precious");
    }
    t.assert_nothing_left("after /dev through a symlink into a volume");
}

//! Regression tests for the known container escapes, each written so that
//! the bug coming back makes it fail:
//! - CVE-2019-5736 class: the runtime's binary reached through
//!   /proc/PID/exe of an outlet process the container can see;
//! - CVE-2024-21626 class: a host fd or a host cwd reaching the container;
//! - CVE-2021-30465 class: a symlink in the rootfs redirecting a mount;
//! - masked paths undone from inside.
//!
//! Needs root (skipped otherwise).

mod common;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{OUTLET, Out, T, sh};
use serde_json::{Value, json};

const SLEEPER: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

/// A private copy of the outlet binary: the CVE-2019-5736 tests attack it,
/// so a failure cannot break the binary the rest of the suite runs.
fn outlet_copy(t: &T) -> (PathBuf, Vec<u8>) {
    let p = t.dir.join("outlet-copy");
    std::fs::copy(OUTLET, &p).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    (p, bytes)
}

#[track_caller]
fn assert_unchanged(bin: &Path, before: &[u8]) {
    let after = std::fs::read(bin).unwrap();
    assert!(
        after == before,
        "{} was modified from inside the container ({} -> {} bytes)",
        bin.display(),
        before.len(),
        after.len()
    );
}

/// The container's probe hunts /proc/*/exe while `outlet exec` runs again
/// and again: no open for writing may succeed, and nothing but the
/// container's own binaries may be held by O_PATH.
fn hunt_during_exec(t: &T, tag: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let (bin, before) = outlet_copy(t);
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["probe", "hunt-exe", "120", "/out/stop"]);
        edit(c);
    });
    let id = t.id(tag);
    let bs = b.dir.to_str().unwrap();
    let created = t.call(&bin, &["create", "--bundle", bs, &id], &[]);
    created.expect_ok("create with the copied binary");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    t.call(&bin, &["start", &id], &[]).expect_ok("start");
    for i in 0..40 {
        // Short and longer-lived processes, through the copy: each exec has
        // a helper and a child that are outlet until their execve.
        let args: &[&str] = if i % 4 == 0 {
            &["exec", &id, "sleep", "0.3"]
        } else {
            &["exec", &id, "true"]
        };
        t.call(&bin, args, &[]).expect_ok("exec");
    }
    // A detached exec: its process outlives outlet exec.
    t.call(&bin, &["exec", "--detach", &id, "sleep", "1"], &[])
        .expect_ok("exec -d");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(b.out.join("stop"), b"").unwrap();
    t.wait_status(&id, "stopped");
    let text = std::fs::read_to_string(&created.stdout_path).unwrap();
    let r: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("hunter output is not JSON ({e}): {text:?}"));
    eprintln!("{tag}: hunter: {r}");
    assert_unchanged(&bin, &before);
    assert_eq!(r["write_opens"], json!([]), "opened for writing: {r}");
    // The hunter did look: rounds ran and it saw the exec'd processes.
    assert!(r["rounds"].as_u64().unwrap() > 10, "{r}");
    assert!(r["pids_seen"].as_u64().unwrap() >= 10, "{r}");
    t.outlet(&["delete", &id]).expect_ok("delete");
    r
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exe_of_outlet_is_out_of_reach_during_exec() {
    let Some(t) = T::new() else { return };
    // The root stays read-only: the hunter's write attempts on the
    // container's own busybox would otherwise succeed while no process runs
    // it and make the next exec fail with ETXTBSY. The outlet binary is
    // reached through the host's mount, which the container's read-only
    // root does not cover.
    let r = hunt_during_exec(&t, "hunt", |_| {});
    for target in r["held_targets"].as_array().unwrap() {
        let s = target.as_str().unwrap();
        assert!(
            s == "/bin/busybox" || s == "/bin/probe",
            "held an O_PATH fd on {s}, not a container binary: {r}"
        );
    }
    t.assert_nothing_left("after the hunt");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exe_of_the_created_init_is_out_of_reach() {
    let Some(t) = T::new() else { return };
    let (bin, before) = outlet_copy(&t);
    let b = t.bundle("created", |c| sh(c, SLEEPER));
    let id = t.id("created");
    let bs = b.dir.to_str().unwrap();
    t.call(&bin, &["create", "--bundle", bs, &id], &[])
        .expect_ok("create");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    // Until start, pid 1 of the container is a copy of outlet, run from
    // its read-only overlay (a detached mount: the path shows as
    // /outlet-copy) or from a sealed memfd.
    let host_view = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        host_view.file_name() == bin.file_name() || host_view.starts_with("/memfd:outlet"),
        "the created init is not the copied outlet: {}",
        host_view.display()
    );
    let o = t.call(&bin, &["exec", &id, "probe", "openw", "/proc/1/exe"], &[]);
    o.expect_ok("exec probe openw /proc/1/exe");
    let r = o.json();
    assert_eq!(r["direct_write"]["ok"], false, "{r}");
    assert_eq!(r["o_path"]["ok"], false, "{r}");
    assert_eq!(r["target"], Value::Null, "readlink worked: {r}");
    // A shell's way, and reading it (to copy and patch it elsewhere).
    let o = t.call(
        &bin,
        &[
            "exec",
            &id,
            "sh",
            "-c",
            "echo x >> /proc/1/exe; echo append=$?; cat /proc/1/exe > /dev/null; echo read=$?",
        ],
        &[],
    );
    o.expect_ok("exec sh");
    assert!(
        o.stdout.contains("append=1") && o.stdout.contains("read=1"),
        "{o:?}"
    );
    // The hunter as an exec'd process while the init is still outlet.
    let o = t.call(
        &bin,
        &["exec", &id, "probe", "hunt-exe", "1", "/out/none"],
        &[],
    );
    o.expect_ok("exec probe hunt-exe");
    let r = o.json();
    assert_eq!(r["write_opens"], json!([]), "{r}");
    assert!(
        r["held_targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s == "/bin/busybox" || s == "/bin/probe"),
        "{r}"
    );
    assert!(
        r["errors"]["O_PATH: Permission denied (os error 13)"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "the hunter never met the init: {r}"
    );
    // Start: the init execs, outlet is gone; still nothing was written.
    t.call(&bin, &["start", &id], &[]).expect_ok("start");
    t.call(&bin, &["delete", "--force", &id], &[])
        .expect_ok("delete");
    assert_unchanged(&bin, &before);
    t.assert_nothing_left("after delete");
}

/// With CAP_SYS_PTRACE the container passes the kernel's check on a
/// non-dumpable process, so it can hold an O_PATH fd on /proc/1/exe of the
/// created init (a copy of outlet) and reopen it for writing once no outlet
/// process runs the binary any more (ETXTBSY until then). outlet runs
/// from a read-only overlay (or sealed memfd) copy of itself for every
/// container (src/security/protected_exe.rs), so what it holds is that.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exe_of_outlet_is_out_of_reach_even_with_cap_sys_ptrace() {
    let Some(t) = T::new() else { return };
    let (bin, before) = outlet_copy(&t);
    let b = t.bundle("ptrace", |c| {
        sh(c, SLEEPER);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_PTRACE"));
        }
    });
    let id = t.id("ptrace");
    let bs = b.dir.to_str().unwrap();
    t.call(&bin, &["create", "--bundle", bs, &id], &[])
        .expect_ok("create");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    let hunter = t.call(
        &bin,
        &[
            "exec",
            "--detach",
            &id,
            "probe",
            "hunt-exe",
            "30",
            "/out/stop",
        ],
        &[],
    );
    hunter.expect_ok("exec -d the hunter");
    std::thread::sleep(Duration::from_millis(500));
    t.call(&bin, &["start", &id], &[]).expect_ok("start");
    // No outlet process is left: a held fd would now open for writing.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(b.out.join("stop"), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let text = std::fs::read_to_string(&hunter.stdout_path).unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
            break v;
        }
        assert!(Instant::now() < deadline, "no hunter report: {text:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    t.call(&bin, &["delete", "--force", &id], &[])
        .expect_ok("delete");
    assert_unchanged(&bin, &before);
    // What the container can reach is outlet's protected copy (a
    // write-open of a sealed memfd may succeed; its seals refuse every
    // write), never the binary on disk.
    let bin_name = bin.to_str().unwrap();
    let reached_disk: Vec<&Value> = r["write_opens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o.as_str().is_some_and(|s| s.contains(bin_name)))
        .collect();
    assert!(
        reached_disk.is_empty(),
        "opened outlet's binary for writing: {r}"
    );
    let held: Vec<&Value> = r["held_targets"]
        .as_array()
        .map(|v| v.iter().filter(|h| h.as_str() == Some(bin_name)).collect())
        .unwrap_or_default();
    assert!(held.is_empty(), "held outlet's binary: {r}");
    // The hunter did look, and saw the created init (outlet until start).
    assert!(r["rounds"].as_u64().unwrap() > 10, "{r}");
    assert!(r["pids_seen"].as_u64().unwrap() >= 1, "{r}");
    t.assert_nothing_left("after delete");
}

/// The fds in a `probe report`, as numbers.
fn fd_numbers(r: &Value) -> Vec<u32> {
    let mut v: Vec<u32> = r["fds"]
        .as_object()
        .unwrap_or_else(|| panic!("no fds: {r}"))
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    v.sort();
    v
}

/// `ls -l /proc/self/fd` as (fd, target) pairs, without the directory fd
/// ls itself reads /proc/self/fd through.
fn ls_fds(out: &str) -> Vec<(u32, String)> {
    let mut v = Vec::new();
    let mut own_dir = 0;
    for l in out.lines().filter(|l| l.starts_with('l')) {
        let Some((left, target)) = l.split_once(" -> ") else {
            continue;
        };
        let fd: u32 = left.split_whitespace().last().unwrap().parse().unwrap();
        if target.starts_with("/proc/") && target.ends_with("/fd") {
            own_dir += 1;
            continue;
        }
        v.push((fd, target.to_string()));
    }
    assert!(own_dir <= 1, "{out}");
    v
}

/// A host directory fd the caller leaks into outlet (no O_CLOEXEC at fd 7 in
/// the child), like the leaked cgroup fd of CVE-2024-21626.
fn host_dir_fd() -> std::fs::File {
    std::fs::File::open("/sys/fs/cgroup").unwrap()
}

const FD_SCRIPT: &str = "ls -l /proc/self/fd; echo cwd=$(readlink /proc/self/cwd); probe report";

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn no_host_fd_or_cwd_reaches_the_container() {
    let Some(t) = T::new() else { return };
    let leak = host_dir_fd();
    let leaked = [(leak.as_raw_fd(), 7)];
    let b = t.bundle("fds", |c| sh(c, FD_SCRIPT));
    let id = t.id("fds");
    let bs = b.dir.to_str().unwrap();
    let o = t.call(Path::new(OUTLET), &["run", "--bundle", bs, &id], &leaked);
    o.expect_ok("run");
    let fds = ls_fds(&o.stdout);
    assert_eq!(
        fds.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![0, 1, 2],
        "{o:?}"
    );
    assert!(o.stdout.contains("cwd=/\n"), "{o:?}");
    let report: Value = serde_json::from_str(o.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(fd_numbers(&report), vec![0, 1, 2], "{report}");
    assert_eq!(report["cwd"], "/");

    // exec, also with a cwd of its own and a leaked fd of its own.
    let b = t.bundle("execfds", |c| sh(c, SLEEPER));
    let id = t.id("execfds");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    for cwd in [None, Some("/bin")] {
        let mut args = vec!["exec"];
        if let Some(d) = cwd {
            args.extend(["--cwd", d]);
        }
        args.extend([id.as_str(), "sh", "-c", FD_SCRIPT]);
        let o = t.call(Path::new(OUTLET), &args, &leaked);
        o.expect_ok("exec");
        let fds = ls_fds(&o.stdout);
        assert_eq!(
            fds.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![0, 1, 2],
            "{o:?}"
        );
        let want = format!("cwd={}\n", cwd.unwrap_or("/"));
        assert!(o.stdout.contains(&want), "{o:?}");
        let report: Value = serde_json::from_str(o.stdout.lines().last().unwrap()).unwrap();
        assert_eq!(fd_numbers(&report), vec![0, 1, 2], "{report}");
    }
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after run and exec");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn preserve_fds_passes_exactly_the_extra_fd() {
    let Some(t) = T::new() else { return };
    let leak = host_dir_fd();
    let b = t.bundle("pfds", |c| sh(c, FD_SCRIPT));
    let kept = std::fs::File::create(b.out.join("kept")).unwrap();
    // fd 3 is passed on purpose; fd 7 is a leak that must not be.
    let fds = [(kept.as_raw_fd(), 3), (leak.as_raw_fd(), 7)];
    let id = t.id("pfds");
    let bs = b.dir.to_str().unwrap();
    let o = t.call(
        Path::new(OUTLET),
        &["run", "--preserve-fds", "1", "--bundle", bs, &id],
        &fds,
    );
    o.expect_ok("run --preserve-fds 1");
    let got = ls_fds(&o.stdout);
    assert_eq!(
        got.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3],
        "{o:?}"
    );
    assert!(got[3].1.ends_with("/kept"), "fd 3 is not the file: {o:?}");
    let report: Value = serde_json::from_str(o.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(fd_numbers(&report), vec![0, 1, 2, 3], "{report}");

    let b = t.bundle("pfds-exec", |c| sh(c, SLEEPER));
    let id = t.id("pfds-exec");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let o = t.call(
        Path::new(OUTLET),
        &["exec", "--preserve-fds", "1", &id, "sh", "-c", FD_SCRIPT],
        &fds,
    );
    o.expect_ok("exec --preserve-fds 1");
    let got = ls_fds(&o.stdout);
    assert_eq!(
        got.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3],
        "{o:?}"
    );
    assert!(got[3].1.ends_with("/kept"), "fd 3 is not the file: {o:?}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after run and exec");
}

/// Prints the container root's and the top of cwd's `..` chain's device and
/// inode: a cwd outside the root climbs to the host's / instead.
const CWD_SCRIPT: &str = "echo root=$(stat -c %d:%i /) \
     top=$(stat -c %d:%i ../../../../../../../../../../../../../../../../../../../..) \
     cwd=$(readlink /proc/self/cwd)";

fn cwd_escaped(o: &Out) -> Option<String> {
    let line = o.stdout.lines().find(|l| l.starts_with("root="))?;
    let mut it = line.split_whitespace();
    let root = it.next()?.strip_prefix("root=")?;
    let top = it.next()?.strip_prefix("top=")?;
    (root != top).then(|| line.to_string())
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn cwd_through_a_leaked_fd_never_lands_outside() {
    let Some(t) = T::new() else { return };
    let leak = host_dir_fd();
    let leaked = [(leak.as_raw_fd(), 7)];
    // Every fd the runtime (or a careless caller) might hold while it sets
    // the cwd: each either fails the container or leaves the cwd inside.
    let mut outcomes = Vec::new();
    for n in 3..=16 {
        let tag = format!("cwd{n}");
        let b = t.bundle(&tag, |c| {
            sh(c, CWD_SCRIPT);
            c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        });
        let id = t.id(&tag);
        let bs = b.dir.to_str().unwrap();
        let o = t.call(Path::new(OUTLET), &["run", "--bundle", bs, &id], &leaked);
        assert!(
            cwd_escaped(&o).is_none(),
            "cwd /proc/self/fd/{n} escaped: {o:?}"
        );
        outcomes.push(format!(
            "init fd {n}: exit {:?} {}",
            o.code,
            o.stdout.trim()
        ));
    }
    // The same for exec --cwd.
    let b = t.bundle("cwd-exec", |c| sh(c, SLEEPER));
    let id = t.id("cwd-exec");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    for n in 3..=16 {
        let cwd = format!("/proc/self/fd/{n}");
        let o = t.call(
            Path::new(OUTLET),
            &["exec", "--cwd", &cwd, &id, "sh", "-c", CWD_SCRIPT],
            &leaked,
        );
        assert!(cwd_escaped(&o).is_none(), "exec --cwd {cwd} escaped: {o:?}");
        outcomes.push(format!(
            "exec fd {n}: exit {:?} {}",
            o.code,
            o.stdout.trim()
        ));
    }
    eprintln!("{}", outcomes.join("\n"));
    // The check itself works: a cwd of / inside stays at the root.
    let o = t.outlet(&["exec", &id, "sh", "-c", CWD_SCRIPT]);
    o.expect_ok("exec");
    assert!(o.stdout.starts_with("root="), "{o:?}");
    assert!(cwd_escaped(&o).is_none(), "{o:?}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the cwd attempts");
}

/// A host directory outside the rootfs that a malicious image's symlink
/// points at; removed at the end (after a lazy unmount, should a mount
/// have landed there).
fn host_target(t: &T, name: &str) -> PathBuf {
    let p = PathBuf::from(format!("/tmp/{}-{name}", t.token));
    std::fs::create_dir_all(&p).unwrap();
    let q = p.clone();
    t.on_cleanup(move || {
        if let Ok(c) = std::ffi::CString::new(q.to_str().unwrap()) {
            // SAFETY: a valid path; a no-op error when nothing is mounted.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir_all(&q);
    });
    p
}

fn host_mounts_at(p: &Path) -> Vec<String> {
    let s = p.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split_whitespace().nth(4) == Some(s))
        .map(str::to_string)
        .collect()
}

fn dir_entries(p: &Path) -> Vec<String> {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn symlinked_mount_destinations_stay_inside_the_rootfs() {
    let Some(t) = T::new() else { return };
    let tmpfs_target = host_target(&t, "tmpfs-target");
    let bind_target = host_target(&t, "bind-target");
    let tmpfs_name = tmpfs_target
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let bind_name = bind_target
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let source = t.dir.join("bind-source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("from-source"), b"source\n").unwrap();

    let script = "set -e; echo in > /data/marker; echo in > /data2/written; \
                  cat /data2/from-source; stat -f -c %T /data/; \
                  grep -E ' /tmp/[^ ]*-(tmpfs|bind)-target ' /proc/self/mountinfo | cut -d' ' -f5 | sort; \
                  probe sleep 0.5";
    let b = t.bundle("symlinks", |c| {
        sh(c, script);
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs"}));
        m.push(json!({
            "destination": "/data2", "type": "bind", "source": source, "options": ["rbind", "rw"]
        }));
    });
    let rootfs = b.own_rootfs();
    // Absolute links climbing above /: resolved on the host they point at
    // the host targets; resolved inside the rootfs, at its own /tmp.
    std::os::unix::fs::symlink(
        format!("/../../../../../tmp/{tmpfs_name}"),
        rootfs.join("data"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        format!("/../../../../../tmp/{bind_name}"),
        rootfs.join("data2"),
    )
    .unwrap();
    let id = t.id("symlinks");
    let bs = b.dir.to_str().unwrap().to_string();
    let o = t.outlet(&["create", "--bundle", &bs, &id]);
    o.expect_ok("create");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    // While the container holds its mounts, the host sees none of them.
    assert_eq!(host_mounts_at(&tmpfs_target), Vec::<String>::new());
    assert_eq!(host_mounts_at(&bind_target), Vec::<String>::new());
    t.outlet(&["start", &id]).expect_ok("start");
    assert_eq!(host_mounts_at(&tmpfs_target), Vec::<String>::new());
    assert_eq!(host_mounts_at(&bind_target), Vec::<String>::new());
    t.wait_status(&id, "stopped");
    let out = std::fs::read_to_string(&o.stdout_path).unwrap();
    let err = std::fs::read_to_string(&o.stderr_path).unwrap();
    assert_eq!(
        out,
        format!("source\ntmpfs\n/tmp/{bind_name}\n/tmp/{tmpfs_name}\n"),
        "stderr: {err}"
    );
    // Nothing reached the host targets; the mount points were made inside
    // the rootfs; the bind wrote through to its source.
    assert_eq!(dir_entries(&tmpfs_target), Vec::<String>::new());
    assert_eq!(dir_entries(&bind_target), Vec::<String>::new());
    assert!(rootfs.join("tmp").join(&tmpfs_name).is_dir());
    assert!(rootfs.join("tmp").join(&bind_name).is_dir());
    assert!(source.join("written").is_file());
    t.outlet(&["delete", &id]).expect_ok("delete");
    assert_eq!(host_mounts_at(&tmpfs_target), Vec::<String>::new());
    assert_eq!(host_mounts_at(&bind_target), Vec::<String>::new());
    t.assert_nothing_left("after delete");
}

/// The default spec's masked paths that exist on this kernel.
fn masked_here(cfg: &Value) -> Vec<String> {
    cfg["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .filter(|p| Path::new(p).exists())
        .collect()
}

/// For each path: try to unmount the mask (plain and lazy), then report
/// whether it is still a mount and what it shows.
fn unmask_script(paths: &[String]) -> String {
    let mut s = String::new();
    for p in paths {
        s.push_str(&format!(
            "umount {p} 2>/dev/null; echo \"{p} umount=$?\"; \
             umount -l {p} 2>/dev/null; echo \"{p} umount-l=$?\"; \
             if grep -q ' {p} ' /proc/self/mountinfo; then echo \"{p} masked\"; else echo \"{p} unmasked\"; fi; \
             if [ -d {p} ]; then echo \"{p} entries=$(ls -A {p} | wc -l)\"; \
             else echo \"{p} bytes=$(cat {p} 2>/dev/null | wc -c)\"; fi; "
        ));
    }
    s
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn masked_paths_cannot_be_unmasked_without_cap_sys_admin() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("mask", |_| {});
    let paths = masked_here(&b.config());
    assert!(
        paths.iter().any(|p| p == "/sys/firmware") && paths.len() >= 3,
        "too few masked paths exist here to test: {paths:?}"
    );
    let script = unmask_script(&paths);
    let mut cfg = b.config();
    sh(&mut cfg, &script);
    b.write_config(&cfg);
    let o = t.run(&t.id("mask"), &b);
    o.expect_ok("run");
    for p in &paths {
        for want in [
            format!("{p} umount=1"),
            format!("{p} umount-l=1"),
            format!("{p} masked"),
        ] {
            assert!(o.stdout.contains(&format!("{want}\n")), "{want}: {o:?}");
        }
        let empty = if Path::new(p).is_dir() {
            format!("{p} entries=0\n")
        } else {
            format!("{p} bytes=0\n")
        };
        assert!(o.stdout.contains(&empty), "{p} shows content: {o:?}");
    }
    // A new proc or sysfs mount would show the unmasked files: refused too.
    let b = t.bundle("newproc", |c| {
        sh(
            c,
            "mkdir -p /tmp/p && mount -t proc proc /tmp/p; echo proc=$?; \
             mount -t sysfs sysfs /tmp/p; echo sysfs=$?",
        );
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp", "type": "tmpfs", "source": "tmpfs"
        }));
    });
    let o = t.run(&t.id("newproc"), &b);
    o.expect_ok("run");
    assert!(
        o.stdout.contains("proc=1\n") && o.stdout.contains("sysfs=1\n"),
        "{o:?}"
    );

    // Control: with CAP_SYS_ADMIN the same script does unmask (so the
    // checks above can see an unmasked path).
    let b = t.bundle("mask-admin", |c| {
        sh(c, &script);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_ADMIN"));
        }
    });
    let o = t.run(&t.id("mask-admin"), &b);
    o.expect_ok("run with CAP_SYS_ADMIN");
    for p in &paths {
        assert!(o.stdout.contains(&format!("{p} umount=0\n")), "{p}: {o:?}");
    }
    assert!(o.stdout.contains("/sys/firmware entries="), "{o:?}");
    assert!(!o.stdout.contains("/sys/firmware entries=0\n"), "{o:?}");
    t.assert_nothing_left("after run");
}

//! CVE-2019-5736 class, played as the attacker: no process in any container
//! may get a writable handle on outlet's binary (issue 10, class 1).
//!
//! The image ships /bin/victim, a script `#!/proc/self/exe`: when a process
//! that runs outlet's code (the init at `start`, the child of `exec`)
//! execs it, the kernel runs outlet's own file again, inside the container
//! and dumpable. The fixture's `probe hunt-exe ... write` loops over
//! /proc/*/exe, holds an O_PATH fd on everything it can, reopens it for
//! writing through /proc/self/fd once no process runs it, and writes
//! `HUNTER` over its first bytes.
//!
//! The runtime is a private copy of outlet (never target/'s binary, so a
//! working attack damages nothing else), compared byte for byte with the
//! original after each attack. Each attack also runs as a control with the
//! protection switched off (OUTLET_UNPROTECTED_EXE=1, honoured by debug
//! builds only): there it must change the copy, which shows that the
//! attack is real and that the protected run could have failed.
//!
//! Needs root (skipped otherwise).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{OUTLET, Out, T, sh, wait_timeout};
use serde_json::{Value, json};

/// Rounds of each race (the issue asks for at least 50).
const ROUNDS: usize = 50;

const SLEEPER: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

/// The attacked copy of outlet, and how it is run.
struct Runtime {
    bin: PathBuf,
    before: Vec<u8>,
    unprotected: bool,
    /// The read-only bind mount the copy sits on, if any.
    ro_mount: Option<String>,
}

impl Runtime {
    fn new(t: &T, unprotected: bool) -> Runtime {
        let bin = t.dir.join("outlet-copy");
        std::fs::copy(OUTLET, &bin).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let before = std::fs::read(&bin).unwrap();
        Runtime {
            bin,
            before,
            unprotected,
            ro_mount: None,
        }
    }

    /// The copy installed on a read-only bind mount of its directory (made
    /// on the host for this test, removed by the harness's cleanup): outlet
    /// then runs without re-executing itself.
    fn on_read_only_mount(t: &T) -> Runtime {
        let dir = t.dir.join("ro-bin");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("outlet-copy");
        std::fs::copy(OUTLET, &bin).unwrap();
        let before = std::fs::read(&bin).unwrap();
        let d = dir.to_str().unwrap().to_string();
        let run = |args: &[&str]| {
            let st = Command::new(args[0]).args(&args[1..]).status().unwrap();
            assert!(st.success(), "{args:?}");
        };
        run(&["mount", "--bind", &d, &d]);
        // Also unmounted by the harness's cleanup if the test fails first.
        t.on_cleanup({
            let d = d.clone();
            move || {
                let _ = Command::new("umount").arg("-l").arg(&d).status();
            }
        });
        run(&["mount", "-o", "remount,bind,ro", &d]);
        Runtime {
            bin,
            before,
            unprotected: false,
            ro_mount: Some(d),
        }
    }

    /// Unmounts the read-only bind before the leftover check.
    fn release_mount(&self) {
        if let Some(d) = &self.ro_mount {
            let st = Command::new("umount").arg(d).status().unwrap();
            assert!(st.success(), "umount {d}");
        }
    }

    /// `COPY --root <root> ARGS`; None once the copy no longer runs (the
    /// attack has rewritten it).
    fn call(&self, t: &T, args: &[&str]) -> Option<Out> {
        let (mut cmd, so, se) = t.command(&self.bin, args);
        if self.unprotected {
            cmd.env("OUTLET_UNPROTECTED_EXE", "1");
        }
        let mut tries = 0;
        let mut child = loop {
            match cmd.spawn() {
                Ok(c) => break c,
                Err(e) => {
                    // ETXTBSY while the hunter holds it open for its write,
                    // ENOEXEC once written: give the write a moment to land.
                    std::thread::sleep(Duration::from_millis(200));
                    if self.changed() {
                        eprintln!("the copy no longer runs ({e}): it was rewritten");
                        return None;
                    }
                    // Unchanged and busy: another thread of this test binary
                    // forked while the copy was still open for writing (its
                    // child holds that fd until it execs). Not the attack.
                    tries += 1;
                    assert!(
                        e.raw_os_error() == Some(libc::ETXTBSY) && tries < 25,
                        "spawn {}: {e}",
                        self.bin.display()
                    );
                }
            }
        };
        let status = wait_timeout(&mut child, Duration::from_secs(60), &format!("{args:?}"));
        Some(Out::from_files(status, so, se))
    }

    #[track_caller]
    fn ok(&self, t: &T, args: &[&str]) -> Option<Out> {
        let o = self.call(t, args)?;
        if !o.ok() && self.changed() {
            return None;
        }
        o.expect_ok(&format!("{args:?}"));
        Some(o)
    }

    /// Has the copy's content changed? (a cheap look at the first bytes)
    fn changed(&self) -> bool {
        use std::io::Read;
        let mut head = [0u8; 16];
        let mut f = std::fs::File::open(&self.bin).unwrap();
        f.read_exact(&mut head).unwrap();
        head[..] != self.before[..16]
    }

    /// The verdict: byte for byte unchanged when protected; rewritten by
    /// the hunter in the control.
    #[track_caller]
    fn check(&self, report: &Value) {
        let after = std::fs::read(&self.bin).unwrap();
        let writes = report["writes"].as_array().unwrap();
        if self.unprotected {
            assert!(
                after != self.before && after.starts_with(b"HUNTER"),
                "control: the attack did not rewrite the unprotected copy: {report}"
            );
            assert!(!writes.is_empty(), "control: {report}");
        } else {
            assert!(
                after == self.before,
                "{} was modified from inside a container: {report}",
                self.bin.display()
            );
            // Nothing at all opened for writing: not the binary, not a copy.
            assert_eq!(report["write_opens"], json!([]), "{report}");
            assert_eq!(report["writes"], json!([]), "{report}");
        }
    }
}

/// Controls rely on the debug-only switch (OUTLET_UNPROTECTED_EXE): a
/// release test build cannot run them, and says so by failing rather than
/// passing without having attacked anything.
fn control_possible() -> bool {
    if !cfg!(debug_assertions) {
        panic!(
            "cannot run here: the control needs a debug build of outlet (OUTLET_UNPROTECTED_EXE)"
        );
    }
    true
}

/// A bundle whose own rootfs (a copy of the fixture, read-only root)
/// ships /bin/victim = `#!/proc/self/exe`.
fn victim_bundle(t: &T, name: &str, edit: impl FnOnce(&mut Value)) -> common::Bundle {
    let b = t.bundle(name, edit);
    let rootfs = b.own_rootfs();
    let victim = rootfs.join("bin/victim");
    std::fs::write(&victim, b"#!/proc/self/exe\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
    b
}

fn hunter_args() -> Value {
    json!(["probe", "hunt-exe", "300", "/out/stop", "write"])
}

fn add_ptrace(c: &mut Value) {
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_PTRACE"));
    }
}

/// Join the pid namespace of `pid`.
fn share_pid_ns(c: &mut Value, pid: i32) {
    for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "pid" {
            ns["path"] = json!(format!("/proc/{pid}/ns/pid"));
        }
    }
}

/// Creates and starts the hunter's container (its init is the hunter).
fn start_hunter(t: &T, rt: &Runtime, b: &common::Bundle, id: &str) -> (i32, PathBuf) {
    let bs = b.dir.to_str().unwrap();
    let created = rt.ok(t, &["create", "--bundle", bs, id]).unwrap();
    let pid = t.state(id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    rt.ok(t, &["start", id]).unwrap();
    (pid, created.stdout_path)
}

/// Lets the hunter retry its held fds, stops it and reads its report.
fn stop_hunter(t: &T, b: &common::Bundle, id: &str, stdout: &Path) -> Value {
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(b.out.join("stop"), b"").unwrap();
    t.wait_status(id, "stopped");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(stdout).unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
            return v;
        }
        assert!(Instant::now() < deadline, "no hunter report: {text:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Held targets other than the container's own binaries: what the hunter
/// caught of outlet (the protected copy, or the file on the host).
fn caught_outlet(report: &Value) -> Vec<String> {
    report["held_targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| *s != "/bin/busybox" && *s != "/bin/probe")
        .map(str::to_string)
        .collect()
}

/// Removes the containers with target/'s outlet (the copy may no longer
/// run), then checks that nothing is left.
fn clean_up(t: &T, ids: &[String]) {
    for id in ids {
        if t.state_dir_exists(id) {
            t.outlet(&["delete", "--force", id])
                .expect_ok("delete --force");
        }
    }
    t.assert_nothing_left("after the attack");
}

/// Hunts of one attack, each with a fresh hunter container, until one
/// caught outlet. A hunter catches outlet only if one of its scans of
/// /proc lands in the few milliseconds a process runs outlet's file
/// visibly (see each attack): on a loaded machine a hunt's 50 rounds can
/// miss them all (seen once in 30 loaded runs of the whole file), which
/// says nothing about the protection but leaves the race not run.
const HUNTS: usize = 3;

/// Runs `hunt(n)` (one hunter, its rounds; the hunter's report) until a
/// report shows outlet caught, at most HUNTS times; every report must pass
/// `rt.check`. The control's first hunt is enough: it rewrites the copy.
fn hunt_until_caught(rt: &Runtime, mut hunt: impl FnMut(usize) -> Value) -> Value {
    for n in 0..HUNTS {
        let report = hunt(n);
        rt.check(&report);
        if rt.unprotected || !caught_outlet(&report).is_empty() {
            return report;
        }
        eprintln!("hunt {n} caught no outlet process: again, with a new hunter");
    }
    panic!("never caught outlet in {HUNTS} hunts: the race was not run");
}

/// The hunter is the container's init; the host runs
/// `outlet exec ID /bin/victim` again and again.
fn exec_of_a_shebang_script(unprotected: bool) {
    let Some(t) = T::new() else { return };
    let rt = Runtime::new(&t, unprotected);
    shebang_attack(&t, &rt);
}

fn shebang_attack(t: &T, rt: &Runtime) {
    let unprotected = rt.unprotected;
    let mut ids = Vec::new();
    let report = hunt_until_caught(rt, |n| {
        let tag = format!("hunt{n}");
        let b = victim_bundle(t, &tag, |c| c["process"]["args"] = hunter_args());
        let id = t.id(&tag);
        ids.push(id.clone());
        let (_, stdout) = start_hunter(t, rt, &b, &id);
        let mut execs = 0;
        for _ in 0..ROUNDS {
            // The kernel runs the copy as the script's interpreter, which
            // fails on its arguments: the exit status does not matter.
            if rt.call(t, &["exec", &id, "/bin/victim"]).is_none() || rt.changed() {
                break;
            }
            execs += 1;
        }
        let report = stop_hunter(t, &b, &id, &stdout);
        eprintln!("{execs} execs of /bin/victim; hunter: {report}");
        if !unprotected {
            assert_eq!(execs, ROUNDS);
        }
        report
    });
    // The race was really run: the hunter held outlet as the kernel ran it
    // for the script (the protected copy's path).
    if rt.ro_mount.is_some() {
        // No copy was made: the kernel ran the file on the read-only mount.
        let path = rt.bin.to_str().unwrap();
        assert!(
            caught_outlet(&report).iter().any(|p| p == path),
            "outlet did not run from {path}: {report}"
        );
    }
    rt.release_mount();
    clean_up(t, &ids);
}

/// Installed on a read-only mount, outlet skips the copy: the attack
/// still gets nothing (EROFS), and outlet really ran from that mount.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn outlet_on_a_read_only_mount_needs_no_copy() {
    let Some(t) = T::new() else { return };
    let rt = Runtime::on_read_only_mount(&t);
    shebang_attack(&t, &rt);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_of_a_shebang_script_cannot_write_outlet() {
    exec_of_a_shebang_script(false);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_of_a_shebang_script_control_overwrites_unprotected_copy() {
    if control_possible() {
        exec_of_a_shebang_script(true);
    }
}

/// The hunter's container A; sibling containers join A's pid namespace:
/// each sibling's entrypoint is /bin/victim (the attack at `start`), and a
/// long-lived sibling gets `exec /bin/victim` each round.
fn siblings_with_a_shebang_entrypoint(unprotected: bool) {
    let Some(t) = T::new() else { return };
    let rt = Runtime::new(&t, unprotected);
    let mut ids = Vec::new();
    hunt_until_caught(&rt, |n| {
        let tag = |name: &str| format!("{name}{n}");
        let a = t.bundle(&tag("hunter"), |c| c["process"]["args"] = hunter_args());
        let a_id = t.id(&tag("hunter"));
        ids.push(a_id.clone());
        let (a_pid, stdout) = start_hunter(&t, &rt, &a, &a_id);
        let sib = victim_bundle(&t, &tag("sibling"), |c| {
            c["process"]["args"] = json!(["/bin/victim"]);
            share_pid_ns(c, a_pid);
        });
        let long = victim_bundle(&t, &tag("long"), |c| {
            sh(c, SLEEPER);
            share_pid_ns(c, a_pid);
        });
        let long_id = t.id(&tag("long"));
        ids.push(long_id.clone());
        let ls = long.dir.to_str().unwrap();
        rt.ok(&t, &["create", "--bundle", ls, &long_id]).unwrap();
        t.track_pid(t.state(&long_id)["pid"].as_i64().unwrap() as i32);
        rt.ok(&t, &["start", &long_id]).unwrap();
        let bs = sib.dir.to_str().unwrap();
        let mut rounds = 0;
        for i in 0..ROUNDS {
            let id = t.id(&format!("sib{n}-{i}"));
            ids.push(id.clone());
            if rt.ok(&t, &["create", "--bundle", bs, &id]).is_none()
                || rt.ok(&t, &["start", &id]).is_none()
                || rt.call(&t, &["exec", &long_id, "/bin/victim"]).is_none()
            {
                break;
            }
            t.wait_status(&id, "stopped");
            if rt.ok(&t, &["delete", &id]).is_none() || rt.changed() {
                break;
            }
            rounds += 1;
        }
        if !rt.changed() {
            let _ = rt.call(&t, &["delete", "--force", &long_id]);
        }
        let report = stop_hunter(&t, &a, &a_id, &stdout);
        eprintln!("{rounds} rounds; hunter: {report}");
        if !unprotected {
            assert_eq!(rounds, ROUNDS);
        }
        report
    });
    clean_up(&t, &ids);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn sibling_sharing_the_pid_namespace_cannot_write_outlet_at_start_or_exec() {
    siblings_with_a_shebang_entrypoint(false);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn sibling_sharing_the_pid_namespace_control_overwrites_unprotected_copy() {
    if control_possible() {
        siblings_with_a_shebang_entrypoint(true);
    }
}

/// A hunter holding CAP_SYS_PTRACE passes the kernel's check on a
/// non-dumpable process: it reaches /proc/PID/exe of a sibling's created
/// init (outlet until `start`) and of `exec`'s helper and child.
fn ptrace_capable_hunter(unprotected: bool) {
    let Some(t) = T::new() else { return };
    let rt = Runtime::new(&t, unprotected);
    let mut ids = Vec::new();
    hunt_until_caught(&rt, |n| {
        let tag = |name: &str| format!("{name}{n}");
        let a = t.bundle(&tag("hunter"), |c| {
            c["process"]["args"] = hunter_args();
            add_ptrace(c);
        });
        let a_id = t.id(&tag("hunter"));
        ids.push(a_id.clone());
        let (a_pid, stdout) = start_hunter(&t, &rt, &a, &a_id);
        let sib = t.bundle(&tag("sibling"), |c| {
            sh(c, SLEEPER);
            share_pid_ns(c, a_pid);
        });
        let bs = sib.dir.to_str().unwrap();
        let mut rounds = 0;
        for i in 0..ROUNDS {
            let id = t.id(&format!("sib{n}-{i}"));
            ids.push(id.clone());
            let step = rt.ok(&t, &["create", "--bundle", bs, &id]).is_some()
                // The sibling's init sits in "created" while the hunter looks.
                && rt.ok(&t, &["exec", &a_id, "sleep", "0.02"]).is_some()
                && rt.ok(&t, &["start", &id]).is_some()
                && rt.ok(&t, &["delete", "--force", &id]).is_some();
            if !step || rt.changed() {
                break;
            }
            rounds += 1;
        }
        let report = stop_hunter(&t, &a, &a_id, &stdout);
        eprintln!("{rounds} rounds; hunter: {report}");
        if !unprotected {
            assert_eq!(rounds, ROUNDS);
        }
        report
    });
    clean_up(&t, &ids);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ptrace_capable_container_cannot_write_outlet() {
    ptrace_capable_hunter(false);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ptrace_capable_container_control_overwrites_unprotected_copy() {
    if control_possible() {
        ptrace_capable_hunter(true);
    }
}

//! The protected binary's overlay mount (src/security/protected_exe.rs) is
//! no longer dissolved by the last close of its fd: the init attaches it
//! below the old root once the old root's propagation is cut, and the
//! pivot's detach takes it (src/rootfs/pivot.rs). The attacks:
//!
//! 1. A process of the container while it sits in "created" (an `exec`),
//!    and a sibling container sharing its pid namespace, look for the
//!    overlay: in the mount table of every process they can see, in every
//!    mount point of their own table, behind /proc/PID/root and every
//!    /proc/PID/fd. The host checks the init's mount table and its own.
//!    Control: `OUTLET_OVERLAY_IN_ROOT=1` attaches the overlay in the
//!    container's own tree (its /tmp): the exec finds it in its table and
//!    by statfs, and so does the host's view of the init.
//! 2. Propagation: on a host whose mounts are shared (a mount namespace of
//!    the test's own, made rshared like a systemd host's `/`), `create`
//!    adds nothing to the host's table. Control: `OUTLET_OVERLAY_EARLY=1`
//!    attaches it before the init's copy of the tree is made a slave, and
//!    the overlay appears in the test namespace's table at /sys.
//!
//! Needs root (ignored in a build by another user).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{OUTLET, T};
use serde_json::{Value, json};

const OVERLAY_MAGIC: &str = "794c7630";

/// The scan a container process runs, its report into "$1".
const SCAN_SH: &str = r#"exec >"$1"
for p in /proc/[0-9]*; do
  n=${p#/proc/}
  if [ -r $p/mountinfo ]; then sed "s|^|mi $n |" $p/mountinfo; fi
  echo "fs root/$n $(stat -L -f -c %t $p/root 2>/dev/null)"
  for f in $p/fd/*; do echo "fs fd/$n/${f##*/} $(stat -L -f -c %t $f 2>/dev/null)"; done
done
while read -r a b c d mp rest; do
  echo "fs mp:$mp $(stat -f -c %t "$mp" 2>/dev/null)"
done </proc/self/mountinfo
echo scan-done"#;

/// The directory of the outlet binary under test: the overlay's top layer,
/// as its mountinfo line names it (`lowerdir=DIR:/sys`).
fn binary_dir() -> String {
    Path::new(OUTLET)
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Whether a mountinfo line is an overlayfs mount (of any layers).
fn is_overlay(line: &str) -> bool {
    line.split_once(" - ")
        .is_some_and(|(_, r)| r.split_whitespace().next() == Some("overlay"))
}

/// Whether a mountinfo line is the overlay of outlet's binary.
fn is_binary_overlay(line: &str) -> bool {
    is_overlay(line) && line.contains(&format!("lowerdir={}", binary_dir()))
}

fn mountinfo(pid: &str) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/mountinfo: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// What a scan found: (mountinfo lines of an overlay, paths on an
/// overlayfs, pids whose table it read).
struct Found {
    overlay_mounts: Vec<String>,
    overlay_paths: Vec<String>,
    tables: HashSet<String>,
}

fn read_scan(file: &Path) -> Found {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let text = loop {
        let t = std::fs::read_to_string(file).unwrap_or_default();
        if t.contains("scan-done") {
            break t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scan in {file:?}: {t:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut f = Found {
        overlay_mounts: Vec::new(),
        overlay_paths: Vec::new(),
        tables: HashSet::new(),
    };
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("mi ") {
            let (pid, line) = rest.split_once(' ').unwrap();
            f.tables.insert(pid.to_string());
            if is_overlay(line) {
                f.overlay_mounts.push(rest.to_string());
            }
        } else if let Some(rest) = l.strip_prefix("fs ")
            && rest.ends_with(OVERLAY_MAGIC)
        {
            f.overlay_paths.push(rest.to_string());
        }
    }
    f
}

fn scan_args(out: &str) -> Value {
    json!(["sh", "-c", SCAN_SH, "scan", out])
}

/// The container A (created, not started) is looked at by an exec in it,
/// by a sibling sharing its pid namespace and by the host. Returns what
/// the exec and the sibling found and the host's view of A's table.
fn look_at_created(t: &T, env: &[(&str, &str)]) -> (Found, Found, Vec<String>) {
    let a = t.bundle("a", |c| c["process"]["args"] = json!(["true"]));
    let id = t.id("a");
    let bs = a.dir.to_str().unwrap().to_string();
    t.call_env(
        Path::new(OUTLET),
        &["create", "--bundle", &bs, &id],
        &[],
        env,
    )
    .expect_ok("create A");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    let host_view = mountinfo(&pid.to_string());

    let _ = std::fs::remove_file(a.out.join("exec"));
    let mut exec = vec!["exec", &id];
    let args = scan_args("/out/exec");
    let args: Vec<&str> = args
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    exec.extend(args);
    t.outlet(&exec).expect_ok("exec the scan in A (created)");
    let by_exec = read_scan(&a.out.join("exec"));

    let b = t.bundle("b", |c| {
        c["process"]["args"] = scan_args("/out/sibling");
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = json!(format!("/proc/{pid}/ns/pid"));
            }
        }
    });
    let bid = t.id("b");
    t.run(&bid, &b)
        .expect_ok("run the sibling B in A's pid namespace");
    let by_sibling = read_scan(&b.out.join("sibling"));
    assert_eq!(t.status(&id), "created", "A left the created state");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete A");
    (by_exec, by_sibling, host_view)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn the_binarys_overlay_is_out_of_reach_of_the_created_container() {
    let Some(t) = T::new() else { return };
    let before: HashSet<String> = mountinfo("self").into_iter().collect();
    let (by_exec, by_sibling, host_view) = look_at_created(&t, &[]);
    let after = mountinfo("self");
    let leaked: Vec<_> = after
        .iter()
        .filter(|l| !before.contains(*l) && is_binary_overlay(l))
        .collect();
    assert!(leaked.is_empty(), "in the host's table: {leaked:?}");
    let in_init: Vec<_> = host_view.iter().filter(|l| is_overlay(l)).collect();
    assert!(
        in_init.is_empty(),
        "in the created init's table: {in_init:?}"
    );
    for (who, f) in [("the exec", &by_exec), ("the sibling", &by_sibling)] {
        assert!(
            f.tables.contains("1"),
            "{who} read no table of the init (pid 1): {:?}",
            f.tables
        );
        assert!(f.overlay_mounts.is_empty(), "{who}: {:?}", f.overlay_mounts);
        assert!(f.overlay_paths.is_empty(), "{who}: {:?}", f.overlay_paths);
    }
    t.assert_nothing_left("after the containers");
}

/// Control: attached in the container's own tree, the overlay is found.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_an_overlay_in_the_containers_tree_is_found() {
    let Some(t) = T::new() else { return };
    let env = [("OUTLET_OVERLAY_IN_ROOT", "1")];
    let (by_exec, by_sibling, host_view) = look_at_created(&t, &env);
    // The sibling reads the init's table (its /proc/1/mountinfo), though
    // /proc/1/root stays closed to it (the init is not dumpable).
    assert!(
        by_sibling
            .overlay_mounts
            .iter()
            .any(|l| is_binary_overlay(l)),
        "control: the sibling's scan found no overlay mount"
    );
    assert!(
        host_view.iter().any(|l| is_binary_overlay(l)),
        "control: the host's view of the init shows no overlay: {host_view:?}"
    );
    assert!(
        by_exec.overlay_mounts.iter().any(|l| is_binary_overlay(l)),
        "control: the exec's scan found no overlay mount"
    );
    assert!(
        by_exec
            .overlay_paths
            .iter()
            .any(|p| p.starts_with("mp:/tmp ")),
        "control: the exec did not reach /tmp's overlay: {:?}",
        by_exec.overlay_paths
    );
    t.assert_nothing_left("after the control");
}

/// `create` inside a mount namespace of the test's own whose mounts are
/// all shared (peer groups of its own, none with the real host's), with
/// `env`; returns the lines of that namespace's table that were not there
/// before the create.
fn new_in_shared_tree(t: &T, tag: &str, env: &[(&str, &str)]) -> Vec<String> {
    let b = t.bundle(tag, |c| {
        c["process"]["args"] = json!(["true"]);
        // The early control's overlay covers /sys; the cgroup mount is
        // bound from there.
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "cgroup");
    });
    let id = t.id(tag);
    let dir: PathBuf = t.dir.join(format!("{tag}-tables"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = r#"set -e
mount --make-rshared /
cat /proc/self/mountinfo >"$1/before"
"$2" --root "$3" create --bundle "$4" "$5"
cat /proc/self/mountinfo >"$1/after""#;
    let st = Command::new("unshare")
        .args([
            "-m",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&dir)
        .arg(OUTLET)
        .arg(&t.root)
        .arg(&b.dir)
        .arg(&id)
        .envs(env.iter().copied())
        .status()
        .expect("run unshare");
    let pid = t.state(&id)["pid"].as_i64().unwrap() as i32;
    t.track_pid(pid);
    assert!(st.success(), "create in the shared tree: {st}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    let before: HashSet<String> = std::fs::read_to_string(dir.join("before"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let shared = before.iter().filter(|l| l.contains(" shared:")).count();
    assert!(shared > 3, "the test namespace is not shared: {before:?}");
    std::fs::read_to_string(dir.join("after"))
        .unwrap()
        .lines()
        .filter(|l| !before.contains(*l))
        .map(str::to_string)
        .collect()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn nothing_of_the_overlay_propagates_to_a_shared_host_tree() {
    let Some(t) = T::new() else { return };
    let host_before: HashSet<String> = mountinfo("self").into_iter().collect();
    let new = new_in_shared_tree(&t, "attack", &[]);
    assert!(new.is_empty(), "create added to the host's table: {new:?}");
    // Control: attached before the propagation is cut, it propagates.
    let new = new_in_shared_tree(&t, "control", &[("OUTLET_OVERLAY_EARLY", "1")]);
    assert!(
        new.iter()
            .any(|l| is_binary_overlay(l) && l.contains(" /sys ")),
        "control: no overlay propagated to /sys: {new:?}"
    );
    let leaked: Vec<_> = mountinfo("self")
        .into_iter()
        .filter(|l| !host_before.contains(l) && is_binary_overlay(l))
        .collect();
    assert!(leaked.is_empty(), "in the real host's table: {leaked:?}");
    t.assert_nothing_left("after the containers");
}

/// The strace log of `outlet run` of `b` (`-f`, move_mount and umount2
/// only), with `extra` flags before --bundle.
fn traced_run(t: &T, b: &common::Bundle, id: &str, extra: &[&str]) -> String {
    let log = t.dir.join(format!("{id}.strace"));
    let mut args = vec!["--root", t.root.to_str().unwrap(), "run"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--bundle", b.dir.to_str().unwrap(), id]);
    let st = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=move_mount,umount2", "-o"])
        .arg(&log)
        .arg(OUTLET)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run strace (scripts/install-deps.sh installs it)");
    assert!(st.success(), "strace outlet run {extra:?}: {st}");
    std::fs::read_to_string(&log).unwrap()
}

/// The init's own calls in the log, in order: those of the pid that made
/// the attach (or, without one, the pid that detached a root).
fn attach_then_detach(log: &str) -> (bool, bool) {
    // strace pads the result to a column: one space between words.
    let lines: Vec<String> = log
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let detach = |l: &String| l.contains(r#"umount2(".", MNT_DETACH) = 0"#);
    let attach = lines
        .iter()
        .position(|l| l.contains(r#""sys", MOVE_MOUNT_F_EMPTY_PATH) = 0"#));
    let Some(at) = attach else {
        return (false, lines.iter().any(detach));
    };
    let pid = lines[at].split(' ').next().unwrap();
    let next = lines[at + 1..]
        .iter()
        .find(|l| l.split(' ').next() == Some(pid));
    (true, next.is_some_and(detach))
}

/// The attach itself, so that the grace period does not come back
/// unnoticed through the fallback (a failed attach closes the fd as
/// before): the init's move_mount onto the old root's `sys` succeeds, and
/// its next mount call is the old root's detach; also with a user
/// namespace. Control: with --no-pivot there is no attach (and no detach
/// of an old root), which the same parse reports.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn the_init_attaches_the_overlay_right_before_the_detach() {
    let Some(t) = T::new() else { return };
    let plain = t.bundle("plain", |c| c["process"]["args"] = json!(["true"]));
    let userns = t.bundle("userns", |c| {
        c["process"]["args"] = json!(["true"]);
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "cgroup");
    });
    for (tag, b) in [("plain", &plain), ("userns", &userns)] {
        let log = traced_run(&t, b, &t.id(tag), &[]);
        assert_eq!(attach_then_detach(&log), (true, true), "{tag}: {log}");
    }
    let log = traced_run(&t, &plain, &t.id("nopivot"), &["--no-pivot"]);
    assert_eq!(
        attach_then_detach(&log),
        (false, false),
        "control (--no-pivot): {log}"
    );
    t.assert_nothing_left("after the runs");
}

//! The systemd cgroup driver as rootless podman runs it: uid 0 inside a
//! user namespace whose uid 0 is an ordinary host user. The driver must
//! take that user's session bus (not the system bus, which is what uid 0
//! would suggest) and authenticate there by the kernel's credentials.
//! This host has no systemd, so the bus is a real dbus-daemon run as the
//! test user: it answers that org.freedesktop.systemd1 is unknown, which
//! it says only after the connection was accepted, the SASL exchange
//! passed and Hello was answered. The podman run itself is in the node
//! suite (tests/node/suite.sh, t_rootless_podman). Needs root (to make
//! the user); skipped otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::T;

/// One account per test: the tests run in parallel, and the first to end
/// removes the account it made.
const USER_CREATE: &str = "outlet-ubus-create";
const USER_SASL: &str = "outlet-ubus-sasl";

/// The test's dbus-daemons, killed when it goes out of scope: declared
/// after the `T`, it drops first, so the daemons are gone before the
/// guard removes the user they run as and looks for leftovers.
struct Daemons(Vec<std::process::Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A dbus-daemon listening on `<dir>/bus`, run as `owner` (host root when
/// None), kept in `daemons`.
fn bus_daemon(t: &T, daemons: &mut Daemons, dir: &Path, owner: Option<(u32, u32)>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let sock = dir.join("bus");
    let conf = dir.join("bus.conf");
    // No service directories: nothing is activated, so systemd1 is
    // "unknown" at once.
    std::fs::write(
        &conf,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            sock.display()
        ),
    )
    .unwrap();
    let mut cmd = match owner {
        Some((uid, gid)) => {
            common::chown_r(dir, uid, gid);
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={gid}"),
                "--clear-groups",
                "--",
                "dbus-daemon",
            ]);
            c
        }
        None => Command::new("dbus-daemon"),
    };
    let child = cmd
        .arg(format!("--config-file={}", conf.display()))
        .args(["--nofork", "--nopidfile"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("daemon.err")).unwrap())
        .spawn()
        .expect("dbus-daemon (package dbus-daemon)");
    t.track_pid(child.id() as i32);
    daemons.0.push(child);
    let start = Instant::now();
    while !sock.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "dbus-daemon made no socket {}: {}",
            sock.display(),
            std::fs::read_to_string(dir.join("daemon.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sock
}

/// `PROG ARGS` as the host user (uid, gid), as uid 0 of a new user
/// namespace that maps 0 to that user (and a mount namespace it owns, as
/// podman's pause process holds), with only `env` in the environment.
fn in_userns(user: (u32, u32), env: &[(&str, &str)], prog: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args([
        "60",
        "setpriv",
        &format!("--reuid={}", user.0),
        &format!("--regid={}", user.1),
        "--clear-groups",
        "--",
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "--",
        "env",
        "-i",
        "PATH=/usr/bin:/bin",
    ]);
    for (k, v) in env {
        cmd.arg(format!("{k}={v}"));
    }
    cmd.arg(prog).args(args).stdin(Stdio::null());
    cmd.output().expect("setpriv/unshare")
}

fn text(o: &Output) -> String {
    format!(
        "rc={:?} stdout={} stderr={}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A bundle the namespaced user owns: `outlet spec --rootless`, the
/// fixture rootfs, a memory limit (so that a cgroup is required: without
/// limits a rootless create may run without one) and podman's rootless
/// cgroupsPath.
fn user_bundle(t: &T, user: (u32, u32), id: &str) -> PathBuf {
    let b = t.dir.join("bundle");
    std::fs::create_dir_all(&b).unwrap();
    t.outlet_plain(&["spec", "--rootless", "--bundle", b.to_str().unwrap()])
        .expect_ok("spec --rootless");
    let st = Command::new("cp")
        .arg("-a")
        .arg(common::rootfs())
        .arg(b.join("rootfs"))
        .status()
        .unwrap();
    assert!(st.success());
    let cfg_path = b.join("config.json");
    let mut cfg = common::read_json(&cfg_path);
    cfg["process"]["terminal"] = serde_json::json!(false);
    cfg["process"]["args"] = serde_json::json!(["sleep", "100"]);
    cfg["root"] = serde_json::json!({"path": "rootfs", "readonly": true});
    cfg["linux"]["cgroupsPath"] = serde_json::json!(format!("user.slice:libpod:{id}"));
    cfg["linux"]["resources"] = serde_json::json!({"memory": {"limit": 67108864}});
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    common::chown_r(&b, user.0, user.1);
    b
}

/// The error podman would see from `outlet --systemd-cgroup create` run
/// as uid 0 in the user's namespace with `env`; asserts exit 1 and that
/// nothing is left in the state root.
fn create_in_userns(t: &T, user: (u32, u32), env: &[(&str, &str)], id: &str) -> String {
    let state = t.dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    common::chown_r(&state, user.0, user.1);
    let bundle = t.dir.join("bundle");
    let o = in_userns(
        user,
        env,
        common::OUTLET,
        &[
            "--systemd-cgroup",
            "--root",
            state.to_str().unwrap(),
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            id,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let left: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
    assert!(left.is_empty(), "state left behind: {left:?}");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The fix: as uid 0 of the user's namespace the driver goes to that
/// user's session bus, found from $DBUS_SESSION_BUS_ADDRESS, else
/// $XDG_RUNTIME_DIR/bus, else /run/user/<host uid>/bus with the host uid
/// from uid_map; the daemon accepts it (systemd1 unknown: the bus
/// answered). Without the fix (main at 85464f1) the driver took the
/// system path and refused this hybrid host before any bus. Control: the
/// same create sent to a bus daemon of another user (host root) does not
/// get that far, so "ServiceUnknown" really means "accepted".
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn userns_root_takes_the_owners_session_bus() {
    let Some(t) = T::new() else { return };
    let user = t.system_user(USER_CREATE);
    let mut daemons = Daemons(Vec::new());
    let bus = bus_daemon(&t, &mut daemons, &t.dir.join("userbus"), Some(user));
    let id = t.id("ub");
    user_bundle(&t, user, &id);
    let addr = format!("unix:path={}", bus.display());
    let accepted = "org.freedesktop.DBus.Error.ServiceUnknown";

    let e = create_in_userns(&t, user, &[("DBUS_SESSION_BUS_ADDRESS", &addr)], &id);
    assert!(e.contains(accepted), "DBUS_SESSION_BUS_ADDRESS: {e}");
    assert!(e.contains(&format!("on the bus {}", bus.display())), "{e}");

    let xdg = bus.parent().unwrap().to_str().unwrap();
    let e = create_in_userns(&t, user, &[("XDG_RUNTIME_DIR", xdg)], &id);
    assert!(e.contains(accepted), "XDG_RUNTIME_DIR: {e}");

    let e = create_in_userns(&t, user, &[], &id);
    let want = format!("/run/user/{}/bus of host uid {}", user.0, user.0);
    assert!(e.contains(&want), "no environment: want {want:?}: {e}");

    // Control: root's bus daemon refuses the user (a session bus takes
    // only its owner), so the answer is not the accepted one.
    let root_bus = bus_daemon(&t, &mut daemons, &t.dir.join("rootbus"), None);
    let root_addr = format!("unix:path={}", root_bus.display());
    let e = create_in_userns(&t, user, &[("DBUS_SESSION_BUS_ADDRESS", &root_addr)], &id);
    assert!(
        !e.contains(accepted),
        "control: root's bus took the user: {e}"
    );
    assert!(e.contains(root_bus.to_str().unwrap()), "control: {e}");
    eprintln!("control (root's bus): {e}");
}

/// A raw SASL exchange from `in_userns` (or as host root), for the
/// choice of AUTH EXTERNAL form: `claim` is the hex identity sent, or
/// empty for none (answered by an empty DATA). Prints getuid() and the
/// server's lines.
const SASL: &str = r#"
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
claim = sys.argv[2]
s.sendall(b"\0AUTH EXTERNAL" + (b" " + claim.encode() if claim else b"\r\nDATA") + b"\r\n")
buf = b""
while not any(l.startswith((b"OK ", b"REJECTED", b"ERROR")) for l in buf.split(b"\r\n")):
    d = s.recv(4096)
    if not d:
        break
    buf += d
print(os.getuid(), buf.decode().replace("\r\n", "|"))
"#;

fn hex(uid: u32) -> String {
    uid.to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why the driver sends no identity: from inside the namespace, claiming
/// getuid() ("30", what main's driver sent) is REJECTED, because the
/// daemon sees the host uid; claiming nothing gets DATA then OK; the hex
/// of the host uid works too but needs the right number. As host root on
/// root's bus, both forms are accepted (the root-on-host case: the empty
/// form loses nothing there).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn sasl_external_without_identity_works_in_and_out_of_userns() {
    let Some(t) = T::new() else { return };
    let user = t.system_user(USER_SASL);
    let mut daemons = Daemons(Vec::new());
    let bus = bus_daemon(&t, &mut daemons, &t.dir.join("userbus"), Some(user));
    let b = bus.to_str().unwrap();
    let py = "/usr/bin/python3";
    let probe = |claim: &str| {
        let o = in_userns(user, &[], py, &["-c", SASL, b, claim]);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    let none = probe("");
    assert!(none.starts_with("0 DATA|OK "), "no identity: {none}");
    let zero = probe(&hex(0));
    assert!(zero.starts_with("0 REJECTED"), "control, \"30\": {zero}");
    let host = probe(&hex(user.0));
    assert!(host.starts_with("0 OK "), "host uid: {host}");
    eprintln!("from the namespace: no identity {none:?}, \"30\" {zero:?}, host uid {host:?}");

    let root_bus = bus_daemon(&t, &mut daemons, &t.dir.join("rootbus"), None);
    for claim in ["", &hex(0)] {
        let o = Command::new(py)
            .args(["-c", SASL, root_bus.to_str().unwrap(), claim])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        assert!(
            out.starts_with("0 ") && out.contains("OK "),
            "root, claim {claim:?}: {out}"
        );
    }
}

//! The commands callers use besides the lifecycle: update, events, ps,
//! features, checkpoint, and `run` with a terminal and no console socket.
//! Real containers on the host's cgroups; needs root (skipped otherwise).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{OUTLET, Out, T, read_json, sh, wait_timeout};
use serde_json::{Value, json};

/// A pid-1 shell that exits 0 on SIGTERM and otherwise sleeps.
const SLEEPER: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

/// A running container that sleeps, with the limits `resources` at create.
fn running(t: &T, tag: &str, resources: Value) -> (String, common::Bundle) {
    let b = t.bundle(tag, |c| {
        sh(c, SLEEPER);
        c["linux"]["resources"] = resources;
    });
    let id = t.id(tag);
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    assert_eq!(t.status(&id), "running");
    (id, b)
}

/// The container's cgroup directory of a v1 controller, from state.json.
fn v1_dir(t: &T, id: &str, controller: &str) -> PathBuf {
    let st = read_json(&t.root.join(id).join("state.json"));
    let p = st["cgroup"]["v1"][controller]
        .as_str()
        .unwrap_or_else(|| panic!("state.json has no v1 {controller} cgroup: {st}"));
    PathBuf::from(p)
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// `outlet --root R ARGS` with `input` on stdin.
fn outlet_stdin(t: &T, args: &[&str], input: &str) -> Out {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let so = t.dir.join(format!("stdin-call-{n}.stdout"));
    let se = so.with_extension("stderr");
    let mut child = Command::new(OUTLET)
        .arg("--root")
        .arg(&t.root)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&so).unwrap())
        .stderr(std::fs::File::create(&se).unwrap())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(30), "outlet with stdin");
    Out::from_files(status, so, se)
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_flags_reach_the_cgroup_files() {
    let Some(t) = T::new() else { return };
    let (id, _b) = running(&t, "upd", json!({"memory": {"limit": 268435456}}));
    let mem = v1_dir(&t, &id, "memory");
    let cpu = v1_dir(&t, &id, "cpu");
    assert_eq!(read_trim(&mem.join("memory.limit_in_bytes")), "268435456");

    t.outlet(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap=128M",
        "--cpu-quota",
        "20000",
        "--cpu-period=100000",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "42",
        &id,
    ])
    .expect_ok("update with flags");
    assert_eq!(read_trim(&mem.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(
        read_trim(&mem.join("memory.memsw.limit_in_bytes")),
        "134217728"
    );
    assert_eq!(read_trim(&cpu.join("cpu.cfs_quota_us")), "20000");
    assert_eq!(read_trim(&cpu.join("cpu.cfs_period_us")), "100000");
    assert_eq!(read_trim(&cpu.join("cpu.shares")), "512");
    assert_eq!(read_trim(&v1_dir(&t, &id, "pids").join("pids.max")), "42");

    // The container sees the same numbers through its own cgroup mount.
    let inside = t.outlet(&[
        "exec",
        &id,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    ]);
    inside.expect_ok("exec cat");
    assert_eq!(inside.stdout, "67108864\n20000\n", "{inside:?}");

    // Lowering memory below memory+swap and raising both again: the
    // writes must come in an order the kernel accepts.
    t.outlet(&["update", "--memory", "1g", "--memory-swap", "2g", &id])
        .expect_ok("raise memory above the old memsw");
    assert_eq!(read_trim(&mem.join("memory.limit_in_bytes")), "1073741824");
    assert_eq!(
        read_trim(&mem.join("memory.memsw.limit_in_bytes")),
        "2147483648"
    );
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after update");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_resources_from_file_and_stdin() {
    let Some(t) = T::new() else { return };
    // linux.devices gets no rule of its own (the spec's access strings
    // hold as written); the defaults, /dev/net/tun among them, must survive
    // the update.
    let b = t.bundle("updres", |c| {
        sh(c, SLEEPER);
        c["linux"]["devices"] =
            json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]);
    });
    let id = t.id("updres");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let mem = v1_dir(&t, &id, "memory");
    let cpu = v1_dir(&t, &id, "cpu");

    // containerd's shim: `update --resources=- ID` with JSON on stdin, the
    // spec's whole resources as CRI leaves them (empty cpuset strings, an
    // empty unified map, the device rules of the spec).
    let devices_before = read_trim(&v1_dir(&t, &id, "devices").join("devices.list"));
    assert!(devices_before.contains("c 10:200 rwm"), "{devices_before}");
    assert!(!devices_before.contains("c 1:11"), "{devices_before}");
    let doc = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 100663296},
        "cpu": {"quota": 30000, "period": 100000, "shares": 1024, "cpus": "", "mems": ""},
        "hugepageLimits": [],
        "unified": {},
    });
    outlet_stdin(&t, &["update", "--resources=-", &id], &doc.to_string())
        .expect_ok("update --resources=-");
    assert_eq!(read_trim(&mem.join("memory.limit_in_bytes")), "100663296");
    assert_eq!(read_trim(&cpu.join("cpu.cfs_quota_us")), "30000");
    // Device rules stay as create made them (runc does the same).
    assert_eq!(
        read_trim(&v1_dir(&t, &id, "devices").join("devices.list")),
        devices_before
    );
    let o = t.outlet(&["exec", &id, "sh", "-c", "echo x > /dev/null && echo ok"]);
    o.expect_ok("write /dev/null after update");
    assert_eq!(o.stdout, "ok\n");

    // podman: `update --resources FILE ID`; flags given as well win.
    let file = t.dir.join("res.json");
    std::fs::write(
        &file,
        json!({"memory": {"limit": 83886080}, "pids": {"limit": 50}}).to_string(),
    )
    .unwrap();
    t.outlet(&[
        "update",
        "--resources",
        file.to_str().unwrap(),
        "--pids-limit",
        "60",
        &id,
    ])
    .expect_ok("update --resources FILE");
    assert_eq!(read_trim(&mem.join("memory.limit_in_bytes")), "83886080");
    assert_eq!(read_trim(&v1_dir(&t, &id, "pids").join("pids.max")), "60");

    // Clear errors, nothing changed.
    std::fs::write(&file, "{not json").unwrap();
    t.outlet(&["update", "--resources", file.to_str().unwrap(), &id])
        .expect_fail("bad JSON", "res.json");
    t.outlet(&["update", "--memory", "lots", &id])
        .expect_fail("bad size", "--memory");
    t.outlet(&["update", "--blkio-weight", "5", &id])
        .expect_fail("bad weight", "blkio-weight");
    t.outlet(&["update", "--memory", "64m", &format!("{}-nope", t.token)])
        .expect_fail("missing container", "does not exist");
    assert_eq!(read_trim(&mem.join("memory.limit_in_bytes")), "83886080");

    // A stopped container is not updated.
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    t.wait_status(&id, "stopped");
    t.outlet(&["update", "--memory", "64m", &id])
        .expect_fail("update stopped", "not running");
    t.outlet(&["delete", &id]).expect_ok("delete");
    t.assert_nothing_left("after update --resources");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn events_stats_once() {
    let Some(t) = T::new() else { return };
    let (id, _b) = running(
        &t,
        "stats",
        json!({"memory": {"limit": 134217728}, "pids": {"limit": 32}}),
    );
    let o = t.outlet(&["events", "--stats", &id]);
    o.expect_ok("events --stats");
    assert_eq!(o.stdout.lines().count(), 1, "{o:?}");
    let ev = o.json();
    assert_eq!(ev["type"], "stats", "{ev}");
    assert_eq!(ev["id"], id.as_str(), "{ev}");
    let d = &ev["data"];
    assert!(
        d["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "memory usage: {d}"
    );
    assert_eq!(d["memory"]["usage"]["limit"], 134217728, "{d}");
    assert!(d["pids"]["current"].as_u64().unwrap_or(0) >= 1, "pids: {d}");
    assert_eq!(d["pids"]["limit"], 32, "{d}");
    assert!(
        d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0,
        "cpu: {d}"
    );

    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    t.wait_status(&id, "stopped");
    t.outlet(&["events", "--stats", &id])
        .expect_fail("stats of a stopped container", "not running");
    t.outlet(&["events", "--stats", &format!("{}-nope", t.token)])
        .expect_fail("stats of a missing container", "does not exist");
    t.outlet(&["events", "--interval", "5x", &id])
        .expect_fail("bad interval", "5x");
    t.outlet(&["delete", &id]).expect_ok("delete");
}

/// Start `outlet events ARGS` in the background, stdout to a file.
fn spawn_events(t: &T, args: &[&str], tag: &str) -> (std::process::Child, PathBuf) {
    let out = t.dir.join(format!("events-{tag}.out"));
    let err = t.dir.join(format!("events-{tag}.err"));
    let child = Command::new(OUTLET)
        .arg("--root")
        .arg(&t.root)
        .arg("events")
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    t.track_pid(pid);
    (child, out)
}

fn lines_of(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn wait_for_lines(p: &Path, pred: impl Fn(&[Value]) -> bool, what: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Only whole lines: the writer may be midway through one.
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let v: Vec<Value> = whole
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: got {v:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn events_stream_until_the_container_stops() {
    let Some(t) = T::new() else { return };
    let (id, _b) = running(&t, "stream", json!({}));
    let (mut child, out) = spawn_events(&t, &["--interval", "200ms", &id], "stream");
    let lines = wait_for_lines(&out, |v| v.len() >= 3, "three stats lines");
    for ev in &lines {
        assert_eq!(ev["type"], "stats", "{ev}");
        assert_eq!(ev["id"], id.as_str(), "{ev}");
        assert!(
            ev["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1,
            "{ev}"
        );
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "events ended while the container runs"
    );
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    let st = wait_timeout(&mut child, Duration::from_secs(5), "events after kill");
    assert_eq!(st.code(), Some(0), "{st:?}");
    t.outlet(&["delete", &id]).expect_ok("delete");

    // The `=` form with the default-looking duration callers pass (go-runc:
    // --interval=5s): the stream prints at once and ends with the container.
    let (id, _b) = running(&t, "stream5s", json!({}));
    let (mut child, out) = spawn_events(&t, &["--interval=5s", &id], "stream5s");
    wait_for_lines(&out, |v| !v.is_empty(), "first stats line");
    t.outlet(&["delete", "--force", &id])
        .expect_ok("delete --force");
    let st = wait_timeout(&mut child, Duration::from_secs(5), "events after delete");
    assert_eq!(st.code(), Some(0), "{st:?}");
    assert_eq!(lines_of(&out).len(), 1);
    t.assert_nothing_left("after events");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn events_report_an_oom_kill() {
    let Some(t) = T::new() else { return };
    // The init survives; its child that overruns the limit is OOM-killed.
    let b = t.bundle("oom", |c| {
        sh(
            c,
            "while [ ! -e /out/go ]; do sleep 0.05; done; probe mem 256; sleep 1000",
        );
        c["linux"]["resources"] = json!({"memory": {"limit": 33554432, "swap": 33554432}});
    });
    let id = t.id("oom");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let (mut child, out) = spawn_events(&t, &["--interval", "10s", &id], "oom");
    wait_for_lines(&out, |v| !v.is_empty(), "first stats line");
    std::fs::write(b.out.join("go"), b"").unwrap();
    let lines = wait_for_lines(
        &out,
        |v| v.iter().any(|e| e["type"] == "oom"),
        "an oom event",
    );
    let oom = lines.iter().find(|e| e["type"] == "oom").unwrap();
    assert_eq!(oom, &json!({"type": "oom", "id": id}));
    assert_eq!(
        t.status(&id),
        "running",
        "the init itself was not the victim"
    );
    t.outlet(&["kill", &id, "KILL"]).expect_ok("kill");
    let st = wait_timeout(&mut child, Duration::from_secs(5), "events after kill");
    assert_eq!(st.code(), Some(0));
    t.outlet(&["delete", &id]).expect_ok("delete");
    t.assert_nothing_left("after oom");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ps_table_and_json() {
    let Some(t) = T::new() else { return };
    let (id, _b) = running(&t, "ps", json!({}));
    let init = t.state(&id)["pid"].as_i64().unwrap() as i32;

    let o = t.outlet(&["ps", "--format", "json", &id]);
    o.expect_ok("ps --format json");
    let mut pids: Vec<i32> = serde_json::from_value(o.json()).unwrap();
    pids.sort();
    // The shell and its `sleep 1000`, nothing else.
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&init), "{pids:?} lacks the init {init}");
    for p in &pids {
        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap();
        let cmd = String::from_utf8_lossy(&cmd);
        assert!(cmd.contains("sh") || cmd.contains("sleep"), "{p}: {cmd}");
    }

    let o = t.outlet(&["ps", &id]);
    o.expect_ok("ps (table)");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].split_whitespace().any(|h| h == "PID"), "{o:?}");
    assert_eq!(lines.len(), 3, "header + 2 processes: {o:?}");
    assert!(
        lines.iter().any(|l| l.contains("sleep 1000")),
        "no sleep line: {o:?}"
    );
    let col = lines[0]
        .split_whitespace()
        .position(|h| h == "PID")
        .unwrap();
    let mut listed: Vec<i32> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(col).unwrap().parse().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, pids);

    // ps arguments after `--`, runc style.
    let o = t.outlet(&["ps", &id, "--", "-o", "pid,comm"]);
    o.expect_ok("ps -- -o pid,comm");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{o:?}");
    assert!(lines[1..].iter().any(|l| l.ends_with("sleep")), "{o:?}");
    t.outlet(&["ps", "--format", "yaml", &id])
        .expect_fail("bad format", "yaml");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after ps");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn checkpoint_is_probed_and_says_what_is_missing() {
    let Some(t) = T::new() else { return };
    // podman probes `checkpoint --help`: exit 0 is what it checks.
    let o = t.outlet_plain(&["checkpoint", "--help"]);
    o.expect_ok("checkpoint --help");
    assert!(o.stdout.contains("Usage"), "{o:?}");
    let (id, _b) = running(&t, "ckpt", json!({}));
    // No criu on this host's PATH (tests/checkpoint.rs passes --criu).
    t.outlet(&["checkpoint", &id])
        .expect_fail("checkpoint", "criu not found");
    t.outlet(&[
        "--criu",
        "/nonexistent",
        "restore",
        "-b",
        "/nonexistent",
        &id,
    ])
    .expect_fail("restore", "/nonexistent");
    assert_eq!(t.status(&id), "running", "checkpoint must change nothing");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// `features` describes what create really does: every namespace, mount
/// option, hook, seccomp action/operator/arch/flag and capability it lists
/// is accepted by create on this host (capabilities: those the host's
/// bounding set holds, since create refuses ones the runtime lacks).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn features_list_only_what_create_accepts() {
    let Some(t) = T::new() else { return };
    // Callers run `features` with no global flags at all.
    let o = t.outlet_plain(&["features"]);
    o.expect_ok("features");
    let f = o.json();
    assert_eq!(f["ociVersionMin"], "1.0.0", "{f}");
    assert!(
        f["ociVersionMax"].as_str().unwrap().starts_with("1."),
        "{f}"
    );
    assert_eq!(f["linux"]["cgroup"]["v1"], true);
    assert_eq!(f["linux"]["cgroup"]["systemd"], false);
    assert_eq!(f["linux"]["intelRdt"]["enabled"], false);
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not an array: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let namespaces = strs(&f["linux"]["namespaces"]);
    assert!(namespaces.contains(&"mount".to_string()), "{namespaces:?}");
    assert!(namespaces.contains(&"time".to_string()), "{namespaces:?}");
    let options = strs(&f["mountOptions"]);
    assert!(options.len() > 20, "{options:?}");
    let hooks = strs(&f["hooks"]);
    let sc = &f["linux"]["seccomp"];
    assert_eq!(sc["enabled"], true);
    let actions = strs(&sc["actions"]);
    let operators = strs(&sc["operators"]);
    let archs = strs(&sc["archs"]);
    assert!(archs.contains(&"SCMP_ARCH_X86_64".to_string()), "{archs:?}");
    let flags = strs(&sc["supportedFlags"]);
    for fl in &flags {
        assert!(
            strs(&sc["knownFlags"]).contains(fl),
            "{fl} supported, not known"
        );
    }
    let bounding = {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .unwrap()
            .trim()
            .to_string();
        u64::from_str_radix(&hex, 16).unwrap()
    };
    let caps: Vec<String> = strs(&f["linux"]["capabilities"])
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bounding & (1u64 << i) != 0)
        .map(|(_, c)| c)
        .collect();
    assert!(caps.len() >= 38, "{caps:?}");

    // One container with everything but the user namespace (which needs
    // mappings and a rootfs the mapped root can reach: the second one).
    let src = t.dir.join("mnt-src");
    std::fs::create_dir_all(&src).unwrap();
    let b = t.bundle("all", |c| {
        c["linux"]["namespaces"] = namespaces
            .iter()
            .filter(|n| *n != "user")
            .map(|n| json!({"type": n}))
            .collect();
        let mounts = c["mounts"].as_array_mut().unwrap();
        // Options that change a filesystem (refused on a bind, which shares
        // its source's) and tmpcopyup go on a tmpfs; remount on a second
        // entry for a tmpfs; idmap with the mappings it needs.
        let fs_only = [
            "acl", "dirsync", "iversion", "lazytime", "mand", "silent", "sync",
        ];
        let ids = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        for o in &options {
            let dest = format!("/mnt/o-{o}");
            if fs_only.contains(&o.as_str()) || o == "tmpcopyup" || o == "remount" {
                let first = if o == "remount" { "rw" } else { o.as_str() };
                mounts.push(
                    json!({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                                   "options": [first]}),
                );
                if o == "remount" {
                    mounts.push(json!({"destination": dest, "type": "tmpfs",
                                       "source": "tmpfs", "options": ["remount", "ro"]}));
                }
                continue;
            }
            let mut opts = vec![o.as_str()];
            if o != "bind" && o != "rbind" {
                opts.insert(0, "bind");
            }
            let mut m = json!({
                "destination": dest,
                "type": "bind",
                "source": src,
                "options": opts,
            });
            if o == "idmap" || o == "ridmap" {
                m["uidMappings"] = ids.clone();
                m["gidMappings"] = ids.clone();
            }
            mounts.push(m);
        }
        let hook = json!([{"path": "/bin/sh", "args": ["sh", "-c", "true"]}]);
        c["hooks"] = hooks.iter().map(|h| (h.clone(), hook.clone())).collect();
        // Syscalls busybox's sh and cat never make, so no rule fires.
        let unused = [
            "acct",
            "swapon",
            "swapoff",
            "kexec_load",
            "init_module",
            "delete_module",
            "settimeofday",
            "adjtimex",
            "quotactl",
            "pivot_root",
        ];
        let syscalls: Vec<Value> = actions
            .iter()
            .filter(|a| *a != "SCMP_ACT_NOTIFY") // needs a listener: tests/security
            .enumerate()
            .map(|(i, a)| {
                let op = &operators[i % operators.len()];
                json!({"names": [unused[i % unused.len()]], "action": a,
                       "args": [{"index": 0, "value": 1, "valueTwo": 1, "op": op}]})
            })
            .chain(operators.iter().enumerate().map(|(i, op)| {
                json!({"names": [unused[(i + 3) % unused.len()]], "action": "SCMP_ACT_ERRNO",
                       "args": [{"index": 1, "value": 1, "valueTwo": 1, "op": op}]})
            }))
            .collect();
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": archs,
            "flags": flags.iter().filter(|f| !f.contains("WAIT_KILLABLE")).collect::<Vec<_>>(),
            "syscalls": syscalls,
        });
        c["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps,
        });
        sh(c, "cat /proc/self/mountinfo > /out/mountinfo");
    });
    let id = t.id("all");
    t.run(&id, &b).expect_ok("run with every listed feature");
    let mi = std::fs::read_to_string(b.out.join("mountinfo")).unwrap();
    for o in &options {
        assert!(
            mi.contains(&format!(" /mnt/o-{o} ")),
            "mount with option {o} missing inside:\n{mi}"
        );
    }

    if namespaces.contains(&"user".to_string()) {
        let b = t.bundle("user", |c| {
            c["linux"]["namespaces"] = namespaces.iter().map(|n| json!({"type": n})).collect();
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            sh(c, "exit 0");
        });
        b.own_rootfs();
        let id = t.id("user");
        t.run(&id, &b).expect_ok("run with every listed namespace");
    }
    t.assert_nothing_left("after features");
}

/// An outlet call whose stdio is a pty the test opened (33x77), as when a
/// person runs it from a terminal; its output is collected by a thread.
struct PtySession {
    child: std::process::Child,
    master: std::fs::File,
    cooked: nix::sys::termios::Termios,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    reader: Option<std::thread::JoinHandle<()>>,
    seen: Vec<u8>,
}

impl PtySession {
    /// `outlet --root R ARGS` on a new pty, with TMPDIR=`tmp` (where
    /// outlet's own console socket goes, so the test can see it removed).
    fn spawn(t: &T, args: &[&str], tmp: &Path) -> PtySession {
        let pty = nix::pty::openpty(
            Some(&nix::pty::Winsize {
                ws_row: 33,
                ws_col: 77,
                ws_xpixel: 0,
                ws_ypixel: 0,
            }),
            None,
        )
        .unwrap();
        // openpty(3) leaves both ends inheritable: without close-on-exec
        // every outlet another test spawns meanwhile (and its container
        // init, until exec) would hold them too.
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(fd),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .unwrap();
        }
        let cooked = nix::sys::termios::tcgetattr(&pty.master).unwrap();
        let slave = || Stdio::from(pty.slave.try_clone().unwrap());
        std::fs::create_dir_all(tmp).unwrap();
        let child = Command::new(OUTLET)
            .arg("--root")
            .arg(&t.root)
            .args(args)
            .env("TMPDIR", tmp)
            .stdin(slave())
            .stdout(slave())
            .stderr(slave())
            .spawn()
            .unwrap();
        t.track_pid(child.id() as i32);
        let nix::pty::OpenptyResult { master, slave } = pty;
        drop(slave);
        let master = std::fs::File::from(master);
        // Everything outlet writes, until EIO (no slave left open).
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let mut m = master.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = m.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        PtySession {
            child,
            master,
            cooked,
            rx,
            reader: Some(reader),
            seen: Vec::new(),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    #[track_caller]
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.text().contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => panic!("no {needle:?} on the terminal; got {:?}", self.text()),
            }
        }
    }

    fn type_in(&mut self, keys: &[u8]) {
        (&self.master).write_all(keys).unwrap();
    }

    /// Wait for outlet to exit; its exit status and everything it wrote.
    /// Checks that outlet gave the terminal back as it found it.
    fn finish(mut self, what: &str) -> (std::process::ExitStatus, String) {
        let status = wait_timeout(&mut self.child, Duration::from_secs(20), what);
        let after = nix::sys::termios::tcgetattr(&self.master).unwrap();
        assert_eq!(
            after.local_flags, self.cooked.local_flags,
            "{what}: raw mode left on"
        );
        assert_eq!(after.output_flags, self.cooked.output_flags, "{what}");
        while let Ok(chunk) = self.rx.recv_timeout(Duration::from_millis(200)) {
            self.seen.extend(chunk);
        }
        let text = self.text();
        drop(self.master);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, text)
    }
}

/// `run` of a terminal container with no --console-socket, driven through
/// a pty the test opens: the container sees a terminal of our size, our
/// keystrokes reach it (raw mode: echoed once, by the container's own
/// pty), its output comes back, and run returns its exit code.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_with_a_terminal_relays_it() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("tty", |c| {
        c["process"]["terminal"] = json!(true);
        sh(
            c,
            "test -t 0 && test -t 1 && echo tty-ok; stty size; read l; echo \"got:$l\"; exit 5",
        );
    });
    let id = t.id("tty");
    let tmp = t.dir.join("tmp");
    let mut s = PtySession::spawn(&t, &["run", "--bundle", b.dir.to_str().unwrap(), &id], &tmp);
    s.wait_for("33 77");
    s.type_in(b"hello\n");
    s.wait_for("got:hello");
    let (status, text) = s.finish("outlet run with a terminal");
    assert_eq!(status.code(), Some(5), "{status:?}: {text:?}");
    assert!(text.contains("tty-ok"), "{text:?}");
    // Echoed once (by the container's pty) and answered: our side was raw,
    // and the container's pty turned \n into \r\n.
    assert_eq!(text.matches("hello").count(), 2, "{text:?}");
    assert!(text.contains("got:hello\r\n"), "{text:?}");
    assert!(!t.state_dir_exists(&id));
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "console socket dir left: {left:?}");

    // --detach leaves nobody to relay: a terminal then needs a socket.
    let id = t.id("ttydetach");
    t.outlet(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id])
        .expect_fail("run -d with a terminal", "console-socket");
    t.assert_nothing_left("after run with a terminal");
}

/// `exec -t` in the foreground without --console-socket relays the same
/// way, and returns the process's exit code.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_with_a_terminal_relays_it() {
    let Some(t) = T::new() else { return };
    let (id, _b) = running(&t, "exectty", json!({}));
    let tmp = t.dir.join("tmp");
    let mut s = PtySession::spawn(
        &t,
        &[
            "exec",
            "-t",
            &id,
            "sh",
            "-c",
            "test -t 0 && echo exec-tty-ok; stty size; read l; echo \"got:$l\"; exit 4",
        ],
        &tmp,
    );
    s.wait_for("33 77");
    s.type_in(b"there\n");
    s.wait_for("got:there");
    let (status, text) = s.finish("outlet exec -t");
    assert_eq!(status.code(), Some(4), "{status:?}: {text:?}");
    assert!(text.contains("exec-tty-ok"), "{text:?}");
    assert_eq!(text.matches("there").count(), 2, "{text:?}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "console socket dir left: {left:?}");
    assert_eq!(t.status(&id), "running");
    t.outlet(&["exec", "-t", "--detach", &id, "true"])
        .expect_exec_fail("exec -t -d without a socket", "console-socket");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after exec with a terminal");
}

/// `outlet --root R ARGS` with stdout a pipe whose read end is already
/// closed (a caller that stopped reading, `| head -c0`): the first write
/// gets EPIPE.
fn outlet_into_closed_pipe(t: &T, args: &[&str], tag: &str) -> Out {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds that we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are fresh from pipe2 and owned here only.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(r);
    let se = t.dir.join(format!("closed-pipe-{tag}.stderr"));
    let mut child = Command::new(OUTLET)
        .arg("--root")
        .arg(&t.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(w))
        .stderr(std::fs::File::create(&se).unwrap())
        .spawn()
        .unwrap();
    let status = wait_timeout(
        &mut child,
        Duration::from_secs(30),
        "outlet into a closed pipe",
    );
    Out::from_files(status, t.dir.join("nothing"), se)
}

/// Output to a stdout whose reader has gone ends the command the way a
/// shell tool ends on SIGPIPE: killed by SIGPIPE, nothing on stderr; never
/// Rust's "failed printing to stdout" abort (exit 134). `spec` writes no
/// stdout and must still succeed. The control: the same commands into an
/// open pipe print their output and exit 0.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn closed_stdout_ends_quietly() {
    let Some(t) = T::new() else { return };
    let (id, _b) = running(&t, "pipe", json!({}));
    let spec_dir = t.dir.join("spec-bundle");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let spec_dir = spec_dir.to_str().unwrap();
    for args in [
        vec!["state", id.as_str()],
        vec!["list"],
        vec!["list", "--format", "json"],
        vec!["ps", id.as_str()],
        vec!["ps", "--format", "json", id.as_str()],
        vec!["features"],
        vec!["--version"],
    ] {
        let o = outlet_into_closed_pipe(&t, &args, &args.join("-"));
        assert_eq!(o.signal, Some(libc::SIGPIPE), "{args:?}: {o:#?}");
        assert!(o.stderr.is_empty(), "{args:?}: {o:#?}");
        let control = t.outlet(&args);
        control.expect_ok(&format!("{args:?} into an open pipe"));
        assert!(!control.stdout.is_empty(), "{args:?}: {control:#?}");
    }
    let o = outlet_into_closed_pipe(&t, &["spec", "--bundle", spec_dir], "spec");
    o.expect_ok("spec with a closed stdout");
    assert!(Path::new(spec_dir).join("config.json").is_file());
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// runc's spellings: `exec --cap CAP_NET_RAW` (not only NET_RAW) adds the
/// capability, `exec -g GID` without `-u` adds the group, `update
/// --cpu-share` sets the shares. The controls: the same exec without the
/// flag shows neither the capability nor the group.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_and_update_take_runcs_spellings() {
    let Some(t) = T::new() else { return };
    let (id, _b) = running(&t, "spell", json!({}));
    // CAP_NET_RAW is bit 13, outside the spec template's three.
    let cap_eff = |o: &Out| -> u64 {
        let line = o.stdout.lines().find(|l| l.starts_with("CapEff:")).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let groups = |o: &Out| -> String {
        let line = o.stdout.lines().find(|l| l.starts_with("Groups:")).unwrap();
        line.trim_start_matches("Groups:").trim().to_string()
    };
    let status = ["cat", "/proc/self/status"];
    let plain = t.outlet(&[&["exec", id.as_str()][..], &status[..]].concat());
    plain.expect_ok("exec");
    assert_eq!(cap_eff(&plain) & (1 << 13), 0, "{plain:?}");
    assert!(!groups(&plain).split(' ').any(|g| g == "4242"), "{plain:?}");
    for cap in ["CAP_NET_RAW", "NET_RAW", "cap_net_raw"] {
        let o = t.outlet(&[&["exec", "--cap", cap, id.as_str()][..], &status[..]].concat());
        o.expect_ok(&format!("exec --cap {cap}"));
        assert_ne!(cap_eff(&o) & (1 << 13), 0, "--cap {cap}: {o:?}");
    }
    // An unknown name is warned about and ignored, as runc and crun do
    // (tests/crun_s9.rs crun_exec_add_capability).
    let o = t.outlet(&["exec", "--cap", "CAP_NOPE", &id, "true"]);
    o.expect_ok("exec --cap CAP_NOPE");
    assert!(
        o.stderr.contains("CAP_NOPE"),
        "exec --cap CAP_NOPE: no warning: {o:?}"
    );
    let o = t.outlet(
        &[
            &["exec", "-g", "4242", "-g", "4343", id.as_str()][..],
            &status[..],
        ]
        .concat(),
    );
    o.expect_ok("exec -g");
    let g = groups(&o);
    assert!(
        g.split(' ').any(|x| x == "4242") && g.split(' ').any(|x| x == "4343"),
        "{o:?}"
    );

    t.outlet(&["update", "--cpu-share", "612", &id])
        .expect_ok("update --cpu-share");
    assert_eq!(read_trim(&v1_dir(&t, &id, "cpu").join("cpu.shares")), "612");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// `exec --cgroup` runs the process in an existing sub-cgroup of the
/// container's, as runc does (`controller:path` on cgroup v1, or `path` for
/// every controller), and refuses a path that leaves the container's
/// cgroup or does not exist. The control: without the flag the process is
/// at the container's own cgroup.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_cgroup_joins_a_sub_cgroup() {
    let Some(t) = T::new() else { return };
    let (id, _b) = running(&t, "subcg", json!({}));
    let pids = v1_dir(&t, &id, "pids");
    let sub = pids.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let sub2 = sub.clone();
    t.on_cleanup(move || {
        let _ = std::fs::remove_dir(&sub2);
    });
    let cg_line = |o: &Out| -> String {
        o.stdout
            .lines()
            .find(|l| l.split(':').nth(1) == Some("pids"))
            .unwrap_or_else(|| panic!("no pids line: {o:?}"))
            .to_string()
    };
    let own = t.outlet(&["exec", &id, "cat", "/proc/self/cgroup"]);
    own.expect_ok("exec");
    assert!(!cg_line(&own).ends_with("/sub"), "{own:?}");
    let o = t.outlet(&[
        "exec",
        "--cgroup",
        "pids:sub",
        &id,
        "cat",
        "/proc/self/cgroup",
    ]);
    o.expect_ok("exec --cgroup pids:sub");
    assert!(cg_line(&o).ends_with("/sub"), "{o:?}");
    // Each --cgroup is relative to the container's cgroup, not to the
    // one before it (sub, not sub/sub).
    let o = t.outlet(&[
        "exec",
        "--cgroup",
        "pids:sub",
        "--cgroup",
        "pids:sub",
        &id,
        "cat",
        "/proc/self/cgroup",
    ]);
    o.expect_ok("exec --cgroup pids:sub twice");
    assert!(cg_line(&o).ends_with(":/sub"), "{o:?}");
    // The path form needs the sub-cgroup in every controller: not here.
    t.outlet(&["exec", "--cgroup", "sub", &id, "true"])
        .expect_exec_fail("exec --cgroup sub", "does not exist");
    t.outlet(&["exec", "--cgroup", "pids:../..", &id, "true"])
        .expect_exec_fail("exec --cgroup pids:../..", "inside the container's cgroup");
    t.outlet(&["exec", "--cgroup", "nosuchctl:sub", &id, "true"])
        .expect_exec_fail("exec --cgroup nosuchctl:sub", "nosuchctl");
    // The exec'd processes have exited: the sub-cgroup can go.
    std::fs::remove_dir(&sub).unwrap();
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

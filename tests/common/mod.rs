//! Shared harness for the integration tests: the fixture rootfs (built once
//! per test binary), bundles in unique temp dirs, a unique `--root` per test,
//! and a guard that deletes every container it made and then checks that
//! nothing is left: no state dir, no cgroup directory, no host mount and no
//! process that mentions the test's unique token.
//!
//! Every outlet call writes its stdout/stderr to files, never to pipes: a
//! created container's init inherits create's stdio, so a pipe would only
//! reach EOF when the container exits.
#![allow(dead_code)]

pub mod child_end;
pub mod diffrun;
pub mod hunter;
pub mod listener;
pub mod netns;
pub mod pause;
pub mod races;
pub mod rng;
pub mod runcbats;
pub mod seccomp_denied;
pub mod strace;
pub mod stranger;

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const OUTLET: &str = env!("CARGO_BIN_EXE_outlet");

/// Longest any single outlet call may take before the test fails (and the
/// call is killed) instead of hanging the suite.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The fixture rootfs path (busybox + /bin/probe), built on first use.
pub fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures/build.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(out.status.success(), "{} failed", script.display());
        let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let path = PathBuf::from(path);
        assert!(
            path.join("bin/probe").is_file(),
            "fixture rootfs {} has no /bin/probe",
            path.display()
        );
        path
    })
}

/// Root is required for real namespaces, mounts and cgroups. Tests that
/// need it carry `#[cfg_attr(not(outlet_root), ignore = "needs root")]`
/// (build.rs sets `outlet_root` when the build runs as root), so a build by
/// another user reports them as ignored; a root build run without root
/// fails here rather than passing without testing anything.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no side effects.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "this test needs root (it was built by root, so it is not marked ignored)"
    );
    root
}

/// The result of one outlet call.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The files the call's stdout/stderr went to (a created container's
    /// init keeps writing there).
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl Out {
    /// A finished call whose stdout and stderr went to these files.
    pub fn from_files(status: std::process::ExitStatus, so: PathBuf, se: PathBuf) -> Out {
        use std::os::unix::process::ExitStatusExt;
        Out {
            code: status.code(),
            signal: status.signal(),
            stdout: std::fs::read_to_string(&so).unwrap_or_default(),
            stderr: std::fs::read_to_string(&se).unwrap_or_default(),
            stdout_path: so,
            stderr_path: se,
        }
    }

    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the full output unless the call exited 0.
    #[track_caller]
    pub fn expect_ok(&self, what: &str) -> &Self {
        assert!(self.ok(), "{what}: outlet failed: {self:#?}");
        self
    }

    /// Panics unless the call exited 1 with `needle` in stderr.
    #[track_caller]
    pub fn expect_fail(&self, what: &str, needle: &str) -> &Self {
        assert_eq!(self.code, Some(1), "{what}: expected exit 1: {self:#?}");
        assert!(
            self.stderr.contains(needle),
            "{what}: stderr does not mention {needle:?}: {self:#?}"
        );
        self
    }

    /// Panics unless an `exec` failed itself: exit 255 (runc's code for
    /// it, not the process's) with `needle` in stderr.
    #[track_caller]
    pub fn expect_exec_fail(&self, what: &str, needle: &str) -> &Self {
        assert_eq!(self.code, Some(255), "{what}: expected exit 255: {self:#?}");
        assert!(
            self.stderr.contains(needle),
            "{what}: stderr does not mention {needle:?}: {self:#?}"
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// One test's world: a unique token, its own state root and temp dir.
pub struct T {
    /// `outlet-test-<pid>-<nnnn>`, in every path, id and container env of
    /// this test, so leftovers can be found by searching for it.
    pub token: String,
    pub root: PathBuf,
    pub dir: PathBuf,
    ids: Mutex<Vec<String>>,
    pids: Mutex<Vec<i32>>,
    cleanups: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    calls: AtomicUsize,
}

/// A bundle made by `T::bundle`.
pub struct Bundle {
    pub dir: PathBuf,
    /// Host dir bind-mounted read-write at /out in the container.
    pub out: PathBuf,
}

impl Bundle {
    /// Give the bundle its own copy of the fixture at <bundle>/rootfs
    /// (root.path "rootfs"): for tests that need the rootfs at a path of
    /// their own, or reachable by a mapped uid wherever the checkout is.
    pub fn own_rootfs(&self) -> PathBuf {
        let dst = self.dir.join("rootfs");
        let st = Command::new("cp")
            .arg("-a")
            .arg(rootfs())
            .arg(&dst)
            .status()
            .expect("run cp");
        assert!(
            st.success(),
            "cp -a {} {}",
            rootfs().display(),
            dst.display()
        );
        let mut cfg = self.config();
        cfg["root"]["path"] = json!("rootfs");
        self.write_config(&cfg);
        dst
    }

    pub fn config(&self) -> Value {
        read_json(&self.dir.join("config.json"))
    }

    pub fn write_config(&self, v: &Value) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(v).unwrap(),
        )
        .unwrap();
    }

    /// Waits for /out/<name> to hold a complete JSON document (the
    /// container writes it while the test watches).
    pub fn wait_json(&self, name: &str) -> Value {
        let p = self.out.join(name);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(s) = std::fs::read_to_string(&p)
                && let Ok(v) = serde_json::from_str::<Value>(s.trim())
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not appear with JSON in it",
                p.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

pub fn read_json(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {s}", p.display()))
}

impl T {
    /// Always Some for a root-built test run as root (see `is_root`).
    pub fn new() -> Option<T> {
        if !is_root() {
            return None;
        }
        rootfs();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let token = format!("outlet-test-{}-{n:04}", std::process::id());
        let root = PathBuf::from(format!("/run/{token}"));
        let dir = std::env::temp_dir().join(&token);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Some(T {
            token,
            root,
            dir,
            ids: Mutex::new(Vec::new()),
            pids: Mutex::new(Vec::new()),
            cleanups: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
        })
    }

    /// A fresh container id; the guard force-deletes it at the end.
    pub fn id(&self, tag: &str) -> String {
        let id = format!("{}-{tag}", self.token);
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// Remember a host pid that must be gone when the test ends.
    pub fn track_pid(&self, pid: i32) {
        self.pids.lock().unwrap().push(pid);
    }

    /// Run `f` when the test ends (also on failure), before the checks.
    pub fn on_cleanup(&self, f: impl FnOnce() + Send + 'static) {
        self.cleanups.lock().unwrap().push(Box::new(f));
    }

    /// `on_cleanup`, run before every cleanup registered so far: for a
    /// process that must be gone before the directories it sits in can
    /// be removed by those.
    pub fn on_cleanup_first(&self, f: impl FnOnce() + Send + 'static) {
        self.cleanups.lock().unwrap().insert(0, Box::new(f));
    }

    /// A bundle from `outlet spec`, edited for tests: no terminal, the
    /// fixture rootfs (read-only root), `probe report` as the command, the
    /// token in the env, and a host dir bind-mounted at /out. `edit` then
    /// changes what the test needs.
    pub fn bundle(&self, name: &str, edit: impl FnOnce(&mut Value)) -> Bundle {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        self.outlet_plain(&["spec", "--bundle", dir.to_str().unwrap()])
            .expect_ok("outlet spec");
        let mut cfg = read_json(&dir.join("config.json"));
        cfg["process"]["terminal"] = json!(false);
        cfg["process"]["args"] = json!(["probe", "report"]);
        cfg["root"] = json!({"path": rootfs(), "readonly": true});
        cfg["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("OUTLET_TEST={}", self.token)));
        cfg["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/out",
            "type": "bind",
            "source": out,
            "options": ["rbind", "rw"]
        }));
        edit(&mut cfg);
        let b = Bundle { dir, out };
        b.write_config(&cfg);
        b
    }

    /// `outlet --root <root> ARGS`, output in files, with a timeout.
    pub fn outlet(&self, args: &[&str]) -> Out {
        let mut full = vec!["--root", self.root.to_str().unwrap()];
        full.extend_from_slice(args);
        self.outlet_plain(&full)
    }

    /// `outlet ARGS` without the --root flag.
    pub fn outlet_plain(&self, args: &[&str]) -> Out {
        let (mut cmd, so, se) = self.command_plain(Path::new(OUTLET), args);
        let mut child = cmd.spawn().expect("spawn outlet");
        let status = wait_timeout(&mut child, CALL_TIMEOUT, &format!("outlet {args:?}"));
        Out::from_files(status, so, se)
    }

    /// `BIN ARGS` ready to spawn: stdin from /dev/null, stdout and stderr
    /// to fresh files of the test's dir (returned, for `Out::from_files`).
    pub fn command_plain(&self, bin: &Path, args: &[&str]) -> (Command, PathBuf, PathBuf) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let so = self.dir.join(format!("call-{n}.stdout"));
        let se = self.dir.join(format!("call-{n}.stderr"));
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&so).unwrap())
            .stderr(std::fs::File::create(&se).unwrap());
        (cmd, so, se)
    }

    /// `BIN --root <root> ARGS`, as `command_plain`: for a test that runs
    /// its own copy of outlet (one under attack) or adds to the command.
    pub fn command(&self, bin: &Path, args: &[&str]) -> (Command, PathBuf, PathBuf) {
        let root = ["--root", self.root.to_str().unwrap()];
        self.command_plain(bin, &[&root[..], args].concat())
    }

    /// `BIN --root <root> ARGS` like `outlet`, with `fds` (source, target)
    /// installed in the child without FD_CLOEXEC, as a caller passes
    /// --preserve-fds fds, or a careless one leaks them.
    pub fn call(&self, bin: &Path, args: &[&str], fds: &[(RawFd, RawFd)]) -> Out {
        self.call_env(bin, args, fds, &[])
    }

    /// `call` with extra environment variables.
    pub fn call_env(
        &self,
        bin: &Path,
        args: &[&str],
        fds: &[(RawFd, RawFd)],
        env: &[(&str, &str)],
    ) -> Out {
        let (mut cmd, so, se) = self.command(bin, args);
        cmd.envs(env.iter().copied());
        let fds = fds.to_vec();
        // Every source is first copied above all the numbers involved, so
        // that one pair's target cannot overwrite a later pair's source
        // (the numbers the test's own fds get depend on other threads).
        let above = fds.iter().map(|(s, d)| *s.max(d)).max().unwrap_or(0) + 1;
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec only fcntl and dup2 run, which are
        // async-signal-safe; the targets are left without FD_CLOEXEC (dup2
        // clears it), which is the point; the copies keep it and go at exec.
        unsafe {
            cmd.pre_exec(move || {
                let mut copies = [0; 16];
                assert!(fds.len() <= copies.len(), "at most 16 fds");
                for (i, (src, _)) in fds.iter().enumerate() {
                    copies[i] = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, above);
                    if copies[i] < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (i, (_, dst)) in fds.iter().enumerate() {
                    if libc::dup2(copies[i], *dst) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn");
        let what = format!("{} {args:?}", bin.display());
        let status = wait_timeout(&mut child, CALL_TIMEOUT, &what);
        Out::from_files(status, so, se)
    }

    /// The uid and gid of the system account `name`, made for this test
    /// (no home, no shell) when missing and removed again when the test
    /// ends, also on failure.
    pub fn system_user(&self, name: &str) -> (u32, u32) {
        // The tests of one file run in parallel: two useradd of one name
        // would race (the loser fails), so one at a time.
        static USERADD: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = USERADD.lock().unwrap_or_else(|e| e.into_inner());
        if uid_of(name).is_none() {
            let st = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ])
                .status()
                .expect("useradd");
            assert!(st.success(), "useradd {name}");
            let name = name.to_string();
            self.on_cleanup(move || {
                let _ = Command::new("userdel").arg(&name).status();
            });
        }
        uid_of(name).expect("the user exists")
    }

    pub fn create(&self, id: &str, b: &Bundle) -> Out {
        self.outlet(&["create", "--bundle", b.dir.to_str().unwrap(), id])
    }

    /// Create and remember the init's pid (checked gone at the end).
    #[track_caller]
    pub fn create_ok(&self, id: &str, b: &Bundle) -> i32 {
        self.create(id, b).expect_ok("create");
        let st = self.state(id);
        let pid = st["pid"].as_i64().unwrap() as i32;
        self.track_pid(pid);
        pid
    }

    pub fn state(&self, id: &str) -> Value {
        self.outlet(&["state", id]).expect_ok("state").json()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Polls `state` until the status is `want` (up to 10 s).
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Not there yet counts as not yet (a `run` still creating).
            let o = self.outlet(&["state", id]);
            let s = if o.ok() {
                o.json()["status"].as_str().unwrap_or("").to_string()
            } else {
                o.stderr.trim().to_string()
            };
            if s == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id}: status stayed {s:?}, wanted {want:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `outlet run` in the foreground: waits for the container.
    pub fn run(&self, id: &str, b: &Bundle) -> Out {
        self.outlet(&["run", "--bundle", b.dir.to_str().unwrap(), id])
    }

    /// Does the state root hold anything for `id`?
    pub fn state_dir_exists(&self, id: &str) -> bool {
        self.root.join(id).exists()
    }

    /// Everything that would be a leftover of this test right now.
    pub fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        for id in self.ids.lock().unwrap().iter() {
            if self.state_dir_exists(id) {
                found.push(format!("state dir {}", self.root.join(id).display()));
            }
            for d in cgroup_dirs_for(id) {
                if d.exists() {
                    found.push(format!("cgroup {}", d.display()));
                }
            }
        }
        for pid in self.pids.lock().unwrap().iter() {
            if pid_alive(*pid) {
                found.push(format!("process {pid} still alive"));
            }
        }
        for pid in processes_mentioning(&self.token) {
            found.push(format!("process {pid} mentions {}", self.token));
        }
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            for l in mi.lines().filter(|l| l.contains(&self.token)) {
                found.push(format!("host mount: {l}"));
            }
        }
        found
    }

    /// Polls leftovers() until empty (a reaped init may linger a moment as
    /// a zombie of PID 1), returning what is still there after 5 s.
    pub fn settle(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let l = self.leftovers();
            if l.is_empty() || Instant::now() > deadline {
                return l;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// For failure tests: nothing at all under the root, no cgroup, no
    /// process, no mount, right after the failed call (no delete first).
    /// The one exception is the runtime's cache of compiled seccomp filters
    /// (`<root>/.cache`), which outlives containers on purpose and is only
    /// written by a create that succeeded (tests/security.rs checks that).
    #[track_caller]
    pub fn assert_nothing_left(&self, what: &str) {
        let mut l = self.settle();
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            for e in rd.flatten().filter(|e| e.file_name() != ".cache") {
                l.push(format!("under the root: {}", e.path().display()));
            }
        }
        assert!(l.is_empty(), "{what}: left behind: {l:#?}");
    }
}

impl Drop for T {
    fn drop(&mut self) {
        let ids = self.ids.lock().unwrap().clone();
        for id in ids.iter().rev() {
            if self.state_dir_exists(id) {
                let o = self.outlet(&["delete", "--force", id]);
                if !o.ok() {
                    eprintln!("cleanup: delete --force {id}: {o:?}");
                }
            }
        }
        for f in self.cleanups.lock().unwrap().drain(..) {
            f();
        }
        let left = self.settle();
        // Last resort so one failure does not poison the machine: kill
        // what is still there by pid (only processes carrying our token or
        // pids we recorded), then remove dirs.
        for pid in processes_mentioning(&self.token).into_iter().chain(
            self.pids
                .lock()
                .unwrap()
                .iter()
                .copied()
                .filter(|p| pid_alive(*p)),
        ) {
            // SAFETY: plain kill(2) of a process this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // A killed task leaves its cgroup only once it has exited: retry.
        let deadline = Instant::now() + Duration::from_secs(5);
        for id in &ids {
            for d in cgroup_dirs_for(id) {
                while d.exists() && std::fs::remove_dir(&d).is_err() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
        if std::env::var_os("OUTLET_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        if !left.is_empty() && !std::thread::panicking() {
            panic!(
                "{}: left behind after delete --force: {left:#?}",
                self.token
            );
        }
    }
}

/// Waits for `child`; past `limit` it is killed and the test fails.
pub fn wait_timeout(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Where a cgroup named `id` would be: `<mount>/<id>` and
/// `<mount>/<own path>/<id>` for each of our own cgroup paths (the memory
/// hierarchy nests under the caller's cgroup here, the others sit at /).
pub fn cgroup_dirs_for(id: &str) -> Vec<PathBuf> {
    let mut own: Vec<String> = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2).map(str::to_string))
        .collect();
    own.push("/".to_string());
    own.sort();
    own.dedup();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    let mut mounts: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    // A unified host has the cgroup files right at /sys/fs/cgroup.
    mounts.push(PathBuf::from("/sys/fs/cgroup"));
    for m in mounts {
        if !m.is_dir() {
            continue;
        }
        for o in &own {
            out.push(m.join(o.trim_start_matches('/')).join(id));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Alive and not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// `pid` alive with no signal pending. kill(2) queues (or, for a fatal
/// default action, turns into a pending SIGKILL) before it returns, so
/// right after a command that might have signalled `pid` has returned,
/// "untouched" needs no sleep to let the signal land: a hit shows at once
/// as a pending bit, or as the death it caused.
pub fn untouched(pid: i32) -> bool {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let pending = |key: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap_or(u64::MAX))
            .unwrap_or(u64::MAX)
    };
    pid_alive(pid) && pending("SigPnd:") == 0 && pending("ShdPnd:") == 0
}

/// Host pids (other than us) whose cmdline or environment holds `token`:
/// outlet calls (their --root), hooks (bundle paths), container processes
/// (OUTLET_TEST in their env), and an init that never got to exec.
pub fn processes_mentioning(token: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me || !pid_alive(pid) {
            continue;
        }
        let hit = ["cmdline", "environ"].iter().any(|f| {
            std::fs::read(e.path().join(f))
                .map(|b| b.windows(token.len()).any(|w| w == token.as_bytes()))
                .unwrap_or(false)
        });
        if hit {
            out.push(pid);
        }
    }
    out
}

/// The inode of one of our own namespaces (`/proc/self/ns/<name>`).
pub fn host_ns(name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/ns/{name}"))
        .unwrap()
        .ino()
}

/// Remove the default namespace of `typ` from the config.
pub fn drop_ns(cfg: &mut Value, typ: &str) {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != typ);
}

pub fn sh(cfg: &mut Value, script: &str) {
    cfg["process"]["args"] = json!(["sh", "-c", script]);
}

/// `chown -R uid:gid p`, for what a test hands to a non-root account.
pub fn chown_r(p: &Path, uid: u32, gid: u32) {
    let st = Command::new("chown")
        .args(["-R", &format!("{uid}:{gid}")])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success(), "chown {}", p.display());
}

/// `id -u` and `id -g` of `user`, None when there is no such account.
pub fn uid_of(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, user]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// A shell loop printing one `fd N MAGIC KIND` line per fd the shell holds
/// (MAGIC: the statfs magic in hex as busybox's `stat -f -c %t` prints it;
/// KIND: `dir` or `other`), then `types-done`.
pub const FD_TYPES_SH: &str = r#"for f in /proc/$$/fd/*; do
  n=${f##*/}
  k=other; [ -d $f ] && k=dir
  echo "fd $n $(stat -L -f -c %t $f) $k"
done
echo types-done"#;

/// The (fd, magic, kind) lines of FD_TYPES_SH's output, sorted; panics
/// when the listing did not run to its end.
pub fn parse_fd_types(text: &str) -> Vec<(u32, String, String)> {
    assert!(
        text.contains("types-done"),
        "the fd listing did not run: {text:?}"
    );
    let mut v: Vec<(u32, String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("fd "))
        .map(|rest| {
            let w: Vec<&str> = rest.split_whitespace().collect();
            (w[0].parse().unwrap(), w[1].to_string(), w[2].to_string())
        })
        .collect();
    v.sort();
    v
}

/// The checks of the fd-listing tests (init_fds, exec_fds) on a process
/// that was started with fds 3 and 4 passed and --preserve-fds covering
/// more: it holds no overlayfs fd (the mount of outlet's binary) and no
/// directory, and the preserved fd 4 is there (so the listing is of the
/// right process).
#[track_caller]
pub fn assert_no_binary_mount(fds: &[(u32, String, String)], who: &str, o: &Out) {
    let overlay = format!("{:x}", nix::sys::statfs::OVERLAYFS_SUPER_MAGIC.0);
    assert!(
        fds.iter().all(|f| f.1 != overlay),
        "{who} holds an overlayfs fd (outlet's binary): {fds:?}\n{o:?}"
    );
    assert!(
        fds.iter().all(|f| f.2 != "dir"),
        "{who} holds a directory fd: {fds:?}\n{o:?}"
    );
    assert!(
        fds.iter().any(|f| f.0 == 4),
        "{who}: preserved fd 4 missing: {fds:?}"
    );
}

/// The host's v1 freezer hierarchy, which the attack tests of exec's
/// stall watch freeze sub-cgroups in (the v2 side runs in tests/vm).
pub fn needs_v1_freezer() {
    assert!(
        std::path::Path::new("/sys/fs/cgroup/freezer").is_dir(),
        "no v1 freezer hierarchy on this host (the v2 VM runs the v2 side)"
    );
}

/// The attack tests' controls are `OUTLET_*` knobs honoured only by debug
/// builds of outlet: a release build would pass them by ignoring them.
pub fn needs_debug_build() {
    if !cfg!(debug_assertions) {
        panic!("needs a debug build of outlet (its OUTLET_* controls)");
    }
}

/// The spec's cgroup mount made read-write: the container may make,
/// freeze and fill cgroups below its own and write its own cgroup's files.
pub fn rw_cgroup(c: &mut Value) {
    for m in c["mounts"].as_array_mut().unwrap() {
        if m["type"] == "cgroup" {
            m["options"] = json!(["nosuid", "noexec", "nodev", "relatime", "rw"]);
        }
    }
}

/// The value of the line `KEY=value` in what a container's script
/// printed; panics naming `what` when there is none.
pub fn report_value(report: &str, key: &str, what: &str) -> String {
    let prefix = format!("{key}=");
    report
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{what}: no {key} in {report}"))
        .to_string()
}

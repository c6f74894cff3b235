//! What the syscall-injection tests share (tests/crash_syscalls.rs kills
//! outlet at a syscall, tests/faults_s8.rs makes one fail): the release
//! binary, strace run beside the command, the per-process syscall counts
//! and their sample, and the checks after a round (a valid state, the
//! command's promise, `delete --force` leaving nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::{Bundle, OUTLET, Out, T, pid_alive, sh};

/// The release binary beside the debug one the harness builds. It must be
/// newer than every source file: a stale binary would test old code.
pub fn release_outlet() -> PathBuf {
    let debug = Path::new(OUTLET);
    let bin = if debug.parent().and_then(Path::file_name) == Some("release".as_ref()) {
        debug.to_path_buf()
    } else {
        let target = debug.parent().and_then(Path::parent).unwrap();
        target.join("release").join("outlet")
    };
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "the release binary {} is needed ({e}): build it with `cargo build --release` \
                 (scripts/test.sh does)",
                bin.display()
            )
        });
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest = newest_source(repo);
    if let Some((path, when)) = newest
        && when > built
    {
        panic!(
            "the release binary {} is older than {}: rebuild it with `cargo build --release`",
            bin.display(),
            path.display()
        );
    }
    bin
}

/// The most recently changed file of what the binary is built from.
pub fn newest_source(repo: &Path) -> Option<(PathBuf, SystemTime)> {
    let mut best: Option<(PathBuf, SystemTime)> = None;
    let mut todo = vec![repo.join("src")];
    let files = ["Cargo.toml", "Cargo.lock", "build.rs", ".cargo/config.toml"];
    let mut consider = |p: PathBuf| {
        if let Ok(t) = std::fs::metadata(&p).and_then(|m| m.modified())
            && best.as_ref().is_none_or(|(_, b)| t > *b)
        {
            best = Some((p, t));
        }
    };
    for f in files {
        consider(repo.join(f));
    }
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                consider(p);
            }
        }
    }
    best
}

/// strace, which scripts/install-deps.sh installs.
pub fn strace() -> PathBuf {
    for d in ["/usr/bin", "/bin", "/usr/local/bin"] {
        let p = Path::new(d).join("strace");
        if p.is_file() {
            return p;
        }
    }
    panic!("strace is not installed: scripts/install-deps.sh installs it");
}

/// One command under test and what holds after it was killed anywhere.
pub struct Case<'a> {
    pub name: &'a str,
    /// Brings the container `id` to where the command starts from (the
    /// same id every round: this is also the check that the id can be
    /// taken again right after the last round's delete).
    pub setup: &'a dyn Fn(&World),
    pub args: Vec<String>,
    /// Statuses `state` may read after the kill ("absent": no such
    /// container; "creating": a create that died before recording it).
    pub allowed: &'a [&'a str],
    /// The command's own promise, checked after the kill and before the
    /// clean-up (gets the status `state` read).
    pub promise: &'a dyn Fn(&World, &str),
    /// False only in the control, which leaves out `delete --force` to
    /// show that the checks see what a kill leaves.
    pub delete: bool,
    /// Kills when the environment does not say (see the file's comment).
    pub budget: usize,
}

/// What every round shares.
pub struct World<'a> {
    pub t: &'a T,
    pub bin: PathBuf,
    pub strace: PathBuf,
    pub id: String,
    pub bundle: Bundle,
}

impl World<'_> {
    pub fn call(&self, args: &[&str]) -> Out {
        self.t.call(&self.bin, args, &[])
    }

    #[track_caller]
    pub fn ok(&self, args: &[&str]) {
        self.call(args).expect_ok(&args.join(" "));
    }

    pub fn create(&self) {
        self.ok(&[
            "create",
            "--bundle",
            self.bundle.dir.to_str().unwrap(),
            &self.id,
        ]);
    }

    pub fn create_started(&self) {
        self.create();
        self.ok(&["start", &self.id]);
    }

    /// `outlet --root R ARGS` under `strace -f -D -o FILE EXTRA`; the
    /// command is our own child (strace runs beside it, -D), so its real
    /// exit status comes back. Returns it with the tracer's pid, if it
    /// is still tracing something.
    pub fn traced(
        &self,
        args: &[String],
        extra: &[String],
        tag: &str,
    ) -> (Out, PathBuf, Option<i32>) {
        self.traced_within(args, extra, tag, Duration::from_secs(60))
    }

    /// `traced` that fails the test (killing the command) past `limit`.
    pub fn traced_within(
        &self,
        args: &[String],
        extra: &[String],
        tag: &str,
        limit: Duration,
    ) -> (Out, PathBuf, Option<i32>) {
        let log = self.t.dir.join(format!("strace-{tag}.log"));
        let mut sargs: Vec<String> = vec!["-f".into(), "-D".into(), "-o".into()];
        sargs.push(log.to_str().unwrap().into());
        sargs.extend(extra.iter().cloned());
        sargs.push("--".into());
        sargs.push(self.bin.to_str().unwrap().into());
        sargs.push("--root".into());
        sargs.push(self.t.root.to_str().unwrap().into());
        sargs.extend(args.iter().cloned());
        let refs: Vec<&str> = sargs.iter().map(String::as_str).collect();
        let (mut cmd, so, se) = self.t.command_plain(&self.strace, &refs);
        let mut child = cmd.spawn().expect("spawn strace");
        let status = super::wait_timeout(&mut child, limit, tag);
        let tracer = pids_with_arg(log.to_str().unwrap()).into_iter().next();
        (Out::from_files(status, so, se), log, tracer)
    }
}

/// The counting run of `case` (traced through to the end, then deleted),
/// and the (name, n) pairs its rounds inject at: `PREFIX_EVERY=1` takes
/// every pair, `PREFIX_BUDGET=N` sets how many, `PREFIX_OFFSET=N` repeats
/// a run's sample (the offset is printed).
pub fn count_pairs(w: &World, case: &Case, prefix: &str, doing: &str) -> Vec<(String, u32)> {
    (case.setup)(w);
    let (o, log, tracer) = w.traced(&case.args, &[], "count");
    o.expect_ok(&format!(
        "{}: the traced command without an injection",
        case.name
    ));
    w.call(&["delete", "--force", &w.id])
        .expect_ok("delete after counting");
    wait_tracer(tracer, case.name);
    let text = std::fs::read_to_string(&log).unwrap();
    let counts = syscall_counts(&text, w.bin.to_str().unwrap());
    let total: u32 = counts.values().sum();
    let budget = if env_usize(&format!("{prefix}_EVERY")) == Some(1) {
        usize::MAX
    } else {
        env_usize(&format!("{prefix}_BUDGET")).unwrap_or(case.budget)
    };
    let offset = sample_offset(prefix);
    let pairs = sample(&counts, budget, offset);
    eprintln!(
        "{}: {total} syscalls of {} kinds (per process, most); {doing} at {} of them (offset {offset})",
        case.name,
        counts.len(),
        pairs.len()
    );
    pairs
}

/// Live pids whose command line holds `needle` as one argument.
pub fn pids_with_arg(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if cmd.split(|b| *b == 0).any(|a| a == needle.as_bytes()) && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// The processes `tracer` still traces, with their command lines.
pub fn tracees(tracer: i32) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let traced_by = status
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .and_then(|v| v.trim().parse::<i32>().ok());
        if traced_by == Some(tracer) {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// Per syscall name, the most calls any one process of the command made
/// (strace's injection counter is per name and per process), from a
/// `strace -f` log. A process stops counting at an execve that is not of
/// outlet's binary: what follows is the container's application.
pub fn syscall_counts(log: &str, bin: &str) -> BTreeMap<String, u32> {
    let mut per: BTreeMap<(i32, String), u32> = BTreeMap::new();
    let mut gone = std::collections::HashSet::new();
    // The first line is strace starting the command: an execve it does
    // not stop at (no injection lands there).
    for line in log.lines().skip(1) {
        let Some((pid, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        let rest = rest.trim_start();
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        if gone.contains(&pid) {
            continue;
        }
        *per.entry((pid, name.to_string())).or_default() += 1;
        if name == "execve" && !args.starts_with(&format!("\"{bin}\"")) {
            gone.insert(pid);
        }
    }
    let mut most: BTreeMap<String, u32> = BTreeMap::new();
    for ((_, name), n) in per {
        let m = most.entry(name).or_default();
        *m = (*m).max(n);
    }
    most
}

/// The (name, n) pairs to kill at: all of them, or every k-th with the
/// first and last call of each name always in.
pub fn sample(counts: &BTreeMap<String, u32>, budget: usize, offset: usize) -> Vec<(String, u32)> {
    let all: Vec<(String, u32)> = counts
        .iter()
        .flat_map(|(name, &max)| (1..=max).map(move |n| (name.clone(), n)))
        .collect();
    if all.len() <= budget {
        return all;
    }
    let ends = 2 * counts.len();
    let k = all.len().div_ceil(budget.saturating_sub(ends).max(1));
    all.into_iter()
        .enumerate()
        .filter(|(i, (name, n))| *n == 1 || *n == counts[name] || (i + offset).is_multiple_of(k))
        .map(|(_, p)| p)
        .collect()
}

/// `PREFIX_OFFSET`: a number repeats a sample, `pid` draws a new one each
/// run. Unset: crash_syscalls draws (its sample has been stable over many
/// runs), faults_s8 takes 0, so that a red suite is a regression rather
/// than a new draw (a new draw is explored by hand with `pid`).
pub fn sample_offset(prefix: &str) -> usize {
    match std::env::var(format!("{prefix}_OFFSET")).ok().as_deref() {
        Some("pid") => std::process::id() as usize,
        Some(v) => v.parse().unwrap_or(0),
        None if prefix == "FAULTS_S8" => 0,
        None => std::process::id() as usize,
    }
}

pub fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The status `state` reads now: a status, "absent" or "creating"; any
/// other answer (a damaged record, a crash) fails the round.
pub fn status_now(w: &World, round: &str) -> String {
    let o = w.call(&["state", &w.id]);
    if o.ok() {
        let v = o.json();
        return v["status"].as_str().unwrap_or("?").to_string();
    }
    if o.code == Some(1) && o.stderr.contains("does not exist") {
        return "absent".into();
    }
    if o.code == Some(1) && o.stderr.contains("is being created") {
        return "creating".into();
    }
    panic!("{round}: state gives no valid status: {o:#?}");
}

/// Where the commands that take --pid-file write it: alone in a directory,
/// so that what else is there is a stray.
pub fn pid_file(t: &T) -> PathBuf {
    let dir = t.dir.join("pidfile");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("pid")
}

/// Files beside the pid file: a killed writer's temporary.
pub fn pid_file_strays(t: &T) -> Vec<String> {
    std::fs::read_dir(t.dir.join("pidfile"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "pid")
        .collect()
}

/// Host mounts of the fixture rootfs (the harness looks for the token,
/// which that path does not hold), but for those mounted in another
/// test's own dirs: a test beside this one (another thread's checkpoint
/// holds its criu-root on the host) is no leftover of this one.
pub fn rootfs_mounts(t: &T) -> Vec<String> {
    let root = super::rootfs().to_str().unwrap().to_string();
    let others = |l: &str| {
        let point = l.split(' ').nth(4).unwrap_or("");
        point.contains("outlet-test-") && !point.contains(&t.token)
    };
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&root) && !others(l))
        .map(str::to_string)
        .collect()
}

/// Stray files in the seccomp cache: a killed writer's temporary.
pub fn cache_strays(t: &T) -> Vec<String> {
    let dir = t.root.join(".cache").join("seccomp");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".bpf"))
        .collect()
}

/// The tail of a strace log: where the command was when it died.
pub fn tail(log: &Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// The invariants after one kill.
pub fn check_round(w: &World, case: &Case, round: &str, o: &Out, log: &Path, tracer: Option<i32>) {
    let status = status_now(w, round);
    assert!(
        case.allowed.contains(&status.as_str()),
        "{round}: state reads {status:?}, not one of {:?}\n{o:#?}\nstrace:\n{}",
        case.allowed,
        tail(log)
    );
    (case.promise)(w, &status);
    if case.delete {
        let d = w.call(&["delete", "--force", &w.id]);
        assert!(
            d.ok() || (d.code == Some(1) && d.stderr.contains("does not exist")),
            "{round}: delete --force: {d:#?}\nstrace:\n{}",
            tail(log)
        );
    }
    wait_tracer(tracer, round);
    let left = w.t.settle();
    assert!(
        left.is_empty(),
        "{round}: left behind: {left:#?}\nstrace:\n{}",
        tail(log)
    );
    let strays = cache_strays(w.t);
    assert!(
        strays.is_empty(),
        "{round}: seccomp cache strays: {strays:?}"
    );
    let strays = pid_file_strays(w.t);
    assert!(
        strays.is_empty(),
        "{round}: beside the pid file: {strays:?}"
    );
    let mounts = rootfs_mounts(w.t);
    assert!(mounts.is_empty(), "{round}: host mounts left: {mounts:#?}");
}

/// strace exits once every process it traced is gone: one still traced
/// after `delete --force` is a process the killed command left behind.
pub fn wait_tracer(tracer: Option<i32>, round: &str) {
    let Some(tracer) = tracer else { return };
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(tracer) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if pid_alive(tracer) {
        let left = tracees(tracer);
        // SAFETY: kill(2) of the strace this test started (found by its
        // unique log path); it detaches from what it traces and exits.
        unsafe { libc::kill(tracer, libc::SIGTERM) };
        panic!("{round}: processes of the command outlived delete --force: {left:#?}");
    }
}

pub fn no_promise(_: &World, _: &str) {}

pub fn created(w: &World) {
    w.create();
}

pub fn created_started(w: &World) {
    w.create_started();
}

pub fn sleeper(t: &T, tag: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
    t.bundle(tag, |c| {
        sh(c, "exec sleep 1000");
        edit(c);
    })
}

/// After a killed exec the container runs on, usable, with no process of
/// outlet's (a helper, or the process before its execve) left in its
/// cgroup or its namespaces, and nothing in its namespaces that is not in
/// every one of its cgroups.
pub fn exec_promise(w: &World, _: &str) {
    let st = w.call(&["state", &w.id]).json();
    let init = st["pid"].as_i64().unwrap() as i32;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let bad = half_joined(w, init);
        if bad.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}: half-joined after a killed exec: {bad:#?}",
            w.id
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    w.ok(&["exec", &w.id, "true"]);
}

/// Processes that are in the container's cgroups or namespaces but not
/// wholly its own: outlet's code (its command line names our state root)
/// inside, a process in its namespaces missing from one of its cgroups,
/// or one in its cgroups outside its pid or mount namespace.
pub fn half_joined(w: &World, init: i32) -> Vec<String> {
    let ns = |pid: &str, n: &str| std::fs::read_link(format!("/proc/{pid}/ns/{n}")).ok();
    let init_s = init.to_string();
    let (init_pid_ns, init_mnt_ns) = (ns(&init_s, "pid"), ns(&init_s, "mnt"));
    assert!(init_pid_ns.is_some(), "the init {init} is gone");
    let dirs: Vec<PathBuf> = super::cgroup_dirs_for(&w.id)
        .into_iter()
        .filter(|d| d.join("cgroup.procs").exists())
        .collect();
    let procs: Vec<Vec<String>> = dirs
        .iter()
        .map(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()
        })
        .collect();
    let root = w.t.root.to_str().unwrap().as_bytes().to_vec();
    let mut bad = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        let Ok(p) = pid.parse::<i32>() else { continue };
        if !pid_alive(p) {
            continue;
        }
        let in_all = procs.iter().all(|l| l.contains(&pid));
        let in_any = procs.iter().any(|l| l.contains(&pid));
        let (same_pid, same_mnt) = (
            ns(&pid, "pid") == init_pid_ns,
            ns(&pid, "mnt") == init_mnt_ns,
        );
        let in_ns = same_pid || same_mnt;
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let outlet = cmd.windows(root.len()).any(|x| x == root.as_slice());
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if (in_any || in_ns) && outlet {
            bad.push(format!("{pid} runs outlet's code inside: {cmd}"));
        } else if in_ns && !in_all {
            bad.push(format!(
                "{pid} is in the namespaces, not in every cgroup: {cmd}"
            ));
        } else if in_any && !in_all {
            bad.push(format!("{pid} is in some of the cgroups only: {cmd}"));
        } else if in_any && !(same_pid && same_mnt) {
            bad.push(format!(
                "{pid} is in the cgroups, not in the namespaces: {cmd}"
            ));
        }
    }
    bad
}

//! Crash injection at every syscall: the *release* binary (the one users
//! run, without the debug builds' named fault points of tests/crash.rs) is
//! SIGKILLed by strace at each system call of a command that changes
//! state, and after every kill the invariants its callers rely on must
//! hold:
//!
//! - `state ID` reads a valid status (or says the container does not
//!   exist or is being created, where that can be true), never a damaged
//!   record;
//! - the command's own promise (below, per command: a killed `start`
//!   leaves a container that a second `start` starts, a killed `pause` one
//!   that `resume` thaws, a killed `exec` no process of outlet's left
//!   half-joined in the container's cgroup or namespaces, ...);
//! - `delete --force ID` exits 0, and afterwards nothing is left: no state
//!   dir, no cgroup directory in any hierarchy, no process the command
//!   started (every process strace traced is gone, which is what lets
//!   strace exit), no host mount, no stray file in the seccomp cache;
//! - the same id can be created again at once.
//!
//! How a kill lands on "every syscall": strace counts injections per
//! syscall *name* and per process (`--inject=all:when=N` kills at the
//! first syscall that is some name's N-th, not at the N-th syscall), so one
//! counting run (`strace -f`) lists, for each syscall name, the most
//! invocations any one process of the command made, and each kill run is
//! `--inject=NAME:signal=SIGKILL:when=N` for one (NAME, N) pair: together
//! they stop the command at each of its syscalls. Every process of the
//! command that reaches its own N-th NAME dies there too (the init and the
//! exec helper with outlet), which is a crash as real as any. To keep a
//! command under about a minute on a loaded 2-core machine, a run kills
//! at a sample (240 pairs for create and run, 120 for the others): every k-th
//! pair, and the first and last of each name always (every kind of
//! syscall is killed at least once), from an offset that changes from run
//! to run and is printed; `CRASH_SYSCALLS_EVERY=1` takes every pair,
//! `CRASH_SYSCALLS_BUDGET=N` sets the number of kills per command and
//! `CRASH_SYSCALLS_OFFSET=N` repeats a run's sample.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::{Bundle, OUTLET, Out, T, pid_alive, sh};
use serde_json::json;

/// Kills per command when the environment does not say: a create round
/// costs about a third of one that first makes and starts a container.
const CREATE_BUDGET: usize = 240;
const DEFAULT_BUDGET: usize = 120;

/// The release binary beside the debug one the harness builds. It must be
/// newer than every source file: a stale binary would test old code.
fn release_outlet() -> PathBuf {
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
fn newest_source(repo: &Path) -> Option<(PathBuf, SystemTime)> {
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
fn strace() -> PathBuf {
    for d in ["/usr/bin", "/bin", "/usr/local/bin"] {
        let p = Path::new(d).join("strace");
        if p.is_file() {
            return p;
        }
    }
    panic!("strace is not installed: scripts/install-deps.sh installs it");
}

/// One command under test and what holds after it was killed anywhere.
struct Case<'a> {
    name: &'a str,
    /// Brings the container `id` to where the command starts from (the
    /// same id every round: this is also the check that the id can be
    /// taken again right after the last round's delete).
    setup: &'a dyn Fn(&World),
    args: Vec<String>,
    /// Statuses `state` may read after the kill ("absent": no such
    /// container; "creating": a create that died before recording it).
    allowed: &'a [&'a str],
    /// The command's own promise, checked after the kill and before the
    /// clean-up (gets the status `state` read).
    promise: &'a dyn Fn(&World, &str),
    /// False only in the control, which leaves out `delete --force` to
    /// show that the checks see what a kill leaves.
    delete: bool,
    /// Kills when the environment does not say (see the file's comment).
    budget: usize,
}

/// What every round shares.
struct World<'a> {
    t: &'a T,
    bin: PathBuf,
    strace: PathBuf,
    id: String,
    bundle: Bundle,
}

impl World<'_> {
    fn call(&self, args: &[&str]) -> Out {
        self.t.call(&self.bin, args, &[])
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) {
        self.call(args).expect_ok(&args.join(" "));
    }

    fn create(&self) {
        self.ok(&[
            "create",
            "--bundle",
            self.bundle.dir.to_str().unwrap(),
            &self.id,
        ]);
    }

    fn create_started(&self) {
        self.create();
        self.ok(&["start", &self.id]);
    }

    /// `outlet --root R ARGS` under `strace -f -D -o FILE EXTRA`; the
    /// command is our own child (strace runs beside it, -D), so its real
    /// exit status comes back. Returns it with the tracer's pid, if it
    /// is still tracing something.
    fn traced(&self, args: &[String], extra: &[String], tag: &str) -> (Out, PathBuf, Option<i32>) {
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
        let status = common::wait_timeout(&mut child, Duration::from_secs(60), tag);
        let tracer = pids_with_arg(log.to_str().unwrap()).into_iter().next();
        (Out::from_files(status, so, se), log, tracer)
    }
}

/// Live pids whose command line holds `needle` as one argument.
fn pids_with_arg(needle: &str) -> Vec<i32> {
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
fn tracees(tracer: i32) -> Vec<String> {
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
fn syscall_counts(log: &str, bin: &str) -> BTreeMap<String, u32> {
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
fn sample(counts: &BTreeMap<String, u32>, budget: usize, offset: usize) -> Vec<(String, u32)> {
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

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The status `state` reads now: a status, "absent" or "creating"; any
/// other answer (a damaged record, a crash) fails the round.
fn status_now(w: &World, round: &str) -> String {
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
fn pid_file(t: &T) -> PathBuf {
    let dir = t.dir.join("pidfile");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("pid")
}

/// Files beside the pid file: a killed writer's temporary.
fn pid_file_strays(t: &T) -> Vec<String> {
    std::fs::read_dir(t.dir.join("pidfile"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "pid")
        .collect()
}

/// Host mounts of the fixture rootfs (the harness looks for the token,
/// which that path does not hold).
fn rootfs_mounts() -> Vec<String> {
    let root = common::rootfs().to_str().unwrap().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&root))
        .map(str::to_string)
        .collect()
}

/// Stray files in the seccomp cache: a killed writer's temporary.
fn cache_strays(t: &T) -> Vec<String> {
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
fn tail(log: &Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// Every round of one case: count, then kill at each sampled pair.
fn run_case(t: &T, bundle: Bundle, case: &Case) {
    let w = World {
        t,
        bin: release_outlet(),
        strace: strace(),
        id: t.id(case.name),
        bundle,
    };
    let started = Instant::now();
    // The counting run, through to the end of the command.
    (case.setup)(&w);
    let (o, log, tracer) = w.traced(&case.args, &[], "count");
    o.expect_ok(&format!("{}: the traced command without a kill", case.name));
    let text = {
        w.call(&["delete", "--force", &w.id])
            .expect_ok("delete after counting");
        wait_tracer(tracer, case.name);
        std::fs::read_to_string(&log).unwrap()
    };
    let counts = syscall_counts(&text, w.bin.to_str().unwrap());
    let total: u32 = counts.values().sum();
    let budget = if env_usize("CRASH_SYSCALLS_EVERY") == Some(1) {
        usize::MAX
    } else {
        env_usize("CRASH_SYSCALLS_BUDGET").unwrap_or(case.budget)
    };
    let offset = env_usize("CRASH_SYSCALLS_OFFSET").unwrap_or(std::process::id() as usize);
    let pairs = sample(&counts, budget, offset);
    eprintln!(
        "{}: {total} syscalls of {} kinds (per process, most); killing at {} of them (offset {offset})",
        case.name,
        counts.len(),
        pairs.len()
    );
    // Rounds where the command itself died, where only another of its
    // processes did (the init, the exec helper), and where no kill landed
    // (a call that run made fewer times than the counting run).
    let (mut command, mut other, mut none) = (0, 0, Vec::new());
    for (name, n) in &pairs {
        let round = format!("{} killed at {name} #{n}", case.name);
        (case.setup)(&w);
        let inject = vec![
            "-e".to_string(),
            format!("trace={name}"),
            format!("--inject={name}:signal=SIGKILL:when={n}"),
        ];
        let (o, log, tracer) = w.traced(&case.args, &inject, "kill");
        if o.signal == Some(libc::SIGKILL) {
            command += 1;
        } else if std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("+++ killed by SIGKILL +++")
        {
            other += 1;
        } else {
            none.push(format!("{name} #{n}"));
        }
        check_round(&w, case, &round, &o, &log, tracer);
    }
    // The id once more after the last round.
    (case.setup)(&w);
    w.ok(&["delete", "--force", &w.id]);
    eprintln!(
        "{}: {command} rounds killed the command, {other} another of its processes, {} none \
         ({:?}); {:.1}s",
        case.name,
        none.len(),
        none,
        started.elapsed().as_secs_f64()
    );
    // Polling loops (a death, a freeze) run a varying number of times.
    assert!(
        none.len() * 4 <= pairs.len(),
        "{}: too many kills did not land ({} of {}): the counting run is not what the \
         rounds run",
        case.name,
        none.len(),
        pairs.len()
    );
}

/// The invariants after one kill.
fn check_round(w: &World, case: &Case, round: &str, o: &Out, log: &Path, tracer: Option<i32>) {
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
    let mounts = rootfs_mounts();
    assert!(mounts.is_empty(), "{round}: host mounts left: {mounts:#?}");
}

/// strace exits once every process it traced is gone: one still traced
/// after `delete --force` is a process the killed command left behind.
fn wait_tracer(tracer: Option<i32>, round: &str) {
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

fn no_promise(_: &World, _: &str) {}

fn created(w: &World) {
    w.create();
}

fn created_started(w: &World) {
    w.create_started();
}

fn sleeper(t: &T, tag: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
    t.bundle(tag, |c| {
        sh(c, "exec sleep 1000");
        edit(c);
    })
}

fn create_case(tag: &str, fresh_cache: bool, edit: impl FnOnce(&mut serde_json::Value)) {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, tag, edit);
    let pid_file = pid_file(&t);
    let args = vec![
        "create".to_string(),
        "--bundle".into(),
        b.dir.to_str().unwrap().into(),
        "--pid-file".into(),
        pid_file.to_str().unwrap().into(),
        t.id(tag),
    ];
    // The id is taken again (and given back) right after the last
    // round's clean-up. Then, for the seccomp case, a cache miss: the
    // compiled filter is written (and so killed mid-write) every round,
    // not only in the first.
    let cache = t.root.join(".cache");
    let setup = move |w: &World| {
        w.create();
        w.ok(&["delete", "--force", &w.id]);
        if fresh_cache {
            let _ = std::fs::remove_dir_all(&cache);
        }
    };
    let case = Case {
        name: tag,
        setup: &setup,
        args,
        allowed: &["absent", "creating", "created", "stopped"],
        promise: &no_promise,
        delete: true,
        budget: CREATE_BUDGET,
    };
    run_case(&t, b, &case);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_killed_at_any_syscall() {
    create_case("create", false, |_| {});
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_with_limits_killed_at_any_syscall() {
    create_case("create-limits", false, |c| {
        c["linux"]["resources"] = json!({
            "memory": {"limit": 64 << 20},
            "cpu": {"quota": 25000, "period": 100000},
        });
    });
}

/// More than 32 rules (the filter's binary-tree layout), none of which
/// the container's setup or `sleep` calls.
const DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "migrate_pages",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "perf_event_open",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "settimeofday",
    "swapoff",
    "swapon",
    "sysfs",
    "_sysctl",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn create_with_seccomp_killed_at_any_syscall() {
    create_case("create-seccomp", true, |c| {
        let rules: Vec<_> = DENIED
            .iter()
            .map(|n| json!({"names": [n], "action": "SCMP_ACT_ERRNO"}))
            .collect();
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": rules,
        });
    });
}

/// A case on a container made by `setup` (the release binary, not
/// traced), killed in `args` (ID is replaced by the container's id).
fn lifecycle_case(
    tag: &str,
    setup: &dyn Fn(&World),
    args: &[&str],
    allowed: &[&str],
    promise: &dyn Fn(&World, &str),
    edit: impl FnOnce(&mut serde_json::Value),
) {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, tag, edit);
    let id = format!("{}-{tag}", t.token);
    // run's rounds make their container themselves: create's cost.
    let budget = if args[0] == "run" {
        CREATE_BUDGET
    } else {
        DEFAULT_BUDGET
    };
    let args: Vec<String> = args
        .iter()
        .map(|a| match *a {
            "ID" => id.clone(),
            "BUNDLE" => b.dir.to_str().unwrap().to_string(),
            "PIDFILE" => pid_file(&t).to_str().unwrap().to_string(),
            _ => a.to_string(),
        })
        .collect();
    let case = Case {
        name: tag,
        setup,
        args,
        allowed,
        promise,
        delete: true,
        budget,
    };
    run_case(&t, b, &case);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn start_killed_at_any_syscall() {
    // A container still "created" after the kill starts with a second
    // `start`, as a caller retrying it expects.
    let promise = |w: &World, status: &str| {
        if status == "created" {
            w.ok(&["start", &w.id]);
            assert_eq!(status_now(w, "start again"), "running");
        }
    };
    lifecycle_case(
        "start",
        &created,
        &["start", "ID"],
        &["created", "running"],
        &promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn delete_killed_at_any_syscall() {
    lifecycle_case(
        "delete",
        &created_started,
        &["delete", "--force", "ID"],
        &["absent", "creating", "running", "stopped"],
        &no_promise,
        |c| c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}}),
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn kill_killed_at_any_syscall() {
    // `sleep` as the pid namespace's init ignores SIGUSR1 (no handler):
    // the container stays up, so `kill --all` walks the cgroup each round.
    lifecycle_case(
        "kill",
        &created_started,
        &["kill", "--all", "ID", "USR1"],
        &["running"],
        &no_promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn pause_killed_at_any_syscall() {
    // Half a freeze is not a state: whatever `state` reads, `resume`
    // (when paused) or nothing at all (when running) leaves the container
    // running and its processes not frozen.
    let promise = |w: &World, status: &str| {
        if status == "paused" {
            w.ok(&["resume", &w.id]);
        }
        assert_eq!(status_now(w, "after pause"), "running");
        w.ok(&["exec", &w.id, "true"]);
    };
    lifecycle_case(
        "pause",
        &created_started,
        &["pause", "ID"],
        &["running", "paused"],
        &promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn resume_killed_at_any_syscall() {
    let setup = |w: &World| {
        w.create_started();
        w.ok(&["pause", &w.id]);
    };
    // delete --force of a paused container thaws it first: checked by
    // every round's clean-up.
    lifecycle_case(
        "resume",
        &setup,
        &["resume", "ID"],
        &["running", "paused"],
        &no_promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_killed_at_any_syscall() {
    // A second update after the kill works, and writes what it says.
    let promise = |w: &World, _: &str| {
        w.ok(&["update", "--memory", "48m", "--cpu-quota", "30000", &w.id]);
    };
    lifecycle_case(
        "update",
        &created_started,
        &[
            "update",
            "--memory",
            "96m",
            "--cpu-quota",
            "20000",
            "--pids-limit",
            "50",
            "ID",
        ],
        &["running"],
        &promise,
        |c| {
            c["linux"]["resources"] = json!({
                "memory": {"limit": 64 << 20},
                "cpu": {"quota": 25000, "period": 100000},
                "pids": {"limit": 64},
            })
        },
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_killed_at_any_syscall() {
    // Foreground: the container runs a moment and exits 3; `run` deletes
    // it then.
    lifecycle_case(
        "run",
        &|_| {},
        &["run", "--bundle", "BUNDLE", "ID"],
        &["absent", "creating", "created", "running", "stopped"],
        &no_promise,
        |c| sh(c, "true"),
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn run_detached_killed_at_any_syscall() {
    lifecycle_case(
        "run-d",
        &|_| {},
        &["run", "--detach", "--bundle", "BUNDLE", "ID"],
        &["absent", "creating", "created", "running", "stopped"],
        &no_promise,
        |_| {},
    );
}

/// After a killed exec the container runs on, usable, with no process of
/// outlet's (a helper, or the process before its execve) left in its
/// cgroup or its namespaces, and nothing in its namespaces that is not in
/// every one of its cgroups.
fn exec_promise(w: &World, _: &str) {
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
fn half_joined(w: &World, init: i32) -> Vec<String> {
    let ns = |pid: &str, n: &str| std::fs::read_link(format!("/proc/{pid}/ns/{n}")).ok();
    let init_s = init.to_string();
    let (init_pid_ns, init_mnt_ns) = (ns(&init_s, "pid"), ns(&init_s, "mnt"));
    assert!(init_pid_ns.is_some(), "the init {init} is gone");
    let dirs: Vec<PathBuf> = common::cgroup_dirs_for(&w.id)
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

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_detached_killed_at_any_syscall() {
    lifecycle_case(
        "exec-d",
        &created_started,
        &[
            "exec",
            "--detach",
            "--pid-file",
            "PIDFILE",
            "ID",
            "sleep",
            "999",
        ],
        &["running"],
        &exec_promise,
        |_| {},
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_killed_at_any_syscall() {
    lifecycle_case(
        "exec",
        &created_started,
        &["exec", "ID", "true"],
        &["running"],
        &exec_promise,
        |_| {},
    );
}

/// The control of every case above: a create killed once its init exists
/// and is on record (at the pid file's link, after state.json), with the
/// round's `delete --force` left out, fails the round's checks; the same
/// round with it passes.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_a_kill_not_cleaned_up_fails_the_checks() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "ctl", |_| {});
    let id = t.id("ctl");
    let args: Vec<String> = ["create", "--bundle", b.dir.to_str().unwrap(), "--pid-file"]
        .iter()
        .map(|s| s.to_string())
        .chain([pid_file(&t).to_str().unwrap().to_string(), id.clone()])
        .collect();
    let w = World {
        t: &t,
        bin: release_outlet(),
        strace: strace(),
        id,
        bundle: b,
    };
    let inject = [
        "-e",
        "trace=linkat",
        "--inject=linkat:signal=SIGKILL:when=1",
    ]
    .map(String::from);
    for delete in [false, true] {
        let case = Case {
            name: "control",
            setup: &|_| {},
            args: args.clone(),
            allowed: &["created", "stopped"],
            promise: &no_promise,
            delete,
            budget: 1,
        };
        let (o, log, tracer) = w.traced(&case.args, &inject, "control");
        assert_eq!(o.signal, Some(libc::SIGKILL), "not killed: {o:#?}");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_round(&w, &case, "control", &o, &log, tracer)
        }));
        if delete {
            assert!(r.is_ok(), "the same round with delete --force failed");
        } else {
            let msg = r.expect_err("the checks passed with the container left");
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains("left behind"), "{msg}");
            assert!(msg.contains("state dir") && msg.contains("cgroup"), "{msg}");
            w.ok(&["delete", "--force", &w.id]);
        }
    }
}

/// The control of `half_joined`: a process put into the container's
/// mount namespace from outside (nsenter, no fork: it stays in our
/// cgroups) is reported, and nothing is once it is gone.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_half_joined_sees_a_process_outside_the_cgroup() {
    let Some(t) = T::new() else { return };
    let b = sleeper(&t, "hj", |_| {});
    let w = World {
        t: &t,
        bin: release_outlet(),
        strace: strace(),
        id: t.id("hj"),
        bundle: b,
    };
    w.create_started();
    let init = w.call(&["state", &w.id]).json()["pid"].as_i64().unwrap() as i32;
    assert!(
        half_joined(&w, init).is_empty(),
        "before: {:?}",
        half_joined(&w, init)
    );
    let mut intruder = std::process::Command::new("nsenter")
        .args(["-t", &init.to_string(), "-m", "-F", "--", "sleep", "1000"])
        .spawn()
        .expect("nsenter");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while seen.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        seen = half_joined(&w, init);
    }
    let _ = intruder.kill();
    let _ = intruder.wait();
    assert!(
        seen.iter()
            .any(|s| s.starts_with(&format!("{} ", intruder.id()))),
        "not seen: {seen:?}"
    );
    assert!(
        half_joined(&w, init).is_empty(),
        "after: {:?}",
        half_joined(&w, init)
    );
    w.ok(&["delete", "--force", &w.id]);
}

//! The attacker's review of session 5, played in real containers.
//!
//! 1. outlet installed on a read-only mount runs without a protected copy
//!    (`Exe::ReadOnlyMount`): every handle on its file goes through that
//!    mount. A container holding CAP_SYS_ADMIN (the spec gives it; no user
//!    namespace, so nothing in its mount namespace is locked) tries to make
//!    that mount writable through /proc/PID/exe of a process running
//!    outlet's file inside it: the init execs an image's
//!    `#!/proc/self/exe` script, so the kernel runs outlet again there,
//!    held running by a full stderr. The fixture's `probe unlock-exe`
//!    clones the file's mount (open_tree OPEN_TREE_CLONE), clears
//!    MOUNT_ATTR_RDONLY on the clone (mount_setattr), remounts the magic
//!    link rw (MS_REMOUNT|MS_BIND) and write-opens /proc/PID/map_files,
//!    then writes `HUNTER` through whatever opened. With pivot_root and
//!    with --no-pivot (where the host's mounts stay in the container's
//!    namespace, under its root) alike, the kernel refuses: a process's
//!    exe keeps the mount it was executed from, the caller's, and
//!    open_tree and remount act only on mounts of the caller's own
//!    namespace (EINVAL); map_files answers ETXTBSY while the file runs.
//!    The control shows the same probe does unlock a read-only bind and
//!    write through it when the mount is one of the container's own (a
//!    read-only bind of a host directory in the spec), so the attack is
//!    real and the tests can fail.
//! 2. The overlay's mount fd that crosses the re-exec as
//!    `_OUTLET_PROTECTED_EXE=mnt:N`: every hook (prestart, createRuntime,
//!    createContainer, startContainer, poststart), the application and an
//!    exec'd process list their fds and environment, with the caller's
//!    --preserve-fds range over the number the fd gets; none holds an
//!    overlayfs fd or sees the variable (control: /sys passed at fd 5 in
//!    that range is listed, with its filesystem). The variable set by the
//!    caller's environment is not taken at its word: an unprotected
//!    binary refuses to run with it.
//! 3. The bump arena: random use with hostile sizes and alignments, and
//!    a config far past its size run through outlet (see below). Control,
//!    run by hand: a realloc that copies half the old block (arena.rs
//!    changed for the run, then restored) fails both arena tests with
//!    "realloc lost bytes".
//!
//! The container tests need root (ignored otherwise); the arena's do not.

mod common;

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{OUTLET, T, sh, wait_timeout};
use serde_json::{Value, json};

const SLEEPER: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

/// A copy of outlet on a read-only bind mount of its own directory (made
/// for this test under its dir, unmounted by the harness's cleanup too).
struct RoOutlet {
    bin: PathBuf,
    before: Vec<u8>,
    dir: String,
}

impl RoOutlet {
    fn new(t: &T) -> RoOutlet {
        let dir = t.dir.join("ro-bin");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("outlet-copy");
        std::fs::copy(OUTLET, &bin).unwrap();
        let before = std::fs::read(&bin).unwrap();
        let d = dir.to_str().unwrap().to_string();
        run(&["mount", "--bind", &d, &d]);
        t.on_cleanup({
            let d = d.clone();
            move || {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(&d)
                    .stderr(Stdio::null())
                    .status();
            }
        });
        run(&["mount", "-o", "remount,bind,ro", &d]);
        RoOutlet {
            bin,
            before,
            dir: d,
        }
    }

    fn unchanged(&self) -> bool {
        std::fs::read(&self.bin).unwrap() == self.before
    }

    fn unmount(&self) {
        run(&["umount", &self.dir]);
    }
}

fn run(args: &[&str]) {
    let st = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(st.success(), "{args:?}");
}

fn add_caps(c: &mut Value, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        let list = c["process"]["capabilities"][set].as_array_mut().unwrap();
        for cap in caps {
            list.push(json!(cap));
        }
    }
}

fn share_pid_ns(c: &mut Value, pid: i32) {
    for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "pid" {
            ns["path"] = json!(format!("/proc/{pid}/ns/pid"));
        }
    }
}

/// A pipe whose write end is full: a process writing to it blocks until
/// the read end is drained. The victim's stderr, so that outlet's file,
/// run by the kernel for the script, stays running while the probe looks.
fn full_pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let flags = nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(w.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags)).unwrap();
    let chunk = [b'.'; 4096];
    while nix::unistd::write(&w, &chunk).is_ok() {}
    while nix::unistd::write(&w, b".").is_ok() {}
    nix::fcntl::fcntl(
        w.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )
    .unwrap();
    (r, w)
}

/// Reads what arrives on `r` until EOF, in a thread (the victim's blocked
/// write goes through, and its exit ends the stream).
fn drain(r: OwnedFd) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(r);
        let mut all = Vec::new();
        let _ = f.read_to_end(&mut all);
        all
    })
}

/// The container whose init execs `#!/proc/self/exe` (outlet's file runs
/// again, inside it, blocked on a full stderr), with the probe exec'd in
/// beforehand: the probe's report.
fn unlock_attack(t: &T, rt: &RoOutlet, no_pivot: bool) -> Value {
    // The pid namespace belongs to a sleeper, so that the probe outlives
    // the victim's init.
    let holder = t.bundle("holder", |c| sh(c, SLEEPER));
    let holder_id = t.id("holder");
    let holder_pid = t.create_ok(&holder_id, &holder);
    t.outlet(&["start", &holder_id]).expect_ok("start holder");
    let victim = t.bundle("victim", |c| {
        c["process"]["args"] = json!(["/bin/victim"]);
        add_caps(c, &["CAP_SYS_ADMIN"]);
        share_pid_ns(c, holder_pid);
    });
    let rootfs = victim.own_rootfs();
    let script = rootfs.join("bin/victim");
    std::fs::write(&script, b"#!/proc/self/exe\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = t.id("victim");
    let bs = victim.dir.to_str().unwrap();
    let mut args = vec!["create", "--bundle", bs];
    if no_pivot {
        args.push("--no-pivot");
    }
    args.push(&id);
    let (r, w) = full_pipe();
    let (mut cmd, so, se) = t.command(&rt.bin, &args);
    cmd.stderr(Stdio::from(w));
    let mut child = cmd.spawn().unwrap();
    // The Command keeps the pipe's write end open: the drain below would
    // never see EOF.
    drop(cmd);
    let st = wait_timeout(&mut child, Duration::from_secs(60), "create");
    let _ = se;
    assert!(st.success(), "create: {st:?}, stdout {so:?}");
    t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
    t.outlet(&[
        "exec",
        "--detach",
        &id,
        "sh",
        "-c",
        "probe unlock-exe 30 /out/stop > /out/unlock.json.tmp; mv /out/unlock.json.tmp /out/unlock.json",
    ])
    .expect_ok("exec the probe");
    std::thread::sleep(Duration::from_millis(300));
    let start = t.outlet(&["start", &id]);
    start.expect_ok("start victim");
    // Outlet's file runs inside the container, stuck on its stderr.
    std::thread::sleep(Duration::from_millis(1500));
    let stream = drain(r);
    t.wait_status(&id, "stopped");
    let _ = stream.join();
    // Every outlet process that ran the file is gone: a write-open no
    // longer meets ETXTBSY. Let the probe retry, then stop it.
    std::thread::sleep(Duration::from_millis(1000));
    std::fs::write(victim.out.join("stop"), b"").unwrap();
    let report = victim.wait_json("unlock.json");
    for i in [&id, &holder_id] {
        t.outlet(&["delete", "--force", i])
            .expect_ok("delete --force");
    }
    rt.unmount();
    t.assert_nothing_left("after the attack");
    report
}

/// What the probe must have reached for the attack to count: outlet's
/// file, as the kernel ran it for the script.
fn caught_outlet(report: &Value) -> bool {
    report["caught"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .any(|s| s.ends_with("outlet-copy"))
}

#[track_caller]
fn assert_held(rt: &RoOutlet, report: &Value) {
    eprintln!("probe: {report}");
    assert!(caught_outlet(report), "never reached outlet: {report}");
    assert!(
        rt.unchanged(),
        "{} was rewritten from inside a container: {report}",
        rt.bin.display()
    );
    assert_eq!(report["unlocked"], json!([]), "{report}");
    assert_eq!(report["write_opens"], json!([]), "{report}");
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn read_only_mount_exe_cannot_be_made_writable_with_cap_sys_admin() {
    let Some(t) = T::new() else { return };
    let rt = RoOutlet::new(&t);
    let report = unlock_attack(&t, &rt, false);
    assert_held(&rt, &report);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn no_pivot_read_only_mount_exe_cannot_be_made_writable_with_cap_sys_admin() {
    let Some(t) = T::new() else { return };
    let rt = RoOutlet::new(&t);
    let report = unlock_attack(&t, &rt, true);
    assert_held(&rt, &report);
}

/// The control: a read-only bind of a host directory that is the
/// container's own mount (in its namespace, not locked: no user
/// namespace) is cloned, unlocked and written by the same probe.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn control_a_read_only_bind_in_the_containers_namespace_is_made_writable() {
    let Some(t) = T::new() else { return };
    let host = t.dir.join("host-ro");
    std::fs::create_dir_all(&host).unwrap();
    let file = host.join("target");
    std::fs::write(&file, b"original").unwrap();
    let b = t.bundle("control", |c| {
        add_caps(c, &["CAP_SYS_ADMIN"]);
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/ro", "type": "bind", "source": host,
            "options": ["rbind", "ro"]
        }));
        c["process"]["args"] = json!(["probe", "unlock-exe", "0.5", "/out/stop", "/ro/target"]);
    });
    let id = t.id("control");
    let out = t.run(&id, &b);
    out.expect_ok("run the control");
    let report: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    eprintln!("probe: {report}");
    assert!(
        std::fs::read(&file).unwrap().starts_with(b"HUNTER"),
        "control: the probe did not write through the read-only bind: {report}"
    );
    assert_ne!(report["unlocked"], json!([]), "{report}");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the control");
}

// ---------------------------------------------------------------------
// 2. The overlay's mount fd and the mark that carries it across the
//    re-exec (`_OUTLET_PROTECTED_EXE=mnt:N`): no hook, no container
//    process holds the fd or sees the variable, also when the caller's
//    --preserve-fds range covers the number the fd got; a mark the
//    caller's environment sets is not trusted.

const MARK: &str = "_OUTLET_PROTECTED_EXE";

/// common::FD_TYPES_SH's listing, with the shell's fd directory found
/// through /proc/self: a hook run in the container's pid namespace sees
/// the host's procfs, where `$$` names another process.
const FD_TYPES_SELF_SH: &str = r#"cd /proc/self/fd; d=$(pwd -P); cd /
for f in $d/*; do
  n=${f##*/}
  k=other; [ -d $f ] && k=dir
  echo "fd $n $(stat -L -f -c %t $f) $k"
done
echo types-done"#;

/// A shell script that lists its environment and fds into `file`.
fn listing_script(file: &str) -> String {
    format!("exec >{file}; env; {FD_TYPES_SELF_SH}")
}

fn listing_hook(file: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", listing_script(file)]})
}

/// The listing `file` holds once its writer is done.
fn listing(file: &std::path::Path) -> (Vec<(u32, String, String)>, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.contains("types-done") {
            return (common::parse_fd_types(&text), text);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no listing in {file:?}: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

const OVERLAY_MAGIC: &str = "794c7630";
const SYSFS_MAGIC: &str = "62656572";

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn hooks_and_processes_get_neither_the_overlay_mount_nor_the_mark() {
    use std::os::fd::AsRawFd;
    let Some(t) = T::new() else { return };
    let out = |name: &str| format!("{}/{name}", t.dir.join("b/out").display());
    let b = t.bundle("b", |c| {
        c["process"]["args"] = json!(["sh", "-c", listing_script("/out/app")]);
        c["hooks"] = json!({
            "prestart": [listing_hook(&out("prestart"))],
            "createRuntime": [listing_hook(&out("createRuntime"))],
            "createContainer": [listing_hook(&out("createContainer"))],
            "startContainer": [listing_hook("/out/startContainer")],
            "poststart": [listing_hook(&out("poststart"))],
        });
    });
    let bundle = b.dir.to_str().unwrap();
    let kept = std::fs::File::create(t.dir.join("kept")).unwrap();
    let k = kept.as_raw_fd();
    let sys = std::fs::File::open("/sys").unwrap();
    for (tag, sys_at_5) in [("attack", false), ("control", true)] {
        for f in [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "app",
        ] {
            let _ = std::fs::remove_file(b.out.join(f));
        }
        // As in tests/init_fds.rs: more fds declared than passed, so the
        // overlay's mount fd gets a number inside the preserved range.
        let mut fds = vec![(k, 3), (k, 4)];
        if sys_at_5 {
            fds.push((sys.as_raw_fd(), 5));
        }
        let id = t.id(tag);
        let create = ["create", "--preserve-fds", "8", "--bundle", bundle, &id];
        t.call(std::path::Path::new(OUTLET), &create, &fds)
            .expect_ok("create");
        t.track_pid(t.state(&id)["pid"].as_i64().unwrap() as i32);
        // exec while the init sits in "created": the app exits at once.
        t.outlet(&["exec", &id, "sh", "-c", &listing_script("/out/exec")])
            .expect_ok("exec");
        t.outlet(&["start", &id]).expect_ok("start");
        for who in [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "app",
            "exec",
        ] {
            let (fds, text) = listing(&b.out.join(who));
            eprintln!("{tag} {who}: {fds:?}");
            assert!(!text.contains(MARK), "{who} sees the mark: {text}");
            let overlay: Vec<_> = fds.iter().filter(|f| f.1 == OVERLAY_MAGIC).collect();
            assert!(overlay.is_empty(), "{who} holds an overlayfs fd: {fds:?}");
            if sys_at_5 && who == "app" {
                // Control: a directory fd inside the range is seen, with
                // its filesystem, so the checks above can fail.
                assert!(
                    fds.contains(&(5, SYSFS_MAGIC.to_string(), "dir".to_string())),
                    "control: {who} did not list /sys at fd 5: {fds:?}"
                );
            }
        }
        t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    }
    t.assert_nothing_left("after the hooks");
}

/// The mark in the caller's environment is not taken at its word: an
/// unprotected binary that finds it refuses to run (it would otherwise
/// expose its file to the container), and says why; the control without
/// the mark runs.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_mark_in_the_callers_environment_is_not_trusted() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| c["process"]["args"] = json!(["true"]));
    let bundle = b.dir.to_str().unwrap();
    let bin = std::path::Path::new(OUTLET);
    for mark in ["1", "mnt:3"] {
        let id = t.id("marked");
        let o = t.call_env(bin, &["run", "--bundle", bundle, &id], &[], &[(MARK, mark)]);
        o.expect_fail(&format!("run with {MARK}={mark}"), "is not one");
        assert!(!t.state_dir_exists(&id), "{id}: state left behind");
    }
    let id = t.id("plain");
    t.call_env(bin, &["run", "--bundle", bundle, &id], &[], &[])
        .expect_ok("control: run without the mark");
    t.assert_nothing_left("after the runs");
}

// ---------------------------------------------------------------------
// 3. The bump arena (src/syscall/arena.rs) under hostile sizes and
//    orders: every live block keeps its bytes, no two overlap, each is
//    aligned as asked and at least to 16 (malloc's promise), growth and
//    shrinking in place and by moving, spilling to the system allocator
//    once the arena is full, and a size no allocator can give answered
//    with null while the block stays intact.

use outlet::syscall::arena::Arena;
use std::alloc::{GlobalAlloc, Layout};

struct Block {
    p: *mut u8,
    layout: Layout,
    fill: u8,
}

/// A small deterministic generator (xorshift64*): the same sequence on
/// every run, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

fn check_blocks<const N: usize>(arena: &Arena<N>, live: &[Block], base: usize) {
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(live.len());
    for b in live {
        let a = b.p as usize;
        assert_eq!(a % b.layout.align(), 0, "align {:?} at {a:#x}", b.layout);
        if (base..base + N).contains(&a) {
            assert_eq!(a % 16, 0, "arena block below malloc's alignment: {a:#x}");
            assert!(
                a + b.layout.size() <= base + N,
                "block past the arena's end"
            );
        }
        // SAFETY: a live block of layout.size() bytes.
        let bytes = unsafe { std::slice::from_raw_parts(b.p, b.layout.size()) };
        assert!(
            bytes.iter().all(|&x| x == b.fill),
            "block at {a:#x} ({:?}) lost its bytes",
            b.layout
        );
        ranges.push((a, a + b.layout.size()));
    }
    ranges.sort();
    for w in ranges.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlapping blocks {:x?}", w);
    }
    let _ = arena;
}

/// The address of a fresh arena's first byte: its first block sits there
/// (the space is page-aligned).
fn base_of<const N: usize>(arena: &Arena<N>) -> usize {
    let probe = Layout::from_size_align(1, 1).unwrap();
    // SAFETY: a nonzero layout; freed right away (a no-op in the arena).
    let p = unsafe { arena.alloc(probe) };
    // SAFETY: as allocated.
    unsafe { arena.dealloc(p, probe) };
    p as usize
}

/// `ops` random allocations, reallocations and frees on `arena`, whose
/// first byte is at `base`: how many blocks came from the arena and how
/// many from the system allocator.
fn churn<const N: usize>(arena: &Arena<N>, base: usize, seed: u64, ops: usize) -> (usize, usize) {
    let mut rng = Rng(seed);
    let mut live: Vec<Block> = Vec::new();
    let (mut in_arena, mut spilled) = (0, 0);
    for i in 0..ops {
        let fill = (i % 251) as u8 + 1;
        match rng.below(10) {
            0..=4 => {
                let big = rng.below(8) == 0;
                let size = 1 + rng.below(if big { 40_000 } else { 300 });
                let align = 1usize << rng.below(13);
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a nonzero layout; the block is freed with it.
                let p = unsafe { arena.alloc(layout) };
                assert!(!p.is_null(), "alloc {layout:?}");
                if (base..base + N).contains(&(p as usize)) {
                    in_arena += 1;
                } else {
                    spilled += 1;
                }
                // SAFETY: p holds size bytes.
                unsafe { std::ptr::write_bytes(p, fill, size) };
                live.push(Block { p, layout, fill });
            }
            5..=7 if !live.is_empty() => {
                // Mostly the newest block (grows in place), sometimes an
                // older one (moves).
                let k = if rng.below(3) == 0 {
                    rng.below(live.len() as u64)
                } else {
                    live.len() - 1
                };
                let b = &mut live[k];
                let new_size = 1 + rng.below(2 * b.layout.size() as u64 + 64);
                // SAFETY: a live block with its layout; nonzero new size.
                let q = unsafe { arena.realloc(b.p, b.layout, new_size) };
                assert!(!q.is_null(), "realloc to {new_size}");
                let keep = b.layout.size().min(new_size);
                // SAFETY: q holds new_size bytes, the first `keep` copied.
                let kept = unsafe { std::slice::from_raw_parts(q, keep) };
                assert!(kept.iter().all(|&x| x == b.fill), "realloc lost bytes");
                // SAFETY: as above.
                unsafe { std::ptr::write_bytes(q, b.fill, new_size) };
                b.p = q;
                b.layout = Layout::from_size_align(new_size, b.layout.align()).unwrap();
            }
            8 if !live.is_empty() => {
                let b = live.swap_remove(rng.below(live.len() as u64));
                // SAFETY: a live block with its layout.
                unsafe { arena.dealloc(b.p, b.layout) };
            }
            _ if !live.is_empty() => {
                // A size no allocator gives: null, and the block intact.
                let b = &live[rng.below(live.len() as u64)];
                let huge = isize::MAX as usize - b.layout.align() - 4096;
                // SAFETY: the contract asks new_size to round to at most
                // isize::MAX at the block's alignment, which `huge` does.
                let q = unsafe { arena.realloc(b.p, b.layout, huge) };
                assert!(q.is_null(), "a realloc to {huge} bytes succeeded");
            }
            _ => {}
        }
        if i % 256 == 0 {
            check_blocks(arena, &live, base);
        }
    }
    check_blocks(arena, &live, base);
    for b in live {
        // SAFETY: a live block with its layout.
        unsafe { arena.dealloc(b.p, b.layout) };
    }
    (in_arena, spilled)
}

#[test]
fn arena_keeps_blocks_whole_aligned_and_apart_under_random_use() {
    // In .bss, as outlet's own (a Box would build it on the stack first).
    static ARENA: Arena<{ 256 << 10 }> = Arena::new();
    let base = base_of(&ARENA);
    let (in_arena, spilled) = churn(&ARENA, base, 0x5eed_0001, 8_000);
    eprintln!("{in_arena} blocks from the arena, {spilled} from the system allocator");
    // The run did reach both allocators: the spill path was exercised.
    assert!(in_arena > 50 && spilled > 100, "{in_arena} / {spilled}");
}

#[test]
fn arena_shared_by_threads_gives_each_its_own_bytes() {
    static ARENA: Arena<{ 1 << 20 }> = Arena::new();
    let arena = &ARENA;
    let base = base_of(arena);
    let threads: Vec<_> = (0..4)
        .map(|n| std::thread::spawn(move || churn(arena, base, 0xabc0 + n, 3_000)))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// A config far past the arena's 1 MiB (a 3 MiB annotation, 4000
/// environment entries of 200 bytes): outlet parses, records and runs it
/// whole, with the arena spilled to the C library's malloc mid-parse and
/// mid-growth of one string.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_config_past_the_arena_is_parsed_recorded_and_run_whole() {
    let Some(t) = T::new() else { return };
    let big = "x".repeat(3 << 20);
    let b = t.bundle("big", |c| {
        let env = c["process"]["env"].as_array_mut().unwrap();
        for i in 0..4000 {
            env.push(json!(format!("V{i:04}={}", "y".repeat(200))));
        }
        c["annotations"] = json!({"big": big});
        sh(
            c,
            "env | grep -c '^V[0-9]' > /out/count; echo ${#V3999} >> /out/count",
        );
    });
    let id = t.id("big");
    t.create_ok(&id, &b);
    let st = t.state(&id);
    assert_eq!(
        st["annotations"]["big"].as_str().map(str::len),
        Some(3 << 20),
        "the annotation recorded"
    );
    t.outlet(&["start", &id]).expect_ok("start");
    t.wait_status(&id, "stopped");
    let count = std::fs::read_to_string(b.out.join("count")).unwrap();
    assert_eq!(count, "4000\n200\n");
    t.outlet(&["delete", &id]).expect_ok("delete");
    t.assert_nothing_left("after the big config");
}

//! Fault injection for the crash tests. In debug builds (what `cargo test`
//! runs), `OUTLET_FAULT=<step>` makes outlet SIGKILL itself on reaching the
//! named step, the way an OOM kill or a node drain would stop it there. A
//! release build compiles every point to nothing: the switch cannot be
//! turned on in production.

#[cfg(debug_assertions)]
pub fn point(step: &str) {
    if std::env::var_os("OUTLET_FAULT").is_some_and(|v| v == step) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn point(_step: &str) {}

/// A panic, or a failed allocation, at the named step, for the tests that
/// either in outlet's cloned children (the init, exec's helper) ends them
/// cleanly: in debug builds, `OUTLET_PANIC=<step>` panics there and
/// `OUTLET_OOM=<step>` asks for more memory than there is (see
/// `fail_allocation`). Release builds compile it to nothing.
#[cfg(debug_assertions)]
pub fn panic_at(step: &str) {
    use std::ffi::OsString;
    // Read once, at the first point (before any filter): a later read
    // would allocate the value's copy.
    static WANTED: std::sync::OnceLock<(Option<OsString>, Option<OsString>)> =
        std::sync::OnceLock::new();
    let (panic, oom) = WANTED.get_or_init(|| {
        (
            std::env::var_os("OUTLET_PANIC"),
            std::env::var_os("OUTLET_OOM"),
        )
    });
    if oom.as_ref().is_some_and(|v| v == step) {
        fail_allocation();
    }
    if panic.as_ref().is_none_or(|v| v != step) {
        return;
    }
    // Messages without arguments: std formats (allocates) a message with
    // arguments before the hook runs, which after the seccomp filter is
    // not the hook's doing.
    match step {
        "init:start" => panic!("fault: OUTLET_PANIC=init:start"),
        "init:filtered" => panic!("fault: OUTLET_PANIC=init:filtered"),
        "exec:helper" => panic!("fault: OUTLET_PANIC=exec:helper"),
        _ => panic!("fault: OUTLET_PANIC={step}"),
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn panic_at(_step: &str) {}

/// A real allocation failure: 2^60 bytes is more than the address space,
/// so the C library's malloc gets ENOMEM from mmap whatever the limits,
/// and returns null. `OUTLET_OOM_HOOK=off` (the control) hands that null
/// to std as the allocator did before (see arena.rs `or_die`). For the
/// steps before a seccomp filter: the control's switch is read here.
#[cfg(debug_assertions)]
fn fail_allocation() {
    if std::env::var_os("OUTLET_OOM_HOOK").is_some_and(|v| v == "off") {
        crate::syscall::arena::PASS_NULL.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(1 << 60));
    std::hint::black_box(&v);
}

/// Whether main installs outlet's panic hook (see main.rs `on_panic`).
/// Always in release builds; in debug builds `OUTLET_PANIC_HOOK=off`
/// leaves std's, for the test's control case.
#[cfg(debug_assertions)]
pub fn panic_hook_wanted() -> bool {
    std::env::var_os("OUTLET_PANIC_HOOK").is_none_or(|v| v != "off")
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn panic_hook_wanted() -> bool {
    true
}

/// A race window held open for a test. In debug builds,
/// `OUTLET_PAUSE=<step>=<file>` makes outlet, on reaching the named step,
/// create `<file>.reached` and wait until `<file>` exists (at most 30 s),
/// so the test can change the world at exactly that instant; several
/// `<step>=<file>` holds may be given, comma-separated. Release builds
/// compile it to nothing.
#[cfg(debug_assertions)]
pub fn pause(step: &str) {
    let Some(v) = std::env::var_os("OUTLET_PAUSE") else {
        return;
    };
    let v = v.to_string_lossy();
    // Several holds, comma-separated, for a test that needs one process
    // held at two instants (tests/crash.rs: before and after the init's
    // death signal is set).
    let Some(file) = v
        .split(',')
        .filter_map(|h| h.split_once('='))
        .find_map(|(s, file)| (s == step).then_some(file))
    else {
        return;
    };
    let _ = std::fs::write(format!("{file}.reached"), step);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::path::Path::new(file).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn pause(_step: &str) {}

/// The allocator's arena made full for the init's last steps. In debug
/// builds, `OUTLET_ARENA=full` makes every allocation from here on go to
/// the C library's malloc, whose brk and mmap a seccomp profile may deny:
/// the test that nothing allocates after the filter sees any allocation
/// there fail. Release builds compile it to nothing.
#[cfg(debug_assertions)]
pub fn fill_arena() {
    if std::env::var_os("OUTLET_ARENA").is_some_and(|v| v == "full") {
        crate::syscall::arena::FILL.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn fill_arena() {}

/// A test's control switch `NAME=1`, read only in debug builds: release
/// builds never weaken a protection, whatever the environment says.
pub fn control(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var_os(name).is_some_and(|v| v == "1")
}

/// The control of tests/attack_s8.rs: in debug builds,
/// `OUTLET_START_HOOKS_UNFILTERED=1` runs startContainer hooks before the
/// seccomp filter, as outlet did. Release builds: never.
#[cfg(debug_assertions)]
pub fn start_hooks_unfiltered() -> bool {
    std::env::var_os("OUTLET_START_HOOKS_UNFILTERED").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn start_hooks_unfiltered() -> bool {
    false
}

/// The control of tests/attack_s8.rs: in debug builds,
/// `OUTLET_HOOK_STDIN_BLOCKING=1` writes a hook's state to its stdin with
/// one blocking write before its timeout is watched, as outlet did.
#[cfg(debug_assertions)]
pub fn hook_stdin_blocking() -> bool {
    std::env::var_os("OUTLET_HOOK_STDIN_BLOCKING").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn hook_stdin_blocking() -> bool {
    false
}

/// The control of tests/attack_s8.rs: in debug builds,
/// `OUTLET_COPYUP_TRUSTS_STAT=1` makes tmpcopyup open a file the way it
/// did, blocking, trusting the stat made before. Release builds: never.
#[cfg(debug_assertions)]
pub fn copyup_trusts_stat() -> bool {
    std::env::var_os("OUTLET_COPYUP_TRUSTS_STAT").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn copyup_trusts_stat() -> bool {
    false
}

/// The control of tests/attack_s8.rs and tests/diff_runc_s11.rs: in debug
/// builds, `OUTLET_HOOK_RUNTIME_ENV=1` gives a startContainer or
/// createContainer hook without `env` the runtime's (the caller's)
/// environment, as outlet did.
#[cfg(debug_assertions)]
pub fn hook_runtime_env() -> bool {
    std::env::var_os("OUTLET_HOOK_RUNTIME_ENV").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn hook_runtime_env() -> bool {
    false
}

/// The control of tests/cgdepth_s8.rs: in debug builds,
/// `OUTLET_CGROUP_WALK_BY_PATH=1` opens each cgroup of a container's tree
/// by its whole path, as outlet did, which fails past PATH_MAX.
#[cfg(debug_assertions)]
pub fn cgroup_walk_by_path() -> bool {
    std::env::var_os("OUTLET_CGROUP_WALK_BY_PATH").is_some_and(|v| v == "1")
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn cgroup_walk_by_path() -> bool {
    false
}

/// Every named step, in the order a lifecycle reaches them (the crash test
/// walks this list; a point missing here is a point no test kills at).
pub const STEPS: &[&str] = &[
    "create:intent",
    "create:cgroup",
    "create:clone",
    "create:cloned",
    "create:ready",
    "create:saved",
    "create:detached",
    "start:released",
    "exec:forked",
    "exec:ready",
    "delete:killed",
    "delete:cgroup",
];

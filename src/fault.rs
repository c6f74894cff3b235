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

/// Every named step, in the order a lifecycle reaches them (the crash test
/// walks this list; a point missing here is a point no test kills at).
pub const STEPS: &[&str] = &[
    "create:intent",
    "create:cgroup",
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

//! `linux.seccomp`: the syscall filter, compiled in the parent and loaded by
//! the init as the very last step before execve.
//!
//! `prepare` turns the profile into a `FilterPlan` (pure: actions, conditions,
//! names resolved against libseccomp's tables), compiles it with libseccomp
//! and keeps only the resulting BPF program. `Prepared::load` is then one
//! seccomp(2) call in the init: no libseccomp code, no allocation of note,
//! and the filter flags (LOG, SPEC_ALLOW, NEW_LISTENER, ...) are ours to
//! pass. A profile error therefore surfaces at create time with its field
//! named, before any side effect.
//!
//! Kernel rule: installing a filter needs no_new_privs or CAP_SYS_ADMIN in
//! the effective set. When `process.noNewPrivileges` is false and the
//! container's capabilities lack CAP_SYS_ADMIN, the filter has to be loaded
//! before `capabilities::apply` drops it (runc does the same); `load` says so
//! in its error rather than returning a bare EACCES.
//!
//! SCMP_ACT_NOTIFY (`listenerPath`): the runtime-spec's "container process
//! state" JSON goes to the listener with the notify fd as SCM_RIGHTS, one
//! sendmsg on a connection `create` opens from the host before the clone.
//! The container's init sends it during `create` (status "creating"), as
//! runc does, so a caller may wait for it before calling `start`; the
//! filter then goes in before the init reports ready instead of after
//! `start` (see `process::init`). Without a listener that is unchanged.
//!
//! One file per step: `translate` (profile -> `FilterPlan`), `compile` (`FilterPlan` ->
//! BPF), `key` and `cache` (programs kept across creates), `listener`
//! (SCMP_ACT_NOTIFY), `load` (seccomp(2) in the init); `tests` loads real
//! filters into forked children, `layout_tests` both of libseccomp's
//! layouts of one plan (`compile::Layout`), which must decide alike.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use anyhow::Result;
use oci_spec::runtime::LinuxSeccomp;

mod cache;
mod compile;
mod key;
#[cfg(test)]
mod layout_tests;
mod listener;
mod load;
#[cfg(test)]
mod tests;
mod translate;

pub use compile::compile;
pub use translate::{Condition, FilterPlan, Rule, action, arch, condition, flag, plan};

use key::{cache_key, fnv1a};
use listener::Listener;

/// A filter compiled in the parent (so errors surface before any side
/// effect) and loaded by the init as the last step before execve.
pub struct Prepared {
    program: Vec<libc::sock_filter>,
    flags: u32,
    listener: Option<Listener>,
    skipped: Vec<String>,
    skipped_arches: Vec<String>,
    unsaved: Option<CacheEntry>,
}

pub fn prepare(seccomp: &LinuxSeccomp) -> Result<Prepared> {
    prepare_planned(seccomp, plan(seccomp)?)
}

fn prepare_planned(seccomp: &LinuxSeccomp, plan: FilterPlan) -> Result<Prepared> {
    let program = compile(&plan)?;
    Ok(prepared(seccomp, plan, program))
}

/// `prepare`, reusing the BPF compiled earlier for the same plan from
/// `cache_dir`. libseccomp takes tens of milliseconds for a Docker/podman-
/// sized profile on three architectures; reading the cached program takes
/// well under one. The file name is only a hash: the entry stores the whole
/// plan key and is used only when that key is byte-for-byte equal, so a hash
/// collision can never hand a container another profile's filter. A fresh
/// compile is written by `Prepared::remember`, which the caller runs once
/// the container exists, so a failed create leaves nothing behind. Cache
/// trouble is never fatal: it falls back to compiling. An entry is trusted
/// only as far as `cache` says (owner, mode, no symlinks).
pub fn prepare_cached(seccomp: &LinuxSeccomp, cache_dir: &Path) -> Result<Prepared> {
    let plan = plan(seccomp)?;
    let Some(key) = cache_key(&plan) else {
        return prepare_planned(seccomp, plan);
    };
    let name = format!("{:016x}.bpf", fnv1a(&key));
    if let Some(program) = cache::read(cache_dir, &name, &key) {
        return Ok(prepared(seccomp, plan, program));
    }
    let program = compile(&plan)?;
    let mut p = prepared(seccomp, plan, program);
    p.unsaved = Some(CacheEntry {
        dir: cache_dir.to_path_buf(),
        name,
        key,
    });
    Ok(p)
}

/// Where a freshly compiled program goes in the cache, and under what key.
struct CacheEntry {
    dir: PathBuf,
    name: String,
    key: Vec<u8>,
}

fn prepared(seccomp: &LinuxSeccomp, plan: FilterPlan, program: Vec<libc::sock_filter>) -> Prepared {
    let listener = plan.notify.then(|| Listener {
        path: seccomp.listener_path().clone().unwrap_or_default(),
        metadata: seccomp.listener_metadata().clone().unwrap_or_default(),
        conn: Cell::new(None),
        process_pid: Cell::new(None),
    });
    Prepared {
        program,
        flags: plan.flags,
        listener,
        skipped: plan.skipped,
        skipped_arches: plan.skipped_arches,
        unsaved: None,
    }
}

impl Prepared {
    /// Store a program `prepare_cached` had to compile, for the next
    /// container with the same profile. Best effort: a cache that cannot be
    /// written only costs the next create the compile.
    pub fn remember(&self) {
        if let Some(e) = &self.unsaved {
            let _ = cache::write(&e.dir, &e.name, &e.key, &self.program);
        }
    }

    /// Syscall names skipped because libseccomp does not know them here
    /// (runc logs these at debug level).
    pub fn skipped_syscalls(&self) -> &[String] {
        &self.skipped
    }

    /// Lines worth a warning in the log (architectures this libseccomp cannot
    /// filter).
    pub fn warnings(&self) -> Vec<String> {
        self.skipped_arches
            .iter()
            .map(|a| format!("linux.seccomp.architectures: ignoring {a}, unknown to libseccomp"))
            .collect()
    }

    /// Instructions in the compiled program.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The listener socket path when the profile uses SCMP_ACT_NOTIFY.
    pub fn listener_path(&self) -> Option<&Path> {
        self.listener.as_ref().map(|l| l.path.as_path())
    }
}

/// A profile from its JSON, for the tests.
#[cfg(test)]
fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("valid LinuxSeccomp")
}

//! `linux.seccomp`: the syscall filter, compiled in the parent and loaded by
//! the init as the very last step before execve.
//!
//! `prepare` turns the profile into a `Plan` (pure: actions, conditions,
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

use std::cell::Cell;
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
    LinuxSyscall,
};

mod cache;

// <linux/seccomp.h>
const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1 << 0;
const SECCOMP_FILTER_FLAG_LOG: u32 = 1 << 1;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 1 << 2;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Arguments a syscall has (seccomp_data.args).
const MAX_ARGS: usize = 6;

/// One libseccomp rule: a syscall, an action, and conditions that must all
/// hold (AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Where it came from, for errors: `linux.seccomp.syscalls[3].names[0]`.
    pub field: String,
    pub name: String,
    pub syscall: i32,
    pub action: ScmpAction,
    pub conditions: Vec<ScmpArgCompare>,
}

/// The profile translated for libseccomp, before compiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub default_action: ScmpAction,
    pub arches: Vec<ScmpArch>,
    /// SECCOMP_FILTER_FLAG_* for seccomp(2), without NEW_LISTENER.
    pub flags: u32,
    pub rules: Vec<Rule>,
    /// Syscall names libseccomp does not know on this architecture: skipped,
    /// as runc does (it logs them at debug level).
    pub skipped: Vec<String>,
    /// Architectures this libseccomp cannot filter: skipped with a warning.
    pub skipped_arches: Vec<String>,
    pub notify: bool,
}

/// Spec action + errnoRet -> libseccomp action, with runc's defaults: EPERM
/// for ERRNO and TRACE without errnoRet, KILL meaning KILL_THREAD.
pub fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: &str,
) -> Result<ScmpAction> {
    let ret = |what: &str| -> Result<i32> {
        match errno_ret {
            None => Ok(libc::EPERM),
            Some(v) if v <= u16::MAX as u32 => Ok(v as i32),
            Some(v) => bail!("{field}: {what} {v} does not fit the 16 bits seccomp returns"),
        }
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(ret("errnoRet")?),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret("errnoRet")? as u16),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

/// Spec operator + value(s) -> libseccomp comparison. For MASKED_EQ, `value`
/// is the mask and `valueTwo` the datum, as in runc and libseccomp.
pub fn condition(
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
    field: &str,
) -> Result<ScmpArgCompare> {
    if index >= MAX_ARGS {
        bail!("{field}.index: {index} is out of range (a syscall has arguments 0 to 5)");
    }
    let arg = index as u32;
    Ok(match op {
        LinuxSeccompOperator::ScmpCmpNe => ScmpArgCompare::new(arg, ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => ScmpArgCompare::new(arg, ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => {
            ScmpArgCompare::new(arg, ScmpCompareOp::LessOrEqual, value)
        }
        LinuxSeccompOperator::ScmpCmpEq => ScmpArgCompare::new(arg, ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => {
            ScmpArgCompare::new(arg, ScmpCompareOp::GreaterEqual, value)
        }
        LinuxSeccompOperator::ScmpCmpGt => ScmpArgCompare::new(arg, ScmpCompareOp::Greater, value),
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpArgCompare::new(
            arg,
            ScmpCompareOp::MaskedEqual(value),
            value_two.unwrap_or(0),
        ),
    })
}

/// Whether this kernel can hand the filter a syscall of architecture `a`:
/// the native one and its compat ABIs. A program section for any other
/// can never match, yet the kernel pays for its length at load time (it
/// runs the program for every syscall number to build its action cache):
/// podman's filter plus aarch64 and arm sections loads ~0.1 ms slower here
/// (1.13 ms against 1.03 ms; bench/README.md, "Seccomp").
/// Dropping it changes no outcome, so the profile's meaning is kept.
fn reachable(a: ScmpArch) -> bool {
    if cfg!(target_arch = "x86_64") {
        matches!(
            a,
            ScmpArch::Native | ScmpArch::X8664 | ScmpArch::X86 | ScmpArch::X32
        )
    } else if cfg!(target_arch = "aarch64") {
        matches!(a, ScmpArch::Native | ScmpArch::Aarch64 | ScmpArch::Arm)
    } else {
        // No list of what this kernel can deliver: keep every section.
        true
    }
}

/// Spec architecture -> libseccomp's, by the shared `SCMP_ARCH_*` name.
pub fn arch(a: Arch) -> Option<ScmpArch> {
    let name = serde_json::to_value(a).ok()?;
    name.as_str()?.parse().ok()
}

pub fn flag(f: LinuxSeccompFilterFlag) -> u32 {
    match f {
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
            SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        }
    }
}

/// Rules for one `syscalls[i]` entry. Conditions on distinct arguments form
/// one rule (all must hold); when two conditions test the same argument,
/// libseccomp cannot AND them, so each becomes its own rule (any may match).
/// That is runc's reading, which Docker's and podman's profiles rely on.
fn entry_rules(i: usize, sc: &LinuxSyscall, default: ScmpAction, plan: &mut Plan) -> Result<()> {
    let field = format!("linux.seccomp.syscalls[{i}]");
    if sc.names().is_empty() {
        bail!("{field}.names: empty (each entry must name at least one syscall)");
    }
    let act = action(sc.action(), sc.errno_ret(), &field)?;
    let mut conds = Vec::new();
    let mut per_arg = [0usize; MAX_ARGS];
    for (k, a) in sc.args().iter().flatten().enumerate() {
        let c = condition(
            a.index(),
            a.op(),
            a.value(),
            a.value_two(),
            &format!("{field}.args[{k}]"),
        )?;
        per_arg[a.index()] += 1;
        conds.push(c);
    }
    let groups: Vec<Vec<ScmpArgCompare>> = if per_arg.iter().any(|&n| n > 1) {
        conds.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![conds]
    };
    for (j, name) in sc.names().iter().enumerate() {
        let nfield = format!("{field}.names[{j}]");
        if name.is_empty() {
            bail!("{nfield}: empty syscall name");
        }
        if act == ScmpAction::Notify && (name == "sendmsg" || name == "write") {
            // The init hands the listener its fd with sendmsg after the
            // filter is in: notifying on it would wait for a listener that
            // has no fd yet.
            bail!("{nfield}: SCMP_ACT_NOTIFY cannot be used for {name:?}");
        }
        if act == default {
            // libseccomp refuses a rule that repeats the default action;
            // runc skips it, and so does this: it changes nothing.
            continue;
        }
        let syscall = match ScmpSyscall::from_name(name) {
            Ok(s) => i32::from(s),
            Err(_) => {
                plan.skipped.push(name.clone());
                continue;
            }
        };
        for g in &groups {
            plan.rules.push(Rule {
                field: nfield.clone(),
                name: name.clone(),
                syscall,
                action: act,
                conditions: g.clone(),
            });
        }
    }
    if act == ScmpAction::Notify {
        plan.notify = true;
    }
    Ok(())
}

/// Translate and check the profile; no libseccomp context yet.
pub fn plan(seccomp: &LinuxSeccomp) -> Result<Plan> {
    let default = action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    if default == ScmpAction::Notify {
        bail!("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    }
    let mut plan = Plan {
        default_action: default,
        arches: Vec::new(),
        flags: 0,
        rules: Vec::new(),
        skipped: Vec::new(),
        skipped_arches: Vec::new(),
        notify: false,
    };
    for a in seccomp.architectures().iter().flatten() {
        match arch(*a) {
            Some(sa) if !reachable(sa) => {}
            Some(sa) => plan.arches.push(sa),
            None => plan.skipped_arches.push(
                serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{a:?}")),
            ),
        }
    }
    for f in seccomp.flags().iter().flatten() {
        plan.flags |= flag(*f);
    }
    for (i, sc) in seccomp.syscalls().iter().flatten().enumerate() {
        entry_rules(i, sc, default, &mut plan)?;
    }
    if plan.notify {
        if seccomp.listener_path().is_none() {
            bail!("linux.seccomp.listenerPath: required when a syscall uses SCMP_ACT_NOTIFY");
        }
        // TSYNC and NEW_LISTENER are exclusive (both use the return
        // value); the init is single-threaded, so TSYNC has no work to do.
        plan.flags &= !SECCOMP_FILTER_FLAG_TSYNC;
    } else {
        // Only meaningful with a listener; the kernel refuses it (EINVAL)
        // without one.
        plan.flags &= !SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    Ok(plan)
}

/// Compile a plan with libseccomp into a BPF program (sock_filter array).
pub fn compile(plan: &Plan) -> Result<Vec<libc::sock_filter>> {
    let mut ctx = ScmpFilterContext::new(plan.default_action)
        .context("linux.seccomp.defaultAction: libseccomp refused it")?;
    for a in &plan.arches {
        ctx.add_arch(*a)
            .with_context(|| format!("linux.seccomp.architectures: adding {a:?}"))?;
    }
    for r in &plan.rules {
        let res = if r.conditions.is_empty() {
            ctx.add_rule(r.action, r.syscall)
        } else {
            ctx.add_rule_conditional(r.action, r.syscall, &r.conditions)
        };
        res.with_context(|| format!("{}: adding rule for {:?} ({:?})", r.field, r.name, r.action))?;
    }
    export(&ctx)
}

fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    // seccomp_export_bpf_mem needs libseccomp 2.6; Debian 12 has 2.5, which
    // only exports to an fd.
    let fd = memfd_create(c"outlet-seccomp", MemFdCreateFlag::MFD_CLOEXEC)
        .map_err(std::io::Error::from)
        .context("memfd_create for the seccomp program")?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file)
        .context("linux.seccomp: compiling the filter")?;
    file.rewind()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    from_bytes(&bytes)
}

const INSN: usize = std::mem::size_of::<libc::sock_filter>();

fn from_bytes(bytes: &[u8]) -> Result<Vec<libc::sock_filter>> {
    if bytes.is_empty()
        || !bytes.len().is_multiple_of(INSN)
        || bytes.len() / INSN > u16::MAX as usize
    {
        bail!(
            "linux.seccomp: compiled program has a bad size ({} bytes)",
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// Where to send the notify fd, and the connection once made. The
/// connection is taken (and closed) by `load` once the fd has gone, through
/// a shared reference: the init holds `Prepared` only by `&`, and must not
/// keep a socket of the host's while it waits for `start`.
struct Listener {
    path: PathBuf,
    metadata: String,
    conn: Cell<Option<OwnedFd>>,
    /// The host pid of the process loading the filter when it is not the
    /// state's (an `exec`'d process): runc sends that process's pid.
    process_pid: Cell<Option<i32>>,
}

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
    let plan = plan(seccomp)?;
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
    let key = cache_key(&plan);
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

/// Everything the compiled program depends on, compactly: a text header
/// naming the format and what compiles the program, then per rule the
/// syscall number and action as fixed-size integers (a Docker/podman
/// profile has ~440 rules, almost none with conditions; Debug-formatting
/// them all cost more than reading the cached program). Only the rare
/// conditions and the arches keep their Debug text, length-prefixed, so
/// the encoding stays unambiguous.
fn cache_key(plan: &Plan) -> Vec<u8> {
    let lib = libseccomp::ScmpVersion::current()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    // SAFETY: zeroed utsname is valid; uname fills it.
    let release = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    let mut key = format!(
        "outlet-seccomp-v2\nlibseccomp {lib}\nkernel {release}\narch {}\n{:?}\n",
        std::env::consts::ARCH,
        plan.arches,
    )
    .into_bytes();
    key.reserve(16 + plan.rules.len() * 13);
    push_action(&mut key, plan.default_action);
    key.extend_from_slice(&plan.flags.to_le_bytes());
    key.extend_from_slice(&(plan.rules.len() as u32).to_le_bytes());
    for r in &plan.rules {
        key.extend_from_slice(&r.syscall.to_le_bytes());
        push_action(&mut key, r.action);
        if r.conditions.is_empty() {
            key.extend_from_slice(&0u32.to_le_bytes());
        } else {
            push_text(&mut key, &format!("{:?}", r.conditions));
        }
    }
    key
}

fn push_text(key: &mut Vec<u8>, text: &str) {
    key.extend_from_slice(&(text.len() as u32).to_le_bytes());
    key.extend_from_slice(text.as_bytes());
}

/// An action as a tag byte and its value (errno, trace message).
fn push_action(key: &mut Vec<u8>, a: ScmpAction) {
    let (tag, value): (u8, u32) = match a {
        ScmpAction::KillProcess => (1, 0),
        ScmpAction::KillThread => (2, 0),
        ScmpAction::Trap => (3, 0),
        ScmpAction::Notify => (4, 0),
        ScmpAction::Errno(e) => (5, e as u32),
        ScmpAction::Trace(t) => (6, u32::from(t)),
        ScmpAction::Log => (7, 0),
        ScmpAction::Allow => (8, 0),
        // Actions a newer libseccomp adds: by name.
        other => {
            key.push(0xff);
            push_text(key, &format!("{other:?}"));
            return;
        }
    };
    key.push(tag);
    key.extend_from_slice(&value.to_le_bytes());
}

/// FNV-1a, 64 bits: stable across builds (std's hasher is not), and only
/// names the file (see `prepare_cached`).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn prepared(seccomp: &LinuxSeccomp, plan: Plan, program: Vec<libc::sock_filter>) -> Prepared {
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
    /// The pid the listener's message names (`pid`, the process the notify
    /// fd filters) when it is not the state's `pid` (the init's): an
    /// `exec`'d process's host pid, which it cannot learn itself inside
    /// the container's pid namespace.
    pub fn set_process_pid(&self, pid: i32) {
        if let Some(l) = &self.listener {
            l.process_pid.set(Some(pid));
        }
    }

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

    /// Connect to `listenerPath` now, while the host path is reachable: in
    /// the parent before clone (the init inherits the socket) or in the init
    /// before pivot_root. The socket is O_CLOEXEC and closed by `load`; keep
    /// it out of any "close fds above 2" sweep that runs before `load`.
    pub fn connect_listener(&mut self) -> Result<()> {
        let Some(l) = self.listener.as_mut() else {
            return Ok(());
        };
        let conn = l.conn.get_mut();
        if conn.is_none() {
            *conn = Some(connect(&l.path)?);
        }
        Ok(())
    }

    /// Close this process's copy of the listener connection: the parent's,
    /// once the init has inherited it, so that the listener sees the
    /// connection end as soon as the init has sent the fd and closed its own.
    pub fn close_listener(&self) {
        if let Some(l) = &self.listener {
            drop(l.conn.take());
        }
    }

    /// The raw fd of the listener connection, for the caller's fd sweep.
    pub fn listener_fd(&self) -> Option<i32> {
        let l = self.listener.as_ref()?;
        let conn = l.conn.take();
        let fd = conn.as_ref().map(|c| c.as_raw_fd());
        l.conn.set(conn);
        fd
    }

    /// Load the filter into the calling process. `state_json` is the OCI
    /// state, sent with the notify fd to `listenerPath` when the profile
    /// uses SCMP_ACT_NOTIFY; the connection is closed once it has gone, and
    /// so is our copy of the notify fd (a listener that has closed its own
    /// then makes notified syscalls fail with ENOSYS instead of hanging).
    pub fn load(&self, state_json: &str) -> Result<()> {
        let conn = match &self.listener {
            None => None,
            // Not connected earlier: connect now, before the filter could
            // forbid connect(2).
            Some(l) => Some(match l.conn.take() {
                Some(c) => c,
                None => connect(&l.path)?,
            }),
        };
        let message = match &self.listener {
            Some(l) => Some(process_state(state_json, &l.metadata, l.process_pid.get())?),
            None => None,
        };
        let mut flags = self.flags;
        if self.listener.is_some() {
            flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        }
        let notify_fd = install(&self.program, flags)?;
        if let (Some(fd), Some(conn), Some(msg)) = (notify_fd, &conn, message) {
            send_fd(conn.as_raw_fd(), msg.as_bytes(), fd.as_raw_fd()).with_context(|| {
                format!(
                    "linux.seccomp.listenerPath: sending the notify fd to {}",
                    self.listener_path().unwrap_or(Path::new("")).display()
                )
            })?;
        }
        drop(conn);
        Ok(())
    }
}

/// seccomp(SECCOMP_SET_MODE_FILTER): the notify fd when NEW_LISTENER is set.
fn install(program: &[libc::sock_filter], flags: u32) -> Result<Option<OwnedFd>> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies `prog.len` instructions from `prog.filter`,
    // which points into `program`, alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EACCES) {
            return Err(anyhow!(
                "linux.seccomp: loading the filter: {e}: the kernel needs no_new_privs or \
                 CAP_SYS_ADMIN; with process.noNewPrivileges false the filter must be loaded \
                 before the capabilities drop CAP_SYS_ADMIN"
            ));
        }
        return Err(e)
            .with_context(|| format!("linux.seccomp: loading the filter (flags {flags:#x})"));
    }
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the return value is a new fd we own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
    }
    Ok(None)
}

/// The runtime-spec's "container process state", sent to the listener.
/// `pid` is the process's that loads the filter; the state's (the init's)
/// when None.
fn process_state(state_json: &str, metadata: &str, pid: Option<i32>) -> Result<String> {
    let state: serde_json::Value =
        serde_json::from_str(state_json).context("linux.seccomp: container state is not JSON")?;
    let pid = match pid {
        Some(p) => serde_json::Value::from(p),
        None => state
            .get("pid")
            .cloned()
            .unwrap_or(serde_json::Value::from(0)),
    };
    Ok(serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata,
        "state": state,
    })
    .to_string())
}

fn connect(path: &Path) -> Result<OwnedFd> {
    let sock = std::os::unix::net::UnixStream::connect(path).with_context(|| {
        format!(
            "linux.seccomp.listenerPath: connecting to {}",
            path.display()
        )
    })?;
    Ok(OwnedFd::from(sock))
}

/// One sendmsg with `data` and one fd as SCM_RIGHTS.
fn send_fd(sock: i32, data: &[u8], fd: i32) -> std::io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // u64 storage keeps the control buffer aligned for cmsghdr.
    let mut cbuf = [0u64; 4];
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) } as usize;
    assert!(space <= std::mem::size_of_val(&cbuf));
    // SAFETY: zeroed msghdr is a valid empty header; the pointers set below
    // refer to locals that outlive the sendmsg call, and CMSG_FIRSTHDR /
    // CMSG_DATA stay within `cbuf` (space checked above).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut i32, fd);
        let n = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if (n as usize) < data.len() {
            // A stream socket may take the rest in more writes; the fd
            // already went with the first byte.
            let mut rest = &data[n as usize..];
            while !rest.is_empty() {
                let m = libc::send(
                    sock,
                    rest.as_ptr() as *const _,
                    rest.len(),
                    libc::MSG_NOSIGNAL,
                );
                if m < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                rest = &rest[m as usize..];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::{Outcome, in_child};
    use serde_json::json;

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).expect("valid LinuxSeccomp")
    }

    fn nr(name: &str) -> i32 {
        i32::from(ScmpSyscall::from_name(name).unwrap())
    }

    #[test]
    fn actions_translate_with_runc_defaults() {
        use LinuxSeccompAction::*;
        let f = "f";
        assert_eq!(
            action(ScmpActErrno, None, f).unwrap(),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(
            action(ScmpActErrno, Some(38), f).unwrap(),
            ScmpAction::Errno(38)
        );
        assert_eq!(action(ScmpActTrace, None, f).unwrap(), ScmpAction::Trace(1));
        assert_eq!(
            action(ScmpActTrace, Some(7), f).unwrap(),
            ScmpAction::Trace(7)
        );
        assert_eq!(
            action(ScmpActKill, None, f).unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(
            action(ScmpActKillThread, None, f).unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(
            action(ScmpActKillProcess, None, f).unwrap(),
            ScmpAction::KillProcess
        );
        assert_eq!(action(ScmpActTrap, None, f).unwrap(), ScmpAction::Trap);
        assert_eq!(action(ScmpActNotify, None, f).unwrap(), ScmpAction::Notify);
        assert_eq!(action(ScmpActLog, None, f).unwrap(), ScmpAction::Log);
        assert_eq!(action(ScmpActAllow, None, f).unwrap(), ScmpAction::Allow);
        let err = action(ScmpActErrno, Some(70000), "linux.seccomp.syscalls[2]")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "linux.seccomp.syscalls[2]: errnoRet 70000 does not fit the 16 bits seccomp returns"
        );
    }

    #[test]
    fn operators_translate() {
        use LinuxSeccompOperator::*;
        let c = |op, v, v2| condition(1, op, v, v2, "f").unwrap();
        let n = |op, d| ScmpArgCompare::new(1, op, d);
        assert_eq!(c(ScmpCmpNe, 5, None), n(ScmpCompareOp::NotEqual, 5));
        assert_eq!(c(ScmpCmpLt, 5, None), n(ScmpCompareOp::Less, 5));
        assert_eq!(c(ScmpCmpLe, 5, None), n(ScmpCompareOp::LessOrEqual, 5));
        assert_eq!(c(ScmpCmpEq, 5, Some(9)), n(ScmpCompareOp::Equal, 5));
        assert_eq!(c(ScmpCmpGe, 5, None), n(ScmpCompareOp::GreaterEqual, 5));
        assert_eq!(c(ScmpCmpGt, 5, None), n(ScmpCompareOp::Greater, 5));
        // value is the mask, valueTwo the datum.
        assert_eq!(
            c(ScmpCmpMaskedEq, 0xff00, Some(0x0800)),
            n(ScmpCompareOp::MaskedEqual(0xff00), 0x0800)
        );
        let err = condition(6, ScmpCmpEq, 0, None, "linux.seccomp.syscalls[1].args[0]")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "linux.seccomp.syscalls[1].args[0].index: 6 is out of range (a syscall has arguments 0 to 5)"
        );
    }

    #[test]
    fn architectures_and_flags_translate() {
        assert_eq!(arch(Arch::ScmpArchX86_64), Some(ScmpArch::X8664));
        assert_eq!(arch(Arch::ScmpArchX86), Some(ScmpArch::X86));
        assert_eq!(arch(Arch::ScmpArchAarch64), Some(ScmpArch::Aarch64));
        assert_eq!(arch(Arch::ScmpArchNative), Some(ScmpArch::Native));
        assert_eq!(flag(LinuxSeccompFilterFlag::SeccompFilterFlagLog), 2);
        assert_eq!(flag(LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow), 4);
        assert_eq!(flag(LinuxSeccompFilterFlag::SeccompFilterFlagTsync), 1);
        let with = |action: &str| {
            plan(&profile(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/l",
                "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls": [{"names": ["getppid"], "action": action}]}),
            ))
            .unwrap()
            .flags
        };
        // TSYNC cannot go with a listener; WAIT_KILLABLE_RECV needs one.
        assert_eq!(
            with("SCMP_ACT_NOTIFY"),
            SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        );
        assert_eq!(with("SCMP_ACT_ERRNO"), SECCOMP_FILTER_FLAG_TSYNC);
    }

    #[test]
    fn profile_becomes_rules() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [
                {"names": ["read", "write", "no_such_syscall_xyz"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                          {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["lseek"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"},
                          {"index": 2, "value": 255, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }));
        let plan = plan(&p).unwrap();
        assert_eq!(plan.default_action, ScmpAction::Errno(38));
        assert_eq!(plan.arches, vec![ScmpArch::X8664, ScmpArch::X86]);
        assert_eq!(
            plan.flags,
            SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_TSYNC
        );
        assert_eq!(plan.skipped, vec!["no_such_syscall_xyz".to_string()]);
        assert!(!plan.notify);
        let summary: Vec<(String, String, ScmpAction, usize)> = plan
            .rules
            .iter()
            .map(|r| {
                (
                    r.field.clone(),
                    r.name.clone(),
                    r.action,
                    r.conditions.len(),
                )
            })
            .collect();
        let s = |f: &str, n: &str, a, c| (f.to_string(), n.to_string(), a, c);
        assert_eq!(
            summary,
            vec![
                s(
                    "linux.seccomp.syscalls[0].names[0]",
                    "read",
                    ScmpAction::Allow,
                    0
                ),
                s(
                    "linux.seccomp.syscalls[0].names[1]",
                    "write",
                    ScmpAction::Allow,
                    0
                ),
                s(
                    "linux.seccomp.syscalls[1].names[0]",
                    "mkdir",
                    ScmpAction::Errno(1),
                    0
                ),
                // chmod with errnoRet 38 repeats the default: no rule.
                // Two conditions on arg 0: one rule each (OR).
                s(
                    "linux.seccomp.syscalls[3].names[0]",
                    "personality",
                    ScmpAction::Allow,
                    1
                ),
                s(
                    "linux.seccomp.syscalls[3].names[0]",
                    "personality",
                    ScmpAction::Allow,
                    1
                ),
                // Conditions on distinct args: one rule (AND).
                s(
                    "linux.seccomp.syscalls[4].names[0]",
                    "lseek",
                    ScmpAction::Allow,
                    2
                ),
            ]
        );
        assert_eq!(plan.rules[0].syscall, nr("read"));
        assert_eq!(
            plan.rules[5].conditions,
            vec![
                ScmpArgCompare::new(1, ScmpCompareOp::Equal, 0),
                ScmpArgCompare::new(2, ScmpCompareOp::MaskedEqual(255), 1)
            ]
        );
        let prepared = prepare(&p).unwrap();
        assert!(prepared.len() > 10);
        assert_eq!(
            prepared.skipped_syscalls(),
            ["no_such_syscall_xyz".to_string()]
        );
    }

    #[test]
    fn profile_errors_name_the_field() {
        let err = |v| format!("{:#}", prepare(&profile(v)).err().expect("must fail"));
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["close"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]}]})),
            "linux.seccomp.syscalls[1].args[0].index: 9 is out of range (a syscall has arguments 0 to 5)"
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["close", ""], "action": "SCMP_ACT_ERRNO"}]})),
            "linux.seccomp.syscalls[1].names[1]: empty syscall name"
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": [], "action": "SCMP_ACT_ERRNO"}]})),
            "linux.seccomp.syscalls[0].names: empty (each entry must name at least one syscall)"
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]})),
            "linux.seccomp.listenerPath: required when a syscall uses SCMP_ACT_NOTIFY"
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"})),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"
        );
        assert_eq!(
            err(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [
                {"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]})
            ),
            "linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY cannot be used for \"sendmsg\""
        );
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn errno_of(r: libc::c_long) -> String {
        if r < 0 {
            format!(
                "{}",
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
            )
        } else {
            "ok".to_string()
        }
    }

    /// Load `p` in a forked child with no_new_privs set (as an unprivileged
    /// container would), then run `f` under the filter.
    fn under_filter(p: &LinuxSeccomp, f: impl Fn() -> String) -> Outcome {
        let prepared = prepare(p).unwrap();
        in_child(move || {
            // SAFETY: plain-integer prctl on the calling thread.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err("PR_SET_NO_NEW_PRIVS failed".into());
            }
            prepared.load("{}").map_err(|e| format!("{e:#}"))?;
            Ok(f())
        })
    }

    #[test]
    fn kernel_returns_the_configured_errno() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        }));
        let out = under_filter(&p, || {
            // SAFETY: the paths are NUL-terminated literals; the calls only
            // fail (filtered) or act on a path that does not exist.
            unsafe {
                format!(
                    "mkdir={} chmod={} getpid={}",
                    errno_of(libc::mkdir(c"/nonexistent-outlet-dir/x".as_ptr(), 0o755) as _),
                    errno_of(libc::chmod(c"/nonexistent-outlet-file".as_ptr(), 0o644) as _),
                    errno_of(libc::getpid() as _)
                )
            }
        })
        .ok();
        assert_eq!(out, "mkdir=1 chmod=38 getpid=ok");
    }

    #[test]
    fn kernel_default_deny_with_allowlist() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["write", "exit_group", "exit", "getpid", "rt_sigprocmask",
                                    "munmap", "sigaltstack", "close"],
                          "action": "SCMP_ACT_ALLOW"}]
        }));
        let out = under_filter(&p, || {
            // SAFETY: getpid/getppid/umask have no memory arguments.
            unsafe {
                format!(
                    "getpid={} getppid={}",
                    errno_of(libc::getpid() as _),
                    errno_of(libc::syscall(libc::SYS_getppid))
                )
            }
        })
        .ok();
        assert_eq!(out, "getpid=ok getppid=1");
    }

    /// Each operator, on lseek(-1, arg1, arg2): EBADF (9) when the rule does
    /// not match, errno 100 when it does.
    #[test]
    fn kernel_enforces_every_operator() {
        // (operator, value, valueTwo, [(arg1, arg2, expected errno)])
        type Case<'a> = (&'a str, u64, Option<u64>, &'a [(i64, i32, &'a str)]);
        let cases: &[Case] = &[
            ("SCMP_CMP_EQ", 5, None, &[(5, 0, "100"), (4, 0, "9")]),
            ("SCMP_CMP_NE", 5, None, &[(5, 0, "9"), (4, 0, "100")]),
            ("SCMP_CMP_LT", 5, None, &[(4, 0, "100"), (5, 0, "9")]),
            ("SCMP_CMP_LE", 5, None, &[(5, 0, "100"), (6, 0, "9")]),
            ("SCMP_CMP_GE", 5, None, &[(5, 0, "100"), (4, 0, "9")]),
            ("SCMP_CMP_GT", 5, None, &[(6, 0, "100"), (5, 0, "9")]),
            (
                "SCMP_CMP_MASKED_EQ",
                0xf0,
                Some(0x30),
                &[(0x3f, 0, "100"), (0x130, 0, "100"), (0x40, 0, "9")],
            ),
        ];
        for &(op, value, value_two, calls) in cases {
            let p = profile(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100,
                    "args": [{"index": 1, "value": value, "valueTwo": value_two, "op": op},
                             {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]}]
            }));
            let out = under_filter(&p, || {
                let mut v = Vec::new();
                for &(a1, a2, _) in calls {
                    // SAFETY: lseek on fd -1 only returns an error.
                    v.push(errno_of(unsafe { libc::lseek(-1, a1, a2) } as _));
                }
                // Second condition (arg2 == 0) not met: never matches.
                // SAFETY: as above.
                v.push(errno_of(unsafe { libc::lseek(-1, calls[0].0, 1) } as _));
                v.join(" ")
            })
            .ok();
            let mut want: Vec<&str> = calls.iter().map(|c| c.2).collect();
            want.push("9");
            assert_eq!(out, want.join(" "), "{op}");
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn arches_the_kernel_cannot_deliver_are_dropped() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X86_64", "SCMP_ARCH_ARM",
                              "SCMP_ARCH_X86", "SCMP_ARCH_RISCV64", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]
        }));
        assert_eq!(
            plan(&p).unwrap().arches,
            vec![ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32]
        );
    }

    /// An i386 syscall (int 0x80) from this x86_64 process: the kernel
    /// hands it to the filter as AUDIT_ARCH_I386. Returns rax.
    #[cfg(target_arch = "x86_64")]
    fn i386_syscall(nr: i64, arg0: i64) -> i64 {
        let ret: i64;
        // SAFETY: int 0x80 enters the kernel's i386 syscall path with eax
        // = nr and ebx = arg0 (rbx restored after); the kernel zeroes r8-r11 on that path,
        // hence the clobbers. The calls used (getpid, mkdir(NULL)) touch
        // no memory of ours.
        unsafe {
            // rbx is reserved by LLVM: swap the argument in and back out.
            std::arch::asm!(
                "xchg {a}, rbx",
                "int 0x80",
                "xchg {a}, rbx",
                a = inout(reg) arg0 => _,
                inlateout("rax") nr => ret,
                lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
                options(nostack)
            );
        }
        ret
    }

    /// Dropping unreachable sections must not open the compat ABI: an
    /// i386 syscall is refused when the profile leaves x86 out (libseccomp
    /// kills on a foreign arch), and follows the profile's rules when it
    /// lists x86 (the control: the same calls, allowed through where the
    /// profile allows them).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn kernel_refuses_compat_syscalls_as_the_profile_says() {
        if !is_root() {
            eprintln!("SKIPPED (not counted as passed): needs root to load seccomp filters");
            return;
        }
        const I386_GETPID: i64 = 20;
        const I386_MKDIR: i64 = 39;
        let with = |arches: serde_json::Value| {
            profile(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": arches,
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
            }))
        };
        // Without a filter, the i386 ABI is there: getpid answers, and
        // mkdir(NULL) reaches the kernel and fails on the pointer.
        let unfiltered = in_child(|| {
            Ok(format!(
                "getpid_ok={} mkdir={}",
                i386_syscall(I386_GETPID, 0) > 0,
                -i386_syscall(I386_MKDIR, 0)
            ))
        })
        .ok();
        assert_eq!(
            unfiltered, "getpid_ok=true mkdir=14",
            "i386 ABI unavailable?"
        );

        let no_x86 = with(json!([
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"
        ]));
        match under_filter(&no_x86, || {
            i386_syscall(I386_GETPID, 0);
            "survived an i386 syscall".into()
        }) {
            Outcome::Signaled(sig, _) => assert_eq!(sig, libc::SIGSYS),
            Outcome::Exited(s, c) => panic!("child exited {c}: {s}"),
        }

        let x86 = with(json!([
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"
        ]));
        let out = under_filter(&x86, || {
            // SAFETY: the path is a NUL-terminated literal of a directory
            // that does not exist; the call is refused or fails.
            let native =
                errno_of(unsafe { libc::mkdir(c"/nonexistent-outlet/x".as_ptr(), 0o755) } as _);
            format!(
                "native_mkdir={native} getpid_ok={} mkdir={}",
                i386_syscall(I386_GETPID, 0) > 0,
                -i386_syscall(I386_MKDIR, 0)
            )
        })
        .ok();
        assert_eq!(out, "native_mkdir=1 getpid_ok=true mkdir=1");
    }

    #[test]
    fn kernel_kill_process_action_kills() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]
        }));
        let out = under_filter(&p, || {
            // SAFETY: getppid has no arguments.
            unsafe { libc::syscall(libc::SYS_getppid) };
            "survived".into()
        });
        match out {
            Outcome::Signaled(sig, _) => assert_eq!(sig, libc::SIGSYS),
            Outcome::Exited(s, c) => panic!("child exited {c}: {s}"),
        }
    }

    #[test]
    fn kernel_loads_without_no_new_privs_as_root() {
        if !is_root() {
            eprintln!("skipped: needs CAP_SYS_ADMIN to load without no_new_privs");
            return;
        }
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77}]
        }));
        let prepared = prepare(&p).unwrap();
        let out = in_child(|| {
            prepared.load("{}").map_err(|e| format!("{e:#}"))?;
            let nnp = crate::security::testutil::status_field("NoNewPrivs")?;
            // SAFETY: getppid has no arguments.
            let r = errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
            Ok(format!("nnp={nnp} getppid={r}"))
        })
        .ok();
        assert_eq!(out, "nnp=0 getppid=77");
    }

    #[test]
    fn load_without_privilege_explains_the_order() {
        let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}));
        let prepared = prepare(&p).unwrap();
        let out = in_child(|| {
            // Drop CAP_SYS_ADMIN from effective; no no_new_privs.
            let (e, p, i) =
                crate::security::capabilities::read_current().map_err(|e| e.to_string())?;
            let mut hdr = [0x2008_0522u32, 0];
            let data = [
                (e as u32) & !(1 << 21),
                p as u32,
                i as u32,
                (e >> 32) as u32,
                (p >> 32) as u32,
                (i >> 32) as u32,
            ];
            // SAFETY: capset v3 reads a header and two 3-word data structs.
            if unsafe { libc::syscall(libc::SYS_capset, hdr.as_mut_ptr(), data.as_ptr()) } != 0 {
                return Err(format!("capset: {}", std::io::Error::last_os_error()));
            }
            Ok(match prepared.load("{}") {
                Ok(()) => "loaded".into(),
                Err(e) => format!("{e:#}"),
            })
        })
        .ok();
        assert!(
            out.starts_with("linux.seccomp: loading the filter: Permission denied (os error 13): the kernel needs no_new_privs or CAP_SYS_ADMIN"),
            "{out}"
        );
    }

    const PODMAN_PROFILE: &str = "/usr/share/containers/seccomp.json";

    /// What podman (containers/common) does before writing config.json:
    /// keep the entries whose `includes` hold and whose `excludes` do not,
    /// for the given capabilities on amd64, and turn `archMap` into
    /// `architectures`.
    fn podman_resolved(raw: &serde_json::Value, caps: &[&str]) -> serde_json::Value {
        let has = |list: Option<&serde_json::Value>, pred: &dyn Fn(&str) -> bool| {
            list.and_then(|l| l.as_array())
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str())
                        .map(pred)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let mut out = raw.clone();
        let syscalls: Vec<serde_json::Value> = raw["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                let inc = &e["includes"];
                let exc = &e["excludes"];
                let arches_in = has(inc.get("arches"), &|a| a == "amd64");
                let caps_in = has(inc.get("caps"), &|c| caps.contains(&c));
                let arches_out = has(exc.get("arches"), &|a| a == "amd64");
                let caps_out = has(exc.get("caps"), &|c| caps.contains(&c));
                (arches_in.is_empty() || arches_in.contains(&true))
                    && caps_in.iter().all(|&b| b)
                    && !arches_out.contains(&true)
                    && !caps_out.contains(&true)
            })
            .cloned()
            .collect();
        out["syscalls"] = serde_json::Value::from(syscalls);
        out["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        out
    }

    fn podman_profile() -> Option<(serde_json::Value, LinuxSeccomp)> {
        let Ok(text) = std::fs::read_to_string(PODMAN_PROFILE) else {
            eprintln!(
                "skipped: {PODMAN_PROFILE} missing (apt package golang-github-containers-common)"
            );
            return None;
        };
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        let caps = [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ];
        let resolved = podman_resolved(&raw, &caps);
        let p: LinuxSeccomp = serde_json::from_value(resolved).expect("oci-spec parses it");
        Some((raw, p))
    }

    #[test]
    fn podman_default_profile_prepares() {
        let Some((raw, p)) = podman_profile() else {
            return;
        };
        let plan = plan(&p).unwrap();
        assert_eq!(plan.default_action, ScmpAction::Errno(38));
        assert!(plan.rules.len() > 300, "{} rules", plan.rules.len());
        let prepared = prepare(&p).unwrap();
        assert!(prepared.len() > 100);
        // The unresolved file (includes/excludes ignored) is also a valid
        // OCI profile: contradictory entries must not make prepare fail.
        let unresolved: LinuxSeccomp = serde_json::from_value(raw).unwrap();
        prepare(&unresolved).unwrap();
    }

    #[test]
    fn podman_default_profile_runs_a_shell() {
        let Some((_, p)) = podman_profile() else {
            return;
        };
        let dir = crate::security::testutil::TempDir::new("seccomp-shell");
        let d = dir.0.join("work").display().to_string();
        let out = under_filter(&p, move || {
            // A real shell session under the filter: fork, execve, the
            // dynamic loader, file and directory syscalls.
            let script = format!(
                "set -e; mkdir -p {d}/a; echo hello > {d}/a/f; chmod 600 {d}/a/f; cat {d}/a/f; \
                 ls {d}/a; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; rm -r {d}"
            );
            // Denied by the profile's explicit ERRNO entry.
            // SAFETY: both calls fail before touching their arguments.
            let denied = unsafe {
                format!(
                    " userfaultfd={} kexec_load={}",
                    errno_of(libc::syscall(libc::SYS_userfaultfd, 0)),
                    errno_of(libc::syscall(libc::SYS_kexec_load, 0, 0, 0, 0))
                )
            };
            let shell = match std::process::Command::new("/bin/sh")
                .args(["-c", &script])
                .output()
            {
                Ok(o) => format!(
                    "{}{}status={}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr),
                    o.status.code().unwrap_or(-1)
                ),
                Err(e) => format!("spawn: {e}"),
            };
            shell + &denied
        })
        .ok();
        assert_eq!(
            out,
            "hello\nf\nNoNewPrivs:\t1\nSeccomp:\t2\nstatus=0 userfaultfd=1 kexec_load=1"
        );
    }

    /// Receive one message with one SCM_RIGHTS fd (the listener's side).
    fn recv_with_fd(sock: &std::os::unix::net::UnixStream) -> (String, OwnedFd) {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .expect("recvmsg");
        let mut fd = None;
        for c in msg.cmsgs().expect("cmsgs") {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: the kernel just installed these fds for us.
                fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
            }
        }
        let n = msg.bytes;
        (
            String::from_utf8_lossy(&buf[..n]).into_owned(),
            fd.expect("an fd"),
        )
    }

    #[test]
    fn kernel_notify_sends_fd_and_state_to_listener() {
        let dir = crate::security::testutil::TempDir::new("notify");
        let sock_path = dir.0.join("listener.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock_path,
            "listenerMetadata": "MKNOD=/dev/null",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
        }));
        let mut prepared = prepare(&p).unwrap();
        assert_eq!(prepared.listener_path(), Some(sock_path.as_path()));
        // Connected in the parent, as the init's host path will be gone
        // after pivot_root.
        prepared.connect_listener().unwrap();
        assert!(prepared.listener_fd().is_some());
        let agent = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let (msg, fd) = recv_with_fd(&conn);
            let req = libseccomp::ScmpNotifReq::receive(fd.as_raw_fd()).unwrap();
            let name = req.data.syscall.get_name().unwrap_or_default();
            libseccomp::ScmpNotifResp::new_val(
                req.id,
                4242,
                libseccomp::ScmpNotifRespFlags::empty(),
            )
            .respond(fd.as_raw_fd())
            .unwrap();
            (msg, name)
        });
        let state = r#"{"ociVersion":"1.2.0","id":"notify-test","status":"created","pid":4321,"bundle":"/b"}"#;
        let out = in_child(|| {
            prepared.load(state).map_err(|e| format!("{e:#}"))?;
            // Answered by the agent with 4242.
            // SAFETY: getppid has no arguments.
            let first = unsafe { libc::syscall(libc::SYS_getppid) };
            // Once the agent has closed its fd (and load closed ours), the
            // kernel fails notified syscalls with ENOSYS.
            // SAFETY: as above.
            let second = errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
            Ok(format!("{first} {second}"))
        });
        let (msg, name) = agent.join().unwrap();
        let out = out.ok();
        assert_eq!(name, "getppid");
        let v: serde_json::Value = serde_json::from_str(&msg).unwrap();
        assert_eq!(v["fds"], json!(["seccompFd"]));
        assert_eq!(v["pid"], json!(4321));
        assert_eq!(v["metadata"], json!("MKNOD=/dev/null"));
        assert_eq!(v["state"]["id"], json!("notify-test"));
        assert_eq!(v["ociVersion"], json!(crate::OCI_VERSION));
        assert_eq!(out, "4242 38");
    }

    fn program_bytes(p: &Prepared) -> Vec<(u16, u8, u8, u32)> {
        p.program
            .iter()
            .map(|i| (i.code, i.jt, i.jf, i.k))
            .collect()
    }

    #[test]
    fn cache_key_tells_plans_apart() {
        let key = |v: serde_json::Value| cache_key(&plan(&profile(v)).unwrap());
        let errno = |e: u32, args: serde_json::Value| {
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": e, "args": args}]})
        };
        let base = key(errno(1, json!([])));
        assert_eq!(base, key(errno(1, json!([]))), "same plan, same key");
        let one_arg = json!([{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]);
        let other_value = json!([{"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]);
        let others = [
            key(errno(38, json!([]))),
            key(errno(1, one_arg)),
            key(errno(1, other_value)),
            key(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_LOG"}]})),
            key(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"}]})),
            key(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})),
        ];
        for (i, k) in others.iter().enumerate() {
            assert_ne!(&base, k, "plan {i}");
            for (j, l) in others.iter().enumerate().skip(i + 1) {
                assert_ne!(k, l, "plans {i} and {j}");
            }
        }
    }

    #[test]
    fn cache_keeps_the_newest_entries() {
        let dir = crate::security::testutil::TempDir::new("seccomp-trim");
        let cache = dir.0.join("cache");
        let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}));
        let program = compile(&plan(&p).unwrap()).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        let now = std::time::SystemTime::now();
        for i in 0..cache::ENTRIES + 5 {
            let f = cache.join(format!("{i:016x}.bpf"));
            std::fs::write(&f, b"x").unwrap();
            let age = std::time::Duration::from_secs((cache::ENTRIES + 5 - i) as u64);
            std::fs::File::options()
                .write(true)
                .open(&f)
                .unwrap()
                .set_modified(now - age)
                .unwrap();
        }
        cache::write(&cache, "newest.bpf", b"k", &program).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), cache::ENTRIES, "{left:?}");
        assert!(left.contains(&"newest.bpf".to_string()));
        // The six oldest went: 0..=5.
        assert!(!left.contains(&format!("{:016x}.bpf", 5)), "{left:?}");
        assert!(left.contains(&format!("{:016x}.bpf", 6)), "{left:?}");
    }

    #[test]
    fn cache_returns_the_same_program_and_is_faster() {
        let Some((_, p)) = podman_profile() else {
            return;
        };
        let dir = crate::security::testutil::TempDir::new("seccomp-cache");
        let cache = dir.0.join("cache");
        let t = std::time::Instant::now();
        let cold = prepare_cached(&p, &cache).unwrap();
        let cold_time = t.elapsed();
        assert!(!cache.exists(), "nothing is written before remember");
        cold.remember();
        let files: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
        assert_eq!(files.len(), 1, "one entry, no temp file left");
        let t = std::time::Instant::now();
        let warm = prepare_cached(&p, &cache).unwrap();
        let warm_time = t.elapsed();
        eprintln!("seccomp podman profile: compile {cold_time:?}, cached {warm_time:?}");
        assert_eq!(program_bytes(&cold), program_bytes(&warm));
        assert_eq!(program_bytes(&cold), program_bytes(&prepare(&p).unwrap()));
        assert!(warm_time < cold_time, "{warm_time:?} vs {cold_time:?}");

        // A different profile whose entry lands on the same file (forced
        // here by renaming) must not get this program.
        let other = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}));
        let other_file = cache.join(format!(
            "{:016x}.bpf",
            fnv1a(&cache_key(&plan(&other).unwrap()))
        ));
        let entry = files[0].as_ref().unwrap().path();
        std::fs::copy(&entry, &other_file).unwrap();
        let got = prepare_cached(&other, &cache).unwrap();
        got.remember();
        assert_eq!(
            program_bytes(&got),
            program_bytes(&prepare(&other).unwrap())
        );

        // A corrupt entry is recompiled, not trusted.
        std::fs::write(&entry, b"garbage").unwrap();
        let again = prepare_cached(&p, &cache).unwrap();
        assert_eq!(program_bytes(&again), program_bytes(&cold));
    }
}

//! `create`: validate, make the state dir and cgroup, clone the init into its
//! namespaces, drive it through setup, record state. Any failure undoes
//! every step taken (no state dir, no cgroup, no process is left).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::sched::CloneFlags;
use oci_spec::runtime::{Linux, LinuxNamespace, LinuxNamespaceType, LinuxResources};

pub use super::create_gate::Gate;
use crate::cgroups::Cgroup;
use crate::namespaces::{self, NsPlan};
use crate::process::init::{self, InitArgs};
use crate::process::procfs::ProcFs;
use crate::process::spawn::{self, CgroupEntry, Spawned};
use crate::process::sync::{self, Msg};
use crate::rootfs::mounts::{BindTree, Options};
use crate::security::{self, seccomp::Prepared};
use crate::spec::{self, Process, Spec};
use crate::state::{ContainerDir, Intent, StagedState, StartGate, State, Status};
use crate::syscall;

pub struct CreateOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub config: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub rootless: Rootless,
}

/// `--rootless`, with runc's meaning: whether a cgroup the runtime may not
/// make is tolerated (the container then runs in the caller's cgroup),
/// which it only is for a container that asks for no limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rootless {
    /// Rootless when not root, or root only in a user namespace.
    Auto,
    Yes,
    No,
}

impl Rootless {
    /// runc's spellings: auto (or empty) and Go's boolean words.
    pub fn parse(v: &str) -> Result<Rootless> {
        Ok(match v {
            "" | "auto" => Rootless::Auto,
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Rootless::Yes,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Rootless::No,
            _ => bail!("--rootless {v:?}: expected true, false or auto"),
        })
    }

    /// Asked only once a cgroup step has failed: the common path reads
    /// nothing for it.
    fn applies(self) -> bool {
        match self {
            Rootless::Yes => true,
            Rootless::No => false,
            Rootless::Auto => !nix::unistd::geteuid().is_root() || in_user_namespace(),
        }
    }
}

/// Whether this process's user namespace is not the initial one, whose
/// uid_map is the identity over the whole range.
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// A created container: the init is blocked on its start gate.
pub struct Created {
    pub dir: ContainerDir,
    pub state: State,
    /// `run`'s end of the start gate (see `Gate::Pipe`); None with
    /// exec.fifo, which `start` opens by its path.
    pub gate: Option<OwnedFd>,
    /// With `Gate::PipeOpened { block: true }`: the signals blocked before
    /// the byte went in, for `run` to forward.
    pub blocked: Option<nix::sys::signal::SigSet>,
}

/// Undo for a create that fails halfway.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    child: Option<i32>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.child.take() {
            // Our own child, not reaped (`spawn_placed` keeps SIGCHLD from
            // being ignored), so its pid cannot have been reused.
            crate::fault::pause("create:undo");
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn create(o: &CreateOpts) -> Result<Created> {
    spec::check_id(o.id)?;
    let loaded = spec::load(o.bundle, o.config)?;
    create_loaded(o, loaded, Gate::Fifo)
}

/// `create` with the spec already loaded and validated (`run` reads it
/// first to decide about the terminal; nothing is parsed twice). The
/// lifecycle's steps in order (see DESIGN.md); each failure undoes every
/// step taken before it.
pub fn create_loaded(
    o: &CreateOpts,
    mut loaded: spec::Validated,
    gate_kind: Gate,
) -> Result<Created> {
    spec::check_id(o.id)?;
    let activated;
    let o = match super::listen_fds::take(&mut loaded.spec) {
        Some(n) => {
            activated = CreateOpts {
                preserve_fds: o.preserve_fds.saturating_add(n),
                ..*o
            };
            &activated
        }
        None => o,
    };
    let mut plan = plan(o, &loaded)?;
    // Side effects start here.
    let mut made = make_state_dir(o, &plan.cgroup, &loaded.text)?;
    let entry = make_cgroup(o, &mut plan, &mut made)?;
    let draft = Draft::new(o, &loaded, &plan);
    let (init, gate) = spawn_init(o, &loaded, &mut plan, &mut made, &entry, &draft, gate_kind)?;
    drop(entry);
    let start_gate = gate.as_ref().map(|(_, g)| *g);
    let staged = stage_record(&made, &init, &draft, start_gate, o.pid_file)?;
    if let Err(e) = wait_for_ready(&plan, &init, &draft) {
        return Err(poststop_after_failed_setup(e, made, plan.spec, &draft));
    }
    let opened = match gate_kind {
        Gate::PipeOpened { block } => gate.as_ref().map(|(end, _)| (end, block)),
        Gate::Fifo | Gate::Pipe => None,
    };
    let mut created = record(o, plan, made, init, staged, opened)?;
    created.gate = gate.map(|(end, _)| end);
    Ok(created)
}

/// What validation settled: nothing exists yet.
struct Plan<'a> {
    spec: &'a Spec,
    process: &'a Process,
    linux: Option<&'a Linux>,
    seccomp: Option<Prepared>,
    namespaces: Vec<LinuxNamespace>,
    ns: NsPlan,
    resources: Option<&'a LinuxResources>,
    cgroup: Cgroup,
    /// The init waits for `DevicesSet` (see create_devices.rs).
    devices_gate: bool,
}

/// Validate and plan: every error of the config and the options comes
/// from here, before any side effect.
fn plan<'a>(o: &CreateOpts, loaded: &'a spec::Validated) -> Result<Plan<'a>> {
    let spec = &loaded.spec;
    crate::logging::debug(|| {
        format!(
            "create {}: config {} validated, rootfs {}",
            o.id,
            loaded.config.display(),
            loaded.rootfs.display()
        )
    });
    let process = spec.process().as_ref().context("process: missing")?;
    security::capabilities::validate(process.capabilities().as_ref())?;
    security::lsm::validate(spec)?;
    let linux = spec.linux().as_ref();
    let seccomp = prepare_seccomp(o.root, linux)?;
    let namespaces = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let ns = NsPlan::from_spec(&namespaces);
    match (process.terminal().unwrap_or(false), o.console_socket) {
        (true, None) => bail!("process.terminal is true but no --console-socket was given"),
        (false, Some(s)) => bail!("{}", crate::tty::no_terminal_to_send(s)),
        _ => {}
    }
    // linux.devices get no device rule of their own: the spec's access
    // strings hold as written (the defaults' `c *:* m` lets the init make
    // their nodes).
    let resources = linux.and_then(|l| l.resources().as_ref());
    let cgroups_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let mut cgroup = match Cgroup::plan(cgroups_path.as_deref(), o.id, resources) {
        Ok(cg) => cg,
        Err(_) if tolerates_no_cgroup(o, resources) => Cgroup::from_paths(Default::default()),
        Err(e) => return Err(e),
    };
    cgroup.set_own_pid_ns(ns.creates(LinuxNamespaceType::Pid));
    security::protected_exe::ensured()?;
    Ok(Plan {
        spec,
        process,
        linux,
        seccomp,
        namespaces,
        ns,
        resources,
        cgroup,
        devices_gate: false,
    })
}

/// The compiled filter (from the cache when it holds it), its warnings
/// logged.
fn prepare_seccomp(root: &Path, linux: Option<&Linux>) -> Result<Option<Prepared>> {
    let Some(profile) = linux.and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let s = security::seccomp::prepare_cached(profile, &crate::state::seccomp_cache(root))?;
    for w in s.warnings() {
        crate::logging::warn(&w);
    }
    crate::logging::debug(|| {
        format!(
            "seccomp: {} instructions; syscalls unknown to libseccomp, skipped: {:?}",
            s.len(),
            s.skipped_syscalls()
        )
    });
    Ok(Some(s))
}

/// Rootless, as with runc: without a cgroup delegated to the user, a
/// container that asks for no limits runs without a cgroup of its own.
fn tolerates_no_cgroup(o: &CreateOpts, resources: Option<&LinuxResources>) -> bool {
    !has_limits(resources) && o.rootless.applies()
}

/// What create has made so far, and the record of it.
struct Made {
    dir: ContainerDir,
    undo: Undo,
    intent: Intent,
}

/// The state dir, locked, with the intent record of the cgroup directories
/// about to be made: intent before effect, so that `delete --force` can
/// undo a create killed at any instant from here on.
fn make_state_dir(o: &CreateOpts, cgroup: &Cgroup, config: &[u8]) -> Result<Made> {
    let dir = ContainerDir::create(o.root, o.id)?;
    let mut undo = Undo {
        dir: Some(dir.path.clone()),
        cgroup: None,
        child: None,
    };
    let mut intent = Intent {
        cgroup: cgroup.paths().clone(),
        ..Default::default()
    };
    intent.cgroup.created = cgroup.to_create();
    if let Err(e) = dir.begin_intent(&intent, config) {
        // A record there already: the dir is another create's, which
        // made it after a `delete --force` removed ours before we locked
        // it (tests/races_s9.rs). Removing it would orphan that
        // container. OUTLET_UNDO_ANY_DIR=1 (debug builds: the control)
        // removes it as before.
        if matches!(
            crate::state::Lookup::of(&e),
            Some(crate::state::Lookup::Exists(_))
        ) && !crate::fault::control("OUTLET_UNDO_ANY_DIR")
        {
            undo.dir = None;
        }
        return Err(e);
    }
    crate::fault::point("create:intent");
    Ok(Made { dir, undo, intent })
}

/// The cgroup with every limit written, before the init exists; and how
/// the init will enter it.
fn make_cgroup(o: &CreateOpts, plan: &mut Plan, made: &mut Made) -> Result<CgroupEntry> {
    plan.devices_gate = super::create_devices::defer(o, &plan.ns, &mut plan.cgroup);
    if let Err(e) = plan.cgroup.create(plan.resources) {
        if !(is_permission(&e) && tolerates_no_cgroup(o, plan.resources)) {
            return Err(e);
        }
        plan.cgroup = Cgroup::from_paths(Default::default());
    }
    let entry = CgroupEntry::of(&plan.cgroup);
    made.undo.cgroup = Some(Cgroup::from_paths(plan.cgroup.paths().clone()));
    crate::logging::debug(|| format!("cgroup ready, limits written: {:?}", plan.cgroup.paths()));
    crate::fault::point("create:cgroup");
    Ok(entry)
}

/// The container's state as create records it, all but the init's pid
/// and start time; the hooks and a seccomp listener get it too.
struct Draft {
    state: State,
}

impl Draft {
    fn new(o: &CreateOpts, loaded: &spec::Validated, plan: &Plan) -> Draft {
        let spec = plan.spec;
        Draft {
            state: State {
                oci_version: spec.version().clone(),
                id: o.id.to_string(),
                pid: 0,
                bundle: loaded.bundle.clone(),
                rootfs: loaded.rootfs.clone(),
                created: crate::logging::rfc3339_now(),
                owner: crate::state::owner(),
                annotations: spec
                    .annotations()
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                init_start_time: 0,
                cgroup: plan.cgroup.paths().clone(),
                hooks: spec.hooks().clone(),
                namespaces: plan
                    .namespaces
                    .iter()
                    .map(|n| namespaces::proc_name(n.typ()).to_string())
                    .collect(),
                use_terminal: plan.process.terminal().unwrap_or(false),
                start_gate: None,
            },
        }
    }

    fn json(&self, pid: i32, status: Status) -> String {
        let mut oci = self.state.oci(status);
        if status != Status::Stopped {
            oci.pid = pid;
        }
        serde_json::to_string(&oci).unwrap_or_default()
    }
}

/// Clone the init into its namespaces and cgroup, and put its pid and
/// start time on record at once, so that a later damaged state.json still
/// leads `delete --force` to it without trusting a bare pid. Returns the
/// init and, with `Gate::Pipe`, the gate's write end and the record by
/// which `state` tells the init still waits at it.
fn spawn_init(
    o: &CreateOpts,
    loaded: &spec::Validated,
    plan: &mut Plan,
    made: &mut Made,
    entry: &CgroupEntry,
    draft: &Draft,
    gate: Gate,
) -> Result<(Spawned, Option<(OwnedFd, StartGate)>)> {
    let (fifo, gate_end) = super::create_gate::open_ends(gate, &made.dir)?;
    // The init's end is the lower fd, next to the fifo's: the init closes
    // the fds around the two it keeps with one close_range fewer.
    let (child_end, parent_end) = sync::pair()?;
    if let Some(s) = plan.seccomp.as_mut()
        && s.listener_path().is_some()
    {
        // listenerPath is a host path: connect while it is in sight; the
        // init inherits the socket.
        s.connect_listener()?;
    }
    if let Some((_, p)) = plan
        .ns
        .join
        .iter()
        .find(|(t, _)| *t == LinuxNamespaceType::Pid)
    {
        // setns to a pid namespace only applies to children: the clone
        // below lands in it.
        namespaces::join(LinuxNamespaceType::Pid, p)?;
    }
    let cloned = clone_flags(&plan.ns, entry);
    let mount_options =
        crate::spec::mount_options::parse_all(plan.spec.mounts().as_deref().unwrap_or(&[]));
    let binds = open_binds_for_userns(plan, &mount_options)?;
    let state_json = |pid: i32, status: Status| draft.json(pid, status);
    let args = InitArgs {
        spec: plan.spec,
        rootfs: &loaded.rootfs,
        plan: &plan.ns,
        cloned,
        cgroup: plan.cgroup.paths(),
        join_cgroup: entry.join_fds(),
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        id: o.id,
        fifo: fifo.as_raw_fd(),
        seccomp: plan.seccomp.as_ref(),
        preserve_fds: o.preserve_fds,
        has_runtime_hooks: has_runtime_hooks(plan.spec),
        state_json: &state_json,
        console_socket: o.console_socket,
        lock_fd: made.dir.lock_fd(),
        binds: &binds,
        mount_options: &mount_options,
        devices_gate: plan.devices_gate,
    };
    let mut init = spawn::spawn(
        cloned.bits() as u64,
        entry,
        parent_end,
        child_end,
        "clone the container init",
        |chan| init::run(&args, chan),
    )?;
    made.undo.child = Some(init.pid);
    // Killed here, the init is on no record and may not yet have set its
    // death signal (tests/crash.rs).
    crate::fault::point("create:clone");
    if crate::process::init_fork::wanted(&plan.ns) {
        // The clone was an intermediate: the init is its child, ours too.
        made.undo.child = Some(init.follow_fork()?);
    }
    crate::logging::debug(|| format!("init cloned: pid {}, namespaces {cloned:?}", init.pid));
    // Nothing to do at `Unshared`: the init finds its answer waiting
    // instead of idling while the device program loads and the records
    // below go to disk.
    let placed = !placement_needs_us(plan, &init);
    if placed {
        init.chan
            .send_unless_gone(&Msg::Placed { init_pid: init.pid })?;
    }
    // Meanwhile the init unshares and mounts; it waits for `DevicesSet`
    // before it makes or opens a node (with placement to do here, it comes
    // right after `Placed`, at `Unshared`).
    super::create_devices::attach(&plan.cgroup, false)?;
    if placed && plan.devices_gate {
        init.chan.send_unless_gone(&Msg::DevicesSet)?;
    }
    if let Some(s) = &plan.seccomp {
        s.close_listener();
    }
    // `start` waits for the init to close the last reading end.
    drop(fifo);
    record_init(made, &plan.cgroup, init.pid)?;
    crate::fault::point("create:cloned");
    Ok((init, gate_end))
}

/// The init exists: its pid and start time go on record at once, with the
/// exact cgroup directories made.
fn record_init(made: &mut Made, cgroup: &Cgroup, pid: i32) -> Result<()> {
    let init_start_time = crate::process::pidstat::read_start_time(pid)
        .with_context(|| format!("read the init's start time (/proc/{pid}/stat)"))?
        .map(|(t, _)| t)
        .context("read the init's start time: the init is gone")?;
    made.intent.cgroup = cgroup.paths().clone();
    made.intent.pid = pid;
    made.intent.init_start_time = init_start_time;
    made.dir.append_intent(&made.intent)
}

/// The namespaces the clone makes. With namespaces to join, the joins come
/// first in the child and the rest is unshared after them; otherwise one
/// clone makes them all. The cgroup namespace can only be part of the
/// clone when the clone also places the child in its cgroup (v2).
fn clone_flags(ns: &NsPlan, entry: &CgroupEntry) -> CloneFlags {
    let mut cloned = if crate::process::init_fork::wanted(ns) {
        // The init makes them after the joins (process/init_fork.rs).
        CloneFlags::empty()
    } else if ns.join.iter().any(|(t, _)| *t != LinuxNamespaceType::Pid) {
        ns.new & CloneFlags::CLONE_NEWPID
    } else {
        ns.new
    };
    if !entry.clones_into() {
        cloned &= !CloneFlags::CLONE_NEWCGROUP;
    }
    // The init makes these itself: time (enter_new_time), a late ipc (become_mapped_root).
    cloned & !namespaces::flag(LinuxNamespaceType::Time) & !ns.late_ipc()
}

/// A user namespace takes the host's privileges from the init: bind
/// sources are opened now, before the clone (the init inherits the fds).
/// Rootless, we hold none to lend: the init opens them as before.
fn open_binds_for_userns(plan: &Plan, options: &[Options]) -> Result<Vec<Option<BindTree>>> {
    let userns =
        plan.ns.creates(LinuxNamespaceType::User) || plan.ns.joins(LinuxNamespaceType::User);
    if userns && nix::unistd::geteuid().is_root() {
        crate::rootfs::mounts::open_binds(plan.spec.mounts().as_deref().unwrap_or(&[]), options)
    } else {
        Ok(Vec::new())
    }
}

fn has_runtime_hooks(spec: &Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    })
}

/// Drive the init through its setup until it reports ready: place it and
/// map its ids, run the runtime hooks when it asks.
fn wait_for_ready(plan: &Plan, init: &Spawned, draft: &Draft) -> Result<()> {
    loop {
        let (msg, sock) = init.chan.recv_with_fd()?;
        match msg {
            Some(Msg::Unshared) => {
                if placement_needs_us(plan, init) {
                    place_init(plan, init)?;
                    init.chan.send(&Msg::Placed { init_pid: init.pid })?;
                    if plan.devices_gate {
                        init.chan.send(&Msg::DevicesSet)?;
                    }
                }
                // lo up while the init mounts.
                crate::process::network::lo_up_for(&plan.ns, sock)?;
                // The init closed its copy of the binary's overlay mount
                // before `Unshared` (then ours is the last, and its close
                // waits for an RCU grace period, now while the init sets
                // up), or keeps it to attach below its old root (then
                // nothing waits: see rootfs/pivot.rs).
                security::protected_exe::release_mount();
            }
            Some(Msg::HooksDue) => {
                run_runtime_hooks(plan.spec, &draft.json(init.pid, Status::Creating))?;
                init.chan.send(&Msg::HooksDone)?;
            }
            Some(Msg::Ready) => {
                super::create_devices::attach(&plan.cgroup, true)?;
                crate::logging::debug(|| {
                    "init ready: mounts, pivot_root, user and caps set".into()
                });
                return Ok(());
            }
            Some(Msg::Error { errno, context }) => {
                let e = sync::remote_error(errno, context);
                return Err(
                    match super::setup_oom::memory_short(&plan.cgroup, plan.resources, errno) {
                        Some(why) => e.context(why),
                        None => e,
                    },
                );
            }
            Some(other) => bail!("sync: unexpected {} from the init", other.name()),
            None => {
                if let Some(why) = super::setup_oom::oom_during_setup(&plan.cgroup, plan.resources)
                {
                    bail!("{why}");
                }
                bail!("container init exited during setup{}", init.how_it_ended())
            }
        }
    }
}

/// The runtime-spec's lifecycle after a failed prestart, createRuntime or
/// createContainer hook: "continue the lifecycle at step 12", that is,
/// destroy what create made, then run the poststop hooks (step 13), which
/// are how a caller undoes what its earlier hooks set up (a network, a
/// lease). runc does the same for any create that fails once its init
/// exists; so does outlet for a failure anywhere in the setup, the phase
/// in which those hooks run. The error stays the create's.
fn poststop_after_failed_setup(
    e: anyhow::Error,
    made: Made,
    spec: &Spec,
    draft: &Draft,
) -> anyhow::Error {
    let poststop = spec.hooks().as_ref().and_then(|h| h.poststop().as_ref());
    if poststop.is_none_or(|v| v.is_empty()) {
        return e;
    }
    // Kills and reaps the init, removes the cgroup and the state dir.
    drop(made);
    crate::hooks::run_all_warn("poststop", poststop, &draft.json(0, Status::Stopped));
    e
}

/// Whether `place_init` has work that must wait for the init's
/// `Unshared`; without it `Placed` is sent right after the clone.
fn placement_needs_us(plan: &Plan, init: &Spawned) -> bool {
    !init.placed_without_us()
        || plan.ns.creates(LinuxNamespaceType::User)
        || plan.process.oom_score_adj().is_some()
        || super::netdev::wanted(plan.linux)
}

/// The init's namespaces exist: put it in its cgroup, and write its id maps
/// and oom_score_adj from the host's /proc, before it has mounted
/// anything or become non-dumpable (which would give its /proc files to
/// the host's root, out of reach of the root of a user namespace).
fn place_init(plan: &Plan, init: &Spawned) -> Result<()> {
    init.place(&plan.cgroup)?;
    let userns = plan.ns.creates(LinuxNamespaceType::User);
    let oom = plan.process.oom_score_adj();
    if userns || oom.is_some() {
        let proc = ProcFs::host()?;
        if userns {
            let l = plan.linux.context("linux: missing")?;
            namespaces::write_id_maps(
                &proc,
                init.pid,
                l.uid_mappings().as_deref().unwrap_or(&[]),
                l.gid_mappings().as_deref().unwrap_or(&[]),
            )?;
        }
        if let Some(adj) = oom {
            let rel = ProcFs::of(init.pid, "oom_score_adj");
            proc.write(&rel, adj.to_string().as_bytes())
                .with_context(|| format!("process.oomScoreAdj {adj}: writing /proc/{rel}"))?;
        }
    }
    if let Some(d) = plan.linux.and_then(|l| l.net_devices().as_ref())
        && !d.is_empty()
    {
        super::netdev::move_all(d, init.pid)?;
    }
    crate::logging::debug(|| "init placed in its cgroup, id maps written".into());
    Ok(())
}

/// prestart and createRuntime, in the runtime's namespaces, once the
/// init's mounts are done.
fn run_runtime_hooks(spec: &Spec, state_json: &str) -> Result<()> {
    let hooks = spec.hooks().as_ref();
    crate::hooks::run_all(
        "prestart",
        hooks.and_then(|h| h.prestart().as_ref()),
        state_json,
    )?;
    crate::hooks::run_all(
        "createRuntime",
        hooks.and_then(|h| h.create_runtime().as_ref()),
        state_json,
    )
}

/// state.json's bytes, written while the init sets itself up (the parent
/// would only wait for it): on ext4 each new file is an inode allocation,
/// which this takes off the path to Ready. (The config went into
/// intent.json's head.) Nothing reads it before `record` renames it into
/// place (a dir without state.json is a container being created), and a
/// create that fails removes the whole dir. The pid file's inode is made
/// and written now too (unnamed: a create that fails leaves nothing in
/// the caller's directory), and linked in after Ready.
fn stage_record<'o>(
    made: &Made,
    init: &Spawned,
    draft: &Draft,
    start_gate: Option<StartGate>,
    pid_file: Option<&'o Path>,
) -> Result<Staged<'o>> {
    let state = State {
        pid: init.pid,
        init_start_time: made.intent.init_start_time,
        start_gate,
        ..draft.state.clone()
    };
    let staged = made.dir.stage(&state)?;
    let pid_file = pid_file.map(|p| syscall::StagedPidFile::new(p, init.pid));
    Ok((state, staged, pid_file))
}

/// What `stage_record` wrote, for `record` to put into place.
type Staged<'o> = (State, StagedState, Option<syscall::StagedPidFile<'o>>);

/// Record the ready container (state.json into place, the pid file),
/// then let the init turn its death signal off: until then a killed
/// `create` takes it along. Nothing is left to undo after this.
fn record(
    o: &CreateOpts,
    plan: Plan,
    mut made: Made,
    init: Spawned,
    (state, staged, pid_file): Staged,
    opened: Option<(&OwnedFd, bool)>,
) -> Result<Created> {
    crate::fault::point("create:ready");
    staged.commit()?;
    crate::logging::debug(|| format!("state saved in {}", made.dir.path.display()));
    crate::fault::point("create:saved");
    if let (Some(p), Some(staged)) = (o.pid_file, pid_file) {
        staged
            .commit()
            .with_context(|| format!("pid file {}", p.display()))?;
    }
    if let Some(s) = &plan.seccomp {
        s.remember();
    }
    let blocked = match opened {
        Some((end, block)) => super::create_gate::put_byte_or_why(end, block, &init.chan)?,
        None => None,
    };
    crate::fault::pause("create:gate-opened");
    // Recorded: the init may now turn its death signal off; its closing
    // the channel says it has (exiting before that would kill it).
    match init.chan.send_then_recv(&Msg::Recorded)? {
        None => {}
        // Its death signal could not be turned off (faults_s8: prctl
        // failing): say what failed, not only that a message came.
        Some(Msg::Error { errno, context }) => {
            return Err(sync::remote_error(errno, context).context("container init after Recorded"));
        }
        Some(m) => bail!("sync: unexpected {} from the init after ready", m.name()),
    }
    crate::fault::point("create:detached");
    // Success: nothing to undo. The init stays, blocked on exec.fifo.
    made.undo.child = None;
    made.undo.cgroup = None;
    made.undo.dir = None;
    drop(plan);
    drop(init);
    Ok(Created {
        dir: made.dir,
        state,
        gate: None,
        blocked,
    })
}

/// Limits other than the device list (which the default spec always has).
fn has_limits(r: Option<&LinuxResources>) -> bool {
    let Some(r) = r else { return false };
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty())
        || r.unified().as_ref().is_some_and(|m| !m.is_empty())
        || r.network().is_some()
        || r.rdma().is_some()
}

fn is_permission(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootless_takes_runcs_values_and_refuses_others() {
        for (v, want) in [
            ("auto", Rootless::Auto),
            ("", Rootless::Auto),
            ("true", Rootless::Yes),
            ("1", Rootless::Yes),
            ("False", Rootless::No),
            ("0", Rootless::No),
        ] {
            assert_eq!(Rootless::parse(v).unwrap(), want, "{v:?}");
        }
        for v in ["yes", "maybe", "tru", " true"] {
            let err = Rootless::parse(v).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("--rootless {v:?}: expected true, false or auto")
            );
        }
        assert!(Rootless::Yes.applies());
        assert!(!Rootless::No.applies());
    }

    /// `auto` must see a user namespace that the euid alone does not show
    /// (root inside one): a child unshares one and asks.
    #[test]
    fn auto_sees_a_user_namespace() {
        let host = crate::security::testutil::in_child(|| Ok(in_user_namespace().to_string())).ok();
        let inside = crate::security::testutil::in_child(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
                .map_err(|e| format!("unshare: {e}"))?;
            Ok(in_user_namespace().to_string())
        })
        .ok();
        // The control: the test runs in the host's initial namespace.
        assert_eq!(host, "false");
        assert_eq!(inside, "true");
    }
}

//! `create`: validate, make the state dir and cgroup, clone the init into its
//! namespaces, drive it through setup, record state. Any failure undoes
//! every step taken (no state dir, no cgroup, no process is left).

#![deny(unsafe_code)]

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::sched::CloneFlags;
use oci_spec::runtime::LinuxNamespaceType;

use crate::cgroups::Cgroup;
use crate::namespaces::{self, Plan};
use crate::process::init::{self, InitArgs};
use crate::process::procfs::ProcFs;
use crate::process::sync::{self, Msg};
use crate::security;
use crate::spec;
use crate::state::{ContainerDir, Intent, State, Status};
use crate::syscall::{self, Forked};

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

/// A created container: the init is blocked on exec.fifo.
pub struct Created {
    pub dir: ContainerDir,
    pub state: State,
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
            // The init is our own child and has not been reaped, so its pid
            // cannot have been reused.
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
    create_loaded(o, loaded)
}

/// `create` with the spec already loaded and validated (`run` reads it
/// first to decide about the terminal; nothing is parsed twice).
pub fn create_loaded(o: &CreateOpts, loaded: spec::Loaded) -> Result<Created> {
    spec::check_id(o.id)?;
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
    let mut seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(security::seccomp::prepare_cached(
            s,
            &crate::state::seccomp_cache(o.root),
        )?),
        None => None,
    };
    if let Some(s) = &seccomp {
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
    }
    let nss = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let plan = Plan::from_spec(&nss);
    if process.terminal().unwrap_or(false) && o.console_socket.is_none() {
        bail!("process.terminal is true but no --console-socket was given");
    }
    // linux.devices get no device rule of their own: the spec's access
    // strings hold as written (the defaults' `c *:* m` lets the init make
    // their nodes).
    let resources = linux.and_then(|l| l.resources().as_ref());
    let cgroups_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    // Rootless, as with runc: without a cgroup delegated to the user, a
    // container that asks for no limits runs without a cgroup of its own.
    let tolerate = || !has_limits(resources) && o.rootless.applies();
    let mut cgroup = match Cgroup::plan(cgroups_path.as_deref(), o.id, resources) {
        Ok(cg) => cg,
        Err(_) if tolerate() => Cgroup::from_paths(Default::default()),
        Err(e) => return Err(e),
    };
    cgroup.set_own_pid_ns(plan.creates(LinuxNamespaceType::Pid));

    security::protected_exe::ensured()?;

    // Side effects start here.
    let dir = ContainerDir::create(o.root, o.id)?;
    let mut undo = Undo {
        dir: Some(dir.path.clone()),
        cgroup: None,
        child: None,
    };
    // Intent before effect: what the cgroup step will make is on record
    // before it makes it, so `delete --force` can undo a create killed at
    // any instant from here on.
    let mut intent = Intent {
        cgroup: cgroup.paths().clone(),
        ..Default::default()
    };
    intent.cgroup.created = cgroup.to_create();
    dir.save_intent(&intent)?;
    crate::fault::point("create:intent");
    if let Err(e) = cgroup.create(resources) {
        if !(is_permission(&e) && tolerate()) {
            return Err(e);
        }
        cgroup = Cgroup::from_paths(Default::default());
    }
    let cgroup_fd = cgroup.clone_into_fd();
    let join_files = cgroup.self_join_files();
    let join_fds: Vec<RawFd> = join_files
        .iter()
        .flatten()
        .map(AsRawFd::as_raw_fd)
        .collect();
    undo.cgroup = Some(Cgroup::from_paths(cgroup.paths().clone()));
    crate::logging::debug(|| format!("cgroup ready, limits written: {:?}", cgroup.paths()));
    crate::fault::point("create:cgroup");

    // The init gets the fifo open for reading and writing (which never
    // blocks) and waits on it without reopening it: it needs no /proc and
    // no path, and only `start`, from the host, opens the file again.
    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .with_context(|| format!("mkfifo {}", fifo_path.display()))?;
    let fifo: OwnedFd = syscall::openat2(
        libc::AT_FDCWD,
        &fifo_path,
        libc::O_RDWR | libc::O_NOFOLLOW,
        0,
    )
    .with_context(|| format!("open {}", fifo_path.display()))?;

    // The init's end is the lower fd, next to the fifo's: the init closes
    // the fds around the two it keeps with one close_range fewer.
    let (child_chan, parent_chan) = sync::pair()?;
    if let Some(s) = seccomp.as_mut()
        && s.listener_path().is_some()
    {
        // listenerPath is a host path: connect while it is in sight; the
        // init inherits the socket.
        s.connect_listener()?;
    }

    if let Some((_, p)) = plan
        .join
        .iter()
        .find(|(t, _)| *t == LinuxNamespaceType::Pid)
    {
        // setns to a pid namespace only applies to children: the clone
        // below lands in it.
        namespaces::join(LinuxNamespaceType::Pid, p)?;
    }
    // With namespaces to join, the joins come first in the child and the
    // rest is unshared after them; otherwise one clone makes them all. The
    // cgroup namespace can only be part of the clone when the clone also
    // places the child in its cgroup (v2).
    let mut cloned = if plan.join.iter().any(|(t, _)| *t != LinuxNamespaceType::Pid) {
        plan.new & CloneFlags::CLONE_NEWPID
    } else {
        plan.new
    };
    if cgroup_fd.is_none() {
        cloned &= !CloneFlags::CLONE_NEWCGROUP;
    }
    // The init makes its time namespace itself (see enter_new_time).
    cloned &= !namespaces::flag(LinuxNamespaceType::Time);

    let created = crate::logging::rfc3339_now();
    let annotations = spec.annotations().clone().unwrap_or_default();
    let state_for = |pid: i32| -> State {
        State {
            oci_version: spec.version().clone(),
            id: o.id.to_string(),
            pid,
            bundle: loaded.bundle.clone(),
            rootfs: loaded.rootfs.clone(),
            created: created.clone(),
            owner: crate::state::owner(),
            annotations: annotations.clone(),
            init_start_time: 0,
            cgroup: cgroup.paths().clone(),
            hooks: spec.hooks().clone(),
            namespaces: nss
                .iter()
                .map(|n| namespaces::proc_name(n.typ()).to_string())
                .collect(),
            use_terminal: process.terminal().unwrap_or(false),
        }
    };
    let state_json = |pid: i32, status: Status| -> String {
        let st = state_for(pid);
        serde_json::to_string(&st.oci(status)).unwrap_or_default()
    };
    let hooks = spec.hooks().as_ref();
    let has_runtime_hooks = hooks.is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    });

    // A user namespace takes the host's privileges from the init: bind
    // sources are opened now, before the clone (the init inherits the fds).
    // Rootless, we hold none to lend: the init opens them as before.
    let userns = plan.creates(LinuxNamespaceType::User) || plan.joins(LinuxNamespaceType::User);
    let binds = if userns && nix::unistd::geteuid().is_root() {
        crate::rootfs::mounts::open_binds(spec.mounts().as_deref().unwrap_or(&[]))?
    } else {
        Vec::new()
    };
    let args = InitArgs {
        spec,
        rootfs: &loaded.rootfs,
        plan: &plan,
        cloned,
        cgroup: cgroup.paths(),
        join_cgroup: &join_fds,
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        id: o.id,
        fifo: fifo.as_raw_fd(),
        seccomp: seccomp.as_ref(),
        preserve_fds: o.preserve_fds,
        has_runtime_hooks,
        state_json: &state_json,
        console_socket: o.console_socket,
        lock_fd: dir.lock_fd(),
        binds: &binds,
    };

    let (forked, in_cgroup) = syscall::clone_process(cloned.bits() as u64, cgroup_fd)
        .context("clone the container init")?;
    let pid = match forked {
        Forked::Child => {
            drop(parent_chan);
            init::run(&args, child_chan)
        }
        Forked::Parent(pid) => pid,
    };
    undo.child = Some(pid);
    crate::logging::debug(|| format!("init cloned: pid {pid}, namespaces {cloned:?}"));
    drop(child_chan);
    if let Some(s) = &seccomp {
        s.close_listener();
    }
    // `start` waits for the init to close the last reading end.
    drop(fifo);
    // The init exists: its pid and start time go on record at once (the
    // exact cgroup directories made, too), so a later damaged state.json
    // still leads `delete --force` to it without trusting a bare pid.
    let init_start_time = crate::process::pidstat::start_time(pid)
        .map(|(t, _)| t)
        .context("read the init's start time")?;
    intent.cgroup = cgroup.paths().clone();
    intent.pid = pid;
    intent.init_start_time = init_start_time;
    dir.save_intent(&intent)?;
    crate::fault::point("create:cloned");
    let init_joins_cgroup = join_files.is_some();
    drop(join_files);

    loop {
        match parent_chan.recv()? {
            Some(Msg::Unshared) => {
                if !in_cgroup && !init_joins_cgroup {
                    cgroup.add_pid(pid)?;
                }
                let userns = plan.creates(LinuxNamespaceType::User);
                let oom = process.oom_score_adj();
                // Written here, from the host's /proc, before the init has
                // mounted anything or become non-dumpable (which would
                // give its /proc files to the host's root, out of reach of
                // the root of a user namespace).
                if userns || oom.is_some() {
                    let proc = ProcFs::host()?;
                    if userns {
                        let l = linux.context("linux: missing")?;
                        namespaces::write_id_maps(
                            &proc,
                            pid,
                            l.uid_mappings().as_deref().unwrap_or(&[]),
                            l.gid_mappings().as_deref().unwrap_or(&[]),
                        )?;
                    }
                    if let Some(adj) = oom {
                        let rel = ProcFs::of(pid, "oom_score_adj");
                        proc.write(&rel, adj.to_string().as_bytes())
                            .with_context(|| {
                                format!("process.oomScoreAdj {adj}: writing /proc/{rel}")
                            })?;
                    }
                }
                crate::logging::debug(|| "init placed in its cgroup, id maps written".into());
                parent_chan.send(&Msg::Placed { init_pid: pid })?;
            }
            Some(Msg::HooksDue) => {
                let json = state_json(pid, Status::Creating);
                crate::hooks::run_all(
                    "prestart",
                    hooks.and_then(|h| h.prestart().as_ref()),
                    &json,
                )?;
                crate::hooks::run_all(
                    "createRuntime",
                    hooks.and_then(|h| h.create_runtime().as_ref()),
                    &json,
                )?;
                parent_chan.send(&Msg::HooksDone)?;
            }
            Some(Msg::Ready) => {
                crate::logging::debug(|| {
                    "init ready: mounts, pivot_root, user and caps set".into()
                });
                break;
            }
            Some(Msg::Error { errno, context }) => return Err(sync::remote_error(errno, context)),
            Some(other) => bail!("sync: unexpected {} from the init", other.name()),
            None => {
                if let Some(why) = oom_during_setup(&cgroup, resources) {
                    bail!("{why}");
                }
                bail!("container init exited during setup")
            }
        }
    }

    crate::fault::point("create:ready");
    let mut state = state_for(pid);
    state.init_start_time = init_start_time;
    dir.save_config(&loaded.text)?;
    dir.save(&state)?;
    crate::logging::debug(|| format!("state saved in {}", dir.path.display()));
    crate::fault::point("create:saved");
    if let Some(p) = o.pid_file {
        syscall::write_atomic(p, pid.to_string().as_bytes())
            .with_context(|| format!("pid file {}", p.display()))?;
    }
    if let Some(s) = &seccomp {
        s.remember();
    }
    // Recorded: the init may now turn its death signal off; its closing
    // the channel says it has (exiting before that would kill it).
    parent_chan.send(&Msg::Recorded)?;
    if parent_chan.recv()?.is_some() {
        bail!("sync: unexpected message from the init after ready");
    }
    crate::fault::point("create:detached");
    // Success: nothing to undo. The init stays, blocked on exec.fifo.
    undo.child = None;
    undo.cgroup = None;
    undo.dir = None;
    drop(cgroup);
    Ok(Created { dir, state })
}

/// The memory limit as the reason the init died before "ready": the
/// kernel's OOM killer counted a kill in the container's cgroup.
fn oom_during_setup(
    cgroup: &Cgroup,
    resources: Option<&oci_spec::runtime::LinuxResources>,
) -> Option<String> {
    let limit = resources?.memory().as_ref()?.limit().filter(|l| *l > 0)?;
    let kills = cgroup.oom_kills().ok()??;
    (kills > 0).then(|| {
        format!(
            "linux.resources.memory.limit: {limit} bytes is below what the container's setup needs: \
             the kernel's OOM killer killed the init before it was ready (oom_kill {kills} in its cgroup)"
        )
    })
}

/// Limits other than the device list (which the default spec always has).
fn has_limits(r: Option<&oci_spec::runtime::LinuxResources>) -> bool {
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

//! The command line, runc-compatible: global flags and one struct per
//! subcommand. Global flags are accepted in any position because callers
//! (containerd's shim, conmon, test harnesses) differ in where they put them.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = NAME,
    about = "An OCI container runtime: namespaces, pivot_root and cgroup limits behind runc's command line",
    disable_version_flag = true,
    propagate_version = false,
    subcommand_required = false,
    arg_required_else_help = true,
    // runc and crun take a repeated flag, the last one winning.
    args_override_self = true
)]
pub struct Cli {
    /// Directory for container state (default /run/outlet, or $XDG_RUNTIME_DIR/outlet for a non-root user)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Append log lines to FILE instead of stderr
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Format of the log: text or json
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log debug messages as well
    #[arg(long, global = true)]
    pub debug: bool,

    /// Manage cgroups through systemd: a transient scope per container,
    /// cgroupsPath "slice:prefix:name" (cgroup v2 hosts)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,

    /// crun's spelling of the cgroup driver: cgroupfs, systemd or disabled
    #[arg(long, global = true, value_name = "MANAGER")]
    pub cgroup_manager: Option<String>,

    /// Rootless mode: auto, true or false (only before the command, as in
    /// runc, since `spec --rootless` is a flag of its own)
    #[arg(
        long = "rootless",
        id = "global_rootless",
        value_name = "MODE",
        default_value = "auto"
    )]
    pub rootless: String,

    /// The criu binary for checkpoint and restore (default: criu on PATH)
    #[arg(long, global = true, value_name = "PATH")]
    pub criu: Option<PathBuf>,

    /// Print the version, commit and runtime-spec version
    #[arg(short = 'v', long)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

const NAME: &str = "outlet";

/// Top-level flags that take a value, as `--flag v` (the `--flag=v` form
/// needs no lookahead). Must match `Cli`'s value-taking flags; the
/// equivalence test in this file fails when one is missing.
const VALUE_FLAGS: [&str; 6] = [
    "--root",
    "--criu",
    "--log",
    "--log-format",
    "--rootless",
    "--cgroup-manager",
];
/// Top-level flags without a value.
const BOOL_FLAGS: [&str; 2] = ["--debug", "--systemd-cgroup"];

/// The subcommand an argv names: the first argument that is not a top-level
/// flag or a top-level flag's value. None when something else (--help,
/// --version, `--`, an unknown flag, nothing) comes first: the caller then
/// takes the full parse, which owns every message clap prints.
pub fn subcommand_name(argv: &[OsString]) -> Option<&str> {
    let mut rest = argv.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        if VALUE_FLAGS.contains(&arg) {
            rest.next()?;
        } else if BOOL_FLAGS.contains(&arg)
            || VALUE_FLAGS
                .iter()
                .any(|f| arg.strip_prefix(f).is_some_and(|v| v.starts_with('=')))
        {
        } else if arg.starts_with('-') {
            return None;
        } else {
            return Some(arg);
        }
    }
    None
}

/// go-runc (containerd's runc shim) spells two restore flags with one dash,
/// `-no-subreaper` and `-no-pivot`, which runc's flag parser takes as long
/// flags; clap would read a cluster of short ones. Only those two exact
/// words, only after `restore`, are rewritten: every other argv is returned
/// as it came, without a copy.
pub fn runc_spellings(mut argv: Vec<OsString>) -> Vec<OsString> {
    if let Some(at) = argv.iter().position(|a| a == "restore") {
        for a in &mut argv[at + 1..] {
            if a == "-no-subreaper" || a == "-no-pivot" {
                let mut long = OsString::from("-");
                long.push(&*a);
                *a = long;
            }
        }
    }
    argv
}

impl Cli {
    /// Parses like `Cli::try_parse_from`, but builds only the called
    /// subcommand: outlet runs once per call, and building the full command
    /// (every subcommand, every global flag propagated into each) was most
    /// of its start-up instructions. None means "take the full parse":
    /// help, version, errors and unknown subcommands all go there, so what
    /// clap prints stays exactly as before.
    pub fn try_parse_fast_from(argv: &[OsString]) -> Option<Cli> {
        let name = subcommand_name(argv)?;
        // Subcommands are deferred (see `Command`), so this builds 17 shells
        // (name and about) without their args.
        let full = <Cli as CommandFactory>::command();
        let sub = full.find_subcommand(name)?.clone();
        // The same top-level args, with only the called subcommand. The
        // top-level settings `Cli` adds (arg_required_else_help, ...) only
        // matter when no subcommand is given, which never comes here.
        let mut top = full
            .get_arguments()
            .fold(
                clap::Command::new(NAME).args_override_self(true),
                |top, arg| top.arg(arg.clone()),
            )
            .subcommand(sub);
        let parsed = top
            .try_get_matches_from_mut(argv)
            .ok()
            .and_then(|mut matches| {
                let cli = Cli::from_arg_matches_mut(&mut matches).ok();
                std::mem::forget(matches);
                cli
            });
        // The process exits right after the command runs; freeing clap's
        // many small allocations would only cost time.
        std::mem::forget(top);
        std::mem::forget(full);
        parsed
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

// Deferred: each subcommand's args are built only when that subcommand is
// parsed (or help/man pages need them). outlet is started once per call, and
// building all 17 subcommands' args was most of its start-up instructions.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Create a container from a bundle; its init waits before exec until `start`
    Create(CreateArgs),
    /// Let a created container's init exec the application
    Start(IdArgs),
    /// Create and start a container; wait for it unless --detach
    Run(RunArgs),
    /// Print the OCI state of a container as JSON
    State(IdArgs),
    /// Send a signal to a container's init (or every process with --all)
    Kill(KillArgs),
    /// Delete a stopped container (or any with --force) and everything it holds
    Delete(DeleteArgs),
    /// List the containers under the state root
    List(ListArgs),
    /// Write a default config.json into the bundle
    Spec(SpecArgs),
    /// Run a new process inside a running container
    Exec(ExecArgs),
    /// List the processes of a container
    Ps(PsArgs),
    /// Freeze every process of a container
    Pause(IdArgs),
    /// Thaw a paused container
    Resume(IdArgs),
    /// Change the resource limits of a running container
    Update(UpdateArgs),
    /// Print container events and resource statistics
    Events(EventsArgs),
    /// Print the OCI features this runtime implements, as JSON
    Features,
    /// Checkpoint a running container with CRIU
    Checkpoint(CheckpointArgs),
    /// Restore a container from a CRIU checkpoint
    Restore(RestoreArgs),
}

#[derive(Args, Debug, Clone)]
pub struct IdArgs {
    /// Container id
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Path to the bundle (the directory holding config.json)
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Use FILE instead of <bundle>/config.json
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Unix socket on which to send the pty master of a terminal container
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the init's host pid to FILE (atomically)
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Move the root with MS_MOVE + chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N file descriptors from 3 on to the container
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container runs instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug, Clone)]
pub struct KillArgs {
    /// Container id
    pub id: String,
    /// Signal, by number or name (9, KILL, SIGKILL, RTMIN+2)
    // A negative number is a value (refused by the signal parser with exit
    // 1 like every other bad signal), not an unknown flag (clap's exit 2).
    #[arg(default_value = "SIGTERM", allow_negative_numbers = true)]
    pub signal: String,
    /// Signal every process in the container's cgroup
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Args, Debug, Clone)]
pub struct DeleteArgs {
    /// Container id
    pub id: String,
    /// Kill the container first if it still runs
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Output format: table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    /// Directory to write config.json into
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Write a spec for a rootless container (user namespace, no cgroup limits)
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug, Clone)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Container id
    pub id: String,
    /// Command and arguments (when --process is not given)
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// JSON file holding the OCI process to run
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Unix socket on which to send the pty master
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Return once the process runs
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's host pid to FILE
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Working directory inside the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Environment variable KEY=VALUE (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// User as uid[:gid]
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional gid (repeatable)
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (repeatable)
    #[arg(short, long, value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// AppArmor profile for the process
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label for the process
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Pass N file descriptors from 3 on to the process
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Run the process in an existing sub-cgroup of the container's:
    /// PATH for every controller, or CONTROLLER[,CONTROLLER]:PATH (cgroup
    /// v1; repeatable)
    #[arg(long, value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// Exec into a paused container too (the process starts frozen, and
    /// runs once the container is resumed)
    #[arg(long)]
    pub ignore_paused: bool,
}

#[derive(Args, Debug, Clone)]
#[command(trailing_var_arg = true)]
pub struct PsArgs {
    /// Container id
    pub id: String,
    /// Output format: table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Arguments passed to ps(1) for the table format
    #[arg(allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UpdateArgs {
    /// Container id
    pub id: String,
    /// LinuxResources JSON from FILE, or - for stdin
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g accepted)
    #[arg(long, short = 'm', value_name = "BYTES")]
    pub memory: Option<String>,
    /// Memory reservation (soft limit) in bytes
    #[arg(long, value_name = "BYTES")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes (-1 for unlimited)
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    /// Kernel memory limit (ignored, as by current runc)
    #[arg(long, value_name = "BYTES")]
    pub kernel_memory: Option<String>,
    /// CPU CFS period in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds (-1 for unlimited)
    #[arg(long, value_name = "US", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long, alias = "cpu-share", value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPU realtime period in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[arg(long, value_name = "US", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (0-2,4)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 for unlimited)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
}

#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    /// Container id
    pub id: String,
    /// Print the statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between statistics (a duration such as 5s or 500ms)
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub interval: String,
}

/// The CRIU options checkpoint and restore share (runc's flags).
#[derive(Args, Debug, Clone)]
pub struct CriuArgs {
    /// Directory of the images (default: checkpoint; restore takes a
    /// relative path from the bundle, as runc does)
    #[arg(long, value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's work files and logs (default: the image path)
    #[arg(long, value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// Handle file locks
    #[arg(long)]
    pub file_locks: bool,
    /// cgroups mode: soft (default), full, strict or ignore
    #[arg(long, value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties (network)
    #[arg(long, value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Deduplicate memory images automatically
    #[arg(long)]
    pub auto_dedup: bool,
    /// Lazy migration through userfaultfd (refused: not supported)
    #[arg(long)]
    pub lazy_pages: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CheckpointArgs {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Images of a previous pre-dump (relative to the image path)
    #[arg(long, value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after checkpointing
    #[arg(long)]
    pub leave_running: bool,
    /// Dump the memory only and leave the container running
    #[arg(long)]
    pub pre_dump: bool,
    /// Send the memory pages to a criu page-server at ADDRESS:PORT
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// For --lazy-pages only (refused)
    #[arg(long, value_name = "FD", default_value_t = -1, allow_hyphen_values = true)]
    pub status_fd: i32,
}

#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to the bundle (default: the current directory)
    #[arg(short, long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Do not wait for the container: exit once it is restored
    #[arg(short, long)]
    pub detach: bool,
    /// Write the restored init's pid to this file
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// AF_UNIX socket to receive the pty master (terminal containers)
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Do not become a subreaper while waiting for the container
    #[arg(long)]
    pub no_subreaper: bool,
    /// Do not use pivot_root (accepted for runc's argv; CRIU sets the root)
    #[arg(long)]
    pub no_pivot: bool,
    /// LSM profile for the restored process, TYPE:NAME
    #[arg(long, value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,
    /// LSM mount context for the restored mounts
    #[arg(long, value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<OsString> {
        std::iter::once("outlet")
            .chain(s.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// Every argv of CALLERS.md (containerd's shim, go-runc, conmon,
    /// podman, crun's extras), in the positions and spellings callers use.
    #[rustfmt::skip]
    const CALLER_ARGV: &[&[&str]] = &[
        &["--root", "/run/containerd/runc/k8s.io", "--log", "/b/log.json", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "--console-socket", "/s", "--no-pivot", "--no-new-keyring", "cid"],
        &["--root", "/r", "--log", "/b/log.json", "--log-format", "json", "--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "cid"],
        &["--root", "/r", "--log", "/l", "--log-format", "json", "start", "cid"],
        &["--root", "/r", "--log", "/l", "--log-format", "json", "exec", "--process", "/p.json", "--console-socket", "/s", "--detach", "--pid-file", "/p", "cid"],
        &["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "cid", "9"],
        &["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "--all", "cid", "15"],
        &["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "cid"],
        &["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "--force", "cid"],
        &["--root", "/r", "pause", "cid"],
        &["--root", "/r", "resume", "cid"],
        &["--root", "/r", "ps", "--format", "json", "cid"],
        &["--root", "/r", "update", "--resources=-", "cid"],
        &["update", "--resources=/tmp/res.json", "cid"],
        &["features"],
        &["state", "cid"],
        &["list", "--format=json"],
        &["events", "--stats", "cid"],
        &["events", "--interval=5s", "cid"],
        // conmon
        &["--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/p", "--no-pivot", "--no-new-keyring", "--preserve-fds", "2", "--console-socket", "/s", "cid"],
        &["exec", "--pid-file", "/p", "--process", "/f", "--detach", "--preserve-fds", "1", "--console-socket", "/s", "cid"],
        &["--log-format=json", "--log", "/l", "create", "--bundle=/b", "--pid-file=/p", "cid"],
        // options and global flags after the id, flags in any position
        &["create", "cid", "--bundle", "/b"],
        &["create", "cid", "--bundle", "/b", "--root", "/r", "--log-format=json", "--debug"],
        &["create", "--root=/r", "cid", "-b", "/b", "--log", "/l", "--systemd-cgroup"],
        &["delete", "cid", "--force", "--root", "/r"],
        &["kill", "cid", "KILL", "--all"],
        &["--rootless", "true", "state", "cid"],
        &["--rootless=false", "--cgroup-manager", "cgroupfs", "state", "cid"],
        &["--cgroup-manager=disabled", "--debug", "list", "-q"],
        &["state", "cid", "--cgroup-manager", "systemd"],
        // crun's extras
        &["--cgroup-manager", "cgroupfs", "run", "--config", "/c.json", "--keep", "-d", "cid"],
        &["run", "-b", "/b", "--detach", "cid"],
        // exec/ps with trailing args, hyphens included
        &["exec", "cid", "sh", "-c", "echo -n x"],
        &["exec", "-t", "-e", "A=1", "--env=B=2", "-u", "1:1", "-g", "5", "cid", "ls", "-la", "--", "x"],
        &["exec", "cid", "--", "ls", "--root", "/r"],
        &["exec", "--cwd", "/tmp", "--cap", "CAP_KILL", "--no-new-privs", "cid", "env"],
        &["ps", "cid", "-ef"],
        &["spec", "--rootless", "-b", "/b"],
        &["--rootless", "auto", "spec", "--rootless"],
        &["checkpoint", "--image-path", "/i", "cid"],
        &["restore", "-b", "/b", "cid"],
        // podman's and the runc shim's checkpoint/restore argv
        &["checkpoint", "--image-path", "/i", "--work-path", "/w", "--leave-running", "--tcp-established", "--file-locks", "cid"],
        &["checkpoint", "--image-path", "/i", "--work-path", "/w", "--pre-dump", "cid"],
        &["checkpoint", "--image-path", "/i", "--parent-path", "../parent", "--empty-ns", "network", "--manage-cgroups-mode", "soft", "cid"],
        &["--criu", "/c", "restore", "--bundle", "/b", "--image-path", "/i", "--work-path", "/w", "--detach", "--pid-file", "/p", "--no-subreaper", "--no-pivot", "cid"],
        &["restore", "--console-socket", "/s", "--lsm-profile", "apparmor:x", "--tcp-established", "-d", "cid"],
        &["restore", "--image-path", "/i", "--work-path", "/w", "--detach", "--pid-file", "/p", "--no-subreaper", "--no-pivot", "--bundle", "/b", "cid"],
        &["update", "-m", "10m", "--cpu-quota=-1", "--pids-limit", "20", "cid"],
        // runc's spellings and habits: a repeated flag (the last wins),
        // --cpu-share, a negative signal number (refused later, exit 1).
        &["--root", "/a", "--root", "/b", "state", "cid", "--root", "/c"],
        &["--log-format", "json", "--log-format=text", "list", "-f", "json", "-f", "table"],
        &["update", "--cpu-share", "512", "cid"],
        &["kill", "cid", "-1"],
        &["exec", "--cgroup", "pids:sub", "--cgroup", "cpu,cpuacct:sub", "-g", "5", "cid", "true"],
    ];

    /// Argv the fast path must hand to the full parse (None), so that help,
    /// version and errors stay clap's own.
    #[rustfmt::skip]
    const FALLBACK_ARGV: &[&[&str]] = &[
        &[],
        &["--version"],
        &["-v"],
        &["--help"],
        &["help", "create"],
        &["create", "--help"],
        &["create", "-h"],
        &["checkpoint", "--help"],
        &["nosuch", "cid"],
        &["--nosuch", "state", "cid"],
        &["create"],
        &["state"],
        &["state", "cid", "--nosuch"],
        &["--log-format", "yaml", "state", "cid"],
        &["--root"],
        &["--", "state", "cid"],
        &["kill", "cid", "9", "extra"],
        &["spec", "--rootless=x"],
        &["state", "cid", "--rootless", "true"],
        &["--version", "state", "cid"],
    ];

    /// The runc shim's restore argv (go-runc's one-dash flags) parses as
    /// the two-dash one; an id "restore" or other argv is left alone.
    #[test]
    fn go_runc_single_dash_restore_flags() {
        let shim = runc_spellings(argv(&[
            "--root",
            "/r",
            "restore",
            "--image-path",
            "/i",
            "--detach",
            "-no-subreaper",
            "-no-pivot",
            "--bundle",
            "/b",
            "cid",
        ]));
        let cli = Cli::try_parse_from(&shim).expect("shim argv parses");
        match cli.command {
            Some(Command::Restore(a)) => {
                assert!(a.no_subreaper && a.no_pivot && a.detach);
                assert_eq!(a.id, "cid");
            }
            other => panic!("{other:?}"),
        }
        let plain = argv(&["state", "-no-pivot"]);
        assert_eq!(runc_spellings(plain.clone()), plain);
    }

    #[test]
    fn fast_parse_equals_full_parse() {
        for args in CALLER_ARGV {
            let argv = argv(args);
            let full = Cli::try_parse_from(&argv)
                .unwrap_or_else(|e| panic!("full parse of {args:?}: {e}"));
            let fast = Cli::try_parse_fast_from(&argv)
                .unwrap_or_else(|| panic!("fast parse of {args:?} fell back"));
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "argv {args:?}");
        }
    }

    #[test]
    fn fast_parse_falls_back_on_help_version_and_errors() {
        for args in FALLBACK_ARGV {
            let argv = argv(args);
            assert!(
                Cli::try_parse_fast_from(&argv).is_none(),
                "fast parse of {args:?} should fall back; full parse gives {:?}",
                Cli::try_parse_from(&argv).map(|c| format!("{c:?}"))
            );
        }
    }

    #[test]
    fn fast_parse_knows_every_subcommand() {
        // Each subcommand must reach its own fast parse, and every top-level
        // flag that takes a value must be in VALUE_FLAGS (else the scan for
        // the subcommand name would take the flag's value for it).
        let full = Cli::command();
        for sub in full.get_subcommands() {
            let name = sub.get_name();
            let parses = [vec![name], vec![name, "cid"]]
                .into_iter()
                .filter(|args| Cli::try_parse_from(argv(args)).is_ok())
                .collect::<Vec<_>>();
            assert!(!parses.is_empty(), "no test argv parses for {name}");
            for args in parses {
                assert!(
                    Cli::try_parse_fast_from(&argv(&args)).is_some(),
                    "{args:?} fell back"
                );
            }
        }
        for arg in full.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let flag = format!("--{long}");
            let takes_value = arg.get_action().takes_values();
            let listed = if takes_value {
                VALUE_FLAGS.contains(&flag.as_str())
            } else {
                BOOL_FLAGS.contains(&flag.as_str()) || flag == "--version"
            };
            assert!(
                listed,
                "{flag} (takes a value: {takes_value}) is not listed"
            );
        }
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn callers_argv_parse() {
        // containerd's shim: global flags first, options before the id.
        let c = Cli::try_parse_from([
            "outlet",
            "--root",
            "/run/containerd/runc/k8s.io",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "--console-socket",
            "/s",
            "--no-pivot",
            "--no-new-keyring",
            "cid",
        ])
        .unwrap();
        let Some(Command::Create(a)) = c.command else {
            panic!()
        };
        assert_eq!(a.id, "cid");
        assert!(a.no_pivot);
        // conmon: --flag=v forms, --preserve-fds.
        let c = Cli::try_parse_from([
            "outlet",
            "--log-format=json",
            "create",
            "--bundle=/b",
            "--pid-file=/p",
            "--preserve-fds",
            "2",
            "cid",
        ])
        .unwrap();
        let Some(Command::Create(a)) = c.command else {
            panic!()
        };
        assert_eq!(a.preserve_fds, 2);
        // urfave/cli habit: options after the id; global flags after the command.
        let c = Cli::try_parse_from(["outlet", "create", "cid", "--bundle", "/b", "--root", "/r"])
            .unwrap();
        assert_eq!(c.root.as_deref(), Some(std::path::Path::new("/r")));
        let c = Cli::try_parse_from(["outlet", "kill", "--all", "cid", "9"]).unwrap();
        let Some(Command::Kill(k)) = c.command else {
            panic!()
        };
        assert!(k.all);
        assert_eq!(k.signal, "9");
        let c = Cli::try_parse_from(["outlet", "spec", "--rootless"]).unwrap();
        let Some(Command::Spec(s)) = c.command else {
            panic!()
        };
        assert!(s.rootless);
        let c = Cli::try_parse_from(["outlet", "exec", "cid", "sh", "-c", "echo -n x"]).unwrap();
        let Some(Command::Exec(e)) = c.command else {
            panic!()
        };
        assert_eq!(e.command, ["sh", "-c", "echo -n x"]);
        let c = Cli::try_parse_from(["outlet", "update", "--resources=-", "cid"]).unwrap();
        let Some(Command::Update(u)) = c.command else {
            panic!()
        };
        assert_eq!(u.resources.as_deref(), Some("-"));
        // runc takes negative limits as separate arguments.
        let c = Cli::try_parse_from([
            "outlet",
            "update",
            "--cpu-quota",
            "-1",
            "--pids-limit",
            "-1",
            "--memory-swap",
            "-1",
            "cid",
        ])
        .unwrap();
        let Some(Command::Update(u)) = c.command else {
            panic!()
        };
        assert_eq!(u.cpu_quota, Some(-1));
        assert_eq!(u.pids_limit, Some(-1));
        assert_eq!(u.memory_swap.as_deref(), Some("-1"));
        let c = Cli::try_parse_from(["outlet", "--root", "/a", "--root", "/b", "list"]).unwrap();
        assert_eq!(c.root.as_deref(), Some(std::path::Path::new("/b")));
        let c = Cli::try_parse_from(["outlet", "update", "--cpu-share", "7", "cid"]).unwrap();
        let Some(Command::Update(u)) = c.command else {
            panic!()
        };
        assert_eq!(u.cpu_shares, Some(7));
        let c = Cli::try_parse_from(["outlet", "kill", "cid", "-1"]).unwrap();
        let Some(Command::Kill(k)) = c.command else {
            panic!()
        };
        assert_eq!(k.signal, "-1");
    }
}

//! The command line, runc-compatible: global flags and one struct per
//! subcommand. Global flags are accepted in any position because callers
//! (containerd's shim, conmon, test harnesses) differ in where they put them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "outlet",
    about = "An OCI container runtime: namespaces, pivot_root and cgroup limits behind runc's command line",
    disable_version_flag = true,
    propagate_version = false,
    subcommand_required = false,
    arg_required_else_help = true
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

    /// Manage cgroups through systemd (not supported yet; a clear error)
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

    /// Print the version, commit and runtime-spec version
    #[arg(short = 'v', long)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
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
    /// Checkpoint a running container (not supported yet)
    Checkpoint(CheckpointArgs),
    /// Restore a container from a checkpoint (not supported yet)
    Restore(CheckpointArgs),
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
    /// Signal, by number or name (9, KILL, SIGKILL)
    #[arg(default_value = "SIGTERM")]
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
    /// Join this sub-cgroup of the container
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// Ignore the container's paused state (compatibility; no effect)
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
    #[arg(long, value_name = "BYTES")]
    pub memory_swap: Option<String>,
    /// Kernel memory limit (ignored, as by current runc)
    #[arg(long, value_name = "BYTES")]
    pub kernel_memory: Option<String>,
    /// CPU CFS period in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds (-1 for unlimited)
    #[arg(long, value_name = "US")]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPU realtime period in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (0-2,4)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 for unlimited)
    #[arg(long, value_name = "N")]
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

#[derive(Args, Debug, Clone)]
pub struct CheckpointArgs {
    /// Container id
    pub id: Option<String>,
    /// Directory for the images
    #[arg(long, value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's work files
    #[arg(long, value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Leave the container running after checkpointing
    #[arg(long)]
    pub leave_running: bool,
    /// Bundle of the container to restore
    #[arg(short, long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
    }
}

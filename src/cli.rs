//! The command line, runc-compatible: global flags and one struct per
//! subcommand. Global flags are accepted in any position because callers
//! (containerd's shim, conmon, test harnesses) differ in where they put them.
//! One file per concern: the global flags (`global`), the argv scan and
//! fast parse (`argv`), the subcommands (`command`) and their args
//! (`lifecycle`, `exec`, `query`, `update`; checkpoint and restore below).

use std::path::PathBuf;

use clap::Args;

mod argv;
mod command;
mod exec;
mod global;
mod lifecycle;
mod plain;
mod query;
#[cfg(test)]
mod tests;
mod update;

pub use argv::{runc_spellings, subcommand_name};
pub use command::Command;
pub use exec::ExecArgs;
pub use global::Cli;
pub use lifecycle::{CreateArgs, DeleteArgs, IdArgs, KillArgs, RunArgs, SpecArgs};
pub use query::{EventsArgs, ListArgs, PsArgs};
pub use update::UpdateArgs;

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

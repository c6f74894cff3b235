//! The args of the container's lifecycle: create, run, kill, delete, the
//! commands that take only an id (start, state, pause, resume), and spec,
//! which writes the bundle a lifecycle starts from.

use std::path::PathBuf;

use clap::Args;

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
pub struct SpecArgs {
    /// Directory to write config.json into
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Write a spec for a rootless container (user namespace, no cgroup limits)
    #[arg(long)]
    pub rootless: bool,
}

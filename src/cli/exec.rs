//! The args of exec: a new process in a running container.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug, Clone, Default)]
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

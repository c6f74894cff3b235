//! The flags before the subcommand (also accepted after it), and the
//! parser's entry point.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Parser, ValueEnum};

use crate::logging::LogFormat;

use super::Command;

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

pub(super) const NAME: &str = "outlet";

// The library's type, spelled for clap here: logging never sees clap.
impl ValueEnum for LogFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[LogFormat::Text, LogFormat::Json]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }))
    }
}

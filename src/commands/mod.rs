//! One file per subcommand, each thin: resolve the global options, call into
//! `container/`, print. `dispatch` returns the process exit code.

mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::cli::{Cli, Command};
use crate::logging::Logger;

/// Global options every command may need.
pub struct Globals {
    pub root: PathBuf,
}

pub fn dispatch(cli: Cli, log: &Logger) -> Result<i32> {
    log.check_file()?;
    if cli.version {
        println!("outlet version {}", env!("CARGO_PKG_VERSION"));
        println!(
            "commit: {}",
            option_env!("OUTLET_COMMIT").unwrap_or("unknown")
        );
        println!("spec: {}", crate::OCI_VERSION);
        return Ok(0);
    }
    if cli.systemd_cgroup || cli.cgroup_manager.as_deref() == Some("systemd") {
        bail!("--systemd-cgroup: the systemd cgroup driver is not supported yet; use cgroupfs");
    }
    if let Some(m) = cli.cgroup_manager.as_deref()
        && m != "cgroupfs"
        && m != "systemd"
    {
        bail!("--cgroup-manager {m:?}: only cgroupfs is supported");
    }
    let g = Globals {
        root: cli.root.clone().unwrap_or_else(crate::state::default_root),
    };
    let Some(command) = cli.command else {
        bail!("no command given; see outlet --help")
    };
    match command {
        Command::Create(a) => create::run(&g, &a),
        Command::Start(a) => start::run(&g, &a),
        Command::Run(a) => run::run(&g, &a),
        Command::State(a) => state::run(&g, &a),
        Command::Kill(a) => kill::run(&g, &a),
        Command::Delete(a) => delete::run(&g, &a),
        Command::List(a) => list::run(&g, &a),
        Command::Spec(a) => spec::run(&a),
        Command::Exec(a) => exec::run(&g, &a),
        Command::Ps(a) => ps::run(&g, &a),
        Command::Pause(a) => pause::pause(&g, &a),
        Command::Resume(a) => pause::resume(&g, &a),
        Command::Update(a) => update::run(&g, &a),
        Command::Events(a) => events::run(&g, &a),
        Command::Features => features::run(),
        Command::Checkpoint(_) => checkpoint::run("checkpoint"),
        Command::Restore(_) => checkpoint::run("restore"),
    }
}

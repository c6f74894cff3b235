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
mod restore;
mod run;
mod spec;
mod start;
mod state;
mod update;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::cli::{Cli, Command};
use crate::logging::Logger;

/// The reader of outlet's stdout went away (EPIPE: `outlet state ID | head
/// -c1`). Not a failure of the command: `main` ends quietly, the way a
/// shell tool dies of SIGPIPE. Only stdout is treated so; EPIPE on the
/// runtime's own sockets and pipes stays an error.
#[derive(Debug, thiserror::Error)]
#[error("stdout closed by its reader")]
pub struct StdoutClosed;

/// Whether `err` is (or wraps) `StdoutClosed`.
pub fn stdout_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.is::<StdoutClosed>())
}

/// `--format` of `list` and `ps`, read once from its string (clap keeps it
/// a string so that a bad value exits 1 with the runtime's own error, as
/// runc's does, not with clap's usage error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

impl Format {
    pub fn parse(value: &str) -> Result<Format> {
        match value {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            f => bail!("--format {f:?}: expected table or json"),
        }
    }
}

/// Writes `text` to stdout (instead of print!, which aborts the process
/// with "failed printing to stdout" on EPIPE).
pub fn out(text: &str) -> Result<()> {
    let mut so = std::io::stdout().lock();
    match so.write_all(text.as_bytes()).and_then(|()| so.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(e).context("write to stdout"),
    }
}

/// `out` with a newline.
pub fn outln(text: &str) -> Result<()> {
    out(&format!("{text}\n"))
}

/// The exit code of an `exec` that failed itself (no such container, no
/// such binary, a bad flag value), as runc (since 1.1) and crun give it:
/// 255, so that a caller can tell it from the process's own exit 1.
pub const EXEC_FAILED: i32 = 255;

/// Logs an exec's own failure and turns it into `EXEC_FAILED`; a closed
/// stdout still ends quietly in `main`.
fn exec_failed(err: anyhow::Error, log: &Logger) -> Result<i32> {
    if stdout_closed(&err) {
        return Err(err);
    }
    log.error(&format!("{err:#}"));
    Ok(EXEC_FAILED)
}

/// Global options every command may need.
pub struct Globals {
    pub root: PathBuf,
    pub rootless: crate::container::create::Rootless,
    /// `--criu PATH`, for checkpoint and restore.
    pub criu: Option<PathBuf>,
}

pub fn dispatch(cli: Cli, log: &Logger) -> Result<i32> {
    log.check_file()?;
    if cli.version {
        out(&format!(
            "outlet version {}\ncommit: {}\nspec: {}\n",
            env!("CARGO_PKG_VERSION"),
            option_env!("OUTLET_COMMIT").unwrap_or("unknown"),
            crate::OCI_VERSION
        ))?;
        return Ok(0);
    }
    if cli.systemd_cgroup || cli.cgroup_manager.as_deref() == Some("systemd") {
        crate::cgroups::systemd::enable();
    }
    if let Some(m) = cli.cgroup_manager.as_deref()
        && m != "cgroupfs"
        && m != "systemd"
    {
        bail!("--cgroup-manager {m:?}: only cgroupfs and systemd are supported");
    }
    let g = Globals {
        root: cli.root.clone().unwrap_or_else(crate::state::default_root),
        rootless: crate::container::create::Rootless::parse(&cli.rootless)?,
        criu: cli.criu.clone(),
    };
    let Some(command) = cli.command else {
        bail!("no command given; see outlet --help")
    };
    // create/run/restore check every ancestor as they make the state dir;
    // spec and features read no container.
    if !matches!(
        command,
        Command::Create(_)
            | Command::Run(_)
            | Command::Restore(_)
            | Command::Spec(_)
            | Command::Features
    ) {
        crate::state_root::check_near(&g.root)?;
    }
    match command {
        Command::Create(a) => create::run(&g, &a),
        Command::Start(a) => start::run(&g, &a),
        Command::Run(a) => run::run(&g, &a),
        Command::State(a) => state::run(&g, &a),
        Command::Kill(a) => kill::run(&g, &a),
        Command::Delete(a) => delete::run(&g, &a),
        Command::List(a) => list::run(&g, &a),
        Command::Spec(a) => spec::run(&a),
        Command::Exec(a) => exec::run(&g, &a).or_else(|err| exec_failed(err, log)),
        Command::Ps(a) => ps::run(&g, &a),
        Command::Pause(a) => pause::pause(&g, &a),
        Command::Resume(a) => pause::resume(&g, &a),
        Command::Update(a) => update::run(&g, &a),
        Command::Events(a) => events::run(&g, &a),
        Command::Features => features::run(&g),
        Command::Checkpoint(a) => checkpoint::run(&g, &a),
        Command::Restore(a) => restore::run(&g, &a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a closed stdout ends quietly: EPIPE from the runtime's own
    /// sockets and pipes (console socket, sync channel) is an io::Error
    /// of kind BrokenPipe, and stays an error to report.
    #[test]
    fn only_stdout_closed_is_quiet() {
        let own_socket = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("send the pty master");
        assert!(!stdout_closed(&own_socket));
        let stdout = anyhow::Error::from(StdoutClosed).context("state");
        assert!(stdout_closed(&stdout));
    }

    #[test]
    fn format_is_table_or_json_and_names_a_bad_value() {
        assert_eq!(Format::parse("table").unwrap(), Format::Table);
        assert_eq!(Format::parse("json").unwrap(), Format::Json);
        for bad in ["yaml", "JSON", ""] {
            let err = format!("{:#}", Format::parse(bad).unwrap_err());
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }
}

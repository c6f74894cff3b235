//! One file per subcommand, each thin: resolve the global options, call into
//! `container/`, print. `dispatch` returns the process exit code.

use anyhow::{Result, bail};

use crate::cli::Cli;
use crate::logging::Logger;

pub fn dispatch(cli: Cli, _log: &Logger) -> Result<i32> {
    if cli.version {
        println!("outlet version {}", env!("CARGO_PKG_VERSION"));
        println!("commit: {}", option_env!("OUTLET_COMMIT").unwrap_or("unknown"));
        println!("spec: {}", crate::OCI_VERSION);
        return Ok(0);
    }
    let Some(command) = cli.command else {
        bail!("no command given; see outlet --help")
    };
    match command {
        _ => bail!("not implemented yet"),
    }
}

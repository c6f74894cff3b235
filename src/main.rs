use clap::Parser;

use outlet::cli::Cli;
use outlet::{commands, logging};

fn main() {
    let cli = Cli::parse();
    let log = logging::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    let code = match commands::dispatch(cli, &log) {
        Ok(code) => code,
        Err(err) => {
            log.error(&format!("{err:#}"));
            1
        }
    };
    std::process::exit(code);
}

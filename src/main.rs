use clap::Parser;

use outlet::cli::Cli;
use outlet::{commands, logging};

fn main() {
    let argv = outlet::cli::runc_spellings(std::env::args_os().collect());
    let cli = Cli::try_parse_fast_from(&argv).unwrap_or_else(|| Cli::parse_from(argv));
    let log = logging::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    let code = match commands::dispatch(cli, &log) {
        Ok(code) => code,
        Err(err) if commands::stdout_closed(&err) => outlet::signals::die_of_sigpipe(),
        Err(err) => {
            log.error(&format!("{err:#}"));
            1
        }
    };
    std::process::exit(code);
}

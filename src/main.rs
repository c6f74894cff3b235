use clap::Parser;

use outlet::cli::{Cli, Command};
use outlet::security::protected_exe;
use outlet::{commands, logging};

fn main() {
    let argv: Vec<_> = std::env::args_os().collect();
    // Before anything else, so that the first process does no work the
    // re-executed one repeats: the name alone says whether it is needed.
    let early = outlet::cli::subcommand_name(&argv)
        .is_some_and(|name| protected_exe::needed_for(name.as_ref()));
    let mut protected = if early {
        protected_exe::ensure()
    } else {
        Ok(())
    };
    let cli = Cli::try_parse_fast_from(&argv).unwrap_or_else(|| Cli::parse_from(argv));
    let log = logging::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    // Whatever spelling of the command line the quick look missed.
    if !early
        && matches!(
            cli.command,
            Some(Command::Create(_) | Command::Run(_) | Command::Exec(_))
        )
    {
        protected = protected_exe::ensure();
    }
    let result = protected.and_then(|()| commands::dispatch(cli, &log));
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            log.error(&format!("{err:#}"));
            1
        }
    };
    std::process::exit(code);
}

//! The args of the commands that report: list, ps and events.

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Output format: table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
#[command(trailing_var_arg = true)]
pub struct PsArgs {
    /// Container id
    pub id: String,
    /// Output format: table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Arguments passed to ps(1) for the table format
    #[arg(allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    /// Container id
    pub id: String,
    /// Print the statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between statistics (a duration such as 5s or 500ms)
    #[arg(
        long,
        default_value = "5s",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    pub interval: String,
}

//! What outlet does with argv before (or instead of) clap's full parse:
//! the scan for the subcommand's name, the fast parse that builds only that
//! subcommand, and the rewrite of go-runc's one-dash spellings.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use super::Cli;
use super::global::NAME;

/// Top-level flags that take a value, as `--flag v` (the `--flag=v` form
/// needs no lookahead). Must match `Cli`'s value-taking flags; the test
/// `fast_parse_knows_every_subcommand` fails when one is missing.
pub(super) const VALUE_FLAGS: [&str; 6] = [
    "--root",
    "--criu",
    "--log",
    "--log-format",
    "--rootless",
    "--cgroup-manager",
];
/// Top-level flags without a value.
pub(super) const BOOL_FLAGS: [&str; 2] = ["--debug", "--systemd-cgroup"];

/// The subcommand an argv names: the first argument that is not a top-level
/// flag or a top-level flag's value. None when something else (--help,
/// --version, `--`, an unknown flag, nothing) comes first: the caller then
/// takes the full parse, which owns every message clap prints.
pub fn subcommand_name(argv: &[OsString]) -> Option<&str> {
    let mut rest = argv.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        if VALUE_FLAGS.contains(&arg) {
            rest.next()?;
        } else if BOOL_FLAGS.contains(&arg)
            || VALUE_FLAGS
                .iter()
                .any(|f| arg.strip_prefix(f).is_some_and(|v| v.starts_with('=')))
        {
        } else if arg.starts_with('-') {
            return None;
        } else {
            return Some(arg);
        }
    }
    None
}

/// go-runc (containerd's runc shim) spells two restore flags with one dash,
/// `-no-subreaper` and `-no-pivot`, which runc's flag parser takes as long
/// flags; clap would read a cluster of short ones. Only those two exact
/// words, only after `restore`, are rewritten: every other argv is returned
/// as it came, without a copy.
pub fn runc_spellings(mut argv: Vec<OsString>) -> Vec<OsString> {
    if let Some(at) = argv.iter().position(|a| a == "restore") {
        for a in &mut argv[at + 1..] {
            if a == "-no-subreaper" || a == "-no-pivot" {
                let mut long = OsString::from("-");
                long.push(&*a);
                *a = long;
            }
        }
    }
    argv
}

impl Cli {
    /// Parses like `Cli::try_parse_from`: the hot commands' plain argv
    /// without clap (see `plain`), else building only the called
    /// subcommand: outlet runs once per call, and building the full command
    /// (every subcommand, every global flag propagated into each) was most
    /// of its start-up instructions. None means "take the full parse":
    /// help, version, errors and unknown subcommands all go there, so what
    /// clap prints stays exactly as before.
    pub fn try_parse_fast_from(argv: &[OsString]) -> Option<Cli> {
        if let Some(cli) = super::plain::parse(argv) {
            return Some(cli);
        }
        let name = subcommand_name(argv)?;
        // Subcommands are deferred (see `Command`), so this builds 17 shells
        // (name and about) without their args.
        let full = <Cli as CommandFactory>::command();
        let sub = full.find_subcommand(name)?.clone();
        // The same top-level args, with only the called subcommand. The
        // top-level settings `Cli` adds (arg_required_else_help, ...) only
        // matter when no subcommand is given, which never comes here.
        let mut top = full
            .get_arguments()
            .fold(
                clap::Command::new(NAME).args_override_self(true),
                |top, arg| top.arg(arg.clone()),
            )
            .subcommand(sub);
        let parsed = top
            .try_get_matches_from_mut(argv)
            .ok()
            .and_then(|mut matches| {
                let cli = Cli::from_arg_matches_mut(&mut matches).ok();
                std::mem::forget(matches);
                cli
            });
        // The process exits right after the command runs; freeing clap's
        // many small allocations would only cost time.
        std::mem::forget(top);
        std::mem::forget(full);
        parsed
    }
}

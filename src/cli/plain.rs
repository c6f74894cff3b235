//! The commands a container manager calls on every container (create,
//! run, start, state, kill, delete, pause, resume, exec) parsed without
//! clap.
//!
//! Even clap's fast path (`argv.rs`) builds a `clap::Command` per call,
//! every top-level argument cloned into it, and that was most of what the
//! short commands did in user space: in `state`, 26 of its 68 page faults
//! were memcpy into fresh allocator pages under clap's Vec growth, 7 more
//! its 24 KiB stack frame. This parser knows only the plain spellings of
//! those commands' flags and hands anything else (help, version, `--`, a
//! short-flag cluster, a value that starts with '-' or is empty, an
//! unknown or misplaced flag, a missing or extra positional) back to clap
//! by returning None, so clap still owns every message it prints and every
//! spelling it accepts. Where it returns Some, the result is what clap's
//! full parse gives (`cli::tests::plain_parse_equals_clap_on_random_argv`).

use std::ffi::OsString;
use std::path::PathBuf;

use super::{Cli, Command, CreateArgs, DeleteArgs, ExecArgs, IdArgs, KillArgs, RunArgs};
use crate::logging::LogFormat;

/// `Cli` for `argv`, or None: "ask clap".
pub fn parse(argv: &[OsString]) -> Option<Cli> {
    let mut args = Vec::with_capacity(argv.len());
    for a in argv.get(1..)? {
        args.push(a.to_str()?);
    }
    let mut p = Parser {
        cli: Cli {
            root: None,
            log: None,
            log_format: LogFormat::Text,
            debug: false,
            systemd_cgroup: false,
            cgroup_manager: None,
            rootless: "auto".to_string(),
            criu: None,
            version: false,
            command: None,
        },
        rest: args.into_iter(),
    };
    let name = p.before_command()?;
    if name == "exec" {
        p.cli.command = Some(Command::Exec(p.exec()?));
        return Some(p.cli);
    }
    let mut sub = Sub::default();
    while let Some(arg) = p.rest.next() {
        if !p.global(arg)? && !sub.flag(name, arg, &mut p.rest)? {
            sub.positional(arg)?;
        }
    }
    p.cli.command = Some(sub.command(name)?);
    Some(p.cli)
}

struct Parser<'a> {
    cli: Cli,
    rest: std::vec::IntoIter<&'a str>,
}

impl<'a> Parser<'a> {
    /// The top-level flags up to the subcommand's name, which is returned
    /// when it is one this parser knows.
    fn before_command(&mut self) -> Option<&'a str> {
        while let Some(arg) = self.rest.next() {
            if let Some(v) = value_of("--rootless", arg, &mut self.rest) {
                self.cli.rootless = v?.to_string();
            } else if !self.global(arg)? {
                return KNOWN.contains(&arg).then_some(arg);
            }
        }
        None
    }

    /// Takes `arg` (and its value) when it is a global flag: Some(true).
    /// Some(false): not a global flag. None: a global flag clap must see.
    fn global(&mut self, arg: &'a str) -> Option<bool> {
        let rest = &mut self.rest;
        let c = &mut self.cli;
        if let Some(v) = value_of("--root", arg, rest) {
            c.root = Some(PathBuf::from(v?));
        } else if let Some(v) = value_of("--log", arg, rest) {
            c.log = Some(PathBuf::from(v?));
        } else if let Some(v) = value_of("--log-format", arg, rest) {
            c.log_format = match v? {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return None,
            };
        } else if let Some(v) = value_of("--cgroup-manager", arg, rest) {
            c.cgroup_manager = Some(v?.to_string());
        } else if let Some(v) = value_of("--criu", arg, rest) {
            c.criu = Some(PathBuf::from(v?));
        } else if arg == "--debug" {
            c.debug = true;
        } else if arg == "--systemd-cgroup" {
            c.systemd_cgroup = true;
        } else {
            return Some(false);
        }
        Some(true)
    }

    /// exec's args as containerd's shim and conmon spell them (`--process
    /// F --console-socket S --detach --pid-file P --preserve-fds N ID`)
    /// and as a person does (`ID CMD ARG...`). Every word from the
    /// command's first on is the command's, whatever it looks like
    /// (clap's trailing_var_arg); a flag between the id and the command,
    /// a command starting with '-', `--` anywhere and every other flag of
    /// exec's go to clap.
    fn exec(&mut self) -> Option<ExecArgs> {
        // Every field as clap leaves one its argv does not name.
        let mut a = ExecArgs::default();
        let mut id = None;
        while let Some(arg) = self.rest.next() {
            if id.is_some() {
                if arg.is_empty() || arg.starts_with('-') {
                    return None;
                }
                a.command.push(arg.to_string());
                for word in self.rest.by_ref() {
                    if word == "--" {
                        return None;
                    }
                    a.command.push(word.to_string());
                }
                break;
            }
            if self.global(arg)? {
                continue;
            }
            if !arg.starts_with('-') {
                if arg.is_empty() {
                    return None;
                }
                id = Some(arg);
                continue;
            }
            let rest = &mut self.rest;
            if arg == "-d" || arg == "--detach" {
                a.detach = true;
            } else if let Some(v) = value_of("--process", arg, rest) {
                a.process = Some(PathBuf::from(v?));
            } else if let Some(v) = value_of("--console-socket", arg, rest) {
                a.console_socket = Some(PathBuf::from(v?));
            } else if let Some(v) = value_of("--pid-file", arg, rest) {
                a.pid_file = Some(PathBuf::from(v?));
            } else {
                // Digits only, as create's (see Sub::create_value).
                let v = value_of("--preserve-fds", arg, rest)??;
                if !v.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                a.preserve_fds = v.parse().ok()?;
            }
        }
        a.id = id?.to_string();
        Some(a)
    }
}

/// The subcommands parsed here.
const KNOWN: [&str; 9] = [
    "create", "run", "start", "state", "kill", "delete", "pause", "resume", "exec",
];

/// `--flag value` or `--flag=value` for the flag `flag`: None when `arg`
/// is not that flag, Some(None) when its value is one to leave to clap
/// (missing, empty, or starting with '-').
fn value_of<'a>(
    flag: &str,
    arg: &'a str,
    rest: &mut std::vec::IntoIter<&'a str>,
) -> Option<Option<&'a str>> {
    let tail = arg.strip_prefix(flag)?;
    let value = if tail.is_empty() {
        rest.next()
    } else {
        Some(tail.strip_prefix('=')?)
    };
    Some(value.filter(|v| !v.is_empty() && !v.starts_with('-')))
}

/// What the subcommand's own flags and positionals said so far.
#[derive(Default)]
struct Sub<'a> {
    positionals: Vec<&'a str>,
    flags: Vec<&'static str>,
    bundle: Option<&'a str>,
    config: Option<&'a str>,
    console_socket: Option<&'a str>,
    pid_file: Option<&'a str>,
    preserve_fds: Option<u32>,
}

impl<'a> Sub<'a> {
    /// Takes `arg` (and its value) when it is a flag of subcommand `name`:
    /// Some(true). Some(false): not a flag. None: a flag clap must see.
    fn flag(
        &mut self,
        name: &str,
        arg: &'a str,
        rest: &mut std::vec::IntoIter<&'a str>,
    ) -> Option<bool> {
        if !arg.starts_with('-') {
            return Some(false);
        }
        let creates = name == "create" || name == "run";
        if creates && let Some(v) = self.create_value(arg, rest) {
            v?;
            return Some(true);
        }
        let bool_flag = match (name, arg) {
            ("delete", "-f" | "--force") => "force",
            ("kill", "-a" | "--all") => "all",
            ("run", "-d" | "--detach") => "detach",
            ("run", "--keep") => "keep",
            (_, "--no-pivot") if creates => "no_pivot",
            (_, "--no-new-keyring") if creates => "no_new_keyring",
            _ => return None,
        };
        self.flags.push(bool_flag);
        Some(true)
    }

    /// create's and run's flags that take a value: None when `arg` is none
    /// of them, Some(None) when its value must go to clap.
    fn create_value(
        &mut self,
        arg: &'a str,
        rest: &mut std::vec::IntoIter<&'a str>,
    ) -> Option<Option<()>> {
        let (slot, v) = if arg == "-b" {
            (&mut self.bundle, value_of("-b", arg, rest)?)
        } else if let Some(v) = value_of("--bundle", arg, rest) {
            (&mut self.bundle, v)
        } else if let Some(v) = value_of("--config", arg, rest) {
            (&mut self.config, v)
        } else if let Some(v) = value_of("--console-socket", arg, rest) {
            (&mut self.console_socket, v)
        } else if let Some(v) = value_of("--pid-file", arg, rest) {
            (&mut self.pid_file, v)
        } else {
            let v = value_of("--preserve-fds", arg, rest)?;
            // Digits only: clap's number parser takes a sign too, but no
            // caller writes one; those go to clap.
            let n = v.filter(|v| v.bytes().all(|b| b.is_ascii_digit()));
            self.preserve_fds = n.and_then(|v| v.parse().ok());
            return Some(self.preserve_fds.map(drop));
        };
        *slot = v;
        Some(v.map(drop))
    }

    fn positional(&mut self, arg: &'a str) -> Option<()> {
        if arg.is_empty() || arg.starts_with('-') {
            return None;
        }
        self.positionals.push(arg);
        Some(())
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The subcommand's args, when its positionals are what it takes.
    fn command(self, name: &str) -> Option<Command> {
        let id = || match self.positionals[..] {
            [id] => Some(id.to_string()),
            _ => None,
        };
        Some(match name {
            "start" => Command::Start(IdArgs { id: id()? }),
            "state" => Command::State(IdArgs { id: id()? }),
            "pause" => Command::Pause(IdArgs { id: id()? }),
            "resume" => Command::Resume(IdArgs { id: id()? }),
            "delete" => Command::Delete(DeleteArgs {
                id: id()?,
                force: self.has("force"),
            }),
            "kill" => {
                let (id, signal) = match self.positionals[..] {
                    [id] => (id, "SIGTERM"),
                    [id, signal] => (id, signal),
                    _ => return None,
                };
                Command::Kill(KillArgs {
                    id: id.to_string(),
                    signal: signal.to_string(),
                    all: self.has("all"),
                })
            }
            "create" => Command::Create(self.create_args()?),
            _ => {
                let (detach, keep) = (self.has("detach"), self.has("keep"));
                Command::Run(RunArgs {
                    create: self.create_args()?,
                    detach,
                    keep,
                })
            }
        })
    }

    fn create_args(&self) -> Option<CreateArgs> {
        let [id] = self.positionals[..] else {
            return None;
        };
        Some(CreateArgs {
            id: id.to_string(),
            bundle: PathBuf::from(self.bundle.unwrap_or(".")),
            config: self.config.map(PathBuf::from),
            console_socket: self.console_socket.map(PathBuf::from),
            pid_file: self.pid_file.map(PathBuf::from),
            no_pivot: self.has("no_pivot"),
            no_new_keyring: self.has("no_new_keyring"),
            preserve_fds: self.preserve_fds.unwrap_or(0),
        })
    }
}

use std::ffi::OsString;

use clap::{CommandFactory, Parser};

use super::argv::{BOOL_FLAGS, VALUE_FLAGS};
use super::plain;
use super::*;

fn argv(s: &[&str]) -> Vec<OsString> {
    std::iter::once("outlet")
        .chain(s.iter().copied())
        .map(OsString::from)
        .collect()
}

/// Every argv of CALLERS.md (containerd's shim, go-runc, conmon,
/// podman, crun's extras), in the positions and spellings callers use.
#[rustfmt::skip]
const CALLER_ARGV: &[&[&str]] = &[
    &["--root", "/run/containerd/runc/k8s.io", "--log", "/b/log.json", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "--console-socket", "/s", "--no-pivot", "--no-new-keyring", "cid"],
    &["--root", "/r", "--log", "/b/log.json", "--log-format", "json", "--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "cid"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "start", "cid"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "exec", "--process", "/p.json", "--console-socket", "/s", "--detach", "--pid-file", "/p", "cid"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "cid", "9"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "--all", "cid", "15"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "cid"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "--force", "cid"],
    &["--root", "/r", "pause", "cid"],
    &["--root", "/r", "resume", "cid"],
    &["--root", "/r", "ps", "--format", "json", "cid"],
    &["--root", "/r", "update", "--resources=-", "cid"],
    &["update", "--resources=/tmp/res.json", "cid"],
    &["features"],
    &["state", "cid"],
    &["list", "--format=json"],
    &["events", "--stats", "cid"],
    &["events", "--interval=5s", "cid"],
    // conmon
    &["--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/p", "--no-pivot", "--no-new-keyring", "--preserve-fds", "2", "--console-socket", "/s", "cid"],
    &["exec", "--pid-file", "/p", "--process", "/f", "--detach", "--preserve-fds", "1", "--console-socket", "/s", "cid"],
    &["--log-format=json", "--log", "/l", "create", "--bundle=/b", "--pid-file=/p", "cid"],
    // options and global flags after the id, flags in any position
    &["create", "cid", "--bundle", "/b"],
    &["create", "cid", "--bundle", "/b", "--root", "/r", "--log-format=json", "--debug"],
    &["create", "--root=/r", "cid", "-b", "/b", "--log", "/l", "--systemd-cgroup"],
    &["delete", "cid", "--force", "--root", "/r"],
    &["kill", "cid", "KILL", "--all"],
    &["--rootless", "true", "state", "cid"],
    &["--rootless=false", "--cgroup-manager", "cgroupfs", "state", "cid"],
    &["--cgroup-manager=disabled", "--debug", "list", "-q"],
    &["state", "cid", "--cgroup-manager", "systemd"],
    // crun's extras
    &["--cgroup-manager", "cgroupfs", "run", "--config", "/c.json", "--keep", "-d", "cid"],
    &["run", "-b", "/b", "--detach", "cid"],
    // exec/ps with trailing args, hyphens included
    &["exec", "cid", "sh", "-c", "echo -n x"],
    &["exec", "-t", "-e", "A=1", "--env=B=2", "-u", "1:1", "-g", "5", "cid", "ls", "-la", "--", "x"],
    &["exec", "cid", "--", "ls", "--root", "/r"],
    &["exec", "--cwd", "/tmp", "--cap", "CAP_KILL", "--no-new-privs", "cid", "env"],
    &["ps", "cid", "-ef"],
    &["spec", "--rootless", "-b", "/b"],
    &["--rootless", "auto", "spec", "--rootless"],
    &["checkpoint", "--image-path", "/i", "cid"],
    &["restore", "-b", "/b", "cid"],
    // podman's and the runc shim's checkpoint/restore argv
    &["checkpoint", "--image-path", "/i", "--work-path", "/w", "--leave-running", "--tcp-established", "--file-locks", "cid"],
    &["checkpoint", "--image-path", "/i", "--work-path", "/w", "--pre-dump", "cid"],
    &["checkpoint", "--image-path", "/i", "--parent-path", "../parent", "--empty-ns", "network", "--manage-cgroups-mode", "soft", "cid"],
    &["--criu", "/c", "restore", "--bundle", "/b", "--image-path", "/i", "--work-path", "/w", "--detach", "--pid-file", "/p", "--no-subreaper", "--no-pivot", "cid"],
    &["restore", "--console-socket", "/s", "--lsm-profile", "apparmor:x", "--tcp-established", "-d", "cid"],
    &["restore", "--image-path", "/i", "--work-path", "/w", "--detach", "--pid-file", "/p", "--no-subreaper", "--no-pivot", "--bundle", "/b", "cid"],
    &["update", "-m", "10m", "--cpu-quota=-1", "--pids-limit", "20", "cid"],
    // runc's spellings and habits: a repeated flag (the last wins),
    // --cpu-share, a negative signal number (refused later, exit 1).
    &["--root", "/a", "--root", "/b", "state", "cid", "--root", "/c"],
    &["--log-format", "json", "--log-format=text", "list", "-f", "json", "-f", "table"],
    &["update", "--cpu-share", "512", "cid"],
    &["kill", "cid", "-1"],
    &["exec", "--cgroup", "pids:sub", "--cgroup", "cpu,cpuacct:sub", "-g", "5", "cid", "true"],
];

/// Argv the fast path must hand to the full parse (None), so that help,
/// version and errors stay clap's own.
#[rustfmt::skip]
const FALLBACK_ARGV: &[&[&str]] = &[
    &[],
    &["--version"],
    &["-v"],
    &["--help"],
    &["help", "create"],
    &["create", "--help"],
    &["create", "-h"],
    &["checkpoint", "--help"],
    &["nosuch", "cid"],
    &["--nosuch", "state", "cid"],
    &["create"],
    &["state"],
    &["state", "cid", "--nosuch"],
    &["--log-format", "yaml", "state", "cid"],
    &["--root"],
    &["--", "state", "cid"],
    &["kill", "cid", "9", "extra"],
    &["spec", "--rootless=x"],
    &["state", "cid", "--rootless", "true"],
    &["--version", "state", "cid"],
];

/// The runc shim's restore argv (go-runc's one-dash flags) parses as
/// the two-dash one; an id "restore" or other argv is left alone.
#[test]
fn go_runc_single_dash_restore_flags() {
    let shim = runc_spellings(argv(&[
        "--root",
        "/r",
        "restore",
        "--image-path",
        "/i",
        "--detach",
        "-no-subreaper",
        "-no-pivot",
        "--bundle",
        "/b",
        "cid",
    ]));
    let cli = Cli::try_parse_from(&shim).expect("shim argv parses");
    match cli.command {
        Some(Command::Restore(a)) => {
            assert!(a.no_subreaper && a.no_pivot && a.detach);
            assert_eq!(a.id, "cid");
        }
        other => panic!("{other:?}"),
    }
    let plain = argv(&["state", "-no-pivot"]);
    assert_eq!(runc_spellings(plain.clone()), plain);
}

#[test]
fn fast_parse_equals_full_parse() {
    for args in CALLER_ARGV {
        let argv = argv(args);
        let full =
            Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("full parse of {args:?}: {e}"));
        let fast = Cli::try_parse_fast_from(&argv)
            .unwrap_or_else(|| panic!("fast parse of {args:?} fell back"));
        assert_eq!(format!("{fast:?}"), format!("{full:?}"), "argv {args:?}");
    }
}

#[test]
fn fast_parse_falls_back_on_help_version_and_errors() {
    for args in FALLBACK_ARGV {
        let argv = argv(args);
        assert!(
            Cli::try_parse_fast_from(&argv).is_none(),
            "fast parse of {args:?} should fall back; full parse gives {:?}",
            Cli::try_parse_from(&argv).map(|c| format!("{c:?}"))
        );
    }
}

#[test]
fn fast_parse_knows_every_subcommand() {
    // Each subcommand must reach its own fast parse, and every top-level
    // flag that takes a value must be in VALUE_FLAGS (else the scan for
    // the subcommand name would take the flag's value for it).
    let full = Cli::command();
    for sub in full.get_subcommands() {
        let name = sub.get_name();
        let parses = [vec![name], vec![name, "cid"]]
            .into_iter()
            .filter(|args| Cli::try_parse_from(argv(args)).is_ok())
            .collect::<Vec<_>>();
        assert!(!parses.is_empty(), "no test argv parses for {name}");
        for args in parses {
            assert!(
                Cli::try_parse_fast_from(&argv(&args)).is_some(),
                "{args:?} fell back"
            );
        }
    }
    for arg in full.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let flag = format!("--{long}");
        let takes_value = arg.get_action().takes_values();
        let listed = if takes_value {
            VALUE_FLAGS.contains(&flag.as_str())
        } else {
            BOOL_FLAGS.contains(&flag.as_str()) || flag == "--version"
        };
        assert!(
            listed,
            "{flag} (takes a value: {takes_value}) is not listed"
        );
    }
}

#[test]
fn definitions_are_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn callers_argv_parse() {
    // containerd's shim: global flags first, options before the id.
    let c = Cli::try_parse_from([
        "outlet",
        "--root",
        "/run/containerd/runc/k8s.io",
        "--log",
        "/b/log.json",
        "--log-format",
        "json",
        "create",
        "--bundle",
        "/b",
        "--pid-file",
        "/b/init.pid",
        "--console-socket",
        "/s",
        "--no-pivot",
        "--no-new-keyring",
        "cid",
    ])
    .unwrap();
    let Some(Command::Create(a)) = c.command else {
        panic!()
    };
    assert_eq!(a.id, "cid");
    assert!(a.no_pivot);
    // conmon: --flag=v forms, --preserve-fds.
    let c = Cli::try_parse_from([
        "outlet",
        "--log-format=json",
        "create",
        "--bundle=/b",
        "--pid-file=/p",
        "--preserve-fds",
        "2",
        "cid",
    ])
    .unwrap();
    let Some(Command::Create(a)) = c.command else {
        panic!()
    };
    assert_eq!(a.preserve_fds, 2);
    // urfave/cli habit: options after the id; global flags after the command.
    let c =
        Cli::try_parse_from(["outlet", "create", "cid", "--bundle", "/b", "--root", "/r"]).unwrap();
    assert_eq!(c.root.as_deref(), Some(std::path::Path::new("/r")));
    let c = Cli::try_parse_from(["outlet", "kill", "--all", "cid", "9"]).unwrap();
    let Some(Command::Kill(k)) = c.command else {
        panic!()
    };
    assert!(k.all);
    assert_eq!(k.signal, "9");
    let c = Cli::try_parse_from(["outlet", "spec", "--rootless"]).unwrap();
    let Some(Command::Spec(s)) = c.command else {
        panic!()
    };
    assert!(s.rootless);
    let c = Cli::try_parse_from(["outlet", "exec", "cid", "sh", "-c", "echo -n x"]).unwrap();
    let Some(Command::Exec(e)) = c.command else {
        panic!()
    };
    assert_eq!(e.command, ["sh", "-c", "echo -n x"]);
    let c = Cli::try_parse_from(["outlet", "update", "--resources=-", "cid"]).unwrap();
    let Some(Command::Update(u)) = c.command else {
        panic!()
    };
    assert_eq!(u.resources.as_deref(), Some("-"));
}

/// runc's habits: negative limits and signals as separate arguments, a
/// repeated flag (the last wins), `--cpu-share` for `--cpu-shares`.
#[test]
fn runc_habits_parse() {
    // runc takes negative limits as separate arguments.
    let c = Cli::try_parse_from([
        "outlet",
        "update",
        "--cpu-quota",
        "-1",
        "--pids-limit",
        "-1",
        "--memory-swap",
        "-1",
        "cid",
    ])
    .unwrap();
    let Some(Command::Update(u)) = c.command else {
        panic!()
    };
    assert_eq!(u.cpu_quota, Some(-1));
    assert_eq!(u.pids_limit, Some(-1));
    assert_eq!(u.memory_swap.as_deref(), Some("-1"));
    let c = Cli::try_parse_from(["outlet", "--root", "/a", "--root", "/b", "list"]).unwrap();
    assert_eq!(c.root.as_deref(), Some(std::path::Path::new("/b")));
    let c = Cli::try_parse_from(["outlet", "update", "--cpu-share", "7", "cid"]).unwrap();
    let Some(Command::Update(u)) = c.command else {
        panic!()
    };
    assert_eq!(u.cpu_shares, Some(7));
    let c = Cli::try_parse_from(["outlet", "kill", "cid", "-1"]).unwrap();
    let Some(Command::Kill(k)) = c.command else {
        panic!()
    };
    assert_eq!(k.signal, "-1");
}

/// The hot commands as containerd's shim, go-runc and conmon spell them:
/// each must take the clap-free parse (`plain`), or the speed it buys is
/// silently lost.
#[rustfmt::skip]
const PLAIN_ARGV: &[&[&str]] = &[
    &["--root", "/run/containerd/runc/k8s.io", "--log", "/b/log.json", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "--console-socket", "/s", "--no-pivot", "--no-new-keyring", "cid"],
    &["--root", "/r", "--log", "/b/log.json", "--log-format", "json", "--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "cid"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "start", "cid"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "cid", "9"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "--all", "cid", "15"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "--force", "cid"],
    &["--root", "/r", "pause", "cid"],
    &["--root", "/r", "resume", "cid"],
    &["state", "cid"],
    &["--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/p", "--no-pivot", "--no-new-keyring", "--preserve-fds", "2", "--console-socket", "/s", "cid"],
    &["--log-format=json", "--log", "/l", "create", "--bundle=/b", "--pid-file=/p", "cid"],
    &["create", "cid", "--bundle", "/b", "--root", "/r", "--log-format=json", "--debug"],
    &["delete", "cid", "--force", "--root", "/r"],
    &["--rootless=false", "--cgroup-manager", "cgroupfs", "state", "cid"],
    &["--cgroup-manager", "cgroupfs", "run", "--config", "/c.json", "--keep", "-d", "cid"],
    &["run", "-b", "/b", "--detach", "cid"],
    &["--root", "/a", "--root", "/b", "state", "cid", "--root", "/c"],
    &["--criu", "/c", "kill", "cid"],
    &["--root", "/r", "--log", "/l", "--log-format", "json", "exec", "--process", "/p.json", "--console-socket", "/s", "--detach", "--pid-file", "/p", "cid"],
    &["exec", "--pid-file", "/p", "--process", "/f", "--detach", "--preserve-fds", "1", "--console-socket", "/s", "cid"],
    &["--root", "/r", "exec", "cid", "/bin/true"],
    &["exec", "cid", "sh", "-c", "echo -n x", "--root", "/r", "-d"],
];

#[test]
fn plain_parse_takes_the_callers_hot_argv_as_clap_does() {
    for args in PLAIN_ARGV {
        let argv = argv(args);
        let full = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let plain = plain::parse(&argv).unwrap_or_else(|| panic!("{args:?} went to clap"));
        assert_eq!(format!("{plain:?}"), format!("{full:?}"), "argv {args:?}");
    }
    for args in CALLER_ARGV {
        let argv = argv(args);
        if let Some(plain) = plain::parse(&argv) {
            let full = Cli::try_parse_from(&argv).unwrap();
            assert_eq!(format!("{plain:?}"), format!("{full:?}"), "argv {args:?}");
        }
    }
    // exec's argv that clap takes but judges itself: `--` (which it
    // drops), a flag after the id, a flag plain does not know.
    #[rustfmt::skip]
    const EXEC_TO_CLAP: &[&[&str]] = &[
        &["exec", "cid", "--", "ls"], &["exec", "cid", "-d", "true"],
        &["exec", "cid", "true", "--", "x"], &["exec", "-t", "cid", "sh"],
    ];
    for args in FALLBACK_ARGV.iter().chain(EXEC_TO_CLAP) {
        assert!(plain::parse(&argv(args)).is_none(), "{args:?} parsed plain");
    }
}

/// Random argv from the hot commands' flags (with their values), ids and
/// signals in random order, a third of them with one word clap must judge
/// (help, `--`, a cluster, a misspelling, a misplaced flag, a bad value):
/// wherever the plain parse answers, clap's full parse succeeds with the
/// same `Cli`. The draws must include enough argv of each kind (taken
/// plain, left to clap, refused) for the test to mean something.
#[test]
fn plain_parse_equals_clap_on_random_argv() {
    #[rustfmt::skip]
    const GLOBAL: &[&[&str]] = &[
        &["--root", "/r"], &["--root=/r2"], &["--log", "/l"], &["--log=/l2"],
        &["--log-format", "json"], &["--log-format=text"], &["--debug"],
        &["--systemd-cgroup"], &["--cgroup-manager", "cgroupfs"],
        &["--cgroup-manager=systemd"], &["--criu", "/c"], &["--criu=/c2"],
    ];
    const ROOTLESS: &[&[&str]] = &[&["--rootless", "true"], &["--rootless=false"]];
    #[rustfmt::skip]
    const CREATE: &[&[&str]] = &[
        &["-b", "/b"], &["--bundle", "/b"], &["--bundle=/b2"], &["--config", "/c.json"],
        &["--config=/c2.json"], &["--console-socket", "/s"], &["--pid-file", "/p"],
        &["--pid-file=/p2"], &["--no-pivot"], &["--no-new-keyring"],
        &["--preserve-fds", "2"], &["--preserve-fds=3"],
    ];
    const RUN: &[&[&str]] = &[&["-d"], &["--detach"], &["--keep"]];
    const DELETE: &[&[&str]] = &[&["-f"], &["--force"]];
    const KILL: &[&[&str]] = &[&["-a"], &["--all"]];
    #[rustfmt::skip]
    const EXEC: &[&[&str]] = &[
        &["--process", "/p.json"], &["--process=/p2.json"], &["-p", "/p3.json"],
        &["--console-socket", "/s"], &["--console-socket=/s2"], &["-d"], &["--detach"],
        &["--pid-file", "/p"], &["--pid-file=/p2"], &["--preserve-fds", "2"],
        &["--preserve-fds=3"], &["--tty"], &["--ignore-paused"], &["--env", "A=1"],
    ];
    #[rustfmt::skip]
    const NAMES: &[&str] = &[
        "create", "run", "start", "state", "kill", "delete", "pause", "resume", "exec", "help",
    ];
    #[rustfmt::skip]
    const NOISE: &[&str] = &[
        "", "-", "--", "-h", "--help", "-v", "--version", "-af", "-fa", "--force=true",
        "-b=/b", "-b/b", "--bundlex", "--roo", "--nosuch", "+3", "-9", "--log-format=yaml",
        "--rootless", "--root=", "--debug=1", "--preserve-fds=99999999999", "--keep", "-d",
        "-f", "-a", "--no-pivot", "cid", "KILL", "--bundle", "--preserve-fds=+3",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let (mut plain_n, mut clap_only, mut both_fail) = (0, 0, 0);
    // exec's trailing command is its own kind of parse: it must be drawn
    // and taken often enough to be tested.
    let (mut exec_plain, mut exec_command) = (0, 0);
    for _ in 0..4000 {
        let mut args: Vec<&str> = Vec::new();
        for _ in 0..rnd(4) {
            let pool = if rnd(4) == 0 { ROOTLESS } else { GLOBAL };
            args.extend(pool[rnd(pool.len())]);
        }
        let name = NAMES[rnd(NAMES.len())];
        args.push(name);
        let own: &[&[&str]] = match name {
            "create" => CREATE,
            "run" => [CREATE, RUN][rnd(2)],
            "delete" => DELETE,
            "kill" => KILL,
            "exec" => EXEC,
            _ => &[],
        };
        let mut units: Vec<&[&str]> = Vec::new();
        for _ in 0..rnd(5) {
            let pool = if own.is_empty() || rnd(3) == 0 {
                GLOBAL
            } else {
                own
            };
            units.push(pool[rnd(pool.len())]);
        }
        // Positionals in their order, at random places among the flags.
        let positionals: &[&str] = [
            &["cid"][..],
            &["cid", "KILL"],
            &[],
            &["cid", "c2"],
            &["cid", "sh", "-c", "--root"],
            &["cid", "true", "--", "x"],
        ][if rnd(4) == 0 {
            rnd(6)
        } else {
            usize::from((name == "kill" || name == "exec") && rnd(2) == 0)
        }];
        let mut at = 0;
        for p in positionals {
            at = at + rnd(units.len() - at + 1);
            units.insert(at, std::slice::from_ref(p));
            at += 1;
        }
        let mut after: Vec<&str> = units.concat();
        if rnd(3) == 0 {
            after.insert(rnd(after.len() + 1), NOISE[rnd(NOISE.len())]);
        }
        args.extend(after);
        let argv = argv(&args);
        let full = Cli::try_parse_from(&argv).ok();
        match (plain::parse(&argv), full) {
            (Some(plain), Some(full)) => {
                assert_eq!(format!("{plain:?}"), format!("{full:?}"), "argv {args:?}");
                plain_n += 1;
                if let Some(Command::Exec(e)) = &plain.command {
                    exec_plain += 1;
                    exec_command += usize::from(!e.command.is_empty());
                }
            }
            (Some(plain), None) => panic!("{args:?}: clap refuses what plain took: {plain:?}"),
            (None, Some(_)) => clap_only += 1,
            (None, None) => both_fail += 1,
        }
    }
    eprintln!(
        "plain {plain_n} (exec {exec_plain}, with a command {exec_command}), clap only {clap_only}, refused by both {both_fail}"
    );
    assert!(
        plain_n > 1000 && clap_only > 200 && both_fail > 200,
        "plain {plain_n}, clap only {clap_only}, refused {both_fail}"
    );
    assert!(
        exec_plain > 50 && exec_command > 20,
        "exec plain {exec_plain}, with a command {exec_command}"
    );
}

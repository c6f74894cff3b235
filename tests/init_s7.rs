//! The init's setup after issue 15's cuts (session 7): what the shorter
//! path must still give the program.

mod common;

use common::{OUTLET, Out, T, wait_timeout};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Signals a caller may leave ignored (nohup, a shell's job control), one
/// the init has an exit handler for (HUP, INT) and one it has not (TSTP).
const IGNORED: [libc::c_int; 3] = [libc::SIGHUP, libc::SIGINT, libc::SIGTSTP];

/// Real-time signals a caller may leave ignored: all of them, 32-64,
/// those the libc keeps for itself included (set by the raw syscall).
const IGNORED_RT: std::ops::RangeInclusive<libc::c_int> = 32..=64;

/// The kernel's struct sigaction on x86_64.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

fn ignore_before_exec(cmd: &mut Command) {
    // SAFETY: between fork and exec only signal(2) and rt_sigaction,
    // async-signal-safe, run; `act` is alive for each call.
    unsafe {
        cmd.pre_exec(|| {
            for sig in IGNORED {
                libc::signal(sig, libc::SIG_IGN);
            }
            let act = KernelSigaction {
                handler: libc::SIG_IGN,
                flags: 0,
                restorer: 0,
                mask: 0,
            };
            for sig in IGNORED_RT {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &act as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                );
            }
            Ok(())
        });
    }
}

/// The `SigIgn:` mask of a /proc status text.
fn sig_ign(status: &str) -> u64 {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .unwrap_or_else(|| panic!("no SigIgn in {status:?}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

/// The init no longer resets the signals it gave handlers to (execve
/// resets those); whatever a caller left ignored, and outlet's own
/// ignored SIGPIPE, must still reach the program as default: the
/// program's SigIgn is 0 for all 64 signals, the real-time ones (32-64,
/// 32-34 musl's own) too. The control: the same caller's ignored
/// dispositions, without outlet in between, do cross execve (SigIgn has
/// the bits), so a 0 is the init's doing.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn ignored_signals_do_not_reach_the_program() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("sig", |c| {
        c["process"]["args"] = json!(["grep", "^Sig", "/proc/self/status"]);
    });
    let want: u64 = IGNORED
        .iter()
        .copied()
        .chain(IGNORED_RT)
        .map(|s| 1u64 << (s - 1))
        .sum();

    let mut host = Command::new("grep");
    host.args(["^Sig", "/proc/self/status"]);
    ignore_before_exec(&mut host);
    let out = host.output().expect("spawn grep");
    let control = sig_ign(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        control & want,
        want,
        "control: the caller's ignored signals did not cross execve ({control:x})"
    );

    let id = t.id("sig");
    let (mut cmd, so, se) = t.command(
        std::path::Path::new(OUTLET),
        &["run", "--bundle", b.dir.to_str().unwrap(), &id],
    );
    ignore_before_exec(&mut cmd);
    let mut child = cmd.spawn().expect("spawn outlet");
    let status = wait_timeout(&mut child, std::time::Duration::from_secs(20), "run");
    let o = Out::from_files(status, so, se);
    o.expect_ok("run");
    // All 64: runc's Go init has a handler for every signal, so execve
    // resets them; outlet's init resets the ignored ones itself.
    assert_eq!(
        sig_ign(&o.stdout),
        0,
        "the program inherited ignored signals: {}",
        o.stdout
    );
    t.assert_nothing_left("after run");
}

/// A caller that ignores SIGCHLD (auto-reaping, inherited across execve)
/// still gets `run`'s answer: the program's exit status, in time. Before
/// the fix `run` slept in sigwait for a SIGCHLD the kernel discarded, and
/// the child was reaped with its status lost. Control: a program started
/// the same way shows SIGCHLD ignored in its SigIgn, so the caller's
/// setting does cross execve into outlet.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn a_caller_ignoring_sigchld_gets_the_exit_status() {
    let Some(t) = T::new() else { return };
    fn ignore_sigchld(cmd: &mut Command) {
        // SAFETY: signal() is async-signal-safe; SIG_IGN runs no code.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let mut host = Command::new("grep");
    host.args(["^SigIgn", "/proc/self/status"]);
    ignore_sigchld(&mut host);
    let out = host.output().expect("spawn grep");
    let control = sig_ign(&String::from_utf8_lossy(&out.stdout));
    assert_ne!(
        control & (1 << (libc::SIGCHLD - 1)),
        0,
        "control: SIGCHLD ignored by the caller did not cross execve ({control:x})"
    );

    let b = t.bundle("chld", |c| {
        c["process"]["args"] = json!(["sh", "-c", "exit 7"]);
    });
    let id = t.id("chld");
    let (mut cmd, so, se) = t.command(
        std::path::Path::new(OUTLET),
        &["run", "--bundle", b.dir.to_str().unwrap(), &id],
    );
    ignore_sigchld(&mut cmd);
    let mut child = cmd.spawn().expect("spawn outlet");
    let status = wait_timeout(&mut child, std::time::Duration::from_secs(20), "run");
    let o = Out::from_files(status, so, se);
    assert_eq!(o.code, Some(7), "run under an ignored SIGCHLD: {o:?}");
    t.outlet(&["delete", "--force", &id]);
    t.assert_nothing_left("after run");
}

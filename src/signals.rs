//! Signal names and numbers as callers give them: `9`, `KILL`, `SIGKILL`.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// The real-time signal range as the container's programs number it: the
/// kernel's SIGRTMAX (64), and SIGRTMIN 34 as glibc and Go (hence runc and
/// crun) give it. Not outlet's own libc's: musl keeps 32-34 for itself and
/// says 35, which would shift every `RTMIN+n` a caller sends by one.
pub const SIGRTMIN: i32 = 34;
pub const SIGRTMAX: i32 = 64;

pub fn parse(s: &str) -> Result<i32> {
    let max = SIGRTMAX;
    // 0 sends nothing and only asks whether the init is there, as kill(2)
    // and runc's `kill ID 0` do.
    if let Ok(n) = s.parse::<i64>() {
        if !(0..=i64::from(max)).contains(&n) {
            bail!("signal {s}: out of range 0-{max}");
        }
        return Ok(n as i32);
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    // SIGRTMIN+n and SIGRTMAX-n, as kill(1) takes them. The offset is
    // checked against the real-time range before any arithmetic, so no
    // offset can overflow.
    let min = SIGRTMIN;
    let rt = |base: i32, rest: &str, sign: char| -> Result<i32> {
        let off = if rest.is_empty() {
            Some(0)
        } else {
            // Digits only: u32's parse would also take a second sign.
            rest.strip_prefix(sign)
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n <= (max - min) as u32)
        };
        match off {
            Some(o) if sign == '+' => Ok(base + o as i32),
            Some(o) => Ok(base - o as i32),
            None => bail!("signal {s}: not a real-time signal (SIGRTMIN={min} to SIGRTMAX={max})"),
        }
    };
    if let Some(rest) = name.strip_prefix("SIGRTMIN") {
        return rt(min, rest, '+');
    }
    if let Some(rest) = name.strip_prefix("SIGRTMAX") {
        return rt(max, rest, '-');
    }
    match name.parse::<Signal>() {
        Ok(sig) => Ok(sig as i32),
        Err(_) => bail!("unknown signal {s:?}"),
    }
}

/// Ends the process as a shell tool ends when its stdout's reader is gone:
/// killed by SIGPIPE, without a message. Rust ignores SIGPIPE so that the
/// runtime's own sockets and pipes report EPIPE as an error; only a closed
/// stdout comes here.
pub fn die_of_sigpipe() -> ! {
    crate::syscall::start::raise_default_sigpipe();
    // Not reached unless SIGPIPE is blocked: the shell's code for it.
    std::process::exit(killed_code(Signal::SIGPIPE))
}

/// The exit code a shell gives a process killed by `sig`: 128+n. The one
/// place outlet (run, exec, a console relay) turns a signal into a code.
pub fn killed_code(sig: Signal) -> i32 {
    128 + sig as i32
}

/// A child's wait status as the exit code to leave with: its own code, or
/// `killed_code` for a signal. None while it has not ended (stopped,
/// continued, still alive under WNOHANG).
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(killed_code(sig)),
        _ => None,
    }
}

/// What `run` and foreground `exec` pass on to the container's process.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGALRM,
];

/// Signals that end a foreground `exec` still in setup: its process does
/// not exist yet to be given them.
const STOP: [Signal; 4] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
];

/// Waits until `fd` is readable (or hung up), or one of the STOP signals
/// (blocked by `block_forwarded`) arrives; returns that signal. The other
/// forwarded signals stay pending for `wait_forwarding`.
pub fn readable_or_stop(fd: std::os::fd::BorrowedFd) -> Result<Option<Signal>> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut stop = SigSet::empty();
    for s in STOP {
        stop.add(s);
    }
    let sfd = SignalFd::with_flags(&stop, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .context("signalfd")?;
    loop {
        let mut fds = [
            PollFd::new(fd, PollFlags::POLLIN),
            PollFd::new(std::os::fd::AsFd::as_fd(&sfd), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
        }
        if fds[1].any().unwrap_or(false)
            && let Some(info) = sfd.read_signal().context("read signalfd")?
        {
            return Ok(Signal::try_from(info.ssi_signo as i32).ok());
        }
        if fds[0].any().unwrap_or(false) {
            return Ok(None);
        }
    }
}

/// The forwarded signals plus SIGCHLD, blocked by the caller before the
/// child can run, so that none is lost before `wait_forwarding` looks.
pub fn block_forwarded() -> Result<SigSet> {
    // A caller that ignores SIGCHLD (a daemon's auto-reaping setting,
    // inherited across its execve) would make the kernel discard the
    // child's SIGCHLD and reap it itself: the wait below would never wake
    // and the exit status would be lost. runc's Go runtime has a handler
    // for it; outlet puts back the default before any child can exit.
    crate::syscall::process::default_disposition(libc::SIGCHLD);
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&set), None)
        .context("block signals")?;
    Ok(set)
}

/// Wait for our child `pid`, passing on the signals in `set` (blocked by the
/// caller) and returning its status the shell's way (128+n for signal n).
pub fn wait_forwarding(pid: i32, set: &SigSet) -> Result<i32> {
    let child = Pid::from_raw(pid);
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(status) => {
                if let Some(code) = exit_code(status) {
                    return Ok(code);
                }
            }
            Err(nix::errno::Errno::ECHILD) => return Ok(0),
            Err(e) => return Err(e).context("wait for the process"),
        }
        let sig = set.wait().context("sigwait")?;
        if sig != Signal::SIGCHLD {
            // Our own unreaped child: its pid cannot have been reused.
            let _ = nix::sys::signal::kill(child, sig);
        }
    }
}

/// A signal's description in the words Go's os/exec prints after
/// "signal: " (the C library's strsignal texts, lower case), which runc's
/// hook errors carry and scripts match ("bad system call" for a hook
/// killed by its seccomp filter). None for a number with no text.
pub fn described(sig: i32) -> Option<&'static str> {
    const TEXT: [&str; 32] = [
        "",
        "hangup",
        "interrupt",
        "quit",
        "illegal instruction",
        "trace/breakpoint trap",
        "aborted",
        "bus error",
        "floating point exception",
        "killed",
        "user defined signal 1",
        "segmentation fault",
        "user defined signal 2",
        "broken pipe",
        "alarm clock",
        "terminated",
        "stack fault",
        "child exited",
        "continued",
        "stopped (signal)",
        "stopped",
        "stopped (tty input)",
        "stopped (tty output)",
        "urgent I/O condition",
        "CPU time limit exceeded",
        "file size limit exceeded",
        "virtual timer expired",
        "profiling timer expired",
        "window changed",
        "I/O possible",
        "power failure",
        "bad system call",
    ];
    let t = *TEXT.get(usize::try_from(sig).ok()?)?;
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::{SIGRTMAX, SIGRTMIN, exit_code, parse};
    use nix::sys::signal::Signal;
    use nix::sys::wait::WaitStatus;
    use nix::unistd::Pid;

    #[test]
    fn exit_codes_the_shell_way() {
        let p = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(p, 0)), Some(0));
        assert_eq!(exit_code(WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGTERM, true)),
            Some(143)
        );
        assert_eq!(exit_code(WaitStatus::Stopped(p, Signal::SIGSTOP)), None);
        assert_eq!(exit_code(WaitStatus::StillAlive), None);
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGKILL").unwrap(), 9);
        assert_eq!(parse("term").unwrap(), 15);
        assert_eq!(parse("SIGUSR1").unwrap(), 10);
        assert_eq!(parse("RTMIN+1").unwrap(), SIGRTMIN + 1);
        assert_eq!(parse("SIGRTMAX").unwrap(), SIGRTMAX);
        assert_eq!(parse("RTMAX-2").unwrap(), SIGRTMAX - 2);
        assert!(parse("NOPE").is_err());
        assert_eq!(parse("0").unwrap(), 0);
        assert!(parse("-1").is_err());
        assert!(parse("99").is_err());
        assert!(parse("4294967305").is_err());
    }

    #[test]
    fn real_time_offsets_are_bounded_by_sigrtmax() {
        let span = SIGRTMAX - SIGRTMIN;
        assert_eq!(parse(&format!("RTMIN+{span}")).unwrap(), SIGRTMAX);
        for bad in [
            format!("RTMIN+{}", span + 1),
            "RTMIN+2147483647".to_string(),
            "SIGRTMIN+4294967296".to_string(),
            "RTMIN+-1".to_string(),
            "RTMIN-1".to_string(),
            "RTMAX+1".to_string(),
            format!("RTMAX-{}", span + 1),
        ] {
            let err = parse(&bad).unwrap_err().to_string();
            assert!(err.contains("SIGRTMAX"), "{bad}: {err}");
        }
    }

    #[test]
    fn numbers_stop_at_sigrtmax() {
        let max = SIGRTMAX;
        assert_eq!(parse("1").unwrap(), 1);
        assert_eq!(parse(&max.to_string()).unwrap(), max);
        for bad in [
            (max + 1).to_string(),
            i64::from(i32::MAX).to_string(),
            (i64::from(i32::MAX) + 1).to_string(),
            i64::MIN.to_string(),
            "99999999999999999999".to_string(),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    /// What is neither a number nor a signal's name is refused, never read
    /// as a nearby signal: no trimming, no prefix match, no other base.
    #[test]
    fn garbage_is_refused_and_named() {
        for bad in [
            "",
            " ",
            "SIG",
            "sig",
            " 9",
            "9 ",
            "9x",
            "0x9",
            "9.0",
            "--9",
            "KILL9",
            "SIGKILLX",
            "SIG KILL",
            "SIGSIGKILL",
            "KILL\0",
            "K\u{130}LL",
            "RTMIN+",
            "RTMIN++1",
            "RTMIN+ 1",
            "RTMIN+1x",
            "RTMAX-",
            "RTMAX--1",
            "SIGRTMINX",
            "SIGRTMAX+0",
        ] {
            let Err(e) = parse(bad) else {
                panic!("{bad:?} was taken for signal {}", parse(bad).unwrap());
            };
            let e = e.to_string();
            let named = e.contains(bad.trim()) || e.contains(&format!("{bad:?}"));
            assert!(named, "{bad:?}: the error does not name it: {e}");
        }
    }
}

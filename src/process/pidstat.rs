//! A process's identity over time: pids are recycled, so a recorded pid
//! means the recorded process only while its start time (field 22 of
//! /proc/PID/stat, clock ticks since boot) is still the one recorded.
//! Every command that signals or waits on a container's init goes through
//! `is_recorded` first (`state::init_alive`, `delete`'s forced kill), and
//! signals through a pidfd opened before that check, so a pid that is
//! reused after it still never gets the signal.

/// (start time, state letter) of `pid`; None when it is gone or its stat
/// cannot be read as one (an error reading it counts as gone: for callers
/// that only avoid signalling a stranger; `read_start_time` tells them
/// apart).
pub fn start_time(pid: i32) -> Option<(u64, char)> {
    read_start_time(pid).ok().flatten()
}

/// As `start_time`, but a stat that could not be read for another reason
/// than the process being gone (EMFILE, ENOMEM, EIO) is that error: a
/// status built on it would call a live container stopped (faults_s8.rs,
/// `start_survives_a_failing_syscall` failing openat with ENOSPC).
pub fn read_start_time(pid: i32) -> std::io::Result<Option<(u64, char)>> {
    let mut buf = [0u8; 1024];
    let Some(n) = read_stat(pid, &mut buf)? else {
        return Ok(None);
    };
    Ok(std::str::from_utf8(&buf[..n]).ok().and_then(parse))
}

/// Whether `pid` is a live process that is not on its way out: not a
/// zombie or dead, not exiting (PF_EXITING), and without a SIGKILL
/// pending. A killed task that has not yet run to its exit (waiting for
/// a CPU, or finishing a write into a cgroup's `tasks` that it began
/// before the kill) is still listed in its cgroup, and leaves it soon:
/// `delete` waits for it instead of taking it for a sharer's process and
/// leaving the directory (tests/crash.rs, random kills under load). A
/// stat that cannot be read counts as gone, as in `start_time`.
pub fn staying(pid: i32) -> bool {
    let mut buf = [0u8; 1024];
    match read_stat(pid, &mut buf) {
        Ok(Some(n)) => std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(leaving)
            .is_some_and(|l| !l),
        _ => false,
    }
}

/// proc(5)'s flags (field 9) and signal (field 31: the thread's pending
/// signals, where a SIGKILL sent to the process is put too).
const FLAGS_FIELD: usize = 9;
const SIGNAL_FIELD: usize = 31;
/// include/linux/sched.h: the task has begun do_exit.
const PF_EXITING: u64 = 0x4;

/// Whether one /proc/PID/stat text is of a process on its way out (see
/// `staying`); None when it does not parse.
pub fn leaving(stat: &str) -> Option<bool> {
    let rest = stat[stat.rfind(')')? + 1..].strip_prefix(' ')?;
    let fields: Vec<&str> = rest.split(' ').collect();
    let field = |n: usize| fields.get(n - STATE_FIELD)?.parse::<u64>().ok();
    let state = fields.first()?.chars().next()?;
    let flags = field(FLAGS_FIELD)?;
    let pending = field(SIGNAL_FIELD)?;
    let sigkill = 1u64 << (libc::SIGKILL - 1);
    Some(state == 'Z' || state == 'X' || flags & PF_EXITING != 0 || pending & sigkill != 0)
}

/// /proc/PID/stat read whole into `buf`: its length, None when the
/// process is gone.
fn read_stat(pid: i32, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    use std::io::Read;
    // One read: procfs hands the whole line to a buffer that holds it (a
    // few hundred bytes; the comm is at most 64), where read_to_string
    // took an fstat and five reads growing from 32 bytes.
    // openat, not std's open: musl's open(2) follows an O_CLOEXEC open
    // with an fcntl(F_SETFD) for kernels older than 2.6.23, one syscall
    // more on every state, kill, start and delete.
    let fd = match crate::syscall::fs::openat(
        libc::AT_FDCWD,
        format!("/proc/{pid}/stat").as_str(),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ESRCH) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match std::fs::File::from(fd).read(buf) {
        Ok(n) => Ok(Some(n)),
        // Reaped between the open and the read.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(None),
        Err(e) => Err(e),
    }
}

/// True while `pid` is the process that had `start` as its start time and
/// has not exited: a zombie ('Z') or a dead task ('X') has, even though
/// its pid is still taken.
pub fn is_recorded(pid: i32, start: u64) -> bool {
    recorded(pid, start).unwrap_or(false)
}

/// `is_recorded`, with the error of a stat that could not be read.
pub fn recorded(pid: i32, start: u64) -> std::io::Result<bool> {
    Ok(read_start_time(pid)?.is_some_and(|(t, st)| t == start && st != 'Z' && st != 'X'))
}

/// proc(5)'s numbers (from 1) of the fields read here.
const STATE_FIELD: usize = 3;
const STARTTIME_FIELD: usize = 22;

/// The start time and state letter of one /proc/PID/stat text.
pub fn parse(stat: &str) -> Option<(u64, char)> {
    // The command name (field 2) is in parentheses and may itself hold
    // spaces, parentheses and digits: the fields go on after the last ')'.
    let rest = stat[stat.rfind(')')? + 1..].strip_prefix(' ')?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let start = fields
        .nth(STARTTIME_FIELD - STATE_FIELD - 1)?
        .parse()
        .ok()?;
    Some((start, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// A stat line as the kernel prints it, with `comm`, `state` and
    /// `start` in their places (fields 4-21 and 23-52 as filler).
    fn line(comm: &str, state: char, start: &str) -> String {
        let before: Vec<String> = (4..=21).map(|n| n.to_string()).collect();
        let after: Vec<String> = (23..=52).map(|n| n.to_string()).collect();
        format!(
            "4242 ({comm}) {state} {} {start} {}\n",
            before.join(" "),
            after.join(" ")
        )
    }

    /// `line` with field 9 (flags) and 31 (pending signals) set.
    fn line_with(state: char, flags: u64, pending: u64) -> String {
        let fields: Vec<String> = (4..=52)
            .map(|n| match n {
                9 => flags.to_string(),
                31 => pending.to_string(),
                _ => n.to_string(),
            })
            .collect();
        format!("4242 (a b) c) {state} {}\n", fields.join(" "))
    }

    #[test]
    fn leaving_is_a_zombie_an_exiting_task_or_a_pending_sigkill() {
        assert_eq!(leaving(&line_with('S', 0x0040_0040, 0)), Some(false));
        assert_eq!(leaving(&line_with('R', 0, 1 << 14)), Some(false), "SIGTERM");
        assert_eq!(leaving(&line_with('Z', 0, 0)), Some(true));
        assert_eq!(leaving(&line_with('D', 0x4, 0)), Some(true), "PF_EXITING");
        assert_eq!(leaving(&line_with('D', 0, 1 << 8)), Some(true), "SIGKILL");
        assert_eq!(leaving("4242 (x) S 1"), None);
    }

    #[test]
    fn start_time_is_field_22_whatever_the_command_name() {
        assert_eq!(parse(&line("sleep", 'S', "123456")), Some((123456, 'S')));
        // A name made to look like the end of the field list: the parse
        // must not stop at the first ')' nor count its spaces as fields.
        for comm in [
            "a) R 1 2 3",
            ") 9 9 9 9 9 9 9 9 9",
            "x (y) z",
            "",
            " ",
            "(((",
        ] {
            assert_eq!(
                parse(&line(comm, 'Z', "77")),
                Some((77, 'Z')),
                "comm {comm:?}"
            );
        }
        // The largest value the kernel's unsigned long long can print.
        assert_eq!(
            parse(&line("big", 'R', "18446744073709551615")),
            Some((u64::MAX, 'R'))
        );
    }

    #[test]
    fn a_damaged_stat_is_no_start_time() {
        let good = line("sh", 'S', "99");
        for bad in [
            String::new(),
            "4242 (sh".to_string(),
            "4242 (sh)".to_string(),
            "4242 (sh)S 1 2".to_string(),
            // Cut before field 22.
            good[..good.find(" 99 ").unwrap()].to_string(),
            line("sh", 'S', "-1"),
            line("sh", 'S', "1e3"),
            line("sh", 'S', "18446744073709551616"),
            line("sh", 'S', ""),
        ] {
            assert_eq!(parse(&bad), None, "{bad:?}");
        }
    }

    /// A real process: its start time reads, stays put while it lives, and
    /// a different recorded start time (its pid reused by another process)
    /// or its death (zombie, then reaped) makes it no longer the recorded one.
    #[test]
    fn a_real_process_is_recorded_only_while_it_lives_with_its_start_time() {
        let mut child = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        let (start, state) = start_time(pid).expect("the child's stat");
        assert_ne!(state, 'Z');
        // Our own start time was earlier (or in the same tick).
        let (own, _) = start_time(std::process::id() as i32).unwrap();
        assert!(own <= start, "own {own}, child {start}");
        assert_eq!(start_time(pid).map(|s| s.0), Some(start));
        assert!(is_recorded(pid, start));
        assert!(!is_recorded(pid, start + 1), "another start time, same pid");
        assert!(!is_recorded(pid, start - 1), "another start time, same pid");

        child.kill().unwrap();
        // Dead but not reaped: the pid is still taken, by a zombie.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while start_time(pid).is_some_and(|(_, st)| st != 'Z') {
            assert!(std::time::Instant::now() < deadline, "no zombie");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(start_time(pid), Some((start, 'Z')));
        assert!(!is_recorded(pid, start), "a zombie is not the live process");
        child.wait().unwrap();
        assert!(!is_recorded(pid, start), "reaped");
    }
}

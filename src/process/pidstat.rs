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
    use std::io::Read;
    // One read: procfs hands the whole line to a buffer that holds it (a
    // few hundred bytes; the comm is at most 64), where read_to_string
    // took an fstat and five reads growing from 32 bytes.
    // openat, not std's open: musl's open(2) follows an O_CLOEXEC open
    // with an fcntl(F_SETFD) for kernels older than 2.6.23, one syscall
    // more on every state, kill, start and delete.
    let mut buf = [0u8; 1024];
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
    let n = match std::fs::File::from(fd).read(&mut buf) {
        Ok(n) => n,
        // Reaped between the open and the read.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(std::str::from_utf8(&buf[..n]).ok().and_then(parse))
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

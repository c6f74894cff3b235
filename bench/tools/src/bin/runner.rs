//! `runner ERRFILE TIMEOUT_SECS`: runs commands for bench/driver.py and
//! reports their wall time and peak RSS.
//!
//! Why a separate process: ru_maxrss of a child counts the memory image it
//! had before execve, which after a fork from Python is Python's (~17 MiB)
//! and would hide the runtime's own peak. Forked from this small program, the
//! baseline is about 1 MiB. The runner is also the child subreaper, as
//! containerd's shim is, so a container init that outlives `create` becomes
//! its child and can be waited for without polling `state`.
//!
//! Protocol, one request per line on stdin, fields separated by NUL bytes:
//!   `run\0ARGV0\0ARG1...`  -> `RC NS MAXRSS_KIB` (RC 124: killed at timeout)
//!   `run-env\0KEY=VALUE\0ARGV0...` -> the same, with one more env variable
//!   `wait\0PID`            -> `STATUS NS`, or `timeout` (STATUS -1: the pid
//!                             was not our child, its exit was seen in /proc)
//!   `reap`                 -> `N` zombies reaped
//! At EOF it kills and reaps any child still left (see kill_leftovers).
//! The child's stdin/stdout are /dev/null and its stderr is ERRFILE,
//! truncated before each command.

use std::ffi::CString;
use std::io::{BufRead, Error, Write};
use std::process::exit;
use std::ptr::{null, null_mut};

extern "C" fn on_alarm(_: libc::c_int) {}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn fail(what: &str) -> ! {
    eprintln!("runner: {what}: {}", Error::last_os_error());
    exit(1)
}

fn decode(status: libc::c_int) -> i64 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as i64
    } else {
        128 + libc::WTERMSIG(status) as i64
    }
}

struct Runner {
    devnull: libc::c_int,
    err: libc::c_int,
    timeout: libc::c_uint,
    env: Vec<CString>,
}

impl Runner {
    /// Runs argv with the fixed environment, plus `extra` (KEY=VALUE).
    fn run(&self, args: &[&[u8]], extra: Option<&[u8]>) -> String {
        let argv: Vec<CString> = match args.iter().map(|a| CString::new(*a)).collect() {
            Ok(v) => v,
            Err(_) => return "127 0 0".into(),
        };
        let extra = match extra.map(CString::new) {
            Some(Ok(e)) => Some(e),
            Some(Err(_)) => return "127 0 0".into(),
            None => None,
        };
        // Built before fork: the child must not allocate.
        let mut argp: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argp.push(null());
        let mut envp: Vec<*const libc::c_char> = self.env.iter().map(|e| e.as_ptr()).collect();
        envp.extend(extra.iter().map(|e| e.as_ptr()));
        envp.push(null());
        let mut status = 0;
        // SAFETY: ru is plain data, fully written by wait4 before it is read.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: this process is single-threaded, so fork cannot leave a lock
        // held; the child only calls async-signal-safe dup2/execve/_exit on
        // pointers prepared above. All fds are our own.
        unsafe {
            libc::ftruncate(self.err, 0);
            let t0 = now_ns();
            let pid = libc::fork();
            if pid < 0 {
                return "127 0 0".into();
            }
            if pid == 0 {
                libc::dup2(self.devnull, 0);
                libc::dup2(self.devnull, 1);
                libc::dup2(self.err, 2);
                libc::execve(argp[0], argp.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
            libc::alarm(self.timeout);
            let mut timed_out = false;
            while libc::wait4(pid, &mut status, 0, &mut ru) < 0 {
                // EINTR is the alarm (the handler does not restart): kill
                // the hung command and reap it.
                timed_out = true;
                libc::kill(pid, libc::SIGKILL);
            }
            libc::alarm(0);
            let t1 = now_ns();
            if timed_out {
                return format!("124 {} {}", t1 - t0, ru.ru_maxrss);
            }
            format!("{} {} {}", decode(status), t1 - t0, ru.ru_maxrss)
        }
    }

    fn wait(&self, pid: libc::pid_t) -> String {
        let mut status = 0;
        let t0 = now_ns();
        // SAFETY: status is a valid out-pointer; a null rusage is allowed.
        let r = unsafe {
            libc::alarm(self.timeout);
            let r = libc::wait4(pid, &mut status, 0, null_mut());
            libc::alarm(0);
            r
        };
        if r == pid {
            return format!("{} {}", decode(status), now_ns() - t0);
        }
        if Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            return "timeout".into();
        }
        // Not our child: a runtime that made another process its parent.
        let stat = format!("/proc/{pid}/stat");
        let deadline = t0 + self.timeout as u64 * 1_000_000_000;
        loop {
            match std::fs::read_to_string(&stat) {
                Err(_) => break,
                Ok(s) => {
                    let state = s
                        .rsplit_once(')')
                        .and_then(|(_, r)| r.split_whitespace().next());
                    if matches!(state, Some("Z") | Some("X")) {
                        break;
                    }
                }
            }
            if now_ns() > deadline {
                return "timeout".into();
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        format!("-1 {}", now_ns() - t0)
    }

    fn reap(&self) -> String {
        let mut n = 0;
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {
            n += 1;
        }
        n.to_string()
    }
}

/// At EOF (the driver is done or died): every process still our child is a
/// container init nobody deleted (adopted by this subreaper) or a hung
/// command. They are ours, so kill them by pid and reap them rather than
/// leave them to PID 1; say so, since it means a runtime leaked a process.
fn kill_leftovers() {
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<libc::pid_t>().ok());
        if ppid != Some(me) {
            continue;
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        eprintln!("runner: killing leftover child {pid}: {}", cmd.trim());
        // SAFETY: pid is our own child (its ppid is us), so it cannot have
        // been recycled for another process before we reap it.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, null_mut(), 0);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: runner ERRFILE TIMEOUT_SECS");
        exit(2);
    }
    let timeout: libc::c_uint = args[2].parse().unwrap_or_else(|_| {
        eprintln!("runner: TIMEOUT_SECS {:?} is not a number", args[2]);
        exit(2)
    });
    let err_path = CString::new(args[1].as_bytes()).unwrap_or_else(|_| exit(2));
    let devnull_path = c"/dev/null";
    // SAFETY: valid C strings; sigaction gets a zeroed struct with a handler
    // that does nothing, so it is async-signal-safe.
    let (devnull, err) = unsafe {
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            fail("prctl(PR_SET_CHILD_SUBREAPER)");
        }
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_alarm as *const () as usize;
        // No SA_RESTART: the alarm must interrupt wait4.
        if libc::sigaction(libc::SIGALRM, &sa, null_mut()) != 0 {
            fail("sigaction(SIGALRM)");
        }
        let devnull = libc::open(devnull_path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if devnull < 0 {
            fail("open /dev/null");
        }
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC;
        let err = libc::open(err_path.as_ptr(), flags, 0o600);
        if err < 0 {
            fail(&format!("open {}", args[1]));
        }
        (devnull, err)
    };
    let runner = Runner {
        devnull,
        err,
        timeout,
        env: vec![
            c"PATH=/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            c"LANG=C".to_owned(),
        ],
    };
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let mut line = Vec::new();
    let mut input = stdin.lock();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => {
                kill_leftovers();
                return;
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("runner: reading a request: {e}");
                exit(1);
            }
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let fields: Vec<&[u8]> = line.split(|b| *b == 0).collect();
        let answer = match fields.as_slice() {
            [b"run", argv @ ..] if !argv.is_empty() => runner.run(argv, None),
            [b"run-env", var, argv @ ..] if !argv.is_empty() => runner.run(argv, Some(var)),
            [b"wait", pid] => match std::str::from_utf8(pid).ok().and_then(|p| p.parse().ok()) {
                Some(pid) => runner.wait(pid),
                None => "timeout".into(),
            },
            [b"reap"] => runner.reap(),
            _ => {
                eprintln!("runner: bad request {:?}", String::from_utf8_lossy(&line));
                exit(2);
            }
        };
        if writeln!(stdout, "{answer}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            exit(1);
        }
    }
}

//! Raw calls of the lifecycle (create, start, exec, run) and of the
//! container's processes until execve, that nix does not wrap without
//! extra work: execve from arrays built ahead of time, the reset of signal
//! dispositions, the session keyring, the domain name, and the ioctls of
//! exec.fifo and of a terminal. Each unsafe block sits next to its call.

use std::ffi::{CStr, CString};
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// A NULL-terminated array of pointers to C strings, as execve(2) takes
/// argv and envp. Built before the seccomp filter goes in: building it
/// allocates, which a filter may not allow.
pub struct CStrArray<'a> {
    ptrs: Vec<*const libc::c_char>,
    // The pointers borrow the strings: they cannot outlive them.
    _strings: PhantomData<&'a [CString]>,
}

impl<'a> CStrArray<'a> {
    pub fn new(strings: &'a [CString]) -> CStrArray<'a> {
        let ptrs = strings
            .iter()
            .map(|c| c.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        CStrArray {
            ptrs,
            _strings: PhantomData,
        }
    }
}

/// execve(2); returns only on failure, with the error.
pub fn execve(exe: &CStr, argv: &CStrArray, envp: &CStrArray) -> io::Error {
    // SAFETY: exe is a NUL-terminated string, argv and envp NULL-terminated
    // arrays of pointers into strings the arrays borrow, all alive for the
    // call.
    unsafe { libc::execve(exe.as_ptr(), argv.ptrs.as_ptr(), envp.ptrs.as_ptr()) };
    io::Error::last_os_error()
}

/// Every catchable signal back to its default disposition (what the
/// process inherited from outlet must not reach the program). execve
/// itself resets every signal that has a handler, so the signals
/// `exit_on_terminating_signals` gave one are left to it: 15 rt_sigaction
/// calls and musl's sigprocmask pair around SIGABRT fewer in the init.
/// What an ignored signal (SIGPIPE, or one the caller ignored) keeps over
/// execve is still reset here, the real-time signals (32-64) too: runc's
/// Go init gives every signal a handler, so a program under runc starts
/// with (nearly) none ignored, while a caller's ignored real-time signal
/// would otherwise reach the program (crun 1.8 lets 34-64 through).
pub fn reset_signal_dispositions() {
    // musl's sigaction refuses 32-34 (its own), hence the raw call. 33
    // calls of ~0.3 us; a /proc status read to find the ignored ones
    // costs about as much CPU and needs a /proc.
    for sig in 32..=64 {
        default_disposition(sig);
    }
    let handled = HANDLERS_INSTALLED.load(std::sync::atomic::Ordering::Relaxed);
    for sig in 1..32 {
        if handled && TERMINATING.contains(&sig) {
            continue;
        }
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: SIG_DFL installs no handler of ours, so no Rust code
            // can run in signal context.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}

/// rt_sigaction(sig, SIG_DFL) by the raw syscall; a failure (a signal
/// number the kernel lacks) leaves nothing to reset.
pub fn default_disposition(sig: libc::c_int) {
    // The kernel's struct sigaction on x86_64: handler, flags, restorer,
    // mask (not libc's, whose layout is the libc's own).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let act = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: `act` is a valid kernel sigaction alive for the call, no old
    // action is asked for, and the size is the kernel's 64-bit sigset. SIG_DFL
    // installs no handler, so no code of ours runs in signal context.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &act as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        )
    };
}

/// The signals whose default action ends a process and that arrive from
/// outside (not the faults a process raises on itself): what `kill ID SIG`
/// sends. SIGPIPE stays ignored, as Rust's runtime set it.
const TERMINATING: [libc::c_int; 15] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGABRT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGTERM,
    libc::SIGSTKFLT,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    libc::SIGPWR,
];

extern "C" fn exit_by_signal(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe and does not return; 128 + n is
    // how a death by signal n is reported (`run`, the shells).
    unsafe { libc::_exit(128 + sig) }
}

/// A handler that ends the process for each terminating signal. The init
/// is its pid namespace's first process, and the kernel drops any signal
/// to such a process that it has no handler for (SIGKILL aside): without
/// this, `kill ID TERM` on a created container would reach nothing.
/// execve resets the handlers, so the program gets default dispositions.
pub fn exit_on_terminating_signals() {
    for sig in TERMINATING {
        // SAFETY: the handler only calls _exit: it touches no memory the
        // interrupted code could be using.
        let old = unsafe { libc::signal(sig, exit_by_signal as *const () as libc::sighandler_t) };
        if old == libc::SIG_ERR {
            // Not ours to rely on execve for: the reset must do it.
            return;
        }
    }
    HANDLERS_INSTALLED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Set once every TERMINATING signal has our handler (this process only:
/// `exec`'s helper never sets it and resets them all).
static HANDLERS_INSTALLED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new session keyring of
/// that name (or the existing one of that name) for the caller.
pub fn join_session_keyring(name: &CStr) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a valid NUL-terminated name, alive for the call.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// setdomainname(2) of the caller's UTS namespace.
pub fn set_domainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length of a live string; the kernel copies it.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Blocks until `fd` (a pipe or fifo) has a byte to read, without reading
/// it. False when it never will: every writer is gone and nothing is left.
pub fn wait_readable(fd: RawFd) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: poll reads and writes the one pollfd we pass, a live
        // local; `fd` itself is only looked at.
        if unsafe { libc::poll(&mut pfd, 1, -1) } >= 0 {
            return Ok(pfd.revents & libc::POLLIN != 0);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// FIONREAD: how many bytes wait unread in a pipe or fifo.
pub fn unread_bytes(fd: BorrowedFd) -> io::Result<i32> {
    let mut unread: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer we pass, a live local.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut unread) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unread)
}

/// TIOCGWINSZ: the size of the terminal `fd` refers to.
pub fn window_size(fd: BorrowedFd) -> io::Result<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize we pass, which outlives the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ws)
}

/// TIOCSWINSZ: give the terminal `fd` refers to this size.
pub fn set_window_size(fd: BorrowedFd, ws: &libc::winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads the live winsize we pass.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fstatfs(2)'s f_type for an fd given by number (the stdio fds, which no
/// Rust object owns in the init): what kind of file system holds it.
pub fn fs_type(fd: RawFd) -> io::Result<i64> {
    let mut sfs = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills the statfs we pass (or fails and leaves it
    // unread); an fd that is not open is EBADF, nothing more.
    if unsafe { libc::fstatfs(fd, sfs.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatfs succeeded, so it wrote the whole struct.
    let f_type = unsafe { sfs.assume_init() }.f_type;
    // Its type is the libc's: i64 in glibc, unsigned in musl.
    #[allow(clippy::unnecessary_cast)]
    Ok(f_type as i64)
}

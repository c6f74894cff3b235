//! A process of outlet's that must end abnormally (a panic) ends by its
//! own SIGABRT, sent to the right thread. musl's `abort()` cannot be
//! trusted for that in outlet's children: they are made by a raw clone3
//! (see `clone_process`), which musl does not see, so the thread id musl
//! keeps for `raise` is still the parent's. In the init (a new pid
//! namespace) that number names nobody and musl falls through to a crash
//! (SIGSEGV, exit 139); in exec's helper (the host's pid namespace) it
//! names the parent outlet, which would be killed instead. The same holds
//! for std's end of a failed allocation (`handle_alloc_error`, which calls
//! abort()): outlet's allocator ends such a child through `out_of_memory`
//! instead (see syscall/arena.rs).

use std::sync::atomic::{AtomicBool, Ordering};

/// Set in the child of outlet's raw clone (see `clone_process`): the
/// process in which musl's abort() would signal the parent's thread id.
static RAW_CHILD: AtomicBool = AtomicBool::new(false);

/// Called by `clone_process` in the child, first thing.
pub fn mark_raw_child() {
    RAW_CHILD.store(true, Ordering::Relaxed);
}

/// Whether this process is a child of outlet's raw clone.
pub fn in_raw_child() -> bool {
    RAW_CHILD.load(Ordering::Relaxed)
}

/// Kill the calling thread with SIGABRT, default action, so that the
/// waiting parent sees a death by SIGABRT whatever handler or mask the
/// process had. Thread ids come from the kernel (gettid is a syscall in
/// nix; getpid is one in musl), not from musl's cache. Where the signal
/// cannot kill, the process exits with 134, the status a shell gives a
/// death by SIGABRT: the container's init is pid 1 of its namespace, and
/// the kernel drops a signal with the default action sent to such an init
/// from inside its namespace, even by itself; a seccomp filter may also
/// deny one of the calls.
pub fn die_of_sigabrt() -> ! {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing SIG_DFL runs no code of ours in a signal context.
    let _ = unsafe { sigaction(Signal::SIGABRT, &default) };
    let mut abrt = SigSet::empty();
    abrt.add(Signal::SIGABRT);
    let _ = abrt.thread_unblock();
    let pid = nix::unistd::getpid().as_raw();
    let tid = nix::unistd::gettid().as_raw();
    // SAFETY: tgkill takes three integers and touches no memory of ours;
    // the thread group check keeps a stale or reused tid from reaching
    // another process.
    unsafe {
        libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGABRT);
    }
    super::exit_now(128 + libc::SIGABRT)
}

/// An allocation of `size` bytes that the C library could not serve, in a
/// child of the raw clone: one line on stderr, then a death by SIGABRT of
/// this process, as a panic ends (main.rs `on_panic`). Needs no memory:
/// the number is written into a buffer on the stack.
pub fn out_of_memory(size: usize) -> ! {
    let mut digits = [0u8; 20];
    crate::logging::stderr_parts(&[
        "outlet: memory allocation of ",
        decimal(size, &mut digits),
        " bytes failed",
    ]);
    die_of_sigabrt()
}

/// `n` in decimal, in the tail of `buf` (20 digits hold any u64).
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_writes_every_digit() {
        let mut buf = [0u8; 20];
        assert_eq!(super::decimal(0, &mut buf), "0");
        assert_eq!(super::decimal(1 << 60, &mut buf), "1152921504606846976");
        assert_eq!(super::decimal(usize::MAX, &mut buf), usize::MAX.to_string());
    }
}

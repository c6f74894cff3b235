//! A process of outlet's that must end abnormally (a panic) ends by its
//! own SIGABRT, sent to the right thread. musl's `abort()` cannot be
//! trusted for that in outlet's children: they are made by a raw clone3
//! (see `clone_process`), which musl does not see, so the thread id musl
//! keeps for `raise` is still the parent's. In the init (a new pid
//! namespace) that number names nobody and musl falls through to a crash
//! (SIGSEGV, exit 139); in exec's helper (the host's pid namespace) it
//! names the parent outlet, which would be killed instead.

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

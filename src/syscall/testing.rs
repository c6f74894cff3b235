//! Raw calls the unit tests need: forking a child of the (multi-threaded)
//! test harness, syscalls made exactly as a container's program would make
//! them (no libc wrapper between the test and the filter), an i386 syscall,
//! and receiving an fd. Test builds only.

use std::os::fd::{AsFd, OwnedFd};

use nix::unistd::{ForkResult, Pid};

/// Fork; the child runs `child` and _exits with its result.
///
/// The harness is multi-threaded, so the child may find a lock taken by a
/// thread that does not exist there: `security::testutil::in_child` kills a
/// child that hangs and forks again. fork(3) of musl, like glibc's, keeps
/// malloc usable in the child (a raw clone does not).
/// The child never returns into the harness's code, and _exit skips its
/// atexit handlers.
pub fn fork(child: impl FnOnce() -> i32) -> nix::Result<Pid> {
    // SAFETY: see above; the only state the child touches after fork is
    // its copy of memory, and it ends with _exit.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => super::exit_now(child()),
        ForkResult::Parent { child } => Ok(child),
    }
}

/// getppid(2) by number, not through libc (whose wrapper may not set
/// errno for a call that "cannot fail"): -1 with errno when a filter
/// refuses it.
pub fn getppid() -> libc::c_long {
    // SAFETY: getppid takes no arguments.
    unsafe { libc::syscall(libc::SYS_getppid) }
}

/// userfaultfd(flags) by number; a new fd on success is leaked (the
/// tests call it only where a filter refuses it).
pub fn userfaultfd(flags: libc::c_int) -> libc::c_long {
    // SAFETY: integer argument only.
    unsafe { libc::syscall(libc::SYS_userfaultfd, flags) }
}

/// kexec_load with no segments: never starts a kernel, but as root
/// without a filter it would unload a loaded kexec image. The tests make
/// it only under a filter that refuses it (and check the refusal).
pub fn kexec_load_nothing() -> libc::c_long {
    // SAFETY: a NULL segment list with count 0: the kernel reads nothing.
    unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            0,
            0,
            std::ptr::null::<libc::c_void>(),
            0,
        )
    }
}

/// An i386 syscall (int 0x80) from this x86_64 process: the kernel hands
/// it to the filter as AUDIT_ARCH_I386. Returns rax. Only for numbers
/// that take at most one integer argument and touch no memory of ours
/// (getpid; mkdir with a NULL path).
#[cfg(target_arch = "x86_64")]
pub fn i386_syscall(nr: i64, arg0: i64) -> i64 {
    let ret: i64;
    // SAFETY: int 0x80 enters the kernel's i386 syscall path with eax
    // = nr and ebx = arg0 (rbx restored after); the kernel zeroes r8-r11 on that path,
    // hence the clobbers. The calls used (getpid, mkdir(NULL)) touch
    // no memory of ours.
    unsafe {
        // rbx is reserved by LLVM: swap the argument in and back out.
        std::arch::asm!(
            "xchg {a}, rbx",
            "int 0x80",
            "xchg {a}, rbx",
            a = inout(reg) arg0 => _,
            inlateout("rax") nr => ret,
            lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

/// Receive one message with one SCM_RIGHTS fd (a seccomp listener's side).
pub fn recv_with_fd(sock: &std::os::unix::net::UnixStream) -> (String, OwnedFd) {
    let mut buf = vec![0u8; 64 * 1024];
    let (n, fd) = super::fdpass::recv_fd(sock.as_fd(), &mut buf).expect("recvmsg");
    (
        String::from_utf8_lossy(&buf[..n]).into_owned(),
        fd.expect("an fd"),
    )
}

/// A syscall by number with integer arguments, made as a container's
/// program would make it (no libc wrapper between the test and the
/// filter): its return value, or `e<errno>`. Only for probes that touch
/// no memory of ours whatever the filter decides: every pointer argument
/// NULL, every fd -1, unknown numbers (the seccomp layout test's).
pub fn syscall_probe(nr: i64, args: [i64; 6]) -> String {
    // SAFETY: by the contract above the kernel reads or writes no memory
    // of this process: a NULL pointer faults in the kernel (EFAULT), a -1
    // fd is refused (EBADF) before anything is touched.
    let r = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
    if r == -1 {
        format!(
            "e{}",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
        )
    } else {
        r.to_string()
    }
}

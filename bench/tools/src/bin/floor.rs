//! The kernel floor of container start: what any runtime must at least pay.
//!
//! `floor ROOTFS` does one clone with the namespace flags of `runc spec`
//! (pid, network, ipc, uts, mount), and in the child makes the mount tree
//! private, bind-mounts ROOTFS onto itself, pivot_roots into it and execs
//! `/bin/true`; the parent waits and exits with the child's status. The
//! benchmark driver times this whole process like a runtime command, so the
//! gap between a runtime and this number is the runtime's own overhead.

use std::ffi::CString;
use std::io::Error;
use std::process::exit;
use std::ptr::null;

fn die(what: &str) -> ! {
    eprintln!("floor: {what}: {}", Error::last_os_error());
    // _exit: in the child, running the parent's atexit handlers would be wrong.
    unsafe { libc::_exit(127) }
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        eprintln!("floor: {s:?} contains a NUL byte");
        exit(2)
    })
}

/// Runs in the cloned child: the minimal rootfs switch, then exec.
fn child(rootfs: &CString) -> ! {
    let slash = cstr("/");
    let dot = cstr(".");
    let prog = cstr("/bin/true");
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the
    // call, or null where the syscall accepts null; the process is
    // single-threaded, so the fork-like clone left no lock held.
    unsafe {
        // Without this the pivot would propagate into the host's namespace.
        if libc::mount(
            null(),
            slash.as_ptr(),
            null(),
            libc::MS_REC | libc::MS_PRIVATE,
            null(),
        ) != 0
        {
            die("make / private");
        }
        // pivot_root needs the new root to be a mount point.
        if libc::mount(
            rootfs.as_ptr(),
            rootfs.as_ptr(),
            null(),
            libc::MS_BIND | libc::MS_REC,
            null(),
        ) != 0
        {
            die("bind-mount the rootfs");
        }
        if libc::chdir(rootfs.as_ptr()) != 0 {
            die("chdir into the rootfs");
        }
        // pivot_root(".", ".") stacks the old root on top of the new one,
        // so no put_old directory is needed inside the rootfs.
        if libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) != 0 {
            die("pivot_root");
        }
        if libc::umount2(dot.as_ptr(), libc::MNT_DETACH) != 0 {
            die("detach the old root");
        }
        if libc::chdir(slash.as_ptr()) != 0 {
            die("chdir /");
        }
        let argv = [prog.as_ptr(), null()];
        let envp = [null()];
        libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
    }
    die("execve /bin/true")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 2 {
        eprintln!("usage: floor ROOTFS (an absolute path holding /bin/true)");
        exit(2);
    }
    let rootfs = cstr(&args[1]);
    let flags = libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWNS;
    // SAFETY: a raw clone without CLONE_VM and with a null stack behaves like
    // fork: the child gets a copy of this single-threaded address space.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        die("clone");
    }
    if pid == 0 {
        child(&rootfs);
    }
    let mut status = 0;
    // SAFETY: status is a valid out-pointer; pid is our own child.
    if unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) } < 0 {
        die("waitpid");
    }
    if libc::WIFEXITED(status) {
        exit(libc::WEXITSTATUS(status));
    }
    exit(128 + libc::WTERMSIG(status));
}

//! What outlet's process needs at start and at a SIGPIPE death without
//! std's runtime (main.rs skips lang_start): the SIGPIPE disposition and
//! fds 0-2 open.

/// SIGPIPE ignored (a closed pipe is an error, not a death), and fds 0, 1
/// and 2 open, on /dev/null where the caller closed them, so that no file
/// outlet opens becomes someone's stdout. One poll for the three.
///
/// For the very start of the process: it must not run while another
/// thread could open or close fds.
pub fn ignore_sigpipe_and_open_stdio() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes the three pollfds we pass; signal and
    // open take constants. Single-threaded: nothing else uses fds yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        if libc::poll(fds.as_mut_ptr(), 3, 0) < 0 {
            return;
        }
        for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
            FILLED.fetch_or(1 << p.fd, std::sync::atomic::Ordering::Relaxed);
            // open returns the lowest free fd: p.fd itself.
            let flags = if p.fd == 0 {
                libc::O_RDONLY
            } else {
                libc::O_RDWR
            };
            libc::open(c"/dev/null".as_ptr(), flags);
        }
    }
}

/// The fds of 0-2 that `ignore_sigpipe_and_open_stdio` opened /dev/null
/// on, one bit each.
static FILLED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// SIGPIPE back to its default action (death), then raised.
pub fn raise_default_sigpipe() {
    // SAFETY: restoring the default action of one signal, then raising it
    // in this single-threaded process; nothing is shared with a handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
}

/// The /dev/null `ignore_sigpipe_and_open_stdio` opened on fds the caller
/// closed, reopened on a read-only clone of /dev. Those fds become the
/// container's stdio, and through `/proc/self/fd/0` the container's root,
/// the host node's owner, could chmod, chown or set the times of the
/// host's /dev/null (`chmod 0 /proc/self/fd/0`). The device reads and
/// writes as before; only changes to the inode are refused (EROFS). Where
/// the clone cannot be made (not root), the fds stay as they are. A
/// /dev/null the caller passes (conmon's stdin) is the caller's and stays:
/// CRIU cannot restore a file on a detached mount, so a checkpoint of a
/// container whose stdio is one is refused (container/checkpoint.rs), and
/// doing this to every /dev/null would refuse most (docs/known-gaps.md,
/// "Session 17, round 16"). Debug builds' `OUTLET_STDIO_NULL_WRITABLE=1`
/// leaves them (tests/attack_s17b.rs).
///
/// Right after `ignore_sigpipe_and_open_stdio`, while no other thread
/// exists. Costs nothing unless a fd was closed; then the clone's
/// teardown waits for an RCU grace period (0.07-1 ms here).
pub fn stdio_null_read_only() {
    if crate::fault::control("OUTLET_STDIO_NULL_WRITABLE") {
        return;
    }
    let filled = FILLED.load(std::sync::atomic::Ordering::Relaxed);
    let mut dev: Option<std::os::fd::OwnedFd> = None;
    for fd in (0..3).filter(|fd| filled & (1 << fd) != 0) {
        if !is_null(fd) || on_read_only_mount(fd) {
            continue;
        }
        // SAFETY: fcntl on an fd number, no pointers.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            continue;
        }
        if dev.is_none() {
            match read_only_dev() {
                Some(d) => dev = Some(d),
                None => return,
            }
        }
        let Some(d) = dev.as_ref() else { return };
        let how = (flags & libc::O_ACCMODE) | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: a valid directory fd and a NUL-terminated literal name.
        let new = unsafe { libc::openat(d.as_raw_fd(), c"null".as_ptr(), how) };
        if new < 0 {
            continue;
        }
        // SAFETY: `new` was just opened and is ours; it replaces `fd`
        // (dup2 clears FD_CLOEXEC on the target) and is then closed.
        unsafe {
            if is_null(new) {
                libc::dup2(new, fd);
            }
            libc::close(new);
        }
    }
}

use std::os::fd::AsRawFd;

/// `fd` is char 1:3.
fn is_null(fd: libc::c_int) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a struct stat into the buffer we pass.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstat succeeded, so the struct is filled in.
    let st = unsafe { st.assume_init() };
    st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && libc::major(st.st_rdev) == 1
        && libc::minor(st.st_rdev) == 3
}

fn on_read_only_mount(fd: libc::c_int) -> bool {
    let mut vfs = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: fstatvfs writes a struct statvfs into the buffer we pass.
    if unsafe { libc::fstatvfs(fd, vfs.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstatvfs succeeded, so the struct is filled in.
    unsafe { vfs.assume_init() }.f_flag & libc::ST_RDONLY != 0
}

/// A detached, read-only (nosuid, noexec) clone of the mount holding the
/// host's /dev; None where it cannot be made.
fn read_only_dev() -> Option<std::os::fd::OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let tree = crate::syscall::mount::open_tree_path(
        c"/dev",
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
    )
    .ok()?;
    crate::rootfs::fdmount::seal_host_clone(&tree, false).ok()?;
    Some(tree)
}

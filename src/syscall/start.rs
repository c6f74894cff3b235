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

/// SIGPIPE back to its default action (death), then raised.
pub fn raise_default_sigpipe() {
    // SAFETY: restoring the default action of one signal, then raising it
    // in this single-threaded process; nothing is shared with a handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
}

//! SIGPIPE back to its default action, death: `main` ignores it so that a
//! closed pipe or socket is an error to report, and `signals::die_of_sigpipe`
//! undoes that to end the way a shell tool ends when its reader is gone.

use nix::sys::signal::{SigHandler, Signal, signal};

pub fn restore_default() -> nix::Result<()> {
    // SAFETY: SIG_DFL installs no handler, so no code of ours can ever run
    // in signal context; the previous disposition (SIG_IGN) is no handler
    // either, so nothing is left dangling.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.map(drop)
}

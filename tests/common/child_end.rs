//! What outlet's commands must show when one of their cloned children
//! ends abnormally during setup (a panic, a failed allocation): they fail
//! on their own terms, naming how the child ended. The init is pid 1 of
//! its namespace, where its own SIGABRT is dropped: it exits 134, as a
//! shell reports SIGABRT (see src/syscall/abort.rs). exec's helper dies of
//! the signal itself.

use super::Out;

/// create: exit 1, and the error naming the init's exit with 134.
pub fn create_saw_init_exit_134(o: &Out) -> Result<(), String> {
    if o.code != Some(1) {
        return Err(format!("create: exit {:?} signal {:?}", o.code, o.signal));
    }
    if !o
        .stderr
        .contains("container init exited during setup (exit status 134)")
    {
        return Err("create does not say the init exited with 134".into());
    }
    Ok(())
}

/// exec: outlet's own failure (exit 255, never a death by signal: the
/// parent was spared), and the error naming the helper's SIGABRT.
pub fn exec_saw_helper_sigabrt(o: &Out) -> Result<(), String> {
    if o.signal.is_some() || o.code != Some(255) {
        return Err(format!("exec: exit {:?} signal {:?}", o.code, o.signal));
    }
    if !o
        .stderr
        .contains("exec helper exited during setup (killed by SIGABRT)")
    {
        return Err("exec does not say the helper was killed by SIGABRT".into());
    }
    Ok(())
}

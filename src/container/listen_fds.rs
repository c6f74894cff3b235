//! systemd socket activation passed through to the container, as runc and
//! crun do: when outlet is started with `LISTEN_FDS=N` (and `LISTEN_PID`
//! unset or outlet's own pid), fds 3..3+N go to the container's process,
//! before any `--preserve-fds` ones, and its env says `LISTEN_FDS=N` and
//! `LISTEN_PID=1` (the process is pid 1 of its namespace, or at least the
//! one the fds are meant for).

use crate::spec::Spec;

/// How many activation fds the caller handed us, if any are meant for us.
/// A `LISTEN_PID` naming another process means the variables were only
/// inherited from some ancestor: then nothing is passed.
fn activation_fds() -> Option<u32> {
    let n: u32 = std::env::var("LISTEN_FDS").ok()?.trim().parse().ok()?;
    if n == 0 {
        return None;
    }
    match std::env::var("LISTEN_PID") {
        Ok(pid) => (pid.trim().parse::<i32>().ok()? == nix::unistd::getpid().as_raw()).then_some(n),
        Err(_) => Some(n),
    }
}

/// Give the container's process the activation env; the number of fds to
/// pass before the preserved ones, when there are any.
pub fn take(spec: &mut Spec) -> Option<u32> {
    let n = activation_fds()?;
    let process = spec.process.as_mut()?;
    let mut env = process.env().clone().unwrap_or_default();
    env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
    env.push(format!("LISTEN_FDS={n}"));
    env.push("LISTEN_PID=1".to_string());
    process.env = Some(env);
    Some(n)
}

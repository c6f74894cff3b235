//! `probe ptrace-caps SECONDS STOPFILE`: a process holding CAP_SYS_PTRACE
//! (which passes the kernel's check even on a non-dumpable process) looks
//! for any other process in sight whose effective capabilities reach past
//! its own bounding set, ptrace-attaches to it (the step before making it
//! run any code at all) and reads its effective set while it is stopped,
//! then lets it go.

use crate::json::Json;
use std::time::{Duration, Instant};

/// A capability set field of /proc/PID/status (hex).
fn cap_field(pid: &str, name: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(name))?;
    u64::from_str_radix(line[name.len()..].trim(), 16).ok()
}

pub fn hunt(seconds: f64, stop: &str) -> Json {
    let me = std::process::id().to_string();
    let own = cap_field("self", "CapBnd:").unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut rounds = 0u64;
    let mut tried = std::collections::BTreeSet::new();
    let mut attached = Vec::new();
    let mut errors = Vec::new();
    while Instant::now() < deadline && !std::path::Path::new(stop).exists() {
        rounds += 1;
        let Ok(rd) = std::fs::read_dir("/proc") else {
            break;
        };
        for e in rd.flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me || tried.contains(&pid) {
                continue;
            }
            let Some(eff) = cap_field(&pid, "CapEff:") else {
                continue;
            };
            if eff & !own == 0 {
                continue;
            }
            tried.insert(pid.clone());
            let n: i32 = pid.parse().unwrap_or(0);
            // SAFETY: plain ptrace/waitpid calls on a pid; no memory shared.
            let r = unsafe { libc::ptrace(libc::PTRACE_ATTACH, n, 0, 0) };
            if r != 0 {
                errors.push(Json::from(format!("{pid}: {}", crate::strerror(crate::errno()))));
                continue;
            }
            let mut st = 0;
            // SAFETY: as above; st is a live int.
            unsafe { libc::waitpid(n, &mut st, libc::__WALL) };
            let stopped = cap_field(&pid, "CapEff:").unwrap_or(0);
            // SAFETY: as above.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, n, 0, 0) };
            attached.push(Json::from(format!("{pid}:{stopped:016x}")));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Json::obj()
        .set("rounds", rounds)
        .set("own_bounding", format!("{own:016x}"))
        .set("attached", Json::Arr(attached))
        .set("errors", Json::Arr(errors))
}

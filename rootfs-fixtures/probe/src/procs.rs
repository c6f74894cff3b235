//! `probe procs NEEDLE...`: the live processes (other than probe itself)
//! whose command line or environment holds one of the needles, as
//! `PID:COMMAND LINE` lines. A shell cannot search these NUL-separated
//! files in one go (busybox grep stops at the first NUL, and a `tr` per
//! process costs seconds under TCG); the VM's crash test looks for the
//! processes a killed runtime left with it.

use std::fs;

pub fn procs(needles: &[&str]) -> i32 {
    let me = std::process::id().to_string();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
        let env = fs::read(e.path().join("environ")).unwrap_or_default();
        let holds = |hay: &[u8]| {
            needles
                .iter()
                .any(|n| !n.is_empty() && hay.windows(n.len()).any(|w| w == n.as_bytes()))
        };
        if holds(&cmd) || holds(&env) {
            let line = String::from_utf8_lossy(&cmd).replace('\0', " ");
            println!("{pid}:{}", line.trim_end());
        }
    }
    0
}

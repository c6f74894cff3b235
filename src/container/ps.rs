//! `ps`: the container's processes, as host pids (JSON) or as the lines of
//! ps(1) whose PID is in the container's cgroup (table), as runc does.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cgroups::Cgroup;

/// Host pids of every process in the container's cgroup.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let c = super::peek(root, id)?;
    let mut pids = Cgroup::from_paths(c.state.cgroup.clone())
        .pids()
        .with_context(|| format!("list the processes of {id}"))?;
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// ps(1) run with `ps_args` (default `-ef`), keeping the header and the
/// lines whose PID column holds one of `pids`.
pub fn table(pids: &[i32], ps_args: &[String]) -> Result<String> {
    let args: Vec<&str> = if ps_args.is_empty() {
        vec!["-ef"]
    } else {
        ps_args.iter().map(String::as_str).collect()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .with_context(|| format!("run ps {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "ps {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    filter(&String::from_utf8_lossy(&out.stdout), pids)
        .with_context(|| format!("ps {}", args.join(" ")))
}

/// The header and the lines of `ps_output` whose PID is in `pids`.
pub fn filter(ps_output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = ps_output.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("its output has no PID column (pass -o with pid)")?;
    // A set: ps lists every process of the host, a container may hold
    // thousands, and a scan of `pids` per line was their product.
    let pids: std::collections::HashSet<i32> = pids.iter().copied().collect();
    let mut out = String::new();
    out.push_str(header);
    out.push('\n');
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_header_and_matching_pids() {
        let ps = "UID PID PPID C STIME TTY TIME CMD\n\
                  root 1 0 0 10:00 ? 00:00:01 /sbin/init\n\
                  root 42 1 0 10:00 ? 00:00:00 sleep 1000\n\
                  root 421 1 0 10:00 ? 00:00:00 sleep 42\n";
        let t = filter(ps, &[42]).unwrap();
        assert_eq!(
            t,
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sleep 1000\n"
        );
        assert!(filter("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}

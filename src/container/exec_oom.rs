//! `process.oomScoreAdj` for `exec`, as runc applies it to the process it
//! starts in a running container: outlet takes the value itself while it
//! forks the helper (which, and whose process, inherit it) and puts its
//! own back after the fork. Lowering it below the host's floor needs
//! CAP_SYS_RESOURCE, as at create.

use anyhow::{Context, Result};

use crate::process::procfs::ProcFs;
use crate::spec::Process;

/// outlet's own oom_score_adj before the process's, restored when dropped.
pub struct OwnOom(Option<(ProcFs, i64)>);

impl OwnOom {
    pub fn apply(p: &Process) -> Result<OwnOom> {
        let Some(adj) = p.oom_score_adj() else {
            return Ok(OwnOom(None));
        };
        let adj = i64::from(adj);
        let proc = ProcFs::host()?;
        let rel = proc.own("oom_score_adj");
        let own: i64 = proc
            .read(&rel)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if own == adj {
            return Ok(OwnOom(None));
        }
        proc.write(&rel, adj.to_string().as_bytes())
            .with_context(|| format!("process.oomScoreAdj {adj}: writing /proc/{rel}"))?;
        Ok(OwnOom(Some((proc, own))))
    }
}

impl Drop for OwnOom {
    fn drop(&mut self) {
        if let Some((proc, own)) = self.0.take()
            && let Err(e) = proc.write(&proc.own("oom_score_adj"), own.to_string().as_bytes())
        {
            crate::logging::warn(&format!("restore outlet's oom_score_adj {own}: {e}"));
        }
    }
}

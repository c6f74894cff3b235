//! A missing `process.cwd` is made inside the root, as runc does
//! (Kubernetes pods set `workingDir` freely), with the same walk that
//! never leaves the root as mount destinations: a symlink on the way
//! resolves inside it. Runs after pivot_root and before the root turns
//! read-only; nothing for the default "/".

use std::path::Path;

use anyhow::{Context, Result};

use crate::rootfs::paths::{Kind, Root};

pub fn create_missing(cwd: &Path) -> Result<()> {
    if cwd.as_os_str() == "/" {
        return Ok(());
    }
    Root::open(Path::new("/"))?
        .resolve_or_create(cwd, Kind::Dir)
        .with_context(|| format!("process.cwd {}", cwd.display()))?;
    Ok(())
}

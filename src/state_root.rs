//! Who else can change the state root. Every command trusts what it reads
//! under `<root>/<id>` (the init's pid, cgroup paths, the bundle): a root
//! that another user owns or may write to lets that user rename a
//! container's directory away and put one of their own in its place, and
//! a root outlet then signals, deletes and reads what they chose. A
//! caller's `--root /tmp/outlet` made in advance by someone else is that.
//! Checked once per `create`/`restore` (two stats), so no container is ever
//! put where it can be swapped.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

const GROUP_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// The root must be ours and written by no one else; its parent ours or
/// root's, and written by others only if sticky (/tmp: nobody can rename
/// our root away). Debug builds' `OUTLET_ROOT_UNCHECKED=1` (a test's
/// control) skips this.
pub fn check(root: &Path) -> Result<()> {
    if crate::fault::control("OUTLET_ROOT_UNCHECKED") {
        return Ok(());
    }
    let us = nix::unistd::geteuid().as_raw();
    let st = std::fs::metadata(root).with_context(|| format!("state root {}", root.display()))?;
    if st.uid() != us || st.mode() & GROUP_OTHER_WRITE != 0 {
        bail!(
            "state root {}: owned by uid {} with mode {:o}; it must be ours (uid {us}) and not writable by group or others, or they could swap a container's state",
            root.display(),
            st.uid(),
            st.mode() & 0o7777
        );
    }
    let parent = match root.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let st = std::fs::metadata(parent)
        .with_context(|| format!("state root's parent {}", parent.display()))?;
    let writable = st.mode() & GROUP_OTHER_WRITE != 0 && st.mode() & STICKY == 0;
    if (st.uid() != us && st.uid() != 0) || writable {
        bail!(
            "state root {}: its directory {} is owned by uid {} with mode {:o}, so another user could rename the root away and put their own there",
            root.display(),
            parent.display(),
            st.uid(),
            st.mode() & 0o7777
        );
    }
    Ok(())
}

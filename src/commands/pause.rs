use anyhow::{Result, bail};

use super::Globals;
use crate::cgroups::Cgroup;
use crate::cli::IdArgs;
use crate::state::Status;

pub fn pause(g: &Globals, a: &IdArgs) -> Result<i32> {
    let c = crate::container::load(&g.root, &a.id)?;
    if !matches!(c.status, Status::Running | Status::Created) {
        bail!("container not running: {} is {}", a.id, c.status.as_str());
    }
    Cgroup::from_paths(c.state.cgroup.clone()).freeze(true)?;
    Ok(0)
}

pub fn resume(g: &Globals, a: &IdArgs) -> Result<i32> {
    let c = crate::container::load(&g.root, &a.id)?;
    if c.status != Status::Paused {
        bail!("container not paused: {} is {}", a.id, c.status.as_str());
    }
    Cgroup::from_paths(c.state.cgroup.clone()).freeze(false)?;
    Ok(0)
}

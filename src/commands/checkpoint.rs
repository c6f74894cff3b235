use anyhow::Result;

use super::Globals;
use crate::cli::{CheckpointArgs, RestoreArgs};

pub fn checkpoint(g: &Globals, a: &CheckpointArgs) -> Result<i32> {
    crate::container::checkpoint::checkpoint(&g.root, &a.id, g.criu.as_deref(), a)?;
    Ok(0)
}

pub fn restore(g: &Globals, a: &RestoreArgs) -> Result<i32> {
    crate::container::restore::restore(&g.root, &a.id, g.criu.as_deref(), a)
}

use anyhow::Result;

use super::Globals;
use crate::cli::KillArgs;

pub fn run(g: &Globals, a: &KillArgs) -> Result<i32> {
    let sig = crate::signals::parse(&a.signal)?;
    crate::container::kill::kill(&g.root, &a.id, sig, a.all)?;
    Ok(0)
}

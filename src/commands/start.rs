use anyhow::Result;

use super::Globals;
use crate::cli::IdArgs;

pub fn run(g: &Globals, a: &IdArgs) -> Result<i32> {
    crate::container::start::start(&g.root, &a.id)?;
    Ok(0)
}

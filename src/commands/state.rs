use anyhow::Result;

use super::Globals;
use crate::cli::IdArgs;

pub fn run(g: &Globals, a: &IdArgs) -> Result<i32> {
    super::outln(&crate::container::state_json(&g.root, &a.id)?)?;
    Ok(0)
}

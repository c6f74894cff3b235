use anyhow::Result;

use super::Globals;
use crate::cli::DeleteArgs;

pub fn run(g: &Globals, a: &DeleteArgs) -> Result<i32> {
    crate::spec::check_id(&a.id)?;
    crate::container::delete::delete(&g.root, &a.id, a.force)?;
    Ok(0)
}

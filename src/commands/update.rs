use anyhow::{Result, bail};

use super::Globals;
use crate::cli::UpdateArgs;

pub fn run(_g: &Globals, _a: &UpdateArgs) -> Result<i32> {
    bail!("update: not implemented yet")
}

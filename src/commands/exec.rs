use anyhow::{Result, bail};

use super::Globals;
use crate::cli::ExecArgs;

pub fn run(_g: &Globals, _a: &ExecArgs) -> Result<i32> {
    bail!("exec: not implemented yet")
}

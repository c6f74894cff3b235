use anyhow::{Result, bail};

use super::Globals;
use crate::cli::EventsArgs;

pub fn run(_g: &Globals, _a: &EventsArgs) -> Result<i32> {
    bail!("events: not implemented yet")
}

use anyhow::{Result, bail};

pub fn run() -> Result<i32> {
    bail!("features: not implemented yet")
}

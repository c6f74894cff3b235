use anyhow::{Result, bail};

pub fn run(what: &str) -> Result<i32> {
    bail!("{what}: not supported by outlet yet (no CRIU integration)")
}

use anyhow::Result;

use super::Globals;

pub fn run(g: &Globals) -> Result<i32> {
    let doc = crate::container::features::features(&g.root, g.criu.as_deref());
    super::outln(&serde_json::to_string_pretty(&doc)?)?;
    Ok(0)
}

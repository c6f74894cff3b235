use anyhow::Result;

pub fn run() -> Result<i32> {
    let doc = crate::container::features::features();
    super::outln(&serde_json::to_string_pretty(&doc)?)?;
    Ok(0)
}

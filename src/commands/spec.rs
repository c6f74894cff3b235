use anyhow::{Context, Result, bail};

use crate::cli::SpecArgs;

pub fn run(a: &SpecArgs) -> Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("spec: {} already exists; remove it first", path.display());
    }
    let json = serde_json::to_string_pretty(&crate::spec::template(a.rootless))?;
    std::fs::write(&path, json + "\n")
        .with_context(|| format!("spec: write {}", path.display()))?;
    Ok(0)
}

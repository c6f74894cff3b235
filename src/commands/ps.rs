use anyhow::{Result, bail};

use super::Globals;
use crate::cli::PsArgs;
use crate::container::ps;

pub fn run(g: &Globals, a: &PsArgs) -> Result<i32> {
    crate::spec::check_id(&a.id)?;
    let pids = ps::pids(&g.root, &a.id).map_err(|e| e.context("ps"))?;
    match a.format.as_str() {
        "json" => super::outln(&serde_json::to_string(&pids)?)?,
        "table" => super::out(&ps::table(&pids, &a.ps_args).map_err(|e| e.context("ps"))?)?,
        f => bail!("ps: --format {f:?}: expected table or json"),
    }
    Ok(0)
}

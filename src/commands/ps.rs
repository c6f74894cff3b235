use anyhow::Result;

use super::{Format, Globals};
use crate::cli::PsArgs;
use crate::container::ps;

pub fn run(g: &Globals, a: &PsArgs) -> Result<i32> {
    crate::spec::check_id(&a.id)?;
    let pids = ps::pids(&g.root, &a.id).map_err(|e| e.context("ps"))?;
    let format = Format::parse(&a.format).map_err(|e| e.context("ps"))?;
    match format {
        Format::Json => super::outln(&serde_json::to_string(&pids)?)?,
        Format::Table => super::out(&ps::table(&pids, &a.ps_args).map_err(|e| e.context("ps"))?)?,
    }
    Ok(0)
}

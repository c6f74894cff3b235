use anyhow::Result;

use super::Globals;
use crate::cli::RunArgs;

pub fn run(g: &Globals, a: &RunArgs) -> Result<i32> {
    let o = super::create::opts(g, &a.create);
    crate::container::run::run(&o, a.detach, a.keep).map_err(|e| e.context("run"))
}

use anyhow::Result;

use super::Globals;
use crate::cli::EventsArgs;
use crate::container::events;

pub fn run(g: &Globals, a: &EventsArgs) -> Result<i32> {
    crate::spec::check_id(&a.id)?;
    // Checked also with --stats (which does not use it), as runc does: a
    // bad value is an error whatever else is asked.
    let interval =
        events::parse_interval(&a.interval).map_err(|e| e.context("events --interval"))?;
    if a.stats {
        let ev = events::stats_once(&g.root, &a.id).map_err(|e| e.context("events"))?;
        super::outln(&serde_json::to_string(&ev)?)?;
        return Ok(0);
    }
    events::stream(&g.root, &a.id, interval, &mut std::io::stdout().lock())
        .map_err(|e| e.context("events"))?;
    Ok(0)
}

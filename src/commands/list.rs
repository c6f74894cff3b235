use std::fmt::Write;

use anyhow::Result;

use super::{Format, Globals};
use crate::cli::ListArgs;

pub fn run(g: &Globals, a: &ListArgs) -> Result<i32> {
    let entries = crate::container::list::list(&g.root)?;
    // The whole listing is written at once: a reader that goes away early
    // ends the command quietly at the first write (see `super::out`).
    let mut text = String::new();
    if a.quiet {
        for e in &entries {
            let _ = writeln!(text, "{}", e.id);
        }
        super::out(&text)?;
        return Ok(0);
    }
    match Format::parse(&a.format)? {
        Format::Json => {
            text = serde_json::to_string(&entries)?;
            text.push('\n');
        }
        Format::Table => {
            let _ = writeln!(
                text,
                "{:<20} {:<8} {:<10} {:<40} {:<31} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for e in &entries {
                let _ = writeln!(
                    text,
                    "{:<20} {:<8} {:<10} {:<40} {:<31} {}",
                    e.id, e.pid, e.status, e.bundle, e.created, e.owner
                );
            }
        }
    }
    super::out(&text)?;
    Ok(0)
}

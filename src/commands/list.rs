use anyhow::{Result, bail};

use super::Globals;
use crate::cli::ListArgs;

pub fn run(g: &Globals, a: &ListArgs) -> Result<i32> {
    let entries = crate::container::list::list(&g.root)?;
    if a.quiet {
        for e in &entries {
            println!("{}", e.id);
        }
        return Ok(0);
    }
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string(&entries)?),
        "table" => {
            println!(
                "{:<20} {:<8} {:<10} {:<40} {:<31} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for e in &entries {
                println!(
                    "{:<20} {:<8} {:<10} {:<40} {:<31} {}",
                    e.id, e.pid, e.status, e.bundle, e.created, e.owner
                );
            }
        }
        f => bail!("--format {f:?}: expected table or json"),
    }
    Ok(0)
}

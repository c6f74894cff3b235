use anyhow::{Context, Result, bail};

use super::Globals;
use crate::cgroups::Cgroup;
use crate::cli::PsArgs;

pub fn run(g: &Globals, a: &PsArgs) -> Result<i32> {
    let c = crate::container::peek(&g.root, &a.id)?;
    let pids = Cgroup::from_paths(c.state.cgroup.clone()).pids()?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string(&pids)?),
        "table" => {
            let args = if a.ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                a.ps_args.clone()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("run ps")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or("");
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .context("ps output has no PID column")?;
            println!("{header}");
            for l in lines {
                if let Some(p) = l
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok())
                    && pids.contains(&p)
                {
                    println!("{l}");
                }
            }
        }
        f => bail!("--format {f:?}: expected table or json"),
    }
    Ok(0)
}

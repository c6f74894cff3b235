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
            let pids: Vec<String> = entries.iter().map(|e| e.pid.to_string()).collect();
            let rows = std::iter::once(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"])
                .chain(
                    entries
                        .iter()
                        .zip(&pids)
                        .map(|(e, pid)| [&*e.id, pid, &e.status, &e.bundle, &e.created, &e.owner]),
                );
            text = table(rows.collect());
        }
    }
    super::out(&text)?;
    Ok(0)
}

/// Columns laid out as runc's list lays them out (Go's tabwriter with a
/// minimum width of 12 and a padding of 3): each column as wide as its
/// widest cell plus 3, at least 12; the last column unpadded. Scripts cut
/// runc's table by column position, so outlet's lines up the same way.
fn table<const N: usize>(rows: Vec<[&str; N]>) -> String {
    let width = |s: &str| s.chars().count();
    let mut widths = [12usize; N];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell) + 3);
        }
    }
    let mut text = String::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < N {
                text.extend(std::iter::repeat_n(' ', widths[i] - width(cell)));
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::table;

    /// The lines runc 1.1.5 printed for the same containers.
    #[test]
    fn lines_up_as_runc_does() {
        let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
        assert_eq!(
            table(vec![header]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
        let row = [
            "c1",
            "16723",
            "running",
            "/tmp/s6p/b",
            "2026-11-30T10:19:59.445688713Z",
            "root",
        ];
        assert_eq!(
            table(vec![header, row]),
            "ID          PID         STATUS      BUNDLE       CREATED                          OWNER\n\
             c1          16723       running     /tmp/s6p/b   2026-11-30T10:19:59.445688713Z   root\n"
        );
    }
}

//! `events`: cgroup statistics as runc prints them, once (`--stats`) or one
//! line per interval until the container stops, with an `oom` event each
//! time the cgroup's OOM-kill counter rises.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::cgroups::Cgroup;
use crate::state::Status;

/// How often the stream looks for an OOM kill and for the container's end,
/// also when the statistics interval is longer.
const WATCH_TICK: Duration = Duration::from_millis(100);

/// A Go duration string (`time.ParseDuration`): `300ms`, `5s`, `1m30s`,
/// `1.5h`; units ns, us (or µs), ms, s, m, h. A bare `0` is zero.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = |why: &str| anyhow::anyhow!("duration {s:?}: {why} (expected e.g. 500ms, 5s, 1m)");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err(bad("empty"));
    }
    if t.starts_with('-') {
        return Err(bad("negative"));
    }
    let mut rest = t.strip_prefix('+').unwrap_or(t);
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| bad("missing unit"))?;
        if n == 0 {
            return Err(bad("expected a number"));
        }
        let value: f64 = rest[..n].parse().map_err(|_| bad("bad number"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(bad(&format!("unknown unit {other:?}"))),
        };
        total += value * nanos;
        rest = &rest[u..];
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(bad("too large"));
    }
    Ok(Duration::from_nanos(total as u64))
}

/// One event line. The fields in runc's order, `type` first: runc's
/// events.bats (and scripts like it) match the line's start,
/// `{"type":"stats","id":"ID",`, as text.
#[derive(Serialize)]
pub struct Event<'a, D> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<D>,
}

fn stats_event<'a>(id: &'a str, cg: &Cgroup) -> Result<Event<'a, impl Serialize + use<>>> {
    let data = cg
        .stats()
        .with_context(|| format!("read the cgroup statistics of {id}"))?;
    Ok(Event {
        kind: "stats",
        id,
        data: Some(data),
    })
}

/// The container's cgroup, refusing one that has stopped (runc's words).
fn live_cgroup(root: &Path, id: &str) -> Result<Cgroup> {
    let c = super::peek(root, id)?;
    if c.status == Status::Stopped {
        bail!("container not running: {id}");
    }
    Ok(Cgroup::from_paths(c.state.cgroup.clone()))
}

/// Is the container still there and not stopped? Read without the state
/// lock, so a stream never holds up other commands (kill, delete).
fn still_live(root: &Path, id: &str) -> bool {
    super::peek(root, id).is_ok_and(|c| c.status != Status::Stopped)
}

/// `events --stats`: one JSON object.
pub fn stats_once<'a>(root: &Path, id: &'a str) -> Result<Event<'a, impl Serialize + use<>>> {
    let cg = live_cgroup(root, id)?;
    stats_event(id, &cg)
}

/// Write one JSON line; false when the reader has gone away.
fn emit(out: &mut impl Write, v: &Event<impl Serialize>) -> Result<bool> {
    let line = serde_json::to_string(v)?;
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("write an event to stdout"),
    }
}

/// `--interval`: a duration greater than zero.
pub fn parse_interval(s: &str) -> Result<Duration> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        bail!("duration {s:?}: must be greater than 0");
    }
    Ok(d)
}

/// `events [--interval D]`: stats now and every `interval`, OOM events as
/// they happen, until the container stops or is deleted.
pub fn stream(root: &Path, id: &str, interval: Duration, out: &mut impl Write) -> Result<()> {
    if interval.is_zero() {
        bail!("--interval: must be greater than 0");
    }
    let cg = live_cgroup(root, id)?;
    let mut ooms = cg.oom_kills().unwrap_or(None).unwrap_or(0);
    let mut next_stats = Instant::now();
    let tick = interval.min(WATCH_TICK);
    loop {
        if let Ok(Some(n)) = cg.oom_kills()
            && n > ooms
        {
            ooms = n;
            let oom: Event<()> = Event {
                kind: "oom",
                id,
                data: None,
            };
            if !emit(out, &oom)? {
                return Ok(());
            }
        }
        if !still_live(root, id) {
            return Ok(());
        }
        if Instant::now() >= next_stats {
            // The cgroup may vanish between the look and the read (a
            // delete in between): that ends the stream, it is no error.
            let Ok(ev) = stats_event(id, &cg) else {
                return Ok(());
            };
            if !emit(out, &ev)? {
                return Ok(());
            }
            next_stats += interval;
            let now = Instant::now();
            if next_stats <= now {
                // Fell behind (a slow read): skip, do not burst.
                next_stats = now + interval;
            }
        }
        std::thread::sleep(tick.min(next_stats.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line starts as runc's does; an oom event has no data.
    #[test]
    fn fields_in_runcs_order() {
        let ev = Event {
            kind: "stats",
            id: "c1",
            data: Some(serde_json::json!({"pids": {"current": 1}})),
        };
        assert_eq!(
            serde_json::to_string(&ev).unwrap(),
            r#"{"type":"stats","id":"c1","data":{"pids":{"current":1}}}"#
        );
        let oom: Event<()> = Event {
            kind: "oom",
            id: "c1",
            data: None,
        };
        assert_eq!(
            serde_json::to_string(&oom).unwrap(),
            r#"{"type":"oom","id":"c1"}"#
        );
    }

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("5s").unwrap(), ms(5000));
        assert_eq!(parse_duration("500ms").unwrap(), ms(500));
        assert_eq!(parse_duration("1m").unwrap(), ms(60_000));
        assert_eq!(parse_duration("1m30s").unwrap(), ms(90_000));
        assert_eq!(parse_duration("1.5h").unwrap(), ms(5_400_000));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "s", "5x", "-1s", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}

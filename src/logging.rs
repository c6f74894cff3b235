//! --log / --log-format. Callers parse this: containerd's shim decodes the
//! file as a stream of JSON objects and keeps the last `"level":"error"`;
//! podman reads the whole file as ONE object, so at the default level only the
//! final error is written.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use crate::cli::LogFormat;

pub struct Logger {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    pub fn new(file: Option<PathBuf>, format: LogFormat, debug: bool) -> Logger {
        Logger {
            file,
            format,
            debug,
        }
    }

    pub fn error(&self, msg: &str) {
        // The shim does not see stderr for create/exec, and conmon forwards
        // stderr to podman: write both when a log file is given.
        eprintln!("outlet: {msg}");
        if self.file.is_some() {
            self.write("error", msg);
        }
    }

    pub fn warn(&self, msg: &str) {
        if self.file.is_some() && self.debug {
            self.write("warning", msg);
        } else if self.file.is_none() {
            eprintln!("outlet: warning: {msg}");
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            if self.file.is_some() {
                self.write("debug", msg);
            } else {
                eprintln!("outlet: debug: {msg}");
            }
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let Some(path) = &self.file else { return };
        let line = match self.format {
            LogFormat::Json => format!(
                "{}\n",
                serde_json::json!({"level": level, "msg": msg, "time": rfc3339_now()})
            ),
            LogFormat::Text => format!("time=\"{}\" level={level} msg={msg:?}\n", rfc3339_now()),
        };
        // O_APPEND keeps concurrent writers (shim, conmon) from clobbering.
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// RFC 3339 in UTC with nanoseconds, computed without a date crate.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{nanos:09}Z")
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_889_779, 0), "2026-11-28T18:16:19.000000000Z");
    }
}

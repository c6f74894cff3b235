//! A connection to systemd's manager: one socket, AUTH EXTERNAL, calls
//! answered in order, and the JobRemoved signal that says how a job ended.
//! Blocking reads with a deadline: no threads, no event loop.
//!
//! As root it talks to systemd directly over /run/systemd/private (what
//! systemctl does): no bus daemon in between, no Hello, and systemd sends
//! its signals to every direct connection unasked. Elsewhere it goes
//! through a bus daemon and asks for the signals (AddMatch, Subscribe):
//! the system bus as root without the private socket; as any other user,
//! uid 0 of a user namespace included (`owner`), the user's session bus,
//! where that user's own systemd instance (`systemd --user`) answers, as
//! runc and crun do rootless.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::owner::Manager;
use super::wire::{self, Message, Value};

const PRIVATE: &str = "/run/systemd/private";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// A job that takes longer is reported, not waited for forever (runc
/// waits 30 s as well).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Bus {
    sock: UnixStream,
    buf: Vec<u8>,
    serial: u32,
    /// JobRemoved signals read while waiting for something else.
    removed: Vec<(String, String)>,
}

/// A D-Bus error reply, kept apart so callers can accept some names
/// (`NoSuchUnit` on a stop of what is already gone).
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct BusError {
    pub name: String,
    pub message: String,
}

/// The session bus socket of a caller that is not host root: `unix:path=`
/// of `$DBUS_SESSION_BUS_ADDRESS` (the first address that has one), else
/// `$XDG_RUNTIME_DIR/bus`, else `/run/user/<uid>/bus` with the host uid
/// (the one the user namespace's uid 0 is, for rootless podman).
pub fn session_bus_path(address: Option<&str>, runtime_dir: Option<&str>, uid: u32) -> String {
    let from_address = address.and_then(|a| {
        a.split(';').find_map(|one| {
            let params = one.strip_prefix("unix:")?;
            params
                .split(',')
                .find_map(|kv| kv.strip_prefix("path="))
                .map(str::to_owned)
        })
    });
    from_address.unwrap_or_else(|| match runtime_dir.filter(|d| !d.is_empty()) {
        Some(dir) => format!("{dir}/bus"),
        None => format!("/run/user/{uid}/bus"),
    })
}

/// One line of the server's side of the SASL exchange.
#[derive(Debug, PartialEq, Eq)]
enum Sasl {
    /// `DATA`: the server asks for the identity we left out; the empty
    /// answer is already on its way.
    Challenge,
    Ok,
    /// `REJECTED`, `ERROR` or anything else.
    Refused,
}

fn sasl_reply(line: &str) -> Sasl {
    if line == "DATA" || line.starts_with("DATA ") {
        Sasl::Challenge
    } else if line.starts_with("OK ") {
        Sasl::Ok
    } else {
        Sasl::Refused
    }
}

impl Bus {
    /// The connection for this caller: systemd itself for host root, the
    /// user's systemd instance on the session bus otherwise (also as uid 0
    /// in a user namespace: `owner`).
    pub fn system() -> Result<Bus> {
        let manager = super::owner::manager()?;
        let session;
        let path = match manager {
            Manager::User { uid } => {
                session = session_bus_path(
                    std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().as_deref(),
                    std::env::var("XDG_RUNTIME_DIR").ok().as_deref(),
                    uid,
                );
                session.as_str()
            }
            Manager::System if std::path::Path::new(PRIVATE).exists() => PRIVATE,
            Manager::System => SYSTEM_BUS,
        };
        let sock = UnixStream::connect(path).with_context(|| match manager {
            Manager::System => {
                format!("systemd cgroup driver: connect to {path} (is systemd PID 1?)")
            }
            Manager::User { uid } => format!(
                "systemd cgroup driver: connect to the session bus {path} of host uid {uid} (is the user's systemd instance running, e.g. with loginctl enable-linger?)"
            ),
        })?;
        let mut bus = Bus {
            sock,
            buf: Vec::with_capacity(4096),
            serial: 0,
            removed: Vec::new(),
        };
        bus.auth()
            .with_context(|| format!("systemd cgroup driver: authenticate on {path}"))?;
        if path != PRIVATE {
            bus.subscribe()
                .with_context(|| format!("systemd cgroup driver: on the bus {path}"))?;
        }
        Ok(bus)
    }

    /// On a bus daemon: our name, and systemd's JobRemoved signals sent to
    /// us (systemd sends them only to subscribers).
    fn subscribe(&mut self) -> Result<()> {
        self.call_to(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            &[],
        )?;
        self.call_to(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
            &[Value::Str(format!(
                "type='signal',sender='{SYSTEMD}',interface='{MANAGER}',member='JobRemoved'"
            ))],
        )?;
        self.manager("Subscribe", &[])
            .context("Subscribe to systemd's manager (is systemd running on this bus?)")?;
        Ok(())
    }

    /// The SASL exchange, in one write: the NUL byte, AUTH EXTERNAL with
    /// no identity, an empty DATA answer to the server's DATA challenge,
    /// BEGIN. With no identity claimed, the server takes the kernel's
    /// SO_PEERCRED of the socket, which is the one uid it would accept
    /// anyway: claiming `getuid()` ("30" for 0) is refused from inside a
    /// user namespace, where the server sees the host uid, and the host
    /// uid a nested namespace's uid_map gives is not the server's either.
    /// The server answers `DATA` and then `OK <guid>` before any message.
    fn auth(&mut self) -> Result<()> {
        self.sock
            .write_all(b"\0AUTH EXTERNAL\r\nDATA\r\nBEGIN\r\n")?;
        let deadline = Instant::now() + JOB_TIMEOUT;
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                match sasl_reply(&line) {
                    Sasl::Challenge => continue,
                    Sasl::Ok => return Ok(()),
                    Sasl::Refused => bail!("refused: {line:?}"),
                }
            }
            self.fill(deadline)?;
        }
    }

    /// Read more bytes, waiting at most until `deadline`.
    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| anyhow!("no answer from systemd within {JOB_TIMEOUT:?}"))?;
        self.sock.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 4096];
        let n = match self.sock.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                bail!("no answer from systemd within {JOB_TIMEOUT:?}")
            }
            Err(e) => return Err(e).context("read from the bus"),
        };
        if n == 0 {
            bail!("the bus closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn next_message(&mut self, deadline: Instant) -> Result<Message> {
        loop {
            if self.buf.len() >= 16 {
                let len = wire::message_len(&self.buf)?;
                if self.buf.len() >= len {
                    let m = wire::parse(&self.buf[..len]);
                    self.buf.drain(..len);
                    return m;
                }
            }
            self.fill(deadline)?;
        }
    }

    fn call_to(
        &mut self,
        dest: &str,
        path: &str,
        iface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<Message> {
        self.serial += 1;
        let serial = self.serial;
        let msg = wire::method_call(serial, dest, path, iface, member, args);
        self.sock
            .write_all(&msg)
            .with_context(|| format!("send {member} to the bus"))?;
        let deadline = Instant::now() + JOB_TIMEOUT;
        loop {
            let m = self.next_message(deadline)?;
            match m.kind {
                wire::METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(m),
                wire::ERROR if m.reply_serial == Some(serial) => {
                    return Err(BusError {
                        name: m.error_name.clone().unwrap_or_default(),
                        message: m.str_arg(0).unwrap_or_default().to_owned(),
                    }
                    .into());
                }
                wire::SIGNAL => self.note_signal(&m),
                _ => {}
            }
        }
    }

    fn note_signal(&mut self, m: &Message) {
        if m.member.as_deref() == Some("JobRemoved")
            && m.interface.as_deref() == Some(MANAGER)
            && let (Some(job), Some(result)) = (m.str_arg(1), m.str_arg(3))
        {
            self.removed.push((job.to_owned(), result.to_owned()));
        }
    }

    /// A string property of systemd's manager (`ControlGroup`).
    pub fn manager_property(&mut self, name: &str) -> Result<String> {
        let reply = self
            .call_to(
                SYSTEMD,
                MANAGER_PATH,
                "org.freedesktop.DBus.Properties",
                "Get",
                &[Value::Str(MANAGER.to_owned()), Value::Str(name.to_owned())],
            )
            .with_context(|| format!("systemd: get the manager's {name}"))?;
        reply
            .str_arg(0)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("systemd: the manager's {name} is not a string"))
    }

    /// A string property of the loaded unit `unit` (`Description`); the
    /// bus's NoSuchUnit error when systemd has none of that name.
    pub fn unit_property(&mut self, unit: &str, name: &str) -> Result<String> {
        let reply = self.manager("GetUnit", &[Value::Str(unit.to_owned())])?;
        let path = reply
            .str_arg(0)
            .ok_or_else(|| anyhow!("systemd: GetUnit {unit}: no object path in the reply"))?
            .to_owned();
        let reply = self.call_to(
            SYSTEMD,
            &path,
            "org.freedesktop.DBus.Properties",
            "Get",
            &[
                Value::Str("org.freedesktop.systemd1.Unit".to_owned()),
                Value::Str(name.to_owned()),
            ],
        )?;
        reply
            .str_arg(0)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("systemd: {unit}'s {name} is not a string"))
    }

    /// A call to systemd's manager object.
    pub fn manager(&mut self, member: &str, args: &[Value]) -> Result<Message> {
        self.call_to(SYSTEMD, MANAGER_PATH, MANAGER, member, args)
    }

    /// Call a job-returning method (StartTransientUnit, StopUnit) and wait
    /// for that job's JobRemoved; returns its result ("done", "failed",
    /// "canceled", "timeout", "dependency", "skipped").
    pub fn run_job(&mut self, member: &str, args: &[Value]) -> Result<String> {
        let reply = self.manager(member, args)?;
        let job = reply
            .str_arg(0)
            .ok_or_else(|| anyhow!("{member}: the reply carries no job path"))?
            .to_owned();
        let deadline = Instant::now() + JOB_TIMEOUT;
        loop {
            if let Some(i) = self.removed.iter().position(|(j, _)| *j == job) {
                return Ok(self.removed.swap_remove(i).1);
            }
            let m = self.next_message(deadline)?;
            if m.kind == wire::SIGNAL {
                self.note_signal(&m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Sasl, sasl_reply, session_bus_path};

    #[test]
    fn sasl_lines() {
        assert_eq!(sasl_reply("DATA"), Sasl::Challenge);
        assert_eq!(sasl_reply("OK 0123abcd"), Sasl::Ok);
        assert_eq!(sasl_reply("REJECTED EXTERNAL"), Sasl::Refused);
        assert_eq!(sasl_reply("ERROR"), Sasl::Refused);
        assert_eq!(sasl_reply("OKAY"), Sasl::Refused);
    }

    #[test]
    fn session_bus_socket() {
        assert_eq!(
            session_bus_path(Some("unix:path=/run/user/7/bus"), None, 7),
            "/run/user/7/bus"
        );
        assert_eq!(
            session_bus_path(
                Some("unix:abstract=/tmp/x,guid=ab;unix:guid=cd,path=/b"),
                Some("/r"),
                7
            ),
            "/b"
        );
        assert_eq!(
            session_bus_path(Some("tcp:host=h"), Some("/run/user/9"), 9),
            "/run/user/9/bus"
        );
        assert_eq!(session_bus_path(None, Some(""), 9), "/run/user/9/bus");
    }
}

use anyhow::{Context, Result, bail};

use super::Globals;
use crate::cli::ExecArgs;
use crate::container::exec::{ExecOpts, ExecProcess, InlineProcess, exec};

pub fn run(g: &Globals, a: &ExecArgs) -> Result<i32> {
    let process = match &a.process {
        Some(path) => {
            let text = crate::syscall::fs::read_input(Some(path))
                .with_context(|| format!("exec: read {}", path.display()))?;
            let invalid = || format!("exec: {}: invalid process JSON", path.display());
            let mut v: serde_json::Value = serde_json::from_slice(&text).with_context(invalid)?;
            // runc takes a process without `user` as uid 0, gid 0 (its
            // tty.bats execs such a file); the spec type requires the field.
            if let Some(caps) = v.get_mut("capabilities") {
                // As create: names that are no capability are a warning.
                let dropped = crate::security::cap_names::drop_unknown_in(caps);
                if !dropped.is_empty() {
                    crate::logging::warn(&format!(
                        "exec: {}: process.capabilities: ignoring unknown capabilities {dropped:?}",
                        path.display()
                    ));
                }
                crate::security::capabilities::check_names(caps, "process.capabilities")
                    .with_context(|| format!("exec: {}", path.display()))?;
            }
            if let Some(obj) = v.as_object_mut() {
                obj.entry("user")
                    .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
            }
            ExecProcess::File(serde_json::from_value(v).with_context(invalid)?)
        }
        None => {
            if a.command.is_empty() {
                bail!("exec: give a command or --process FILE");
            }
            ExecProcess::Inline(InlineProcess {
                command: &a.command,
                tty: a.tty,
                cwd: a.cwd.as_deref(),
                env: &a.env,
                user: a.user.as_deref(),
                additional_gids: &a.additional_gids,
                cap: &a.cap,
                no_new_privs: a.no_new_privs,
                apparmor: a.apparmor.as_deref(),
                process_label: a.process_label.as_deref(),
            })
        }
    };
    let o = ExecOpts {
        root: &g.root,
        id: &a.id,
        process,
        detach: a.detach,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        sub_cgroups: &a.cgroup,
    };
    exec(&o).map_err(|e| e.context("exec"))
}

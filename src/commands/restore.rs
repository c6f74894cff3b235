use anyhow::Result;

use super::Globals;
use crate::cli::RestoreArgs;
use crate::container::restore::RestoreOptions;

/// `--no-pivot` is accepted for runc's argv and has nothing to do: CRIU
/// sets the restored root itself.
pub fn run(g: &Globals, a: &RestoreArgs) -> Result<i32> {
    let o = RestoreOptions {
        criu: super::checkpoint::criu_options(&a.criu)?,
        bundle: a.bundle.clone(),
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_subreaper: a.no_subreaper,
        lsm_profile: a.lsm_profile.clone(),
        lsm_mount_context: a.lsm_mount_context.clone(),
    };
    crate::container::restore::restore(&g.root, &a.id, g.criu.as_deref(), &o)
}

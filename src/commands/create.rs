use anyhow::Result;

use super::Globals;
use crate::cli::CreateArgs;
use crate::container::create::{CreateOpts, create};

pub fn opts<'a>(g: &'a Globals, a: &'a CreateArgs) -> CreateOpts<'a> {
    CreateOpts {
        root: &g.root,
        id: &a.id,
        bundle: &a.bundle,
        config: a.config.as_deref(),
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        rootless: g.rootless,
    }
}

pub fn run(g: &Globals, a: &CreateArgs) -> Result<i32> {
    create(&opts(g, a)).map_err(|e| e.context("create"))?;
    Ok(0)
}

//! The container lifecycle. Each operation takes the state root and an id,
//! locks the container's directory, and acts on the status as it is now.

pub mod checkpoint;
pub mod console;
pub mod create;
mod create_devices;
mod create_gate;
pub mod criu;
pub mod delete;
pub mod events;
pub mod exec;
mod exec_affinity;
mod exec_confine;
mod exec_inline;
mod exec_oom;
mod exec_stall;
pub mod features;
pub mod kill;
pub mod list;
mod listen_fds;
mod netdev;
pub mod ps;
pub mod restore;
pub mod restore_hooks;
pub mod run;
mod setup_oom;
pub mod start;
pub mod update;

use std::path::Path;

use anyhow::{Context, Result};

use crate::state::{ContainerDir, State, Status, status_of};

/// An existing container with its state and present status.
pub struct Opened {
    pub dir: ContainerDir,
    pub state: State,
    pub status: Status,
}

pub fn load(root: &Path, id: &str) -> Result<Opened> {
    opened(ContainerDir::open(root, id)?, id)
}

/// As `load`, without taking the lock: for commands that only read.
pub fn peek(root: &Path, id: &str) -> Result<Opened> {
    opened(ContainerDir::open_unlocked(root, id)?, id)
}

fn opened(dir: ContainerDir, id: &str) -> Result<Opened> {
    let Some(state) = dir.load()? else {
        if dir.removed() {
            return Err(crate::state::Lookup::NotFound(id.to_string()).into());
        }
        // The directory exists but create has not finished (or died): it is
        // still being created.
        return Err(crate::state::Lookup::Creating(id.to_string()).into());
    };
    let status = status_of(&dir, &state)?;
    Ok(Opened { dir, state, status })
}

/// `outlet state`: the OCI state JSON, with the status true at this moment.
pub fn state_json(root: &Path, id: &str) -> Result<String> {
    let dir = ContainerDir::open_unlocked(root, id)?;
    let Some(state) = dir.load()? else {
        if dir.removed() {
            return Err(crate::state::Lookup::NotFound(id.to_string()).into());
        }
        let st = serde_json::json!({
            "ociVersion": crate::OCI_VERSION, "id": id, "status": "creating",
            "pid": 0, "bundle": ""
        });
        return Ok(serde_json::to_string_pretty(&st)?);
    };
    let status = status_of(&dir, &state)?;
    serde_json::to_string_pretty(&state.oci(status)).context("serialise state")
}

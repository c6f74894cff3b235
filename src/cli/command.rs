//! The subcommands, in the order help and the man pages list them.

use clap::Subcommand;

use super::{
    CheckpointArgs, CreateArgs, DeleteArgs, EventsArgs, ExecArgs, IdArgs, KillArgs, ListArgs,
    PsArgs, RestoreArgs, RunArgs, SpecArgs, UpdateArgs,
};

// Deferred: each subcommand's args are built only when that subcommand is
// parsed (or help/man pages need them). outlet is started once per call, and
// building all 17 subcommands' args was most of its start-up instructions.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Create a container from a bundle; its init waits before exec until `start`
    Create(CreateArgs),
    /// Let a created container's init exec the application
    Start(IdArgs),
    /// Create and start a container; wait for it unless --detach
    Run(RunArgs),
    /// Print the OCI state of a container as JSON
    State(IdArgs),
    /// Send a signal to a container's init (or every process with --all)
    Kill(KillArgs),
    /// Delete a stopped container (or any with --force) and everything it holds
    Delete(DeleteArgs),
    /// List the containers under the state root
    List(ListArgs),
    /// Write a default config.json into the bundle
    Spec(SpecArgs),
    /// Run a new process inside a running container
    Exec(ExecArgs),
    /// List the processes of a container
    Ps(PsArgs),
    /// Freeze every process of a container
    Pause(IdArgs),
    /// Thaw a paused container
    Resume(IdArgs),
    /// Change the resource limits of a running container
    Update(UpdateArgs),
    /// Print container events and resource statistics
    Events(EventsArgs),
    /// Print the OCI features this runtime implements, as JSON
    Features,
    /// Checkpoint a running container with CRIU
    Checkpoint(CheckpointArgs),
    /// Restore a container from a CRIU checkpoint
    Restore(RestoreArgs),
}

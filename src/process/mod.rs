//! The container's processes: the clone into namespaces, the sync protocol
//! with `create`, and the init-side setup sequence.

pub mod cwd;
pub mod home;
pub mod init;
pub mod init_fork;
pub mod mempolicy;
pub mod network;
pub mod personality;
pub mod pidstat;
pub mod procfs;
pub mod scheduling;
pub mod spawn;
pub mod stdio;
pub mod sync;

//! The container's processes: the clone into namespaces, the sync protocol
//! with `create`, and the init-side setup sequence.

pub mod init;
pub mod mempolicy;
pub mod personality;
pub mod scheduling;
pub mod sync;

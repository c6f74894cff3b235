//! The container's processes: the clone into namespaces, the sync protocol
//! with `create`, and the init-side setup sequence.

pub mod init;
pub mod procfs;
pub mod sync;

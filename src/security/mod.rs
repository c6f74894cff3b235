//! What the init does to itself last, just before execve: capabilities,
//! no_new_privs, LSM labels and the seccomp filter.

pub mod capabilities;
pub mod lsm;
pub mod seccomp;

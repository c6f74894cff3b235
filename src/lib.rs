//! outlet: an OCI container runtime. The binary in `main.rs` only parses the
//! command line and reports errors; everything else lives here so that the
//! integration tests and the man page generator can reach the definitions.
//!
//! `unsafe` lives in `syscall/` (one file per area, each block next to the
//! call it wraps) and in the eBPF loader; everywhere else it is refused.
#![deny(unsafe_code)]

pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod container;
pub mod fault;
pub mod hooks;
pub mod logging;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod signals;
pub mod spec;
pub mod state;
pub mod state_lock;
pub mod state_root;
#[allow(unsafe_code)]
pub mod syscall;
pub mod tty;

/// The runtime-spec version this build implements.
pub const OCI_VERSION: &str = "1.2.0";

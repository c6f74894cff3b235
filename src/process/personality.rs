//! `linux.personality` for the init: an execution domain kept across
//! execve (LINUX32 makes `uname -m` report a 32-bit machine). Set before
//! the seccomp filter, which may deny personality(2) to the program.

use anyhow::{Context, Result};
use oci_spec::runtime::LinuxPersonality;

use crate::spec::process_fields;

pub fn apply(personality: Option<&LinuxPersonality>) -> Result<()> {
    let Some(p) = personality else {
        return Ok(());
    };
    let value = process_fields::personality(p)?;
    crate::syscall::set_personality(value)
        .with_context(|| format!("linux.personality {:?}", p.domain()))
}

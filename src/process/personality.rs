//! `linux.personality` for the init: an execution domain kept across
//! execve (LINUX32 makes `uname -m` report a 32-bit machine). Set before
//! the seccomp filter, which may deny personality(2) to the program.

use anyhow::{Context, Result};
use oci_spec::runtime::Linux;

use crate::spec::process_fields;

pub fn apply(linux: Option<&Linux>) -> Result<()> {
    let Some(p) = linux.and_then(|l| l.personality().as_ref()) else {
        return Ok(());
    };
    let value = process_fields::personality(p)?;
    // SAFETY: personality with an integer argument changes only the
    // calling process's execution domain.
    if unsafe { libc::personality(value as libc::c_ulong) } < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("linux.personality {:?}", p.domain()));
    }
    Ok(())
}

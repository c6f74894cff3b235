//! INTERFACE STUB: the security work replaces the bodies.

use anyhow::Result;
use oci_spec::runtime::LinuxSeccomp;

/// A filter compiled in the parent (so errors surface before any side
/// effect) and loaded by the init as the last step before execve.
pub struct Prepared {}

pub fn prepare(_seccomp: &LinuxSeccomp) -> Result<Prepared> {
    Ok(Prepared {})
}

impl Prepared {
    /// Load the filter into the calling process. `state_json` is the OCI
    /// state, sent with the notify fd to `listenerPath` when the profile
    /// uses SCMP_ACT_NOTIFY.
    pub fn load(&self, _state_json: &str) -> Result<()> {
        Ok(())
    }
}

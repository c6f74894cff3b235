//! INTERFACE STUB: the security work replaces the bodies.

use anyhow::Result;
use oci_spec::runtime::LinuxCapabilities;

/// Create-time check of every capability name (before any side effect).
pub fn validate(_caps: Option<&LinuxCapabilities>) -> Result<()> {
    Ok(())
}

/// Drop what is not in the bounding set; called while still privileged,
/// before the uid switch.
pub fn drop_bounding(_caps: Option<&LinuxCapabilities>) -> Result<()> {
    Ok(())
}

/// Set effective, permitted, inheritable and ambient after the uid switch
/// (the caller set PR_SET_KEEPCAPS before it).
pub fn apply(_caps: Option<&LinuxCapabilities>) -> Result<()> {
    Ok(())
}

//! INTERFACE STUB: the security work replaces the bodies.

use anyhow::Result;
use oci_spec::runtime::Spec;

/// Refuse labels the host cannot apply (no AppArmor/SELinux enabled), before
/// any side effect.
pub fn validate(_spec: &Spec) -> Result<()> {
    Ok(())
}

/// Arrange for the process label to apply at execve.
pub fn apply_exec_labels(_apparmor: Option<&str>, _selinux: Option<&str>) -> Result<()> {
    Ok(())
}

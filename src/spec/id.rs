//! Container ids, checked before one names a state directory.

use anyhow::{Result, bail};

/// The longest container id (runc's limit too).
const ID_MAX: usize = 1024;

/// The rule ids must follow, as it appears in errors.
pub(super) const ID_RULE: &str = "[A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes";

/// Container ids become directory names under the state root and lines in
/// `list`: only runc's characters, so an id can neither leave the root nor
/// name the runtime's `.cache`, pass for a flag (`-x`) or break a line.
pub fn check_id(id: &str) -> Result<()> {
    if id.len() > ID_MAX {
        bail!(
            "container id: {} bytes long, must match {ID_RULE}",
            id.len()
        );
    }
    let mut bytes = id.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    if !first_ok
        || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
    {
        bail!("container id {id:?}: must match {ID_RULE}");
    }
    Ok(())
}

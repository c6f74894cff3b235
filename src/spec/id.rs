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
    // The words "invalid" and "container ID" are what callers' and crun's
    // tests look for in the message; the rule says what would be valid.
    if id.len() > ID_MAX {
        bail!(
            "container id: {} bytes long, an invalid container ID: must match {ID_RULE}",
            id.len()
        );
    }
    let allowed = |i: usize, c: char| {
        c.is_ascii_alphanumeric() || (i > 0 && matches!(c, '_' | '.' | '+' | '-'))
    };
    let bad = id.chars().enumerate().find(|&(i, c)| !allowed(i, c));
    match bad {
        None if !id.is_empty() => Ok(()),
        None => bail!("container id \"\": an empty container ID is invalid: must match {ID_RULE}"),
        Some((0, c)) => bail!(
            "container id {id:?}: invalid character {c:?} at the start of the container ID: \
             must match {ID_RULE}"
        ),
        Some((_, c)) => bail!(
            "container id {id:?}: invalid character {c:?} in the container ID: must match {ID_RULE}"
        ),
    }
}

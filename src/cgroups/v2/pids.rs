//! pids controller: pids.max (same file on v1 and v2).

use anyhow::Result;
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(pids) = r.pids() else { return Ok(()) };
    // As runc: 0 is unset, any negative value is unlimited.
    match pids.limit() {
        0 => {}
        n if n < 0 => out.push(FileWrite::new("pids", "pids.max", "max".to_owned())),
        n => out.push(FileWrite::new("pids", "pids.max", n.to_string())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn limits() {
        let mut out = Vec::new();
        writes(&res(r#"{"pids":{"limit":16}}"#), &mut out).unwrap();
        writes(&res(r#"{"pids":{"limit":-1}}"#), &mut out).unwrap();
        writes(&res(r#"{"pids":{"limit":0}}"#), &mut out).unwrap();
        assert_eq!(pairs(&out), [("pids.max", "16"), ("pids.max", "max")]);
    }
}

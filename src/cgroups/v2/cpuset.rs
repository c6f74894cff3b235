//! cpuset controller (v2 and v1 share the file names).

use anyhow::Result;
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(cpu) = r.cpu() else { return Ok(()) };
    if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
        out.push(FileWrite::new("cpuset", "cpuset.cpus", cpus.to_owned()));
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
        out.push(FileWrite::new("cpuset", "cpuset.mems", mems.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn cpus_and_mems() {
        let mut out = Vec::new();
        writes(
            &res(r#"{"cpu":{"cpus":"0-1","mems":"0","shares":5}}"#),
            &mut out,
        )
        .unwrap();
        writes(&res(r#"{"cpu":{"cpus":""}}"#), &mut out).unwrap();
        assert_eq!(pairs(&out), [("cpuset.cpus", "0-1"), ("cpuset.mems", "0")]);
    }
}

//! net_cls and net_prio controllers (v1 only).

use anyhow::Result;
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(net) = r.network() else {
        return Ok(());
    };
    if let Some(id) = net.class_id() {
        out.push(FileWrite::new("net_cls", "net_cls.classid", id.to_string()));
    }
    for p in net.priorities().iter().flatten() {
        out.push(FileWrite::new(
            "net_prio",
            "net_prio.ifpriomap",
            format!("{} {}", p.name(), p.priority()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn classid_and_priorities() {
        let mut out = Vec::new();
        writes(
            &res(r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("net_cls.classid", "1048577"),
                ("net_prio.ifpriomap", "eth0 5")
            ]
        );
    }
}

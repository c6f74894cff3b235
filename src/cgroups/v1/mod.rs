//! cgroup v1 (legacy and hybrid hosts): one hierarchy per controller (or
//! per co-mounted group), each holding its own copy of the container's
//! directory. The controller files are pure translation; `backend.rs`
//! does the I/O.

pub(super) mod backend;
pub mod blkio;
pub mod cpu;
pub mod cpuset;
pub mod devices;
pub mod freezer;
pub mod hugetlb;
pub mod memory;
pub mod net;
pub mod pids;

use anyhow::Result;
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;
use crate::cgroups::devices::DeviceRule;

/// Every v1 write for `r`, in order. `current_limit`: see `memory::writes`.
/// `device_rules`: None leaves the device policy as it is.
pub fn translate(
    r: Option<&LinuxResources>,
    current_limit: Option<u64>,
    device_rules: Option<&[DeviceRule]>,
) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    if let Some(rules) = device_rules {
        devices::writes(rules, &mut out);
    }
    if let Some(r) = r {
        cpuset::writes(r, &mut out)?;
        cpu::writes(r, &mut out)?;
        memory::writes(r, current_limit, &mut out)?;
        pids::writes(r, &mut out)?;
        blkio::writes(r, &mut out)?;
        hugetlb::writes(r, &mut out)?;
        net::writes(r, &mut out)?;
        crate::cgroups::v2::rdma::writes(r, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn mission_example() {
        let r = res(
            r#"{"cpu":{"quota":25000,"period":100000},"memory":{"limit":536870912},"pids":{"limit":16}}"#,
        );
        let out = translate(Some(&r), None, None).unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "25000"),
                ("memory.limit_in_bytes", "536870912"),
                ("pids.max", "16"),
            ]
        );
        let ctrls: Vec<&str> = out.iter().map(|w| w.controller).collect();
        assert_eq!(ctrls, ["cpu", "cpu", "memory", "pids"]);
    }
}

//! hugetlb controller (v1): hugetlb.<size>.limit_in_bytes, and the
//! reservation counter .rsvd.limit_in_bytes where the kernel has it.

use anyhow::Result;
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    crate::cgroups::v2::hugetlb::writes_with(r, "limit_in_bytes", out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn limits() {
        let mut out = Vec::new();
        writes(&res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":-1}]}"#), &mut out).unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("hugetlb.2MB.limit_in_bytes", "4194304"),
                ("hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
                ("hugetlb.1GB.limit_in_bytes", "-1"),
                ("hugetlb.1GB.rsvd.limit_in_bytes", "-1")
            ]
        );
    }
}

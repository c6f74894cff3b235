//! hugetlb controller: hugetlb.<size>.max on v2, .limit_in_bytes on v1.
//! The same limit also goes to the reservation counter (`.rsvd.`, kernels
//! since 5.7), as runc does: then a mapping over the limit fails at mmap
//! with ENOMEM instead of killing the process with SIGBUS at a page fault.
//! Optional, as older kernels have no such file.

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

/// The kernel names its files by page size as `2MB`, `1GB`, `64KB`.
pub fn check_page_size(i: usize, s: &str) -> Result<()> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !["KB", "MB", "GB"].contains(&unit)
    {
        bail!("linux.resources.hugepageLimits[{i}].pageSize: {s:?} is not a size like 2MB or 1GB");
    }
    Ok(())
}

pub fn writes_with(r: &LinuxResources, suffix: &str, out: &mut Vec<FileWrite>) -> Result<()> {
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        check_page_size(i, h.page_size())?;
        let limit = h.limit();
        let value = match limit {
            -1 => {
                if suffix == "max" {
                    "max".to_owned()
                } else {
                    "-1".to_owned()
                }
            }
            n if n < 0 => bail!("linux.resources.hugepageLimits[{i}].limit: {n} is negative"),
            n => n.to_string(),
        };
        out.push(FileWrite::new(
            "hugetlb",
            format!("hugetlb.{}.{suffix}", h.page_size()),
            value.clone(),
        ));
        out.push(
            FileWrite::new(
                "hugetlb",
                format!("hugetlb.{}.rsvd.{suffix}", h.page_size()),
                value,
            )
            .optional(),
        );
    }
    Ok(())
}

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    writes_with(r, "max", out)
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
                ("hugetlb.2MB.max", "4194304"),
                ("hugetlb.2MB.rsvd.max", "4194304"),
                ("hugetlb.1GB.max", "max"),
                ("hugetlb.1GB.rsvd.max", "max")
            ]
        );
    }

    #[test]
    fn bad_size_cannot_escape() {
        let e = writes(
            &res(r#"{"hugepageLimits":[{"pageSize":"../x","limit":1}]}"#),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("pageSize: \"../x\""), "{e}");
    }
}

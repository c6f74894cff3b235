//! memory controller (v2): memory.max, memory.low, memory.swap.max.

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

/// A memory value from the spec: None when unset (runc reads 0 as unset
/// too), `max` for -1, an error for any other negative number.
pub fn bytes(field: &str, v: Option<i64>) -> Result<Option<i64>> {
    match v {
        None | Some(0) => Ok(None),
        Some(n) if n < -1 => {
            bail!(
                "linux.resources.memory.{field}: {n} is negative (only -1, meaning unlimited, may be)"
            )
        }
        Some(n) => Ok(Some(n)),
    }
}

fn max_or(n: i64) -> String {
    if n == -1 {
        "max".to_owned()
    } else {
        n.to_string()
    }
}

/// OCI's `swap` is the limit on memory+swap (the v1 memsw meaning); v2's
/// memory.swap.max is swap alone, so it is swap - limit. Follows runc's
/// ConvertMemorySwapToCgroupV2Value.
pub fn swap_v2(limit: Option<i64>, swap: Option<i64>) -> Result<Option<i64>> {
    match (limit, swap) {
        // Unlimited memory and no swap setting: unlimited swap as well.
        (Some(-1), None) => Ok(Some(-1)),
        (_, None) => Ok(None),
        (_, Some(-1)) => Ok(Some(-1)),
        (None | Some(-1), Some(s)) => bail!(
            "linux.resources.memory.swap: {s} needs a memory limit (swap is the limit on memory+swap)"
        ),
        (Some(l), Some(s)) if s < l => bail!(
            "linux.resources.memory.swap: {s} is below memory.limit {l} (swap is the limit on memory+swap)"
        ),
        (Some(l), Some(s)) => Ok(Some(s - l)),
    }
}

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(mem) = r.memory() else { return Ok(()) };
    let limit = bytes("limit", mem.limit())?;
    let reservation = bytes("reservation", mem.reservation())?;
    let swap = bytes("swap", mem.swap())?;
    // Validate before the first write so a bad swap changes nothing.
    let swap = swap_v2(limit, swap)?;
    // The two files are independent on v2; swap first is runc's order.
    if let Some(s) = swap {
        let w = FileWrite::new("memory", "memory.swap.max", max_or(s));
        // Without swap accounting the file is missing; "max" and "0" then
        // ask for nothing the kernel is not already doing (runc agrees).
        out.push(if s == -1 || s == 0 { w.optional() } else { w });
    }
    if let Some(l) = limit {
        out.push(FileWrite::new("memory", "memory.max", max_or(l)));
    }
    if let Some(low) = reservation {
        out.push(FileWrite::new("memory", "memory.low", max_or(low)));
    }
    // disableOOMKiller and swappiness have no v2 file; runc ignores both,
    // and refusing them would break callers that always send them.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    fn w(json: &str) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        writes(&res(json), &mut out)?;
        Ok(pairs(&out)
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect())
    }

    fn p(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn limit_reservation_swap() {
        assert_eq!(
            w(r#"{"memory":{"limit":536870912,"reservation":268435456,"swap":1073741824}}"#)
                .unwrap(),
            p(&[
                ("memory.swap.max", "536870912"),
                ("memory.max", "536870912"),
                ("memory.low", "268435456")
            ])
        );
    }

    #[test]
    fn unlimited() {
        assert_eq!(
            w(r#"{"memory":{"limit":-1}}"#).unwrap(),
            p(&[("memory.swap.max", "max"), ("memory.max", "max")])
        );
        assert_eq!(
            w(r#"{"memory":{"limit":67108864,"swap":-1}}"#).unwrap(),
            p(&[("memory.swap.max", "max"), ("memory.max", "67108864")])
        );
        assert_eq!(
            w(r#"{"memory":{"limit":67108864,"swap":67108864}}"#).unwrap(),
            p(&[("memory.swap.max", "0"), ("memory.max", "67108864")])
        );
    }

    #[test]
    fn ignored_fields() {
        assert_eq!(
            w(r#"{"memory":{"disableOOMKiller":true,"swappiness":10,"kernel":5}}"#).unwrap(),
            p(&[])
        );
    }

    #[test]
    fn errors() {
        let e = w(r#"{"memory":{"swap":100}}"#).unwrap_err().to_string();
        assert!(e.contains("needs a memory limit"), "{e}");
        let e = w(r#"{"memory":{"limit":200,"swap":100}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("below"), "{e}");
        let e = w(r#"{"memory":{"limit":-5}}"#).unwrap_err().to_string();
        assert!(
            e.contains("linux.resources.memory.limit: -5 is negative"),
            "{e}"
        );
    }
}

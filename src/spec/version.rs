//! `ociVersion`: config.md says it "MUST be in SemVer v2.0.0 format", and
//! a runtime MUST generate an error for values it does not support. outlet
//! implements the 1.x line (a later 1.y only adds fields, which are
//! ignored when unknown), so any SemVer 1.x.y passes, with or without a
//! pre-release or build part (Docker writes `1.0.2-dev`, containerd
//! `1.1.0+dev`-style strings); anything else is refused.

use anyhow::{Result, bail};

pub fn check(v: &str) -> Result<()> {
    if v.is_empty() {
        bail!("ociVersion: missing");
    }
    let Some(major) = semver_major(v) else {
        bail!("ociVersion: {v:?} is not a SemVer 2.0.0 version (MAJOR.MINOR.PATCH)");
    };
    if major != 1 {
        bail!("ociVersion: {v:?}: outlet implements runtime-spec 1.x");
    }
    Ok(())
}

/// The major version of a SemVer 2.0.0 string, None if it is not one.
fn semver_major(v: &str) -> Option<u64> {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() != 3 || !nums.iter().all(|n| numeric(n)) {
        return None;
    }
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if let Some(p) = pre
        && !p
            .split('.')
            .all(|i| ident(i) && (!i.bytes().all(|b| b.is_ascii_digit()) || numeric(i)))
    {
        return None;
    }
    if let Some(b) = build
        && !b.split('.').all(ident)
    {
        return None;
    }
    nums[0].parse().ok()
}

/// A numeric identifier: digits, no leading zero unless it is "0".
fn numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_1x_passes_and_the_rest_is_refused_naming_the_field() {
        for ok in [
            "1.0.0",
            "1.2.0",
            "1.0.2-dev",
            "1.1.0+dev",
            "1.2.3-rc.1+b.5",
            "1.10.0-0.3.7",
            "1.3.0",
        ] {
            check(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, why) in [
            ("", "ociVersion: missing"),
            ("invalid", "is not a SemVer"),
            ("1.0", "is not a SemVer"),
            ("01.0.0", "is not a SemVer"),
            ("1.0.0-", "is not a SemVer"),
            ("1.0.0-01", "is not a SemVer"),
            ("1.0.0+", "is not a SemVer"),
            ("1.0.0-a..b", "is not a SemVer"),
            ("v1.0.0", "is not a SemVer"),
            ("2.0.0", "outlet implements runtime-spec 1.x"),
            ("0.5.0", "outlet implements runtime-spec 1.x"),
        ] {
            let e = check(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("ociVersion") && e.contains(why),
                "{bad:?}: {e}"
            );
        }
    }
}

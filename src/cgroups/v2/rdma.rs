//! rdma controller: rdma.max, the same file on v1 and v2.

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxResources;

use crate::cgroups::FileWrite;

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(rdma) = r.rdma() else { return Ok(()) };
    let mut devices: Vec<&String> = rdma.keys().collect();
    devices.sort();
    for dev in devices {
        // The kernel takes the text up to the first space as the device
        // and the rest as `key=value` limits: a name holding a space,
        // a '=' or a newline would write limits the values do not say.
        if dev.is_empty()
            || dev
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b == b'=' || b == 0)
        {
            bail!(
                "linux.resources.rdma[{dev:?}]: not a device name (empty, or holds white space, '=' or NUL)"
            );
        }
        let l = &rdma[dev];
        let v = |n: Option<u32>| n.map_or_else(|| "max".to_owned(), |n| n.to_string());
        out.push(FileWrite::new(
            "rdma",
            "rdma.max",
            format!(
                "{dev} hca_handle={} hca_object={}",
                v(l.hca_handles()),
                v(l.hca_objects())
            ),
        ));
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
        writes(&res(r#"{"rdma":{"mlx5_1":{"hcaHandles":3},"mlx4_0":{"hcaHandles":2,"hcaObjects":2000}}}"#), &mut out).unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("rdma.max", "mlx4_0 hca_handle=2 hca_object=2000"),
                ("rdma.max", "mlx5_1 hca_handle=3 hca_object=max"),
            ]
        );
    }

    #[test]
    fn names_that_would_write_other_limits_are_refused() {
        for name in ["mlx5_0 hca_handle=99", "a=b", "m\\nx", ""] {
            let json = format!(r#"{{"rdma":{{"{name}":{{"hcaHandles":3}}}}}}"#);
            let e = writes(&res(&json), &mut Vec::new())
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("linux.resources.rdma["), "{name}: {e}");
        }
    }
}

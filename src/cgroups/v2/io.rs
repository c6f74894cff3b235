//! io controller (v2): weights (BFQ's io.bfq.weight when the scheduler
//! offers it, else io.weight) and io.max throttles.

use anyhow::{Result, bail};
use oci_spec::runtime::{LinuxResources, LinuxThrottleDevice};

use crate::cgroups::{FileWrite, block_device};

/// v1 blkio weight [10, 1000] -> v2 io.weight [1, 10000] (runc's mapping).
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w).clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

fn check_weight(field: &str, w: u16) -> Result<()> {
    if !(10..=1000).contains(&w) {
        bail!("linux.resources.blockIO.{field}: {w} is outside 10..1000");
    }
    Ok(())
}

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(io) = r.block_io() else {
        return Ok(());
    };
    if let Some(w) = io.weight().filter(|&w| w != 0) {
        check_weight("weight", w)?;
        out.push(
            FileWrite::new("io", "io.bfq.weight", w.to_string()).or_else(
                "io.weight",
                format!("default {}", blkio_weight_to_io_weight(w)),
            ),
        );
    }
    for d in io.weight_device().iter().flatten() {
        let dev = block_device("weightDevice", d.major(), d.minor())?;
        if let Some(w) = d.weight().filter(|&w| w != 0) {
            check_weight("weightDevice.weight", w)?;
            // Without BFQ, io.weight takes a device's weight only where
            // iocost is enabled for it: elsewhere the weight is dropped, as
            // runc 1.1.5 drops every weightDevice without BFQ (seen in the
            // VM: a loop device's "7:0 1920" gets EOPNOTSUPP).
            out.push(
                FileWrite::new("io", "io.bfq.weight", format!("{dev} {w}"))
                    .or_else(
                        "io.weight",
                        format!("{dev} {}", blkio_weight_to_io_weight(w)),
                    )
                    .optional(),
            );
        }
    }
    let throttles: [(&str, &str, &Option<Vec<LinuxThrottleDevice>>); 4] = [
        (
            "throttleReadBpsDevice",
            "rbps",
            io.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "wbps",
            io.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "riops",
            io.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "wiops",
            io.throttle_write_iops_device(),
        ),
    ];
    for (field, key, list) in throttles {
        for d in list.iter().flatten() {
            let dev = block_device(field, d.major(), d.minor())?;
            // A rate of 0 means "no limit" in the spec (as in v1).
            let rate = if d.rate() == 0 {
                "max".to_owned()
            } else {
                d.rate().to_string()
            };
            out.push(FileWrite::new(
                "io",
                "io.max",
                format!("{dev} {key}={rate}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn weight_prefers_bfq_then_io_weight() {
        let mut out = Vec::new();
        writes(
            &res(
                r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":100}]}}"#,
            ),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            pairs(&out),
            [("io.bfq.weight", "500"), ("io.bfq.weight", "8:0 100")]
        );
        assert_eq!(out[0].fallback.as_ref().unwrap().1, "default 4950");
        assert_eq!(
            out[1].fallback.as_ref().unwrap(),
            &("io.weight", "8:0 910".to_owned())
        );
        assert!(!out[0].optional && out[1].optional);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10000);
    }

    #[test]
    fn throttles() {
        let mut out = Vec::new();
        writes(
            &res(r#"{"blockIO":{
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
            "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":0}],
            "throttleReadIOPSDevice":[{"major":8,"minor":16,"rate":100}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":50}]}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("io.max", "8:0 rbps=1048576"),
                ("io.max", "8:0 wbps=max"),
                ("io.max", "8:16 riops=100"),
                ("io.max", "8:16 wiops=50"),
            ]
        );
    }

    #[test]
    fn bad_weight() {
        let e = writes(&res(r#"{"blockIO":{"weight":5000}}"#), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("blockIO.weight: 5000"), "{e}");
    }
}

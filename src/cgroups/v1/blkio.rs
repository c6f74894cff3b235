//! blkio controller (v1): weights (CFQ's blkio.weight, or BFQ's
//! blkio.bfq.weight on kernels without CFQ) and throttles.

use anyhow::Result;
use oci_spec::runtime::{LinuxResources, LinuxThrottleDevice};

use crate::cgroups::{FileWrite, block_device};

pub fn writes(r: &LinuxResources, out: &mut Vec<FileWrite>) -> Result<()> {
    let Some(io) = r.block_io() else {
        return Ok(());
    };
    if let Some(w) = io.weight().filter(|&w| w != 0) {
        out.push(
            FileWrite::new("blkio", "blkio.weight", w.to_string())
                .or_else("blkio.bfq.weight", w.to_string()),
        );
    }
    if let Some(w) = io.leaf_weight().filter(|&w| w != 0) {
        // CFQ's knob: kernels since 5.0 have no CFQ, so no such file.
        out.push(
            FileWrite::new("blkio", "blkio.leaf_weight", w.to_string())
                .for_field("linux.resources.blockIO.leafWeight"),
        );
    }
    for d in io.weight_device().iter().flatten() {
        let dev = block_device("weightDevice", d.major(), d.minor())?;
        if let Some(w) = d.weight().filter(|&w| w != 0) {
            let v = format!("{dev} {w}");
            out.push(
                FileWrite::new("blkio", "blkio.weight_device", v.clone())
                    .or_else("blkio.bfq.weight_device", v),
            );
        }
        if let Some(w) = d.leaf_weight().filter(|&w| w != 0) {
            out.push(
                FileWrite::new("blkio", "blkio.leaf_weight_device", format!("{dev} {w}"))
                    .for_field("linux.resources.blockIO.weightDevice[].leafWeight"),
            );
        }
    }
    let throttles: [(&str, &'static str, &Option<Vec<LinuxThrottleDevice>>); 4] = [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            io.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            io.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            io.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            io.throttle_write_iops_device(),
        ),
    ];
    for (field, file, list) in throttles {
        for d in list.iter().flatten() {
            let dev = block_device(field, d.major(), d.minor())?;
            out.push(FileWrite::new("blkio", file, format!("{dev} {}", d.rate())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn weights_and_throttles() {
        let mut out = Vec::new();
        writes(
            &res(r#"{"blockIO":{"weight":300,"leafWeight":200,
            "weightDevice":[{"major":8,"minor":0,"weight":100,"leafWeight":50}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":10}]}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            pairs(&out),
            [
                ("blkio.weight", "300"),
                ("blkio.leaf_weight", "200"),
                ("blkio.weight_device", "8:0 100"),
                ("blkio.leaf_weight_device", "8:0 50"),
                ("blkio.throttle.read_bps_device", "8:0 1048576"),
                ("blkio.throttle.write_iops_device", "8:0 10"),
            ]
        );
        assert_eq!(out[0].fallback.as_ref().unwrap().0, "blkio.bfq.weight");
    }

    #[test]
    fn bad_device() {
        let e = writes(
            &res(r#"{"blockIO":{"throttleReadBpsDevice":[{"major":-1,"minor":0,"rate":1}]}}"#),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("throttleReadBpsDevice: device -1:0"),
            "{e}"
        );
        // A minor past 20 bits would be MKDEV'd into another device.
        let e = writes(
            &res(r#"{"blockIO":{"weightDevice":[{"major":0,"minor":1048576,"weight":10}]}}"#),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("weightDevice: device 0:1048576: minor 1048576 is outside"),
            "{e}"
        );
    }
}

//! The ptrace hunter: a container holding CAP_SYS_PTRACE whose process,
//! the fixture's `probe ptrace-caps`, attaches to any process in sight
//! whose effective set reaches past its own bounding set and reads that
//! set while the process is stopped (once a process, at first sight). What
//! tests/attack_s7.rs (exec's child) and tests/pidjoin_s9.rs (a sibling
//! that joins the hunter's pid namespace) measure a held process with.

use serde_json::{Value, json};

/// Makes config `c` the hunter: CAP_SYS_PTRACE added to its bounding,
/// effective and permitted sets, and its process `probe ptrace-caps`,
/// which looks until /out/stop exists and then writes /out/report whole.
/// `wait_for_hunt`: it starts looking only once /out/hunt exists, so that
/// it first sees a held process at the instant under test.
pub fn make_hunter(c: &mut Value, wait_for_hunt: bool) {
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_PTRACE"));
    }
    let wait = if wait_for_hunt {
        "while [ ! -e /out/hunt ]; do sleep 0.01; done; "
    } else {
        ""
    };
    c["process"]["args"] = json!([
        "sh",
        "-c",
        format!(
            "{wait}probe ptrace-caps 60 /out/stop > /out/report.tmp && \
             mv /out/report.tmp /out/report"
        )
    ]);
}

/// The hunter's own bounding set, from its report.
pub fn own_bounding(report: &Value) -> u64 {
    u64::from_str_radix(report["own_bounding"].as_str().unwrap(), 16).unwrap()
}

/// The effective sets the hunter read from the processes it attached to.
pub fn attached_caps(report: &Value) -> Vec<u64> {
    report["attached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let (_, hex) = a.as_str().unwrap().split_once(':').unwrap();
            u64::from_str_radix(hex, 16).unwrap()
        })
        .collect()
}

//! Device numbers as the kernel holds them: a 12-bit major and a 20-bit
//! minor (include/linux/kdev_t.h). A larger number does not fail on its
//! way in: mknod(2) takes the device as a 32-bit `new_encode_dev` value,
//! so libc's 64-bit makedev loses the high bits and `c 4097:3` makes the
//! node 1:3; blkio's `MAJ:MIN` is read into MKDEV(major, minor), where a
//! minor of 2^20 or more spills into the major (`0:266338304` is 254:0).
//! Either way the kernel acts on another device than the one the config
//! names, so such numbers are refused, naming the field, before anything
//! is made. (The device cgroup's rules take any 32-bit number and match
//! only devices that exist, so a rule naming none is left alone.)

use anyhow::{Result, bail};
use oci_spec::runtime::{Linux, LinuxDeviceType};

/// The largest major and minor a kernel device number holds.
pub const MAX_MAJOR: i64 = (1 << 12) - 1;
pub const MAX_MINOR: i64 = (1 << 20) - 1;

/// Why `major:minor` is not a device the kernel can name, if so.
pub fn out_of_range(major: i64, minor: i64) -> Option<String> {
    // Debug builds' control for tests/attack_s13.rs: let them through.
    if crate::fault::control("OUTLET_DEVNUM_UNCHECKED") {
        return None;
    }
    if !(0..=MAX_MAJOR).contains(&major) {
        Some(format!(
            "major {major} is outside 0..{MAX_MAJOR} (the kernel's 12 bits)"
        ))
    } else if !(0..=MAX_MINOR).contains(&minor) {
        Some(format!(
            "minor {minor} is outside 0..{MAX_MINOR} (the kernel's 20 bits)"
        ))
    } else {
        None
    }
}

/// `linux.devices`: every node but a fifo (whose numbers mknod ignores).
pub(super) fn check_devices(linux: &Linux) -> Result<()> {
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        if d.typ() == LinuxDeviceType::P {
            continue;
        }
        if let Some(why) = out_of_range(d.major(), d.minor()) {
            bail!(
                "linux.devices[{i}] {}: {why}; it would make another device",
                d.path().display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges() {
        assert_eq!(out_of_range(0, 0), None);
        assert_eq!(out_of_range(MAX_MAJOR, MAX_MINOR), None);
        for (ma, mi, word) in [
            (MAX_MAJOR + 1, 0, "major 4096"),
            (-1, 0, "major -1"),
            (0, MAX_MINOR + 1, "minor 1048576"),
            (1, -3, "minor -3"),
        ] {
            let why = out_of_range(ma, mi).unwrap();
            assert!(why.starts_with(word), "{ma}:{mi}: {why}");
        }
    }

    #[test]
    fn spec_devices_name_the_entry() {
        let linux: Linux = serde_json::from_str(
            r#"{"devices": [{"path": "/dev/a", "type": "c", "major": 1, "minor": 3},
                {"path": "/dev/p", "type": "p", "major": 99999, "minor": 0},
                {"path": "/dev/b", "type": "b", "major": 4097, "minor": 3}]}"#,
        )
        .unwrap();
        let e = check_devices(&linux).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.devices[2] /dev/b: major 4097 is outside 0..4095"),
            "{e}"
        );
    }
}

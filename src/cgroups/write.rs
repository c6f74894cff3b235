//! One limit as a file write (what the pure per-controller translation in
//! `v1/` and `v2/` returns), and the loop that performs a list of them in
//! order, naming the file and value in any error.

use std::borrow::Cow;

use anyhow::{Result, bail};

use super::{CgroupPaths, fs};

/// One write of `value` to `file` in the container's directory of
/// `controller` ("" for the core `cgroup.*` files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub controller: &'static str,
    pub file: Cow<'static, str>,
    pub value: String,
    /// Written instead when `file` does not exist (the BFQ and CFQ
    /// schedulers name their weight files differently).
    pub fallback: Option<(&'static str, String)>,
    /// A missing file is not an error: the write only restates the
    /// kernel's default (e.g. unlimited swap where swap is not accounted).
    pub optional: bool,
    /// The spec field the write applies: a missing file is then refused
    /// naming it (the kernel has no such knob), not reported as a failed
    /// write.
    pub field: Option<&'static str>,
}

impl FileWrite {
    pub fn new(
        controller: &'static str,
        file: impl Into<Cow<'static, str>>,
        value: String,
    ) -> FileWrite {
        FileWrite {
            controller,
            file: file.into(),
            value,
            fallback: None,
            optional: false,
            field: None,
        }
    }

    pub fn for_field(mut self, field: &'static str) -> FileWrite {
        self.field = Some(field);
        self
    }

    pub fn optional(mut self) -> FileWrite {
        self.optional = true;
        self
    }

    pub fn or_else(mut self, file: &'static str, value: String) -> FileWrite {
        self.fallback = Some((file, value));
        self
    }
}

/// `MAJ:MIN` of a blockIO device entry (v1 blkio and v2 io name devices
/// alike), refusing numbers that are no device.
pub(crate) fn block_device(field: &str, major: i64, minor: i64) -> Result<String> {
    if major < 0 || minor < 0 {
        bail!("linux.resources.blockIO.{field}: device {major}:{minor} is not a device number");
    }
    // The kernel reads the pair into MKDEV: a minor past 20 bits would
    // limit another device (spec/device_numbers.rs).
    if let Some(why) = crate::spec::device_numbers::out_of_range(major, minor) {
        bail!("linux.resources.blockIO.{field}: device {major}:{minor}: {why}");
    }
    Ok(format!("{major}:{minor}"))
}

/// Perform `writes` in order, each in the container's directory of its
/// controller.
pub(super) fn perform(rec: &CgroupPaths, writes: &[FileWrite]) -> Result<()> {
    for w in writes {
        let dir = rec.dir_for(w.controller)?;
        let path = dir.join(&*w.file);
        match fs::write_raw(&path, &w.value) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && w.fallback.is_some() => {
                let (file, value) = w.fallback.as_ref().expect("checked");
                let path = dir.join(file);
                match fs::write_raw(&path, value) {
                    Ok(()) => {}
                    // An optional fallback the kernel cannot take here: a
                    // per-device io.weight needs iocost on that device
                    // (EOPNOTSUPP otherwise).
                    Err(e)
                        if w.optional
                            && (e.kind() == std::io::ErrorKind::NotFound
                                || e.raw_os_error() == Some(libc::EOPNOTSUPP)) => {}
                    Err(e) => return Err(fs::write_error(&path, value, &e)),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && w.optional => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && w.field.is_some() => {
                // A unified key of a controller outlet does not know
                // (`foo.bar`): no controller dir to blame but the prefix.
                if w.controller.is_empty() {
                    let prefix = w.file.split('.').next().unwrap_or_default();
                    bail!(
                        "{}: {:?}: cannot be set, this cgroup has no such file (no controller {prefix:?} here?)",
                        w.field.expect("checked"),
                        w.file
                    );
                }
                bail!(
                    "{}: {:?} cannot be applied: this kernel's {} controller has no {}",
                    w.field.expect("checked"),
                    w.value,
                    w.controller,
                    w.file
                );
            }
            Err(e) => return Err(fs::write_error(&path, &w.value, &e)),
        }
    }
    Ok(())
}

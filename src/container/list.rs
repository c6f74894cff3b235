//! `list`: every container under the state root.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

#[derive(Serialize)]
pub struct Entry {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    pub owner: String,
}

pub fn list(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return Ok(out);
    };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        let Ok(c) = super::peek(root, &id) else {
            continue;
        };
        let oci = c.state.oci(c.status);
        out.push(Entry {
            oci_version: oci.oci_version.to_string(),
            id,
            pid: oci.pid,
            status: oci.status.to_string(),
            bundle: oci.bundle.display().to_string(),
            rootfs: oci.rootfs.display().to_string(),
            created: oci.created.to_string(),
            owner: oci.owner.to_string(),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

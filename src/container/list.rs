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
        let c = match super::peek(root, &id) {
            Ok(c) => c,
            // Damaged: shown (so that it can be found and force-deleted),
            // not allowed to fail the whole listing.
            Err(e)
                if matches!(
                    crate::state::Lookup::of(&e),
                    Some(crate::state::Lookup::Damaged(..))
                ) =>
            {
                out.push(Entry {
                    oci_version: String::new(),
                    id,
                    pid: 0,
                    status: "damaged".to_string(),
                    bundle: String::new(),
                    rootfs: String::new(),
                    created: String::new(),
                    owner: String::new(),
                });
                continue;
            }
            Err(_) => continue,
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

use anyhow::Result;

use super::Globals;
use crate::cli::{CheckpointArgs, CriuArgs};
use crate::container::checkpoint::CheckpointOptions;
use crate::container::criu::{CgroupsMode, CriuOptions, parse_empty_ns};

/// The shared CRIU flags as the library's options (values checked here,
/// before anything is made).
pub fn criu_options(a: &CriuArgs) -> Result<CriuOptions> {
    Ok(CriuOptions {
        image_path: a.image_path.clone(),
        work_path: a.work_path.clone(),
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        cgroups_mode: a
            .manage_cgroups_mode
            .as_deref()
            .map(CgroupsMode::parse)
            .transpose()?
            .unwrap_or_default(),
        empty_netns: parse_empty_ns(&a.empty_ns)?,
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
    })
}

pub fn run(g: &Globals, a: &CheckpointArgs) -> Result<i32> {
    let o = CheckpointOptions {
        criu: criu_options(&a.criu)?,
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        page_server: a.page_server.clone(),
        status_fd: (a.status_fd >= 0).then_some(a.status_fd),
    };
    crate::container::checkpoint::checkpoint(&g.root, &a.id, g.criu.as_deref(), &o)?;
    Ok(0)
}

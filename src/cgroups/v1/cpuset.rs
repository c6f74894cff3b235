//! cpuset controller (v1): the same cpuset.cpus/mems files as v2. A v1
//! cpuset starts empty and refuses tasks, so the manager first copies the
//! nearest ancestor's values into every empty level down to the container's
//! directory (`fill_cpusets`).

pub use crate::cgroups::v2::cpuset::writes;

pub const CPUS: &str = "cpuset.cpus";
pub const MEMS: &str = "cpuset.mems";

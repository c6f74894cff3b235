//! cpuset controller (v1): the same cpuset.cpus/mems files as v2. A new v1
//! cpuset starts empty and refuses tasks, so the manager first copies the
//! parent's values into every directory it creates.

pub use crate::cgroups::v2::cpuset::writes;

//! pids controller (v1): the same pids.max file as v2.

pub use crate::cgroups::v2::pids::writes;

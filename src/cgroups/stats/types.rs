//! The statistics as types, in the shape of runc's `events --stats` data
//! (libcontainer/cgroups/stats.go): runc's `omitempty` is a zero left out,
//! and the fields are declared in the order serde_json's maps print keys
//! (sorted), so a struct and the old untyped object print the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub blkio: Blkio,
    pub cpu: Cpu,
    /// By page size as the kernel names it (2MB, 1GB).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub memory: Memory,
    pub pids: Pids,
}

#[derive(Serialize, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// Read, Write, Sync, ... as the kernel's v1 files spell them.
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct Cpu {
    pub throttling: Throttling,
    pub usage: CpuUsage,
}

/// Nanoseconds. kernel and user are there (zero or not) whenever the
/// hierarchy is; total only when not zero.
#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<u64>,
}

#[derive(Serialize, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct Hugetlb {
    pub failcnt: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
}

/// Each entry is there whenever its files are (the host may lack kmem or
/// swap accounting; v2 has no kernel entry).
#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<MemoryEntry>,
    /// memory.stat as the kernel wrote it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<MemoryEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<MemoryEntry>,
}

/// Bytes; `limit` u64::MAX for no limit (v2's "max"), as runc reports it.
#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct MemoryEntry {
    pub failcnt: u64,
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
}

/// `limit` 0 for no limit, as runc reports it.
#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

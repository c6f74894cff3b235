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
    pub cpuset: CpuSet,
    /// By page size as the kernel names it (2MB, 1GB).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// outlet has no Intel RDT support; runc prints `{}` without it.
    pub intel_rdt: IntelRdt,
    pub memory: Memory,
    /// Always `null`: runc fills this only for veth pairs it made itself
    /// (libcontainer's own network config, which no OCI spec can ask for),
    /// and outlet makes none.
    pub network_interfaces: (),
    pub pids: Pids,
}

#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct IntelRdt {}

/// The container's cpuset (v1 only: runc 1.1 reads no cpuset statistics
/// on v2, so there it is all zeros). The flags print as 0 or 1.
#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct CpuSet {
    pub cpu_exclusive: u64,
    /// cpuset.cpus expanded (`0-2,4` -> [0,1,2,4]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub mem_exclusive: u64,
    pub mem_hardwall: u64,
    pub memory_migrate: u64,
    pub memory_pressure: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub sched_load_balance: u64,
    /// -1 is the kernel's "system default".
    pub sched_relax_domain_level: i64,
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

/// Nanoseconds. kernel and user are always there (zero or not), as in
/// runc; total and the per-CPU lists only when not zero/empty. The per-CPU
/// lists are v1's (cpuacct.usage_percpu, cpuacct.usage_all); v2 has none.
#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct CpuUsage {
    pub kernel: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    pub user: u64,
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

/// Every entry is always there, `{"failcnt":0,"limit":0}` where the host
/// lacks its files (kmem, swap accounting; v2 has no kernel entries), as
/// runc prints it: Go's `omitempty` never leaves out a struct.
#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub kernel: MemoryEntry,
    /// memory.kmem.tcp.* (v1).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as the kernel wrote it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    pub swap: MemoryEntry,
    pub usage: MemoryEntry,
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

//! The args of update: new resource limits for a running container.

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct UpdateArgs {
    /// Container id
    pub id: String,
    /// LinuxResources JSON from FILE, or - for stdin
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g accepted; -1 for unlimited)
    #[arg(long, short = 'm', value_name = "BYTES", allow_negative_numbers = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit) in bytes (-1 for unlimited)
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes (-1 for unlimited)
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    /// Kernel memory limit (ignored, as by current runc)
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true)]
    pub kernel_memory: Option<String>,
    /// CPU CFS period in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds (-1 for unlimited)
    #[arg(long, value_name = "US", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long, alias = "cpu-share", value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPU idle: 1 runs the container's tasks as SCHED_IDLE (cpu.idle), 0
    /// as before
    #[arg(long, value_name = "0|1", allow_negative_numbers = true)]
    pub cpu_idle: Option<i64>,
    /// CPU realtime period in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[arg(long, value_name = "US", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (0-2,4)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 for unlimited)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    /// Intel RDT L3 cache schema: refused, outlet has no Intel RDT support
    #[arg(long, value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema: refused, outlet has no Intel RDT
    /// support
    #[arg(long, value_name = "SCHEMA")]
    pub mem_bw_schema: Option<String>,
}

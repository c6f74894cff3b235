//! A seccomp filter of many rules that the container never trips: what
//! the tests that load a filter on the hot path (tests/crash_syscalls.rs,
//! tests/faults_s8.rs, tests/races_s9_kill.rs) give their containers.

use serde_json::{Value, json};

/// More than 32 rules (the filter's binary-tree layout), none of which
/// the container's setup or `sleep` calls.
pub const DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "migrate_pages",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "perf_event_open",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "settimeofday",
    "swapoff",
    "swapon",
    "sysfs",
    "_sysctl",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

/// Sets `linux.seccomp` of config `c`: allow by default, ERRNO for each
/// syscall of `DENIED`, one rule per name.
pub fn deny_unused(c: &mut Value) {
    let rules: Vec<_> = DENIED
        .iter()
        .map(|n| json!({"names": [n], "action": "SCMP_ACT_ERRNO"}))
        .collect();
    c["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": rules,
    });
}

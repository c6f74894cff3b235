//! `process.execCPUAffinity`: the CPU lists an `exec`'d process runs on,
//! `initial` while it joins the container (before its cgroup), `final`
//! once in it (before the exec). Not for the container's init (the spec
//! says so). Lists are cpuset's syntax (`0-3,7`); the syntax is checked
//! when read (spec::types), the numbers here, naming the field.

use anyhow::{Result, bail};
use nix::sched::CpuSet;

use super::Process;

/// Both lists of `p`, checked, so that a bad one fails `create` (for the
/// config's process, which an inline `exec` starts from) or `exec` before
/// anything is forked.
pub fn check(p: &Process) -> Result<()> {
    if let Some(a) = &p.exec_cpu_affinity {
        if let Some(l) = &a.initial {
            cpu_set("process.execCPUAffinity.initial", l)?;
        }
        if let Some(l) = &a.cpu_affinity_final {
            cpu_set("process.execCPUAffinity.final", l)?;
        }
    }
    Ok(())
}

/// The set of a list such as `0-3,7` (syntax already checked).
pub fn cpu_set(field: &str, list: &str) -> Result<CpuSet> {
    let mut set = CpuSet::new();
    let max = CpuSet::count();
    for item in list.split(',') {
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) else {
            bail!("{field}: {list:?}: {item:?} is not a CPU number or range");
        };
        if a > b {
            bail!("{field}: {list:?}: the range {item:?} runs backwards");
        }
        if b >= max {
            bail!("{field}: {list:?}: CPU {b} is beyond the {max} CPUs an affinity mask holds");
        }
        for cpu in a..=b {
            // In range: checked against count() above.
            let _ = set.set(cpu);
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_become_sets_and_bad_numbers_name_the_field() {
        let s = cpu_set("f", "0-2,5").unwrap();
        for cpu in 0..8 {
            assert_eq!(s.is_set(cpu).unwrap(), [0, 1, 2, 5].contains(&cpu), "{cpu}");
        }
        let err = cpu_set("process.execCPUAffinity.final", "3-1").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("process.execCPUAffinity.final: \"3-1\""),
            "{err}"
        );
        let err = cpu_set("f", "0,99999").unwrap_err().to_string();
        assert!(err.contains("CPU 99999 is beyond"), "{err}");
        let p: Process = serde_json::from_value(serde_json::json!({
            "user": {"uid": 0, "gid": 0}, "cwd": "/",
            "execCPUAffinity": {"initial": "0", "final": "4-2"}
        }))
        .unwrap();
        let err = check(&p).unwrap_err().to_string();
        assert!(err.starts_with("process.execCPUAffinity.final"), "{err}");
        check(&Process::default()).unwrap();
    }
}

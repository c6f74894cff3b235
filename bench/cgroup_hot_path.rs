//! What the cgroup part of `create` and `delete` costs on this host,
//! through the library (no process start, no state dir): plan + create
//! (directories, every limit) + moving a process in, then destroy (kill +
//! rmdir), timed per cgroup. A measurement, not a test: see bench/README.md.
//!
//!     cargo run --release --example cgroup_hot_path [RUNS]
//!
//! As root. Every cgroup is made under `outlet-bench-cgroup-PID-N` (relative
//! to this process's own cgroup) and removed, also when a step fails.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use outlet::cgroups::{Cgroup, CgroupPaths};

/// The limits of bench/run.sh's hybrid field, plus a pids limit and a
/// device rule: the writes a typical create does.
const RESOURCES: &str = r#"{"cpu":{"quota":25000,"period":100000},"memory":{"limit":536870912},
    "pids":{"limit":64},"devices":[{"allow":false,"access":"rwm"}]}"#;

/// Removes the cgroup and kills the child whatever happens.
struct Guard {
    paths: CgroupPaths,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Cgroup::from_paths(self.paths.clone()).destroy();
    }
}

/// One cgroup: (plan + create + add_pid, destroy).
fn once(n: usize, r: &LinuxResources) -> anyhow::Result<(Duration, Duration)> {
    let path = format!("outlet-bench-cgroup-{}-{n}", std::process::id());
    let child = Command::new("sleep").arg("100").spawn()?;
    let pid = child.id() as i32;
    let mut guard = Guard {
        paths: CgroupPaths::default(),
        child: Some(child),
    };
    let t = Instant::now();
    let mut cg = Cgroup::plan(Some(&path), "bench", Some(r))?;
    guard.paths = cg.paths().clone();
    let created = cg.create(Some(r));
    guard.paths = cg.paths().clone();
    created?;
    cg.add_pid(pid)?;
    let make = t.elapsed();
    let t = Instant::now();
    cg.destroy()?;
    let destroy = t.elapsed();
    // destroy killed it; reap it here rather than in the guard.
    if let Some(mut c) = guard.child.take() {
        c.wait()?;
    }
    Ok((make, destroy))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        anyhow::bail!("cgroup_hot_path: needs root (it makes real cgroups)");
    }
    let runs: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().map_err(|e| anyhow::anyhow!("RUNS {a:?}: {e}"))?,
        None => 50,
    };
    let r: LinuxResources = serde_json::from_str(RESOURCES)?;
    // Warm-up, not counted: the first mkdir in a hierarchy pays more.
    once(runs, &r)?;
    let (mut make, mut destroy) = (Vec::new(), Vec::new());
    for n in 0..runs.max(1) {
        let (m, d) = once(n, &r)?;
        make.push(m);
        destroy.push(d);
    }
    println!(
        "cgroup hot path, {} runs, medians: plan+create+add_pid {:?}, destroy (kill + rmdir) {:?}",
        make.len(),
        median(&mut make),
        median(&mut destroy)
    );
    Ok(())
}

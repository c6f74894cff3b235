//! runc parity left over from session 6: `events --stats` carries every
//! key runc 1.1.5 prints, with numbers that follow a known load; invalid
//! capability names fail as the spec says; the commands engines call.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{T, sh};
use serde_json::{Value, json};

fn unified_host() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Waits for the container to create `/out/<name>`.
fn wait_out(b: &common::Bundle, name: &str) {
    let p = b.out.join(name);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !p.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every key runc 1.1.5 prints at the top of the data and in memory, also
/// when zero: runc's Go structs are never left out.
fn assert_runc_keys(d: &Value) {
    for k in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ] {
        assert!(d.get(k).is_some(), "data.{k} missing: {d}");
    }
    assert!(d["network_interfaces"].is_null(), "{d}");
    for k in ["usage", "swap", "kernel", "kernelTCP"] {
        let e = &d["memory"][k];
        assert!(
            e["limit"].is_u64() && e["failcnt"].is_u64(),
            "memory.{k}: {d}"
        );
    }
    for k in ["kernel", "user"] {
        assert!(d["cpu"]["usage"][k].is_u64(), "cpu.usage.{k}: {d}");
    }
    let cs = &d["cpuset"];
    for k in [
        "cpu_exclusive",
        "mem_hardwall",
        "mem_exclusive",
        "memory_migrate",
        "memory_spread_page",
        "memory_spread_slab",
        "memory_pressure",
        "sched_load_balance",
        "sched_relax_domain_level",
    ] {
        assert!(cs[k].is_number(), "cpuset.{k}: {d}");
    }
}

/// A container pinned to CPU 1 that puts 24 MiB in its /dev/shm (tmpfs
/// pages are charged to its memory cgroup) and spins the CPU for about a
/// few hundred milliseconds (a 300000-round shell loop), then sleeps. The numbers must follow: memory usage
/// at least the 24 MiB and at most the 128 MiB limit; on v1, CPU time
/// on CPU 1 (percpu, percpu_user + percpu_kernel) and next to none on
/// CPU 0; the cpuset lists [1] and memory node [0]. The control: the
/// same read before the load starts shows memory usage under 24 MiB, so
/// the check can fail.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn events_stats_keys_and_numbers_follow_the_load() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("load", |c| {
        sh(
            c,
            "while [ ! -e /out/go ]; do sleep 0.05; done; \
             head -c 25165824 /dev/zero > /dev/shm/fill; \
             n=0; while [ $n -lt 300000 ]; do n=$((n+1)); done; \
             touch /out/done; exec sleep 1000",
        );
        c["linux"]["resources"]["memory"] = json!({"limit": 134217728});
        c["linux"]["resources"]["cpu"] = json!({"cpus": "1", "mems": "0"});
    });
    let id = t.id("load");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");

    let stats = || -> Value {
        let o = t.outlet(&["events", "--stats", &id]);
        o.expect_ok("events --stats");
        o.json()["data"].clone()
    };
    let before = stats();
    assert_runc_keys(&before);
    let mib24 = 24 << 20;
    let usage = |d: &Value| d["memory"]["usage"]["usage"].as_u64().unwrap();
    assert!(usage(&before) < mib24, "control: before the load {before}");

    std::fs::write(b.out.join("go"), "").unwrap();
    wait_out(&b, "done");
    let d = stats();
    assert_runc_keys(&d);
    assert!(usage(&d) >= mib24, "memory usage after 24 MiB in shm: {d}");
    assert_eq!(d["memory"]["usage"]["limit"], 134217728, "{d}");
    let total = d["cpu"]["usage"]["total"].as_u64().unwrap();
    assert!(total >= 20_000_000, "cpu total after the spin: {d}");

    if unified_host() {
        // runc 1.1 reads no cpuset or per-CPU statistics on v2.
        assert!(d["cpuset"].get("cpus").is_none(), "{d}");
        assert_eq!(d["cpuset"]["sched_relax_domain_level"], 0, "{d}");
        assert!(d["cpu"]["usage"].get("percpu").is_none(), "{d}");
        assert_eq!(d["memory"]["kernel"], json!({"failcnt": 0, "limit": 0}));
        // swap is memory+swap, as v1's memsw.
        assert!(
            d["memory"]["swap"]["usage"].as_u64() >= Some(usage(&d)),
            "{d}"
        );
    } else {
        assert_eq!(d["cpuset"]["cpus"], json!([1]), "{d}");
        assert_eq!(d["cpuset"]["mems"], json!([0]), "{d}");
        let per = |k: &str, cpu: usize| d["cpu"]["usage"][k][cpu].as_u64().unwrap();
        assert_eq!(d["cpu"]["usage"]["percpu"].as_array().unwrap().len(), 2);
        let sum = per("percpu", 0) + per("percpu", 1);
        assert!(sum.abs_diff(total) <= total / 100, "percpu sum {sum}: {d}");
        assert!(per("percpu", 1) >= 20 * per("percpu", 0).max(1), "{d}");
        // usage_all's split is tick-sampled: near, not equal, to percpu.
        let split = per("percpu_user", 1) + per("percpu_kernel", 1);
        assert!(split >= per("percpu", 1) / 4, "{d}");
        assert!(d["memory"]["kernelTCP"]["limit"].as_u64() > Some(0), "{d}");
    }
    // runc refuses a zero or negative --interval also with --stats (which
    // does not use it); outlet printed the stats. The control: 5s works.
    for bad in ["--interval=0", "--interval=-1s"] {
        let o = t.outlet(&["events", bad, "--stats", &id]);
        o.expect_fail(bad, "events --interval: duration");
        assert!(o.stdout.is_empty(), "{bad}: {o:?}");
    }
    let o = t.outlet(&["events", "--interval", "-1s", "--stats", &id]);
    o.expect_fail("--interval -1s", "negative");
    t.outlet(&["events", "--interval", "5s", "--stats", &id])
        .expect_ok("control: --interval 5s --stats");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the stats container");
}

const SETS: [&str; 5] = [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// The container's `Cap*:` lines of /proc/self/status as masks.
fn cap_masks(status: &str) -> std::collections::BTreeMap<String, u64> {
    status
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.strip_prefix("Cap")?;
            Some((k.to_owned(), u64::from_str_radix(v.trim(), 16).ok()?))
        })
        .collect()
}

/// config.md: capability values are capabilities(7)'s names ("such as
/// CAP_CHOWN"); since runtime-spec 1.1, "any value which cannot be mapped
/// to a relevant kernel interface ... MUST be logged as a warning by the
/// runtime. Runtimes SHOULD NOT fail" (runc 1.1.5 does the same; 1.0's
/// text asked for an error, which outlet followed until session 9). A
/// name that is no capability (CAP_FOO), or a real one spelled otherwise
/// (lower case, no prefix, a doubled prefix), is dropped from each of the
/// five sets with a warning naming the set and the value, and the
/// container runs without it. The control: the same config with the name
/// spelled CAP_KILL runs and the process holds CAP_KILL in every set.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn capability_names_the_spec_does_not_know_warn_in_every_set() {
    let Some(t) = T::new() else { return };
    for (i, bad) in ["CAP_FOO", "cap_kill", "KILL", "CAP_CAP_KILL", "Cap_Kill"]
        .into_iter()
        .enumerate()
    {
        for set in SETS {
            let tag = format!("bad{i}-{set}");
            let b = t.bundle(&tag, |c| {
                c["process"]["capabilities"][set]
                    .as_array_mut()
                    .map(|a| a.push(json!(bad)))
                    .unwrap_or_else(|| c["process"]["capabilities"][set] = json!([bad]));
                c["process"]["args"] = json!(["true"]);
            });
            let o = t.run(&t.id(&tag), &b);
            o.expect_ok(&tag);
            assert!(o.stderr.contains("warning"), "{tag}: {o:?}");
            assert!(o.stderr.contains(&format!("{set}:{bad}")), "{tag}: {o:?}");
        }
    }
    let b = t.bundle("good", |c| {
        sh(c, "grep ^Cap /proc/self/status");
        for set in SETS {
            c["process"]["capabilities"][set] = json!(["CAP_KILL"]);
        }
    });
    let o = t.run(&t.id("good"), &b);
    o.expect_ok("control: CAP_KILL in every set");
    let m = cap_masks(&o.stdout);
    for k in ["Inh", "Prm", "Eff", "Bnd", "Amb"] {
        assert_eq!(m.get(k), Some(&(1 << 5)), "Cap{k}: {o:?}");
    }
    t.assert_nothing_left("after the capability names");
}

/// What engines send and must keep working: `runc spec`'s own sets
/// (ambient listed with no inheritable set: runc skips the ambient
/// capabilities the kernel cannot raise, and so does outlet), and a
/// bounding set naming a capability the host withheld from the runtime
/// (CAP_SYS_RESOURCE here; podman and docker --privileged ask for every
/// capability): dropping from the bounding set is all the spec's bounding
/// list does, and an absent capability is dropped already. The check that
/// the test can fail: CAP_SYS_RESOURCE really is missing from this
/// runtime's own bounding set (else the case proves nothing) and asking
/// for it in *permitted* does fail, naming the set.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn runc_spec_sets_and_a_withheld_bounding_capability_still_run() {
    let Some(t) = T::new() else { return };
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let own_bnd = cap_masks(&own)["Bnd"];
    assert_eq!(
        own_bnd & (1 << 24),
        0,
        "this host must withhold CAP_SYS_RESOURCE (HOST.md) for this test"
    );
    let b = t.bundle("runcspec", |c| {
        sh(c, "grep ^Cap /proc/self/status");
        let runc = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        c["process"]["capabilities"] = json!({
            "bounding": runc, "effective": runc, "permitted": runc, "ambient": runc
        });
        c["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_RESOURCE"));
    });
    let o = t.run(&t.id("runcspec"), &b);
    o.expect_ok("runc spec's sets with CAP_SYS_RESOURCE in bounding");
    let m = cap_masks(&o.stdout);
    let want = (1u64 << 29) | (1 << 5) | (1 << 10);
    assert_eq!(m["Bnd"], want, "{o:?}");
    assert_eq!(m["Eff"], want, "{o:?}");
    assert_eq!(m["Amb"], 0, "ambient outside inheritable is skipped: {o:?}");

    let b = t.bundle("withheld", |c| {
        c["process"]["capabilities"]["permitted"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_RESOURCE"));
    });
    let id = t.id("withheld");
    t.create(&id, &b).expect_fail(
        "CAP_SYS_RESOURCE in permitted",
        "process.capabilities.permitted",
    );
    assert!(!t.state_dir_exists(&id));
    t.assert_nothing_left("after the engine capability sets");
}

/// `exec --process FILE` holds the file's capability names to the same
/// rule as create (a warning naming the set and value, and the process
/// runs without it); the control: the same file with CAP_KILL runs.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_process_file_capability_names_checked() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("exec", |c| sh(c, "exec sleep 1000"));
    let id = t.id("exec");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let file = t.dir.join("process.json");
    let write = |cap: &str| {
        let caps = json!([cap]);
        let p = json!({
            "args": ["true"], "cwd": "/", "env": ["PATH=/bin"],
            "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}
        });
        std::fs::write(&file, p.to_string()).unwrap();
    };
    // Since session 9 (runtime-spec 1.1+): a warning, and the process
    // runs without the name.
    write("kill");
    let o = t.outlet(&["exec", "--process", file.to_str().unwrap(), &id]);
    o.expect_ok("exec cap kill");
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("bounding:kill"),
        "{o:?}"
    );
    write("CAP_KILL");
    t.outlet(&["exec", "--process", file.to_str().unwrap(), &id])
        .expect_ok("control: CAP_KILL");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the exec capability names");
}

/// runc's exec.bats ("exec --cgroup sub-cgroups"): `--cgroup /` and
/// `--cgroup pids:/` name the container's own cgroup explicitly and run
/// (outlet refused them); `..` fails with "bad sub cgroup path", a missing
/// sub-cgroup with " adding pid " ... "no such file or directory", an
/// unknown controller with "unknown controller " (the suite matches those
/// words). The control: `--cgroup pids:sub` lands in the sub-cgroup, so
/// the check of where `/` lands can tell the two apart.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_cgroup_slash_and_runcs_error_words() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("cg", |c| sh(c, "exec sleep 1000"));
    let id = t.id("cg");
    t.create_ok(&id, &b);
    t.outlet(&["start", &id]).expect_ok("start");
    let own = t.outlet(&["exec", &id, "cat", "/proc/self/cgroup"]);
    own.expect_ok("exec");
    let key = if unified_host() { "" } else { "pids" };
    let line = |o: &common::Out| -> String {
        o.stdout
            .lines()
            .find(|l| l.split(':').nth(1) == Some(key))
            .unwrap_or_else(|| panic!("no {key:?} line: {o:?}"))
            .to_string()
    };
    // The container has its own cgroup namespace: its cgroup reads `/`.
    assert!(line(&own).ends_with(":/"), "{own:?}");
    let mut slash = vec!["/"];
    if !unified_host() {
        slash.push("pids:/");
    }
    for arg in slash {
        let o = t.outlet(&["exec", "--cgroup", arg, &id, "cat", "/proc/self/cgroup"]);
        o.expect_ok(&format!("exec --cgroup {arg}"));
        assert_eq!(line(&o), line(&own), "--cgroup {arg}");
    }
    // The control: a real sub-cgroup is told apart from the own one.
    let base = if unified_host() {
        common::cgroup_dirs_for(&id).into_iter().find(|d| {
            d.join("cgroup.procs").exists() && d.parent() == Some(Path::new("/sys/fs/cgroup"))
        })
    } else {
        common::cgroup_dirs_for(&id)
            .into_iter()
            .find(|d| d.starts_with("/sys/fs/cgroup/pids") && d.is_dir())
    }
    .expect("the container's cgroup dir");
    let sub = base.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let sub2 = sub.clone();
    t.on_cleanup(move || {
        let _ = std::fs::remove_dir(&sub2);
    });
    let arg = if unified_host() { "sub" } else { "pids:sub" };
    let o = t.outlet(&["exec", "--cgroup", arg, &id, "cat", "/proc/self/cgroup"]);
    o.expect_ok("exec --cgroup sub");
    assert!(line(&o).ends_with(":/sub"), "{o:?}");

    let words = |arg: &str, want: &[&str]| {
        let o = t.outlet(&["exec", "--cgroup", arg, &id, "true"]);
        assert_ne!(o.code, Some(0), "{arg}: {o:?}");
        let mut at = 0;
        for w in want {
            let i = o.stderr[at..].find(w);
            assert!(
                i.is_some(),
                "--cgroup {arg}: {w:?} (in order) missing: {o:?}"
            );
            at += i.unwrap() + w.len();
        }
    };
    words("..", &["bad sub cgroup path"]);
    words(
        "nonexistent",
        &[" adding pid ", "no such file or directory"],
    );
    if !unified_host() {
        words(
            "cpu:nonexistent",
            &[" adding pid ", "no such file or directory"],
        );
        words("whaaat:/", &["unknown controller "]);
    }
    std::fs::remove_dir(&sub).unwrap();
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after exec --cgroup");
}

/// runc's `update --l3-cache-schema` / `--mem-bw-schema`: runc refuses
/// them with exit 1 where Intel RDT is off; outlet did not know the flags
/// (clap's exit 2). Now exit 1 naming the flag, and nothing of the same
/// call applied (a --pids-limit next to it is not written). The control:
/// the same --pids-limit alone is written.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn update_rdt_flags_refused_like_runc() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("rdt", |c| {
        sh(c, "exec sleep 1000");
        c["linux"]["resources"]["pids"] = json!({"limit": 50});
    });
    let id = t.id("rdt");
    t.create_ok(&id, &b);
    let pids_max = || -> String {
        let dir = common::cgroup_dirs_for(&id)
            .into_iter()
            .find(|d| d.join("pids.max").exists())
            .expect("the container's pids cgroup");
        std::fs::read_to_string(dir.join("pids.max")).unwrap()
    };
    for (flag, v) in [
        ("--l3-cache-schema", "L3:0=f"),
        ("--mem-bw-schema", "MB:0=50"),
    ] {
        let o = t.outlet(&["update", "--pids-limit", "7", flag, v, &id]);
        o.expect_fail(flag, &format!("update {flag}: Intel RDT is not supported"));
        assert_eq!(pids_max().trim(), "50", "{flag}: applied anyway");
    }
    t.outlet(&["update", "--pids-limit", "7", &id])
        .expect_ok("control: --pids-limit alone");
    assert_eq!(pids_max().trim(), "7");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
    t.assert_nothing_left("after the RDT flags");
}

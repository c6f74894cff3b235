//! The process spec as seen from inside: rlimits, hostname, env, cwd, user,
//! groups and umask. Needs root (skipped otherwise).

mod common;

use common::T;
use serde_json::json;

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rlimits_hostname_env_cwd() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        // Soft differs from hard and both differ from the host's 20000, so
        // only outlet can have set them.
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 1024},
            {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600}
        ]);
        c["hostname"] = json!("probe-host");
        c["process"]["cwd"] = json!("/etc");
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("GREETING=hello world"));
    });
    let id = t.id("proc");
    let out = t.run(&id, &b);
    out.expect_ok("run");
    let r = out.json();
    assert_eq!(r["rlimits"]["NOFILE"], json!({"soft": 1000, "hard": 1024}));
    assert_eq!(r["rlimits"]["NPROC"], json!({"soft": 500, "hard": 600}));
    assert_eq!(r["hostname"], "probe-host");
    assert_eq!(r["cwd"], "/etc");
    let env: Vec<&str> = r["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"GREETING=hello world"), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    // Nothing of the test harness's own environment leaks in.
    assert!(
        !env.iter().any(|e| e.starts_with("CARGO")),
        "host env leaked: {env:?}"
    );
    // The default spec's three capabilities (AUDIT_WRITE, KILL,
    // NET_BIND_SERVICE: bits 29, 5, 10), nothing more, and no_new_privs.
    for set in ["effective", "permitted", "bounding"] {
        assert_eq!(r["capabilities"][set], "0000000020000420", "{set}: {r}");
    }
    assert_eq!(r["capabilities"]["ambient"], "0000000000000000");
    assert_eq!(r["no_new_privs"], "1");
    // stdio: stdin was /dev/null for outlet, and the container got it.
    assert_eq!(r["fds"]["0"], "/dev/null", "{r}");
    // No runtime fds beyond stdio reach the program.
    let fds: Vec<&String> = r["fds"].as_object().unwrap().keys().collect();
    assert!(
        fds.iter()
            .all(|k| ["0", "1", "2", "3"].contains(&k.as_str())),
        "extra fds inside (3 may be probe's own /proc/self/fd handle): {}",
        r["fds"]
    );
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn user_and_groups() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("b", |c| {
        c["process"]["user"] =
            json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 63});
    });
    let id = t.id("user");
    let out = t.run(&id, &b);
    out.expect_ok("run");
    let r = out.json();
    assert_eq!(
        r["uid"],
        json!({"real": 1000, "effective": 1000, "saved": 1000})
    );
    assert_eq!(
        r["gid"],
        json!({"real": 1001, "effective": 1001, "saved": 1001})
    );
    let mut groups: Vec<u64> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_u64().unwrap())
        .collect();
    groups.sort();
    assert_eq!(groups, vec![10, 20], "{r}");
    assert_eq!(r["umask"], "0077");
}

/// sysctl (namespaced keys, written inside before /proc/sys turns
/// read-only), domainname and oomScoreAdj, with pivot_root and with
/// --no-pivot; the host's values do not change.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn sysctl_domainname_oom_score_adj() {
    let Some(t) = T::new() else { return };
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shm = std::fs::read_to_string("/proc/sys/kernel/shm_rmid_forced").unwrap();
    for (tag, extra) in [("pivot", None), ("nopivot", Some("--no-pivot"))] {
        let b = t.bundle(tag, |c| {
            c["linux"]["sysctl"] = json!({
                "net.ipv4.ip_forward": if host_fwd.trim() == "1" { "0" } else { "1" },
                "kernel.shm_rmid_forced": if host_shm.trim() == "1" { "0" } else { "1" },
            });
            c["domainname"] = json!("dom.example");
            c["process"]["oomScoreAdj"] = json!(123);
            common::sh(
                c,
                "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced > /out/sysctl; \
                 probe report > /out/report.json",
            );
        });
        let id = t.id(tag);
        let mut args = vec!["run", "--bundle", b.dir.to_str().unwrap()];
        args.extend(extra);
        args.push(&id);
        t.outlet(&args).expect_ok(&format!("run {tag}"));
        let got = std::fs::read_to_string(b.out.join("sysctl")).unwrap();
        let want: Vec<&str> = [&host_fwd, &host_shm]
            .iter()
            .map(|h| if h.trim() == "1" { "0" } else { "1" })
            .collect();
        assert_eq!(got.split_whitespace().collect::<Vec<_>>(), want, "{tag}");
        let r = common::read_json(&b.out.join("report.json"));
        assert_eq!(r["domainname"], "dom.example", "{tag}");
        assert_eq!(r["oom_score_adj"], 123, "{tag}");
        assert_eq!(r["pid"], 1, "{tag}");
        assert_eq!(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
            host_fwd,
            "the host's ip_forward changed"
        );
        assert_eq!(
            std::fs::read_to_string("/proc/sys/kernel/shm_rmid_forced").unwrap(),
            host_shm,
            "the host's shm_rmid_forced changed"
        );
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn new_session_keyring_unless_no_new_keyring() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("keys", |c| {
        c["hostname"] = json!("keyring-test");
        // /proc/keys is masked by default; unmask it to look.
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p != "/proc/keys");
        common::sh(c, "cat /proc/keys");
    });
    let id = t.id("keys");
    let o = t.run(&id, &b);
    o.expect_ok("run");
    assert!(
        o.stdout.contains(&format!("_ses.{id}")),
        "no session keyring of the container's own: {o:#?}"
    );
    let id = t.id("nokeys");
    let o = t.outlet(&[
        "run",
        "--no-new-keyring",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    o.expect_ok("run --no-new-keyring");
    assert!(!o.stdout.contains(&format!("_ses.{id}")), "{o:#?}");
    t.assert_nothing_left("keyring");
}

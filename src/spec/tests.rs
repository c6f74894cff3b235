use super::checks::check_spec;
use super::id::ID_RULE;
use super::sysctl::sysctl_namespace;
use super::*;
use oci_spec::runtime::LinuxNamespaceType;

fn minimal() -> Value {
    serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs"},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
    })
}

#[test]
fn mounts_under_proc() {
    let with = |mounts: Value| {
        let mut v = minimal();
        v["mounts"] = mounts;
        parse_value(&v)
    };
    let proc = serde_json::json!({"destination": "/proc", "type": "proc", "source": "proc"});
    let bind = |dest: &str| {
        serde_json::json!({"destination": dest, "type": "bind", "source": "/tmp",
                           "options": ["rbind"]})
    };
    for ok in [
        serde_json::json!([proc.clone()]),
        serde_json::json!([proc.clone(), bind("/proc/meminfo"), bind("/proc/net/dev")]),
        serde_json::json!([bind("/proc/sys/kernel/ns_last_pid")]),
        serde_json::json!([bind("/procfoo"), bind("/run/proc")]),
        serde_json::json!([{"destination": "/proc", "type": "bind", "source": "/proc",
                            "options": ["rbind"]}]),
    ] {
        with(ok.clone()).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for (bad, index, dest) in [
        (
            serde_json::json!([proc.clone(), bind("/proc/sys/net")]),
            1,
            "/proc/sys/net",
        ),
        (serde_json::json!([bind("/proc/1")]), 0, "/proc/1"),
        (serde_json::json!([bind("/proc")]), 0, "/proc"),
        (serde_json::json!([bind("/proc/./self")]), 0, "/proc/./self"),
        (
            serde_json::json!([bind("/x/../proc/sys")]),
            0,
            "/x/../proc/sys",
        ),
        (
            serde_json::json!([{"destination": "/proc/meminfo", "type": "tmpfs",
                                "source": "tmpfs"}]),
            0,
            "/proc/meminfo",
        ),
        (
            serde_json::json!([{"destination": "/proc", "type": "tmpfs", "source": "t"}]),
            0,
            "/proc",
        ),
    ] {
        let err = with(bad.clone()).expect_err(&bad.to_string());
        assert!(
            err.contains(&format!(
                "mounts[{index}] (destination {dest}): mounts under /proc"
            )),
            "{bad}: {err}"
        );
    }
}

#[test]
fn ids() {
    let longest = "a".repeat(1024);
    for good in ["abc-1_2.3", "a.b_c+d-e", "0", "A..", longest.as_str()] {
        assert!(check_id(good).is_ok(), "{good:?}");
    }
    let too_long = "a".repeat(1025);
    for bad in [
        "",
        ".",
        "..",
        "../x",
        "a/b",
        ".cache",
        "-x",
        "_a",
        "a b",
        "a\nb",
        "a\0b",
        "a:b",
        "é",
        too_long.as_str(),
    ] {
        let err = check_id(bad).unwrap_err().to_string();
        assert!(err.starts_with("container id"), "{bad:?}: {err}");
        assert!(err.contains(ID_RULE), "{bad:?}: {err}");
        assert!(err.contains("invalid"), "{bad:?}: {err}");
        assert!(err.contains("container ID"), "{bad:?}: {err}");
        assert!(!err.contains('\n'), "{bad:?}: one line: {err}");
    }
}

/// `parse` of a JSON value, the message with its whole context chain.
fn parse_value(v: &Value) -> Result<Spec, String> {
    let text = serde_json::to_vec(v).unwrap();
    parse(&text, Path::new("/b/config.json")).map_err(|e| format!("{e:#}"))
}

#[test]
fn minimal_parses() {
    let spec = parse_value(&minimal()).unwrap();
    assert_eq!(
        spec.process().as_ref().unwrap().args().as_ref().unwrap()[0],
        "true"
    );
}

#[test]
fn unknown_namespace_names_the_field() {
    let mut v = minimal();
    v["linux"]["namespaces"][1]["type"] = "bogus".into();
    let err = parse_value(&v).unwrap_err();
    assert!(err.contains("linux.namespaces[1].type"), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn relative_mount_destination_is_taken_from_the_root_and_empty_is_refused() {
    let mut v = minimal();
    v["mounts"] = serde_json::json!([{"destination": "proc", "type": "proc", "source": "proc"},
        {"destination": "tmp/../x", "type": "tmpfs", "source": "tmpfs"}]);
    let text = serde_json::to_vec(&v).unwrap();
    for spec in [
        super::parse(&text, std::path::Path::new("config.json")).unwrap(),
        super::from_validated(&text).unwrap(),
    ] {
        let dests: Vec<_> = spec
            .mounts()
            .iter()
            .flatten()
            .map(|m| m.destination().clone())
            .collect();
        assert_eq!(
            dests,
            [std::path::PathBuf::from("/proc"), "/tmp/../x".into()]
        );
    }
    // Control: an empty destination names no place and stays refused.
    v["mounts"] = serde_json::json!([{"destination": "", "type": "tmpfs", "source": "tmpfs"}]);
    let err = parse_value(&v).unwrap_err();
    assert!(err.ends_with("mounts[0].destination: empty"), "{err}");
}

#[test]
fn negative_memory_is_refused_but_minus_one_means_unlimited() {
    let mut v = minimal();
    v["linux"]["resources"] = serde_json::json!({"memory": {"limit": -1}});
    assert!(parse_value(&v).is_ok());
    v["linux"]["resources"] = serde_json::json!({"memory": {"limit": -5}});
    let err = parse_value(&v).unwrap_err();
    assert_eq!(
        err,
        "config config.json: linux.resources.memory.limit: -5 is negative"
    );
}

#[test]
fn memory_limit_below_a_page_is_refused_naming_the_minimum() {
    let mut v = minimal();
    for ok in [0, 4096, 1 << 20] {
        v["linux"]["resources"] = serde_json::json!({"memory": {"limit": ok}});
        assert!(parse_value(&v).is_ok(), "{ok}");
    }
    v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 1}});
    let err = parse_value(&v).unwrap_err();
    assert!(
        err.contains("linux.resources.memory.limit: 1 bytes is below"),
        "{err}"
    );
    assert!(err.contains("(4096 bytes)"), "{err}");
}

#[test]
fn arrays_for_objects_and_wrong_types_name_their_field() {
    for (pointer, value, want) in [
        (
            "/linux/resources",
            serde_json::json!([]),
            "linux.resources: invalid type: sequence",
        ),
        (
            "/linux/resources",
            serde_json::json!({"devices": [[]]}),
            "linux.resources.devices[0]: invalid type: sequence",
        ),
        (
            "/linux/namespaces",
            serde_json::json!([{"type": "pid"}, {"type": 5}]),
            "linux.namespaces[1].type: expected a string, got 5",
        ),
        (
            "/process/user",
            serde_json::json!({"uid": "zero", "gid": 0}),
            "process.user.uid: invalid type: string",
        ),
    ] {
        let mut v = minimal();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent).unwrap()[key] = value;
        let err = parse_value(&v).unwrap_err();
        assert!(err.contains(want), "{pointer}: {err}");
        assert!(!err.contains("invalid JSON"), "{pointer}: {err}");
    }
}

#[test]
fn each_mistake_names_its_field() {
    let cases: [(&str, Value, &str); 6] = [
        ("/ociVersion", Value::Null, "ociVersion: missing"),
        ("/ociVersion", 5.into(), "ociVersion: expected a string"),
        (
            "/linux/namespaces",
            serde_json::json!([{"type": "pid"}, {"type": "pid"}]),
            "linux.namespaces[1].type: namespace \"pid\" listed twice",
        ),
        (
            "/process/capabilities",
            serde_json::json!({"bounding": ["CAP_NOPE"]}),
            "process.capabilities.bounding: unknown capability \"CAP_NOPE\"",
        ),
        (
            "/linux/resources",
            serde_json::json!({"cpu": {"quota": -7}}),
            "linux.resources.cpu.quota: -7 is negative",
        ),
        (
            "/process/execCPUAffinity",
            serde_json::json!({"initial": "0-"}),
            "invalid execCPUAffinity \"0-\"",
        ),
    ];
    for (pointer, value, want) in cases {
        let mut v = minimal();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let obj = match parent {
            "" => &mut v,
            p => v.pointer_mut(p).unwrap(),
        };
        if value.is_null() {
            obj.as_object_mut().unwrap().remove(key);
        } else {
            obj[key] = value;
        }
        let err = parse_value(&v).unwrap_err();
        assert!(err.contains(want), "{pointer}: {err}");
    }
}

#[test]
fn broken_json_says_so() {
    let err = parse(b"{\"ociVersion\": ", Path::new("/b/config.json")).unwrap_err();
    assert!(
        format!("{err:#}").starts_with("/b/config.json: invalid JSON"),
        "{err:#}"
    );
}

#[test]
fn template_parses_as_a_spec() {
    for rootless in [false, true] {
        parse_value(&template(rootless)).unwrap();
    }
}

fn with_sysctl(key: &str, nss: Value) -> Result<Spec, String> {
    let mut v = minimal();
    v["linux"]["namespaces"] = nss;
    v["linux"]["sysctl"] = serde_json::json!({ key: "1" });
    parse_value(&v)
}

#[test]
fn sysctl_table() {
    use LinuxNamespaceType::{Ipc, Network, Uts};
    for (key, want) in [
        ("kernel.msgmax", Ok(Ipc)),
        ("kernel.msgmnb", Ok(Ipc)),
        ("kernel.msgmni", Ok(Ipc)),
        ("kernel.sem", Ok(Ipc)),
        ("kernel.shmall", Ok(Ipc)),
        ("kernel.shmmax", Ok(Ipc)),
        ("kernel.shmmni", Ok(Ipc)),
        ("kernel.shm_rmid_forced", Ok(Ipc)),
        ("fs.mqueue.queues_max", Ok(Ipc)),
        ("net.ipv4.ip_forward", Ok(Network)),
        ("net.ipv4.conf.eth0/100.forwarding", Ok(Network)),
        ("kernel.hostname", Err("hostname")),
        ("kernel.domainname", Ok(Uts)),
        ("kernel.core_pattern", Err("whole host")),
        ("kernel.shm_next_id", Err("whole host")),
        ("kernel.msgmax2", Err("whole host")),
        ("vm.overcommit_memory", Err("whole host")),
        ("fs.mqueue", Err("whole host")),
        ("net", Err("whole host")),
        ("netfilter.x", Err("whole host")),
        ("user.max_user_namespaces", Err("whole host")),
        ("net..ipv4", Err("not a sysctl name")),
        ("net./../kernel.core_pattern", Err("not a sysctl name")),
        ("net.ipv4/", Err("not a sysctl name")),
        ("/net.ipv4", Err("not a sysctl name")),
        ("net.a b", Err("not a sysctl name")),
        ("net.a\nb", Err("not a sysctl name")),
        ("", Err("not a sysctl name")),
    ] {
        match (sysctl_namespace(key), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{key:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{key:?}: {got}"),
            (got, want) => panic!("{key:?}: {got:?}, wanted {want:?}"),
        }
    }
}

#[test]
fn sysctl_needs_its_own_namespace() {
    let none = serde_json::json!([{"type": "mount"}]);
    let own = serde_json::json!([{"type": "mount"}, {"type": "ipc"}, {"type": "network"}, {"type": "uts"}]);
    for key in [
        "kernel.shmmax",
        "fs.mqueue.queues_max",
        "net.ipv4.ip_forward",
    ] {
        with_sysctl(key, own.clone()).unwrap();
        let err = with_sysctl(key, none.clone()).unwrap_err();
        assert!(
            err.contains(&format!("linux.sysctl {key:?}")) && err.contains("host's"),
            "{err}"
        );
    }
    let err = with_sysctl("kernel.core_pattern", own.clone()).unwrap_err();
    assert!(
        err.contains("linux.sysctl \"kernel.core_pattern\": not a namespaced sysctl"),
        "{err}"
    );
    let err = with_sysctl("kernel.hostname", own).unwrap_err();
    assert!(err.contains("\"hostname\""), "{err}");
    // Joining a namespace by path counts only when it is not ours.
    for (typ, proc) in [("network", "net"), ("ipc", "ipc")] {
        let key = if typ == "ipc" {
            "kernel.sem"
        } else {
            "net.core.somaxconn"
        };
        for path in [
            format!("/proc/self/ns/{proc}"),
            format!("/proc/1/ns/{proc}"),
        ] {
            if !Path::new(&path).exists() {
                continue;
            }
            let joined = serde_json::json!([{"type": "mount"}, {"type": typ, "path": path}]);
            let err = with_sysctl(key, joined).unwrap_err();
            assert!(err.contains("host's"), "{path}: {err}");
        }
    }
}

#[test]
fn rootfs_propagation_needs_a_mount_namespace() {
    let mut v = minimal();
    v["linux"]["rootfsPropagation"] = "shared".into();
    assert!(parse_value(&v).is_ok());
    v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
    let err = parse_value(&v).unwrap_err();
    assert!(err.contains("linux.rootfsPropagation"), "{err}");
}

#[test]
fn user_namespace_needs_mappings() {
    let mut v = minimal();
    v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}]);
    let spec: Spec = serde_json::from_value(v).unwrap();
    let err = check_spec(&spec).unwrap_err().to_string();
    assert!(err.contains("uidMappings"), "{err}");
}

/// A mount namespace, or a uts namespace that is given a name, joined by
/// path must not be the runtime's own (attack_s13 finding 3); another
/// namespace by path, or our uts without a name, is taken.
#[test]
fn joined_host_mount_and_uts_are_refused() {
    let with = |nss: Value, hostname: Option<&str>| {
        let mut v = minimal();
        v["linux"]["namespaces"] = nss;
        if let Some(h) = hostname {
            v["hostname"] = h.into();
        }
        parse_value(&v)
    };
    let mnt = serde_json::json!([{"type": "mount", "path": "/proc/self/ns/mnt"}]);
    let err = with(mnt, None).unwrap_err();
    assert!(
        err.contains("linux.namespaces: the mount namespace joined by path (/proc/self/ns/mnt) is the runtime's own"),
        "{err}"
    );
    let uts = serde_json::json!([{"type": "mount"}, {"type": "uts", "path": "/proc/self/ns/uts"}]);
    let err = with(uts.clone(), Some("h")).unwrap_err();
    assert!(
        err.contains("hostname/domainname: the uts namespace joined by path"),
        "{err}"
    );
    // Controls: our uts without a name to set; a new uts with one.
    with(uts, None).unwrap();
    let new = serde_json::json!([{"type": "mount"}, {"type": "uts"}]);
    with(new, Some("h")).unwrap();
}

//! docs/spec-fields.md against what outlet does: the table's feature
//! sections agree with `outlet features` (both ways), and the fields the
//! table calls refused are refused, naming the field, while the same
//! bundle without them runs. Each check has a control that shows it can
//! fail.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{OUTLET, T, sh};
use serde_json::{Value, json};

fn table() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/spec-fields.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn features() -> Value {
    let out = std::process::Command::new(OUTLET)
        .arg("features")
        .output()
        .expect("run outlet features");
    assert!(out.status.success(), "outlet features: {out:?}");
    serde_json::from_slice(&out.stdout).expect("features is JSON")
}

/// How a section of the table maps onto the features document.
enum Source {
    /// An array of names: applied rows == the array.
    List(&'static str),
    /// An object of booleans (`/linux/cgroup`): applied rows == the true
    /// keys, and every key is a row.
    Flags(&'static str),
    /// Row name -> pointer of an `enabled` boolean.
    Enabled(&'static [(&'static str, &'static str)]),
}

/// The compared sections, by heading. Every one must be in the table.
const SECTIONS: &[(&str, Source)] = &[
    ("Namespaces", Source::List("/linux/namespaces")),
    ("Mount options", Source::List("/mountOptions")),
    (
        "Mount extensions",
        Source::Enabled(&[("idmap", "/linux/mountExtensions/idmap/enabled")]),
    ),
    ("Hooks", Source::List("/hooks")),
    ("Seccomp actions", Source::List("/linux/seccomp/actions")),
    (
        "Seccomp operators",
        Source::List("/linux/seccomp/operators"),
    ),
    (
        "Seccomp architectures",
        Source::List("/linux/seccomp/archs"),
    ),
    (
        "Seccomp flags",
        Source::List("/linux/seccomp/supportedFlags"),
    ),
    (
        "Memory policy modes",
        Source::List("/linux/memoryPolicy/modes"),
    ),
    (
        "Memory policy flags",
        Source::List("/linux/memoryPolicy/flags"),
    ),
    ("cgroup managers", Source::Flags("/linux/cgroup")),
    (
        "Other features",
        Source::Enabled(&[
            ("seccomp", "/linux/seccomp/enabled"),
            ("apparmor", "/linux/apparmor/enabled"),
            ("selinux", "/linux/selinux/enabled"),
            ("intelRdt", "/linux/intelRdt/enabled"),
            ("netDevices", "/linux/netDevices/enabled"),
        ]),
    ),
];

/// The rows of section `heading`: (name, applied?). None if the section
/// is missing.
fn rows(table: &str, heading: &str) -> Option<Vec<(String, bool)>> {
    let mut inside = false;
    let mut found = false;
    let mut out = Vec::new();
    for line in table.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            inside = h.trim() == heading;
            found |= inside;
            continue;
        }
        if !inside {
            continue;
        }
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once('`') else {
            continue;
        };
        let status = rest.trim_start_matches(' ').trim_start_matches('|').trim();
        out.push((name.to_string(), status.starts_with("applied")));
    }
    found.then_some(out)
}

/// Every disagreement between the table and the features document.
fn compare(table: &str, features: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for (heading, source) in SECTIONS {
        let Some(rows) = rows(table, heading) else {
            errors.push(format!("section {heading:?} missing from the table"));
            continue;
        };
        if rows.is_empty() {
            errors.push(format!("section {heading:?} has no rows"));
            continue;
        }
        let mut seen = BTreeSet::new();
        for (name, _) in &rows {
            if !seen.insert(name.as_str()) {
                errors.push(format!("{heading}: {name} listed twice"));
            }
        }
        let applied: BTreeSet<&str> = rows.iter().filter(|r| r.1).map(|r| r.0.as_str()).collect();
        let (listed, every): (BTreeSet<String>, Option<BTreeSet<String>>) = match source {
            Source::List(p) => {
                let Some(a) = features.pointer(p).and_then(Value::as_array) else {
                    errors.push(format!("{heading}: features has no array at {p}"));
                    continue;
                };
                let l = a
                    .iter()
                    .map(|v| v.as_str().unwrap_or("?").to_string())
                    .collect();
                (l, None)
            }
            Source::Flags(p) => {
                let Some(o) = features.pointer(p).and_then(Value::as_object) else {
                    errors.push(format!("{heading}: features has no object at {p}"));
                    continue;
                };
                let on = o
                    .iter()
                    .filter(|(_, v)| v.as_bool() == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect();
                (on, Some(o.keys().cloned().collect()))
            }
            Source::Enabled(pairs) => {
                let mut on = BTreeSet::new();
                for (name, p) in *pairs {
                    match features.pointer(p).and_then(Value::as_bool) {
                        Some(true) => {
                            on.insert(name.to_string());
                        }
                        Some(false) => {}
                        None => errors.push(format!("{heading}: features has no boolean at {p}")),
                    }
                }
                (on, Some(pairs.iter().map(|p| p.0.to_string()).collect()))
            }
        };
        for name in &listed {
            if !applied.contains(name.as_str()) {
                errors.push(format!(
                    "{heading}: {name} is in outlet features but not a row marked applied"
                ));
            }
        }
        for name in &applied {
            if !listed.contains(*name) {
                errors.push(format!(
                    "{heading}: {name} is marked applied but outlet features does not list it"
                ));
            }
        }
        for name in every.iter().flatten() {
            if !seen.contains(name.as_str()) {
                errors.push(format!("{heading}: {name} (in features) has no row"));
            }
        }
    }
    errors
}

#[test]
fn table_agrees_with_features() {
    let errors = compare(&table(), &features());
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Control: the same comparison catches a row flipped either way, a row
/// left out and a section left out.
#[test]
fn doctored_table_fails_the_comparison() {
    let f = features();
    let good = table();
    let doctor = |from: &str, to: &str| {
        assert!(good.contains(from), "the table has no {from:?}");
        good.replacen(from, to, 1)
    };
    for (what, bad, needle) in [
        (
            "ro flipped to refused",
            doctor("| `ro` | applied", "| `ro` | refused"),
            "Mount options: ro is in outlet features",
        ),
        (
            "S390X flipped to applied",
            doctor(
                "| `SCMP_ARCH_S390X` | refused",
                "| `SCMP_ARCH_S390X` | applied",
            ),
            "SCMP_ARCH_S390X is marked applied",
        ),
        (
            "systemd flipped to applied",
            doctor("| `systemd` | refused", "| `systemd` | applied"),
            "cgroup managers: systemd is marked applied",
        ),
        (
            "time namespace row removed",
            doctor(
                "| `time` | applied | fields::time_namespace_offsets_from_inside |\n",
                "",
            ),
            "Namespaces: time is in outlet features",
        ),
        (
            "hooks section renamed",
            doctor("## Hooks\n", "## Hook kinds\n"),
            "section \"Hooks\" missing",
        ),
    ] {
        let errors = compare(&bad, &f);
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "{what}: wanted {needle:?} among {errors:?}"
        );
    }
    // And features doctored instead: a namespace it stops listing.
    let mut fewer = f.clone();
    fewer["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n != "cgroup");
    let errors = compare(&good, &fewer);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("cgroup is marked applied but outlet features does not list it")),
        "{errors:?}"
    );
}

/// The fields outlet reads but does not act on are refused, naming the
/// field, with nothing left behind; the same bundle without the field runs
/// (the control: the refusal is the field's, not the bundle's).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn unapplied_fields_are_refused_naming_them() {
    let Some(t) = T::new() else { return };
    let cases: [(&str, &str, Value, &str); 3] = [
        (
            "rdt",
            "/linux/intelRdt",
            json!({"closID": "outlet-test"}),
            "linux.intelRdt: not supported",
        ),
        (
            "hier",
            "/linux/resources/memory",
            json!({"useHierarchy": false}),
            "linux.resources.memory.useHierarchy: false is not supported",
        ),
        (
            "check",
            "/linux/resources/memory",
            json!({"checkBeforeUpdate": true}),
            "linux.resources.memory.checkBeforeUpdate: true is not supported",
        ),
    ];
    for (tag, pointer, value, needle) in cases {
        let b = t.bundle(tag, |c| {
            sh(c, "echo ran > /out/ran");
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            if c.pointer(parent).is_none() {
                let (gp, pk) = parent.rsplit_once('/').unwrap();
                c.pointer_mut(gp).unwrap()[pk] = json!({});
            }
            c.pointer_mut(parent).unwrap()[key] = value.clone();
        });
        let id = t.id(tag);
        t.run(&id, &b).expect_fail(tag, needle);
        assert!(!b.out.join("ran").exists(), "{tag}: the container ran");
        assert!(!t.state_dir_exists(&id), "{tag}: state left behind");

        // Control: the bundle minus the field runs.
        let mut c = b.config();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        c.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        b.write_config(&c);
        let id = t.id(&format!("{tag}-ok"));
        t.run(&id, &b)
            .expect_ok(&format!("{tag} without the field"));
        assert!(b.out.join("ran").exists(), "{tag}: control did not run");
    }
}

/// One mount of /proc/self/mountinfo: per-mount options, optional fields
/// (propagation) and superblock options.
struct MountLine {
    opts: Vec<String>,
    optional: Vec<String>,
    sb: Vec<String>,
}

fn mount_line(info: &str, dest: &str) -> Option<MountLine> {
    let line = info.lines().rfind(|l| l.split(' ').nth(4) == Some(dest))?;
    let f: Vec<&str> = line.split(' ').collect();
    let dash = f.iter().position(|x| *x == "-")?;
    let split = |s: &str| s.split(',').map(str::to_string).collect();
    Some(MountLine {
        opts: split(f[5]),
        optional: f[6..dash].iter().map(|s| s.to_string()).collect(),
        sb: split(f.get(dash + 3).copied().unwrap_or("")),
    })
}

/// A host tmpfs at `<dir>/sub` with every per-mount flag set, unmounted
/// when the test ends (also on failure): what the recursive clearing
/// options (rrw, rsuid, ...) must undo below a bind.
fn flagged_submount(t: &T, name: &str) -> std::path::PathBuf {
    use nix::mount::MsFlags as F;
    let dir = t.dir.join(name);
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let flags = F::MS_RDONLY
        | F::MS_NOSUID
        | F::MS_NODEV
        | F::MS_NOEXEC
        | F::MS_NOATIME
        | F::MS_NODIRATIME
        | F::from_bits_retain(256); // MS_NOSYMFOLLOW
    nix::mount::mount(Some("tmpfs"), &sub, Some("tmpfs"), flags, Some("size=1m"))
        .expect("mount a flagged tmpfs");
    let s = sub.clone();
    t.on_cleanup(move || {
        let _ = nix::mount::umount2(&s, nix::mount::MntFlags::MNT_DETACH);
    });
    dir
}

const SUB_FLAGS: &[&str] = &[
    "ro",
    "nosuid",
    "nodev",
    "noexec",
    "noatime",
    "nodiratime",
    "nosymfollow",
];

/// Each mount option of runc's table that has a visible effect, read back
/// from the container's mountinfo: per-mount flags and their inverses on
/// a tmpfs, filesystem flags in the superblock options, the same flags on
/// a bind (set with mount_setattr, not reaching its submount), bind versus
/// rbind, unbindable versus runbindable, and the recursive clearing
/// options undoing a flagged submount. The controls: a tmpfs without
/// options shows none of the flags, and an rbind of the flagged tree
/// without options keeps them all.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn mount_options_show_in_mountinfo() {
    let Some(t) = T::new() else { return };
    let host = flagged_submount(&t, "h");
    let tmpfs: &[(&str, &[&str])] = &[
        ("none", &[]),
        ("ro", &["ro"]),
        ("nosuid", &["nosuid"]),
        ("nodev", &["nodev"]),
        ("noexec", &["noexec"]),
        ("nodiratime", &["nodiratime"]),
        ("nosymfollow", &["nosymfollow"]),
        ("noatime", &["noatime"]),
        ("strictatime", &["strictatime"]),
        ("sync", &["sync"]),
        ("dirsync", &["dirsync"]),
        ("lazytime", &["lazytime"]),
        ("mand", &["mand"]),
        ("rw", &["ro", "rw"]),
        ("suid", &["nosuid", "suid"]),
        ("dev", &["nodev", "dev"]),
        ("exec", &["noexec", "exec"]),
        ("diratime", &["nodiratime", "diratime"]),
        ("symfollow", &["nosymfollow", "symfollow"]),
        ("atime", &["noatime", "atime"]),
        // mount(2) ORs MS_NOATIME with MS_RELATIME (noatime wins, as in
        // runc): relatime alone is the check.
        ("relatime", &["relatime"]),
        ("nostrictatime", &["strictatime", "nostrictatime"]),
        ("async", &["sync", "async"]),
        ("nolazytime", &["lazytime", "nolazytime"]),
        ("nomand", &["mand", "nomand"]),
        ("defaults", &["defaults"]),
        ("shared", &["shared"]),
        ("private", &["shared", "private"]),
    ];
    let binds: &[(&str, &[&str])] = &[
        ("plain", &["rbind"]),
        ("bind", &["bind"]),
        (
            "flags",
            &[
                "rbind",
                "rw",
                "suid",
                "dev",
                "exec",
                "atime",
                "diratime",
                "symfollow",
                "ro",
                "nosuid",
                "nodev",
                "noexec",
                "noatime",
                "nodiratime",
                "nosymfollow",
            ],
        ),
        (
            "rclear",
            &[
                "rbind",
                "rrw",
                "rsuid",
                "rdev",
                "rexec",
                "rdiratime",
                "rsymfollow",
                "ratime",
            ],
        ),
        ("rrelatime", &["rbind", "rrelatime"]),
        ("rnostrictatime", &["rbind", "rnostrictatime"]),
        ("rstrictatime", &["rbind", "rstrictatime"]),
        ("shared", &["rbind", "shared"]),
        ("rshared", &["rbind", "rshared"]),
        ("rprivate", &["rbind", "rshared", "rprivate"]),
        ("unbindable", &["rbind", "unbindable"]),
        ("runbindable", &["rbind", "runbindable"]),
    ];
    let b = t.bundle("m", |c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/m", "type": "tmpfs", "source": "tmpfs"}));
        for (name, opts) in tmpfs {
            m.push(
                json!({"destination": format!("/m/t-{name}"), "type": "tmpfs",
                "source": "tmpfs", "options": opts}),
            );
        }
        for (name, opts) in binds {
            m.push(
                json!({"destination": format!("/m/b-{name}"), "type": "bind",
                "source": host, "options": opts}),
            );
        }
        sh(c, "cat /proc/self/mountinfo > /out/mountinfo");
    });
    b.own_rootfs();
    t.run(&t.id("m"), &b).expect_ok("run");
    let info = std::fs::read_to_string(b.out.join("mountinfo")).unwrap();
    let get = |dest: &str| {
        mount_line(&info, dest).unwrap_or_else(|| panic!("no {dest} in mountinfo:\n{info}"))
    };
    let has = |v: &[String], o: &str| v.iter().any(|x| x == o);

    // Per-mount flags show in field 6, filesystem flags in the superblock's.
    let none = get("/m/t-none");
    for (name, field_is_sb) in [
        ("ro", false),
        ("nosuid", false),
        ("nodev", false),
        ("noexec", false),
        ("nodiratime", false),
        ("nosymfollow", false),
        ("noatime", false),
        ("sync", true),
        ("dirsync", true),
        ("lazytime", true),
        ("mand", true),
    ] {
        let l = get(&format!("/m/t-{name}"));
        let (on, off) = if field_is_sb {
            (&l.sb, &none.sb)
        } else {
            (&l.opts, &none.opts)
        };
        assert!(has(on, name), "t-{name}: {on:?}");
        // Control: the same check on the tmpfs without options fails.
        assert!(!has(off, name), "t-none shows {name}: {off:?}");
    }
    assert!(
        has(&none.opts, "rw") && has(&none.opts, "relatime"),
        "{:?}",
        none.opts
    );
    let st = get("/m/t-strictatime").opts;
    assert!(
        !has(&st, "relatime") && !has(&st, "noatime"),
        "strictatime: {st:?}"
    );
    // The inverse, given after its flag, clears it.
    for (name, cleared, sb) in [
        ("rw", "ro", false),
        ("suid", "nosuid", false),
        ("dev", "nodev", false),
        ("exec", "noexec", false),
        ("diratime", "nodiratime", false),
        ("symfollow", "nosymfollow", false),
        ("atime", "noatime", false),
        ("async", "sync", true),
        ("nolazytime", "lazytime", true),
        ("nomand", "mand", true),
    ] {
        let l = get(&format!("/m/t-{name}"));
        let v = if sb { &l.sb } else { &l.opts };
        assert!(!has(v, cleared), "t-{name} still {cleared}: {v:?}");
    }
    for name in ["atime", "relatime", "nostrictatime", "defaults"] {
        let o = get(&format!("/m/t-{name}")).opts;
        assert!(has(&o, "relatime"), "t-{name}: {o:?}");
    }

    // Control for the binds: an rbind of the flagged tree keeps the flags
    // below, and shows the top as the host has it.
    let plain = get("/m/b-plain/sub").opts;
    for f in SUB_FLAGS {
        assert!(has(&plain, f), "b-plain/sub lacks {f}: {plain:?}");
    }
    assert!(
        mount_line(&info, "/m/b-bind/sub").is_none(),
        "bind (not rbind) brought the submount"
    );
    // Per-mount flags on a bind apply to it, not to its submounts (the
    // "rw suid ..." given first are overridden by the later ones).
    let top = get("/m/b-flags").opts;
    for f in SUB_FLAGS {
        assert!(has(&top, f), "b-flags lacks {f}: {top:?}");
    }
    let top_plain = get("/m/b-plain").opts;
    for f in SUB_FLAGS {
        assert!(!has(&top_plain, f), "b-plain shows {f}: {top_plain:?}");
    }
    // Recursive clearing options undo the submount's flags.
    let cleared = get("/m/b-rclear/sub").opts;
    for f in SUB_FLAGS {
        assert!(!has(&cleared, f), "b-rclear/sub still {f}: {cleared:?}");
    }
    assert!(
        has(&cleared, "rw") && has(&cleared, "relatime"),
        "{cleared:?}"
    );
    for name in ["rrelatime", "rnostrictatime"] {
        let o = get(&format!("/m/b-{name}/sub")).opts;
        assert!(
            has(&o, "relatime") && !has(&o, "noatime"),
            "b-{name}/sub: {o:?}"
        );
    }
    let o = get("/m/b-rstrictatime/sub").opts;
    assert!(
        !has(&o, "relatime") && !has(&o, "noatime"),
        "b-rstrictatime/sub: {o:?}"
    );
    // unbindable stops at the top; runbindable reaches the submount.
    assert!(has(&get("/m/b-unbindable").optional, "unbindable"));
    assert!(!has(&get("/m/b-unbindable/sub").optional, "unbindable"));
    assert!(has(&get("/m/b-runbindable/sub").optional, "unbindable"));
    assert!(!has(&get("/m/b-plain").optional, "unbindable"));
    // shared makes a peer group (rshared one below too); private and
    // rprivate take it away again; the plain rbind is the control.
    let shared = |dest: &str| get(dest).optional.iter().any(|o| o.starts_with("shared:"));
    assert!(shared("/m/t-shared"), "{:?}", get("/m/t-shared").optional);
    assert!(!shared("/m/t-private"));
    assert!(!shared("/m/t-none"));
    assert!(shared("/m/b-shared") && !shared("/m/b-shared/sub"));
    assert!(shared("/m/b-rshared") && shared("/m/b-rshared/sub"));
    assert!(!shared("/m/b-rprivate") && !shared("/m/b-rprivate/sub"));
    assert!(!shared("/m/b-plain") && !shared("/m/b-plain/sub"));
}

/// A profile that allows everything but chmod/fchmodat, which get `action`
/// (with `args`, checked on the mode argument: index 1 of chmod, 2 of
/// fchmodat).
fn chmod_profile(action: &str, arg: Option<Value>) -> Value {
    let rule = |name: &str, index: u64| {
        let mut r = json!({"names": [name], "action": action});
        if let Some(a) = &arg {
            let mut a = a.clone();
            a["index"] = json!(index);
            r["args"] = json!([a]);
        }
        r
    };
    json!({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [rule("chmod", 1), rule("fchmodat", 2)]})
}

/// Each seccomp action and comparison operator, seen from inside: a
/// chmod run in its own shell is allowed, fails with its errno, or is
/// killed by SIGSYS (exit 159). The controls: SCMP_ACT_ALLOW lets the
/// same chmod through, and each operator's rule lets the other mode pass.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_actions_and_operators_take_effect() {
    let Some(t) = T::new() else { return };
    // (action, exit status of `sh -c 'chmod 700 f'`, stderr needle)
    for (action, want, needle) in [
        ("SCMP_ACT_ALLOW", "0", ""),
        ("SCMP_ACT_LOG", "0", ""),
        ("SCMP_ACT_ERRNO", "1", "Operation not permitted"),
        ("SCMP_ACT_TRACE", "1", "Function not implemented"),
        ("SCMP_ACT_KILL", "159", ""),
        ("SCMP_ACT_KILL_THREAD", "159", ""),
        ("SCMP_ACT_KILL_PROCESS", "159", ""),
        ("SCMP_ACT_TRAP", "159", ""),
    ] {
        let tag = action.to_lowercase().replace("scmp_act_", "a-");
        let b = t.bundle(&tag, |c| {
            c["linux"]["seccomp"] = chmod_profile(action, None);
            sh(
                c,
                "touch /out/f; sh -c 'chmod 700 /out/f' 2>/out/err; echo $? > /out/rc",
            );
        });
        t.run(&t.id(&tag), &b).expect_ok(&tag);
        let rc = std::fs::read_to_string(b.out.join("rc")).unwrap();
        let err = std::fs::read_to_string(b.out.join("err")).unwrap();
        assert_eq!(rc.trim(), want, "{action}: {err}");
        assert!(err.contains(needle), "{action}: {err}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(b.out.join("f"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode == 0o700, want == "0", "{action}: mode {mode:o}");
    }
    // chmod 700 (448) and chmod 755 (493): which one each rule denies.
    for (op, value, value_two, deny_700, deny_755) in [
        ("SCMP_CMP_EQ", 448, None, true, false),
        ("SCMP_CMP_NE", 448, None, false, true),
        ("SCMP_CMP_LT", 449, None, true, false),
        ("SCMP_CMP_LE", 448, None, true, false),
        ("SCMP_CMP_GT", 448, None, false, true),
        ("SCMP_CMP_GE", 449, None, false, true),
        // (mode & 0o077) == 0
        ("SCMP_CMP_MASKED_EQ", 0o077, Some(0), true, false),
    ] {
        let tag = op.to_lowercase().replace("scmp_cmp_", "o-");
        let mut arg = json!({"value": value, "op": op});
        if let Some(v2) = value_two {
            arg["valueTwo"] = json!(v2);
        }
        let b = t.bundle(&tag, |c| {
            c["linux"]["seccomp"] = chmod_profile("SCMP_ACT_ERRNO", Some(arg));
            sh(
                c,
                "touch /out/a /out/b; chmod 700 /out/a; echo $? > /out/a.rc; \
                 chmod 755 /out/b; echo $? > /out/b.rc",
            );
        });
        t.run(&t.id(&tag), &b).expect_ok(&tag);
        for (file, deny) in [("a.rc", deny_700), ("b.rc", deny_755)] {
            let rc = std::fs::read_to_string(b.out.join(file)).unwrap();
            assert_eq!(rc.trim() != "0", deny, "{op}: {file} = {rc}");
        }
    }
    t.assert_nothing_left("after run");
}

/// The container's directory in a v1 hierarchy, from its state.
fn v1_dir(t: &T, id: &str, ctrl: &str) -> Option<std::path::PathBuf> {
    let st = common::read_json(&t.root.join(id).join("state.json"));
    st["cgroup"]["v1"][ctrl].as_str().map(Into::into)
}

/// The resource keys no other test reads back, in the v1 files they land
/// in (the VM suite covers v2). The control: a container without them
/// shows other values in the same files, so each check can fail.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn v1_resource_keys_reach_their_files() {
    let Some(t) = T::new() else { return };
    if !Path::new("/sys/fs/cgroup/memory").is_dir() {
        eprintln!("not a cgroup v1 host: the VM suite covers v2");
        return;
    }
    // A whole disk for the throttle (v1 refuses partitions).
    let disk = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with("loop"))
        .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .expect("a block device")
        .trim()
        .to_string();
    let (major, minor) = disk.split_once(':').unwrap();
    let (major, minor): (u64, u64) = (major.parse().unwrap(), minor.parse().unwrap());
    let resources = json!({
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 10,
                   "disableOOMKiller": true},
        "cpu": {"shares": 512, "burst": 1000, "realtimePeriod": 100000,
                "realtimeRuntime": 1000, "cpus": "0", "mems": "0"},
        "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]},
    });
    let throttle = format!("{disk} 1048576");
    let iops = format!("{disk} 100");
    // (controller, file, what the file must contain)
    let want: [(&str, &str, &str); 11] = [
        ("memory", "memory.soft_limit_in_bytes", "33554432"),
        ("memory", "memory.swappiness", "10"),
        ("memory", "memory.oom_control", "oom_kill_disable 1"),
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_burst_us", "1000"),
        ("cpu", "cpu.rt_period_us", "100000"),
        ("cpu", "cpu.rt_runtime_us", "1000"),
        ("cpuset", "cpuset.cpus", "0"),
        ("cpuset", "cpuset.mems", "0"),
        ("blkio", "blkio.throttle.read_bps_device", &throttle),
        ("blkio", "blkio.throttle.write_iops_device", &iops),
    ];
    let read = |id: &str, ctrl: &str, file: &str| {
        let dir = v1_dir(&t, id, ctrl).unwrap_or_else(|| panic!("no v1 {ctrl} dir for {id}"));
        std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let b = t.bundle("res", |c| c["linux"]["resources"] = resources.clone());
    let id = t.id("res");
    t.create_ok(&id, &b);
    let plain = t.bundle("plain", |_| {});
    let pid = t.id("plain");
    t.create_ok(&pid, &plain);
    for (ctrl, file, value) in want {
        let got = read(&id, ctrl, file);
        let has = |text: &str| {
            text.lines()
                .any(|l| l.trim() == value || (value.contains(' ') && l.contains(value)))
        };
        assert!(has(&got), "{file}: {got:?}, wanted {value:?}");
        // cpuset 0 is also the default on a one-node host: only the
        // others make a control.
        if ctrl != "cpuset" {
            let other = read(&pid, ctrl, file);
            assert!(!has(&other), "control {file} already {other:?}");
        }
    }
    // cpu.idle apart: an idle group's weight is the kernel's minimum,
    // whatever cpu.shares says.
    let idle = t.bundle("idle", |c| {
        c["linux"]["resources"] = json!({"cpu": {"idle": 1}})
    });
    let iid = t.id("idle");
    t.create_ok(&iid, &idle);
    assert_eq!(read(&iid, "cpu", "cpu.idle").trim(), "1");
    assert_eq!(read(&pid, "cpu", "cpu.idle").trim(), "0", "control");
    for id in [&id, &pid, &iid] {
        t.outlet(&["delete", "--force", id]).expect_ok("delete");
    }
    t.assert_nothing_left("after delete");
}

/// Every memory policy mode and flag `outlet features` lists, as the
/// kernel reports the policy inside (numa_maps, through probe). The
/// control: without a policy the same report says "default", which every
/// case but MPOL_DEFAULT must not.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn memory_policy_modes_and_flags_from_inside() {
    let Some(t) = T::new() else { return };
    let cases: &[(&str, Value, &str)] = &[
        ("none", Value::Null, "default"),
        ("default", json!({"mode": "MPOL_DEFAULT"}), "default"),
        ("local", json!({"mode": "MPOL_LOCAL"}), "local"),
        ("bind", json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
        (
            "interleave",
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
            "interleave:0",
        ),
        (
            "weighted",
            json!({"mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0"}),
            // probe reports numa_maps up to the first space:
            // "weighted interleave:0" and "prefer (many):0" are cut there.
            "weighted",
        ),
        (
            "preferred",
            json!({"mode": "MPOL_PREFERRED", "nodes": "0"}),
            "prefer:0",
        ),
        (
            "many",
            json!({"mode": "MPOL_PREFERRED_MANY", "nodes": "0"}),
            "prefer",
        ),
        (
            "static",
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "bind=static:0",
        ),
        (
            "relative",
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}),
            "bind=relative:0",
        ),
        (
            "balancing",
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}),
            "bind=balancing:0",
        ),
    ];
    let mut wrong = Vec::new();
    for (tag, policy, want) in cases {
        let b = t.bundle(tag, |c| {
            if !policy.is_null() {
                c["linux"]["memoryPolicy"] = policy.clone();
            }
        });
        let out = t.run(&t.id(tag), &b);
        out.expect_ok(tag);
        let got = out.json()["numa_policy"].clone();
        if got != json!(want) {
            wrong.push(format!("{tag}: {got}, wanted {want:?}"));
        }
        if *tag != "none" && *tag != "default" {
            assert_ne!(got, json!("default"), "{tag}: policy not applied");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The kernel's `struct seccomp_notif` and `struct seccomp_notif_resp`.
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

/// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, ..._resp).
const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const NOTIF_SEND: libc::c_ulong = 0xc018_2101;
const USER_NOTIF_FLAG_CONTINUE: u32 = 1;

/// Accept outlet's connection on `listener`, take the notify fd from the
/// message, answer the container's first notified syscall: with EACCES
/// (`deny`) or by letting it continue. Returns the message text and the
/// syscall number.
fn serve_one_notification(listener: std::os::unix::net::UnixListener, deny: bool) -> (String, i32) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::io::IoSliceMut;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    // Bounded: a runtime that never connects fails the test, not hangs it.
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "outlet never connected to listenerPath"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("accept on listenerPath: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg on the listener connection");
    let len = msg.bytes;
    let mut fd = None;
    for c in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed these fds for us; each is
            // owned once.
            let owned: Vec<OwnedFd> = fds
                .iter()
                .map(|&f| unsafe { OwnedFd::from_raw_fd(f) })
                .collect();
            fd = owned.into_iter().next();
        }
    }
    let text = String::from_utf8_lossy(&buf[..len]).to_string();
    let fd = fd.expect("the message carried the notify fd");
    let mut n = Notif::default();
    // SAFETY: a seccomp notify fd and a zeroed struct of the size the
    // ioctl number encodes; blocks until the container's call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_RECV as _, &mut n as *mut Notif) };
    assert_eq!(
        r,
        0,
        "SECCOMP_IOCTL_NOTIF_RECV: {}",
        std::io::Error::last_os_error()
    );
    let resp = NotifResp {
        id: n.id,
        val: 0,
        error: if deny { -libc::EACCES } else { 0 },
        flags: if deny { 0 } else { USER_NOTIF_FLAG_CONTINUE },
    };
    // SAFETY: the same fd, a response struct of the encoded size.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_SEND as _, &resp as *const NotifResp) };
    assert_eq!(
        r,
        0,
        "SECCOMP_IOCTL_NOTIF_SEND: {}",
        std::io::Error::last_os_error()
    );
    (text, n.nr)
}

/// SCMP_ACT_NOTIFY with listenerPath: outlet hands the notify fd and the
/// container state to the listener, and the listener's answer decides the
/// container's chmod: EACCES when it denies, success when it lets the call
/// continue (the control).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn seccomp_notify_reaches_the_listener() {
    let Some(t) = T::new() else { return };
    for (tag, deny) in [("deny", true), ("allow", false)] {
        let sock = t.dir.join(format!("{tag}.sock"));
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let b = t.bundle(tag, |c| {
            let mut p = chmod_profile("SCMP_ACT_NOTIFY", None);
            p["listenerPath"] = json!(sock);
            p["listenerMetadata"] = json!("outlet-test-metadata");
            c["linux"]["seccomp"] = p;
            sh(
                c,
                "touch /out/f; chmod 700 /out/f 2>/out/err; echo $? > /out/rc",
            );
        });
        let server = std::thread::spawn(move || serve_one_notification(listener, deny));
        t.run(&t.id(tag), &b).expect_ok(tag);
        let (text, nr) = server.join().expect("listener thread");
        assert!(text.contains("seccompFd"), "{tag}: {text}");
        assert!(text.contains("outlet-test-metadata"), "{tag}: {text}");
        assert!(
            [libc::SYS_chmod as i32, libc::SYS_fchmodat as i32].contains(&nr),
            "{tag}: notified syscall {nr}"
        );
        let rc = std::fs::read_to_string(b.out.join("rc")).unwrap();
        let err = std::fs::read_to_string(b.out.join("err")).unwrap();
        if deny {
            assert_ne!(rc.trim(), "0", "{tag}");
            assert!(err.contains("Permission denied"), "{tag}: {err}");
        } else {
            assert_eq!(rc.trim(), "0", "{tag}: {err}");
        }
    }
}

/// `annotations` are kept and reported by `state` as given; a container
/// without them reports none (the control).
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn annotations_are_reported_by_state() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("ann", |c| {
        c["annotations"] = json!({"org.example.k": "v", "outlet.test": "1"});
    });
    let plain = t.bundle("plain", |_| {});
    let id = t.id("ann");
    let pid = t.id("plain");
    t.create_ok(&id, &b);
    t.create_ok(&pid, &plain);
    assert_eq!(
        t.state(&id)["annotations"],
        json!({"org.example.k": "v", "outlet.test": "1"})
    );
    let other = t.state(&pid);
    assert!(
        other["annotations"].is_null() || other["annotations"] == json!({}),
        "{other}"
    );
    for id in [&id, &pid] {
        t.outlet(&["delete", "--force", id]).expect_ok("delete");
    }
}

/// On a host without SELinux a process label cannot be applied: refused,
/// naming the field and leaving nothing; the same bundle without it runs.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn selinux_label_without_selinux_is_refused() {
    let Some(t) = T::new() else { return };
    if Path::new("/sys/fs/selinux/enforce").exists() {
        eprintln!("SELinux is enabled here: the refusal does not apply");
        return;
    }
    let b = t.bundle("se", |c| {
        c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    });
    let id = t.id("se");
    t.run(&id, &b)
        .expect_fail("selinuxLabel", "process.selinuxLabel: \"system_u:system_r:container_t:s0\" requested but SELinux is not enabled on this host");
    assert!(!t.state_dir_exists(&id));
    let mut c = b.config();
    c["process"].as_object_mut().unwrap().remove("selinuxLabel");
    b.write_config(&c);
    t.run(&t.id("se-ok"), &b).expect_ok("without selinuxLabel");
}

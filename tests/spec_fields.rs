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
    let cases: [(&str, &str, Value, &str); 5] = [
        (
            "rdt",
            "/linux/intelRdt",
            json!({"closID": "outlet-test"}),
            "linux.intelRdt: not supported",
        ),
        (
            "netdev",
            "/linux/netDevices",
            json!({"outlet-test0": {}}),
            "linux.netDevices: not supported",
        ),
        (
            "affinity",
            "/process/execCPUAffinity",
            json!({"initial": "0"}),
            "process.execCPUAffinity: not supported",
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

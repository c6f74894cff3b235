//! runc's integration suite, ported (see runcbats_s9.rs for the method):
//! idmap.bats. Each bats test is one mount (or two) of one container in
//! runc; here the mounts of all the "[no userns]" tests share one
//! container and those of the "[userns]" tests another, each mount at
//! its own destination, and every file's owner is checked as the bats
//! test checks it ("=NAME:UID=GID=").
//!
//! Not ported: idmap-with-userns.bats's cases beyond these (the mount's
//! mapping given relative to the container's user namespace is outlet's
//! `ridmap`/`idmap` handling, in mount_options.rs).

mod common;

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

use common::T;
use serde_json::{Value, json};

/// The bats setup's source dirs under `t.dir`, owners as there.
fn sources(t: &T) -> PathBuf {
    let base = t.dir.join("src");
    for d in [
        "source-1",
        "source-2",
        "source-multi1",
        "source-multi2",
        "source-multi3",
    ] {
        std::fs::create_dir_all(base.join(d)).unwrap();
        std::fs::write(base.join(d).join("foo.txt"), "").unwrap();
        if d.contains("multi") {
            for f in ["bar.txt", "baz.txt"] {
                std::fs::write(base.join(d).join(f), "").unwrap();
            }
        }
    }
    let own = |p: &str, u: u32, g: u32| chown(base.join(p), Some(u), Some(g)).unwrap();
    own("source-2/foo.txt", 1, 1);
    own("source-multi1/foo.txt", 100, 211);
    own("source-multi1/bar.txt", 101, 222);
    own("source-multi1/baz.txt", 102, 233);
    own("source-multi2/foo.txt", 200, 211);
    own("source-multi2/bar.txt", 201, 222);
    own("source-multi2/baz.txt", 202, 233);
    own("source-multi3/foo.txt", 5000528, 6000491);
    own("source-multi3/bar.txt", 5000133, 6000337);
    own("source-multi3/baz.txt", 5000999, 6000444);
    base
}

/// `[containerID, hostID, size]` triples as a mapping list.
fn maps(m: &[[u32; 3]]) -> Value {
    m.iter()
        .map(|[c, h, s]| json!({"containerID": c, "hostID": h, "size": s}))
        .collect()
}

fn idmapped(src: &Path, name: &str, dest: &str, uid: &[[u32; 3]], gid: &[[u32; 3]]) -> Value {
    json!({"destination": format!("/tmp/{dest}"), "type": "bind",
           "source": src.join(format!("source-{name}")), "options": ["bind"],
           "uidMappings": maps(uid), "gidMappings": maps(gid)})
}

fn plain(src: &Path, name: &str, dest: &str) -> Value {
    json!({"destination": format!("/tmp/{dest}"), "type": "bind",
           "source": src.join(format!("source-{name}")), "options": ["bind"]})
}

const BASIC: &[[u32; 3]] = &[[0, 100000, 65536]];

/// Runs `script` with `mounts` under a fresh /tmp (so the mount points
/// can be made in the read-only fixture); its stdout.
fn run(t: &T, tag: &str, userns: bool, mounts: Vec<Value>, script: &str) -> String {
    let b = t.bundle(tag, |c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
        m.extend(mounts);
        if userns {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] = maps(BASIC);
            c["linux"]["gidMappings"] = maps(BASIC);
        }
        c["process"]["args"] = json!(["sh", "-c", script]);
    });
    let o = t.outlet(&["run", "-b", b.dir.to_str().unwrap(), &t.id(tag)]);
    o.expect_ok(tag).stdout.clone()
}

const STAT: &str = "for f in /tmp/*/*.txt; do stat -c =%n:%u=%g= $f; done";

#[track_caller]
fn expect(out: &str, want: &[&str]) {
    for w in want {
        assert!(out.contains(&format!("={w}=")), "want ={w}= in:\n{out}");
    }
}

/// The mounts both tests make of source-multi1..3, each a file of its own
/// owners ("same idmap mount (different mappings)", "multiple idmap
/// mounts (different mappings)", "idmap mount (complicated mapping)").
/// `base` is added to the host IDs of m1, m2, m3 and cx: 0 without a
/// user namespace, the container's own 100000 with one, so that the
/// container sees the same owners on them either way.
fn multi_mounts(s: &Path, base: u32) -> Vec<Value> {
    let b =
        |m: &[[u32; 3]]| -> Vec<[u32; 3]> { m.iter().map(|&[c, h, n]| [c, h + base, n]).collect() };
    vec![
        idmapped(
            s,
            "multi1",
            "mount-multi1",
            &[[100, 100000, 100]],
            &[[200, 100000, 100]],
        ),
        idmapped(
            s,
            "multi1",
            "mount-multi1-alt",
            &[[100, 101000, 100]],
            &[[200, 102000, 100]],
        ),
        idmapped(
            s,
            "multi1",
            "m1",
            &b(&[[100, 1100, 3]]),
            &b(&[[200, 1900, 50]]),
        ),
        idmapped(
            s,
            "multi2",
            "m2",
            &b(&[[200, 2200, 3]]),
            &b(&[[200, 2900, 100]]),
        ),
        idmapped(
            s,
            "multi3",
            "m3",
            &b(&[[5000000, 3000, 1000]]),
            &b(&[[6000000, 3000, 500]]),
        ),
        idmapped(
            s,
            "multi1",
            "cx",
            &b(&[[100, 1000, 1], [101, 2000, 1], [102, 3000, 1]]),
            &b(&[[210, 1100, 10], [220, 2200, 10], [230, 3300, 10]]),
        ),
    ]
}

/// The owners the container sees on `multi_mounts`. mount-multi1 and its
/// alt map to fixed host IDs from 100000 up, which the container sees
/// less `shift` (0 without a user namespace, its map's 100000 with one).
#[track_caller]
fn expect_multi_owners(out: &str, shift: u32) {
    let at = |n: u32| n - shift;
    let mut want = Vec::new();
    for (f, u, g) in [("foo", 0, 11), ("bar", 1, 22), ("baz", 2, 33)] {
        want.push(format!(
            "/tmp/mount-multi1/{f}.txt:{}={}",
            at(100000 + u),
            at(100000 + g)
        ));
        want.push(format!(
            "/tmp/mount-multi1-alt/{f}.txt:{}={}",
            at(101000 + u),
            at(102000 + g)
        ));
    }
    for w in [
        "/tmp/m1/foo.txt:1100=1911",
        "/tmp/m1/bar.txt:1101=1922",
        "/tmp/m1/baz.txt:1102=1933",
        "/tmp/m2/foo.txt:2200=2911",
        "/tmp/m2/bar.txt:2201=2922",
        "/tmp/m2/baz.txt:2202=2933",
        "/tmp/m3/foo.txt:3528=3491",
        "/tmp/m3/bar.txt:3133=3337",
        "/tmp/m3/baz.txt:3999=3444",
        "/tmp/cx/foo.txt:1000=1101",
        "/tmp/cx/bar.txt:2000=2202",
        "/tmp/cx/baz.txt:3000=3303",
    ] {
        want.push(w.to_string());
    }
    expect(out, &want.iter().map(String::as_str).collect::<Vec<_>>());
}

// runc: idmap.bats "simple idmap mount [no userns]",
//       idmap.bats "write to an idmap mount [no userns]",
//       idmap.bats "idmap mount with bind mount [no userns]",
//       idmap.bats "same idmap mount (different mappings) [no userns]",
//       idmap.bats "multiple idmap mounts (different mappings) [no userns]",
//       idmap.bats "idmap mount (complicated mapping) [no userns]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn idmap_mounts_without_userns() {
    let Some(t) = T::new() else { return };
    let s = sources(&t);
    let mut mounts = vec![
        idmapped(&s, "1", "mount-1", BASIC, BASIC),
        plain(&s, "1", "bind-mount-1"),
    ];
    mounts.extend(multi_mounts(&s, 0));
    let script = format!("{STAT}; touch /tmp/mount-1/bar 2>&1 || echo touch-refused");
    let out = run(&t, "nous", false, mounts, &script);
    expect(
        &out,
        &[
            "/tmp/mount-1/foo.txt:100000=100000",
            // Control: the same directory bound without a mapping shows
            // the owner on disk.
            "/tmp/bind-mount-1/foo.txt:0=0",
        ],
    );
    expect_multi_owners(&out, 0);
    // Root is unmapped on the idmapped mount: its write is refused.
    assert!(out.contains("Value too large"), "{out}");
    assert!(out.contains("touch-refused"), "{out}");
    assert!(!s.join("source-1/bar").exists());
}

// runc: idmap.bats "simple idmap mount [userns]",
//       idmap.bats "write to an idmap mount [userns]",
//       idmap.bats "idmap mount with propagation flag [userns]",
//       idmap.bats "idmap mount with bind mount [userns]",
//       idmap.bats "two idmap mounts (same mapping) with two bind mounts [userns]",
//       idmap.bats "same idmap mount (different mappings) [userns]",
//       idmap.bats "multiple idmap mounts (different mappings) [userns]",
//       idmap.bats "idmap mount (complicated mapping) [userns]"
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn idmap_mounts_with_userns() {
    let Some(t) = T::new() else { return };
    let s = sources(&t);
    let mut first = idmapped(&s, "1", "mount-1", BASIC, BASIC);
    first["options"] = json!(["bind", "shared"]);
    let mut mounts = vec![
        first,
        plain(&s, "1", "bind-mount-1"),
        plain(&s, "2", "bind-mount-2"),
        idmapped(&s, "2", "mount-2", BASIC, BASIC),
    ];
    mounts.extend(multi_mounts(&s, BASIC[0][1]));
    let script = format!(
        "{STAT}; touch /tmp/mount-1/bar && stat -c =new:%u=%g= /tmp/mount-1/bar; \
         grep ' /tmp/mount-1 ' /proc/self/mountinfo"
    );
    let out = run(&t, "us", true, mounts, &script);
    let (ou, og) = (overflow("uid"), overflow("gid"));
    let bind1 = format!("/tmp/bind-mount-1/foo.txt:{ou}={og}");
    expect(
        &out,
        &[
            "/tmp/mount-1/foo.txt:0=0",
            "/tmp/mount-2/foo.txt:1=1",
            "new:0=0",
            // Control: without a mount mapping, host root's file is
            // outside the container's map and shows as the overflow id.
            &bind1,
            "/tmp/bind-mount-2/foo.txt:65534=65534",
        ],
    );
    expect_multi_owners(&out, BASIC[0][1]);
    let line = out
        .lines()
        .find(|l| l.contains(" /tmp/mount-1 "))
        .unwrap_or_else(|| panic!("no mountinfo line for /tmp/mount-1:\n{out}"));
    assert!(line.contains(" shared:"), "{line}");
    // The file made through the mapping lands on disk as the owner the
    // mapping leads back to: container root is host 100000, which the
    // mount maps to 0.
    let meta = std::fs::metadata(s.join("source-1/bar")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
}

fn overflow(what: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/kernel/overflow{what}"))
        .unwrap()
        .trim()
        .to_string()
}

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
    let mounts = vec![
        idmapped(&s, "1", "mount-1", BASIC, BASIC),
        plain(&s, "1", "bind-mount-1"),
        idmapped(
            &s,
            "multi1",
            "mount-multi1",
            &[[100, 100000, 100]],
            &[[200, 100000, 100]],
        ),
        idmapped(
            &s,
            "multi1",
            "mount-multi1-alt",
            &[[100, 101000, 100]],
            &[[200, 102000, 100]],
        ),
        idmapped(&s, "multi1", "m1", &[[100, 1100, 3]], &[[200, 1900, 50]]),
        idmapped(&s, "multi2", "m2", &[[200, 2200, 3]], &[[200, 2900, 100]]),
        idmapped(
            &s,
            "multi3",
            "m3",
            &[[5000000, 3000, 1000]],
            &[[6000000, 3000, 500]],
        ),
        idmapped(
            &s,
            "multi1",
            "cx",
            &[[100, 1000, 1], [101, 2000, 1], [102, 3000, 1]],
            &[[210, 1100, 10], [220, 2200, 10], [230, 3300, 10]],
        ),
    ];
    let script = format!("{STAT}; touch /tmp/mount-1/bar 2>&1 || echo touch-refused");
    let out = run(&t, "nous", false, mounts, &script);
    expect(
        &out,
        &[
            "/tmp/mount-1/foo.txt:100000=100000",
            "/tmp/mount-multi1/foo.txt:100000=100011",
            "/tmp/mount-multi1/bar.txt:100001=100022",
            "/tmp/mount-multi1/baz.txt:100002=100033",
            "/tmp/mount-multi1-alt/foo.txt:101000=102011",
            "/tmp/mount-multi1-alt/bar.txt:101001=102022",
            "/tmp/mount-multi1-alt/baz.txt:101002=102033",
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
            // Control: the same directory bound without a mapping shows
            // the owner on disk.
            "/tmp/bind-mount-1/foo.txt:0=0",
        ],
    );
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
    let mounts = vec![
        first,
        plain(&s, "1", "bind-mount-1"),
        plain(&s, "2", "bind-mount-2"),
        idmapped(&s, "2", "mount-2", BASIC, BASIC),
        idmapped(
            &s,
            "multi1",
            "mount-multi1",
            &[[100, 100000, 100]],
            &[[200, 100000, 100]],
        ),
        idmapped(
            &s,
            "multi1",
            "mount-multi1-alt",
            &[[100, 101000, 100]],
            &[[200, 102000, 100]],
        ),
        idmapped(
            &s,
            "multi1",
            "m1",
            &[[100, 101100, 3]],
            &[[200, 101900, 50]],
        ),
        idmapped(
            &s,
            "multi2",
            "m2",
            &[[200, 102200, 3]],
            &[[200, 102900, 100]],
        ),
        idmapped(
            &s,
            "multi3",
            "m3",
            &[[5000000, 103000, 1000]],
            &[[6000000, 103000, 500]],
        ),
        idmapped(
            &s,
            "multi1",
            "cx",
            &[[100, 101000, 1], [101, 102000, 1], [102, 103000, 1]],
            &[[210, 101100, 10], [220, 102200, 10], [230, 103300, 10]],
        ),
    ];
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
            "/tmp/mount-multi1/foo.txt:0=11",
            "/tmp/mount-multi1/bar.txt:1=22",
            "/tmp/mount-multi1/baz.txt:2=33",
            "/tmp/mount-multi1-alt/foo.txt:1000=2011",
            "/tmp/mount-multi1-alt/bar.txt:1001=2022",
            "/tmp/mount-multi1-alt/baz.txt:1002=2033",
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
            // Control: without a mount mapping, host root's file is
            // outside the container's map and shows as the overflow id.
            &bind1,
            "/tmp/bind-mount-2/foo.txt:65534=65534",
        ],
    );
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

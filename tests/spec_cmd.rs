//! `outlet spec` writes a config.json that is a valid runtime spec and that
//! outlet itself runs with only the terminal turned off. The run part needs
//! root (skipped otherwise).

mod common;

use std::process::Command;

use common::{OUTLET, T};
use serde_json::{Value, json};

fn spec_in(dir: &std::path::Path, extra: &[&str]) -> Value {
    std::fs::create_dir_all(dir).unwrap();
    let o = Command::new(OUTLET)
        .arg("spec")
        .args(extra)
        .arg("--bundle")
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "outlet spec: {o:?}");
    common::read_json(&dir.join("config.json"))
}

#[test]
fn spec_writes_a_valid_config() {
    let dir = std::env::temp_dir().join(format!("outlet-test-spec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Removed also when an assertion fails.
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(dir.clone());
    let v = spec_in(&dir, &[]);
    // Parses as an OCI runtime spec.
    let spec: oci_spec::runtime::Spec = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["process"]["args"], json!(["sh"]));
    assert_eq!(v["process"]["cwd"], "/");
    let types: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for t in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(types.contains(&t), "{types:?}");
    }
    assert!(spec.mounts().as_ref().is_some_and(|m| !m.is_empty()));
    // Like runc, an existing config.json is not overwritten.
    let o = Command::new(OUTLET)
        .args(["spec", "--bundle"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("config.json"),
        "{o:?}"
    );
    // --rootless maps the caller into a user namespace.
    let dir2 = dir.join("rootless");
    let r = spec_in(&dir2, &["--rootless"]);
    assert!(
        r["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "user"),
        "{r}"
    );
    assert_eq!(r["linux"]["uidMappings"][0]["size"], 1);
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn spec_output_runs() {
    let Some(t) = T::new() else { return };
    let dir = t.dir.join("plain");
    let mut v = spec_in(&dir, &[]);
    std::os::unix::fs::symlink(common::rootfs(), dir.join("rootfs")).unwrap();
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!(["probe", "exit", "7"]);
    std::fs::write(dir.join("config.json"), v.to_string()).unwrap();
    let id = t.id("spec");
    let o = t.outlet(&["run", "--bundle", dir.to_str().unwrap(), &id]);
    assert_eq!(o.code, Some(7), "{o:?}");
}

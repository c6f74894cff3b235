//! Issue 10, rootless bind sources: outlet run by an unprivileged user
//! opens and clones bind sources in the init, inside the user namespace
//! (only root's `create` opens them before the clone). A hostile spec or
//! image must not turn that into reading what the user cannot: a bind of
//! a root-only directory, directly or through a symlink the image puts on
//! the source path, fails naming the mount and shows nothing. Id-mapped
//! binds are refused for rootless containers by name, as runc does.
//!
//! Controls: the same mounts run by root (who may read them) show the
//! secret and make the id-mapped bind, so the checks can see a bind that
//! reached the secret.
//!
//! Needs root to make the user (skipped otherwise).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::T;
use serde_json::{Value, json};

const USER: &str = "outlet-rl-attack";

struct Rootless {
    uid: u32,
    gid: u32,
    bundle: PathBuf,
    xdg: PathBuf,
}

impl Rootless {
    /// `outlet ARGS` as the user, in the bundle.
    fn outlet(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = Command::new("setpriv")
            .args([
                &format!("--reuid={}", self.uid),
                &format!("--regid={}", self.gid),
                "--clear-groups",
                "--",
                common::OUTLET,
            ])
            .args(args)
            .current_dir(&self.bundle)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn config(&self) -> Value {
        common::read_json(&self.bundle.join("config.json"))
    }

    fn write_config(&self, v: &Value) {
        std::fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(v).unwrap(),
        )
        .unwrap();
    }
}

/// A bundle of the user's own (rootfs copy, `spec --rootless`).
fn rootless_bundle(t: &T) -> Rootless {
    let (uid, gid) = t.system_user(USER);
    let bundle = t.dir.join("rl");
    std::fs::create_dir_all(&bundle).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(common::rootfs())
        .arg(bundle.join("rootfs"))
        .status()
        .unwrap();
    assert!(st.success());
    let xdg = t.dir.join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    common::chown_r(&t.dir, uid, gid);
    let r = Rootless {
        uid,
        gid,
        bundle,
        xdg,
    };
    let (code, _, err) = r.outlet(&["spec", "--rootless"]);
    assert_eq!(code, Some(0), "spec --rootless: {err}");
    let mut cfg = r.config();
    cfg["process"]["terminal"] = json!(false);
    r.write_config(&cfg);
    r
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn rootless_binds_reach_only_what_the_user_may() {
    let Some(t) = T::new() else { return };
    let r = rootless_bundle(&t);
    // Root's secret, made after the chown, in a directory below one only
    // root may enter (the source's own mode would not stop an O_PATH open;
    // reading through such a bind is refused by the file's mode anyway).
    let guard = t.dir.join("root-only");
    let secret_dir = guard.join("inner");
    std::fs::create_dir_all(&secret_dir).unwrap();
    let secret = format!("secret {}\n", t.token);
    std::fs::write(secret_dir.join("secret.txt"), &secret).unwrap();
    std::fs::set_permissions(&guard, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The image's symlink on a source path under its rootfs.
    let link = r.bundle.join("rootfs/data");
    std::os::unix::fs::symlink(&secret_dir, &link).unwrap();

    let base = r.config();
    let n = base["mounts"].as_array().unwrap().len();
    let cases = [
        ("direct", secret_dir.clone(), "/secret"),
        ("image-link", link.clone(), "/img"),
    ];
    for (tag, src, dest) in &cases {
        let mut cfg = base.clone();
        cfg["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": dest, "type": "bind", "source": src,
                   "options": ["rbind", "ro"]}));
        cfg["process"]["args"] = json!(["sh", "-c", format!("cat {dest}/secret.txt")]);
        r.write_config(&cfg);
        let id = t.id(&format!("rl-{tag}"));
        let (code, out, err) = r.outlet(&["run", &id]);
        assert_eq!(
            code,
            Some(1),
            "{tag}: the rootless run must fail: {out}{err}"
        );
        assert!(
            err.contains(&format!("mounts[{n}] ({dest})")) && err.contains("ermission denied"),
            "{tag}: the error does not name the mount and the refusal: {err}"
        );
        assert!(!out.contains(&secret), "{tag}: the secret was read: {out}");
        assert!(
            !r.xdg.join("outlet").join(&id).exists(),
            "{tag}: state left"
        );
        eprintln!("{tag}: refused: {}", err.trim());

        // Control: root may read it; the same bind (without the user
        // namespace, which would leave the file to nobody) shows it.
        let b = t.bundle(&format!("root-{tag}"), |c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": dest, "type": "bind", "source": src,
                       "options": ["rbind", "ro"]}));
            c["process"]["args"] = json!(["sh", "-c", format!("cat {dest}/secret.txt")]);
        });
        let o = t.run(&t.id(&format!("root-{tag}")), &b);
        o.expect_ok(&format!("{tag} control as root"));
        assert_eq!(
            o.stdout, secret,
            "{tag} control: root's bind shows the secret"
        );
    }

    // Id-mapped binds: refused for the rootless user by name ...
    let map = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    let idmapped = |src: &Path| {
        json!({"destination": "/mapped", "type": "bind", "source": src,
               "options": ["rbind", "idmap"], "uidMappings": map, "gidMappings": map})
    };
    let own_dir = r.bundle.join("own");
    std::fs::create_dir_all(&own_dir).unwrap();
    common::chown_r(&own_dir, r.uid, r.gid);
    let mut cfg = base.clone();
    cfg["mounts"]
        .as_array_mut()
        .unwrap()
        .push(idmapped(&own_dir));
    cfg["process"]["args"] = json!(["true"]);
    r.write_config(&cfg);
    let id = t.id("rl-idmap");
    let (code, _, err) = r.outlet(&["run", &id]);
    assert_eq!(code, Some(1), "rootless idmap must fail: {err}");
    assert!(
        err.contains(&format!(
            "mounts[{n}] (/mapped): id-mapped mounts are not supported for rootless containers"
        )),
        "{err}"
    );
    assert!(
        !r.xdg.join("outlet").join(&id).exists(),
        "idmap: state left"
    );
    // ... and made for root (the control: the mount itself is sound).
    let b = t.bundle("root-idmap", |c| {
        c["mounts"].as_array_mut().unwrap().push(idmapped(&own_dir));
        c["process"]["args"] = json!(["true"]);
    });
    t.run(&t.id("root-idmap"), &b)
        .expect_ok("the same id-mapped bind as root");
    t.assert_nothing_left("after the rootless binds");
}

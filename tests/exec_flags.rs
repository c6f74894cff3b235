//! `outlet exec`'s overrides of the container's process, each read back
//! from inside the container by `probe report` (the process's own view:
//! getresuid/getresgid, getgroups, /proc/self/status, its environment).
//! The control for each is the same exec without the flag, which must show
//! the container's default instead, so a flag that is parsed and then
//! dropped fails its check.

mod common;

use common::{Out, T};
use serde_json::{Value, json};

/// CAP_NET_RAW: not among the spec template's capabilities.
const NET_RAW_BIT: u64 = 1 << 13;

fn report(t: &T, id: &str, flags: &[&str]) -> Value {
    let args = [&["exec"][..], flags, &[id, "probe", "report"][..]].concat();
    let o = t.outlet(&args);
    o.expect_ok(&format!("exec {flags:?}"));
    o.json()
}

fn ids(r: &Value, which: &str) -> [u64; 3] {
    ["real", "effective", "saved"].map(|k| r[which][k].as_u64().unwrap())
}

fn cap_set(r: &Value, set: &str) -> u64 {
    let hex = r["capabilities"][set].as_str().unwrap();
    u64::from_str_radix(hex, 16).unwrap()
}

fn env_of<'a>(r: &'a Value, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    r["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str().and_then(|e| e.strip_prefix(&prefix)))
        .collect()
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn exec_flags_are_what_the_process_sees() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("flags", |c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
        c["process"]["noNewPrivileges"] = json!(false);
    });
    let id = t.id("flags");
    t.create_ok(&id, &b);

    // The container's defaults, which each flag below must change.
    let plain = report(&t, &id, &[]);
    assert_eq!(ids(&plain, "uid"), [0; 3]);
    assert_eq!(ids(&plain, "gid"), [0; 3]);
    assert_eq!(plain["groups"], json!([]), "no additionalGids in the spec");
    assert_eq!(env_of(&plain, "TERM"), ["xterm"]);
    assert!(env_of(&plain, "OUTLET_EXEC_FLAG").is_empty());
    assert_eq!(plain["no_new_privs"], "0");
    for set in ["effective", "permitted", "bounding"] {
        assert_eq!(cap_set(&plain, set) & NET_RAW_BIT, 0, "{set}: {plain}");
    }

    // -e adds a variable and replaces one the spec sets, keeping one copy.
    let r = report(
        &t,
        &id,
        &["-e", "OUTLET_EXEC_FLAG=a b=c", "--env", "TERM=dumb"],
    );
    assert_eq!(env_of(&r, "OUTLET_EXEC_FLAG"), ["a b=c"]);
    assert_eq!(env_of(&r, "TERM"), ["dumb"]);
    assert_eq!(env_of(&r, "PATH"), env_of(&plain, "PATH"), "the rest stays");

    // -u UID:GID sets all three ids of each; -u UID alone keeps the gid.
    let r = report(&t, &id, &["-u", "1000:1001"]);
    assert_eq!(ids(&r, "uid"), [1000; 3]);
    assert_eq!(ids(&r, "gid"), [1001; 3]);
    let r = report(&t, &id, &["--user", "1002"]);
    assert_eq!(ids(&r, "uid"), [1002; 3]);
    assert_eq!(ids(&r, "gid"), [0; 3]);

    // -g sets the supplementary groups, with -u and without it.
    let r = report(&t, &id, &["-u", "1000:1001", "-g", "4242", "-g", "4343"]);
    assert_eq!(r["groups"], json!([4242, 4343]), "{r}");
    assert_eq!(ids(&r, "uid"), [1000; 3]);
    let r = report(&t, &id, &["--additional-gids", "4242"]);
    assert_eq!(r["groups"], json!([4242]), "{r}");
    assert_eq!(ids(&r, "uid"), [0; 3]);

    // --cap adds the capability to the bounding, permitted and effective
    // sets; the others the container has stay. As uid 0, execve grants
    // root everything in the bounding set, so this shows the bounding set;
    // under no_new_privs execve grants nothing the process did not hold
    // before it, which shows the permitted set. (The effective set is
    // recomputed from the permitted one at execve either way, so it cannot
    // be told apart from outside as root.)
    for extra in [&[][..], &["--no-new-privs"]] {
        let r = report(&t, &id, &[&["--cap", "CAP_NET_RAW"][..], extra].concat());
        for set in ["effective", "permitted", "bounding"] {
            let (got, base) = (cap_set(&r, set), cap_set(&plain, set));
            assert_eq!(got, base | NET_RAW_BIT, "{extra:?} {set}: {r}");
        }
    }

    // --no-new-privs against a container whose process has it off.
    let r = report(&t, &id, &["--no-new-privs"]);
    assert_eq!(r["no_new_privs"], "1");

    // All of them at once, as a caller combines them.
    let r = report(
        &t,
        &id,
        &[
            "-u",
            "1000:1001",
            "-g",
            "4242",
            "-e",
            "OUTLET_EXEC_FLAG=1",
            "--no-new-privs",
        ],
    );
    assert_eq!((ids(&r, "uid"), ids(&r, "gid")), ([1000; 3], [1001; 3]));
    assert_eq!(r["groups"], json!([4242]));
    assert_eq!(env_of(&r, "OUTLET_EXEC_FLAG"), ["1"]);
    assert_eq!(r["no_new_privs"], "1");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

/// A flag's value that is not a number is refused before any process runs,
/// with the flag named; the container goes on as it was.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root")]
fn bad_exec_flag_values_are_refused_by_name() {
    let Some(t) = T::new() else { return };
    let b = t.bundle("badflags", |c| {
        c["process"]["args"] = json!(["sleep", "1000"])
    });
    let id = t.id("badflags");
    t.create_ok(&id, &b);
    let marker = b.out.join("ran");
    let touch = "touch /out/ran";
    let run = |flags: &[&str]| -> Out {
        let args = [&["exec"][..], flags, &[id.as_str(), "sh", "-c", touch][..]].concat();
        t.outlet(&args)
    };
    for (flags, needle) in [
        (&["-u", "nobody"][..], "--user"),
        (&["-u", "1000:staff"], "--user"),
        (&["-u", "4294967296"], "--user"),
        (&["-u", ":0"], "--user"),
        // (An unknown --cap name is warned about and ignored, as runc and
        // crun do: tests/crun_s9.rs crun_exec_add_capability.)
    ] {
        run(flags).expect_exec_fail(&format!("exec {flags:?}"), needle);
        assert!(!marker.exists(), "exec {flags:?} ran the process");
    }
    // -g is typed (u32) on the command line: clap refuses a name as a
    // usage error, naming the flag; exit 1, as runc's usage errors.
    let o = run(&["-g", "wheel"]);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(o.stderr.contains("--additional-gids"), "{o:?}");
    assert!(!marker.exists(), "exec -g wheel ran the process");
    // Control: the same command with good values runs.
    run(&["-u", "0:0", "-g", "1"]).expect_ok("exec with good values");
    assert!(marker.exists(), "the control exec did not run");
    assert_eq!(t.status(&id), "created");
    t.outlet(&["delete", "--force", &id]).expect_ok("delete");
}

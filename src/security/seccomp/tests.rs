//! The filters at work: loaded into forked children, where the kernel
//! enforces them; podman's default profile; the listener; the cache.

use std::os::fd::AsRawFd;

use nix::sys::stat::{FchmodatFlags, Mode};
use nix::unistd::Whence;

use libseccomp::ScmpAction;
use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

use super::*;
use crate::security::testutil::{Outcome, in_child};
#[cfg(target_arch = "x86_64")]
use crate::syscall::testing::i386_syscall;
use crate::syscall::testing::{self as raw, recv_with_fd};

fn errno_of(r: libc::c_long) -> String {
    if r < 0 {
        format!(
            "{}",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
        )
    } else {
        "ok".to_string()
    }
}

/// errno_of for a call made through nix.
fn errno_nix<T>(r: nix::Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => (e as i32).to_string(),
    }
}

/// Load `p` in a forked child with no_new_privs set (as an unprivileged
/// container would), then run `f` under the filter.
fn under_filter(p: &LinuxSeccomp, f: impl Fn() -> String) -> Outcome {
    let prepared = prepare(p).unwrap();
    in_child(move || {
        if nix::sys::prctl::set_no_new_privs().is_err() {
            return Err("PR_SET_NO_NEW_PRIVS failed".into());
        }
        prepared.load("{}").map_err(|e| format!("{e:#}"))?;
        Ok(f())
    })
}

#[test]
fn kernel_returns_the_configured_errno() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    }));
    let out = under_filter(&p, || {
        // Filtered, or on a path that does not exist.
        let mode = Mode::from_bits_truncate(0o644);
        format!(
            "mkdir={} chmod={} getpid={}",
            errno_nix(nix::unistd::mkdir(
                "/nonexistent-outlet-dir/x",
                Mode::S_IRWXU
            )),
            errno_nix(nix::sys::stat::fchmodat(
                None,
                "/nonexistent-outlet-file",
                mode,
                FchmodatFlags::FollowSymlink
            )),
            errno_of(nix::unistd::getpid().as_raw() as _)
        )
    })
    .ok();
    assert_eq!(out, "mkdir=1 chmod=38 getpid=ok");
}

#[test]
fn kernel_default_deny_with_allowlist() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["write", "exit_group", "exit", "getpid", "rt_sigprocmask",
                                "munmap", "sigaltstack", "close"],
                      "action": "SCMP_ACT_ALLOW"}]
    }));
    let out = under_filter(&p, || {
        format!(
            "getpid={} getppid={}",
            errno_of(nix::unistd::getpid().as_raw() as _),
            errno_of(raw::getppid())
        )
    })
    .ok();
    assert_eq!(out, "getpid=ok getppid=1");
}

/// Each operator, on lseek(-1, arg1, arg2): EBADF (9) when the rule does
/// not match, errno 100 when it does.
#[test]
fn kernel_enforces_every_operator() {
    // (operator, value, valueTwo, [(arg1, arg2, expected errno)])
    type Case<'a> = (&'a str, u64, Option<u64>, &'a [(i64, i32, &'a str)]);
    let cases: &[Case] = &[
        ("SCMP_CMP_EQ", 5, None, &[(5, 0, "100"), (4, 0, "9")]),
        ("SCMP_CMP_NE", 5, None, &[(5, 0, "9"), (4, 0, "100")]),
        ("SCMP_CMP_LT", 5, None, &[(4, 0, "100"), (5, 0, "9")]),
        ("SCMP_CMP_LE", 5, None, &[(5, 0, "100"), (6, 0, "9")]),
        ("SCMP_CMP_GE", 5, None, &[(5, 0, "100"), (4, 0, "9")]),
        ("SCMP_CMP_GT", 5, None, &[(6, 0, "100"), (5, 0, "9")]),
        (
            "SCMP_CMP_MASKED_EQ",
            0xf0,
            Some(0x30),
            &[(0x3f, 0, "100"), (0x130, 0, "100"), (0x40, 0, "9")],
        ),
    ];
    for &(op, value, value_two, calls) in cases {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100,
                "args": [{"index": 1, "value": value, "valueTwo": value_two, "op": op},
                         {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]}]
        }));
        let out = under_filter(&p, || {
            let mut v = Vec::new();
            let whence = |w| match w {
                0 => Whence::SeekSet,
                _ => Whence::SeekCur,
            };
            for &(a1, a2, _) in calls {
                v.push(errno_nix(nix::unistd::lseek(-1, a1, whence(a2))));
            }
            // Second condition (arg2 == 0) not met: never matches.
            v.push(errno_nix(nix::unistd::lseek(
                -1,
                calls[0].0,
                Whence::SeekCur,
            )));
            v.join(" ")
        })
        .ok();
        let mut want: Vec<&str> = calls.iter().map(|c| c.2).collect();
        want.push("9");
        assert_eq!(out, want.join(" "), "{op}");
    }
}

/// Dropping unreachable sections must not open the compat ABI: an
/// i386 syscall is refused when the profile leaves x86 out (libseccomp
/// kills on a foreign arch), and follows the profile's rules when it
/// lists x86 (the control: the same calls, allowed through where the
/// profile allows them).
#[test]
#[cfg(target_arch = "x86_64")]
#[cfg_attr(not(outlet_root), ignore = "needs root to load seccomp filters")]
fn kernel_refuses_compat_syscalls_as_the_profile_says() {
    const I386_GETPID: i64 = 20;
    const I386_MKDIR: i64 = 39;
    let with = |arches: serde_json::Value| {
        profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": arches,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        }))
    };
    // Without a filter, the i386 ABI is there: getpid answers, and
    // mkdir(NULL) reaches the kernel and fails on the pointer.
    let unfiltered = in_child(|| {
        Ok(format!(
            "getpid_ok={} mkdir={}",
            i386_syscall(I386_GETPID, 0) > 0,
            -i386_syscall(I386_MKDIR, 0)
        ))
    })
    .ok();
    assert_eq!(
        unfiltered, "getpid_ok=true mkdir=14",
        "i386 ABI unavailable?"
    );

    let no_x86 = with(json!([
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM"
    ]));
    match under_filter(&no_x86, || {
        i386_syscall(I386_GETPID, 0);
        "survived an i386 syscall".into()
    }) {
        Outcome::Signaled(sig, _) => assert_eq!(sig, libc::SIGSYS),
        Outcome::Exited(s, c) => panic!("child exited {c}: {s}"),
    }

    let x86 = with(json!([
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM"
    ]));
    let out = under_filter(&x86, || {
        // A directory that does not exist: the call is refused or fails.
        let native = errno_nix(nix::unistd::mkdir("/nonexistent-outlet/x", Mode::S_IRWXU));
        format!(
            "native_mkdir={native} getpid_ok={} mkdir={}",
            i386_syscall(I386_GETPID, 0) > 0,
            -i386_syscall(I386_MKDIR, 0)
        )
    })
    .ok();
    assert_eq!(out, "native_mkdir=1 getpid_ok=true mkdir=1");
}

#[test]
fn kernel_kill_process_action_kills() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]
    }));
    let out = under_filter(&p, || {
        raw::getppid();
        "survived".into()
    });
    match out {
        Outcome::Signaled(sig, _) => assert_eq!(sig, libc::SIGSYS),
        Outcome::Exited(s, c) => panic!("child exited {c}: {s}"),
    }
}

#[test]
#[cfg_attr(
    not(outlet_root),
    ignore = "needs CAP_SYS_ADMIN to load without no_new_privs"
)]
fn kernel_loads_without_no_new_privs_as_root() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77}]
    }));
    let prepared = prepare(&p).unwrap();
    let out = in_child(|| {
        prepared.load("{}").map_err(|e| format!("{e:#}"))?;
        let nnp = crate::security::testutil::status_field("NoNewPrivs")?;
        let r = errno_of(raw::getppid());
        Ok(format!("nnp={nnp} getppid={r}"))
    })
    .ok();
    assert_eq!(out, "nnp=0 getppid=77");
}

#[test]
fn load_without_privilege_explains_the_order() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}));
    let prepared = prepare(&p).unwrap();
    let out = in_child(|| {
        // Drop CAP_SYS_ADMIN from effective; no no_new_privs.
        let (e, p, i) = crate::security::capabilities::read_current().map_err(|e| e.to_string())?;
        crate::syscall::capset_self(e & !(1 << 21), p, i).map_err(|e| format!("capset: {e}"))?;
        Ok(match prepared.load("{}") {
            Ok(()) => "loaded".into(),
            Err(e) => format!("{e:#}"),
        })
    })
    .ok();
    assert!(
        out.starts_with("linux.seccomp: loading the filter: Permission denied (os error 13): the kernel needs no_new_privs or CAP_SYS_ADMIN"),
        "{out}"
    );
}

const PODMAN_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// What podman (containers/common) does before writing config.json:
/// keep the entries whose `includes` hold and whose `excludes` do not,
/// for the given capabilities on amd64, and turn `archMap` into
/// `architectures`.
fn podman_resolved(raw: &serde_json::Value, caps: &[&str]) -> serde_json::Value {
    let has = |list: Option<&serde_json::Value>, pred: &dyn Fn(&str) -> bool| {
        list.and_then(|l| l.as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str())
                    .map(pred)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut out = raw.clone();
    let syscalls: Vec<serde_json::Value> = raw["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let inc = &e["includes"];
            let exc = &e["excludes"];
            let arches_in = has(inc.get("arches"), &|a| a == "amd64");
            let caps_in = has(inc.get("caps"), &|c| caps.contains(&c));
            let arches_out = has(exc.get("arches"), &|a| a == "amd64");
            let caps_out = has(exc.get("caps"), &|c| caps.contains(&c));
            (arches_in.is_empty() || arches_in.contains(&true))
                && caps_in.iter().all(|&b| b)
                && !arches_out.contains(&true)
                && !caps_out.contains(&true)
        })
        .cloned()
        .collect();
    out["syscalls"] = serde_json::Value::from(syscalls);
    out["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    out
}

/// Podman's profile, resolved for amd64. Its absence fails the test rather
/// than passing it unseen: scripts/install-deps.sh installs it.
pub(super) fn podman_profile() -> (serde_json::Value, LinuxSeccomp) {
    let text = std::fs::read_to_string(PODMAN_PROFILE).unwrap_or_else(|e| {
        panic!("{PODMAN_PROFILE}: {e} (apt package golang-github-containers-common)")
    });
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    let caps = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ];
    let resolved = podman_resolved(&raw, &caps);
    let p: LinuxSeccomp = serde_json::from_value(resolved).expect("oci-spec parses it");
    (raw, p)
}

#[test]
fn podman_default_profile_prepares() {
    let (raw, p) = podman_profile();
    let plan = plan(&p).unwrap();
    assert_eq!(plan.default_action, ScmpAction::Errno(38));
    assert!(plan.rules.len() > 300, "{} rules", plan.rules.len());
    let prepared = prepare(&p).unwrap();
    assert!(prepared.len() > 100);
    // The unresolved file (includes/excludes ignored) is also a valid
    // OCI profile: contradictory entries must not make prepare fail.
    let unresolved: LinuxSeccomp = serde_json::from_value(raw).unwrap();
    prepare(&unresolved).unwrap();
}

#[test]
fn podman_default_profile_runs_a_shell() {
    let (_, p) = podman_profile();
    let dir = crate::security::testutil::TempDir::new("seccomp-shell");
    let d = dir.0.join("work").display().to_string();
    let out = under_filter(&p, move || {
        // A real shell session under the filter: fork, execve, the
        // dynamic loader, file and directory syscalls.
        let script = format!(
            "set -e; mkdir -p {d}/a; echo hello > {d}/a/f; chmod 600 {d}/a/f; cat {d}/a/f; \
             ls {d}/a; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; rm -r {d}"
        );
        // Denied by the profile's explicit ERRNO entry.
        let denied = format!(
            " userfaultfd={} kexec_load={}",
            errno_of(raw::userfaultfd(0)),
            errno_of(raw::kexec_load_nothing())
        );
        let shell = match std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .output()
        {
            Ok(o) => format!(
                "{}{}status={}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr),
                o.status.code().unwrap_or(-1)
            ),
            Err(e) => format!("spawn: {e}"),
        };
        shell + &denied
    })
    .ok();
    assert_eq!(
        out,
        "hello\nf\nNoNewPrivs:\t1\nSeccomp:\t2\nstatus=0 userfaultfd=1 kexec_load=1"
    );
}

#[test]
fn kernel_notify_sends_fd_and_state_to_listener() {
    let dir = crate::security::testutil::TempDir::new("notify");
    let sock_path = dir.0.join("listener.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock_path,
        "listenerMetadata": "MKNOD=/dev/null",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let mut prepared = prepare(&p).unwrap();
    assert_eq!(prepared.listener_path(), Some(sock_path.as_path()));
    // Connected in the parent, as the init's host path will be gone
    // after pivot_root.
    prepared.connect_listener().unwrap();
    assert!(prepared.listener_fd().is_some());
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (msg, fd) = recv_with_fd(&conn);
        let req = libseccomp::ScmpNotifReq::receive(fd.as_raw_fd()).unwrap();
        let name = req.data.syscall.get_name().unwrap_or_default();
        libseccomp::ScmpNotifResp::new_val(req.id, 4242, libseccomp::ScmpNotifRespFlags::empty())
            .respond(fd.as_raw_fd())
            .unwrap();
        (msg, name)
    });
    let state =
        r#"{"ociVersion":"1.2.0","id":"notify-test","status":"created","pid":4321,"bundle":"/b"}"#;
    let out = in_child(|| {
        prepared.load(state).map_err(|e| format!("{e:#}"))?;
        // Answered by the agent with 4242.
        let first = raw::getppid();
        // Once the agent has closed its fd (and load closed ours), the
        // kernel fails notified syscalls with ENOSYS.
        let second = errno_of(raw::getppid());
        Ok(format!("{first} {second}"))
    });
    let (msg, name) = agent.join().unwrap();
    let out = out.ok();
    assert_eq!(name, "getppid");
    let v: serde_json::Value = serde_json::from_str(&msg).unwrap();
    assert_eq!(v["fds"], json!(["seccompFd"]));
    assert_eq!(v["pid"], json!(4321));
    assert_eq!(v["metadata"], json!("MKNOD=/dev/null"));
    assert_eq!(v["state"]["id"], json!("notify-test"));
    assert_eq!(v["ociVersion"], json!(crate::OCI_VERSION));
    assert_eq!(out, "4242 38");
}

fn program_bytes(p: &Prepared) -> Vec<(u16, u8, u8, u32)> {
    p.program
        .iter()
        .map(|i| (i.code, i.jt, i.jf, i.k))
        .collect()
}

#[test]
fn cache_keeps_the_newest_entries() {
    let dir = crate::security::testutil::TempDir::new("seccomp-trim");
    let cache = dir.0.join("cache");
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}));
    let program = compile(&plan(&p).unwrap()).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    let now = std::time::SystemTime::now();
    for i in 0..cache::ENTRIES + 5 {
        let f = cache.join(format!("{i:016x}.bpf"));
        std::fs::write(&f, b"x").unwrap();
        let age = std::time::Duration::from_secs((cache::ENTRIES + 5 - i) as u64);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(now - age)
            .unwrap();
    }
    cache::write(&cache, "newest.bpf", b"k", &program).unwrap();
    let mut left: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), cache::ENTRIES, "{left:?}");
    assert!(left.contains(&"newest.bpf".to_string()));
    // The six oldest went: 0..=5.
    assert!(!left.contains(&format!("{:016x}.bpf", 5)), "{left:?}");
    assert!(left.contains(&format!("{:016x}.bpf", 6)), "{left:?}");
}

#[test]
fn cache_returns_the_same_program_and_is_faster() {
    let (_, p) = podman_profile();
    let dir = crate::security::testutil::TempDir::new("seccomp-cache");
    let cache = dir.0.join("cache");
    let t = std::time::Instant::now();
    let cold = prepare_cached(&p, &cache).unwrap();
    let cold_time = t.elapsed();
    assert!(!cache.exists(), "nothing is written before remember");
    cold.remember();
    let files: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(files.len(), 1, "one entry, no temp file left");
    let t = std::time::Instant::now();
    let warm = prepare_cached(&p, &cache).unwrap();
    let warm_time = t.elapsed();
    eprintln!("seccomp podman profile: compile {cold_time:?}, cached {warm_time:?}");
    assert_eq!(program_bytes(&cold), program_bytes(&warm));
    assert_eq!(program_bytes(&cold), program_bytes(&prepare(&p).unwrap()));
    assert!(warm_time < cold_time, "{warm_time:?} vs {cold_time:?}");

    // A different profile whose entry lands on the same file (forced
    // here by renaming) must not get this program.
    let other = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}));
    let other_file = cache.join(format!(
        "{:016x}.bpf",
        fnv1a(&cache_key(&plan(&other).unwrap()).unwrap())
    ));
    let entry = files[0].as_ref().unwrap().path();
    std::fs::copy(&entry, &other_file).unwrap();
    let got = prepare_cached(&other, &cache).unwrap();
    got.remember();
    assert_eq!(
        program_bytes(&got),
        program_bytes(&prepare(&other).unwrap())
    );

    // A corrupt entry is recompiled, not trusted.
    std::fs::write(&entry, b"garbage").unwrap();
    let again = prepare_cached(&p, &cache).unwrap();
    assert_eq!(program_bytes(&again), program_bytes(&cold));
}

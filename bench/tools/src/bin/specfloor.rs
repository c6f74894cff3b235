//! The spec floor of container start: the least any runtime must do for
//! exactly the benchmark's bundle, in straight-line raw syscalls.
//!
//! `floor` (floor.rs) is the kernel floor: namespaces, a bind, a pivot and
//! an exec. The bench's config.json (`runc spec`, rootfs read-only, args
//! /bin/true, terminal false; bench/driver.py's Bundles) asks for much
//! more, and a runtime that honours it cannot skip any of it.
//! `specfloor ROOTFS CGROUP` does all of it and nothing else, each step by
//! the cheapest kernel interface that does it (the old mount(2) API: one
//! call per mount where fsopen/fsconfig/fsmount/move_mount take four or
//! more; a bind remount where open_tree + mount_setattr + move_mount take
//! three), with no safety checks (no openat2 resolution inside the root, no
//! fstatfs of what was opened), no state files and no sync protocol but
//! one pipe's EOF:
//!
//! parent
//!   1. mkdir the v2 cgroup CGROUP (its parent must exist; the bench runs in
//!      a private mount namespace with a fresh cgroup2 on /sys/fs/cgroup).
//!   2. pipe2, clone3(CLONE_NEW{NS,PID,NET,IPC,UTS} | CLONE_INTO_CGROUP).
//!   3. while the child sets up: load the BPF_PROG_TYPE_CGROUP_DEVICE
//!      program of the config's rules (`linux.resources.devices` is "deny
//!      a rwm", then runc's default allowlist, as outlet builds it:
//!      src/cgroups/devices.rs), attach it to CGROUP, close the pipe's
//!      write end: the child reads EOF before its execve, so the program
//!      is in force before the container's first instruction. The program
//!      is loaded every time: a pinned or remembered program would be
//!      state on disk. (SPECFLOOR_OVERLAP=0 attaches it before the clone
//!      instead, with no pipe: the same CPU, 0.13-0.20 ms more wall time
//!      with a second CPU free; bench/README.md "Session 17: the spec
//!      floor".)
//!   5. wait4 for the child, rmdir CGROUP, exit with the child's status.
//!
//! child (the container's init)
//!   4. make / rslave (runc's default rootfsPropagation), bind ROOTFS onto
//!      itself; mount the config's seven mounts with their options: proc,
//!      /dev tmpfs, devpts, /dev/shm, mqueue, sysfs ro, and /sys/fs/cgroup
//!      (the config has no cgroup namespace, so, as runc and outlet do on
//!      v2, a read-only bind of the container's own cgroup); /dev's nodes
//!      (null zero full random urandom tty, 0666 root:root, made under
//!      umask 0 as runc does) and symlinks (fd stdin stdout stderr ptmx,
//!      and core only where the host has /proc/kcore, as runc does);
//!      pivot_root(".", ".") and detach the old root; maskedPaths (/dev/null
//!      bound over a file, a read-only empty tmpfs over a directory, a
//!      missing path skipped); readonlyPaths (a bind, then a read-only bind
//!      remount); the root remounted read-only; sethostname; RLIMIT_NOFILE;
//!      setgroups/setresgid/setresuid to 0 (root: no keepcaps dance);
//!      drop every capability but the config's three from the bounding set
//!      (up to the first EINVAL: no probe of the last cap); capset
//!      (inheritable empty, which also empties the ambient set: the
//!      config's ambient caps cannot be raised without inheritable ones);
//!      no_new_privs; execve /bin/true with the config's environment.
//!
//! Left out because the spec does not ask for them (runc and outlet do
//! them): bringing up lo in the new network namespace, a new session
//! keyring, setsid, parent-death signal, HOME from /etc/passwd, closing
//! inherited fds beyond 0-2 (this process has none), signal dispositions
//! (fresh from the exec of this binary). The driver times this process like
//! a runtime's `run`; outlet's `run` + `delete` over this number is what
//! outlet pays above what the config demands (bench/README.md, "Session 17:
//! the spec floor"). bench/specfloor-check.sh checks that a container made
//! by it looks the same from inside as outlet's.

// No std runtime set-up before main (signal stack, SIGPIPE, fd checks):
// about a dozen syscalls that no runtime needs for this work.
#![no_main]

use std::ffi::{CStr, CString};
use std::io::Error;
use std::process::exit;
use std::ptr::null;

fn die(what: &str) -> ! {
    eprintln!("specfloor: {what}: {}", Error::last_os_error());
    // _exit: in the child, running the parent's atexit handlers would be wrong.
    unsafe { libc::_exit(127) }
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        eprintln!("specfloor: {s:?} contains a NUL byte");
        exit(2)
    })
}

// ------------------------------------------------------------ device program

/// `struct bpf_insn`; regs holds dst in the low nibble, src in the high.
#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_W: u8 = 0x61;
const LDX_H: u8 = 0x69;
const RSH_K: u8 = 0x77;
const AND_K: u8 = 0x57;
const MOV_K: u8 = 0xb7;
const MOV_X: u8 = 0xbf;
const JEQ_K: u8 = 0x15;
const JNE_K: u8 = 0x55;
const JLE_K: u8 = 0xb5;
const JA: u8 = 0x05;
const EXIT: u8 = 0x95;

/// The config's effective device rules as one straight program: the type
/// once, then per major. Rules (last match wins, none matching denies):
/// "a *:* rwm" deny, then c *:* m, b *:* m, c 1:3 1:8 1:7 5:0 1:5 1:9 5:1
/// 136:* 5:2 10:200 rwm (outlet's list, src/cgroups/devices.rs).
fn device_program() -> Vec<Insn> {
    // (insn, jump target label); labels are resolved to offsets below.
    let mut p: Vec<(Insn, Option<&str>)> = Vec::new();
    let mut labels: Vec<(&str, usize)> = Vec::new();
    let mut op = |code, dst: u8, src: u8, off: i16, imm: i32, to: Option<&'static str>| {
        let insn = Insn {
            code,
            regs: (src << 4) | dst,
            off,
            imm,
        };
        p.push((insn, to));
        p.len()
    };
    // r2 = type (low half of access_type), r3 = access, r4 = major,
    // r5 = minor, r0 = access bits other than mknod; r1 is the ctx.
    op(LDX_H, 2, 1, 0, 0, None);
    op(LDX_W, 3, 1, 0, 0, None);
    op(RSH_K, 3, 0, 0, 16, None);
    op(LDX_W, 4, 1, 4, 0, None);
    op(LDX_W, 5, 1, 8, 0, None);
    op(MOV_X, 0, 3, 0, 0, None);
    op(AND_K, 0, 0, 0, 6, None);
    op(JEQ_K, 2, 0, 0, 2, Some("char"));
    op(JNE_K, 2, 0, 0, 1, Some("deny"));
    op(JEQ_K, 0, 0, 0, 0, Some("allow")); // b *:* m
    let n = op(JA, 0, 0, 0, 0, Some("deny"));
    labels.push(("char", n));
    op(JEQ_K, 0, 0, 0, 0, Some("allow")); // c *:* m
    op(JEQ_K, 4, 0, 0, 136, Some("allow")); // c 136:* rwm
    op(JEQ_K, 4, 0, 0, 1, Some("major1"));
    op(JEQ_K, 4, 0, 0, 5, Some("major5"));
    op(JNE_K, 4, 0, 0, 10, Some("deny"));
    op(JEQ_K, 5, 0, 0, 200, Some("allow")); // c 10:200 rwm
    let n = op(JA, 0, 0, 0, 0, Some("deny"));
    labels.push(("major5", n));
    op(JLE_K, 5, 0, 0, 2, Some("allow")); // c 5:0 5:1 5:2 rwm
    let n = op(JA, 0, 0, 0, 0, Some("deny"));
    labels.push(("major1", n));
    for minor in [3, 5, 7, 8, 9] {
        op(JEQ_K, 5, 0, 0, minor, Some("allow")); // c 1:minor rwm
    }
    let n = op(JA, 0, 0, 0, 0, Some("deny"));
    labels.push(("deny", n));
    op(MOV_K, 0, 0, 0, 0, None);
    let n = op(EXIT, 0, 0, 0, 0, None);
    labels.push(("allow", n));
    op(MOV_K, 0, 0, 0, 1, None);
    op(EXIT, 0, 0, 0, 0, None);
    p.iter()
        .enumerate()
        .map(|(at, &(mut insn, to))| {
            if let Some(to) = to {
                let target = labels.iter().find(|l| l.0 == to).map(|l| l.1);
                // A jump's offset counts from the instruction after it.
                insn.off = (target.unwrap_or_else(|| exit(3)) - at - 1) as i16;
            }
            insn
        })
        .collect()
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Loads the program and attaches it to the cgroup `cg_fd`, with
/// BPF_F_ALLOW_MULTI as runc and outlet attach theirs.
fn attach_device_program(cg_fd: i32) {
    let prog = device_program();
    let license = cstr("Apache");
    let mut load = ProgLoadAttr {
        prog_type: 15, // BPF_PROG_TYPE_CGROUP_DEVICE
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    load.prog_name[..9].copy_from_slice(b"specfloor");
    // SAFETY: the attr is a repr(C) prefix of union bpf_attr and its
    // pointers (insns, license) outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            5, // BPF_PROG_LOAD
            &mut load as *mut ProgLoadAttr,
            size_of::<ProgLoadAttr>() as u32,
        )
    };
    if fd < 0 {
        die("BPF_PROG_LOAD of the device program");
    }
    let mut attach = AttachAttr {
        target_fd: cg_fd as u32,
        attach_bpf_fd: fd as u32,
        attach_type: 6,  // BPF_CGROUP_DEVICE
        attach_flags: 2, // BPF_F_ALLOW_MULTI
        ..Default::default()
    };
    // SAFETY: as above; the attr holds no pointers.
    if unsafe {
        libc::syscall(
            libc::SYS_bpf,
            8, // BPF_PROG_ATTACH
            &mut attach as *mut AttachAttr,
            size_of::<AttachAttr>() as u32,
        )
    } != 0
    {
        die("BPF_PROG_ATTACH of the device program");
    }
    // The attachment holds the program; our fd is dropped at exit.
}

// --------------------------------------------------------------- the child

struct Paths {
    rootfs: CString,
    cgroup: CString,
    /// The container's argv: /bin/true, or what follows CGROUP (for
    /// bench/specfloor-check.sh).
    argv: Vec<CString>,
    /// The read end of a pipe whose write end the parent closes once the
    /// device program is attached; the child waits for that before its
    /// execve. -1 (SPECFLOOR_OVERLAP=0, or no device program): the
    /// program is attached before the clone.
    attached: i32,
    skip: Skip,
}

/// SPECFLOOR_SKIP=step,...: leave steps out, to measure what each costs
/// (bench/README.md "Session 17: the spec floor"); the container is then
/// not the one the config asks for. Steps: cgroup (no cgroup at all),
/// devprog (a cgroup without the device program), mounts (none of the
/// seven, so no /dev, masks or cgroup bind either), dev (/dev's nodes and
/// links), masks (masked and read-only paths, the read-only root), creds
/// (hostname, rlimit, ids, capabilities, no_new_privs).
#[derive(Default)]
struct Skip {
    cgroup: bool,
    devprog: bool,
    mounts: bool,
    dev: bool,
    masks: bool,
    creds: bool,
}

impl Skip {
    fn from_env() -> Skip {
        let mut skip = Skip::default();
        let list = std::env::var("SPECFLOOR_SKIP").unwrap_or_default();
        for step in list.split(',').filter(|s| !s.is_empty()) {
            match step {
                "cgroup" => skip.cgroup = true,
                "devprog" => skip.devprog = true,
                "mounts" => skip.mounts = true,
                "dev" => skip.dev = true,
                "masks" => skip.masks = true,
                "creds" => skip.creds = true,
                _ => {
                    eprintln!("specfloor: SPECFLOOR_SKIP: unknown step {step:?}");
                    exit(2)
                }
            }
        }
        skip
    }
}

/// mount(2) with string arguments; None is a null pointer.
fn mount(
    src: Option<&str>,
    dst: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> i32 {
    let c = |s: Option<&str>| s.map(cstr);
    let (src, fstype, data) = (c(src), c(fstype), c(data));
    let dst = cstr(dst);
    let p = |s: &Option<CString>| s.as_ref().map_or(null(), |s| s.as_ptr());
    // SAFETY: every pointer is a NUL-terminated string alive for the call
    // or null where mount(2) takes null.
    unsafe { libc::mount(p(&src), dst.as_ptr(), p(&fstype), flags, p(&data).cast()) }
}

fn must(rc: i32, what: &str) {
    if rc != 0 {
        die(what);
    }
}

fn child(paths: &Paths) -> ! {
    use libc::{
        MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SLAVE,
        MS_STRICTATIME,
    };
    must(
        mount(None, "/", None, MS_REC | MS_SLAVE, None),
        "make / rslave",
    );
    let rootfs = paths.rootfs.to_str().unwrap_or_else(|_| exit(2));
    must(
        mount(Some(rootfs), rootfs, None, MS_BIND | MS_REC, None),
        "bind the rootfs",
    );
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::chdir(paths.rootfs.as_ptr()) } != 0 {
        die("chdir into the rootfs");
    }
    if !paths.skip.mounts {
        // The config's mounts, relative to the rootfs (the cwd).
        must(
            mount(Some("proc"), "proc", Some("proc"), 0, None),
            "mount /proc",
        );
        must(
            mount(
                Some("tmpfs"),
                "dev",
                Some("tmpfs"),
                MS_NOSUID | MS_STRICTATIME,
                Some("mode=755,size=65536k"),
            ),
            "mount /dev",
        );
        let mkdir = |p: &str| {
            let c = cstr(p);
            // SAFETY: a valid NUL-terminated path.
            if unsafe { libc::mkdir(c.as_ptr(), 0o755) } != 0 {
                die(p);
            }
        };
        mkdir("dev/pts");
        must(
            mount(
                Some("devpts"),
                "dev/pts",
                Some("devpts"),
                MS_NOSUID | MS_NOEXEC,
                Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
            ),
            "mount /dev/pts",
        );
        mkdir("dev/shm");
        must(
            mount(
                Some("shm"),
                "dev/shm",
                Some("tmpfs"),
                MS_NOSUID | MS_NOEXEC | MS_NODEV,
                Some("mode=1777,size=65536k"),
            ),
            "mount /dev/shm",
        );
        mkdir("dev/mqueue");
        must(
            mount(
                Some("mqueue"),
                "dev/mqueue",
                Some("mqueue"),
                MS_NOSUID | MS_NOEXEC | MS_NODEV,
                None,
            ),
            "mount /dev/mqueue",
        );
        must(
            mount(
                Some("sysfs"),
                "sys",
                Some("sysfs"),
                MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY,
                None,
            ),
            "mount /sys",
        );
    }
    let ro_flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if !paths.skip.mounts && !paths.skip.cgroup {
        let cgroup = paths.cgroup.to_str().unwrap_or_else(|_| exit(2));
        must(
            mount(Some(cgroup), "sys/fs/cgroup", None, MS_BIND, None),
            "bind /sys/fs/cgroup",
        );
        must(
            mount(
                None,
                "sys/fs/cgroup",
                None,
                MS_BIND | MS_REMOUNT | ro_flags,
                None,
            ),
            "remount /sys/fs/cgroup read-only",
        );
    }
    // /dev: nodes 0666 whatever the caller's umask, which the container
    // keeps (the config sets none).
    // SAFETY (this block): valid NUL-terminated paths; umask cannot fail.
    if !paths.skip.mounts && !paths.skip.dev {
        unsafe {
            let old = libc::umask(0);
            for (name, major, minor) in [
                ("dev/null", 1, 3),
                ("dev/zero", 1, 5),
                ("dev/full", 1, 7),
                ("dev/random", 1, 8),
                ("dev/urandom", 1, 9),
                ("dev/tty", 5, 0),
            ] {
                let c = cstr(name);
                if libc::mknodat(
                    libc::AT_FDCWD,
                    c.as_ptr(),
                    libc::S_IFCHR | 0o666,
                    libc::makedev(major, minor),
                ) != 0
                {
                    die(name);
                }
            }
            libc::umask(old);
            let mut links = vec![
                ("/proc/self/fd", "dev/fd"),
                ("/proc/self/fd/0", "dev/stdin"),
                ("/proc/self/fd/1", "dev/stdout"),
                ("/proc/self/fd/2", "dev/stderr"),
                ("pts/ptmx", "dev/ptmx"),
            ];
            let kcore = cstr("/proc/kcore");
            if libc::access(kcore.as_ptr(), libc::F_OK) == 0 {
                links.push(("/proc/kcore", "dev/core"));
            }
            for (target, name) in links {
                let (t, n) = (cstr(target), cstr(name));
                if libc::symlink(t.as_ptr(), n.as_ptr()) != 0 {
                    die(name);
                }
            }
        }
    }
    // SAFETY (this block): valid NUL-terminated paths.
    unsafe {
        let dot = cstr(".");
        // pivot_root(".", ".") stacks the old root on the new one: no
        // put_old directory needed. / is rslave already, so the detach
        // cannot propagate to the host.
        if libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) != 0 {
            die("pivot_root");
        }
        if libc::umount2(dot.as_ptr(), libc::MNT_DETACH) != 0 {
            die("detach the old root");
        }
        let slash = cstr("/");
        if libc::chdir(slash.as_ptr()) != 0 {
            die("chdir /");
        }
    }
    if !paths.skip.mounts && !paths.skip.masks {
        // The first masked directory gets an empty read-only tmpfs; the next
        // ones a bind of it (a bind keeps its flags): cheaper than a new tmpfs
        // superblock each.
        let mut empty_dir: Option<&str> = None;
        for p in [
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ] {
            // One call for a file; a directory refuses the file bind with
            // ENOTDIR and gets the tmpfs; a missing path fails with ENOENT.
            if mount(Some("/dev/null"), p, None, MS_BIND, None) == 0 {
                continue;
            }
            match Error::last_os_error().raw_os_error() {
                Some(libc::ENOENT) => continue,
                Some(libc::ENOTDIR) => {
                    match empty_dir {
                        None => must(mount(Some("tmpfs"), p, Some("tmpfs"), ro_flags, None), p),
                        Some(first) => must(mount(Some(first), p, None, MS_BIND, None), p),
                    }
                    empty_dir = Some(p);
                }
                _ => die(p),
            }
        }
        for p in [
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ] {
            if mount(Some(p), p, None, MS_BIND | MS_REC, None) != 0 {
                if Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
                    continue;
                }
                die(p);
            }
            must(
                mount(None, p, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
                p,
            );
        }
        must(
            mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
            "remount / read-only",
        );
    }
    // SAFETY (this block): valid pointers to live data; the process is
    // single-threaded.
    unsafe {
        if !paths.skip.creds {
            if libc::sethostname(c"runc".as_ptr(), 4) != 0 {
                die("sethostname");
            }
            let lim = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: 1024,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                die("RLIMIT_NOFILE");
            }
            // Raw: musl's wrappers signal every thread (rt_sigprocmask pairs
            // around each call); this process has one.
            if libc::syscall(libc::SYS_setgroups, 0, null::<libc::gid_t>()) != 0 {
                die("setgroups");
            }
            if libc::syscall(libc::SYS_setresgid, 0, 0, 0) != 0 {
                die("setresgid");
            }
            if libc::syscall(libc::SYS_setresuid, 0, 0, 0) != 0 {
                die("setresuid");
            }
            // CAP_KILL 5, CAP_NET_BIND_SERVICE 10, CAP_AUDIT_WRITE 29.
            let keep: u64 = (1 << 5) | (1 << 10) | (1 << 29);
            for cap in 0..64 {
                if keep & (1 << cap) != 0 {
                    continue;
                }
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    // EINVAL: past the kernel's last capability.
                    if Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                        break;
                    }
                    die("PR_CAPBSET_DROP");
                }
            }
            #[repr(C)]
            struct Header {
                version: u32,
                pid: i32,
            }
            #[repr(C)]
            #[derive(Clone, Copy)]
            struct Data {
                effective: u32,
                permitted: u32,
                inheritable: u32,
            }
            let hdr = Header {
                version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
                pid: 0,
            };
            let lo = Data {
                effective: keep as u32,
                permitted: keep as u32,
                inheritable: 0,
            };
            let data = [
                lo,
                Data {
                    effective: 0,
                    permitted: 0,
                    inheritable: 0,
                },
            ];
            if libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) != 0 {
                die("capset");
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                die("no_new_privs");
            }
        }
        if paths.attached >= 0 {
            let mut b = 0u8;
            // EOF: the parent attached the program and closed its end.
            if libc::read(paths.attached, (&mut b as *mut u8).cast(), 1) != 0 {
                die("wait for the device program");
            }
        }
        let mut argv: Vec<_> = paths.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(null());
        let envp = [
            c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".as_ptr(),
            c"TERM=xterm".as_ptr(),
            null(),
        ];
        libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
    }
    die("execve")
}

// -------------------------------------------------------------- the parent

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The C entry point (see no_main above); argv as the kernel passed it.
/// # Safety
/// Called by the C start-up code only, with its argc and argv.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: argv holds argc valid NUL-terminated strings.
    let args: Vec<String> = (0..argc as usize)
        .map(|i| {
            unsafe { CStr::from_ptr(*argv.add(i)) }
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    if args.len() < 3 {
        eprintln!(
            "usage: specfloor ROOTFS CGROUP [ARG...] (absolute paths: a rootfs holding \
             /bin/true; a cgroup v2 directory to create, whose parent exists; the \
             container's argv, /bin/true by default)"
        );
        exit(2);
    }
    let overlap = std::env::var_os("SPECFLOOR_OVERLAP").is_none_or(|v| v != "0");
    let mut paths = Paths {
        attached: -1,
        skip: Skip::from_env(),
        rootfs: cstr(&args[1]),
        cgroup: cstr(&args[2]),
        argv: if args.len() > 3 {
            args[3..].iter().map(|a| cstr(a)).collect()
        } else {
            vec![cstr("/bin/true")]
        },
    };
    // SAFETY (this block): valid NUL-terminated paths and out-pointers; the
    // clone without CLONE_VM and with a null stack behaves like fork in
    // this single-threaded process.
    unsafe {
        let cgroup = !paths.skip.cgroup;
        let devprog = cgroup && !paths.skip.devprog;
        let mut cg = -1;
        if cgroup {
            if libc::mkdir(paths.cgroup.as_ptr(), 0o755) != 0 {
                die("mkdir the cgroup");
            }
            cg = libc::open(
                paths.cgroup.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            );
            if cg < 0 {
                die("open the cgroup");
            }
        }
        let overlap = overlap && devprog;
        let mut pipe = [-1; 2];
        if overlap {
            if libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                die("pipe2");
            }
            paths.attached = pipe[0];
        } else if devprog {
            attach_device_program(cg);
        }
        let ns = libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS;
        let mut ca = CloneArgs {
            flags: ns as u64,
            exit_signal: libc::SIGCHLD as u64,
            ..Default::default()
        };
        if cgroup {
            ca.flags |= 0x2_0000_0000; // CLONE_INTO_CGROUP
            ca.cgroup = cg as u64;
        }
        let pid = libc::syscall(
            libc::SYS_clone3,
            &mut ca as *mut CloneArgs,
            size_of::<CloneArgs>(),
        );
        if pid < 0 {
            die("clone3");
        }
        if pid == 0 {
            if overlap {
                libc::close(pipe[1]);
            }
            child(&paths);
        }
        if overlap {
            attach_device_program(cg);
            libc::close(pipe[1]);
            libc::close(pipe[0]);
        }
        if cgroup {
            libc::close(cg);
        }
        let mut status = 0;
        if libc::waitpid(pid as libc::pid_t, &mut status, 0) < 0 {
            die("waitpid");
        }
        if cgroup {
            // The reaped child may still be leaving the cgroup for a moment.
            let mut tries = 0;
            while libc::rmdir(paths.cgroup.as_ptr()) != 0 {
                tries += 1;
                if Error::last_os_error().raw_os_error() != Some(libc::EBUSY) || tries > 1000 {
                    die("rmdir the cgroup");
                }
                libc::usleep(100);
            }
        }
        if libc::WIFEXITED(status) {
            exit(libc::WEXITSTATUS(status));
        }
        exit(128 + libc::WTERMSIG(status));
    }
}

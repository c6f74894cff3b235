//! probe: runs inside a test container and reports, as one JSON object on
//! stdout, what the runtime set up (ids, namespaces, mounts, capabilities,
//! cgroup limits, ...) or exercises a limit (memory, cpu, pids).
//!
//! It is linked statically so it runs in a rootfs that holds nothing else.

mod bpf;
mod json;
mod procs;
mod ptrace;
mod unlock;

use json::Json;
use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::process::exit;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: probe report | mem MIB | spin THREADS SECONDS | forks N | cgroup \
                     | exit N | sleep SECONDS | flock PATH | write PATH | read PATH | mknod PATH b|c MAJOR MINOR \
                     | openw PATH | hunt-exe SECONDS STOPFILE [write] | personality HEX | huge N \
                     | unlock-exe SECONDS STOPFILE [PATH...] | bpf-count [CGROUP_DIR...] | procs NEEDLE... | ptrace-caps SECONDS STOPFILE";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match argv.as_slice() {
        ["report"] => emit(report()),
        ["mem", mib] => mem(parse(mib, "MIB")),
        ["huge", n] => huge(parse(n, "N")),
        ["spin", threads, secs] => emit(spin(parse(threads, "THREADS"), parse(secs, "SECONDS"))),
        ["forks", n] => emit(forks(parse(n, "N"))),
        ["cgroup"] => emit(cgroup()),
        ["exit", n] => parse::<i32>(n, "N"),
        ["sleep", secs] => {
            std::thread::sleep(Duration::from_secs_f64(parse(secs, "SECONDS")));
            0
        }
        ["flock", path] => flock_forever(path),
        ["write", path] => write_file(path),
        ["read", path] => read_file(path),
        ["openw", path] => emit(open_for_write(path)),
        ["personality", v] => personality(v),
        ["hunt-exe", secs, stop] => emit(hunt_exe(parse(secs, "SECONDS"), stop, false)),
        ["hunt-exe", secs, stop, "write"] => emit(hunt_exe(parse(secs, "SECONDS"), stop, true)),
        ["unlock-exe", secs, stop, paths @ ..] => {
            emit(unlock::unlock_exe(parse(secs, "SECONDS"), stop, paths))
        }
        ["bpf-count", dirs @ ..] => bpf::count(dirs),
        ["ptrace-caps", secs, stop] => emit(ptrace::hunt(parse(secs, "SECONDS"), stop)),
        ["procs", needles @ ..] => procs::procs(needles),
        ["mknod", path, kind, major, minor] => {
            mknod(path, kind, parse(major, "MAJOR"), parse(minor, "MINOR"))
        }
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    exit(code);
}

fn parse<T: std::str::FromStr>(s: &str, what: &str) -> T {
    s.parse().unwrap_or_else(|_| {
        eprintln!("probe: {what}: cannot parse {s:?}\n{USAGE}");
        exit(2)
    })
}

/// Prints the object and flushes: several subcommands are followed by an
/// abrupt exit, and a lost line would make a test fail for the wrong reason.
fn emit(j: Json) -> i32 {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", j.render());
    let _ = out.flush();
    0
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn strerror(e: i32) -> String {
    io::Error::from_raw_os_error(e).to_string()
}

fn read_trim(path: &str) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim_end().to_string())
}

fn lines(path: &str) -> Json {
    match fs::read_to_string(path) {
        Ok(s) => Json::from(s.lines().map(str::to_string).collect::<Vec<_>>()),
        Err(_) => Json::Null,
    }
}

fn readlink(path: &str) -> Option<String> {
    fs::read_link(path)
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

fn cstr_field(buf: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn report() -> Json {
    let (mut ruid, mut euid, mut suid) = (0, 0, 0);
    let (mut rgid, mut egid, mut sgid) = (0, 0, 0);
    // SAFETY: the out-pointers are valid locals for the duration of the calls.
    unsafe {
        libc::getresuid(&mut ruid, &mut euid, &mut suid);
        libc::getresgid(&mut rgid, &mut egid, &mut sgid);
    }

    let mut j = Json::obj()
        // SAFETY: getpid/getppid have no preconditions.
        .set("pid", unsafe { libc::getpid() })
        .set("ppid", unsafe { libc::getppid() })
        .set(
            "uid",
            Json::obj()
                .set("real", ruid)
                .set("effective", euid)
                .set("saved", suid),
        )
        .set(
            "gid",
            Json::obj()
                .set("real", rgid)
                .set("effective", egid)
                .set("saved", sgid),
        )
        .set("groups", groups());

    // SAFETY: utsname is plain old data; uname fills it or fails.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } == 0 {
        j.push("hostname", cstr_field(&uts.nodename));
        j.push("domainname", cstr_field(&uts.domainname));
    } else {
        j.push("hostname", Json::Null);
        j.push("domainname", Json::Null);
    }

    j.push("namespaces", namespaces());
    j.push("uid_map", lines("/proc/self/uid_map"));
    j.push("gid_map", lines("/proc/self/gid_map"));
    j.push("mountinfo", lines("/proc/self/mountinfo"));

    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> Json {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .map(|v| Json::from(v.trim()))
            .unwrap_or(Json::Null)
    };
    let mut caps = Json::obj();
    for (key, name) in [
        ("inheritable", "CapInh"),
        ("permitted", "CapPrm"),
        ("effective", "CapEff"),
        ("bounding", "CapBnd"),
        ("ambient", "CapAmb"),
    ] {
        caps.push(key, field(name));
    }
    j.push("capabilities", caps);
    j.push("no_new_privs", field("NoNewPrivs"));
    j.push("seccomp", field("Seccomp"));
    j.push("cgroup", lines("/proc/self/cgroup"));
    j.push("rlimits", rlimits());
    j.push("cwd", readlink("/proc/self/cwd"));
    j.push("fds", fds());
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    j.push("env", env);
    j.push("net_interfaces", net_interfaces());
    // SAFETY: umask cannot fail; the second call restores the original mask.
    let mask = unsafe {
        let m = libc::umask(0);
        libc::umask(m);
        m
    };
    j.push("umask", format!("{mask:04o}"));
    j.push("machine", cstr_field(&uts.machine));
    j.push("sched", sched());
    // SAFETY: ioprio_get(IOPRIO_WHO_PROCESS, 0 = self) with integers only.
    j.push("ioprio", unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) });
    j.push("numa_policy", numa_policy());
    j.push("clocks", clocks());
    j.push("lo_flags", lo_flags());
    j.push("stdio_owner", stdio_owner());
    j.push(
        "oom_score_adj",
        read_trim("/proc/self/oom_score_adj").and_then(|s| s.parse::<i64>().ok()),
    );
    j
}

/// The scheduling policy and real-time priority, as sched_getattr reads
/// them back.
fn sched() -> Json {
    // SAFETY: sched_getscheduler and sched_getparam of ourselves (pid 0);
    // the param out-pointer is a valid local.
    let (policy, prio) = unsafe {
        let mut p: libc::sched_param = std::mem::zeroed();
        let policy = libc::sched_getscheduler(0);
        libc::sched_getparam(0, &mut p);
        (policy, p.sched_priority)
    };
    // SCHED_RESET_ON_FORK is reported in the policy's top bit.
    Json::obj()
        .set("policy", policy & !0x4000_0000)
        .set("reset_on_fork", policy & 0x4000_0000 != 0)
        .set("priority", prio)
}

/// The policy word of the first mapping in numa_maps: the task's policy
/// for mappings without their own ("default", "bind:0", ...).
fn numa_policy() -> Json {
    match fs::read_to_string("/proc/self/numa_maps") {
        Ok(s) => s
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .map(Json::from)
            .unwrap_or(Json::Null),
        Err(_) => Json::Null,
    }
}

/// Whole seconds of CLOCK_MONOTONIC and CLOCK_BOOTTIME (time namespace
/// offsets show here).
fn clocks() -> Json {
    let secs = |clock| {
        // SAFETY: clock_gettime fills a valid local timespec.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec
    };
    Json::obj()
        .set("monotonic", secs(libc::CLOCK_MONOTONIC))
        .set("boottime", secs(libc::CLOCK_BOOTTIME))
}

/// The interface flags of `lo` (SIOCGIFFLAGS); IFF_UP is bit 0.
fn lo_flags() -> Json {
    // SAFETY: a socket of our own for the ioctl, closed below; ifreq is
    // plain data with the name copied in, NUL-terminated by zeroing.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Json::Null;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let r = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        libc::close(fd);
        if r < 0 {
            return Json::Null;
        }
        Json::from(req.ifr_ifru.ifru_flags as i64)
    }
}

/// The owner uid of stdin, stdout and stderr (fstat).
fn stdio_owner() -> Json {
    let mut j = Json::obj();
    for fd in 0..3 {
        // SAFETY: fstat into a valid local.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let v = if unsafe { libc::fstat(fd, &mut st) } == 0 {
            Json::from(st.st_uid as i64)
        } else {
            Json::Null
        };
        j.push(&fd.to_string(), v);
    }
    j
}

fn groups() -> Json {
    // SAFETY: a zero-length query only returns the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n < 0 {
        return Json::Null;
    }
    let mut buf = vec![0 as libc::gid_t; n as usize];
    // SAFETY: buf holds exactly n entries, the size passed.
    let got = unsafe { libc::getgroups(n, buf.as_mut_ptr()) };
    if got < 0 {
        return Json::Null;
    }
    buf.truncate(got as usize);
    Json::from(buf)
}

fn namespaces() -> Json {
    let mut names: Vec<String> = match fs::read_dir("/proc/self/ns") {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => return Json::Null,
    };
    names.sort();
    let mut j = Json::obj();
    for name in names {
        // stat follows the magic link to the nsfs inode, which is the
        // namespace's identity (the same number readlink shows in brackets).
        let ino = fs::metadata(format!("/proc/self/ns/{name}"))
            .ok()
            .map(|m| m.ino());
        j.push(&name, ino);
    }
    j
}

fn rlimits() -> Json {
    let list: [(&str, libc::__rlimit_resource_t); 16] = [
        ("AS", libc::RLIMIT_AS),
        ("CORE", libc::RLIMIT_CORE),
        ("CPU", libc::RLIMIT_CPU),
        ("DATA", libc::RLIMIT_DATA),
        ("FSIZE", libc::RLIMIT_FSIZE),
        ("LOCKS", libc::RLIMIT_LOCKS),
        ("MEMLOCK", libc::RLIMIT_MEMLOCK),
        ("MSGQUEUE", libc::RLIMIT_MSGQUEUE),
        ("NICE", libc::RLIMIT_NICE),
        ("NOFILE", libc::RLIMIT_NOFILE),
        ("NPROC", libc::RLIMIT_NPROC),
        ("RSS", libc::RLIMIT_RSS),
        ("RTPRIO", libc::RLIMIT_RTPRIO),
        ("RTTIME", libc::RLIMIT_RTTIME),
        ("SIGPENDING", libc::RLIMIT_SIGPENDING),
        ("STACK", libc::RLIMIT_STACK),
    ];
    let lim = |v: libc::rlim_t| -> Json {
        if v == libc::RLIM_INFINITY {
            Json::from("unlimited")
        } else {
            Json::from(v)
        }
    };
    let mut j = Json::obj();
    for (name, res) in list {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: rl is a valid out-pointer.
        if unsafe { libc::getrlimit(res, &mut rl) } == 0 {
            j.push(
                name,
                Json::obj()
                    .set("soft", lim(rl.rlim_cur))
                    .set("hard", lim(rl.rlim_max)),
            );
        } else {
            j.push(name, Json::Null);
        }
    }
    j
}

fn fds() -> Json {
    // Collect the names first and close the directory, so the fd that reads
    // the directory is not reported as one the runtime leaked.
    let names: Vec<String> = match fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => return Json::Null,
    };
    let mut fds: Vec<u32> = names.iter().filter_map(|n| n.parse().ok()).collect();
    fds.sort();
    let mut j = Json::obj();
    for fd in fds {
        if let Some(target) = readlink(&format!("/proc/self/fd/{fd}")) {
            j.push(&fd.to_string(), target);
        }
    }
    j
}

fn net_interfaces() -> Json {
    if let Ok(rd) = fs::read_dir("/sys/class/net") {
        let mut v: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        return Json::from(v);
    }
    // No sysfs mounted: /proc/net/dev lists the same interfaces of our netns.
    match fs::read_to_string("/proc/net/dev") {
        Ok(s) => {
            let v: Vec<String> = s
                .lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(|n| n.trim().to_string())
                .collect();
            Json::from(v)
        }
        Err(_) => Json::Null,
    }
}

/// Touches the memory one MiB at a time and reports progress on stderr, so a
/// memory-cgroup OOM kill leaves a trace of how far it got.
fn mem(mib: usize) -> i32 {
    const MIB: usize = 1 << 20;
    let page = 4096;
    let mut chunks: Vec<Vec<u8>> = Vec::with_capacity(mib);
    for i in 0..mib {
        // Zeroed allocations this large come from fresh mmap pages that
        // are not resident until written, hence the explicit touch below.
        let mut chunk = vec![0u8; MIB];
        for off in (0..MIB).step_by(page) {
            // volatile so the optimizer cannot drop writes to memory it
            // sees is never read: the point is to fault every page in.
            // SAFETY: off < MIB = len.
            unsafe { std::ptr::write_volatile(chunk.as_mut_ptr().add(off), 1) };
        }
        chunks.push(chunk);
        if (i + 1) % 16 == 0 {
            eprintln!("probe mem: touched {} MiB", i + 1);
        }
    }
    let touched = chunks.len();
    emit(
        Json::obj()
            .set("requested_mib", mib)
            .set("touched_mib", touched),
    )
}

/// Maps N default-size (2 MiB) huge pages and writes to each, printing the
/// mmap errno or how many were touched. Over a hugetlb cgroup limit the
/// mmap fails with ENOMEM where reservations are limited too
/// (hugetlb.<size>.rsvd.max), else the first page over it is a SIGBUS.
fn huge(n: usize) -> i32 {
    const HUGE: usize = 2 << 20;
    // SAFETY: a fresh anonymous mapping; nothing else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            n * HUGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return emit(Json::obj().set("requested", n).set("mmap_errno", errno));
    }
    for i in 0..n {
        // SAFETY: i * HUGE is inside the n * HUGE bytes just mapped.
        unsafe { std::ptr::write_volatile((p as *mut u8).add(i * HUGE), 1) };
        eprintln!("probe huge: touched {}", i + 1);
    }
    emit(Json::obj().set("requested", n).set("touched", n))
}

fn rusage_self() -> (f64, f64) {
    // SAFETY: rusage is plain old data filled by the kernel.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_utime), t(ru.ru_stime))
}

/// CPU time charged to our cgroup so far, in seconds, where a cgroup
/// filesystem is visible (v2 cpu.stat, else v1 cpuacct.usage).
fn cgroup_cpu_usage() -> Option<f64> {
    if let Ok(stat) = fs::read_to_string("/sys/fs/cgroup/cpu.stat") {
        return stat
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|us| us as f64 / 1e6);
    }
    [
        "/sys/fs/cgroup/cpuacct/cpuacct.usage",
        "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage",
    ]
    .iter()
    .find_map(|p| read_trim(p).and_then(|v| v.parse::<u64>().ok()))
    .map(|ns| ns as f64 / 1e9)
}

fn thread_cpu_seconds() -> f64 {
    // SAFETY: ts is a valid out-pointer; the clock id needs no setup.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Reports three views of the CPU used: the spinning threads' own clocks
/// (only the work), the cgroup's usage over the spin window (when the cgroup
/// is mounted inside), and getrusage of the process, which also counts
/// whatever ran in this process before exec (e.g. a runtime's init code).
fn spin(threads: usize, seconds: f64) -> Json {
    let cg_before = cgroup_cpu_usage();
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let mut x: u64 = 0;
                while Instant::now() < until {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                }
                thread_cpu_seconds()
            })
        })
        .collect();
    let threads_cpu: f64 = handles.into_iter().filter_map(|h| h.join().ok()).sum();
    let wall = start.elapsed().as_secs_f64();
    let cg_after = cgroup_cpu_usage();
    let (user, sys) = rusage_self();
    Json::obj()
        .set("threads", threads)
        .set("seconds", seconds)
        .set("wall_s", wall)
        .set("threads_cpu_s", threads_cpu)
        .set(
            "cgroup_usage_s",
            cg_before.zip(cg_after).map(|(b, a)| a - b),
        )
        .set("user_s", user)
        .set("sys_s", sys)
        .set("cpu_s", user + sys)
}

/// Forks sleeping children until N or the first failure (EAGAIN under a pids
/// limit), then kills and reaps them: the container must outlive the limit.
fn forks(n: usize) -> Json {
    let mut pids = Vec::new();
    let mut first_errno: Option<i32> = None;
    for _ in 0..n {
        // SAFETY: single-threaded here; the child only calls async-signal-safe
        // functions (pause, _exit).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe {
                libc::pause();
                libc::_exit(0);
            }
        }
        if pid < 0 {
            first_errno = Some(errno());
            break;
        }
        pids.push(pid);
    }
    let succeeded = pids.len();
    for &pid in &pids {
        // SAFETY: pid is our own unreaped child, so it cannot be recycled.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for &pid in &pids {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    Json::obj()
        .set("requested", n)
        .set("succeeded", succeeded)
        .set("first_errno", first_errno)
        .set("first_error", first_errno.map(strerror))
}

fn cgroup() -> Json {
    let root = "/sys/fs/cgroup";
    // SAFETY: statfs is plain old data filled by the kernel.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    let c = CString::new(root).expect("no NUL in a literal");
    let fs_type = if unsafe { libc::statfs(c.as_ptr(), &mut sfs) } == 0 {
        match sfs.f_type {
            libc::CGROUP2_SUPER_MAGIC => Json::from("cgroup2"),
            libc::TMPFS_MAGIC => Json::from("tmpfs"),
            libc::CGROUP_SUPER_MAGIC => Json::from("cgroup"),
            other => Json::from(format!("{other:#x}")),
        }
    } else {
        Json::Null
    };
    let mut v2 = Json::obj();
    for f in [
        "cgroup.controllers",
        "cpu.max",
        "cpu.weight",
        "memory.max",
        "memory.low",
        "memory.high",
        "memory.swap.max",
        "pids.max",
        "io.max",
        "io.weight",
        "cpuset.cpus",
        "cpuset.mems",
    ] {
        v2.push(f, read_trim(&format!("{root}/{f}")));
    }
    let mut v1 = Json::obj();
    for f in [
        "cpu/cpu.cfs_quota_us",
        "cpu/cpu.cfs_period_us",
        "cpu/cpu.shares",
        "memory/memory.limit_in_bytes",
        "memory/memory.soft_limit_in_bytes",
        "memory/memory.memsw.limit_in_bytes",
        "pids/pids.max",
        "cpuset/cpuset.cpus",
        "cpuset/cpuset.mems",
        "blkio/blkio.weight",
    ] {
        v1.push(f, read_trim(&format!("{root}/{f}")));
    }
    Json::obj()
        .set("fs_type", fs_type)
        .set("self", lines("/proc/self/cgroup"))
        .set("v2", v2)
        .set("v1", v1)
}

/// The file-touching subcommands exit 1 when the operation failed, so a
/// shell test can branch on the status and still read the errno from JSON.
fn outcome(j: Json, res: io::Result<()>) -> i32 {
    match res {
        Ok(()) => {
            emit(
                j.set("ok", true)
                    .set("errno", Json::Null)
                    .set("error", Json::Null),
            );
            0
        }
        Err(e) => {
            let no = e.raw_os_error();
            emit(
                j.set("ok", false)
                    .set("errno", no)
                    .set("error", e.to_string()),
            );
            1
        }
    }
}

/// Holds an exclusive flock on PATH (created) until killed: a lock for
/// checkpoint/restore to carry over (busybox-static has no flock applet).
fn flock_forever(path: &str) -> i32 {
    use std::os::fd::AsRawFd;
    let f = match fs::File::create(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("probe: flock {path}: {e}");
            return 1;
        }
    };
    // SAFETY: flock on an fd we own; no memory is passed.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        eprintln!("probe: flock {path}: {}", std::io::Error::last_os_error());
        return 1;
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn write_file(path: &str) -> i32 {
    let res = fs::write(path, b"written by probe\n");
    outcome(Json::obj().set("op", "write").set("path", path), res)
}

fn read_file(path: &str) -> i32 {
    use std::io::Read;
    // Bounded: character devices such as /dev/zero never reach EOF.
    let mut buf = Vec::new();
    let res = fs::File::open(path)
        .and_then(|f| f.take(65536).read_to_end(&mut buf))
        .map(|_| ());
    let content = match res {
        Ok(()) => Json::from(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => Json::Null,
    };
    let j = Json::obj()
        .set("op", "read")
        .set("path", path)
        .set("bytes", buf.len())
        .set("content", content);
    outcome(j, res)
}

fn mknod(path: &str, kind: &str, major: u32, minor: u32) -> i32 {
    let j = Json::obj()
        .set("op", "mknod")
        .set("path", path)
        .set("kind", kind)
        .set("major", major)
        .set("minor", minor);
    let mode = match kind {
        "b" => libc::S_IFBLK,
        "c" | "u" => libc::S_IFCHR,
        _ => {
            eprintln!("probe mknod: kind must be b or c\n{USAGE}");
            return 2;
        }
    } | 0o600;
    let c = match CString::new(std::ffi::OsStr::new(path).as_bytes()) {
        Ok(c) => c,
        Err(_) => return 2,
    };
    // SAFETY: c is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mknod(c.as_ptr(), mode, libc::makedev(major, minor)) };
    let res = if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    };
    outcome(j, res)
}

fn open_raw(path: &str, flags: i32) -> Result<i32, i32> {
    let Ok(c) = CString::new(path) else {
        return Err(libc::EINVAL);
    };
    // SAFETY: c is a valid NUL-terminated path for the duration of the call.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 { Err(errno()) } else { Ok(fd) }
}

fn close(fd: i32) {
    // SAFETY: closing an fd this process opened and owns.
    unsafe { libc::close(fd) };
}

/// The two ways into a file for writing that the CVE-2019-5736 exploit
/// used: open(O_WRONLY) directly (ETXTBSY while the binary runs, so also
/// without O_TRUNC), and O_PATH now, reopened through /proc/self/fd later.
/// Never truncates: a success must be reported, not do damage.
fn open_for_write(path: &str) -> Json {
    let direct = open_raw(path, libc::O_WRONLY | libc::O_NONBLOCK);
    if let Ok(fd) = direct {
        close(fd);
    }
    let opath = open_raw(path, libc::O_PATH);
    let reopen = opath.map(|fd| {
        let r = open_raw(
            &format!("/proc/self/fd/{fd}"),
            libc::O_WRONLY | libc::O_NONBLOCK,
        );
        if let Ok(w) = r {
            close(w);
        }
        close(fd);
        r
    });
    let res = |r: Result<i32, i32>| match r {
        Ok(_) => Json::obj().set("ok", true),
        Err(e) => Json::obj()
            .set("ok", false)
            .set("errno", e)
            .set("error", strerror(e)),
    };
    let mut j = Json::obj()
        .set("path", path)
        .set("target", readlink(path))
        .set("direct_write", res(direct))
        .set("o_path", res(opath));
    match reopen {
        Ok(r) => j.push("reopen_write", res(r)),
        Err(_) => j.push("reopen_write", Json::Null),
    }
    j
}

/// Scans /proc/*/exe of every other process it can see, again and again,
/// until SECONDS pass or STOPFILE exists: each is tried with open(O_WRONLY)
/// and with O_PATH; O_PATH fds are kept and retried for writing through
/// /proc/self/fd on every round and once more at the end (the exploit waits
/// for the runtime to exit so the binary is no longer busy). With `write`,
/// the exploit's last step too: every fd that opens for writing gets
/// `HUNTER` written over its first bytes (the tests that pass it attack a
/// throwaway copy of outlet, and compare it with the original after).
fn hunt_exe(seconds: f64, stop: &str, write: bool) -> Json {
    let me = std::process::id().to_string();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut rounds = 0u64;
    let mut tries = 0u64;
    let mut pids_seen = std::collections::BTreeSet::new();
    let mut errors: std::collections::BTreeMap<String, u64> = Default::default();
    // A set: a held fd that stays writable would otherwise be listed on
    // every round.
    let mut write_opens = std::collections::BTreeSet::new();
    let mut held: Vec<(i32, String)> = Vec::new();
    let mut held_targets = std::collections::BTreeSet::new();
    let mut writes = std::collections::BTreeSet::new();
    // Overwrites the start of what `w` opened, when asked to.
    let mut overwrite = |w: i32, what: &str| {
        if write {
            let marker = b"HUNTER";
            // SAFETY: writes from a live buffer into an fd we own.
            let n = unsafe { libc::pwrite(w, marker.as_ptr().cast(), marker.len(), 0) };
            let r = if n < 0 {
                strerror(errno())
            } else {
                format!("{n} bytes")
            };
            writes.insert(format!("{what}: {r}"));
        }
        close(w);
    };
    let retry_held = |held: &[(i32, String)],
                      write_opens: &mut std::collections::BTreeSet<String>,
                      overwrite: &mut dyn FnMut(i32, &str)| {
        for (fd, what) in held {
            if let Ok(w) = open_raw(
                &format!("/proc/self/fd/{fd}"),
                libc::O_WRONLY | libc::O_NONBLOCK,
            ) {
                let what = format!("reopen {what}");
                overwrite(w, &what);
                write_opens.insert(what);
            }
        }
    };
    while Instant::now() < deadline && fs::metadata(stop).is_err() {
        rounds += 1;
        let Ok(rd) = fs::read_dir("/proc") else { break };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == me || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            pids_seen.insert(name.clone());
            let exe = format!("/proc/{name}/exe");
            tries += 1;
            match open_raw(&exe, libc::O_WRONLY | libc::O_NONBLOCK) {
                Ok(fd) => {
                    let what = format!("direct {exe} -> {:?}", readlink(&exe));
                    overwrite(fd, &what);
                    write_opens.insert(what);
                }
                Err(e) => *errors.entry(strerror(e)).or_default() += 1,
            }
            match open_raw(&exe, libc::O_PATH) {
                Ok(fd) => {
                    let target = readlink(&format!("/proc/self/fd/{fd}")).unwrap_or_default();
                    // One fd per distinct binary is enough to retry.
                    if held.len() < 512 && held_targets.insert(target.clone()) {
                        held.push((fd, format!("{exe} -> {target}")));
                    } else {
                        close(fd);
                    }
                }
                Err(e) => {
                    *errors
                        .entry(format!("O_PATH: {}", strerror(e)))
                        .or_default() += 1
                }
            }
        }
        retry_held(&held, &mut write_opens, &mut overwrite);
    }
    std::thread::sleep(Duration::from_millis(200));
    retry_held(&held, &mut write_opens, &mut overwrite);
    let mut errs = Json::obj();
    for (k, v) in &errors {
        errs.push(k, *v);
    }
    Json::obj()
        .set("rounds", rounds)
        .set("tries", tries)
        .set("pids_seen", pids_seen.len())
        .set("errors", errs)
        .set(
            "write_opens",
            write_opens.into_iter().collect::<Vec<String>>(),
        )
        .set(
            "held_targets",
            held_targets.into_iter().collect::<Vec<String>>(),
        )
        .set("writes", writes.into_iter().collect::<Vec<String>>())
}

/// personality(VALUE) with a value the caller picks, for seccomp argument
/// conditions: exit 1 when refused.
fn personality(v: &str) -> i32 {
    let Ok(value) = u64::from_str_radix(v.trim_start_matches("0x"), 16) else {
        eprintln!("probe personality: HEX: cannot parse {v:?}\n{USAGE}");
        return 2;
    };
    // SAFETY: personality only changes this process's execution domain.
    let r = unsafe { libc::syscall(libc::SYS_personality, value) };
    let j = Json::obj()
        .set("op", "personality")
        .set("value", format!("{value:#x}"));
    let res = if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    };
    outcome(j, res)
}

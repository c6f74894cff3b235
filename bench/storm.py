#!/usr/bin/env python3
"""Start storm and density: many containers at once (bench/storm.sh calls this).

    storm.py storm   --field v2|hybrid --work DIR --rootfs DIR --tag T
                     [-n 50] [--inflight 8,50] [--rounds R] NAME=PATH ...
    storm.py density --work DIR --rootfs DIR --tag T --memcg DIR
                     [-n 100] [--rounds R] NAME=PATH ...

storm: N lifecycles (create, start, wait for the init to exit, delete; each
with a fresh id and bundle) with at most K of them in flight; containers per
second is N over the wall time from the first `create` to the last `delete`,
and a lifecycle's latency is its four commands plus the wait. Interleaved:
every round runs each (K, runtime) storm once, the runtimes' order rotating.

density: N containers whose init is `sleep`, created and started one after
the other, then measured while idle: the v1 memory cgroup this driver runs
in (--memcg; every runtime process and every container init are charged to
it, whatever cgroup the runtime puts the container in) gives the memory and
the kernel memory the N containers cost the host, and /proc gives the
runtime processes that stayed behind (none should: only the N inits).

See bench/README.md ("Start storm", "Density") for what the numbers mean.
"""

import argparse
import ctypes
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import Bundles  # noqa: E402  (the same config.json as the table)

PR_SET_CHILD_SUBREAPER = 36
CMD_TIMEOUT = 10


def subreaper():
    """Adopt the inits when `create` exits, as containerd's shim does, so
    waitpid tells us the moment one exits (no `state` polling)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"storm: prctl(PR_SET_CHILD_SUBREAPER): errno {ctypes.get_errno()}")


class Rt:
    def __init__(self, name, path, work, env=None):
        self.name, self.path = name, path
        self.env = {**os.environ, **(env or {})}
        self.envp = c_strings([f"{k}={v}" for k, v in self.env.items()])
        self.root = os.path.join(work, "root-" + name)
        self.missing = not (os.path.isfile(path) and os.access(path, os.X_OK))
        if not self.missing:
            os.makedirs(self.root, exist_ok=True)
            if name in os.environ.get("STORM_TOPDIR", "").split(","):
                # ext4's Orlov hint: this root's container dirs spread over
                # the block groups (bench/README.md "Session 16").
                subprocess.run(["chattr", "+T", self.root], check=True)

    def cmd(self, *args):
        """Runs one runtime command; raises with its stderr on failure."""
        # posix_spawn (a vfork-like clone, no Popen object, no error pipe):
        # the driver's CPU per command is the same for every runtime and
        # dilutes their ratios, so it is kept small. stderr goes to this
        # thread's own file, not a pipe: the init inherits create's stdio,
        # and a pipe would not reach EOF until the container exits.
        errf = err_file()
        # The command's fd 2 shares this file's offset: back to 0 for it.
        os.ftruncate(errf, 0)
        os.lseek(errf, 0, os.SEEK_SET)
        argv = [self.path, "--root", self.root, *args]
        if SPAWN_HOLDS_GIL:
            pid = os.posix_spawn(
                self.path,
                argv,
                self.env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_DUP2, errf, 2),
                ],
            )
        else:
            pid = spawn(self.path, argv, self.envp, errf)
        if PIDLOG is not None:
            # One write on an O_APPEND fd: the driver's threads do not interleave.
            os.write(PIDLOG, f"{pid} {args[0]} {self.name}\n".encode())
        rc, cpu = wait_child(pid, f"`{args[0]}`")
        if rc != 0:
            err = os.pread(errf, 65536, 0).decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"`{args[0]}` exit {rc}: {err[-1] if err else ''}")
        return cpu

    def delete_all(self):
        for cid in os.listdir(self.root):
            subprocess.run(
                [self.path, "--root", self.root, "delete", "--force", cid],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=CMD_TIMEOUT,
            )


def write_bundle(bundles, work, cid, args=None):
    """One bundle per container: concurrent creates must not share a file
    that the next one rewrites."""
    spec = json.loads(json.dumps(bundles.spec))
    if args:
        spec["process"]["args"] = args
    prefix = "/" if bundles.field == "v2" else ""
    spec["linux"]["cgroupsPath"] = f"{prefix}{bundles.tag}/{cid}"
    bdir = os.path.join(work, "sb", cid)
    os.makedirs(bdir, exist_ok=True)
    with open(os.path.join(bdir, "config.json"), "w") as f:
        json.dump(spec, f)
    return bdir


def read_pid(path):
    with open(path) as f:
        return int(f.read().strip())


_tls = threading.local()
_libc = ctypes.CDLL(None, use_errno=True)
# os.posix_spawn (CPython 3.11) holds the GIL until the child has exec'd
# (glibc's posix_spawn is a CLONE_VFORK clone): every other driver thread
# waits that long, and under a storm's load that is a wait for a CPU too,
# so the driver issued its commands one at a time. libc's posix_spawn
# through ctypes runs without the GIL. STORM_SPAWN=os: the old way.
SPAWN_HOLDS_GIL = os.environ.get("STORM_SPAWN") == "os"
# PIDLOG=FILE: "PID COMMAND RUNTIME" for every runtime command, for bench/roles.py
# (a `perf record -a -g` around a storm of one runtime).
PIDLOG = (
    os.open(os.environ["PIDLOG"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    if os.environ.get("PIDLOG")
    else None
)


def c_strings(strs):
    return (ctypes.c_char_p * (len(strs) + 1))(*[os.fsencode(x) for x in strs], None)


def spawn(path, argv, envp, errf):
    """posix_spawn(path, argv, envp) with stdin and stdout on /dev/null and
    stderr on errf, the GIL released for the call."""
    fa = file_actions(errf)
    pid = ctypes.c_int()
    rc = _libc.posix_spawn(ctypes.byref(pid), os.fsencode(path), fa, None, c_strings(argv), envp)
    if rc != 0:
        raise OSError(rc, f"posix_spawn {path}: {os.strerror(rc)}")
    return pid.value


def file_actions(errf):
    """This thread's posix_spawn_file_actions_t (made once; 80 bytes on
    glibc x86_64, the buffer is larger)."""
    if getattr(_tls, "fa", None) is None or _tls.fa_err != errf:
        fa = ctypes.create_string_buffer(256)
        ok = _libc.posix_spawn_file_actions_init(fa) == 0
        ok = ok and _libc.posix_spawn_file_actions_addopen(fa, 0, b"/dev/null", os.O_RDONLY, 0) == 0
        ok = ok and _libc.posix_spawn_file_actions_addopen(fa, 1, b"/dev/null", os.O_WRONLY, 0) == 0
        ok = ok and _libc.posix_spawn_file_actions_adddup2(fa, errf, 2) == 0
        if not ok:
            raise OSError("posix_spawn_file_actions")
        _tls.fa, _tls.fa_err = fa, errf
    return _tls.fa


def err_file():
    """This thread's stderr file for the commands it runs (unlinked; one
    per thread, reused: not one new inode per command)."""
    if not hasattr(_tls, "errf"):
        _tls.errf = os.open(tempfile.gettempdir(), os.O_TMPFILE | os.O_RDWR, 0o600)
    return _tls.errf


def close_err_file():
    """At the end of a worker thread (a storm makes new ones)."""
    if hasattr(_tls, "errf"):
        os.close(_tls.errf)
        del _tls.errf
    if getattr(_tls, "fa", None) is not None:
        _libc.posix_spawn_file_actions_destroy(_tls.fa)
        _tls.fa = None


def wait_child(pid, what):
    """Waits for our child `pid` (a command, or an init adopted when its
    `create` exited): its exit code and CPU time (ns, user + system). A pidfd turns readable when
    the process exits: the thread sleeps in poll (the GIL released)
    instead of polling, so the driver's CPU does not grow with the number
    of lifecycles waiting at once, and the wait is not late by a period."""
    fd = os.pidfd_open(pid)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        if not p.poll(CMD_TIMEOUT * 1000):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise RuntimeError(f"{what} (pid {pid}) did not exit within {CMD_TIMEOUT}s")
        _, status, ru = os.wait4(pid, 0)
        return os.waitstatus_to_exitcode(status), int((ru.ru_utime + ru.ru_stime) * 1e9)
    finally:
        os.close(fd)


PHASES = ("create", "start", "wait", "delete")


def lifecycle(rt, work, bdir, cid):
    """The lifecycle's four phases (wall ns, PHASES order), then the CPU
    (ns) of create, start, the init and delete, then when it began
    (monotonic ns; storm() makes it an offset from the storm's start)."""
    pidfile = os.path.join(work, "sb", cid + ".pid")
    t = [time.monotonic_ns()]
    cpu = [rt.cmd("create", "--bundle", bdir, "--pid-file", pidfile, cid)]
    t.append(time.monotonic_ns())
    pid = read_pid(pidfile)
    cpu.append(rt.cmd("start", cid))
    t.append(time.monotonic_ns())
    status, init_cpu = wait_child(pid, "the init")
    if status != 0:
        raise RuntimeError(f"the init (/bin/true) exited with status {status}")
    cpu.append(init_cpu)
    t.append(time.monotonic_ns())
    cpu.append(rt.cmd("delete", cid))
    t.append(time.monotonic_ns())
    return [b - a for a, b in zip(t, t[1:])] + cpu + [t[0]]


def storm(rt, bundles, work, n, k, seq, settle, bg, barrier):
    """N lifecycles, K in flight: (wall ns, [[phase ns]], [errors],
    (driver CPU ns, reaped processes' CPU ns, the machine's idle share))."""
    cids = [f"s{os.getpid()}-{rt.name}-{seq}-{i}" for i in range(n)]
    bdirs = [write_bundle(bundles, work, c) for c in cids]
    lat, errs = [], []
    lock = threading.Lock()
    nxt = iter(range(n))

    # Every worker is a ready thread before the clock starts: started
    # one by one while the first lifecycles already run, the last of 50
    # began its create hundreds of ms into the storm (the driver's threads
    # wait for a CPU like everything else), and "all 50 at once" was not.
    ready = threading.Barrier(k + 1) if barrier else None

    def worker():
        if ready:
            ready.wait()
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                close_err_file()
                return
            try:
                phases = lifecycle(rt, work, bdirs[i], cids[i])
                with lock:
                    lat.append(phases)
            except (RuntimeError, OSError, ValueError) as e:
                with lock:
                    errs.append(str(e))
                subprocess.run(
                    [rt.path, "--root", rt.root, "delete", "--force", cids[i]],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=CMD_TIMEOUT,
                )

    threads = [threading.Thread(target=worker) for _ in range(k)]
    for t in threads[: k if barrier else 0]:
        t.start()
    m0 = machine_snapshot()
    c0, i0 = os.times(), cpu_ticks()
    t0 = time.monotonic_ns()
    if ready:
        ready.wait()
    for t in threads[k if barrier else 0 :]:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic_ns() - t0
    for p in lat:
        p[-1] -= t0
    c1, i1 = os.times(), cpu_ticks()
    m1 = machine_snapshot()
    reap_strays()
    # The kernel finishes a lifecycle's teardown after `delete` returns
    # (cleanup_net runs batched in a workqueue, RCU callbacks after a grace
    # period): the kernel threads are counted until `settle` seconds later.
    time.sleep(settle)
    m1 = (m1[0], machine_snapshot()[1])
    # The driver's own CPU (its threads), and that of the processes it
    # reaped: the runtime's commands and the inits (kernel workers that
    # act for them, such as the netns cleanup, are in neither).
    cpu = (c1.user - c0.user + c1.system - c0.system) * 1e9
    kids = (c1.children_user - c0.children_user + c1.children_system - c0.children_system) * 1e9
    idle = (i1[0] - i0[0]) / max(1, i1[1] - i0[1])
    return wall, lat, errs, (cpu, kids, idle, net_of(machine_delta(m0, m1), bg, wall, settle))


KTHREAD_KINDS = (("kworker", "kworkers"), ("rcu", "rcu"), ("ksoftirqd", "ksoftirqd"))
KTHREAD_COLS = {k for _, k in KTHREAD_KINDS} | {"kthreads-other"}
STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def net_of(d, bg, wall, settle):
    """The kernel threads' counters of a storm less their background:
    `bg` is what they read over the `settle` seconds of pause before the
    storm (other jobs' writeback and the like on a shared machine, the
    machine's own housekeeping), scaled to the storm and the pause after
    it. Busy is not netted: on a saturated machine a storm displaces the
    other jobs' CPU instead of adding to it. `bg-busy` is the background's
    busy rate over the storm's wall time, to show how loud it was (on a
    quiet machine near 0, and then `rest` means something)."""
    s_ns = settle * 1e9
    out = dict(d)
    for key in KTHREAD_COLS:
        out[key] = d[key] - bg[key] * (wall + s_ns) / s_ns
    out["bg-busy"] = bg["busy"] * wall / s_ns
    return out


def machine_snapshot():
    """What the whole machine ran: /proc/stat's CPU line (ns) and every
    kernel thread's run time (/proc/PID/schedstat, ns: exact, not
    ticks), by pid. The kernel's work for a lifecycle that no command's
    rusage holds (the network namespace's cleanup_net, RCU callbacks and
    the expedited grace periods' kthread, deferred fput, ext4's discard)
    runs in those threads or in softirq."""
    hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        v = [int(x) * 1_000_000_000 // hz for x in f.readline().split()[1:9]]
    kt = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            rest = st.rsplit(")", 1)[1].split()
            # PF_KTHREAD (0x00200000) in the flags field.
            if not int(rest[6]) & 0x00200000:
                continue
            with open(f"/proc/{d}/schedstat") as f:
                ns = int(f.read().split()[0])
            kt[int(d)] = (st[st.index("(") + 1 : st.rindex(")")], ns)
        except (OSError, ValueError, IndexError):
            continue
    return dict(zip(STAT_FIELDS, v)), kt


def machine_delta(m0, m1):
    """ns the machine spent during a storm: busy (not idle, iowait or
    stolen by the hypervisor), softirq (ticks; also in the interrupted
    task's time, no IRQ_TIME_ACCOUNTING here), and the kernel threads by
    kind (a thread born during the storm counts whole; one that exited
    is lost)."""
    st = {f: m1[0][f] - m0[0][f] for f in STAT_FIELDS}
    out = {
        "busy": st["user"] + st["nice"] + st["system"] + st["irq"] + st["softirq"],
        "softirq": st["softirq"] + st["irq"],
        "steal": st["steal"],
    }
    for _, kind in KTHREAD_KINDS:
        out[kind] = 0
    out["kthreads-other"] = 0
    for pid, (comm, ns) in m1[1].items():
        before = m0[1].get(pid)
        d = ns - before[1] if before and before[0].split("/")[0] == comm.split("/")[0] else ns
        kind = next((k for p, k in KTHREAD_KINDS if comm.startswith(p)), "kthreads-other")
        out[kind] += d
    return out


def cpu_ticks():
    """(idle, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v)


def reap_strays():
    """Inits of failed lifecycles that ended after their delete --force."""
    while True:
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if got == 0:
            return


def pct(vals, p):
    s = sorted(vals)
    if not s:
        return None
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run_storm(args, rts):
    bundles = Bundles(args.work, args.rootfs, args.field, args.tag)
    ks = [int(x) for x in args.inflight.split(",")]
    res = {}  # (k, name) -> {"tput": [], "lat": [], "errs": []}
    seq = 0
    live = [rt for rt in rts if not rt.missing]
    # Round 0 warms the page cache and the runtimes' caches; not recorded.
    for rnd in range(args.rounds + 1):
        for k in ks:
            off = rnd % max(1, len(live))
            for rt in live[off:] + live[:off]:
                seq += 1
                cell = res.setdefault((k, rt.name), {"tput": [], "lat": [], "errs": [], "cpu": [], "kids": [], "idle": [], "machine": []})
                if len(cell["errs"]) > args.n // 2:
                    continue  # this runtime does not work here; stop wasting time
                # What the last storm left to the kernel's workers (its
                # network namespaces' cleanup, RCU callbacks) would be
                # charged to this one; the rotation alone does not even
                # that out when the rounds are fewer than the runtimes.
                m0 = machine_snapshot()
                time.sleep(args.settle)
                bg = machine_delta(m0, machine_snapshot())
                wall, lat, errs, cpu = storm(rt, bundles, args.work, args.n, k, seq, args.settle, bg, not args.stagger)
                cell["errs"] += errs
                if rnd > 0 and not errs:
                    cell["tput"].append(args.n / (wall / 1e9))
                    cell["lat"] += lat
                    cell["cpu"].append(cpu[0] / args.n)
                    cell["kids"].append(cpu[1] / args.n)
                    cell["idle"].append(cpu[2])
                    cell["machine"].append({key: v / args.n for key, v in cpu[3].items()})
                print(
                    f"storm: round {rnd} k={k} {rt.name}: {args.n / (wall / 1e9):.1f}/s"
                    f"{' ' + str(len(errs)) + ' failed' if errs else ''}",
                    file=sys.stderr,
                )
    names = [rt.name for rt in rts]
    print(f"\n### start storm, {args.title}: {args.n} containers (create+start+wait+delete of /bin/true)\n")
    hdr = "| in flight | measure | " + " | ".join(names) + " |"
    print(hdr)
    print("|" + "---|" * (2 + len(names)))
    for k in ks:
        for label, fn in (
            ("containers/s (median of rounds, min-max)", lambda c: tput_cell(c)),
            ("lifecycle p50 / p99 (ms)", lambda c: lat_cell(c)),
            ("p99 / own p50", lambda c: ratio_cell(c)),
        ):
            cells = []
            for rt in rts:
                c = res.get((k, rt.name))
                if rt.missing:
                    cells.append("n/a (missing)")
                elif c is None or not c["tput"]:
                    cells.append("FAILED")
                else:
                    cells.append(fn(c) + (" !" if c["errs"] else ""))
            print(f"| {k} | {label} | " + " | ".join(cells) + " |")
    print(f"\n{args.rounds} recorded rounds (+1 warm-up) per cell; latencies pooled over the rounds")
    for k in ks:
        for rt in rts:
            c = res.get((k, rt.name))
            if c and c["errs"]:
                print(f"- {rt.name} k={k}: {len(c['errs'])} lifecycles FAILED; first: {c['errs'][0]}")
    phase_report(res, ks, rts)
    machine_report(res, ks, rts)
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({f"{k} {n}": c["lat"] for (k, n), c in res.items()}, f)
    base = [n for n in names if n != "outlet"]
    for k in ks:
        o = res.get((k, "outlet"))
        if not o or not o["tput"]:
            continue
        parts = []
        for b in base:
            c = res.get((k, b))
            if c and c["tput"]:
                parts.append(f"{statistics.median(o['tput']) / statistics.median(c['tput']):.2f}x {b}")
        if parts:
            print(f"- k={k}: outlet's throughput is " + ", ".join(parts))


def tput_cell(c):
    t = c["tput"]
    return f"{statistics.median(t):.1f} ({min(t):.1f}-{max(t):.1f})"


def totals(c):
    return [sum(p[: len(PHASES)]) for p in c["lat"]]


def lat_cell(c):
    t = totals(c)
    return f"{pct(t, 50) / 1e6:.1f} / {pct(t, 99) / 1e6:.1f}"


def ratio_cell(c):
    t = totals(c)
    return f"{pct(t, 99) / pct(t, 50):.2f}"


def phase_report(res, ks, rts):
    """Where a lifecycle's time goes, and where the slowest 5% lose it:
    the median of each phase over all lifecycles and over the slowest 5%
    (by total); and the CPU per lifecycle (median of rounds) of the
    runtime's processes and the inits (and the median of each command's
    and the init's own, from wait4), and of the driver itself; the
    share of the machine's CPU time that was idle during the storm (a
    storm that leaves CPUs idle is bound by waits, not by CPU)."""
    print("\nPhases (ms; median over all lifecycles -> median over the slowest 5%), CPU per lifecycle:\n")
    print("| in flight | runtime | " + " | ".join(PHASES) + " | runtime+init CPU (create/start/init/delete) | driver CPU | CPUs idle |")
    print("|" + "---|" * (5 + len(PHASES)))
    for k in ks:
        for rt in rts:
            c = res.get((k, rt.name))
            if not c or not c["lat"]:
                continue
            slow = sorted(c["lat"], key=lambda p: sum(p[: len(PHASES)]))[-max(1, len(c["lat"]) // 20) :]
            cells = [
                f"{statistics.median(p[i] for p in c['lat']) / 1e6:.1f} -> "
                f"{statistics.median(p[i] for p in slow) / 1e6:.1f}"
                for i in range(len(PHASES))
            ]
            each = "/".join(
                f"{statistics.median(p[len(PHASES) + i] for p in c['lat']) / 1e6:.1f}" for i in range(len(PHASES))
            )
            cpu = f"{statistics.median(c['kids']) / 1e6:.2f} ms ({each}) | {statistics.median(c['cpu']) / 1e6:.2f} ms"
            cpu += f" | {statistics.median(c['idle']) * 100:.0f}%"
            print(f"| {k} | {rt.name} | " + " | ".join(cells) + f" | {cpu} |")


def machine_report(res, ks, rts):
    """The whole machine's CPU per lifecycle (median of rounds): what a
    lifecycle makes the kernel do outside the commands' own rusage shows
    in the kernel threads' columns (counted until `--settle` seconds after
    the storm, so the teardown it left behind is in) and in `rest` (busy
    during the storm minus everything named: other jobs on a shared
    machine, and work the kernel charges to no one we count)."""
    print(
        "\nThe machine's CPU per lifecycle (ms, median of rounds; /proc/stat and the kernel threads' schedstat,"
        " the kernel threads less their background; bg-busy: the background's busy rate over the storm):\n"
    )
    cols = ["busy", "runtime+init", "driver"] + [k for _, k in KTHREAD_KINDS]
    cols += ["kthreads-other", "softirq+irq", "rest", "steal", "bg-busy"]
    print("| in flight | runtime | " + " | ".join(cols) + " |")
    print("|" + "---|" * (2 + len(cols)))
    for k in ks:
        for rt in rts:
            c = res.get((k, rt.name))
            if not c or not c["machine"]:
                continue
            rows = []
            for m, kids, drv in zip(c["machine"], c["kids"], c["cpu"]):
                named = kids + drv + sum(m[kind] for _, kind in KTHREAD_KINDS) + m["kthreads-other"]
                rows.append({**m, "runtime+init": kids, "driver": drv, "softirq+irq": m["softirq"], "rest": m["busy"] - named})
            cells = [f"{statistics.median(r[col] for r in rows) / 1e6:.2f}" for col in cols]
            print(f"| {k} | {rt.name} | " + " | ".join(cells) + " |")


def memcg_read(memcg, name):
    with open(os.path.join(memcg, name)) as f:
        return int(f.read().split()[0])


def memcg_snapshot(memcg):
    return {
        "usage": memcg_read(memcg, "memory.usage_in_bytes"),
        "kmem": memcg_read(memcg, "memory.kmem.usage_in_bytes"),
        "meminfo_slab": meminfo("Slab"),
    }


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def descendants(root_pid):
    """pid -> (comm, exe) of every process below root_pid."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            comm = st[st.index("(") + 1 : st.rindex(")")]
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append((int(d), comm))
    out, todo = {}, [root_pid]
    while todo:
        p = todo.pop()
        for c, comm in kids.get(p, []):
            try:
                exe = os.readlink(f"/proc/{c}/exe")
            except OSError:
                exe = "?"
            out[c] = (comm, exe)
            todo.append(c)
    return out


def settle(memcg):
    """Usage right after a burst still moves (RCU frees, per-cpu stock
    flushes): wait until two reads 0.5 s apart agree within 64 KiB."""
    prev = memcg_snapshot(memcg)
    for _ in range(10):
        time.sleep(0.5)
        cur = memcg_snapshot(memcg)
        if abs(cur["usage"] - prev["usage"]) < 65536:
            return cur
        prev = cur
    return cur


def run_density(args, rts):
    bundles = Bundles(args.work, args.rootfs, "v2", args.tag)
    res = {}
    seq = 0
    live = [rt for rt in rts if not rt.missing]
    for rnd in range(args.rounds):
        off = rnd % max(1, len(live))
        for rt in live[off:] + live[:off]:
            seq += 1
            cids = [f"d{os.getpid()}-{rt.name}-{seq}-{i}" for i in range(args.n)]
            bdirs = [write_bundle(bundles, args.work, c, args=["/bin/sleep", "1000000"]) for c in cids]
            before = settle(args.memcg)
            # Strays of an earlier runtime are not this one's.
            earlier = set(descendants(os.getpid()))
            pids, err = [], None
            try:
                for c, b in zip(cids, bdirs):
                    pf = os.path.join(args.work, "sb", c + ".pid")
                    rt.cmd("create", "--bundle", b, "--pid-file", pf, c)
                    pids.append(read_pid(pf))
                    rt.cmd("start", c)
                idle = settle(args.memcg)
                procs = descendants(os.getpid())
                stayed = {p: v for p, v in procs.items() if p not in pids and p not in earlier}
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
                err = str(e)
            for c in cids:
                subprocess.run(
                    [rt.path, "--root", rt.root, "delete", "--force", c],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=CMD_TIMEOUT,
                )
            for p in pids:
                try:
                    os.waitpid(p, 0)
                except ChildProcessError:
                    pass
            reap_strays()
            after = settle(args.memcg)
            cell = res.setdefault(
                rt.name, {"usage": [], "kmem": [], "slab": [], "left": [], "stayed": [], "who": [], "errs": []}
            )
            if err:
                cell["errs"].append(err)
                print(f"density: {rt.name}: FAILED: {err}", file=sys.stderr)
                continue
            n = args.n
            cell["usage"].append((idle["usage"] - before["usage"]) / n)
            cell["kmem"].append((idle["kmem"] - before["kmem"]) / n)
            cell["slab"].append((idle["meminfo_slab"] - before["meminfo_slab"]) / n)
            cell["left"].append((after["usage"] - before["usage"]) / n)
            cell["stayed"].append(len(stayed))
            cell["who"] += sorted({f"{c} ({e})" for c, e in stayed.values()})
            print(
                f"density: round {rnd} {rt.name}: {cell['usage'][-1] / 1024:.0f} KiB/container,"
                f" kmem {cell['kmem'][-1] / 1024:.0f} KiB, stayed {len(stayed)}",
                file=sys.stderr,
            )
    names = [rt.name for rt in rts]
    print(f"\n### density: {args.n} idle `sleep` containers, per container (median of {args.rounds} rounds, min-max)\n")
    print("| measure | " + " | ".join(names) + " |")
    print("|" + "---|" * (1 + len(names)))

    def cell_of(name, key, fn):
        c = res.get(name)
        if c is None:
            return "n/a (missing)"
        if not c[key]:
            return "FAILED"
        return fn(c[key])

    kib = lambda v: f"{statistics.median(v) / 1024:.0f} KiB ({min(v) / 1024:.0f}-{max(v) / 1024:.0f})"  # noqa: E731
    rows = (
        ("memory charged (memcg usage)", "usage", kib),
        ("of which kernel memory (memcg kmem)", "kmem", kib),
        ("host Slab delta (/proc/meminfo, noisy)", "slab", kib),
        ("still charged after delete", "left", kib),
        ("runtime processes left running (most in a round)", "stayed", lambda v: str(max(v))),
    )
    for label, key, fn in rows:
        print(f"| {label} | " + " | ".join(cell_of(n, key, fn) for n in names) + " |")
    print()
    for name in names:
        c = res.get(name)
        if c and c["who"]:
            print(f"- {name}: processes other than the inits: {', '.join(sorted(set(c['who'])))}")
        if c and c["errs"]:
            print(f"- {name}: {len(c['errs'])} rounds FAILED; first: {c['errs'][0]}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["storm", "density"])
    p.add_argument("--field", choices=["v2", "hybrid"], default="v2")
    p.add_argument("--work", required=True)
    p.add_argument("--rootfs", required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("-n", type=int, default=50)
    p.add_argument("--inflight", default="8,50")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--memcg", help="density: the v1 memory cgroup this driver runs in")
    p.add_argument("--title", default="")
    p.add_argument("--settle", type=float, default=1.0, help="storm: seconds of pause before each storm")
    p.add_argument(
        "--stagger",
        action="store_true",
        help="storm: start the K worker threads one by one after the clock starts (the driver before session 8)",
    )
    p.add_argument("--raw", help="storm: write every lifecycle's phases (ns) as JSON here")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE",
        help="one more environment variable for runtime NAME's commands",
    )
    p.add_argument("runtimes", nargs="+", metavar="NAME=PATH")
    args = p.parse_args()
    subreaper()
    rts = []
    for spec in args.runtimes:
        name, _, path = spec.partition("=")
        env = dict(e.partition(":")[2].split("=", 1) for e in args.env if e.partition(":")[0] == name)
        rts.append(Rt(name, path, args.work, env))
    try:
        if args.mode == "storm":
            run_storm(args, rts)
        else:
            run_density(args, rts)
    finally:
        for rt in rts:
            if not rt.missing:
                rt.delete_all()
        reap_strays()


if __name__ == "__main__":
    main()

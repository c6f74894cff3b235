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
    def __init__(self, name, path, work):
        self.name, self.path = name, path
        self.root = os.path.join(work, "root-" + name)
        self.missing = not (os.path.isfile(path) and os.access(path, os.X_OK))
        if not self.missing:
            os.makedirs(self.root, exist_ok=True)

    def cmd(self, *args):
        """Runs one runtime command; raises with its stderr on failure."""
        # stderr goes to a file, not a pipe: the init inherits create's
        # stdio, and a pipe would not reach EOF until the container exits.
        with tempfile.TemporaryFile() as errf:
            p = subprocess.run(
                [self.path, "--root", self.root, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errf,
                timeout=CMD_TIMEOUT,
            )
            if p.returncode != 0:
                errf.seek(0)
                err = errf.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError(f"`{args[0]}` exit {p.returncode}: {err[-1] if err else ''}")

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


def wait_init(pid):
    """The init's exit status; it is our child once `create` has exited."""
    deadline = time.monotonic() + CMD_TIMEOUT
    while True:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            raise RuntimeError(f"init {pid} did not exit within {CMD_TIMEOUT}s")
        # Blocking waitpid cannot time out; 0.2 ms polls cost little and
        # bound the error of the wait to that.
        time.sleep(0.0002)


def lifecycle(rt, work, bdir, cid):
    pidfile = os.path.join(work, "sb", cid + ".pid")
    t0 = time.monotonic_ns()
    rt.cmd("create", "--bundle", bdir, "--pid-file", pidfile, cid)
    pid = read_pid(pidfile)
    rt.cmd("start", cid)
    status = wait_init(pid)
    if status != 0:
        raise RuntimeError(f"the init (/bin/true) exited with status {status}")
    rt.cmd("delete", cid)
    return time.monotonic_ns() - t0


def storm(rt, bundles, work, n, k, seq):
    """N lifecycles, K in flight: (wall ns, [latency ns], [errors])."""
    cids = [f"s{os.getpid()}-{rt.name}-{seq}-{i}" for i in range(n)]
    bdirs = [write_bundle(bundles, work, c) for c in cids]
    lat, errs = [], []
    lock = threading.Lock()
    nxt = iter(range(n))

    def worker():
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                return
            try:
                ns = lifecycle(rt, work, bdirs[i], cids[i])
                with lock:
                    lat.append(ns)
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
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
    t0 = time.monotonic_ns()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic_ns() - t0
    reap_strays()
    return wall, lat, errs


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
                cell = res.setdefault((k, rt.name), {"tput": [], "lat": [], "errs": []})
                if len(cell["errs"]) > args.n // 2:
                    continue  # this runtime does not work here; stop wasting time
                wall, lat, errs = storm(rt, bundles, args.work, args.n, k, seq)
                cell["errs"] += errs
                if rnd > 0 and not errs:
                    cell["tput"].append(args.n / (wall / 1e9))
                    cell["lat"] += lat
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


def lat_cell(c):
    return f"{pct(c['lat'], 50) / 1e6:.1f} / {pct(c['lat'], 99) / 1e6:.1f}"


def ratio_cell(c):
    return f"{pct(c['lat'], 99) / pct(c['lat'], 50):.2f}"


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
    p.add_argument("runtimes", nargs="+", metavar="NAME=PATH")
    args = p.parse_args()
    subreaper()
    rts = []
    for spec in args.runtimes:
        name, _, path = spec.partition("=")
        rts.append(Rt(name, path, args.work))
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

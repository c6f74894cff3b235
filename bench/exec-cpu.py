#!/usr/bin/env python3
"""`exec ID /bin/true`, two or more outlet builds A/B: each binary creates
and starts its own `sleep` container, then execs into it, the binaries
alternating exec by exec (the order rotating every round). Wall time from
posix_spawn to wait4, and CPU from wait4's rusage (exec reaps its helper
and the process, both its children, so their CPU is in it). Run it through
bench/exec-ab.sh, which makes the v2 field and the bundle.

    exec-cpu.py WORK BUNDLE ROUNDS NAME=PATH [NAME=PATH ...]

EXEC_SHIM=1: exec as containerd's shim calls it, `exec --process FILE
--detach --pid-file P ID` (the process is the runtime's own, as
--process gives it, with /bin/true for args); wall is then outlet's alone
(it returns once the process runs), CPU outlet's plus the process's (this
driver is a subreaper and reaps it).

Prints, per binary, the median (p25-p75) and p10 of wall and CPU, and the
median of the per-round ratio to the first binary (paired: both ran within
milliseconds of each other, so a load change moves both). See
bench/README.md "Session 14: exec"."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storm  # noqa: E402


def q(xs):
    c = statistics.quantiles(xs, n=20)
    return statistics.median(xs), c[0 + 1], c[4], c[14]  # median, p10, p25, p75


def main():
    work, bundle, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rts = [storm.Rt(*a.split("=", 1), work) for a in sys.argv[4:]]
    storm.subreaper()
    ids = {}
    try:
        for rt in rts:
            cid = f"ex{os.getpid()}-{rt.name}"
            pidfile = os.path.join(work, cid + ".pid")
            # A bundle (and so a cgroup) of its own per container.
            bdir = os.path.join(work, "b-" + rt.name)
            os.makedirs(bdir, exist_ok=True)
            with open(os.path.join(bundle, "config.json")) as f:
                spec = json.load(f)
            spec["linux"]["cgroupsPath"] += "/" + rt.name
            with open(os.path.join(bdir, "config.json"), "w") as f:
                json.dump(spec, f)
            rt.cmd("create", "--bundle", bdir, "--pid-file", pidfile, cid)
            ids[rt.name] = cid
            rt.cmd("start", cid)
        shim = os.environ.get("EXEC_SHIM") == "1"
        if shim:
            with open(os.path.join(bundle, "config.json")) as f:
                proc = json.load(f)["process"]
            proc["args"] = ["/bin/true"]
            pfile = os.path.join(work, "process.json")
            with open(pfile, "w") as f:
                json.dump(proc, f)
            ppid = os.path.join(work, "exec.pid")
        wall = {rt.name: [] for rt in rts}
        cpu = {rt.name: [] for rt in rts}
        for i in range(rounds):
            k = i % len(rts)
            for rt in rts[k:] + rts[:k]:
                t = time.monotonic_ns()
                if shim:
                    c = rt.cmd("exec", "--process", pfile, "--detach", "--pid-file", ppid, ids[rt.name])
                    wall[rt.name].append((time.monotonic_ns() - t) / 1e6)
                    c += storm.wait_child(storm.read_pid(ppid), "the exec'd process")[1]
                else:
                    c = rt.cmd("exec", ids[rt.name], "/bin/true")
                    wall[rt.name].append((time.monotonic_ns() - t) / 1e6)
                cpu[rt.name].append(c / 1e6)
    finally:
        for rt in rts:
            if rt.name in ids:
                os.system(f"{rt.path} --root {rt.root} delete --force {ids[rt.name]}")
    print("load average:", " ".join(open("/proc/loadavg").read().split()[:3]))
    base = rts[0].name
    for rt in rts:
        w, c = wall[rt.name], cpu[rt.name]
        wm, w10, w25, w75 = q(w)
        cm, c10, c25, c75 = q(c)
        rw = statistics.median(a / b for a, b in zip(w, wall[base]))
        rc = statistics.median(a / b for a, b in zip(c, cpu[base]))
        print(
            f"{rt.name}: wall {wm:.3f} ms ({w25:.3f}-{w75:.3f}, p10 {w10:.3f}); "
            f"cpu {cm:.3f} ms ({c25:.3f}-{c75:.3f}, p10 {c10:.3f}); "
            f"paired ratio wall {rw:.3f} cpu {rc:.3f} (n={len(w)})"
        )


main()

#!/usr/bin/env python3
"""CPU of each step of a container lifecycle, two or more outlet builds
A/B: sequential lifecycles (create --pid-file, start, wait for the init,
delete, as storm.py's `lifecycle` runs them), the binaries alternating
lifecycle by lifecycle (the order flipped every pair). CPU of each
command and of the init from wait4's rusage (this driver is a child
subreaper, so the init is reaped here, not by create). Run it through
bench/lifecycle-ab.sh, which makes the v2 field and the bundle.

    lifecycle-cpu.py WORK BUNDLE PAIRS NAME=PATH [NAME=PATH ...]

PIDLOG=FILE writes "PID COMMAND" for every command started, for
bench/roles.py (a `perf record -a -g` around one runtime's lifecycles).
See bench/README.md "Session 12: the storm's CPU"."""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storm  # noqa: E402

if os.environ.get("PIDLOG"):
    _log = open(os.environ["PIDLOG"], "w")
    _spawn = storm.spawn

    def _logged_spawn(path, argv, envp, errf):
        pid = _spawn(path, argv, envp, errf)
        _log.write(f"{pid} {argv[3]}\n")
        _log.flush()
        return pid

    storm.spawn = _logged_spawn


def main():
    work, bundle, pairs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rts = [storm.Rt(*a.split("=", 1), work) for a in sys.argv[4:]]
    os.makedirs(os.path.join(work, "sb"), exist_ok=True)
    storm.subreaper()
    res = {rt.name: [] for rt in rts}
    for i in range(pairs):
        for rt in rts if i % 2 == 0 else rts[::-1]:
            r = storm.lifecycle(rt, work, bundle, f"lc{os.getpid()}-{rt.name}-{i}")
            res[rt.name].append(r[4:8])
    print("load average:", " ".join(open("/proc/loadavg").read().split()[:3]))
    for name, rows in res.items():
        med = [statistics.median(c) / 1e6 for c in zip(*rows)]
        tot = [sum(r) / 1e6 for r in rows]
        q = statistics.quantiles(tot, n=4) if len(tot) > 1 else [tot[0]] * 3
        print(
            f"{name}: lifecycle CPU {statistics.median(tot):.3f} ms (p25-p75 {q[0]:.3f}-{q[2]:.3f}); "
            f"create {med[0]:.3f} start {med[1]:.3f} init {med[2]:.3f} delete {med[3]:.3f} (n={len(rows)})"
        )


main()

#!/usr/bin/env python3
"""CPU and wall time per container of outlet `run`, bench/tools' floor and
specfloor, run in turn (the order rotated every round) from one process
that posix_spawns each and takes its CPU (the command and every child it
reaped: the init included) from wait4's rusage. Run it inside bench/run.sh's
v2 field (bench/floors-cpu.sh sets that up). See bench/README.md
"Session 17: the spec floor".

    floors-cpu.py OUTLET FLOOR SPECFLOOR ROOTFS BUNDLE ROOT ROUNDS
"""
import os
import statistics
import sys
import time

outlet, floor, specfloor, rootfs, bundle, root, rounds = sys.argv[1:8]
rounds = int(rounds)
argv = {
    "outlet": lambda i: [outlet, "--root", root, "run", "--bundle", bundle, f"fc{i}"],
    "floor": lambda i: [floor, rootfs],
    "specfloor": lambda i: [specfloor, rootfs, f"/sys/fs/cgroup/floors-cpu-{os.getpid()}-{i}"],
}
names = list(argv)
wall = {n: [] for n in names}
cpu = {n: [] for n in names}
for i in range(rounds + 3):
    k = i % 3
    for n in names[k:] + names[:k]:
        a = argv[n](i)
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(a[0], a, os.environ)
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
        if status != 0:
            sys.exit(f"floors-cpu: {' '.join(a)}: wait status {status}")
        if i >= 3:  # warm-up rounds are not recorded
            wall[n].append((t1 - t0) / 1e6)
            cpu[n].append((ru.ru_utime + ru.ru_stime) * 1e3)
print(f"{rounds} rounds; ms per container: median (p25-p75)")
print("| | wall | CPU (user+sys, reaped children included) |")
print("|---|---|---|")
for n in names:
    w, c = wall[n], cpu[n]
    qw, qc = statistics.quantiles(w, n=4), statistics.quantiles(c, n=4)
    print(
        f"| {n} | {statistics.median(w):.3f} ({qw[0]:.3f}-{qw[2]:.3f}) |"
        f" {statistics.median(c):.3f} ({qc[0]:.3f}-{qc[2]:.3f}) |"
    )
m = {n: (statistics.median(wall[n]), statistics.median(cpu[n])) for n in names}
for a, b in (("specfloor", "floor"), ("outlet", "specfloor"), ("outlet", "floor")):
    print(f"{a}/{b}: wall {m[a][0] / m[b][0]:.2f}x, CPU {m[a][1] / m[b][1]:.2f}x")

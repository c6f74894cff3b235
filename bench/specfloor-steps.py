#!/usr/bin/env python3
"""What each step of the spec floor costs: bench/tools' specfloor in full
and with one step left out (SPECFLOOR_SKIP, see specfloor.rs), beside the
floor, in turn (the order rotated every round), from one process that
posix_spawns each and takes its CPU (init included) from wait4's rusage.
Run inside bench/run.sh's v2 field (bench/specfloor-steps.sh sets it up).

    specfloor-steps.py FLOOR SPECFLOOR ROOTFS ROUNDS
"""
import os
import statistics
import sys
import time

floor, specfloor, rootfs, rounds = sys.argv[1:5]
rounds = int(rounds)
variants = ["full", "cgroup", "devprog", "mounts", "dev", "masks", "creds", "floor"]
wall = {v: [] for v in variants}
cpu = {v: [] for v in variants}
for i in range(rounds + 3):
    k = i % len(variants)
    for v in variants[k:] + variants[:k]:
        env = dict(os.environ)
        if v == "floor":
            argv = [floor, rootfs]
        else:
            argv = [specfloor, rootfs, f"/sys/fs/cgroup/specfloor-steps-{os.getpid()}-{i}"]
            if v != "full":
                env["SPECFLOOR_SKIP"] = v
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env)
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
        if status != 0:
            sys.exit(f"specfloor-steps: {v}: wait status {status}")
        if i >= 3:
            wall[v].append((t1 - t0) / 1e6)
            cpu[v].append((ru.ru_utime + ru.ru_stime) * 1e3)
med = {v: (statistics.median(wall[v]), statistics.median(cpu[v])) for v in variants}
print(f"{rounds} rounds; ms per container, medians; 'saves' = full minus the variant")
print("| variant | wall | CPU | wall saved | CPU saved |")
print("|---|---|---|---|---|")
for v in variants:
    label = "specfloor" if v == "full" else ("floor" if v == "floor" else f"without {v}")
    w, c = med[v]
    print(f"| {label} | {w:.3f} | {c:.3f} | {med['full'][0] - w:+.3f} | {med['full'][1] - c:+.3f} |")

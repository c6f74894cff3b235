#!/usr/bin/env python3
"""One foreground `exec ID /bin/true`'s critical path, from tracepoints:
outlet's two images, the helper, the process, /bin/true, outlet's exit
and the caller's wait4 returning. Fed by bench/exec-critpath.sh:

    perf script -i tl.data | bench/exec-critpath.py /path/of/outlet

For every process whose first exec is the given binary (and that
re-executed itself, forked a helper that forked the process), the times of
fixed points relative to the caller's fork; prints the median (p25-p75) of
each interval between two points that follow each other, in ms. See
bench/README.md "Session 14: exec"."""
import statistics
import sys

# The perf-script parser and `first` are run's (bench/critpath.py).
from critpath import first, parse


def children(forks, pid):
    return [c for c, (p, _) in forks.items() if p == pid]


def points(pid, es, ev, forks):
    execs = [t for t, n, _ in es if n == "sched:sched_process_exec"]
    helper = children(forks, pid)
    process = children(forks, helper[0]) if helper else []
    if len(execs) < 2 or not process or pid not in forks:
        return None
    he, pe = ev[helper[0]], ev[process[0]]
    p = {}
    p["exec"] = execs[0]
    p["re-exec (protected copy)"] = execs[1]
    p["pidfd_open (state and config read)"] = first(es, "syscalls:sys_enter_pidfd_open")
    p["clone3 (helper)"] = first(es, "syscalls:sys_enter_clone3")
    p["helper forked"] = forks[helper[0]][1]
    p["helper: setns"] = first(he, "syscalls:sys_enter_setns")
    p["helper: clone3 (process)"] = first(he, "syscalls:sys_enter_clone3")
    p["process forked"] = forks[process[0]][1]
    p["process: sendto Ready"] = first(pe, "syscalls:sys_enter_sendto")
    p["process: execve"] = first(pe, "syscalls:sys_enter_execve")
    p["/bin/true exec'd"] = first(pe, "sched:sched_process_exec")
    p["/bin/true: exit_group"] = first(pe, "syscalls:sys_enter_exit_group")
    p["outlet: wait4 returns"] = first(es, "syscalls:sys_exit_wait4", p["/bin/true: exit_group"] or 0)
    p["outlet: exit_group"] = first(es, "syscalls:sys_enter_exit_group")
    p["outlet: exit begins"] = first(es, "sched:sched_process_exit")
    caller = ev.get(forks[pid][0], [])
    p["caller: wait4 returns"] = first(caller, "syscalls:sys_exit_wait4", p["outlet: exit begins"] or 0)
    if any(v is None for v in p.values()):
        return None
    return forks[pid][1], p


def main():
    binary = sys.argv[1]
    ev, forks = parse(sys.stdin)
    runs = []
    for pid, es in ev.items():
        ex = [a for _, n, a in es if n == "sched:sched_process_exec"]
        if ex and f"filename={binary} " in ex[0] + " ":
            r = points(pid, es, ev, forks)
            if r:
                runs.append(r)
    if not runs:
        sys.exit(f"exec-critpath: no complete exec of {binary} in the trace")
    print(f"{len(runs)} execs; interval: median (p25-p75); the point's median since the fork; ms")
    names = list(runs[0][1])
    prev = "fork"
    for i, k in enumerate(names):
        d = [p[k] - (p[names[i - 1]] if i else t0) for t0, p in runs]
        at = [p[k] - t0 for t0, p in runs]
        q = statistics.quantiles(d, n=4)
        print(f"| {prev} -> {k} | {statistics.median(d):.3f} | {q[0]:.3f}-{q[2]:.3f} | {statistics.median(at):.3f} |")
        prev = k
    tot = [p[names[-1]] - t0 for t0, p in runs]
    print(f"| total (fork -> wait4) | {statistics.median(tot):.3f} | |")


main()

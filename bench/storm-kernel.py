#!/usr/bin/env python3
"""Where a storm's CPU goes, the kernel's deferred work included: perf samples.

    perf record -a -g -e cpu-clock -F 999 -o storm.data -- bash bench/storm.sh
    perf script -i storm.data --show-task-events -F comm,pid,tid,cpu,time,period,ip,sym | \\
        bench/storm-kernel.py LIFECYCLES

Every sample of the whole machine goes into one row: the processes
perf's workload started (the fork tree below the process perf forked):
the driver (`python3`), the runtime's commands and the inits (the rest
of the tree; the storm's setup by bash is in it too, and small), the
kernel threads by the work they did (a kworker by the
work function process_one_work called: cleanup_net, bpf_prog_free_deferred,
...; an RCU kthread by name), softirq by its handler (RCU callbacks by
the callback rcu_do_batch called), idle, and other processes (the other
jobs of a shared machine). Rows are ms of CPU per lifecycle (samples x
period / LIFECYCLES): what a lifecycle makes the kernel do outside the
commands' own rusage is in the kworker, rcu and softirq rows. See
bench/README.md "Session 8: the storm".
"""

import collections
import re
import sys

HDR = re.compile(r"^\s*(\S.*?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\d+)\s")
FORK = re.compile(r"^\s*(\S.*?)\s+\d+/\d+\s+\[\d+\]\s+[\d.]+:\s+PERF_RECORD_FORK\((\d+):\d+\):\((\d+):\d+\)")
IDLE = {"swapper"}


def frames(lines):
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2:
            out.append(parts[1].split("+")[0])
    return out


def below(stack, fn):
    """The frame `fn` called (the stack is leaf first)."""
    for i, f in enumerate(stack):
        if f == fn and i > 0:
            return stack[i - 1]
    return None


def softirq(stack):
    if "handle_softirqs" not in stack and "__do_softirq" not in stack:
        return None
    cb = below(stack, "rcu_do_batch")
    if cb:
        return "softirq: RCU callback " + cb
    # A softirq sampled in handle_softirqs itself: the cpu-clock timer's
    # interrupt lands where the handler turns interrupts back on.
    h = below(stack, "handle_softirqs") or below(stack, "__do_softirq") or "(its irq-enable)"
    return "softirq: " + h


def category(comm, stack, ours):
    s = softirq(stack)
    if s:
        return s
    if ours:
        return "driver" if comm.startswith("python3") else "runtime commands + inits"
    if comm.startswith("kworker"):
        return "kworker: " + (below(stack, "process_one_work") or (stack[0] if stack else "?"))
    if comm.startswith("rcu") or comm.startswith("ksoftirqd"):
        return comm.split("/")[0] + ": " + (stack[-3] if len(stack) >= 3 else "?")
    if comm.split("/")[0] in IDLE:
        return "idle"
    return "other processes"


def main():
    lifecycles = int(sys.argv[1])
    ns = collections.Counter()
    # The workload's tree: perf forks it (its FORK's comm is perf's own);
    # every later fork of a process in the tree is in it. Events come in
    # time order, so a child's samples follow its FORK.
    tree = set()
    for ev in sys.stdin.read().split("\n\n"):
        lines = [line for line in ev.split("\n") if line.strip()]
        # Task events come as lines of their own, before a sample's header.
        while lines and "PERF_RECORD_" in lines[0]:
            f = FORK.match(lines.pop(0))
            if f:
                child, parent = int(f.group(2)), int(f.group(3))
                if parent in tree or (not tree and f.group(1) == "perf"):
                    tree.add(child)
        m = HDR.match(lines[0]) if lines else None
        if not m:
            continue
        ours = int(m.group(2)) in tree
        ns[category(m.group(1), frames(lines[1:]), ours)] += int(m.group(6))
    busy = sum(v for k, v in ns.items() if k != "idle")
    print(f"| where | ms per lifecycle | share of busy |\n|---|---|---|")
    for cat, v in sorted(ns.items(), key=lambda x: -x[1]):
        if v / lifecycles < 0.005e6:
            continue
        share = f"{100 * v / busy:.1f}%" if cat != "idle" else ""
        print(f"| {cat} | {v / lifecycles / 1e6:.3f} | {share} |")
    print(f"| (busy, all rows but idle) | {busy / lifecycles / 1e6:.3f} | |")


if __name__ == "__main__":
    main()

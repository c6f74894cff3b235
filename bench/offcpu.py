#!/usr/bin/env python3
"""Where a storm's processes wait: off-CPU time by kind, from perf.

    perf record -a -g -e sched:sched_switch -o off.data   # while a storm runs
    perf script -i off.data | bench/offcpu.py COMM[,COMM...] LIFECYCLES

For every switch-out of a process whose comm is listed (outlet's
commands and its init are `outlet` until the init's execve, `true`
after), the time until the same pid runs again, put in a category by the
kernel stack it left the CPU with, and printed per lifecycle (the total
over LIFECYCLES) with the p50/p99/max of one wait. `prev_state` R is a
preempted, runnable task (waiting for a CPU), D a wait in the kernel,
S a wait for an event. See bench/README.md "What serializes a storm".
"""

import collections
import re
import sys

HDR = re.compile(r"^\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_switch:\s+(.*)$")
KV = re.compile(r"prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)")
SCHED = {"__traceiter_sched_switch", "__schedule", "schedule", "__schedule_loop"}
LOCKS = {
    "schedule_preempt_disabled",
    "rwsem_down_write_slowpath",
    "rwsem_down_read_slowpath",
    "down_write",
    "down_read",
    "__mutex_lock.constprop.0",
    "mutex_lock",
}


def category(state, stack):
    j = " ".join(stack)
    if state.startswith("R"):
        return "runnable (preempted)"
    if "synchronize_rcu_expedited" in j:
        if "ovl_free_fs" in j:
            return "RCU exp. GP: overlay superblock freed"
        if "__fput" in j:
            return "RCU exp. GP: detached mount dissolved on close"
        if "path_umount" in j:
            return "RCU exp. GP: umount"
        if "free_nsproxy" in j:
            return "RCU exp. GP: mount namespace teardown at exit"
        return "RCU exp. GP: other"
    if "blkdev_issue_discard" in j:
        return "block discard (ext4 -o discard)"
    if "recvfrom" in j or "recvmsg" in j:
        return "S: socket receive (create waiting for its init)"
    if "pipe_read" in j:
        return "S: pipe/fifo read (init waiting for start)"
    if "poll" in j:
        return "S: poll"
    if "rwsem" in j or "mutex" in j:
        return "lock: " + next((f for f in stack if f not in LOCKS), "?")
    return f"{state}: {stack[0] if stack else '?'}"


def main():
    comms = set(sys.argv[1].split(","))
    lifecycles = int(sys.argv[2])
    out, waits = {}, collections.defaultdict(list)
    for ev in sys.stdin.read().split("\n\n"):
        lines = [line for line in ev.split("\n") if line.strip()]
        m = HDR.match(lines[0]) if lines else None
        k = KV.search(m.group(5)) if m else None
        if not k:
            continue
        t = float(m.group(4))
        prev_comm, prev_pid, prev_state, next_pid = k.group(1), int(k.group(2)), k.group(3), int(k.group(5))
        stack = [f.split()[1].split("+")[0] for f in lines[1:] if len(f.split()) >= 2]
        out[prev_pid] = (t, prev_comm, prev_state, [f for f in stack if f not in SCHED])
        if next_pid in out:
            t0, comm, state, stk = out.pop(next_pid)
            # A zombie never runs again: a later switch-in is a reused pid.
            if comm in comms and state != "Z":
                waits[category(state, stk)].append((t - t0) * 1000)
    print(f"| where | waits | ms per lifecycle | one wait p50 / p99 / max (ms) |\n|---|---|---|---|")
    for cat, v in sorted(waits.items(), key=lambda x: -sum(x[1])):
        v.sort()
        print(
            f"| {cat} | {len(v)} | {sum(v) / lifecycles:.2f} | "
            f"{v[len(v) // 2]:.2f} / {v[int(len(v) * 0.99)]:.2f} / {v[-1]:.1f} |"
        )


if __name__ == "__main__":
    main()

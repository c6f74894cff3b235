#!/usr/bin/env python3
"""One `run`'s critical path, from tracepoints: which process waits for which.

    E="-e sched:sched_process_exec -e sched:sched_process_fork -e sched:sched_process_exit"
    for s in mkdir bpf clone3 sendto pivot_root exit_group rmdir; do E="$E -e syscalls:sys_enter_$s"; done
    E="$E -e syscalls:sys_exit_clone3 -e syscalls:sys_exit_rt_sigtimedwait -e syscalls:sys_exit_wait4"
    # optional finer points in the init's setup (see `points`):
    E="$E -e syscalls:sys_exit_recvfrom -e syscalls:sys_enter_fsmount -e syscalls:sys_enter_mknodat"
    E="$E -e syscalls:sys_enter_sendmsg"  # Unshared with the init's network socket
    perf record -a $E -o tl.data -- sh -c 'for i in $(seq 30); do outlet --root R run --bundle B c$i; done'
    perf script -i tl.data | bench/critpath.py outlet

For every process that exec'd a file whose name contains the argument
(`outlet`, or `release/floor` and `release/specfloor` for bench/tools'
floor and spec floor), and its first child (the
container's init), the times of fixed points (the exec, the protected
re-exec, the state dir's mkdir, the device filter's BPF_PROG_LOAD, clone3,
the init's first and last sendto on the sync channel (Unshared, Ready),
its pivot_root and execve, its exit, the parent's wake-up, rmdirs, exit,
and the caller's wait4 returning), relative to the caller's fork. Prints
the median (p25-p75) of each interval between two points that follow
each other, per run: in ms. The tracepoints cost a few microseconds each;
strace -f -T shows the same order at 5-10x the time. See bench/README.md
"Session 10: run's critical path".
"""
import collections
import re
import statistics
import sys

LINE = re.compile(r"^\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")


def parse(lines):
    ev = collections.defaultdict(list)  # pid -> [(ms, event, args)]
    forks = {}  # child pid -> (parent pid, ms)
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        _comm, pid, _cpu, t, name, args = m.groups()
        pid, t = int(pid), float(t) * 1000
        if name == "sched:sched_process_fork":
            child = int(re.search(r"child_pid=(\d+)", args).group(1))
            forks[child] = (int(re.search(r"pid=(\d+)", args).group(1)), t)
            continue
        if name == "sched:sched_process_exit":
            pid = int(re.search(r"pid=(\d+)", args).group(1))
        ev[pid].append((t, name, args))
    return ev, forks


def first(es, name, after=-1.0):
    return next((t for t, n, _ in es if n == name and t > after), None)


def points(pid, es, ev, forks):
    t0 = forks[pid][1]
    ip = next((c for c, (p, _) in forks.items() if p == pid), None)
    if ip is None:
        return None
    ie = ev[ip]
    mk = {}
    execs = [t for t, n, _ in es if n == "sched:sched_process_exec"]
    mk["exec"] = execs[0]
    mk["re-exec (protected copy)"] = execs[1] if len(execs) > 1 else None
    mk["mkdir (state dir)"] = first(es, "syscalls:sys_enter_mkdir")
    mk["bpf (device filter load)"] = first(es, "syscalls:sys_enter_bpf")
    mk["clone3 enter"] = first(es, "syscalls:sys_enter_clone3")
    mk["init forked"] = forks[ip][1]
    # Unshared goes by sendmsg when it carries the init's network socket.
    sends = [t for t, n, _ in ie if n in ("syscalls:sys_enter_sendto", "syscalls:sys_enter_sendmsg")]
    mk["init: sendto Unshared"] = sends[0] if sends else None
    # Optional points (recorded only when their events are): the init's
    # first recv returning after Unshared (Placed), the first new mount
    # (fsmount), its first node in /dev (mknodat, after the device program).
    u = mk["init: sendto Unshared"] or 0
    mk["init: Placed received"] = first(ie, "syscalls:sys_exit_recvfrom", u)
    # More optional points, for setting runtimes beside bench/tools'
    # floor and specfloor (bench/critpath-floors.sh): the init's first
    # mount(2) (making / slave or private), the old root's detach returning,
    # sethostname (masks and read-only paths are done), capset (ids and
    # the bounding set are done).
    mk["init: first mount"] = first(ie, "syscalls:sys_enter_mount")
    mk["init: first fsmount"] = first(ie, "syscalls:sys_enter_fsmount")
    mk["init: first mknodat (/dev)"] = first(ie, "syscalls:sys_enter_mknodat")
    mk["init: pivot_root"] = first(ie, "syscalls:sys_enter_pivot_root")
    mk["init: old root detached"] = first(ie, "syscalls:sys_exit_umount", mk["init: pivot_root"] or 0)
    mk["init: sethostname"] = first(ie, "syscalls:sys_enter_sethostname")
    mk["init: capset"] = first(ie, "syscalls:sys_enter_capset")
    mk["init: sendto Ready"] = sends[-1] if len(sends) > 1 else None
    mk["init: execve /bin/true done"] = first(ie, "sched:sched_process_exec")
    mk["init: exit_group"] = first(ie, "syscalls:sys_enter_exit_group")
    gone = first(ie, "sched:sched_process_exit") or 0
    woke = [
        x
        for x in (
            first(es, "syscalls:sys_exit_rt_sigtimedwait", gone),
            first(es, "syscalls:sys_exit_wait4", gone),
        )
        if x
    ]
    mk["parent woken by the init's exit"] = min(woke) if woke else None
    rm = [t for t, n, _ in es if n == "syscalls:sys_enter_rmdir"]
    mk["parent: first rmdir (cgroup)"] = rm[0] if rm else None
    mk["parent: last rmdir (state dir)"] = rm[-1] if rm else None
    mk["parent: exit_group"] = first(es, "syscalls:sys_enter_exit_group")
    mk["caller: wait4 returns"] = first(ev[forks[pid][0]], "syscalls:sys_exit_wait4", t0)
    return {k: (v - t0 if v is not None else None) for k, v in mk.items()}


def main():
    want = sys.argv[1]
    ev, forks = parse(sys.stdin)
    runs = []
    for pid, es in ev.items():
        if pid in forks and any(
            n == "sched:sched_process_exec" and want in a for _, n, a in es[:1] + es
        ):
            p = points(pid, es, ev, forks)
            if p and p["caller: wait4 returns"] is not None:
                runs.append(p)
    if not runs:
        sys.exit(f"no run of {want} found")
    print(f"{len(runs)} runs; interval: median (p25-p75); the point's median since the fork; ms")
    prev = "fork"
    for k in runs[0]:
        if runs[0][k] is None:
            continue
        d = [r[k] - (r[prev] if prev != "fork" else 0) for r in runs
             if r[k] is not None and (prev == "fork" or r[prev] is not None)]
        q = statistics.quantiles(d, n=4) if len(d) > 1 else [d[0]] * 3
        at = statistics.median(r[k] for r in runs if r[k] is not None)
        print(f"| {prev} -> {k} | {statistics.median(d):.3f} | {q[0]:.3f}-{q[2]:.3f} | {at:.3f} |")
        prev = k
    tot = [r["caller: wait4 returns"] for r in runs]
    print(f"| total (fork -> wait4) | {statistics.median(tot):.3f} | |")


if __name__ == "__main__":
    main()

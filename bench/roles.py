#!/usr/bin/env python3
"""One lifecycle's CPU by process and by what it was doing: perf samples
of bench/lifecycle-ab.sh's lifecycles (one binary, PIDLOG set).

    perf record -a -g -e cpu-clock -F 4999 -o L.data -- \\
        env PIDLOG=pids.txt bench/lifecycle-ab.sh 200 outlet=BINARY
    perf script -i L.data --show-task-events \\
        -F comm,pid,tid,cpu,time,period,ip,sym,dso | \\
        bench/roles.py pids.txt 400 [ROLE]

(PAIRS 200 with one binary makes 400 lifecycles: that is the divisor.)
Roles: create-1 (the first image, until its execveat of the protected
copy; its first samples are the driver's posix_spawn child before the
exec), create-2 (the protected copy: parse, state dir, cgroup, clone,
the sync protocol, exit), init (the clone, until its execve), true (the
container's /bin/true), start, delete. Within a role a sample goes to
`user`, `pagefault`, the syscall it was under (`sys:NAME`), or
`kernel:?` (entry and exit paths, scheduling). Rows are ms per
lifecycle. With ROLE, that role's samples by leaf symbol too. For
symbols, build unstripped (CARGO_PROFILE_RELEASE_STRIP=false
CARGO_PROFILE_RELEASE_DEBUG=1 --target-dir target/prof) and give perf
the protected copy's path (a symlink /outlet to the binary: the copy
maps as /<binary's name> inside its detached overlay). See
bench/README.md "Session 12: the storm's CPU"."""
import collections
import re
import sys

HDR = re.compile(r"^\s*(\S.*?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\d+)\s")
FORK = re.compile(r"PERF_RECORD_FORK\((\d+):\d+\):\((\d+):\d+\)")
COMM = re.compile(r"PERF_RECORD_COMM exec: (\S+):(\d+)/(\d+)")


def main():
    pids = {}
    for line in open(sys.argv[1]):
        p, c = line.split()[:2]
        pids[int(p)] = c
    n = int(sys.argv[2])
    detail = sys.argv[3] if len(sys.argv) > 3 else None
    parent, execs = {}, collections.Counter()
    tot, by, syms = collections.Counter(), collections.Counter(), collections.Counter()

    def role(pid):
        if pid in pids:
            c = pids[pid]
            if c == "create":
                return "create-1" if execs[pid] <= 1 else "create-2"
            return c
        pp = parent.get(pid)
        if pp in pids and pids[pp] == "create":
            return "init" if execs[pid] == 0 else "true"
        return None

    def kind(stack):
        if not stack or "kernel" not in stack[0][1]:
            return "user"
        for sym, _ in stack:
            if sym.startswith(("__x64_sys_", "__do_sys_")):
                return "sys:" + sym.replace("__x64_sys_", "").replace("__do_sys_", "")
            if sym == "asm_exc_page_fault":
                return "pagefault"
        return "kernel:?"

    def flush(hdr, stack):
        if not hdr:
            return
        r = role(hdr[0])
        if r is None:
            return
        ms = hdr[1] / 1e6 / n
        k = kind(stack)
        tot[r] += ms
        by[(r, k)] += ms
        if r == detail:
            syms[(k, stack[0][0] if stack else "?")] += ms

    hdr, stack = None, []
    for line in sys.stdin:
        if "PERF_RECORD_" in line:
            m = FORK.search(line)
            if m:
                parent[int(m.group(1))] = int(m.group(2))
            m = COMM.search(line)
            if m and m.group(2) == m.group(3):
                execs[int(m.group(2))] += 1
            continue
        m = HDR.match(line)
        if m:
            flush(hdr, stack)
            hdr, stack = (int(m.group(2)), int(m.group(6))), []
            continue
        parts = line.split()
        if hdr and len(parts) >= 2:
            dso = parts[-1] if parts[-1].startswith("(") else ""
            stack.append((parts[1].split("+")[0], dso))
        elif not parts:
            flush(hdr, stack)
            hdr, stack = None, []
    flush(hdr, stack)
    print(f"ms per lifecycle, {n} lifecycles; all roles {sum(tot.values()):.3f}")
    for r in ("create-1", "create-2", "init", "true", "start", "delete"):
        rows = sorted(((v, k) for (rr, k), v in by.items() if rr == r), reverse=True)
        print(f"{r}: {tot[r]:.3f}  " + ", ".join(f"{k} {v:.3f}" for v, k in rows[:12]))
    if detail:
        print(f"{detail} by leaf symbol:")
        for (k, s), v in sorted(syms.items(), key=lambda x: -x[1])[:40]:
            print(f"  {v:.3f} {k} {s}")


main()

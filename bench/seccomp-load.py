#!/usr/bin/env python3
"""What podman's seccomp filter costs the kernel, as libseccomp lays it out
(bench/README.md, "Seccomp"). As root, x86_64 only:

    python3 bench/seccomp-load.py [LOADS]           load time per row
    python3 bench/seccomp-load.py --calls [ROUNDS]  cost per syscall

The profile is podman's default (/usr/share/containers/seccomp.json)
resolved for amd64 and runc's default capabilities, compiled once per row
by libseccomp the way outlet compiles it (every entry: default action and
errnoRet, EPERM rules, personality's argument conditions; two conditions
on one argument become two rules), for a set of architectures and a
libseccomp optimization level (SCMP_FLTATR_CTL_OPTIMIZE: 1 = rules in
priority order, libseccomp's default; 2 = binary tree on the syscall
number).

Load time: each load is seccomp(SECCOMP_SET_MODE_FILTER) in a fresh forked
child with no_new_privs, timed around the syscall alone. The kernel runs
the filter for every syscall number of the native and compat arch on load
(to build its always-allow bitmap), so this grows with the instructions
walked per syscall number.

Cost per syscall: in a fresh child, ns per call of a few syscalls before
and after loading the filter (the difference is the filter's), for the
syscalls the kernel's bitmap cannot answer: argument-conditioned
(personality), errno'd by a rule (acct), by the default action (an unknown
number). getpid is the control: always allowed, so the bitmap answers it
and its cost must not change.

Rows interleaved, order shuffled every round; medians and quartiles.
"""
import ctypes, os, sys, time, statistics, tempfile, random
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import podman_profile
L = ctypes.CDLL('libseccomp.so.2', use_errno=True)
L.seccomp_init.restype = ctypes.c_void_p
L.seccomp_arch_resolve_name.restype = ctypes.c_uint32
L.seccomp_syscall_resolve_name.restype = ctypes.c_int
caps = ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]
prof = podman_profile('/usr/share/containers/seccomp.json', caps)
SCMP_FLTATR_CTL_OPTIMIZE = 8
ACT = {'SCMP_ACT_ALLOW': 0x7fff0000, 'SCMP_ACT_LOG': 0x7ffc0000,
       'SCMP_ACT_KILL_PROCESS': 0x80000000, 'SCMP_ACT_KILL': 0, 'SCMP_ACT_KILL_THREAD': 0}
OPS = {'SCMP_CMP_NE': 1, 'SCMP_CMP_LT': 2, 'SCMP_CMP_LE': 3, 'SCMP_CMP_EQ': 4,
       'SCMP_CMP_GE': 5, 'SCMP_CMP_GT': 6, 'SCMP_CMP_MASKED_EQ': 7}
class ArgCmp(ctypes.Structure):
    _fields_ = [('arg', ctypes.c_uint), ('op', ctypes.c_int),
                ('a', ctypes.c_uint64), ('b', ctypes.c_uint64)]
def action(name, errno):
    if name == 'SCMP_ACT_ERRNO':
        return 0x00050000 | (1 if errno is None else errno)
    return ACT[name]
def build(arches, optimize):
    default = action(prof['defaultAction'], prof.get('defaultErrnoRet'))
    ctx = ctypes.c_void_p(L.seccomp_init(ctypes.c_uint32(default)))
    assert L.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, ctypes.c_uint32(optimize)) == 0
    for a in arches:
        r = L.seccomp_arch_add(ctx, ctypes.c_uint32(L.seccomp_arch_resolve_name(a.encode())))
        assert r in (0, -17), (a, r)
    for e in prof['syscalls']:
        act = action(e['action'], e.get('errnoRet'))
        if act == default:
            continue
        args = e.get('args') or []
        conds = [ArgCmp(c['index'], OPS[c['op']], c['value'], c.get('valueTwo', 0)) for c in args]
        idx = [c['index'] for c in args]
        groups = [[c] for c in conds] if len(set(idx)) < len(idx) else [conds]
        for n in e['names']:
            nr = L.seccomp_syscall_resolve_name(n.encode())
            if nr < 0:
                continue
            for g in groups:
                arr = (ArgCmp * max(len(g), 1))(*g)
                assert L.seccomp_rule_add_array(ctx, ctypes.c_uint32(act), ctypes.c_int(nr),
                                                ctypes.c_uint(len(g)), arr) == 0, n
    f = tempfile.TemporaryFile()
    assert L.seccomp_export_bpf(ctx, f.fileno()) == 0
    f.seek(0)
    return f.read()
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
class SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
NR_seccomp, NR_getpid, NR_personality, NR_acct = 317, 39, 135, 163
# (label, syscall number, argument): see the docstring.
CALLS = [('getpid (bitmap: control)', NR_getpid, 0),
         ('personality(0xffffffff) (allowed by an argument rule)', NR_personality, 0xffffffff),
         ('acct(NULL) (EPERM rule)', NR_acct, 0),
         ('unknown number 1000 (default action)', 1000, 0)]
CALL_N = 50000
def per_call(nr, arg):
    """ns of CPU per call (the thread's CPU clock: time spent runnable but
    waiting for a core on this shared machine does not count)."""
    libc.syscall(nr, ctypes.c_ulong(arg))
    t0 = time.thread_time_ns()
    for _ in range(CALL_N):
        libc.syscall(nr, ctypes.c_ulong(arg))
    return (time.thread_time_ns() - t0) / CALL_N
def in_child(prog, calls):
    """Load `prog` in a fresh child: the load's ns, or with `calls` the
    filter's ns per call of each of CALLS (after minus before)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        buf = ctypes.create_string_buffer(prog, len(prog))
        fp = SockFprog(len(prog)//8, ctypes.cast(buf, ctypes.c_void_p))
        libc.prctl(38, 1, 0, 0, 0)
        before = [per_call(nr, a) for _, nr, a in CALLS] if calls else []
        t0 = time.monotonic_ns()
        rc = libc.syscall(NR_seccomp, 1, 0, ctypes.byref(fp))
        t1 = time.monotonic_ns()
        out = [t1 - t0]
        if calls:
            out = [per_call(nr, a) - b for (_, nr, a), b in zip(CALLS, before)]
        os.write(w, (f"{rc} " + " ".join(map(str, out))).encode()); os._exit(0)
    os.close(w)
    out = os.read(r, 1000).decode()
    os.close(r)
    os.waitpid(pid, 0)
    rc, *vals = out.split()
    assert int(rc) == 0, out
    return [float(v) for v in vals]
def quart(v):
    v = sorted(v); q = statistics.quantiles(v, n=4)
    return statistics.median(v), q[0], q[2]
calls = '--calls' in sys.argv
argv = [a for a in sys.argv[1:] if a != '--calls']
rounds = int(argv[0]) if argv else (30 if calls else 200)
podman = ['x86_64', 'x86', 'x32']
sets = {'x86_64': ['x86_64'], 'x86_64, x32': ['x86_64', 'x32'], 'x86_64, x86': ['x86_64', 'x86'],
        'x86_64, x86, x32 (podman on amd64)': podman,
        'those + aarch64, arm': podman + ['aarch64', 'arm']}
if calls:
    sets = {'x86_64, x86, x32 (podman on amd64)': podman}
rows = {(k, o): build(v, o) for k, v in sets.items() for o in (1, 2)}
res = {k: [] for k in rows}
for i in range(rounds):
    ks = list(rows); random.shuffle(ks)
    for k in ks:
        res[k].append(in_child(rows[k], calls))
if calls:
    print("| syscall | optimize 1 (default): ns added per call | optimize 2 (binary tree) |")
    print("|---|---|---|")
    for j, (label, _, _) in enumerate(CALLS):
        cells = ["%.0f (%.0f to %.0f)" % quart([s[j] for s in res[(k, o)]]) for (k, o) in rows]
        print(f"| {label} | " + " | ".join(cells) + " |")
else:
    print("| architectures in the filter | optimize | BPF instructions | seccomp(SET_MODE_FILTER), median (p25-p75) |")
    print("|---|---|---|---|")
    for (k, o) in rows:
        m, a, b = quart([s[0] for s in res[(k, o)]])
        print(f"| {k} | {o} | {len(rows[(k, o)])//8} | {m/1000:.0f} us ({a/1000:.0f}-{b/1000:.0f}) |")

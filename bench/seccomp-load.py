#!/usr/bin/env python3
"""How long the kernel takes to load podman's seccomp filter built for more
or fewer architectures (bench/README.md, "Seccomp"). As root:

    python3 bench/seccomp-load.py [LOADS]      (default 200 per row)

The program is compiled once per row by libseccomp (allow rules of
podman's profile resolved for amd64, without argument conditions); each
load is seccomp(SECCOMP_SET_MODE_FILTER) in a fresh forked child with
no_new_privs, timed around the syscall alone. Rows interleaved, order
shuffled every round. x86_64 only.
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
ACT_ERRNO = lambda e: 0x00050000 | e
ACT_ALLOW = 0x7fff0000
def build(arches):
    ctx = ctypes.c_void_p(L.seccomp_init(ctypes.c_uint32(ACT_ERRNO(1))))
    for a in arches:
        t = L.seccomp_arch_resolve_name(a.encode())
        r = L.seccomp_arch_add(ctx, ctypes.c_uint32(t))
        assert r in (0, -17), (a, r)
    if 'x86_64' not in arches:
        L.seccomp_arch_remove(ctx, ctypes.c_uint32(L.seccomp_arch_resolve_name(b'x86_64')))
    for e in prof['syscalls']:
        if e['action'] != 'SCMP_ACT_ALLOW' or e.get('args'):
            continue
        for n in e['names']:
            nr = L.seccomp_syscall_resolve_name(n.encode())
            if nr >= 0:
                L.seccomp_rule_add(ctx, ctypes.c_uint32(ACT_ALLOW), ctypes.c_int(nr), ctypes.c_uint(0))
    f = tempfile.TemporaryFile()
    assert L.seccomp_export_bpf(ctx, f.fileno()) == 0
    f.seek(0); prog = f.read()
    return prog
libc = ctypes.CDLL(None, use_errno=True)
class SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
def load_ns(prog):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        buf = ctypes.create_string_buffer(prog, len(prog))
        fp = SockFprog(len(prog)//8, ctypes.cast(buf, ctypes.c_void_p))
        libc.prctl(38, 1, 0, 0, 0)
        t0 = time.monotonic_ns()
        rc = libc.syscall(317, 1, 0, ctypes.byref(fp))
        t1 = time.monotonic_ns()
        os.write(w, f"{rc} {t1-t0}".encode()); os._exit(0)
    os.close(w)
    out = os.read(r, 100).decode()
    os.close(r)
    os.waitpid(pid, 0)
    rc, ns = map(int, out.split()); assert rc == 0
    return ns
print("| architectures in the filter | BPF instructions | seccomp(SET_MODE_FILTER) median (p25-p75) |")
print("|---|---|---|")
sets = {'x86_64': ['x86_64'], 'x86_64+x86': ['x86_64','x86'], 'x86_64+x32': ['x86_64','x32'], 'x86_64+x86+x32': ['x86_64', 'x86', 'x32'],
        '+aarch64,arm (5)': ['x86_64', 'x86', 'x32', 'aarch64', 'arm']}
progs = {k: build(v) for k, v in sets.items()}
res = {k: [] for k in sets}
for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 200):
    ks = list(sets); random.shuffle(ks)
    for k in ks:
        res[k].append(load_ns(progs[k]))
for k in sets:
    v = sorted(res[k]); q = statistics.quantiles(v, n=4)
    print(f"| {k} | {len(progs[k])//8} | {statistics.median(v)/1000:.0f} us ({q[0]/1000:.0f}-{q[2]/1000:.0f}) |")

#!/usr/bin/env python3
"""Interleaved side-by-side benchmark of OCI runtimes (outlet, crun, runc).

Called by bench/run.sh; see bench/README.md for what every number means.

    driver.py table  --field v2|hybrid --work DIR --rootfs DIR --runs N --tag T
                     [--floor BIN] [--specfloor BIN] [--env NAME:KEY=VALUE] NAME=PATH ...
    driver.py limit  --work DIR --rootfs DIR --tag T --bytes N NAME=PATH ...

Every runtime command is spawned directly (posix_spawn, no shell) and reaped
with wait4, which gives its wall time and its peak RSS (ru_maxrss: the largest
of the runtime process and any descendant it reaped itself). The driver is a
child subreaper, as containerd's shim is, so a container's init that outlives
`create` becomes our child and we can wait for it without polling `state`.

Runs are interleaved: iteration i runs measure M for runtime A, B, C, then the
next measure, so drift in the machine (page cache, CPU frequency, other load)
hits every runtime alike. Two warm-up iterations are not recorded.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

CMD_TIMEOUT = 10  # seconds; a hung runtime must not hang the benchmark
WARMUP = 2
MAX_FAILURES = 3  # per runtime and measure, then it is no longer run


class Failure:
    def __init__(self, msg):
        self.msg, self.count, self.stopped = msg, 0, False


class Result:
    __slots__ = ("rc", "ns", "maxrss_kib", "err")

    def __init__(self, rc, ns, maxrss_kib, err):
        self.rc, self.ns, self.maxrss_kib, self.err = rc, ns, maxrss_kib, err

    @property
    def ok(self):
        return self.rc == 0


class Spawner:
    """Client of bench/tools' `runner`, which forks, times and reaps.

    Commands get stdio /dev/null and stderr into a file, not a pipe: a
    container's init inherits the stdio of `create`, and a pipe would not
    reach EOF until the container exits.
    """

    def __init__(self, work, runner):
        self.err_path = os.path.join(work, "stderr.txt")
        self.proc = subprocess.Popen(
            [runner, self.err_path, str(CMD_TIMEOUT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def ask(self, *fields):
        self.proc.stdin.write(b"\0".join(os.fsencode(f) for f in fields) + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("driver: the runner died")
        return line.decode().split()

    def run(self, argv, env=None):
        ask = ("run-env", env) if env else ("run",)
        rc, ns, rss = (int(x) for x in self.ask(*ask, *argv))
        err = ""
        if rc == 124:
            err = f"timed out after {CMD_TIMEOUT}s: {' '.join(argv)}"
        elif rc == 127 and ns == 0:
            err = f"cannot execute {argv[0]}"
        elif rc != 0:
            err = self.stderr_text() or f"exit status {rc}"
        return Result(rc, ns, rss, err)

    def wait(self, pid):
        """Waits for an init adopted by the runner: (exit status, ns)."""
        answer = self.ask("wait", str(pid))
        if answer == ["timeout"]:
            raise RuntimeError(f"init pid {pid} did not exit within {CMD_TIMEOUT}s")
        return int(answer[0]), int(answer[1])

    def reap(self):
        self.ask("reap")

    def close(self):
        """EOF ends the runner; wait so it never outlives the driver."""
        self.proc.stdin.close()
        self.proc.wait()

    def stderr_text(self):
        with open(self.err_path, errors="replace") as f:
            lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
        return lines[-1] if lines else ""


class Runtime:
    def __init__(self, name, path, work, env=None, roots=None):
        self.name = name
        self.path = path
        # One KEY=VALUE added to every command's environment (the binary
        # protection row runs the same outlet with and without it).
        self.env = env
        # --roots: the state roots elsewhere than the work dir (run.sh's
        # tmpfs table mounts a tmpfs there, in the field's namespace).
        self.root = os.path.join(roots or work, "root-" + name)
        self.unavailable = None
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            self.unavailable = f"not built/installed: {path}"
        else:
            os.makedirs(self.root, exist_ok=True)

    def argv(self, *args):
        return [self.path, "--root", self.root, *args]

    def force_delete_all(self, sp):
        """Deletes every container left in our private --root (after a failure)."""
        if not os.path.isdir(self.root):
            return
        for cid in os.listdir(self.root):
            sp.run(self.argv("delete", "--force", cid), self.env)
        sp.reap()

    def exists(self, cid):
        """Whether the container's state dir is still there (<root>/<id>)."""
        return os.path.exists(os.path.join(self.root, cid))


class Bundles:
    """Writes config.json files that differ only in args and cgroupsPath."""

    def __init__(self, work, rootfs, field, tag, memory_limit=None):
        self.dir = os.path.join(work, "bundles")
        os.makedirs(self.dir, exist_ok=True)
        self.field, self.tag = field, tag
        spec_dir = tempfile.mkdtemp(dir=work)
        # The template is `runc spec`'s, so every runtime gets the same
        # defaults (namespaces pid, network, ipc, uts, mount; no user ns).
        subprocess.run(["runc", "spec", "--bundle", spec_dir], check=True)
        with open(os.path.join(spec_dir, "config.json")) as f:
            spec = json.load(f)
        shutil.rmtree(spec_dir)
        spec["root"] = {"path": os.path.realpath(rootfs), "readonly": True}
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["/bin/true"]
        if field == "v2":
            # crun 1.8.1 cannot load its device eBPF filter here (RLIMIT_MEMLOCK)
            # and v2 has no cpu/memory controllers on this host: no resources.
            spec["linux"].pop("resources", None)
        else:
            res = spec["linux"].setdefault("resources", {})
            res["memory"] = {"limit": memory_limit or 512 * 1024 * 1024}
            res["cpu"] = {"quota": 25000, "period": 100000}
        self.spec = spec

    def write(self, rt, cid, args=None, seccomp=None):
        spec = json.loads(json.dumps(self.spec))
        if args:
            spec["process"]["args"] = args
        if seccomp:
            spec["linux"]["seccomp"] = seccomp
        # v2: absolute, under the private cgroup2 mount's root. hybrid:
        # relative, so the memory cgroup nests under our own cgroup there.
        prefix = "/" if self.field == "v2" else ""
        spec["linux"]["cgroupsPath"] = f"{prefix}{self.tag}/{cid}"
        bdir = os.path.join(self.dir, rt.name)
        os.makedirs(bdir, exist_ok=True)
        with open(os.path.join(bdir, "config.json"), "w") as f:
            json.dump(spec, f)
        return bdir


def podman_profile(path, caps):
    """podman's seccomp.json resolved into an OCI linux.seccomp, as podman
    does for a container holding `caps` on amd64: entries whose includes
    (arches, caps) hold and whose excludes do not, without podman's own
    keys."""
    with open(path) as f:
        raw = json.load(f)
    syscalls = []
    for e in raw["syscalls"]:
        inc, exc = e.get("includes") or {}, e.get("excludes") or {}
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        if any(c not in caps for c in inc.get("caps") or []):
            continue
        if "amd64" in (exc.get("arches") or []) or any(c in caps for c in exc.get("caps") or []):
            continue
        syscalls.append({k: v for k, v in e.items() if k not in ("includes", "excludes", "comment")})
    out = {k: v for k, v in raw.items() if k not in ("archMap", "defaultErrno")}
    out["syscalls"] = syscalls
    out["architectures"] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    return out


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def proc_state(pid):
    """The state letter from /proc/PID/stat (R, S, Z, ...), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def memory_cgroup_dir(pid):
    """The v1 memory cgroup directory of pid on the hybrid host, or None."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if "memory" in ctrls.split(","):
                    return "/sys/fs/cgroup/memory" + path
    except OSError:
        pass
    return None


class Bench:
    def __init__(self, args, runtimes):
        self.args = args
        self.rts = runtimes
        self.sp = Spawner(args.work, args.runner)
        self.bundles = Bundles(args.work, args.rootfs, args.field, args.tag)
        self.seccomp = None
        if args.seccomp:
            caps = self.bundles.spec["process"]["capabilities"]["bounding"]
            self.seccomp = podman_profile(args.seccomp, caps)
        self.samples = {}  # (measure, runtime) -> [values]
        # (measure, runtime) -> Failure; a runtime that fails now and then
        # keeps being measured, so the table can say how often.
        self.failed = {}
        self.attempts = {}  # (measure, runtime) -> runs tried
        self.seq = 0
        # The column stays (reading FAILED) if the spec floor fails.
        self.specfloor_given = bool(args.specfloor)

    def new_id(self, rt, what):
        self.seq += 1
        return f"b{os.getpid()}-{rt.name}-{what}-{self.seq}"

    def add(self, measure, rt, value, record):
        if record and value is not None:
            self.samples.setdefault((measure, rt.name), []).append(value)

    def note_failure(self, measure, name, msg, stop=False):
        f = self.failed.setdefault((measure, name), Failure(msg))
        f.count += 1
        # Give up after a few failures, or at once after a timeout: each
        # costs CMD_TIMEOUT, and the default run must stay short.
        if stop or f.count >= MAX_FAILURES or msg.startswith("timed out") or "timed out after" in msg:
            f.stopped = True

    def fail(self, measure, rt, msg, cid):
        self.note_failure(measure, rt.name, msg)
        self.sp.run(rt.argv("delete", "--force", cid), rt.env)
        self.sp.reap()

    def skip(self, measure, rt):
        if rt.unavailable is not None:
            return True
        f = self.failed.get((measure, rt.name))
        if f is not None and f.stopped:
            return True
        key = (measure, rt.name)
        self.attempts[key] = self.attempts.get(key, 0) + 1
        return False

    def cmd(self, measure, rt, *args):
        r = self.sp.run(rt.argv(*args), rt.env)
        if not r.ok:
            raise RuntimeError(f"`{args[0]}` failed: {r.err}")
        return r

    def lifecycle(self, rt, record):
        """(1) create + start + wait for init to exit + delete, fresh id."""
        self.lifecycle_of("lifecycle", rt, record)

    def lifecycle_seccomp(self, rt, record):
        """(1s) the same with podman's default seccomp profile."""
        if self.seccomp is not None:
            self.lifecycle_of("seccomp", rt, record)

    def lifecycle_of(self, m, rt, record):
        if self.skip(m, rt):
            return
        cid = self.new_id(rt, "life")
        bdir = self.bundles.write(rt, cid, seccomp=self.seccomp if m == "seccomp" else None)
        pidfile = os.path.join(self.args.work, f"{cid}.pid")
        pid = None
        try:
            c = self.cmd(m, rt, "create", "--bundle", bdir, "--pid-file", pidfile, cid)
            pid = read_int(pidfile)
            if pid is None:
                raise RuntimeError(f"`create` wrote no pid file {pidfile}")
            memdir = memory_cgroup_dir(pid) if self.args.field == "hybrid" else None
            charged_create = read_int(f"{memdir}/memory.max_usage_in_bytes") if memdir else None
            s = self.cmd(m, rt, "start", cid)
            status, w = self.sp.wait(pid)
            if status not in (0, -1):  # -1: not our child, status unknown
                raise RuntimeError(f"the init (/bin/true) exited with status {status}")
            charged = read_int(f"{memdir}/memory.max_usage_in_bytes") if memdir else None
            d = self.cmd(m, rt, "delete", cid)
        except RuntimeError as e:
            self.fail(m, rt, str(e) + self.init_post_mortem(pid), cid)
            return
        finally:
            if os.path.exists(pidfile):
                os.unlink(pidfile)
        self.add(m, rt, c.ns + s.ns + w + d.ns, record)
        if m == "seccomp":
            self.add("seccomp_create", rt, c.ns, record)
            return
        self.add("create", rt, c.ns, record)
        self.add("start", rt, s.ns, record)
        self.add("wait", rt, w, record)
        self.add("delete", rt, d.ns, record)
        self.add("rss_create", rt, c.maxrss_kib, record)
        self.add("rss_start", rt, s.maxrss_kib, record)
        self.add("rss_delete", rt, d.maxrss_kib, record)
        self.add("charged_create", rt, charged_create, record)
        self.add("charged", rt, charged, record)

    def init_post_mortem(self, pid):
        """How an init that died before its time ended, if it is our zombie."""
        if pid is None or proc_state(pid) != "Z":
            return ""
        try:
            status, _ = self.sp.wait(pid)
        except RuntimeError:
            return ""
        how = f"killed by signal {status - 128}" if status > 128 else f"exit status {status}"
        return f" [init pid {pid} had ended: {how}]"

    def run_delete(self, rt, record):
        """(2) `run` (foreground: returns when init exits) + `delete`.

        runc and crun remove the container themselves when a foreground
        `run` ends; `delete` is timed only when the state is still there
        afterwards, so no runtime pays for a call that cannot succeed.
        """
        m = "run"
        if self.skip(m, rt):
            return
        cid = self.new_id(rt, "run")
        bdir = self.bundles.write(rt, cid)
        try:
            r = self.cmd(m, rt, "run", "--bundle", bdir, cid)
            d_ns = self.cmd(m, rt, "delete", cid).ns if rt.exists(cid) else 0
        except RuntimeError as e:
            self.fail(m, rt, str(e), cid)
            return
        self.add(m, rt, r.ns + d_ns, record)
        self.add("rss_run", rt, r.maxrss_kib, record)

    def exec_setup(self, rt):
        """Starts the long-running container that (3) execs into."""
        m = "exec"
        rt.exec_id = None
        if self.skip(m, rt):
            return
        cid = self.new_id(rt, "exec")
        bdir = self.bundles.write(rt, cid, args=["/bin/sleep", "1000000"])
        pidfile = os.path.join(self.args.work, f"{cid}.pid")
        try:
            self.cmd(m, rt, "create", "--bundle", bdir, "--pid-file", pidfile, cid)
            rt.exec_pid = read_int(pidfile)
            rt.exec_id = cid
            self.cmd(m, rt, "start", cid)
        except RuntimeError as e:
            self.note_failure(m, rt.name, "setting up the sleeping container: " + str(e), stop=True)
            self.sp.run(rt.argv("delete", "--force", cid), rt.env)
            self.sp.reap()
            rt.exec_id = None  # nothing left to tear down

    def exec_true(self, rt, record):
        """(3) `exec ID /bin/true` into the running container."""
        m = "exec"
        if self.skip(m, rt):
            return
        try:
            r = self.cmd(m, rt, "exec", rt.exec_id, "/bin/true")
        except RuntimeError as e:
            self.note_failure(m, rt.name, str(e))
            return
        self.add(m, rt, r.ns, record)
        self.add("rss_exec", rt, r.maxrss_kib, record)

    def exec_teardown(self, rt):
        if getattr(rt, "exec_id", None) is None or rt.unavailable:
            return
        r = self.sp.run(rt.argv("kill", rt.exec_id, "KILL"), rt.env)
        if r.ok and rt.exec_pid:
            try:
                self.sp.wait(rt.exec_pid)
            except RuntimeError:
                pass
        r = self.sp.run(rt.argv("delete", "--force", rt.exec_id), rt.env)
        if not r.ok:
            self.note_failure("exec-teardown", rt.name, "delete --force: " + r.err)
        self.sp.reap()

    def floor(self, record):
        if not self.args.floor:
            return
        r = self.sp.run([self.args.floor, os.path.realpath(self.args.rootfs)])
        if not r.ok:
            self.note_failure("lifecycle", "floor", r.err, stop=True)
            self.note_failure("run", "floor", r.err, stop=True)
            self.args.floor = None
            return
        if record:
            self.samples.setdefault(("lifecycle", "floor"), []).append(r.ns)
            self.samples.setdefault(("run", "floor"), []).append(r.ns)
            self.samples.setdefault(("rss_run", "floor"), []).append(r.maxrss_kib)

    def specfloor(self, record):
        """The spec floor (bench/tools' specfloor): what the config demands,
        in its own cgroup under the field's cgroup2 root, like a runtime's
        `run` (it removes its cgroup itself)."""
        if not self.args.specfloor:
            return
        self.seq += 1
        parent = os.path.join("/sys/fs/cgroup", self.args.tag)
        os.makedirs(parent, exist_ok=True)
        cg = os.path.join(parent, f"specfloor-{os.getpid()}-{self.seq}")
        r = self.sp.run([self.args.specfloor, os.path.realpath(self.args.rootfs), cg])
        if not r.ok:
            self.note_failure("lifecycle", "specfloor", r.err, stop=True)
            self.note_failure("run", "specfloor", r.err, stop=True)
            self.args.specfloor = None
            if os.path.isdir(cg):
                os.rmdir(cg)
            return
        if record:
            self.samples.setdefault(("lifecycle", "specfloor"), []).append(r.ns)
            self.samples.setdefault(("run", "specfloor"), []).append(r.ns)
            self.samples.setdefault(("rss_run", "specfloor"), []).append(r.maxrss_kib)

    def go(self):
        try:
            for rt in self.rts:
                self.exec_setup(rt)
            total = WARMUP + self.args.runs
            for i in range(total):
                record = i >= WARMUP
                # Rotated each iteration (A B C, B C A, ...) so no runtime
                # always runs right after the same neighbour.
                k = i % len(self.rts)
                order = self.rts[k:] + self.rts[:k]
                for rt in order:
                    self.lifecycle(rt, record)
                for rt in order:
                    self.lifecycle_seccomp(rt, record)
                for rt in order:
                    self.run_delete(rt, record)
                for rt in order:
                    self.exec_true(rt, record)
                if self.args.field == "v2":
                    self.floor(record)
                    self.specfloor(record)
                self.sp.reap()
        finally:
            for rt in self.rts:
                self.exec_teardown(rt)
                if not rt.unavailable:
                    rt.force_delete_all(self.sp)
            self.sp.close()


# ---------------------------------------------------------------- reporting


def fmt_ms(ns):
    return f"{ns / 1e6:.2f} ms"


def fmt_kib(kib):
    return f"{kib / 1024:.1f} MiB"


def fmt_bytes(b):
    return f"{b / (1024 * 1024):.2f} MiB"


def stripped_size(path):
    """Size of the binary after `strip` (Debian's are stripped already)."""
    real = os.path.realpath(path)
    with tempfile.NamedTemporaryFile() as tmp:
        if shutil.which("strip"):
            r = subprocess.run(["strip", "-o", tmp.name, real], capture_output=True)
            if r.returncode == 0:
                return os.path.getsize(tmp.name)
    return os.path.getsize(real)


def shared_libs_size(path):
    """Sizes of the shared libraries the binary loads, except libc/ld.so."""
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    total = 0
    for line in r.stdout.splitlines():
        if "=>" not in line:
            continue
        lib = line.split("=>", 1)[1].split("(")[0].strip()
        base = os.path.basename(lib)
        if not lib or base.startswith(("libc.so", "ld-linux", "libm.so", "libgcc_s")):
            continue
        if os.path.exists(lib):
            total += os.path.getsize(os.path.realpath(lib))
    return total


ROWS = [
    # key, label, formatter
    ("lifecycle", "(1) create+start+wait+delete", fmt_ms),
    ("create", "    create", fmt_ms),
    ("start", "    start", fmt_ms),
    ("wait", "    wait for init to exit", fmt_ms),
    ("delete", "    delete", fmt_ms),
    ("seccomp", "(1s) the same, podman's seccomp profile", fmt_ms),
    ("seccomp_create", "    create", fmt_ms),
    ("run", "(2) run+delete", fmt_ms),
    ("exec", "(3) exec /bin/true", fmt_ms),
    ("rss_create", "(4) peak RSS: create", fmt_kib),
    ("rss_start", "    peak RSS: start", fmt_kib),
    ("rss_delete", "    peak RSS: delete", fmt_kib),
    ("rss_run", "    peak RSS: run", fmt_kib),
    ("rss_exec", "    peak RSS: exec", fmt_kib),
    ("charged_create", "(5) cgroup mem max: after create", fmt_bytes),
    ("charged", "    cgroup mem max: after exit", fmt_bytes),
    ("size", "(6) stripped binary", fmt_bytes),
    ("libs", "    with its shared libs (not libc)", fmt_bytes),
]


# Which measure's failures a sub-row shares.
PARENT = {
    "create": "lifecycle", "start": "lifecycle", "wait": "lifecycle",
    "delete": "lifecycle", "rss_create": "lifecycle", "rss_start": "lifecycle",
    "rss_delete": "lifecycle", "charged": "lifecycle", "charged_create": "lifecycle",
    "rss_run": "run", "rss_exec": "exec", "seccomp_create": "seccomp",
}


def short(msg, n=34):
    msg = " ".join(msg.split())
    return msg if len(msg) <= n else msg[: n - 1] + "…"


def report(bench, title):
    cols = (["floor"] if bench.args.field == "v2" else []) + [rt.name for rt in bench.rts]
    if bench.args.field == "v2" and bench.specfloor_given:
        cols.insert(1, "specfloor")
    med = {}
    for (m, name), vals in bench.samples.items():
        if vals:
            med[(m, name)] = statistics.median(vals)
    for rt in bench.rts:
        if rt.unavailable is None:
            med[("size", rt.name)] = stripped_size(rt.path)
            med[("libs", rt.name)] = med[("size", rt.name)] + shared_libs_size(rt.path)
    if bench.args.floor:
        med[("size", "floor")] = stripped_size(bench.args.floor)
    if bench.args.specfloor:
        med[("size", "specfloor")] = stripped_size(bench.args.specfloor)
    names = {rt.name: rt for rt in bench.rts}
    pairs = (
        ("outlet", "specfloor"),
        ("specfloor", "floor"),
        ("outlet", "crun-1.21"),
        ("outlet", "crun"),
        ("outlet", "runc"),
        ("protected", "unprotected"),
    )
    ratios = [(a, b) for a, b in pairs if a in names.keys() | set(cols) and b in names.keys() | set(cols)]

    header = ["measure (median)"] + cols + [f"{a}/{b}" for a, b in ratios]
    rows = []
    for key, label, fmt in ROWS:
        if bench.args.field == "v2" and key.startswith("charged"):
            continue
        if key.startswith("seccomp") and bench.seccomp is None:
            continue
        row = [label]
        for c in cols:
            rt = names.get(c)
            parent = PARENT.get(key, key)
            if (key, c) in med:
                # "!": some runs of this measure failed (see the notes).
                mark = " !" if (parent, c) in bench.failed else ""
                row.append(fmt(med[(key, c)]) + mark)
            elif rt is not None and rt.unavailable:
                row.append("n/a (missing)")
            else:
                row.append("FAILED" if (parent, c) in bench.failed else "-")
        for a, b in ratios:
            va, vb = med.get((key, a)), med.get((key, b))
            row.append(f"{va / vb:.2f}x" if va is not None and vb else "-")
        rows.append(row)

    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    print(f"\n### {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |")
    n = bench.args.runs
    print(f"\nmedians of {n} interleaved runs per cell (after {WARMUP} warm-up runs)")
    if "protected" in names and "unprotected" in names:
        cost = []
        for key, label in (("create", "create"), ("exec", "exec"), ("lifecycle", "lifecycle (1)"), ("run", "run (2)")):
            a, b = med.get((key, "protected")), med.get((key, "unprotected"))
            if a is not None and b is not None:
                cost.append(f"{label} {(a - b) / 1e6:+.2f} ms")
        print("cost of the binary's protection per call (difference of medians): " + "; ".join(cost))
    spread = []
    for key in ("lifecycle", "seccomp", "run", "exec"):
        for c in cols:
            vals = sorted(bench.samples.get((key, c), []))
            if len(vals) >= 4:
                q = statistics.quantiles(vals, n=4)
                spread.append(f"{key} {c} {q[0] / 1e6:.2f}-{q[2] / 1e6:.2f}")
    if spread:
        print("spread (p25-p75, ms): " + "; ".join(spread))
    for rt in bench.rts:
        if rt.unavailable:
            print(f"- {rt.name}: {rt.unavailable}")
    for (m, name), f in sorted(bench.failed.items()):
        tried = bench.attempts.get((m, name), f.count)
        stop = ", then stopped" if f.stopped else ""
        ok = len(bench.samples.get((m, name), []))
        print(
            f"- {name} {m}: {f.count} of {tried} runs FAILED{stop} (incl. warm-up;"
            f" its cells are medians of {ok} recorded runs); first: {f.msg}"
        )


def limit_check(args, runtimes):
    """Does a container with a tiny memory limit start and run /bin/true?

    Two ways per runtime: a foreground `run` (its exit status is the
    container's), and create/start with the limit read back from the
    container's v1 memory cgroup, so a pass cannot come from a limit that
    was silently not written.
    """
    sp = Spawner(args.work, args.runner)
    bundles = Bundles(args.work, args.rootfs, "hybrid", args.tag, memory_limit=args.bytes)
    print(f"\n### memory limit {args.bytes // 1024} KiB, /bin/true (hybrid host, v1 memory)\n")
    for rt in runtimes:
        if rt.unavailable:
            print(f"- {rt.name}: n/a ({rt.unavailable})")
            continue
        cid = f"b{os.getpid()}-{rt.name}-limit"
        bdir = bundles.write(rt, cid)
        r = sp.run(rt.argv("run", "--bundle", bdir, cid))
        if r.ok:
            print(f"- {rt.name} run: OK (exit 0 in {fmt_ms(r.ns)})")
        else:
            print(f"- {rt.name} run: FAILED (exit {r.rc}): {short(r.err, 200)}")
        rt.force_delete_all(sp)

        cid = f"b{os.getpid()}-{rt.name}-limit2"
        bdir = bundles.write(rt, cid)
        pidfile = os.path.join(args.work, f"{cid}.pid")
        c = sp.run(rt.argv("create", "--bundle", bdir, "--pid-file", pidfile, cid))
        if not c.ok:
            print(f"- {rt.name} create/start: create FAILED (exit {c.rc}): {short(c.err, 200)}")
            rt.force_delete_all(sp)
            continue
        pid = read_int(pidfile)
        memdir = memory_cgroup_dir(pid) if pid else None
        limit = read_int(f"{memdir}/memory.limit_in_bytes") if memdir else None
        s = sp.run(rt.argv("start", cid))
        status = None
        if s.ok and pid:
            try:
                status, _ = sp.wait(pid)
            except RuntimeError as e:
                status = str(e)
        usage = read_int(f"{memdir}/memory.max_usage_in_bytes") if memdir else None
        failcnt = read_int(f"{memdir}/memory.failcnt") if memdir else None
        verdict = "OK" if s.ok and status == 0 and limit == args.bytes else "FAILED"
        detail = (
            f"limit_in_bytes read back {limit}, start exit {s.rc}"
            + (f" ({short(s.err, 120)})" if not s.ok else "")
            + f", init exit status {status}, max usage {usage}, failcnt {failcnt}"
        )
        print(f"- {rt.name} create/start: {verdict}: {detail}")
        rt.force_delete_all(sp)
    sp.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["table", "limit"])
    p.add_argument("--field", choices=["v2", "hybrid"], default="v2")
    p.add_argument("--work", required=True)
    p.add_argument("--rootfs", required=True)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--tag", required=True, help="cgroup parent name for this run")
    p.add_argument("--floor")
    p.add_argument("--specfloor", help="bench/tools' specfloor: a column beside the floor (v2 only)")
    p.add_argument("--seccomp", help="podman's seccomp.json, for row (1s)")
    p.add_argument("--runner", required=True, help="bench/tools' runner binary")
    p.add_argument("--title", default="")
    p.add_argument("--bytes", type=int, default=4 * 1024 * 1024)
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE",
        help="add KEY=VALUE to the environment of runtime NAME's commands",
    )
    p.add_argument(
        "--roots",
        help="make every runtime's --root under this dir instead of --work",
    )
    p.add_argument("runtimes", nargs="+", metavar="NAME=PATH")
    args = p.parse_args()
    envs = dict(e.split(":", 1) for e in args.env)
    rts = []
    for spec in args.runtimes:
        name, _, path = spec.partition("=")
        rts.append(Runtime(name, path, args.work, envs.get(name), args.roots))
    if args.mode == "limit":
        limit_check(args, rts)
        return
    bench = Bench(args, rts)
    bench.go()
    report(bench, args.title or f"field: {args.field}")


if __name__ == "__main__":
    main()

#!/bin/bash
# exec's critical path, two outlet builds A/B: `exec ID /bin/true` into a
# sleeping container of each binary's own, alternating exec by exec (the
# order flipped every pair), all in one `perf record` of
# bench/exec-critpath.py's tracepoints, in bench/run.sh's v2 field (a
# private mount namespace with a fresh cgroup2 mount, the state roots on a
# tmpfs in it). Prints exec-critpath.py's table for each binary.
#
#   bench/exec-critpath.sh /tmp/x/old/outlet /tmp/x/new/outlet [PAIRS]
#
# Copy both builds to like paths (same length, same depth): the path is
# what the script tells them apart by. Needs root, perf, runc (for `runc
# spec`). See bench/README.md "Session 14: exec".
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") pairs=${3:-50}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
rootfs=$("$repo/rootfs-fixtures/build.sh" | tail -1)
work=$(mktemp -d /tmp/exec-critpath.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/a" "$work/b" "$work/root"
(cd "$work/a" && runc spec)
python3 - "$work" "$rootfs" "exec-critpath-$$" <<'EOF2'
import json, sys
work, rootfs, tag = sys.argv[1:4]
c = json.load(open(f"{work}/a/config.json"))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/sleep", "1000000"]
c["process"]["terminal"] = False
c["linux"].pop("resources", None)
for d in "ab":
    c["linux"]["cgroupsPath"] = f"/{tag}/{d}"
    json.dump(c, open(f"{work}/{d}/config.json", "w"))
EOF2
E="-e sched:sched_process_exec -e sched:sched_process_fork -e sched:sched_process_exit"
for s in clone3 setns sendto execve exit_group pidfd_open; do
    E="$E -e syscalls:sys_enter_$s"
done
E="$E -e syscalls:sys_exit_wait4"
R="--root $work/root"
loop="for i in \$(seq $pairs); do
  if [ \$((i % 2)) = 0 ]; then $old $R exec a /bin/true; $new $R exec b /bin/true;
  else $new $R exec b /bin/true; $old $R exec a /bin/true; fi
done"
# Both binaries' pages cached alike (see even-cache.py).
python3 "$here/even-cache.py" "$old" "$new"
# shellcheck disable=SC2086 # E is a list of perf options
unshare -m --propagation private sh -c "
  mount -t cgroup2 none /sys/fs/cgroup && mount -t tmpfs -o mode=700 none $work/root &&
  $old $R create --bundle $work/a a >/dev/null && $old $R start a &&
  $new $R create --bundle $work/b b >/dev/null && $new $R start b &&
  perf record -q -a $E -o $work/tl.data -- sh -c '$loop'; rc=\$?
  $old $R delete --force a; $new $R delete --force b
  rmdir /sys/fs/cgroup/exec-critpath-$$/* /sys/fs/cgroup/exec-critpath-$$ 2>/dev/null; exit \$rc" >/dev/null 2>"$work/perf.err" ||
    { cat "$work/perf.err" >&2; exit 1; }
perf script -i "$work/tl.data" 2>/dev/null >"$work/tl.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "$old" "$new"; do
    echo "### $b"
    python3 "$here/exec-critpath.py" "$b" <"$work/tl.txt"
done

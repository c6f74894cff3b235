#!/usr/bin/env bash
# How many expedited RCU grace periods one lifecycle of a runtime waits
# for, by kind (bench/README.md "Session 9: the overlay's grace period").
# Not a test: a count. Must run as root.
#
#   bench/rcu-gp.sh BINARY [N] [MODE]
#
# Runs N (default 40) lifecycles of /bin/true one after the other under
# `perf record -g -e sched:sched_switch` (the command tree only, not -a),
# and counts the tree's switch-outs whose kernel stack holds
# synchronize_rcu_expedited, put in a kind by bench/offcpu.py's `category`
# (the same rows as the storm's off-CPU tables). A grace period the waiter
# sleeps through is one switch-out or more (preempted while waiting counts
# again: about 1.2 per grace period on a loaded machine); one that was over
# before the waiter slept is none. MODE: `run` (default; run deletes the
# container itself) or `lifecycle` (create, start, delete). The bundle:
# busybox, /bin/true, no limits, a private state root under the scratch
# dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
bin=$(realpath "$1")
n=${2:-40}
mode=${3:-run}
[[ $(id -u) -eq 0 ]] || { echo "bench/rcu-gp.sh: must run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/outlet-rcugp.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$(bash "$repo/rootfs-fixtures/build.sh" 2>/dev/null)
mkdir -p "$work/bundle"
"$bin" spec --bundle "$work/bundle"
python3 - "$work/bundle/config.json" "$rootfs" <<'EOF'
import json, sys
p, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"] = {"path": rootfs, "readonly": True}
json.dump(c, open(p, "w"))
EOF

loop=$work/loop.sh
cat >"$loop" <<EOF
for i in \$(seq $n); do
  if [ $mode = run ]; then
    # run deletes the container once it has exited (as runc's does).
    "$bin" --root "$work/root" run --bundle "$work/bundle" gp\$i >/dev/null
  else
    "$bin" --root "$work/root" create --bundle "$work/bundle" gp\$i
    "$bin" --root "$work/root" start gp\$i
    while [ "\$("$bin" --root "$work/root" state gp\$i | grep -c '"stopped"')" = 0 ]; do :; done
    "$bin" --root "$work/root" delete gp\$i
  fi
done
EOF
perf record -q -g -e sched:sched_switch -o "$work/perf.data" -- sh "$loop" 2>/dev/null
perf script -i "$work/perf.data" 2>/dev/null | python3 -c '
import collections, re, sys
sys.path.insert(0, sys.argv[2])
from offcpu import HDR, KV, SCHED, category
n = int(sys.argv[1])
counts = collections.Counter()
for ev in sys.stdin.read().split("\n\n"):
    lines = [l for l in ev.split("\n") if l.strip()]
    m = HDR.match(lines[0]) if lines else None
    k = KV.search(m.group(5)) if m else None
    if not k:
        continue
    stack = [f.split()[1].split("+")[0] for f in lines[1:] if len(f.split()) >= 2]
    stack = [f for f in stack if f not in SCHED]
    if "synchronize_rcu_expedited" in " ".join(stack):
        counts[category(k.group(3), stack)] += 1
total = sum(counts.values())
print(f"| switch-outs in synchronize_rcu_expedited | per lifecycle ({n}) |")
print("|---|---|")
for cat, c in sorted(counts.items(), key=lambda x: -x[1]):
    print(f"| {cat} | {c / n:.2f} |")
print(f"| all | {total / n:.2f} |")
' "$n" "$here"

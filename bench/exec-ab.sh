#!/bin/bash
# exec /bin/true into a running container, outlet builds (or other
# runtimes) A/B, alternating exec by exec, in bench/run.sh's v2 field (a
# private mount namespace with a fresh cgroup2 mount, every `--root` on a
# tmpfs in it), runc spec's bundle with `sleep`. Prints
# bench/exec-cpu.py's wall and CPU per binary and the paired ratios to the
# first one. On a loaded machine compare within one run.
#
#   bench/exec-ab.sh ROUNDS old=/tmp/x/old/outlet new=/tmp/x/new/outlet
#
# EXEC_AB_NO_EVEN=1 leaves the binaries' page cache as it is (see
# bench/even-cache.py and bench/README.md "Session 15: exec").
#
# Needs root and runc (for `runc spec`). See bench/README.md
# "Session 14: exec".
set -euo pipefail
rounds=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
rootfs=$("$repo/rootfs-fixtures/build.sh" | tail -1)
work=$(mktemp -d /tmp/exec-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle" "$work/state"
chmod 700 "$work/state"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" "$rootfs" "exec-ab-$$" <<'PY'
import json, sys
p, rootfs, tag = sys.argv[1:4]
c = json.load(open(p))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/sleep", "1000000"]
c["process"]["terminal"] = False
# One cgroup per container: each runtime's create gets a path of its own.
c["linux"].pop("resources", None)  # crun 1.8.1 refuses a devices list here (RLIMIT_MEMLOCK)
c["linux"]["cgroupsPath"] = f"/{tag}"
json.dump(c, open(p, "w"))
PY
# Every binary's pages cached alike (see even-cache.py): else the copies'
# cache states, not the code, can make the difference.
[ -n "${EXEC_AB_NO_EVEN:-}" ] || python3 "$here/even-cache.py" $(for a in "$@"; do echo "${a#*=}"; done)
unshare -m --propagation private sh -c "
  mount -t cgroup2 none /sys/fs/cgroup && mount -t tmpfs -o mode=700 none $work/state &&
  python3 '$here/exec-cpu.py' '$work/state' '$work/bundle' $rounds $*; rc=\$?
  # The first create made the containers' parent cgroup, which its delete
  # could not remove while the others were still in it.
  rmdir /sys/fs/cgroup/exec-ab-$$/* /sys/fs/cgroup/exec-ab-$$ 2>/dev/null; exit \$rc"

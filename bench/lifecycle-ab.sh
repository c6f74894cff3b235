#!/bin/bash
# CPU per container lifecycle (create, start, the init, delete), outlet
# builds A/B, alternating lifecycle by lifecycle, in bench/run.sh's v2
# field (a private mount namespace with a fresh cgroup2 mount), runc
# spec's bundle with /bin/true. The state root (and the pid files) on a
# tmpfs in that namespace; LIFECYCLE_EXT4=1 puts them under /tmp (this
# host's ext4, as bench/storm.sh does). Prints bench/lifecycle-cpu.py's
# medians for each binary. On a loaded machine compare within one run.
#
#   bench/lifecycle-ab.sh PAIRS old=/tmp/x/old/outlet new=/tmp/x/new/outlet
#
# LIFECYCLE_ANCHOR=BIN: BIN creates one container with the same bundle
# first and deletes it at the end, so a device program loaded for these
# rules stays loaded throughout (a host where containers are running; see
# bench/README.md "Session 12: reusing the device program").
#
# PIDLOG=FILE with one binary and `perf record -a -g` around this script:
# bench/roles.py splits the profile by process. Needs root and runc (for
# `runc spec`). See bench/README.md "Session 12: the storm's CPU".
set -euo pipefail
pairs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
rootfs=$("$repo/rootfs-fixtures/build.sh" | tail -1)
work=$(mktemp -d /tmp/lifecycle-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle" "$work/anchor" "$work/state"
chmod 700 "$work/state"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" "$rootfs" "lifecycle-ab-$$" <<'PY'
import json, sys
p, rootfs, tag = sys.argv[1:4]
c = json.load(open(p))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["linux"]["cgroupsPath"] = f"/{tag}/x"
json.dump(c, open(p, "w"))
# The anchor's: a cgroup of its own beside the lifecycles' one.
c["linux"]["cgroupsPath"] = f"/{tag}/anchor"
json.dump(c, open(p.replace("/bundle/", "/anchor/"), "w"))
PY
tmpfs="mount -t tmpfs -o mode=700 none $work/state"
[[ ${LIFECYCLE_EXT4:-0} == 1 ]] && tmpfs=true
anchor=true unanchor=true
if [[ -n ${LIFECYCLE_ANCHOR:-} ]]; then
  anchor="$LIFECYCLE_ANCHOR --root $work/state create --bundle $work/anchor anchor-$$ >/dev/null"
  unanchor="$LIFECYCLE_ANCHOR --root $work/state delete --force anchor-$$"
fi
# Every binary's pages cached alike (see even-cache.py).
python3 "$here/even-cache.py" $(for a in "$@"; do echo "${a#*=}"; done)
unshare -m --propagation private sh -c "
  mount -t cgroup2 none /sys/fs/cgroup && $tmpfs && $anchor &&
  python3 '$here/lifecycle-cpu.py' '$work/state' '$work/bundle' $pairs $*; rc=\$?; $unanchor; exit \$rc"

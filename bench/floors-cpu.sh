#!/bin/bash
# bench/floors-cpu.py in bench/run.sh's v2 field (a private mount
# namespace with a fresh cgroup2 on /sys/fs/cgroup, outlet's --root on a
# tmpfs in it), with the bench's bundle (`runc spec`, rootfs read-only,
# /bin/true, terminal false).
#
#   bench/floors-cpu.sh OUTLET [ROUNDS]
set -euo pipefail
outlet=$(realpath "$1") rounds=${2:-200}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/common.sh
. "$here/common.sh"
bench_floors
work=$(mktemp -d /tmp/floors-cpu.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"
bench_bundle "$work/bundle"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
unshare -m --propagation private sh -c '
  mount -t cgroup2 none /sys/fs/cgroup && mount -t tmpfs -o mode=700 none "$6" &&
  python3 "$0" "$1" "$2" "$3" "$4" "$5" "$6" "$7"' \
    "$here/floors-cpu.py" "$outlet" "$floor" "$specfloor" "$rootfs" "$work/bundle" "$work/root" "$rounds"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/bin/bash
# bench/specfloor-steps.py in bench/run.sh's v2 field (a private mount
# namespace with a fresh cgroup2 on /sys/fs/cgroup).
#
#   bench/specfloor-steps.sh [ROUNDS]
set -euo pipefail
rounds=${1:-150}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/common.sh
. "$here/common.sh"
bench_floors
rootfs=$("$repo/rootfs-fixtures/build.sh" | tail -1)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
unshare -m --propagation private sh -c 'mount -t cgroup2 none /sys/fs/cgroup && python3 "$@"' \
    sh "$here/specfloor-steps.py" "$floor" "$specfloor" "$rootfs" "$rounds"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

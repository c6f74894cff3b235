#!/bin/bash
# run's critical path, two outlet builds A/B: `run` of /bin/true with each
# binary, alternating run by run (the order flipped every pair), all in one
# `perf record` of bench/critpath.py's tracepoints, in bench/run.sh's v2
# field (a private mount namespace with a fresh cgroup2 mount; every
# `--root` on a tmpfs in it). Prints critpath.py's table for each binary.
# On a loaded machine only intervals inside one such run compare.
#
#   bench/critpath-ab.sh /tmp/x/old/outlet /tmp/x/new/outlet [PAIRS]
#
# Copy both builds to like paths (same length, same depth): the path is
# what critpath.py tells them apart by, and the protected re-exec copies
# the binary. Needs root, perf, runc (for `runc spec`). See bench/README.md
# "Session 11: the init's setup".
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") pairs=${3:-30}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/common.sh
. "$here/common.sh"
work=$(mktemp -d /tmp/critpath-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"
bench_bundle "$work/bundle"
E="-e sched:sched_process_exec -e sched:sched_process_fork -e sched:sched_process_exit"
for s in mkdir bpf clone3 sendto sendmsg pivot_root exit_group rmdir fsmount mknodat; do
    E="$E -e syscalls:sys_enter_$s"
done
E="$E -e syscalls:sys_exit_clone3 -e syscalls:sys_exit_rt_sigtimedwait -e syscalls:sys_exit_wait4"
E="$E -e syscalls:sys_exit_recvfrom"
loop="for i in \$(seq $pairs); do
  if [ \$((i % 2)) = 0 ]; then a=$old; b=$new; else a=$new; b=$old; fi
  \$a --root $work/root run --bundle $work/bundle a\$i >/dev/null
  \$b --root $work/root run --bundle $work/bundle b\$i >/dev/null
done"
# CRITPATH_RT=1: the loop (and so both runtimes and their inits) at
# SCHED_FIFO priority 10, ahead of other users' builds: what an idle second
# CPU would give, on a machine that has none (the kernel's RT throttling
# still leaves them 5%).
rt=
[[ ${CRITPATH_RT:-0} == 1 ]] && rt="chrt -f 10"
# Both binaries' pages cached alike (see even-cache.py).
python3 "$here/even-cache.py" "$old" "$new"
# shellcheck disable=SC2086 # E is a list of perf options
unshare -m --propagation private sh -c "
  mount -t cgroup2 none /sys/fs/cgroup && mount -t tmpfs -o mode=700 none $work/root &&
  perf record -q -a $E -o $work/tl.data -- $rt sh -c '$loop'" >/dev/null 2>"$work/perf.err" ||
    { cat "$work/perf.err" >&2; exit 1; }
perf script -i "$work/tl.data" 2>/dev/null >"$work/tl.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "$old" "$new"; do
    echo "### $b"
    python3 "$here/critpath.py" "$b" <"$work/tl.txt"
done

#!/bin/bash
# run's critical path of one outlet build beside bench/tools' kernel floor
# (floor) and spec floor (specfloor), all in one `perf record` of
# bench/critpath.py's tracepoints (with its optional points: the init's
# first fsmount, mknodat, the old root's detach, sethostname, capset), in bench/run.sh's v2 field (a private mount namespace with a
# fresh cgroup2 mount; outlet's `--root` on a tmpfs in it). The three run
# in turn, the order rotated every round. Prints critpath.py's table for
# each. See bench/README.md "Session 17: the spec floor".
#
#   bench/critpath-floors.sh OUTLET [ROUNDS]
#
# Needs root, perf, runc (for `runc spec`).
set -euo pipefail
outlet=$(realpath "$1") rounds=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/common.sh
. "$here/common.sh"
bench_floors
work=$(mktemp -d /tmp/critpath-floors.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"
bench_bundle "$work/bundle"
E="-e sched:sched_process_exec -e sched:sched_process_fork -e sched:sched_process_exit"
# Not sys_enter_mount: specfloor makes 32 mount(2) calls where outlet
# makes 2 (the rest by fd, untraced), and each traced call costs a few
# microseconds under perf, which would be charged to specfloor alone.
for s in mkdir bpf clone3 sendto sendmsg pivot_root exit_group rmdir fsmount mknodat sethostname capset; do
    E="$E -e syscalls:sys_enter_$s"
done
E="$E -e syscalls:sys_exit_clone3 -e syscalls:sys_exit_rt_sigtimedwait -e syscalls:sys_exit_wait4"
E="$E -e syscalls:sys_exit_recvfrom -e syscalls:sys_exit_umount"
o="$outlet --root $work/root run --bundle $work/bundle o\$i >/dev/null"
f="$floor $rootfs"
s="$specfloor $rootfs /sys/fs/cgroup/critpath-floors-\$i"
loop="for i in \$(seq $rounds); do
  case \$((i % 3)) in
  0) $o; $f; $s ;;
  1) $f; $s; $o ;;
  2) $s; $o; $f ;;
  esac
done"
# CRITPATH_RT=1: the loop at SCHED_FIFO 10, as in bench/critpath-ab.sh
# (what an idle second CPU would give, on a machine that has none).
rt=
[[ ${CRITPATH_RT:-0} == 1 ]] && rt="chrt -f 10"
# shellcheck disable=SC2086 # E is a list of perf options
unshare -m --propagation private sh -c "
  mount -t cgroup2 none /sys/fs/cgroup && mount -t tmpfs -o mode=700 none $work/root &&
  perf record -q -a $E -o $work/tl.data -- $rt sh -c '$loop'" >/dev/null 2>"$work/perf.err" ||
    { cat "$work/perf.err" >&2; exit 1; }
perf script -i "$work/tl.data" 2>/dev/null >"$work/tl.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "$outlet" release/floor release/specfloor; do
    echo "### $b"
    python3 "$here/critpath.py" "$b" <"$work/tl.txt"
done

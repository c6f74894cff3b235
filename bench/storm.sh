#!/usr/bin/env bash
# Start storm and density: outlet vs crun (1.21, 1.8.1) vs runc with many
# containers at once. Not a test: a measurement (bench/README.md "Start
# storm" and "Density" say what each number means). Must run as root.
#
#   bench/storm.sh                   # storm (v2 field + hybrid host) and density
#   STORM_ROUNDS=6 bench/storm.sh    # more rounds (default 4, + 1 warm-up)
#   STORM_ONLY=storm|density bench/storm.sh
#   STORM_N=50 DENSITY_N=100 bench/storm.sh   (containers per storm / density round)
#   OUTLET=/path/to/outlet bench/storm.sh   (that binary as is: nothing is built)
#   OUTLET_OLD=/path/to/other/outlet bench/storm.sh   (a second outlet column,
#                                    `outlet-old`, interleaved with the first)
#   OUTLET_OLD_ENV="KEY=VALUE"       (one more variable in outlet-old's environment,
#                                    e.g. OUTLET_UNPROTECTED_EXE=1 with a build that
#                                    honours it: the protection's cost in a storm)
#   STORM_FIELDS=v2|hybrid|all       (default all)
#   STORM_PEERS="crun-1.21 crun runc" (the peers measured; default all three,
#                                    empty: outlet alone)
#   STORM_INFLIGHT=8,50              (lifecycles in flight; default 8,50)
#   STORM_RAW=DIR                    (every lifecycle's phases as JSON there)
#   STORM_STAGGER=1                  (the driver's threads start one by one after
#                                    the clock starts, as before session 8; default:
#                                    all K ready first, released together)
#   STORM_SPAWN=os                   (the driver spawns with os.posix_spawn, which
#                                    holds Python's GIL until the child has exec'd,
#                                    as before session 8; default: libc's, without it)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
rounds=${STORM_ROUNDS:-4}
storm_n=${STORM_N:-50}
density_n=${DENSITY_N:-100}
only=${STORM_ONLY:-all}
outlet=${OUTLET:-$("$repo/scripts/binary-path.sh")}
outlet_old=${OUTLET_OLD:-}
fields=${STORM_FIELDS:-all}
peers=${STORM_PEERS-crun-1.21 crun runc}
raw=${STORM_RAW:-}
inflight=${STORM_INFLIGHT:-8,50}
runc_bin=$(command -v runc || echo /usr/sbin/runc)
crun_bin=$(command -v crun || echo /usr/bin/crun)
crun121_bin=$(bash "$here/fetch-crun.sh") || crun121_bin=/nonexistent/crun-1.21
tag=outlet-storm-$$

[[ $(id -u) -eq 0 ]] || { echo "bench/storm.sh: must run as root" >&2; exit 1; }

work=$(realpath "$(mktemp -d /tmp/outlet-storm.XXXXXX)")
# Our own v1 memory cgroup for the density driver: under the shell's memory
# cgroup (never the supervisor's), named after us, removed on exit.
own_memcg=/sys/fs/cgroup/memory$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup)
memcg=$own_memcg/$tag/density-driver

delete_containers() {
    local root name bin cid
    for root in "$work"/root-*; do
        [[ -d $root ]] || continue
        name=${root##*/root-}
        case $name in
            outlet) bin=$outlet ;;
            outlet-old) bin=$outlet_old ;;
            runc) bin=$runc_bin ;;
            crun) bin=$crun_bin ;;
            crun-1.21) bin=$crun121_bin ;;
            *) continue ;;
        esac
        for cid in "$root"/*; do
            [[ -e $cid ]] || continue
            timeout 10 "$bin" --root "$root" delete --force "${cid##*/}" >/dev/null 2>&1 ||
                echo "bench/storm.sh: $name delete --force ${cid##*/} failed" >&2
        done
    done
}

cleanup() {
    local dir pid
    delete_containers
    # Only what the density driver started is in its memcg (a runtime's
    # leftover helper, say): end those by pid so the cgroup can go.
    if [[ -f $memcg/cgroup.procs ]]; then
        while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$memcg/cgroup.procs"
        for _ in 1 2 3 4 5; do [[ -s $memcg/cgroup.procs ]] || break; sleep 0.2; done
    fi
    while IFS= read -r dir; do
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [[ ! -d $dir ]] || echo "bench/storm.sh: could not remove cgroup $dir" >&2
    done < <(find /sys/fs/cgroup -maxdepth 7 -type d -name "$tag" 2>/dev/null)
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -z ${OUTLET:-} ]]; then
    echo "== building (cargo build --release: outlet)" >&2
    (cd "$repo" && cargo build --release --quiet --bin outlet) >&2 ||
        echo "bench/storm.sh: building outlet FAILED; its column will say so" >&2
fi
rootfs=$(realpath "$("$repo/rootfs-fixtures/build.sh" | tail -1)")

version() { { "$1" --version 2>/dev/null || echo "not available"; } | { head -1; cat >/dev/null; }; }
echo "## outlet start storm and density"
echo
echo "- machine: $(nproc) CPUs, kernel $(uname -r), load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- outlet: $(version "$outlet"); crun: $(version "$crun_bin"), $(version "$crun121_bin"); runc: $(version "$runc_bin")"

export work outlet outlet_old runc_bin crun_bin crun121_bin
outlets=("outlet=$outlet")
[[ -z $outlet_old ]] || outlets+=("outlet-old=$outlet_old")
all=("${outlets[@]}")
for p in $peers; do
    case $p in
        crun-1.21) all+=("crun-1.21=$crun121_bin") ;;
        crun) all+=("crun=$crun_bin") ;;
        runc) all+=("runc=$runc_bin") ;;
        *) echo "bench/storm.sh: STORM_PEERS: unknown runtime $p" >&2; exit 1 ;;
    esac
done
hybrid=("${outlets[@]}")
[[ " $peers " != *" runc "* ]] || hybrid+=("runc=$runc_bin")
raw_arg() { [[ -z $raw ]] || echo "--raw=$raw/storm-$1.json"; }
stagger=()
[[ -z ${STORM_STAGGER:-} ]] || stagger=(--stagger)
old_env=()
[[ -z ${OUTLET_OLD_ENV:-} ]] || old_env=(--env "outlet-old:$OUTLET_OLD_ENV")

if [[ $only == all || $only == storm ]] && [[ $fields == all || $fields == v2 ]]; then
    # The v2 field, as in run.sh: a private mount namespace whose
    # /sys/fs/cgroup is a fresh cgroup2 mount; the host's mounts are untouched.
    unshare -m --propagation private -- bash -c "$(declare -f delete_containers)"'
        set -euo pipefail
        trap delete_containers EXIT
        mount -t cgroup2 none /sys/fs/cgroup
        python3 "$@"' bash "$here/storm.py" storm --field v2 --work "$work" --rootfs "$rootfs" \
        --tag "$tag" -n "$storm_n" --inflight "$inflight" --rounds "$rounds" --title "cgroup v2 field, no limits" \
        $(raw_arg v2) "${stagger[@]}" "${old_env[@]}" "${all[@]}" ||
        echo "bench/storm.sh: the v2 storm FAILED (exit $?)"
fi
if [[ $only == all || $only == storm ]] && [[ $fields == all || $fields == hybrid ]]; then
    python3 "$here/storm.py" storm --field hybrid --work "$work" --rootfs "$rootfs" \
        --tag "$tag" -n "$storm_n" --inflight "$inflight" --rounds "$rounds" --title "hybrid host, memory 512 MiB + cpu 0.25" \
        $(raw_arg hybrid) "${stagger[@]}" "${old_env[@]}" "${hybrid[@]}" ||
        echo "bench/storm.sh: the hybrid storm FAILED (exit $?)"
fi

if [[ $only == all || $only == density ]]; then
    # The density driver runs in a v1 memory cgroup of its own, then in the
    # v2 field: every runtime process and container init it starts is
    # charged to that memcg, whichever (v2) cgroup the runtime makes for
    # the container; the memcg's counters are read through a bind mount of
    # the v1 memory hierarchy made inside the private namespace.
    mkdir -p "$memcg"
    bash -c 'echo $$ >"$1/cgroup.procs"; exec "${@:2}"' bash "$memcg" \
        unshare -m --propagation private -- bash -c "$(declare -f delete_containers)"'
        set -euo pipefail
        trap delete_containers EXIT
        mkdir -p "$work/memcg-v1"
        mount --bind /sys/fs/cgroup/memory "$work/memcg-v1"
        mount -t cgroup2 none /sys/fs/cgroup
        memcg=$work/memcg-v1${1#/sys/fs/cgroup/memory}
        python3 "${@:2}" --memcg "$memcg"' bash "$memcg" "$here/storm.py" density --work "$work" \
        --rootfs "$rootfs" --tag "$tag" -n "$density_n" --rounds "$rounds" "${all[@]}" ||
        echo "bench/storm.sh: density FAILED (exit $?)"
fi
exit 0

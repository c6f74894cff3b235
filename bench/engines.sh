#!/usr/bin/env bash
# What a user of each engine gains: `docker run --rm`, `podman run --rm` and
# `ctr run --rm` of `true` under --cpus 0.25 --memory 512m, with outlet, runc
# and crun as the engine's runtime. Not a test: a measurement (bench/README.md
# "Engines" has the latest table).
#
# usage: bench/engines.sh [RUNS]      as root; RUNS per cell, default 20
# env:   OUTLET=path   the outlet binary (default: cargo build --release)
#
# Private daemons and storage under a temp dir (dockerd with its own
# containerd, a containerd for ctr, podman with vfs storage); the engines'
# images come from the busybox fixture rootfs. Runs are interleaved: each
# iteration runs every engine once with every runtime, the runtimes' order
# rotating, so a busy spell of the shared machine hits all alike. 2 warm-up
# runs per cell are not counted. A runtime that fails 3 times in a cell is
# not tried again there; the cell then says FAILED and the first error is
# printed under the table. Everything is stopped by pid and the host's
# network state (dockerd's iptables chains, docker0, ip_forward) is put back
# on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tests/callers/lib.sh"
runs=${1:-20}
[[ $(id -u) == 0 ]] || { echo "engines.sh: run as root" >&2; exit 1; }
for t in /usr/bin/docker /usr/sbin/dockerd containerd ctr podman conmon runc crun jq; do
    command -v "$t" >/dev/null || { echo "engines.sh: $t missing (scripts/install-deps.sh)" >&2; exit 1; }
done
if [[ -z ${OUTLET:-} ]]; then
    (cd "$repo" && cargo build --release --bin outlet >&2)
    OUTLET=$("$repo/scripts/binary-path.sh")
fi
declare -A rt_path=([outlet]=$(readlink -f "$OUTLET") [runc]=$(command -v runc) [crun]=$(command -v crun))
runtimes=(outlet runc crun)
engines=(docker podman ctr)

rootfs=$("$repo/rootfs-fixtures/build.sh")
image_tar=$repo/target/callers/busybox-oci.tar
"$repo/tests/callers/image.sh" "$image_tar" >&2

tmp=$(mktemp -d /tmp/callers-bench.XXXXXX)
cd "$tmp"
cgparent=/callers-bench-$$
netstate_snapshot >"$tmp/net-before"
host_made=()
for p in /etc/docker/key.json /run/docker /run/containerd/s /run/containerd \
    /var/lib/containers/cache /var/lib/containers /run/containers \
    /run/outlet /run/runc /run/crun; do
    [[ -e $p ]] || host_made+=("$p")
done
dockerd_pid=
containerd_pid=

cleanup() {
    local rc=$? pid m p ids
    set +e
    if [[ -n $dockerd_pid ]]; then
        ids=$("${D[@]}" ps -aq 2>/dev/null)
        [[ -n $ids ]] && "${D[@]}" rm -f $ids >/dev/null 2>&1
        kids=$(pgrep -P "$dockerd_pid")
        stop_pid "$dockerd_pid" 20
        for pid in $kids; do stop_pid "$pid" 5; done
    fi
    "${P[@]}" rm -af -t 0 >/dev/null 2>&1
    [[ -n $containerd_pid ]] && stop_pid "$containerd_pid" 10
    for pid in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $tmp/"); do stop_pid "$pid" 5; done
    for pid in $(pgrep -f -- "conmon .*$tmp/"); do stop_pid "$pid" 5; done
    reap_leftovers "$tmp" "$cgparent"
    for m in $(mounts_under "$tmp" | sort -r); do umount -l "$m"; done
    netstate_restore "$tmp/net-before" 'docker0|veth.*'
    for p in "${host_made[@]}"; do
        case $p in
        /run/containerd*) rmdir "$p" 2>/dev/null ;;
        *) rm -rf "$p" ;;
        esac
    done
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# --- dockerd (its own containerd), runtimes registered by name ----------------
cat >"$tmp/daemon.json" <<CONF
{
  "runtimes": {
    "outlet": { "path": "${rt_path[outlet]}" },
    "bench-runc": { "path": "${rt_path[runc]}" },
    "crun": { "path": "${rt_path[crun]}" }
  },
  "cgroup-parent": "$cgparent",
  "exec-opts": ["native.cgroupdriver=cgroupfs"]
}
CONF
D=(env DOCKER_CONFIG="$tmp/client" /usr/bin/docker -H "unix://$tmp/docker.sock")
/usr/sbin/dockerd --config-file "$tmp/daemon.json" --data-root "$tmp/docker" --exec-root "$tmp/dexec" \
    -H "unix://$tmp/docker.sock" --pidfile "$tmp/docker.pid" >"$tmp/dockerd.log" 2>&1 &
dockerd_pid=$!
wait_until 60 "${D[@]}" version >/dev/null 2>&1 || { echo "dockerd did not start" >&2; exit 1; }
tar -C "$rootfs" -c . | "${D[@]}" import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - localhost/busybox:bench >/dev/null

# --- containerd for ctr -----------------------------------------------------------
cat >"$tmp/containerd.toml" <<CONF
version = 2
root = "$tmp/ctrd-root"
state = "$tmp/ctrd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$tmp/containerd.sock"
[ttrpc]
  address = "$tmp/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$tmp/opt"
CONF
containerd --config "$tmp/containerd.toml" >"$tmp/containerd.log" 2>&1 &
containerd_pid=$!
# ctr puts a container in cgroup /<namespace>/<id>: the namespace is our
# cgroup parent's name.
C=(ctr --address "$tmp/containerd.sock" --namespace "${cgparent#/}")
wait_until 30 "${C[@]}" version >/dev/null 2>&1 || { echo "containerd did not start" >&2; exit 1; }
"${C[@]}" image import --base-name localhost/busybox "$image_tar" >/dev/null

# --- podman -------------------------------------------------------------------------
cat >"$tmp/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=$tmp/conmon-tmp"]
CONF
mkdir -p "$tmp/conmon-tmp" "$tmp/vartmp"
export CONTAINERS_CONF=$tmp/containers.conf TMPDIR=$tmp/vartmp
P=(podman --root "$tmp/proot" --runroot "$tmp/prunroot" --tmpdir "$tmp/ptmp"
    --network-config-dir "$tmp/pnet" --cgroup-manager cgroupfs --events-backend file
    --storage-driver vfs)
pimage=$("${P[@]}" load -i "$image_tar" 2>&1 | sed -nE 's/^Loaded image(\(s\))?: *//p' | head -1)

# cmd ENGINE RUNTIME N -> the argv of one run
n=0
cmd() {
    case $1 in
    docker)
        local name=$2
        [[ $2 == runc ]] && name=bench-runc
        echo "${D[*]} run --rm --runtime $name --network none --cpus 0.25 --memory 512m localhost/busybox:bench true" ;;
    podman)
        echo "${P[*]} --runtime ${rt_path[$2]} run --rm --pull never --network none --cgroup-parent $cgparent --cpus 0.25 --memory 512m $pimage true" ;;
    ctr)
        echo "${C[*]} run --rm --runc-binary ${rt_path[$2]} --runc-root $tmp/runc-root --fifo-dir $tmp/fifo --cpus 0.25 --memory-limit 536870912 localhost/busybox:latest b$3-$2 true" ;;
    esac
}

declare -A fails first_err
: >"$tmp/times"
one() { # engine runtime counted
    local e=$1 r=$2 t0 t1 rc=0 out
    [[ ${fails[$e.$r]:-0} -ge 3 ]] && return
    n=$((n + 1))
    t0=$(date +%s%N)
    out=$(timeout 60 $(cmd "$e" "$r" "$n") 2>&1) || rc=$?
    t1=$(date +%s%N)
    if [[ $rc -ne 0 ]]; then
        fails[$e.$r]=$((${fails[$e.$r]:-0} + 1))
        [[ -n ${first_err[$e.$r]:-} ]] || first_err[$e.$r]="exit $rc: $(brief "$out")"
        return
    fi
    [[ $3 == yes ]] && echo "$e $r $(((t1 - t0) / 1000))" >>"$tmp/times"
    return 0
}

echo "engines.sh: $runs runs per cell (+2 warm-up), interleaved" >&2
for ((i = -1; i <= runs; i++)); do
    counted=yes
    ((i < 1)) && counted=no
    k=$(((i + 2) % 3))
    order=("${runtimes[@]:k}" "${runtimes[@]:0:k}")
    for e in "${engines[@]}"; do
        for r in "${order[@]}"; do one "$e" "$r" "$counted"; done
    done
done

# --- the table ------------------------------------------------------------------------
echo
echo "| engine, \`run --rm ... true\`, --cpus 0.25 --memory 512m (median, p25-p75) | outlet | runc | crun | outlet/runc |"
echo "|---|---|---|---|---|"
for e in "${engines[@]}"; do
    row="| $e"
    declare -A med=()
    for r in "${runtimes[@]}"; do
        stats=$(awk -v e="$e" -v r="$r" '$1 == e && $2 == r { print $3 }' "$tmp/times" | sort -n |
            awk '{ v[NR] = $1 } END { if (NR == 0) exit
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                printf "%.0f %.0f %.0f %d", m / 1000, v[int((NR - 1) * 0.25) + 1] / 1000, v[int((NR - 1) * 0.75) + 1] / 1000, NR }')
        if [[ -n $stats && ${fails[$e.$r]:-0} -eq 0 ]]; then
            read -r m p25 p75 cnt <<<"$stats"
            med[$r]=$m
            row+=" | $m ms ($p25-$p75)"
        elif [[ -n $stats ]]; then
            read -r m p25 p75 cnt <<<"$stats"
            row+=" | $m ms ! ($cnt ok)"
        else
            row+=" | FAILED"
        fi
    done
    if [[ -n ${med[outlet]:-} && -n ${med[runc]:-} ]]; then
        row+=" | $(awk -v a="${med[outlet]}" -v b="${med[runc]}" 'BEGIN { printf "%.2fx", a / b }') |"
    else
        row+=" | - |"
    fi
    echo "$row"
    unset med
done
echo
for e in "${engines[@]}"; do
    for r in "${runtimes[@]}"; do
        [[ -n ${first_err[$e.$r]:-} ]] && echo "- $e + $r: ${fails[$e.$r]} failed runs; first: ${first_err[$e.$r]}"
    done
done
echo "- $(nproc) CPUs, kernel $(uname -r), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

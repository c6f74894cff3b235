#!/usr/bin/env bash
# Real-caller test: podman 4.3 + conmon with a real CNI bridge network
# (containernetworking-plugins) driving the runtime under test ($RUNTIME,
# default target/<triple>/release/outlet): a published port reached from the host, a
# pod whose containers share namespaces, and --cpus/--memory from inside.
#
# podman runs with private --root/--runroot/--tmpdir and network config dir
# under a temp dir, vfs storage, cgroupfs with our own cgroup parent. What
# CNI changes on the host (the cni-podmanN bridge, veths, iptables chains and
# rules, nft tables, ip_forward, /var/lib/cni) is put back as it was, also
# when a check fails.
#
# env: RUNTIME=path           runtime binary (default <repo>/target/<triple>/release/outlet)
#      CALLERS_ARGV_LOG=file  append every runtime argv podman/conmon send to file
#      CALLERS_KEEP=1         keep the temp dir for debugging
#      CALLERS_WRONG=memory   a control: expect --memory 512m to read as 256m
#                             (the check must then fail)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
repo=$(repo_root)
suite=callers-podman-net
RUNTIME=${RUNTIME:-$("$repo/scripts/binary-path.sh")}

require_tools "$suite" podman conmon iptables ip jq busybox ss
if [[ ! -x /usr/lib/cni/bridge || ! -x /usr/lib/cni/portmap ]]; then
    skip "$suite" "CNI plugins not installed (containernetworking-plugins)"
    summary "$suite"
    exit 0
fi
require_runtime "$suite"
name=$(basename "$RUNTIME")

image_tar=$repo/target/callers/busybox-oci.tar
"$here/image.sh" "$image_tar" >&2

tmp=$(mktemp -d /tmp/callers-podman-net.XXXXXX)
cd "$tmp"
timed_out_flag=$tmp/timed-out
cgparent=/callers-podman-net-$$-$RANDOM
net=callers-$$-$RANDOM
subnet=10.89.$((20 + RANDOM % 200)).0/24
links='cni-podman[0-9]+|veth.*'

netstate_snapshot >"$tmp/net-before"
# Made by podman/CNI whatever the flags say; removed when this run made
# them. host-local keeps its leases in /var/lib/cni/networks/<net>.
host_made=()
for d in /var/lib/cni /var/lib/containers/cache /var/lib/containers /run/containers "/run/$name"; do
    [[ -e $d ]] || host_made+=("$d")
done

argv_log=$tmp/argv.log
: >"$argv_log"
runtime=$(wrap_runtime "$RUNTIME" "$tmp/wrap" "$argv_log")
# The host's hard rlimits are below podman's defaults (HOST.md); as a
# default they reach the pod's infra container too.
cat >"$tmp/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "$name"]
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=$tmp/conmon-tmp"]
CONF
mkdir -p "$tmp/conmon-tmp" "$tmp/vartmp"
export CONTAINERS_CONF=$tmp/containers.conf
export TMPDIR=$tmp/vartmp

P=(podman --root "$tmp/root" --runroot "$tmp/runroot" --tmpdir "$tmp/tmpdir"
    --volumepath "$tmp/volumes" --network-config-dir "$tmp/net"
    --cgroup-manager cgroupfs --events-backend file --storage-driver vfs
    --runtime "$runtime")
run_opts=(--pull never --cgroup-parent "$cgparent")

our_conmons() { pgrep -f -- "conmon .*$tmp/" || true; }
parent_cgroups() { find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "${cgparent#/}" 2>/dev/null; }

cleanup() {
    local rc=$? pid m d
    set +e
    tmo 60 "${P[@]}" pod rm -af -t 0 >/dev/null 2>&1
    tmo 60 "${P[@]}" rm -af -t 0 >/dev/null 2>&1
    tmo 30 "${P[@]}" network rm -f "$net" >/dev/null 2>&1
    for pid in $(our_conmons); do stop_pid "$pid" 5; done
    reap_leftovers "$tmp" "$cgparent"
    for m in $(mounts_under "$tmp" | sort -r); do umount -l "$m"; done
    netstate_restore "$tmp/net-before" "$links"
    rm -rf "/var/lib/cni/networks/$net"
    for d in "${host_made[@]}"; do rm -rf "$d"; done
    if [[ -n ${CALLERS_ARGV_LOG:-} && -f $argv_log ]]; then
        cat "$argv_log" >>"$CALLERS_ARGV_LOG"
    fi
    if [[ ${CALLERS_KEEP:-} == 1 ]]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap "exit 130" INT TERM

if ! out=$(tmo 120 "${P[@]}" load -i "$image_tar" 2>&1); then
    fail image-load "$(brief "$out")"
    summary "$suite" || exit 1
fi
image=$(sed -nE 's/^Loaded image(\(s\))?: *//p' <<<"$out" | head -1 | cut -d, -f1)
if ! out=$(tmo 30 "${P[@]}" network create --subnet "$subnet" "$net" 2>&1); then
    fail network-create "$(brief "$out")"
    summary "$suite" || exit 1
fi
pass network-create

inspect() { tmo 10 "${P[@]}" inspect --format "$2" "$1" 2>/dev/null; }
state_is() { [[ $(inspect "$1" '{{.State.Status}}') == "$2" ]]; }
prun() {
    set +e
    out=$(tmo 60 "${P[@]}" run "${run_opts[@]}" "$@" 2>&1)
    rc=$?
    set -e
}

# --- a published port on the CNI bridge, reached from the host ----------------
port=
for _ in 1 2 3 4 5 6 7 8 9 10; do
    p=$((20000 + RANDOM % 10000))
    if [[ -z $(ss -Hltn "sport = :$p") ]]; then port=$p; break; fi
done
token=web-$$-$RANDOM
c=pn-web
if [[ -n $port ]] && tmo 60 "${P[@]}" run -d "${run_opts[@]}" --name $c --network "$net" \
    -p "127.0.0.1:$port:80" "$image" \
    sh -c "mkdir -p /www && echo $token >/www/index.html && exec httpd -f -p 80 -h /www" >/dev/null 2>&1 &&
    wait_until 20 state_is $c running; then
    got=
    # busybox 1.35's wget -T crashes; timeout(1) bounds it instead.
    wait_until 15 eval 'got=$(timeout 5 busybox wget -q -O - "http://127.0.0.1:$port/" 2>/dev/null) && [[ $got == "$token" ]]' || true
    ip4=$(inspect $c '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
    if [[ $got == "$token" && $ip4 == "${subnet%.0/24}".* ]]; then
        pass bridge-port
    else
        fail bridge-port "want '$token' from 127.0.0.1:$port (container '$ip4' in $subnet); got '$(brief "$got")'"
    fi
else
    fail bridge-port "could not start $c (port '$port'): $(inspect $c '{{.State.Status}}')"
fi
tmo 30 "${P[@]}" rm -f -t 0 $c >/dev/null 2>&1 || true

# --- a pod: its containers share net, uts, ipc and pid namespaces, joined by
# path (the infra container's); the infra's sleep is everyone's pid 1 ---------
pod=pn-pod
ns_of='for n in net uts ipc pid; do readlink /proc/self/ns/$n; done; hostname'
if out=$(tmo 60 "${P[@]}" pod create --name $pod --network "$net" --cgroup-parent "$cgparent" \
    --share net,uts,ipc,pid --infra-image "$image" --infra-command '/bin/sleep 1000000' 2>&1) &&
    out=$(tmo 60 "${P[@]}" run -d "${run_opts[@]}" --pod $pod --name pn-a "$image" \
        sh -c "mkdir -p /www && echo pod-$token >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www" 2>&1) &&
    wait_until 20 state_is pn-a running; then
    prun --rm --pod $pod "$image" sh -c "$ns_of; wget -q -O - http://127.0.0.1:8080/; tr '\\0' ' ' </proc/1/cmdline"
    b=$out
    set +e
    a=$(tmo 30 "${P[@]}" exec pn-a sh -c "$ns_of" 2>&1)
    set -e
    host_ns=$(readlink /proc/self/ns/net)
    if [[ $rc -eq 0 && $(head -5 <<<"$b") == "$a" && $(head -1 <<<"$a") != "$host_ns" &&
        $b == *"pod-$token"* && $b == *"/bin/sleep 1000000"* ]]; then
        pass pod-shared-namespaces
    else
        fail pod-shared-namespaces "want the same net/uts/ipc/pid/hostname in both (not the host's $host_ns), pn-a's httpd on 127.0.0.1:8080 and the infra's sleep as pid 1; a: $(brief "$a"); b (exit $rc): $(brief "$b")"
    fi
else
    fail pod-shared-namespaces "could not set up the pod: $(brief "$out")"
fi
tmo 60 "${P[@]}" pod rm -f -t 0 $pod >/dev/null 2>&1 || true

# --- run --rm --cpus 0.25 --memory 512m, read from inside ----------------------
want_mem=536870912
[[ ${CALLERS_WRONG:-} == memory ]] && want_mem=268435456
prun --rm --network "$net" --cpus 0.25 --memory 512m "$image" sh -c \
    'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.limit_in_bytes'
if [[ $rc -eq 0 && $(echo $out) == "25000 100000 $want_mem" ]]; then
    pass cpus-memory-from-inside
else
    fail cpus-memory-from-inside "want '25000 100000 $want_mem'; got exit $rc: $(brief "$out")"
fi

# --- nothing left behind ----------------------------------------------------------
tmo 60 "${P[@]}" pod rm -af -t 0 >/dev/null 2>&1 || true
tmo 60 "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true
if out=$("${P[@]}" ps -aq 2>&1) && [[ -z $out ]]; then
    pass no-containers-left
else
    fail no-containers-left "$(brief "$out")"
fi
if wait_until 10 test -z "$(our_conmons)"; then
    pass no-conmon-left
else
    fail no-conmon-left "conmon still running: $(our_conmons | tr '\n' ' ')"
fi
# podman passes no --root: the runtime's state is in /run/<name>/<id>.
left=
for cid in $(grep -oE ' create .* [0-9a-f]{64}$' "$argv_log" | grep -oE '[0-9a-f]{64}$' | sort -u); do
    [[ -e /run/$name/$cid ]] && left+="/run/$name/$cid "
done
if [[ -z $left ]]; then pass no-runtime-state-left; else fail no-runtime-state-left "$left"; fi
left=$(mounts_under "$tmp")
if [[ -z $left ]]; then pass no-mounts-left; else fail no-mounts-left "$(brief "$left")"; fi
left=$(for d in $(parent_cgroups); do find "$d" -mindepth 1 -type d ! -name conmon; done)
if [[ -z $left ]]; then pass no-cgroups-left; else fail no-cgroups-left "$(brief "$left")"; fi
tmo 30 "${P[@]}" network rm -f "$net" >/dev/null 2>&1 || true
netstate_restore "$tmp/net-before" "$links"
left=$(netstate_diff "$tmp/net-before")
if [[ -z $left ]]; then
    pass host-network-restored
else
    fail host-network-restored "still different from before: $(brief "$left")"
fi

summary "$suite"

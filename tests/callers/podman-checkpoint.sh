#!/usr/bin/env bash
# Real-caller test: `podman container checkpoint/restore` (podman 4.3 +
# conmon) driving the runtime under test ($RUNTIME, default
# target/release/outlet) with `--runtime PATH`, and CRIU 4.1.1 from trixie
# (scripts/fetch-criu.sh; bookworm's 3.17 fails `criu check` on this kernel)
# first on PATH for both podman (it checks criu itself) and the runtime.
# Same private podman setup as podman.sh.
#
# podman runs with private --root/--runroot/--tmpdir under a temp dir, vfs
# storage, cgroupfs with our own cgroup parent, no network; conmon and every
# container are stopped (by pid) and removed on exit, also on failure.
#
# env: RUNTIME=path           runtime binary (default <repo>/target/release/outlet)
#      CALLERS_ARGV_LOG=file  append every runtime argv podman/conmon send to file
#      CALLERS_KEEP=1         keep the temp dir for debugging
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
repo=$(repo_root)
suite=callers-podman-checkpoint
RUNTIME=${RUNTIME:-$repo/target/release/outlet}

require_tools "$suite" podman conmon script jq
require_runtime "$suite"
name=$(basename "$RUNTIME")

image_tar=$repo/target/callers/busybox-oci.tar
"$here/image.sh" "$image_tar" >&2

criu=$("$repo/scripts/fetch-criu.sh")
criu_dir=$(dirname "$criu")
export PATH=$criu_dir:$PATH
tmp=$(mktemp -d /tmp/callers-podman.XXXXXX)
# conmon writes a file named "oom" into its working directory after an OOM
# kill; keep it out of the repository.
cd "$tmp"
cgparent=/callers-podman-$$-$RANDOM
# podman writes its blob-info cache to /var/lib/containers/cache and makes
# /run/containers/networks whatever --root says; remove them when we made them.
timed_out_flag=$tmp/timed-out
host_dirs=()
for d in /var/lib/containers /run/containers; do
    [[ -e $d ]] || host_dirs+=("$d")
done
# podman passes no --root: the runtime keeps state in its default root
# (/run/runc, /run/outlet). Made by this run: removed at the end, with the
# seccomp filters outlet caches there (podman's default profile), which are
# the runtime's, not a container's state.
runtime_root_existed=yes
[[ -e /run/$name ]] || runtime_root_existed=no

# The wrapper logs argv (for the json-log check and for debugging) and keeps
# the runtime's basename, which is what podman keys its behaviour on.
argv_log=$tmp/argv.log
runtime=$(wrap_runtime "$RUNTIME" "$tmp/wrap" "$argv_log")

# podman only passes `--log-format=json --log FILE` to runtimes whose basename
# is in runtime_supports_json; the built-in list knows crun, runc, kata, runsc,
# youki, krun, so the runtime under test is added. CONTAINERS_CONF makes this
# the only containers.conf podman reads.
# conmon makes its console sockets in TMPDIR and leaves them behind when the
# runtime fails, so its TMPDIR is ours too.
cat >"$tmp/containers.conf" <<CONF
[engine]
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "$name"]
conmon_env_vars = ["PATH=$criu_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=$tmp/conmon-tmp"]
CONF
mkdir -p "$tmp/conmon-tmp"
export CONTAINERS_CONF=$tmp/containers.conf
export TMPDIR=$tmp/vartmp
mkdir -p "$TMPDIR"

P=(podman --root "$tmp/root" --runroot "$tmp/runroot" --tmpdir "$tmp/tmpdir"
    --volumepath "$tmp/volumes" --network-config-dir "$tmp/net"
    --cgroup-manager cgroupfs --events-backend file --storage-driver vfs
    --runtime "$runtime")
# The host's hard limits are below podman's default rlimits (HOST.md).
run_opts=(--pull never --network none --cgroup-parent "$cgparent"
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
image=
ids=()

our_conmons() { pgrep -f -- "conmon .*$tmp/" || true; }
parent_cgroups() { find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "${cgparent#/}" 2>/dev/null; }

cleanup() {
    local rc=$? pid m d
    set +e
    tmo 30 "${P[@]}" rm -af -t 0 >/dev/null 2>&1
    for pid in $(our_conmons); do stop_pid "$pid" 5; done
    reap_leftovers "$tmp" "$cgparent"
    for m in $(mounts_under "$tmp" | sort -r); do umount -l "$m"; done
    for d in "${host_dirs[@]}"; do rm -rf "$d"; done
    if [[ $runtime_root_existed == no ]]; then
        rm -rf "/run/$name/.cache"
        rmdir "/run/$name" 2>/dev/null
    fi
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
# An OCI archive whose index names only a tag loads as localhost/<tag>:<tag>.
image=$(sed -nE 's/^Loaded image(\(s\))?: *//p' <<<"$out" | head -1 | cut -d, -f1)
if [[ -z $image ]]; then
    fail image-load "no image name in: $(brief "$out")"
    summary "$suite" || exit 1
fi

new_name() { local n=p$RANDOM$RANDOM; ids+=("$n"); echo "$n"; }
inspect() { tmo 10 "${P[@]}" inspect --format "$2" "$1" 2>/dev/null; }
state_is() { [[ $(inspect "$1" '{{.State.Status}}') == "$2" ]]; }
count() { tmo 10 "${P[@]}" exec "$1" cat /tmp/n 2>/dev/null || echo 0; }
counted() { [[ $(count "$1") -ge 10 ]]; }
counter='i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done'

# --- checkpoint (stop) + restore: the counter goes on from the dump ----------
c=$(new_name)
tmo 30 "${P[@]}" run -d "${run_opts[@]}" --name "$c" --memory 64m "$image" sh -c "$counter" >/dev/null
wait_until 10 counted "$c" || true
set +e
out=$(tmo 60 "${P[@]}" container checkpoint "$c" 2>&1); rc=$?
set -e
at=$(inspect "$c" '{{.State.Status}}')
if [[ $rc -eq 0 && $at == exited ]]; then
    pass checkpoint
else
    fail checkpoint "exit $rc, state $at: $(brief "$out")"
fi
set +e
out=$(tmo 60 "${P[@]}" container restore "$c" 2>&1); rc=$?
set -e
n=$(count "$c")
if [[ $rc -eq 0 ]] && state_is "$c" running && [[ $n -ge 10 ]]; then
    pass restore-continues
else
    fail restore-continues "exit $rc, count $n (want >= 10): $(brief "$out")"
fi
if grep -rqs 67108864 /sys/fs/cgroup/memory"${cgparent}"/*/memory.limit_in_bytes; then
    pass restore-memory-limit
else
    fail restore-memory-limit "no 64m memory.limit_in_bytes under $cgparent"
fi
# Control: a restart (no checkpoint) counts from 1 again, which the same
# check must tell apart.
tmo 30 "${P[@]}" restart -t 0 "$c" >/dev/null 2>&1 || true
n=$(count "$c")
if [[ $n -lt 10 ]]; then
    pass control-restart-counts-from-1
else
    fail control-restart-counts-from-1 "count $n after a restart"
fi

# --- --leave-running, --export/--import into a new container ------------------
wait_until 10 counted "$c" || true
set +e
out=$(tmo 60 "${P[@]}" container checkpoint --leave-running --export "$tmp/c.tar.gz" "$c" 2>&1); rc=$?
set -e
if [[ $rc -eq 0 ]] && state_is "$c" running; then
    pass checkpoint-leave-running-export
else
    fail checkpoint-leave-running-export "exit $rc: $(brief "$out")"
fi
c2=$(new_name)
set +e
out=$(tmo 60 "${P[@]}" container restore --import "$tmp/c.tar.gz" --name "$c2" 2>&1); rc=$?
set -e
n=$(count "$c2")
if [[ $rc -eq 0 ]] && state_is "$c2" running && [[ $n -ge 10 ]]; then
    pass restore-import-new-name
else
    fail restore-import-new-name "exit $rc, count $n: $(brief "$out")"
fi

grep -E ' (checkpoint|restore) ' "$argv_log" | sed 's/^/argv: /' | cut -c1-900 >&2 || true
summary "$suite"

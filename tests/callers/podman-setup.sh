# Sourced by podman.sh and podman-checkpoint.sh after they set $suite,
# $repo, $RUNTIME and $image_tar (and, optionally, $conmon_path_prefix,
# prepended to conmon's PATH): podman with private storage and run dirs
# under a temp dir, the image loaded, and an EXIT trap that removes it all.
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
conmon_env_vars = ["PATH=${conmon_path_prefix:-}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=$tmp/conmon-tmp"]
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
    tmo 30 "${P[@]}" pod rm -af -t 0 >/dev/null 2>&1
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

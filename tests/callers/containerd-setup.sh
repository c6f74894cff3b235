# Sourced by containerd.sh and containerd-checkpoint.sh after they set
# $suite, $repo, $RUNTIME and $image_tar: a private containerd (root, state
# dir and socket under a temp dir) with the busybox image imported, and an
# EXIT trap that stops it by pid and removes everything, also on failure.
# Defines CTR, run_opts, image, containers and new_id.
tmp=$(mktemp -d /tmp/callers-containerd.XXXXXX)
# Work from the temp dir, so nothing a caller drops in its working
# directory lands in the repository.
cd "$tmp"
# The shim puts its sockets in /run/containerd/s whatever containerd's config
# says; when this run creates that directory, it removes it again.
[[ -e /run/containerd ]] && run_containerd_existed=yes || run_containerd_existed=no
ns=callers-$$-$RANDOM
sock=$tmp/containerd.sock
containerd_pid=
containers=()
runtime=$RUNTIME
if [[ -n ${CALLERS_ARGV_LOG:-} ]]; then
    runtime=$(wrap_runtime "$RUNTIME" "$tmp/wrap" "$CALLERS_ARGV_LOG")
fi

CTR=(ctr --address "$sock" --namespace "$ns")
# Options every container gets: the runtime under test, the shim's runc root
# and ctr's fifos inside the temp dir so nothing lands in /run/containerd.
run_opts=(--runc-binary "$runtime" --runc-root "$tmp/runc-root" --fifo-dir "$tmp/fifo")
image=localhost/busybox:latest

# ctr's default spec puts each container at cgroup /<namespace>/<id> in every
# hierarchy; the runtime removes <id>, the <namespace> parent is ours to remove.
ns_cgroups() { find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "$ns" 2>/dev/null; }

cleanup() {
    local rc=$? id pid m d
    set +e
    if [[ -n $containerd_pid ]] && kill -0 "$containerd_pid" 2>/dev/null; then
        for id in "${containers[@]}"; do
            tmo 10 "${CTR[@]}" task kill -a -s SIGKILL "$id" >/dev/null 2>&1
            tmo 10 "${CTR[@]}" task rm -f "$id" >/dev/null 2>&1
            tmo 10 "${CTR[@]}" container rm "$id" >/dev/null 2>&1
        done
        tmo 10 "${CTR[@]}" image rm "$image" >/dev/null 2>&1
    fi
    # Shims outlive containerd by design; ours are the ones bound to our socket.
    for pid in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $sock( |$)"); do
        stop_pid "$pid" 5
    done
    [[ -n $containerd_pid ]] && stop_pid "$containerd_pid" 10
    reap_leftovers "$tmp" "$ns"
    for m in $(mounts_under "$tmp" | sort -r); do umount -l "$m"; done
    if [[ $run_containerd_existed == no ]]; then
        rmdir /run/containerd/s /run/containerd 2>/dev/null
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

# --- start containerd ------------------------------------------------------
timed_out_flag=$tmp/timed-out
mkdir -p "$tmp/root" "$tmp/state" "$tmp/runc-root" "$tmp/fifo"
cat >"$tmp/config.toml" <<CONF
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$tmp/opt"
CONF
containerd --config "$tmp/config.toml" --log-level info >"$tmp/containerd.log" 2>&1 &
containerd_pid=$!
if ! wait_until 20 ctr --address "$sock" version >/dev/null 2>&1; then
    fail containerd-start "containerd did not answer on $sock: $(brief "$(tail -5 "$tmp/containerd.log")")"
    summary "$suite" || exit 1
fi
if ! out=$("${CTR[@]}" image import --base-name localhost/busybox "$image_tar" 2>&1); then
    fail image-import "$(brief "$out")"
    summary "$suite" || exit 1
fi

new_id() { local id=c$RANDOM$RANDOM; containers+=("$id"); echo "$id"; }

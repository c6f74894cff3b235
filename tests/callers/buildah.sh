#!/usr/bin/env bash
# Real-caller test: buildah 1.28 builds a Containerfile whose RUN steps run in
# containers of the runtime under test (`buildah bud --runtime PATH
# --isolation oci`), and the image it commits holds what RUN wrote.
#
# buildah runs with private --root/--runroot, vfs storage and TMPDIR under a
# temp dir, no network for the RUN steps, and our own cgroup parent.
#
# env: RUNTIME=path           runtime binary (default <repo>/target/<triple>/release/outlet)
#      CALLERS_ARGV_LOG=file  append every runtime argv buildah sends to file
#      CALLERS_KEEP=1         keep the temp dir for debugging
#      CALLERS_WRONG=buildah  a control: expect other content in the image
#                             (the check must then fail)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
repo=$(repo_root)
suite=callers-buildah
RUNTIME=${RUNTIME:-$("$repo/scripts/binary-path.sh")}

require_tools "$suite" buildah
require_runtime "$suite"
name=$(basename "$RUNTIME")

image_tar=$repo/target/callers/busybox-oci.tar
"$here/image.sh" "$image_tar" >&2

tmp=$(mktemp -d /tmp/callers-buildah.XXXXXX)
cd "$tmp"
timed_out_flag=$tmp/timed-out
cgparent=/callers-buildah-$$-$RANDOM
# buildah writes its blob-info cache to /var/lib/containers/cache and, with
# no --root of its own, the runtime keeps state (and outlet its seccomp
# cache) in /run/<name>: removed at the end when this run made them.
host_made=()
for d in /var/lib/containers/cache /var/lib/containers "/run/$name"; do
    [[ -e $d ]] || host_made+=("$d")
done
argv_log=$tmp/argv.log
: >"$argv_log"
runtime=$(wrap_runtime "$RUNTIME" "$tmp/wrap" "$argv_log")
export TMPDIR=$tmp/vartmp
mkdir -p "$TMPDIR"
B=(buildah --root "$tmp/root" --runroot "$tmp/runroot" --storage-driver vfs)

cleanup() {
    local rc=$? m d
    set +e
    tmo 30 "${B[@]}" rm -a >/dev/null 2>&1
    tmo 30 "${B[@]}" rmi -af >/dev/null 2>&1
    reap_leftovers "$tmp" "$cgparent"
    for m in $(mounts_under "$tmp" | sort -r); do umount -l "$m"; done
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

if ! out=$(tmo 120 "${B[@]}" pull -q "oci-archive:$image_tar" 2>&1) ||
    ! out=$(tmo 30 "${B[@]}" tag "$(tail -1 <<<"$out")" localhost/busybox:outlet 2>&1); then
    fail image-pull "$(brief "$out")"
    summary "$suite" || exit 1
fi

# Two RUN steps, the second reading what the first wrote: each is its own
# container (create/start/delete of the runtime), committed in between.
mkdir -p "$tmp/ctx"
cat >"$tmp/ctx/Containerfile" <<'CF'
FROM localhost/busybox:outlet
RUN echo built-by-run >/built && id -u >>/built
RUN cat /built >/built2 && echo second-step >>/built2 && cat /proc/self/cgroup >/cgroup
CF
set +e
out=$(tmo 180 "${B[@]}" bud --runtime "$runtime" --isolation oci --network none \
    --cgroup-parent "$cgparent" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    -t localhost/built:outlet -f "$tmp/ctx/Containerfile" "$tmp/ctx" 2>&1)
rc=$?
set -e
creates=$(grep -c ' create ' "$argv_log" || true)
if [[ $rc -eq 0 && $creates -ge 2 ]]; then
    pass bud
else
    fail bud "want exit 0 and >= 2 creates by the runtime; got exit $rc, $creates creates: $(brief "$(tail -5 <<<"$out")")"
fi

# The committed image holds the file the RUN steps wrote.
want="built-by-run 0 second-step"
[[ ${CALLERS_WRONG:-} == buildah ]] && want="built-by-run 0 third-step"
got=
if out=$(tmo 30 "${B[@]}" from --name check localhost/built:outlet 2>&1) &&
    mnt=$(tmo 30 "${B[@]}" mount check 2>&1); then
    got=$(cat "$mnt/built2" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')
    cg=$(cat "$mnt/cgroup" 2>/dev/null || true)
    tmo 30 "${B[@]}" umount check >/dev/null 2>&1 || true
fi
if [[ $got == "$want" ]]; then
    pass run-output-in-image
else
    fail run-output-in-image "want /built2 '$want' in the image; got '$got' ($(brief "$out"))"
fi
# The RUN step ran in the --cgroup-parent cgroup (buildah uses it as the
# cgroupsPath itself; the memory line is the one where a relative path
# would land elsewhere).
if grep -qE "^[0-9]+:memory:$cgparent(/.*)?$" <<<"$cg"; then
    pass run-in-cgroup-parent
else
    fail run-in-cgroup-parent "want memory:$cgparent in the RUN step's /proc/self/cgroup; got $(brief "$cg")"
fi

# --- buildah run (--isolation oci) in a working container: user, workdir, env,
# a read-only --volume, a --mount, capabilities, a missing command ------------
# buildah takes the container's --cgroup-parent as its cgroup itself.
mkdir -p "$tmp/vol"
echo "vol-$$" >"$tmp/vol/f"
# --network none: without it buildah run sets up its default CNI network
# (the cni-podman0 bridge and CNI-* chains, left on the host afterwards).
BR=("${B[@]}" run --runtime "$runtime" --isolation oci --network none)
if out=$(tmo 30 "${B[@]}" from --cgroup-parent "$cgparent/run" --name work localhost/busybox:outlet 2>&1); then
    set +e
    out=$(tmo 60 "${BR[@]}" --user 1000:1000 --workingdir /tmp --env X=x1 --volume "$tmp/vol:/v:ro" \
        --mount "type=bind,src=$tmp/vol,dst=/w" work -- sh -c \
        'id -u; id -g; pwd; echo $X; cat /v/f; touch /v/new 2>&1; cat /w/f' 2>&1)
    rc=$?
    set -e
    want="1000 1000 /tmp x1 vol-$$ touch: /v/new: Read-only file system vol-$$"
    if [[ $rc -eq 0 && $(echo $out) == "$want" && ! -e $tmp/vol/new ]]; then
        pass run-user-workdir-volume
    else
        fail run-user-workdir-volume "want '$want'; got exit $rc: $(brief "$out")"
    fi
    set +e
    out=$(tmo 60 "${BR[@]}" --cap-add CAP_NET_ADMIN --cap-drop CAP_CHOWN work -- \
        sh -c 'grep CapBnd /proc/self/status; chown 1 /tmp 2>&1; exit 3' 2>&1)
    rc=$?
    set -e
    bnd=$(awk '$1 == "CapBnd:" { print $2 }' <<<"$out")
    if [[ $rc -eq 3 && -n $bnd ]] && (((0x$bnd >> 12) & 1)) && ! (((0x$bnd >> 0) & 1)) &&
        [[ $out == *"Operation not permitted"* ]]; then
        pass run-cap-add-drop
    else
        fail run-cap-add-drop "want NET_ADMIN (bit 12) in CapBnd, CHOWN (bit 0) not, chown refused, exit 3; got exit $rc: $(brief "$out")"
    fi
    set +e
    out=$(tmo 60 "${BR[@]}" work -- /no/such 2>&1)
    rc=$?
    set -e
    # runc's words, which runc logs with the quotes escaped.
    if [[ $rc -ne 0 && $out == *"stat /no/such: no such file or directory"* ]]; then
        pass run-missing-command
    else
        fail run-missing-command "want the runtime's 'no such file or directory' for /no/such; got exit $rc: $(brief "$out")"
    fi
else
    fail run-user-workdir-volume "buildah from: $(brief "$out")"
    for t in run-cap-add-drop run-missing-command; do skip "$t" "no working container"; done
fi

# --- nothing left behind ---------------------------------------------------------
tmo 30 "${B[@]}" rm -a >/dev/null 2>&1 || true
left=
for id in $(grep -oE ' create .* [^ ]+$' "$argv_log" | awk '{ print $NF }' | sort -u); do
    [[ -e /run/$name/$id ]] && left+="/run/$name/$id "
done
if [[ -z $left ]]; then pass no-runtime-state-left; else fail no-runtime-state-left "$left"; fi
left=$(mounts_under "$tmp")
if [[ -z $left ]]; then pass no-mounts-left; else fail no-mounts-left "$(brief "$left")"; fi
left=$(for d in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -name "${cgparent#/}" 2>/dev/null); do find "$d" -mindepth 1 -type d; done)
if [[ -z $left ]]; then pass no-cgroups-left; else fail no-cgroups-left "$(brief "$left")"; fi

summary "$suite"

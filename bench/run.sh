#!/usr/bin/env bash
# Side-by-side benchmark: outlet vs crun vs runc (and the kernel floor and
# the spec floor: bench/tools' floor and specfloor).
# One command: builds what it needs, prints the tables, exits 0 even when a
# runtime fails (the table says which and why). Must run as root.
#
#   bench/run.sh                 # default BENCH_RUNS=150 interleaved runs
#   BENCH_RUNS=200 bench/run.sh
#   OUTLET=/path/to/outlet bench/run.sh
#   BENCH_PROTECTION=0 bench/run.sh   # without the binary protection's row
#   BENCH_TMPFS_ROOT=0 bench/run.sh   # without the v2 table with --root on tmpfs
#
# See bench/README.md for what each number means.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
runs=${BENCH_RUNS:-150}
outlet=${OUTLET:-$("$repo/scripts/binary-path.sh")}
runc_bin=$(command -v runc || echo /usr/sbin/runc)
crun_bin=$(command -v crun || echo /usr/bin/crun)
# crun 1.21 (Debian trixie's, the newest packaged) beside bookworm's 1.8.1.
crun121_bin=$(bash "$here/fetch-crun.sh") || {
    echo "bench/run.sh: crun 1.21 could not be fetched; its column reads missing" >&2
    crun121_bin=/nonexistent/crun-1.21
}
tag=outlet-bench-$$

if [[ $(id -u) -ne 0 ]]; then
    echo "bench/run.sh: must run as root (namespaces, mounts, cgroups)" >&2
    exit 1
fi
for tool in python3 unshare cargo; do
    if ! command -v "$tool" >/dev/null; then
        echo "bench/run.sh: $tool is missing (see scripts/install-deps.sh)" >&2
        exit 1
    fi
done

work=$(mktemp -d /tmp/outlet-bench.XXXXXX)
work=$(realpath "$work")

# Deletes the containers a crashed driver may have left in our private
# --root dirs (under $1, default the work dir). Also called inside the v2
# field's namespace, where those containers' cgroups are visible at
# /sys/fs/cgroup (and the tmpfs table's roots exist at all).
delete_containers() {
    local root name bin cid base=${1:-$work}
    for root in "$base"/root-*; do
        [[ -d $root ]] || continue
        name=${root##*/root-}
        case $name in
            outlet) bin=$outlet ;;
            protected | unprotected) bin=$switch_outlet ;;
            runc) bin=$runc_bin ;;
            crun) bin=$crun_bin ;;
            crun-1.21) bin=$crun121_bin ;;
            *) continue ;;
        esac
        for cid in "$root"/*; do
            [[ -e $cid ]] || continue
            # A hung runtime must not hang the cleanup.
            timeout 10 "$bin" --root "$root" delete --force "${cid##*/}" >/dev/null 2>&1 ||
                echo "bench/run.sh: $name delete --force ${cid##*/} failed" >&2
        done
    done
}

# Then our cgroups (named $tag, in the v1 hierarchies and in the cgroup2
# hierarchy the v2 field mounted, which the host sees at
# /sys/fs/cgroup/unified) and the work dir.
cleanup() {
    local dir
    delete_containers
    while IFS= read -r dir; do
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
        if [[ -d $dir ]]; then
            echo "bench/run.sh: could not remove cgroup $dir" >&2
        fi
    done < <(find /sys/fs/cgroup -maxdepth 6 -type d -name "$tag" 2>/dev/null)
    rm -rf "$work"
}
trap cleanup EXIT

# The test root filesystem: the project's fixture recipe (cached in
# <repo>/target/fixtures, prints the rootfs path) when it is there, else the
# same busybox-static tree built here. The benchmark only needs /bin/true
# and /bin/sleep from it.
make_rootfs() {
    local out=$1 rootfs applet
    if [[ -x $repo/rootfs-fixtures/build.sh ]]; then
        if rootfs=$("$repo/rootfs-fixtures/build.sh" | tail -1) && [[ -x $rootfs/bin/busybox ]]; then
            realpath "$rootfs"
            return
        fi
        echo "bench/run.sh: rootfs-fixtures/build.sh failed; building a busybox rootfs here" >&2
    fi
    rootfs=$out/rootfs
    mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc,root}
    cp /bin/busybox "$rootfs/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [[ $applet == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
    done
    realpath "$rootfs"
}

echo "== building (cargo build --release: outlet; bench/tools)" >&2
if ! (cd "$repo" && cargo build --release --quiet --bin outlet) >&2; then
    echo "bench/run.sh: cargo build --release of outlet FAILED; outlet column will say so" >&2
fi
if ! (cd "$here/tools" && cargo build --release --quiet) >&2; then
    echo "bench/run.sh: building bench/tools FAILED; cannot measure" >&2
    exit 1
fi
# The protection row: the same release build with the feature that lets
# OUTLET_UNPROTECTED_EXE=1 switch the binary's protection off (see
# src/security/protected_exe.rs); a build of its own, so the default target directory's
# outlet stays the one without any switch.
switch_outlet=$("$repo/scripts/binary-path.sh" release outlet "$repo/target/switch")
if [[ ${BENCH_PROTECTION:-1} != 0 ]] &&
    ! (cd "$repo" && cargo build --release --quiet --bin outlet \
        --features unprotected-exe-switch --target-dir "$repo/target/switch") >&2; then
    echo "bench/run.sh: building outlet with unprotected-exe-switch FAILED; no protection row" >&2
fi
floor=$("$repo/scripts/binary-path.sh" release floor "$here/tools/target")
specfloor=$("$repo/scripts/binary-path.sh" release specfloor "$here/tools/target")
runner=$("$repo/scripts/binary-path.sh" release runner "$here/tools/target")

rootfs=$(make_rootfs "$work/fixtures")
# Row (1s): podman's default profile (golang-github-containers-common).
seccomp_args=()
profile=/usr/share/containers/seccomp.json
[[ -r $profile ]] && seccomp_args=(--seccomp "$profile")

echo "## outlet benchmark"
echo
echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
# First line of --version; head closing the pipe early must not count as
# the runtime failing (pipefail).
version() { { "$1" --version 2>/dev/null || echo "not available"; } | { head -1; cat >/dev/null; }; }
echo "- outlet: $outlet ($(version "$outlet"))"
echo "- crun: $(version "$crun_bin"), $(version "$crun121_bin") (trixie's, own libraries); runc: $(version "$runc_bin")"
echo "- bundle: busybox rootfs, /bin/true, no terminal, namespaces pid+net+ipc+uts+mount (runc spec)"


# Field 1: crun refuses hybrid hosts, so all three run in a private mount
# namespace whose /sys/fs/cgroup is a fresh cgroup2 mount. The mount exists
# only in that namespace; the host's cgroup mounts are never touched.
export work outlet runc_bin crun_bin crun121_bin switch_outlet
unshare -m --propagation private -- bash -c "$(declare -f delete_containers)"'
    set -euo pipefail
    trap delete_containers EXIT
    mount -t cgroup2 none /sys/fs/cgroup
    python3 "$@"' bash "$here/driver.py" table --field v2 --work "$work" \
    --rootfs "$rootfs" --runs "$runs" --tag "$tag" --floor "$floor" --specfloor "$specfloor" --runner "$runner" \
    "${seccomp_args[@]}" \
    --title "cgroup v2 field (private mount namespace), no resource limits" \
    "outlet=$outlet" "crun-1.21=$crun121_bin" "crun=$crun_bin" "runc=$runc_bin" ||
    echo "bench/run.sh: the v2 field driver FAILED (exit $?)"

# Field 1 again with every runtime's --root on a tmpfs, as on a systemd
# host (/run is a tmpfs there: containerd's /run/containerd/runc, podman's
# /run/runc). This host has no tmpfs at /run and the table above keeps its
# roots on the ext4 /tmp, where each new inode costs an allocation scan and
# each removed dir a discard (bench/README.md "The state root on ext4").
# The tmpfs is mounted in the field's private mount namespace only: it goes
# with that namespace, after the trap has deleted what is left on it.
if [[ ${BENCH_TMPFS_ROOT:-1} != 0 ]]; then
    mkdir -p "$work/tmpfs-roots"
    unshare -m --propagation private -- bash -c "$(declare -f delete_containers)"'
        set -euo pipefail
        trap "delete_containers $work/tmpfs-roots" EXIT
        mount -t cgroup2 none /sys/fs/cgroup
        mount -t tmpfs -o mode=0755 outlet-bench-roots "$work/tmpfs-roots"
        python3 "$@"' bash "$here/driver.py" table --field v2 --work "$work" \
        --roots "$work/tmpfs-roots" \
        --rootfs "$rootfs" --runs "$runs" --tag "$tag" --floor "$floor" --specfloor "$specfloor" --runner "$runner" \
        "${seccomp_args[@]}" \
        --title "cgroup v2 field, every --root on a tmpfs (private mount namespace), no resource limits" \
        "outlet=$outlet" "crun-1.21=$crun121_bin" "crun=$crun_bin" "runc=$runc_bin" ||
        echo "bench/run.sh: the v2 tmpfs-root driver FAILED (exit $?)"
fi

# The cost of running create/run/exec from the protected copy of the
# binary: one outlet build, with and without OUTLET_UNPROTECTED_EXE=1, in
# the v2 field as above (no seccomp row: it would measure the same thing).
if [[ ${BENCH_PROTECTION:-1} != 0 && -x $switch_outlet ]]; then
    unshare -m --propagation private -- bash -c "$(declare -f delete_containers)"'
        set -euo pipefail
        trap delete_containers EXIT
        mount -t cgroup2 none /sys/fs/cgroup
        python3 "$@"' bash "$here/driver.py" table --field v2 --work "$work" \
        --rootfs "$rootfs" --runs "$runs" --tag "$tag" --runner "$runner" \
        --env unprotected:OUTLET_UNPROTECTED_EXE=1 \
        --title "binary protection (v2 field): outlet with unprotected-exe-switch, protected vs OUTLET_UNPROTECTED_EXE=1" \
        "protected=$switch_outlet" "unprotected=$switch_outlet" ||
        echo "bench/run.sh: the protection driver FAILED (exit $?)"
fi

# Field 2: the real hybrid host with v1 limits; crun cannot run here.
python3 "$here/driver.py" table --field hybrid --work "$work" --rootfs "$rootfs" \
    --runs "$runs" --tag "$tag" --runner "$runner" "${seccomp_args[@]}" \
    --title "hybrid host (cgroup v1), memory 512 MiB + cpu 0.25 limits" \
    "outlet=$outlet" "runc=$runc_bin" ||
    echo "bench/run.sh: the hybrid field driver FAILED (exit $?)"

python3 "$here/driver.py" limit --work "$work" --rootfs "$rootfs" --tag "$tag" --runner "$runner" \
    --bytes $((4 * 1024 * 1024)) "outlet=$outlet" "runc=$runc_bin" ||
    echo "bench/run.sh: the memory limit check FAILED (exit $?)"
exit 0

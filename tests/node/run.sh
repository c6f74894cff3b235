#!/bin/bash
# The node suite: boot the Debian 12 node image (systemd as PID 1, cgroup
# v2 only; built once by build-image.sh) under qemu with a second disk
# holding the runtime, the fixture rootfs, the bundles and suite.sh; a
# systemd unit on the node runs the suite and powers off. The verdict comes
# back over the serial console.
#
# usage: [RUNTIME=path] tests/node/run.sh
#   RUNTIME       runtime binary (default <repo>/target/<triple>/release/outlet)
#   NODE_ACCEL    tcg (default: nested KVM hangs at boot on the machines here) | kvm
#   NODE_TIMEOUT  wall-clock limit of the boot + suite in seconds (default 1200: the CRI checks alone take 3-4 min under TCG, Docker's about 3-5)
#   NODE_ONLY     the suite's tests to run, by the names in suite.sh's list
#                 ("slice cri cri_ns cri_sec cri_life cri_mounts podman docker ..."); all when empty
# Output: the suite's lines, then exactly `node: N passed, N failed, N skipped`.
# Exit 1 when a test failed, the image could not be built, or no verdict came.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$repo/target/node
log=$work/serial.log
accel=${NODE_ACCEL:-tcg}
node_timeout=${NODE_TIMEOUT:-1200}

say() { echo "node: $*" >&2; }
die() {
    say "error: $*"
    echo "node: 0 passed, 1 failed, 0 skipped"
    exit 1
}

qemu_pid=""
cleanup() {
    if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

for tool in qemu-system-x86_64 mkfs.ext4 jq timeout umoci; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

if [[ -z ${RUNTIME:-} ]]; then
    RUNTIME=$("$repo/scripts/binary-path.sh")
    [[ -x $RUNTIME ]] || (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[[ -x $RUNTIME ]] || die "RUNTIME=$RUNTIME is not an executable"

t0=$SECONDS
# Not being able to build the image is a failure, not a skip: the suite
# is the only place the systemd driver runs for real.
image=$("$here/build-image.sh") || die "the node image could not be built (see above)"
say "image $image (ready after $((SECONDS - t0)) s)"

# --- the test disk ------------------------------------------------------------
rm -rf "$work"
mkdir -p "$work/disk"
rootfs=$("$repo/rootfs-fixtures/build.sh" "$repo/target/fixtures")
cp -a "$rootfs" "$work/disk/rootfs"
install -m 0755 "$(readlink -f "$RUNTIME")" "$work/disk/outlet"
install -m 0644 "$here/suite.sh" "$work/disk/suite.sh"
install -m 0644 "$here/rootless_podman.sh" "$work/disk/rootless_podman.sh"
install -m 0644 "$here/cri.py" "$work/disk/cri.py"
install -m 0644 "$here/cri_checks.sh" "$work/disk/cri_checks.sh"
install -m 0644 "$here/docker.sh" "$work/disk/docker.sh"
install -m 0644 "$here/sd_userns.sh" "$work/disk/sd_userns.sh"
printf '%s\n' "${NODE_ONLY:-}" >"$work/disk/only"
"$here/bundles.sh" "$work/disk/bundles"
# containerd and podman on the node import the busybox image built for the
# caller tests; the CRI's pod sandbox image is the same layer tagged "pause"
# with a command that sleeps (no registry, so no real pause image).
"$repo/tests/callers/image.sh" >&2 || die "tests/callers/image.sh failed"
cp "$repo/target/callers/busybox-oci.tar" "$work/disk/busybox-oci.tar"
mkdir "$work/layout"
tar -C "$work/layout" -xf "$work/disk/busybox-oci.tar"
umoci config --image "$work/layout:latest" --tag pause \
    --config.cmd /bin/sleep --config.cmd 2147483647 >&2 || die "umoci: the pause tag"
tar -C "$work/layout" -cf "$work/disk/node-images.tar" .
rm -rf "$work/layout"
truncate -s 256M "$work/tests.img"
mkfs.ext4 -q -L nodetests -d "$work/disk" "$work/tests.img"

# --- boot -----------------------------------------------------------------------
boot() { # accel timeout
    : >"$log"
    # -snapshot: the cached root image is never written.
    timeout --kill-after=5 "$2" qemu-system-x86_64 \
        -accel "$1" -m 2048 -smp 2 -snapshot \
        -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
        -append "root=LABEL=noderoot rw console=ttyS0 quiet loglevel=3 panic=-1 systemd.unified_cgroup_hierarchy=1 systemd.show_status=0" \
        -drive "file=$image/root.img,format=raw,if=virtio" \
        -drive "file=$work/tests.img,format=raw,if=virtio" \
        -nographic -no-reboot </dev/null >"$log" 2>&1 &
    qemu_pid=$!
}

say "booting with $accel"
b0=$SECONDS
boot "$accel" "$node_timeout"
wait "$qemu_pid" || true
qemu_pid=""
say "boot + suite took $((SECONDS - b0)) s"

tr -d '\r' <"$log" | grep -E '^(NODETEST|NODEINFO|node: suite)' || true
verdict=$(tr -d '\r' <"$log" | grep -E '^node: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n1 || true)
if [[ -z $verdict ]]; then
    say "no verdict from the node; last lines of the console:"
    tail -n 30 "$log" >&2
    die "no verdict"
fi
echo "$verdict"
[[ $verdict == *" 0 failed,"* ]]

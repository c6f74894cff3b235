#!/usr/bin/env bash
# Build an OCI image archive (busybox rootfs, one layer) for the real-caller
# tests: containerd imports it with `ctr image import`, podman with `podman load`.
#
# usage: tests/callers/image.sh [OUT.tar]   (default target/callers/busybox-oci.tar)
# Repeated test runs reuse the archive unless its inputs changed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/target/callers/busybox-oci.tar}
fixtures=$repo/rootfs-fixtures/build.sh

# The archive is stale when missing, older than this script, or older than
# any file of the rootfs it was made from.
fresh() {
    [[ -s $out && $out -nt $0 ]] || return 1
    [[ -z $(find "$1" -newer "$out" -print -quit) ]]
}

for tool in umoci tar; do
    command -v "$tool" >/dev/null || { echo "image: $tool not found (apt-get install $tool)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/callers-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Cheap when up to date; shared with the other suites in target/fixtures.
rootfs=$("$fixtures")
if fresh "$rootfs"; then
    echo "image: $out (cached)"
    exit 0
fi
[[ -x $rootfs/bin/sh ]] || { echo "image: $rootfs/bin/sh missing" >&2; exit 1; }

layout=$work/layout
umoci init --layout "$layout"
umoci new --image "$layout:latest"
# unpack/repack turns a directory into a layer with ownership and modes kept.
umoci unpack --image "$layout:latest" "$work/bundle"
cp -a "$rootfs/." "$work/bundle/rootfs/"
umoci repack --image "$layout:latest" "$work/bundle"
umoci config --image "$layout:latest" \
    --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    --config.cmd /bin/sh \
    --config.workingdir / \
    --architecture amd64 --os linux
umoci gc --layout "$layout"

mkdir -p "$(dirname "$out")"
tar -C "$layout" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "image: $out (built)"

#!/usr/bin/env bash
# Build an OCI image archive (busybox rootfs, one layer) for the real-caller
# tests: containerd imports it with `ctr image import`, podman with `podman load`.
#
# usage: tests/callers/image.sh [OUT.tar]   (default target/callers/busybox-oci.tar)
# The archive is rebuilt only when missing or when this script or the fixture
# recipe is newer, so repeated test runs do not pay for umoci again.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/target/callers/busybox-oci.tar}
fixtures=$repo/rootfs-fixtures/build.sh

fresh() {
    [[ -s $out ]] || return 1
    [[ $out -nt $0 ]] || return 1
    if [[ -e $fixtures ]]; then [[ $out -nt $fixtures ]] || return 1; fi
    return 0
}

if fresh; then
    echo "image: $out (cached)"
    exit 0
fi

for tool in umoci tar; do
    command -v "$tool" >/dev/null || { echo "image: $tool not found (apt-get install $tool)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/callers-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Until the shared fixture recipe exists, build the same shape here: busybox
# applets as symlinks plus the few files callers look at (/etc/passwd for
# user lookup, mount points for /proc, /sys, /dev).
own_busybox_rootfs() {
    local root=$1 busybox applet
    busybox=$(command -v busybox) || { echo "image: busybox-static not installed" >&2; return 1; }
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var/tmp}
    chmod 1777 "$root/tmp" "$root/var/tmp"
    cp "$busybox" "$root/bin/busybox"
    while read -r applet; do
        [[ $applet == /bin/busybox ]] && continue
        [[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
    done < <("$root/bin/busybox" --list-full | sed 's|^|/|')
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

rootfs=$work/fixture/rootfs
if [[ -x $fixtures ]]; then
    "$fixtures" "$work/fixture" >&2
else
    own_busybox_rootfs "$rootfs"
fi
[[ -x $rootfs/bin/sh ]] || { echo "image: $rootfs/bin/sh missing after build" >&2; exit 1; }

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

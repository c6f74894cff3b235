#!/bin/bash
# Build (once) the node image: Debian 12 from the package archive with
# systemd as PID 1, dbus (system and user session), containerd, podman,
# docker.io (dockerd 20.10 with the systemd cgroup driver; it brings runc,
# the comparison runtime, and tini, its --init) with apparmor (its
# Recommends, installed on Debian hosts: Debian's kernel has AppArmor on,
# and dockerd refuses to run containers without apparmor_parser then),
# python3 grpcio + protobuf (the suite's CRI client), busybox-static,
# uidmap (newuidmap/newgidmap: rootless podman's user namespace) and
# Debian's kernel,
# as a raw ext4 disk plus the kernel and initrd to boot it with. Cached
# under /var/cache/outlet-test/node-<hash of this script>: a change here
# builds a new image; nothing lands in the clone.
#
# usage: tests/node/build-image.sh   -> prints the cache directory
# Needs: root, debootstrap, e2fsprogs (mkfs.ext4 -d), a reachable archive
# (NODE_MIRROR, default http://deb.debian.org/debian).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mirror=${NODE_MIRROR:-http://deb.debian.org/debian}
key=$(cat "$here/build-image.sh" "$here/guest-setup.sh" | sha256sum | cut -c1-12)
out=/var/cache/outlet-test/node-$key
say() { echo "node-image: $*" >&2; }

if [[ -f $out/done ]]; then
    echo "$out"
    exit 0
fi
command -v debootstrap >/dev/null || { say "debootstrap not installed (scripts/install-deps.sh)"; exit 1; }
mkdir -p /var/cache/outlet-test
tmp=$(mktemp -d /var/cache/outlet-test/node-build.XXXXXX)
root=$tmp/root
cleanup() {
    for m in proc sys dev/pts dev; do
        mountpoint -q "$root/$m" && umount -l "$root/$m"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

start=$SECONDS
say "debootstrap bookworm from $mirror into $root"
# The .debs are kept between builds: a changed script rebuilds without
# downloading them again.
mkdir -p /var/cache/outlet-test/node-debs
debootstrap --variant=minbase --cache-dir=/var/cache/outlet-test/node-debs \
    --include=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,udev,kmod,containerd,docker.io,apparmor,podman,conmon,containernetworking-plugins,busybox-static,uidmap,linux-image-amd64,e2fsprogs,procps,python3-grpcio,python3-protobuf \
    bookworm "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
    tail -n 30 "$tmp/debootstrap.log" >&2
    say "debootstrap failed"
    exit 1
}
say "debootstrap took $((SECONDS - start)) s"

install -m 0755 "$here/guest-setup.sh" "$root/tmp/guest-setup.sh"
chroot "$root" /tmp/guest-setup.sh
rm -f "$root/tmp/guest-setup.sh"

for m in proc sys dev/pts dev; do
    mountpoint -q "$root/$m" && umount "$root/$m"
done
mkdir -p "$tmp/out"
cp -L "$root"/boot/vmlinuz-* "$tmp/out/vmlinuz"
cp -L "$root"/boot/initrd.img-* "$tmp/out/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
truncate -s 3G "$tmp/out/root.img"
mkfs.ext4 -q -L noderoot -d "$root" "$tmp/out/root.img"
touch "$tmp/out/done"
rm -rf "$out"
mv "$tmp/out" "$out"
say "image ready in $((SECONDS - start)) s: $out ($(du -sh "$out" | cut -f1))"
echo "$out"

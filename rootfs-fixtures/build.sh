#!/bin/bash
# Builds the test root filesystem: the host's static busybox with its applet
# links, minimal /etc files, empty mount points, and the static `probe` at
# /bin/probe.
#
# usage: rootfs-fixtures/build.sh [OUTDIR]      (default <repo>/target/fixtures)
# Result: OUTDIR/rootfs/ ; the rootfs path is the only line on stdout.
#
# Idempotent and cheap when up to date: files are replaced only when their
# content changed, and cargo decides whether probe needs rebuilding. Several
# test suites may call this at once, hence the lock.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
outdir=${1:-$repo/target/fixtures}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rootfs=$outdir/rootfs
busybox_src=${BUSYBOX:-/bin/busybox}
target=x86_64-unknown-linux-gnu

log() { echo "rootfs-fixtures: $*" >&2; }

# ldd (always present with glibc) lists "lib => path" lines only for dynamic
# executables; no need for file(1).
is_static() { [[ -f $1 ]] && ! ldd "$1" 2>&1 | grep -q '=>'; }

if ! is_static "$busybox_src"; then
    log "$busybox_src is missing or not static (apt-get install busybox-static)"
    exit 1
fi

exec 9>"$outdir/.build.lock"
flock 9

# Copy only when the content differs, via a temp name + rename so a
# concurrent reader never sees a half-written binary.
install_if_changed() { # src dst mode
    local src=$1 dst=$2 mode=$3
    if [[ -f $dst ]] && cmp -s "$src" "$dst"; then
        chmod "$mode" "$dst"
        return
    fi
    cp "$src" "$dst.tmp.$$"
    chmod "$mode" "$dst.tmp.$$"
    mv -f "$dst.tmp.$$" "$dst"
}

write_if_changed() { # dst mode (content on stdin)
    local dst=$1 mode=$2 tmp
    tmp=$(mktemp "$outdir/.tmp.XXXXXX")
    cat >"$tmp"
    install_if_changed "$tmp" "$dst" "$mode"
    rm -f "$tmp"
}

# --- probe (static, std + libc) ---------------------------------------------
# An explicit --target keeps crt-static off build scripts and proc macros;
# relocation-model=static gives a plain static executable (not static-pie),
# the most portable kind for an otherwise empty rootfs.
log "building probe"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
    cargo build --quiet --release --locked \
    --manifest-path "$here/probe/Cargo.toml" \
    --target "$target" \
    --target-dir "$outdir/target"
probe_bin=$outdir/target/$target/release/probe
if ! is_static "$probe_bin"; then
    log "probe is not statically linked: $(ldd "$probe_bin" 2>&1 | head -n3)"
    exit 1
fi

# --- rootfs layout -------------------------------------------------------------
mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root,usr/bin}
chmod 0755 "$rootfs" "$rootfs"/{bin,etc,proc,sys,dev,usr,usr/bin}
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"

install_if_changed "$busybox_src" "$rootfs/bin/busybox" 0755
install_if_changed "$probe_bin" "$rootfs/bin/probe" 0755

# Applet links: relative, so they resolve the same inside and outside the
# container. Existing correct links are left alone.
while read -r applet; do
    [[ -n $applet && $applet != busybox && $applet != probe ]] || continue
    link=$rootfs/bin/$applet
    if [[ ! -L $link || $(readlink "$link") != busybox ]]; then
        ln -sfn busybox "$link"
    fi
done < <("$rootfs/bin/busybox" --list)
# Scripts with `#!/usr/bin/env sh` are common in test images.
[[ -L $rootfs/usr/bin/env ]] || ln -sfn ../../bin/busybox "$rootfs/usr/bin/env"

write_if_changed "$rootfs/etc/passwd" 0644 <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
write_if_changed "$rootfs/etc/group" 0644 <<'EOF'
root:x:0:
nobody:x:65534:
EOF

log "rootfs ready at $rootfs"
echo "$rootfs"

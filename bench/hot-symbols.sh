#!/bin/bash
# Remakes .cargo/hot-symbols.txt, the link order of outlet's hot functions
# (see .cargo/rustc-static-bin): profiles an unstripped build of this tree
# in bench/run.sh's v2 field (exec into a sleeping container, run, and
# create/start/delete; CPU samples and every page fault, user space), keeps
# the names of outlet's functions it saw, first seen first, and writes
# them as the release build names them (bench/hot-symbols.py). Run it when
# the hot paths, the toolchain or the release profile changed; a stale list
# only groups less. Needs root, perf, runc (for `runc spec`).
#
#   bench/hot-symbols.sh [ROUNDS]
set -euo pipefail
rounds=${1:-100}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
rootfs=$("$repo/rootfs-fixtures/build.sh" | tail -1)
work=$(mktemp -d /tmp/hot-symbols.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$repo" && CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=1 \
    cargo build --release --target-dir target/prof >&2)
mkdir -p "$work/bin" "$work/a" "$work/b" "$work/root"
bin=$work/bin/outlet
cp "$("$repo/scripts/binary-path.sh" release outlet "$repo/target/prof")" "$bin"
# perf finds the protected copy's symbols at /outlet (its name in the
# detached overlay) under --symfs, and the first image's at its own path.
mkdir -p "$work/symfs$work/bin"
ln -s "$bin" "$work/symfs/outlet"
ln -s "$bin" "$work/symfs$bin"
(cd "$work/a" && runc spec)
python3 - "$work" "$rootfs" "hot-symbols-$$" <<'PY'
import json, sys
work, rootfs, tag = sys.argv[1:4]
c = json.load(open(f"{work}/a/config.json"))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["terminal"] = False
c["linux"].pop("resources", None)
c["process"]["args"] = ["/bin/sleep", "1000000"]
c["linux"]["cgroupsPath"] = f"/{tag}/a"
json.dump(c, open(f"{work}/a/config.json", "w"))
c["process"]["args"] = ["/bin/true"]
c["linux"]["cgroupsPath"] = f"/{tag}/b"
json.dump(c, open(f"{work}/b/config.json", "w"))
PY
O="$bin --root $work/root"
loop="for i in \$(seq $rounds); do
  $O exec a /bin/true; $O run --bundle $work/b r\$i
  $O create --bundle $work/b c\$i >/dev/null; $O start c\$i; $O delete --force c\$i
done"
for ev in "-F 20000" "-e page-faults -c 1"; do
    # shellcheck disable=SC2086 # ev is a list of perf options
    unshare -m --propagation private sh -c "
      mount -t cgroup2 none /sys/fs/cgroup && mount -t tmpfs -o mode=700 none $work/root &&
      $O create --bundle $work/a a >/dev/null && $O start a &&
      perf record -q $ev -o $work/p.data -- sh -c '$loop'; rc=\$?
      $O delete --force a; rmdir /sys/fs/cgroup/hot-symbols-$$; exit \$rc" >/dev/null
    perf script -i "$work/p.data" --symfs "$work/symfs" --no-demangle -F comm,ip,sym 2>/dev/null |
        awk '$1 == "outlet" && $3 != "[unknown]" { print $3 }' >>"$work/names"
done
awk '!seen[$0]++' "$work/names" >"$work/hot"
(cd "$repo" && touch src/main.rs && OUTLET_LINK_MAP=$work/map cargo build --release >&2)
python3 "$here/hot-symbols.py" "$work/hot" "$work/map" >"$repo/.cargo/hot-symbols.txt"

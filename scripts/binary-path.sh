#!/bin/sh
# Prints where cargo puts a binary of this repository:
#   scripts/binary-path.sh [PROFILE [NAME [TARGET_DIR]]]
# (default: release, outlet, <repo>/target). The build target is set once,
# in .cargo/config.toml ([build] target), so binaries land in
# TARGET_DIR/<triple>/PROFILE/; scripts ask here instead of spelling the
# triple. CARGO_BUILD_TARGET overrides it, as it does for cargo.
repo=$(cd "$(dirname "$0")/.." && pwd)
triple=${CARGO_BUILD_TARGET:-$(sed -n 's/^target = "\(.*\)"$/\1/p' "$repo/.cargo/config.toml")}
echo "${3:-$repo/target}/${triple:+$triple/}${1:-release}/${2:-outlet}"

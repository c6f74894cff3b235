#!/usr/bin/env bash
# CRIU 4.1.1 from Debian trixie for the checkpoint/restore tests: bookworm's
# criu 3.17 cannot dump on kernels >= 6.13 (`criu check`: "vdso: Unexpected
# rt vDSO area bounds", the split [vvar]); 4.1 knows the new layout. trixie's
# glibc must not land on this bookworm host, so the .debs are fetched with a
# private apt list, unpacked into a cache directory, and the criu binary is
# pointed at trixie's own loader and libraries (patchelf: interpreter +
# RPATH), so it runs like any binary and can be passed as `--criu PATH`.
# Prints the path of the ready criu. Cached under /var/cache/outlet-test,
# keyed by this script's hash; a second run fetches nothing.
# criu itself runs host tools by name: iptables (network lock) and tar
# (tmpfs contents); scripts/install-deps.sh installs both.
set -euo pipefail
cache=/var/cache/outlet-test
key=$(sha256sum "$0" | cut -c1-12)
dir=$cache/criu-trixie-$key
if [[ -x $dir/criu ]]; then
  echo "$dir/criu"
  exit 0
fi
command -v patchelf >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null
}
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.criu-XXXXXX")
trap 'rm -rf "$tmp" "$dir.new"' EXIT
cd "$tmp"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >sources.list
mkdir -p lists/partial cache/archives/partial state debs R
touch state/status
apt=(apt-get -q -o Dir::Etc::sourcelist="$tmp/sources.list" -o Dir::Etc::sourceparts=-
     -o Dir::State::Lists="$tmp/lists" -o Dir::State::status="$tmp/state/status"
     -o Dir::Cache="$tmp/cache" -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
"${apt[@]}" update >/dev/null
# criu's whole library closure, resolved against an empty dpkg status so
# that every library comes from trixie and none from the host. criu's
# Python helpers (crit, python3-pycriu) are not needed: only the binary.
mapfile -t pkgs < <("${apt[@]}" -s install --no-install-recommends criu | sed -nE 's/^Inst ([^ ]+) .*/\1/p' | grep -Ev '^(python3|libpython|crit$|perl|media-types|tzdata|readline-common|netbase)')
(cd debs && "${apt[@]}" download "${pkgs[@]}" >/dev/null)
for d in debs/*.deb; do dpkg-deb -x "$d" R; done
rm -rf "$dir.new"
mkdir -p "$dir.new"
mv R "$dir.new/R"
lib=$dir/R/usr/lib/x86_64-linux-gnu
bin=$(find "$dir.new/R/usr" -name criu -type f -perm -u+x | head -1)
[[ -n $bin ]] || { echo "fetch-criu: no criu binary in the trixie packages" >&2; exit 1; }
cp "$bin" "$dir.new/criu"
patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$dir.new/criu"
rm -rf "$dir"
mv "$dir.new" "$dir"
# Every library must resolve inside the tree.
if ldd "$dir/criu" | grep -v "$dir/R" | grep -q '=> /'; then
  echo "fetch-criu: a library of criu resolves outside $dir:" >&2
  ldd "$dir/criu" >&2
  exit 1
fi
"$dir/criu" --version >/dev/null
echo "$dir/criu"

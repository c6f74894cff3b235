#!/usr/bin/env bash
# The newest crun Debian packages (1.21, from trixie) for the benchmark,
# without installing trixie's glibc on this bookworm host: the .debs are
# fetched with a private apt list, unpacked into a cache directory, and the
# crun binary there is pointed at trixie's own loader and libraries
# (patchelf: interpreter + RPATH), so it runs like any binary, with no
# loader-as-program or wrapper script in the measured path.
# Prints the path of the ready crun. Cached under /var/cache/outlet-test,
# keyed by this script's hash; a second run fetches nothing.
set -euo pipefail
cache=/var/cache/outlet-test
key=$(sha256sum "$0" | cut -c1-12)
dir=$cache/crun-trixie-$key
if [[ -x $dir/crun ]]; then
  echo "$dir/crun"
  exit 0
fi
command -v patchelf >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null
}
tmp=$(mktemp -d "$cache/.crun-XXXXXX" 2>/dev/null || { mkdir -p "$cache"; mktemp -d "$cache/.crun-XXXXXX"; })
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >sources.list
mkdir -p lists/partial cache/archives/partial state debs R
touch state/status
apt=(apt-get -q -o Dir::Etc::sourcelist="$tmp/sources.list" -o Dir::Etc::sourceparts=-
     -o Dir::State::Lists="$tmp/lists" -o Dir::State::status="$tmp/state/status"
     -o Dir::Cache="$tmp/cache" -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
"${apt[@]}" update >/dev/null
# Everything crun needs, resolved against an empty dpkg status: the whole
# library closure comes from trixie, none from the host.
mapfile -t pkgs < <("${apt[@]}" -s install --no-install-recommends crun | sed -nE 's/^Inst ([^ ]+) .*/\1/p')
(cd debs && "${apt[@]}" download "${pkgs[@]}" >/dev/null)
for d in debs/*.deb; do dpkg-deb -x "$d" R; done
mkdir -p "$dir.new"
mv R "$dir.new/R"
lib=$dir/R/usr/lib/x86_64-linux-gnu
cp "$dir.new/R/usr/bin/crun" "$dir.new/crun"
patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$dir.new/crun"
rm -rf "$dir"
mv "$dir.new" "$dir"
# Every library must resolve inside the tree.
if ldd "$dir/crun" | grep -v "$dir/R" | grep -q '=> /'; then
  echo "fetch-crun: a library of crun resolves outside $dir:" >&2
  ldd "$dir/crun" >&2
  exit 1
fi
"$dir/crun" --version >/dev/null
echo "$dir/crun"

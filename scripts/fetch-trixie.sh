#!/usr/bin/env bash
# fetch-trixie.sh [--exclude REGEX] BIN PKG...
#
# One binary BIN from Debian trixie's packages PKG... (and their whole
# library closure), runnable on this bookworm host without installing
# trixie's glibc: the .debs are fetched with a private apt list, unpacked
# into a cache directory, and BIN there is pointed at trixie's own loader
# and libraries (patchelf: interpreter + RPATH), so it runs like any
# binary, with no loader-as-program or wrapper script in front of it.
# --exclude drops packages of the closure that BIN does not need (an
# extended regex matched against each package name).
#
# Prints the path of the ready binary: /var/cache/outlet-test/BIN-trixie-KEY/BIN,
# KEY a hash of this script and its arguments, so a change to either
# fetches anew and a second run fetches nothing. Used by
# scripts/fetch-criu.sh and bench/fetch-crun.sh.
set -euo pipefail
exclude='^$'
if [[ ${1:-} == --exclude ]]; then
  exclude=$2
  shift 2
fi
(($# >= 2)) || { echo "usage: $0 [--exclude REGEX] BIN PKG..." >&2; exit 2; }
bin=$1
shift
cache=/var/cache/outlet-test
key=$({ cat "${BASH_SOURCE[0]}"; printf '%s\n' "$exclude" "$bin" "$@"; } | sha256sum | cut -c1-12)
dir=$cache/$bin-trixie-$key
if [[ -x $dir/$bin ]]; then
  echo "$dir/$bin"
  exit 0
fi
command -v patchelf >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null
}
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.$bin-XXXXXX")
trap 'rm -rf "$tmp" "$dir.new"' EXIT
cd "$tmp"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >sources.list
mkdir -p lists/partial cache/archives/partial state debs R
touch state/status
apt=(apt-get -q -o Dir::Etc::sourcelist="$tmp/sources.list" -o Dir::Etc::sourceparts=-
     -o Dir::State::Lists="$tmp/lists" -o Dir::State::status="$tmp/state/status"
     -o Dir::Cache="$tmp/cache" -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
"${apt[@]}" update >/dev/null
# The closure resolved against an empty dpkg status: every library comes
# from trixie, none from the host.
mapfile -t pkgs < <("${apt[@]}" -s install --no-install-recommends "$@" |
  sed -nE 's/^Inst ([^ ]+) .*/\1/p' | grep -Ev "$exclude")
(cd debs && "${apt[@]}" download "${pkgs[@]}" >/dev/null)
for d in debs/*.deb; do dpkg-deb -x "$d" R; done
rm -rf "$dir.new"
mkdir -p "$dir.new"
mv R "$dir.new/R"
lib=$dir/R/usr/lib/x86_64-linux-gnu
# Where packages put programs first, then anywhere under /usr.
found=
for f in "$dir.new"/R/usr/{bin,sbin}/"$bin"; do
  [[ -f $f && -x $f ]] && { found=$f; break; }
done
[[ -n $found ]] || found=$(find "$dir.new/R/usr" -name "$bin" -type f -perm -u+x | head -1)
[[ -n $found ]] || { echo "fetch-trixie: no $bin binary in the trixie packages $*" >&2; exit 1; }
cp "$found" "$dir.new/$bin"
patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$dir.new/$bin"
rm -rf "$dir"
mv "$dir.new" "$dir"
# Every library must resolve inside the tree.
if ldd "$dir/$bin" | grep -v "$dir/R" | grep -q '=> /'; then
  echo "fetch-trixie: a library of $bin resolves outside $dir:" >&2
  ldd "$dir/$bin" >&2
  exit 1
fi
"$dir/$bin" --version >/dev/null
echo "$dir/$bin"

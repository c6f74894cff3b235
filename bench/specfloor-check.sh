#!/bin/bash
# Does bench/tools' specfloor make the container the bench's config asks
# for? Runs /bin/sh in a specfloor container and in an outlet container of
# the same config (`runc spec`, rootfs read-only, terminal false), in
# bench/run.sh's v2 field (a private mount namespace with a fresh cgroup2
# on /sys/fs/cgroup), and diffs what each sees from inside: its mounts
# (/proc/self/mountinfo without mount ids and device numbers, a parent
# named by its mount point, sorted), the Cap* lines of /proc/self/status,
# the hostname, /dev's listing, RLIMIT_NOFILE, umask, no_new_privs, and
# what opening device nodes gives: /dev/null (allowed) and a node c 1:11
# (kmsg's numbers, which the config's device rules deny) put into a copy
# of the rootfs; the host opening the same node is the control that the
# refusal inside comes from the device program, not from the node.
#
#   bench/specfloor-check.sh [OUTLET]
#
# Prints both outputs' diff and specfloor's output, and exits 1 if a device
# check inside either container is not as expected. Known differences
# (bench/README.md "Session 17: the spec floor"): outlet binds the host's
# /dev/null (devtmpfs) over masked files where specfloor, like runc, binds
# the container's (its /dev tmpfs); outlet's empty tmpfs over masked dirs
# is read-only at the mount only (source "none"), specfloor's, made by
# mount(2) with MS_RDONLY, also at the superblock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
outlet=$(realpath "${1:-$("$repo/scripts/binary-path.sh")}")
(cd "$here/tools" && cargo build --release --quiet)
specfloor=$("$repo/scripts/binary-path.sh" release specfloor "$here/tools/target")
fixture=$("$repo/rootfs-fixtures/build.sh" | tail -1)
work=$(mktemp -d /tmp/specfloor-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A copy of the rootfs, so the denied node never lands in the shared fixture.
cp -a "$fixture" "$work/rootfs"
mknod -m 666 "$work/rootfs/denied-1-11" c 1 11
rootfs=$work/rootfs
mkdir -p "$work/bundle" "$work/root"
(cd "$work/bundle" && runc spec)
cat >"$work/inside.sh" <<'EOF'
echo "== mountinfo"
awk '{ mp[$1] = $5 } { line[NR] = $0 } END {
  for (i = 1; i <= NR; i++) {
    n = split(line[i], f, " ")
    out = (f[2] in mp ? mp[f[2]] : "(outside)") " " f[4] " " f[5]
    for (j = 6; j <= n; j++) out = out " " f[j]
    print out
  }
}' /proc/self/mountinfo | sed 's/master:[0-9]*/master:N/; s/shared:[0-9]*/shared:N/' | sort
echo "== caps"; grep '^Cap' /proc/self/status
echo "== no_new_privs"; grep '^NoNewPrivs' /proc/self/status
echo "== hostname"; hostname
echo "== /dev"; ls -l /dev | awk '{ print $1, $3, $4, $5, $6, $NF }'
echo "== nofile"; ulimit -n
echo "== umask"; umask
echo "== devices"
if (exec 3</dev/null) 2>/dev/null; then echo "open /dev/null: ok"; else echo "open /dev/null: FAILED"; fi
if (exec 3</denied-1-11) 2>/dev/null; then echo "open c 1:11: allowed"; else echo "open c 1:11: refused"; fi
EOF
python3 - "$work/bundle/config.json" "$rootfs" "$(cat "$work/inside.sh")" <<'EOF'
import json, sys
p, rootfs, script = sys.argv[1:]
c = json.load(open(p))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/sh", "-c", script]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"))
EOF
id=sfcheck-$$
unshare -m --propagation private bash -c '
    set -euo pipefail
    mount -t cgroup2 none /sys/fs/cgroup
    mount -t tmpfs -o mode=700 none "$1/root"
    "$2" --root "$1/root" run --bundle "$1/bundle" "$4" >"$1/outlet.txt" 2>&1 ||
        echo "outlet run: exit $?" >>"$1/outlet.txt"
    "$3" "$1/rootfs" "/sys/fs/cgroup/$4" /bin/sh -c "$(cat "$1/inside.sh")" >"$1/specfloor.txt" 2>&1 ||
        echo "specfloor: exit $?" >>"$1/specfloor.txt"
' bash "$work" "$outlet" "$specfloor" "$id"
echo "outlet:    $outlet"
echo "specfloor: $specfloor"
echo "--- diff -u outlet specfloor (container $id; its cgroup is /$id in both)"
diff -u "$work/outlet.txt" "$work/specfloor.txt" && echo "(no difference)"
echo "--- specfloor's output"
cat "$work/specfloor.txt"
if (exec 3<"$rootfs/denied-1-11"); then
    echo "control: the host opens the c 1:11 node: ok"
else
    echo "control: the host cannot open the c 1:11 node either: the check proves nothing"
    exit 1
fi
fail=0
for f in outlet specfloor; do
    grep -q "open /dev/null: ok" "$work/$f.txt" || { echo "$f: /dev/null not usable"; fail=1; }
    grep -q "open c 1:11: refused" "$work/$f.txt" || { echo "$f: c 1:11 NOT refused"; fail=1; }
done
exit $fail

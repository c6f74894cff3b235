# Sourced by the bench scripts that measure `run` in bench/run.sh's v2
# field: the floors, the fixture rootfs and the bench's bundle, made one
# way for all of them. Needs $here (bench/) and $repo set by the caller.

# floor and specfloor: bench/tools' two programs, built if needed.
bench_floors() {
    (cd "$here/tools" && cargo build --release --quiet)
    floor=$("$repo/scripts/binary-path.sh" release floor "$here/tools/target")
    specfloor=$("$repo/scripts/binary-path.sh" release specfloor "$here/tools/target")
}

# bench_bundle DIR: the fixture rootfs (its path in $rootfs) and in DIR the
# bench's bundle: `runc spec` with the rootfs read-only, /bin/true, no
# terminal.
bench_bundle() {
    rootfs=$("$repo/rootfs-fixtures/build.sh" | tail -1)
    mkdir -p "$1"
    (cd "$1" && runc spec)
    python3 - "$1/config.json" "$rootfs" <<'PY'
import json, sys
p, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"))
PY
}

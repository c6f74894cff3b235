#!/usr/bin/env python3
"""The link order of .cargo/hot-symbols.txt: the functions outlet's hot
commands run, as this build names them. Run by bench/hot-symbols.sh.

    hot-symbols.py NAMES MAP >.cargo/hot-symbols.txt

NAMES: symbol names seen in the profiles of an unstripped build, one a
line, in the order to keep. MAP: the linker map of the release build the
list is for. Rust's names carry a hash of the build's metadata (a
legacy name's `17h<16 hex>E`, a v0 name's `Cs<base62>_` crate
disambiguators), which differs between the profiling build and the
release one, so names are matched with those hashes taken out; a name
that matches several (generic instances) brings them all."""
import collections
import re
import sys


def stem(name):
    name = re.sub(r"17h[0-9a-f]{16}E$", "17hE", name)
    return re.sub(r"Cs[0-9A-Za-z]+_", "Cs_", name)


def main():
    names = [l.strip() for l in open(sys.argv[1]) if l.strip()]
    built = collections.defaultdict(set)
    for line in open(sys.argv[2]):
        # lld's map: an input section `...:(.text.NAME)` per function of a
        # Rust object, a bare symbol NAME for the C library's.
        m = re.search(r":\(\.text\.(?:unlikely\.|hot\.|startup\.)?(\S+)\)$", line)
        if not m:
            m = re.match(r"^\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+\d+\s+([A-Za-z_][\w$.]*)$", line)
        if m:
            built[stem(m.group(1))].add(m.group(1))
    out, seen, missing = [], set(), 0
    for n in names:
        found = sorted(built.get(stem(n), ()))
        missing += not found
        for f in found:
            if f not in seen:
                seen.add(f)
                out.append(f)
    print("\n".join(out))
    print(f"hot-symbols: {len(names)} names, {missing} not in the build, {len(out)} written", file=sys.stderr)


main()

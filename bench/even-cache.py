#!/usr/bin/env python3
"""Puts every file named into the page cache the same way: drops its
cached pages (POSIX_FADV_DONTNEED, after an fsync: only clean pages that
no process maps go) and reads it back sequentially, all files one after
the other.

Why: how a binary's pages came into the cache (written by the linker
through a mapping, by `cp`'s large writes, or read back by readahead)
decides the size of the page-cache folios its text lives in, and that
moved exec's CPU by up to 20% between byte-identical copies of one build
(bench/README.md "Session 15: exec"). An A/B of binaries whose cache
states differ measures the copies, not the code.

    even-cache.py FILE [FILE ...]
"""
import os
import shutil
import sys


def main():
    # A bare name (`crun`) is looked up as the shell would.
    found = [a if os.sep in a else shutil.which(a) for a in sys.argv[1:]]
    paths = [os.path.realpath(p) for p in found if p]
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


if __name__ == "__main__":
    main()

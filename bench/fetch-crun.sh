#!/usr/bin/env bash
# The newest crun Debian packages (1.21, from trixie) for the benchmark,
# runnable on this bookworm host without trixie's glibc installed and with
# no loader-as-program or wrapper script in the measured path
# (scripts/fetch-trixie.sh says how). Prints the path of the ready crun,
# cached under /var/cache/outlet-test; a second run fetches nothing.
set -euo pipefail
exec bash "$(dirname "$0")/../scripts/fetch-trixie.sh" crun crun

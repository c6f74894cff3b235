#!/usr/bin/env bash
# CRIU 4.1.1 from Debian trixie for the checkpoint/restore tests: bookworm's
# criu 3.17 cannot dump on kernels >= 6.13 (`criu check`: "vdso: Unexpected
# rt vDSO area bounds", the split [vvar]); 4.1 knows the new layout.
# scripts/fetch-trixie.sh makes trixie's binary run on this bookworm host
# without trixie's glibc installed, so it can be passed as `--criu PATH`.
# Prints the path of the ready criu, cached under /var/cache/outlet-test; a
# second run fetches nothing.
# criu itself runs host tools by name: iptables (network lock) and tar
# (tmpfs contents); scripts/install-deps.sh installs both.
set -euo pipefail
# criu's Python helpers (crit, python3-pycriu) and what only they pull in
# are not needed: only the binary.
exec bash "$(dirname "$0")/fetch-trixie.sh" \
  --exclude '^(python3|libpython|crit$|perl|media-types|tzdata|readline-common|netbase)' criu criu

#!/bin/bash
# Run after the integration suite (CI calls it): nothing of the tests may be
# left on the machine. Every test's guard already checks its own leftovers;
# this catches what a crashed or killed test binary could not clean.
#
# Looks for: state roots /run/outlet-test-*, cgroup directories named
# outlet-test-* anywhere in the cgroup tree (the memory hierarchy nests them
# under the caller's cgroup, so the search goes a few levels deep), mounts
# mentioning outlet-test in this mount namespace, and processes whose
# command line or environment mentions outlet-test (outlet calls, hooks,
# container processes: the tests put OUTLET_TEST=<token> in their env).
# From the real-caller scripts: their /tmp/callers-* dirs, processes,
# mounts and callers-* cgroups, and what dockerd and CNI leave on the host
# network (docker0, cni-podman*, DOCKER*/CNI-* chains, FORWARD DROP).
# Prints what it found and a verdict line; exit 1 if anything.
set -euo pipefail

found=0
report() {
    echo "leftover: $*"
    found=1
}

shopt -s nullglob
for d in /run/outlet-test-*; do
    report "state root $d ($(find "$d" -mindepth 1 -maxdepth 2 2>/dev/null | head -n 5 | tr '\n' ' '))"
done

# Test temp dirs hold bundles; one left means a test did not clean up.
for d in "${TMPDIR:-/tmp}"/outlet-test-*; do
    report "temp dir $d"
done

if [[ -d /sys/fs/cgroup ]]; then
    while IFS= read -r -d '' d; do
        report "cgroup $d"
    done < <(find /sys/fs/cgroup -mindepth 1 -maxdepth 5 -type d -name 'outlet-test-*' -print0 2>/dev/null)
fi

while IFS= read -r line; do
    report "mount: $line"
done < <(grep -F 'outlet-test' /proc/self/mountinfo || true)

# Read with tr and test in bash: a grep whose own argv held the pattern
# could match itself.
for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline" || true)
    env=$(tr '\0' '\n' 2>/dev/null <"$p/environ" || true)
    hit=
    if [[ $cmd == *outlet-test* ]]; then
        hit=cmdline
    elif [[ $env == *OUTLET_TEST=outlet-test* ]]; then
        hit=environ
    fi
    [[ -n $hit ]] || continue
    # A zombie is already dead; its parent will reap it.
    state=$(awk '{print $3}' "$p/stat" 2>/dev/null || true)
    [[ $state == Z || -z $state ]] && continue
    report "process $pid ($hit): ${cmd:0:200}"
done

# The real-caller scripts (tests/callers/) keep everything under
# /tmp/callers-*: daemons, shims and conmon name it in their command line,
# and their cgroups are named callers-*. What dockerd and CNI add to the
# host network must be gone too: their bridges, their iptables chains, and
# the FORWARD policy dockerd sets to DROP (ACCEPT on these machines).
for d in "${TMPDIR:-/tmp}"/callers-*/; do
    report "callers temp dir ${d%/}"
done
if [[ -d /sys/fs/cgroup ]]; then
    while IFS= read -r -d '' d; do
        report "callers cgroup $d"
    done < <(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name 'callers-*' -print0 2>/dev/null)
fi
while IFS= read -r line; do
    report "callers mount: $line"
done < <(grep -F '/tmp/callers-' /proc/self/mountinfo || true)
for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline" || true)
    [[ $cmd == *"/tmp/callers-"* ]] || continue
    state=$(awk '{print $3}' "$p/stat" 2>/dev/null || true)
    [[ $state == Z || -z $state ]] && continue
    report "callers process $pid: ${cmd:0:200}"
done
for link in /sys/class/net/*; do
    case ${link##*/} in
    docker0 | cni-podman*) report "bridge ${link##*/}" ;;
    esac
done
if command -v iptables >/dev/null; then
    for t in filter nat; do
        while IFS= read -r line; do
            report "iptables -t $t: $line"
        done < <(iptables -t "$t" -S 2>/dev/null | grep -E '^-N (DOCKER|CNI-)' || true)
    done
    if iptables -S FORWARD 2>/dev/null | grep -qx -- '-P FORWARD DROP'; then
        report "iptables FORWARD policy is DROP (dockerd sets it; the host has ACCEPT)"
    fi
fi

# The last line is the verdict scripts/test.sh counts.
if ((found)); then
    echo "leftovers.sh: the integration tests left the above behind" >&2
    echo "leftovers: 0 passed, 1 failed, 0 skipped"
    exit 1
fi
echo "leftovers.sh: clean (no outlet-test or callers state, cgroup, mount or process; no engine bridge, chain or DROP policy)"
echo "leftovers: 1 passed, 0 failed, 0 skipped"

# Shared helpers for the real-caller tests (sourced, not run).
# Each check prints exactly one of `PASS name`, `FAIL name: why`,
# `SKIP name: why`; summary prints the totals line the CI greps for.

passed=0
failed=0
skipped=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {
    # A check whose call never ran because an earlier one hung did not test
    # anything: it counts as skipped (the hung check already failed).
    if [[ $2 == *"$NOT_RUN"* ]]; then
        skip "$1" "$NOT_RUN"
        return
    fi
    echo "FAIL $1: $2"
    failed=$((failed + 1))
}
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }

# summary SUITE -> prints the totals line; returns 1 when anything failed.
summary() {
    if [[ -n $timed_out_flag && -s $timed_out_flag ]]; then
        fail no-call-timed-out "$(cat "$timed_out_flag")"
    fi
    echo "$1: $passed passed, $failed failed, $skipped skipped"
    [[ $failed -eq 0 ]]
}

# One line of output, shortened, for a FAIL reason.
brief() { tr '\n' ' ' <<<"$1" | cut -c1-300; }

# The verdict of `run -t` with the command
#   sh -c 'tty; test -t 0 && test -t 1 && echo tty-ok; exit 3'
# given its exit status and output.
check_run_tty() { # rc out
    if [[ $1 -eq 3 && $2 == *tty-ok* && $2 == */dev/pts/* ]]; then
        pass run-tty
    else
        fail run-tty "want a /dev/pts tty, tty-ok, exit 3; got exit $1: $(brief "$2")"
    fi
}

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

# wrap_runtime REAL DIR LOG -> prints the path of a wrapper that appends its
# argv (one line, shell-quoted, prefixed by the caller's pid) to LOG and then
# execs REAL. The wrapper keeps REAL's basename because podman decides from
# the runtime's *name* whether it passes --log-format=json.
wrap_runtime() {
    local real=$1 dir=$2 log=$3 wrapper
    wrapper=$dir/$(basename "$real")
    mkdir -p "$dir"
    cat >"$wrapper" <<WRAP
#!/bin/bash
{ printf '%s' "\$PPID \$(readlink /proc/\$PPID/exe 2>/dev/null | xargs -r basename):"; printf ' %q' "\$@"; printf '\n'; } >>'$log'
exec '$real' "\$@"
WRAP
    chmod +x "$wrapper"
    echo "$wrapper"
}

# mounts_under DIR -> mount points in /proc/mounts below DIR (one a line).
mounts_under() {
    awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts
}

# stop_pid PID [SECONDS]: SIGTERM, wait, then SIGKILL. Only for pids we started.
stop_pid() {
    local pid=$1 secs=${2:-10} i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

# wait_until SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# memory_hog HAS_PROBE: sets hog (argv that touches 128 MiB) and hog_done (a
# string it prints only when it survived).
memory_hog() {
    if [[ $1 == yes ]]; then
        hog=(probe mem 128)
        hog_done=touched_mib
    else
        # ash keeps a command substitution's output in its own memory.
        hog=(sh -c 'x=$(head -c 134217728 /dev/zero | tr "\0" a); echo survived ${#x}')
        hog_done=survived
    fi
}

# tmo SECS CMD...: CMD under a time limit. After the first time-out, later
# calls return 124 at once without running, so a runtime that hangs costs one
# limit rather than one per check and the script stays within its budget.
# The flag lives in a file because checks run tmo inside $(...) subshells.
NOT_RUN="not run: an earlier call timed out"
timed_out_flag=
tmo() {
    if [[ -n $timed_out_flag && -e $timed_out_flag ]]; then
        echo "$NOT_RUN"
        return 124
    fi
    local rc=0 start=$SECONDS
    # -k: podman handles SIGTERM by waiting up to 4 minutes for conmon.
    timeout -k 5 "$@" || rc=$?
    if [[ $rc -ne 0 && $((SECONDS - start)) -ge $1 ]]; then
        rc=124
        [[ -n $timed_out_flag ]] && echo "timed out after ${1}s: ${*:2}" >"$timed_out_flag"
        echo "timed out after ${1}s: ${*:2}"
    fi
    return "$rc"
}

# reap_leftovers TMP CGROUP: the last resort of a cleanup. Kills processes
# whose command line names our private temp dir (daemons, shims, conmon,
# runtime calls: ours by construction), then every process in our cgroup
# subtree (thawed first: a frozen task cannot die), then removes the subtree.
reap_leftovers() {
    local tmp=$1 cg=${2#/} pid f i
    for pid in $(pgrep -f -- "$tmp/"); do
        [[ $pid != "$$" ]] && kill -KILL "$pid" 2>/dev/null
    done
    [[ -n $cg ]] || return 0
    for f in $(find "/sys/fs/cgroup/freezer/$cg" -name freezer.state 2>/dev/null); do
        echo THAWED >"$f" 2>/dev/null
    done
    for i in 1 2 3 4 5; do
        for f in $(find /sys/fs/cgroup/*/"$cg" -name cgroup.procs 2>/dev/null); do
            for pid in $(cat "$f" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        done
        for f in /sys/fs/cgroup/*/"$cg"; do
            [[ -d $f ]] && find "$f" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        compgen -G "/sys/fs/cgroup/*/$cg" >/dev/null || return 0
        sleep 0.5
    done
}

# A suite whose callers are not installed is skipped (and says so), not
# passed: print the summary and leave with 0.
require_tools() {
    local suite=$1 tool
    shift
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            skip "$suite" "$tool not installed"
            summary "$suite"
            exit 0
        fi
    done
}

# Make $RUNTIME absolute; a missing runtime fails the suite.
require_runtime() {
    local suite=$1
    if [[ ! -x $RUNTIME ]]; then
        fail "runtime" "$RUNTIME is not an executable (build it or set RUNTIME)"
        summary "$suite" || exit 1
    fi
    RUNTIME=$(readlink -f "$RUNTIME")
}

# --- the host's network state (callers that make bridges and NAT rules) -----
# dockerd and CNI change the host: iptables chains, rules and the FORWARD
# policy, nftables tables (iptables here is the nft variant), bridges and
# veths, net.ipv4.ip_forward. A snapshot is one fact a line; netstate_restore
# undoes every difference from an earlier snapshot, netstate_diff shows what
# is still different (empty: restored exactly).
netstate_snapshot() {
    local t
    # `-S` of a table that does not exist prints the default policies and
    # does not create it.
    for t in filter nat mangle raw; do
        iptables -t "$t" -S 2>/dev/null | sed "s/^/iptables $t /"
    done
    if command -v nft >/dev/null; then
        nft list tables 2>/dev/null | sed 's/^/nft /'
    fi
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print "link " $2 }'
    echo "sysctl ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
}

# netstate_restore BEFORE LINK_REGEX: delete the rules added since BEFORE,
# then the chains, put changed policies back, delete the nftables tables and
# the links (only those whose name matches LINK_REGEX) that BEFORE did not
# have, and restore ip_forward. Rules go first so no chain is still
# referenced when it is deleted.
netstate_restore() {
    local before=$1 links=$2 now kind t rest chain pol
    now=$(netstate_snapshot)
    while read -r kind t rest; do
        [[ $kind == iptables && $rest == "-A "* ]] || continue
        grep -qxF -- "$kind $t $rest" "$before" && continue
        # iptables -S quotes arguments (comments) the way a shell reads them.
        eval "iptables -t $t -D ${rest#-A }" 2>/dev/null
    done <<<"$now"
    while read -r kind t rest; do
        [[ $kind == iptables && $rest == "-N "* ]] || continue
        grep -qxF -- "$kind $t $rest" "$before" || iptables -t "$t" -F "${rest#-N }" 2>/dev/null
    done <<<"$now"
    while read -r kind t rest; do
        [[ $kind == iptables && $rest == "-N "* ]] || continue
        grep -qxF -- "$kind $t $rest" "$before" || iptables -t "$t" -X "${rest#-N }" 2>/dev/null
    done <<<"$now"
    while read -r kind t rest; do
        [[ $kind == iptables && $rest == "-P "* ]] || continue
        read -r chain pol <<<"${rest#-P }"
        if ! grep -qxF -- "$kind $t $rest" "$before"; then
            pol=$(awk -v t="$t" -v c="$chain" '$1 == "iptables" && $2 == t && $3 == "-P" && $4 == c { print $5 }' "$before")
            [[ -n $pol ]] && iptables -t "$t" -P "$chain" "$pol" 2>/dev/null
        fi
    done <<<"$now"
    while read -r kind rest; do
        [[ $kind == nft ]] || continue
        # "table ip filter" -> nft delete table ip filter
        grep -qxF -- "$kind $rest" "$before" || nft delete "$rest" 2>/dev/null
    done <<<"$now"
    while read -r kind rest; do
        [[ $kind == link && $rest =~ ^($links)$ ]] || continue
        grep -qxF -- "$kind $rest" "$before" || ip link delete "$rest" 2>/dev/null
    done <<<"$now"
    rest=$(awk '$1 == "sysctl" && $2 == "ip_forward" { print $3 }' "$before")
    [[ -n $rest ]] && echo "$rest" >/proc/sys/net/ipv4/ip_forward
    return 0
}

# netstate_diff BEFORE -> the lines that differ from BEFORE now (- gone, + new).
netstate_diff() {
    diff <(sort "$1") <(netstate_snapshot | sort) | sed -n 's/^< /- /p; s/^> /+ /p'
}

# Shared helpers for the real-caller tests (sourced, not run).
# Each check prints exactly one of `PASS name`, `FAIL name: why`,
# `SKIP name: why`; summary prints the totals line the CI greps for.

passed=0
failed=0
skipped=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }

# summary SUITE -> prints the totals line; returns 1 when anything failed.
summary() {
    echo "$1: $passed passed, $failed failed, $skipped skipped"
    [[ $failed -eq 0 ]]
}

# One line of output, shortened, for a FAIL reason.
brief() { tr '\n' ' ' <<<"$1" | cut -c1-300; }

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

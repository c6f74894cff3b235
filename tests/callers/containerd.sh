#!/usr/bin/env bash
# Real-caller test: containerd 1.6 + containerd-shim-runc-v2 driving the
# runtime under test ($RUNTIME, default target/<triple>/release/outlet) as its "runc".
#
# containerd runs with a private root, state dir and socket under a temp dir,
# the shim's runc root and the ctr fifos live there too, and everything is
# stopped (by pid) and removed on exit, also on failure.
#
# env: RUNTIME=path           runtime binary (default <repo>/target/<triple>/release/outlet)
#      CALLERS_ARGV_LOG=file  append every runtime argv the shim sends to file
#      CALLERS_KEEP=1         keep the temp dir (containerd log) for debugging
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
repo=$(repo_root)
suite=callers-containerd
RUNTIME=${RUNTIME:-$("$repo/scripts/binary-path.sh")}

require_tools "$suite" containerd ctr containerd-shim-runc-v2 script
require_runtime "$suite"

image_tar=$repo/target/callers/busybox-oci.tar
"$here/image.sh" "$image_tar" >&2

source "$here/containerd-setup.sh"

# task_status ID -> RUNNING/PAUSED/STOPPED/... from `ctr task ls`.
task_status() { "${CTR[@]}" task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
status_is() { [[ $(task_status "$1") == "$2" ]]; }

# Is the probe from rootfs-fixtures in the image?
has_probe=no
if out=$(tmo 30 "${CTR[@]}" run --rm "${run_opts[@]}" "$image" "$(new_id)" sh -c 'test -x /bin/probe && echo yes' 2>/dev/null); then
    [[ $out == *yes* ]] && has_probe=yes
fi

# --- run: output and exit code ---------------------------------------------
id=$(new_id)
set +e
out=$(tmo 30 "${CTR[@]}" run --rm "${run_opts[@]}" "$image" "$id" sh -c 'echo hi; exit 7' 2>&1)
rc=$?
set -e
if [[ $rc -eq 7 && $out == *hi* ]]; then
    pass run-exit-code
else
    fail run-exit-code "want exit 7 and 'hi', got exit $rc: $(brief "$out")"
fi

# --- run -t: a terminal through the console socket -------------------------
# ctr only allocates a pty when its own stdin is a terminal; `script` gives it one.
id=$(new_id)
set +e
out=$(tmo 30 script -qefc "ctr --address '$sock' --namespace '$ns' run -t --rm ${run_opts[*]} $image $id sh -c 'tty; test -t 0 && test -t 1 && echo tty-ok; exit 3'" /dev/null 2>&1)
rc=$?
set -e
check_run_tty "$rc" "$out"

# --- a detached task: exec, ps, pause/resume, kill -------------------------
id=$(new_id)
# pid 1 ignores SIGTERM without a handler, so the shell installs one.
if out=$(tmo 30 "${CTR[@]}" run -d "${run_opts[@]}" "$image" "$id" \
    sh -c 'trap "exit 143" TERM; while :; do sleep 1; done' 2>&1) &&
    wait_until 20 status_is "$id" RUNNING; then
    pass run-detached

    set +e
    out=$(tmo 30 "${CTR[@]}" task exec --exec-id e1 --fifo-dir "$tmp/fifo" "$id" sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "; exit 5' 2>&1)
    rc=$?
    set -e
    if [[ $rc -eq 5 && $out == *exec-ok* && $out == *"sh -c trap"* ]]; then
        pass task-exec
    else
        fail task-exec "want exec-ok, init's cmdline (same pid ns), exit 5; got exit $rc: $(brief "$out")"
    fi

    set +e
    out=$(tmo 30 script -qefc "ctr --address '$sock' --namespace '$ns' task exec -t --exec-id e2 --fifo-dir '$tmp/fifo' $id sh -c 'test -t 0 && echo exec-tty-ok'" /dev/null 2>&1)
    rc=$?
    set -e
    if [[ $rc -eq 0 && $out == *exec-tty-ok* ]]; then
        pass task-exec-tty
    else
        fail task-exec-tty "got exit $rc: $(brief "$out")"
    fi

    init_pid=$("${CTR[@]}" task ls | awk -v id="$id" '$1 == id { print $2 }')
    if out=$(tmo 30 "${CTR[@]}" task ps "$id" 2>&1) && awk 'NR > 1 { print $1 }' <<<"$out" | grep -qx "$init_pid"; then
        pass task-ps
    else
        fail task-ps "want init pid $init_pid listed: $(brief "$out")"
    fi

    freezer=/sys/fs/cgroup/freezer/$ns/$id/freezer.state
    # ctr task VERB, then the status ctr reports and the freezer's state.
    freeze_step() { # verb status state
        if out=$(tmo 30 "${CTR[@]}" task "$1" "$id" 2>&1) && wait_until 10 status_is "$id" "$2"; then
            state=$(cat "$freezer" 2>/dev/null || echo "no $freezer")
            if [[ $state == "$3" ]]; then
                pass "task-$1"
            else
                fail "task-$1" "ctr says $2 but $freezer is $state"
            fi
        else
            fail "task-$1" "status $(task_status "$id"): $(brief "$out")"
        fi
    }
    freeze_step pause PAUSED FROZEN
    freeze_step resume RUNNING THAWED

    if out=$(tmo 30 "${CTR[@]}" task kill "$id" 2>&1) && wait_until 20 status_is "$id" STOPPED; then
        set +e
        out=$(tmo 30 "${CTR[@]}" task rm "$id" 2>&1)
        rc=$?
        set -e
        # ctr 1.6 exits 0 and reports a non-zero status as a warning
        if [[ $rc -eq 143 || $out == *"exit code 143"* ]]; then
            pass task-kill
        else
            fail task-kill "want exit status 143 after SIGTERM; task rm exited $rc: $(brief "$out")"
        fi
    else
        fail task-kill "status $(task_status "$id"): $(brief "$out")"
    fi
    tmo 30 "${CTR[@]}" task rm -f "$id" >/dev/null 2>&1 || true
    tmo 30 "${CTR[@]}" container rm "$id" >/dev/null 2>&1 || true
else
    fail run-detached "status $(task_status "$id"): $(brief "$out")"
    for t in task-exec task-exec-tty task-ps task-pause task-resume task-kill; do
        skip "$t" "no detached task"
    done
fi

# --- kill --all after init exited: the shim's cleanup path ------------------
id=$(new_id)
if out=$(tmo 30 "${CTR[@]}" run -d "${run_opts[@]}" "$image" "$id" \
    sh -c '(trap "" TERM; sleep 1000) & trap "exit 0" TERM; while :; do sleep 1; done' 2>&1) &&
    wait_until 20 status_is "$id" RUNNING; then
    if out=$(tmo 30 "${CTR[@]}" task kill -a -s SIGKILL "$id" 2>&1) && wait_until 20 status_is "$id" STOPPED; then
        left=$(cat "/sys/fs/cgroup/pids/$ns/$id/cgroup.procs" 2>/dev/null || true)
        if [[ -z $left ]]; then
            pass task-kill-all
        else
            fail task-kill-all "pids left in the container's cgroup: $(brief "$left")"
        fi
    else
        fail task-kill-all "status $(task_status "$id"): $(brief "$out")"
    fi
    tmo 30 "${CTR[@]}" task rm -f "$id" >/dev/null 2>&1 || true
    tmo 30 "${CTR[@]}" container rm "$id" >/dev/null 2>&1 || true
else
    fail task-kill-all "could not start: $(brief "$out")"
fi

# --- memory limit: OOM kill seen as 137 ------------------------------------
id=$(new_id)
memory_hog "$has_probe"
set +e
out=$(tmo 30 "${CTR[@]}" run --rm --memory-limit $((64 * 1024 * 1024)) "${run_opts[@]}" "$image" "$id" "${hog[@]}" 2>&1)
rc=$?
set -e
if [[ $rc -eq 137 && $out != *"$hog_done"* ]]; then
    pass memory-limit-oom
    echo "  hog: ${hog[*]}"
else
    fail memory-limit-oom "want exit 137 from a 128 MiB hog under 64 MiB, got exit $rc: $(brief "$out")"
fi

# --- a command that does not exist: the runtime's message reaches ctr -------
id=$(new_id)
set +e
out=$(tmo 30 "${CTR[@]}" run --rm "${run_opts[@]}" "$image" "$id" nope-no-such-cmd 2>&1)
rc=$?
set -e
# For create the shim reads no stderr: it takes the msg of the last
# {"level":"error"} object in log.json and reports "OCI runtime create
# failed: <msg>" (without one: "... did not terminate successfully").
if [[ $rc -ne 0 ]] && grep -qE 'OCI runtime create failed: .*nope-no-such-cmd' <<<"$out" &&
    grep -qiE 'not found|no such file' <<<"$out"; then
    pass missing-command-error
    echo "  ctr said: $(brief "$out")"
else
    fail missing-command-error "want 'OCI runtime create failed: <msg naming nope-no-such-cmd, not found>' (from log.json); got exit $rc: $(brief "$out")"
fi
tmo 30 "${CTR[@]}" container rm "$id" >/dev/null 2>&1 || true

# --- --cgroup, task metrics, --with-ns: a task in a cgroup path of our
# choosing, whose stats containerd reads itself, and a second task joining
# its pid and ipc namespaces by path (how pods and sidecars share them) ------
id=$(new_id)
cg=/$ns/custom-$id
if tmo 30 "${CTR[@]}" run -d "${run_opts[@]}" --cgroup "$cg" --memory-limit 67108864 "$image" "$id" \
    sh -c "echo shared-$$ >/dev/null; trap 'exit 143' TERM; while :; do sleep 1; done" >/dev/null 2>&1 &&
    wait_until 20 status_is "$id" RUNNING; then
    pid=$("${CTR[@]}" task ls 2>/dev/null | awk -v id="$id" '$1 == id { print $2 }')
    mem=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup" 2>/dev/null)
    out=$(tmo 30 "${CTR[@]}" task metrics "$id" 2>&1) || true
    if [[ $mem == "$cg" && $out == *memory.limit_in_bytes*67108864* && $out =~ pids.current[[:space:]]+2 ]]; then
        pass cgroup-path-metrics
    else
        fail cgroup-path-metrics "want init $pid in memory:$cg (is '$mem'), metrics with limit 67108864 and 2 pids: $(brief "$out")"
    fi
    id2=$(new_id)
    set +e
    out=$(tmo 30 "${CTR[@]}" run --rm "${run_opts[@]}" --with-ns "pid:/proc/$pid/ns/pid" \
        --with-ns "ipc:/proc/$pid/ns/ipc" "$image" "$id2" \
        sh -c 'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; cat /proc/1/cmdline | tr "\0" " "' 2>&1)
    rc=$?
    set -e
    want=$(readlink "/proc/$pid/ns/pid" "/proc/$pid/ns/ipc" | tr '\n' ' ')
    if [[ $rc -eq 0 && $(sed -n 1,2p <<<"$out" | tr '\n' ' ') == "$want" && $out == *"sh -c echo shared-$$"* ]]; then
        pass with-ns-by-path
    else
        fail with-ns-by-path "want namespaces $want and the first task's init as pid 1; got exit $rc: $(brief "$out")"
    fi
else
    fail cgroup-path-metrics "could not start $id under $cg"
    skip with-ns-by-path "no task $id"
fi
tmo 30 "${CTR[@]}" task kill -s KILL "$id" >/dev/null 2>&1 || true
wait_until 10 status_is "$id" STOPPED || true
tmo 30 "${CTR[@]}" task rm -f "$id" >/dev/null 2>&1 || true
tmo 30 "${CTR[@]}" container rm "$id" >/dev/null 2>&1 || true

# --- run with --env, --cwd and a read-only bind --mount; a directory as the command
mkdir -p "$tmp/mnt"
echo "mnt-$$" >"$tmp/mnt/f"
set +e
out=$(tmo 30 "${CTR[@]}" run --rm "${run_opts[@]}" --env A=1 --env 'B=x y' --cwd /tmp \
    --mount "type=bind,src=$tmp/mnt,dst=/m,options=rbind:ro" "$image" "$(new_id)" \
    sh -c 'echo "$A|$B"; pwd; cat /m/f; touch /m/new 2>&1; true' 2>&1)
rc=$?
set -e
if [[ $rc -eq 0 && $(echo $out) == "1|x y /tmp mnt-$$ touch: /m/new: Read-only file system" && ! -e $tmp/mnt/new ]]; then
    pass run-env-cwd-mount
else
    fail run-env-cwd-mount "want '1|x y', cwd /tmp, the file, EROFS on the bind; got exit $rc: $(brief "$out")"
fi
set +e
out=$(tmo 30 "${CTR[@]}" run --rm "${run_opts[@]}" "$image" "$(new_id)" /tmp 2>&1)
rc=$?
set -e
# runc refuses at create (ctr's "OCI runtime create failed"); outlet used to
# create and then fail at start, with nothing for ctr to show.
if [[ $rc -ne 0 && $out == *"OCI runtime create failed"*'exec: "/tmp": permission denied'* ]]; then
    pass directory-command-error
else
    fail directory-command-error "want create to fail with 'exec: \"/tmp\": permission denied'; got exit $rc: $(brief "$out")"
fi

# --- a task: exec -u/--cwd, no exec while paused, kill -s to a trap -------------
id=$(new_id)
if out=$(tmo 30 "${CTR[@]}" run -d "${run_opts[@]}" "$image" "$id" \
    sh -c 'trap "exit 5" HUP; while :; do sleep 0.2; done' 2>&1) &&
    wait_until 20 status_is "$id" RUNNING; then
    set +e
    out=$(tmo 30 "${CTR[@]}" task exec --exec-id e1 --fifo-dir "$tmp/fifo" --user 1000 --cwd /tmp "$id" \
        sh -c 'id -u; pwd; exit 4' 2>&1)
    rc=$?
    set -e
    if [[ $rc -eq 4 && $(echo $out) == "1000 /tmp" ]]; then
        pass task-exec-user-cwd
    else
        fail task-exec-user-cwd "want '1000 /tmp' and exit 4; got exit $rc: $(brief "$out")"
    fi

    tmo 30 "${CTR[@]}" task pause "$id" >/dev/null 2>&1 || true
    set +e
    out=$(tmo 30 "${CTR[@]}" task exec --exec-id e2 --fifo-dir "$tmp/fifo" "$id" true 2>&1)
    rc=$?
    set -e
    tmo 30 "${CTR[@]}" task resume "$id" >/dev/null 2>&1 || true
    if [[ $rc -ne 0 && $out == *paused* ]] && wait_until 10 status_is "$id" RUNNING; then
        pass task-exec-paused-refused
    else
        fail task-exec-paused-refused "want exec refused while paused, then RUNNING; got exit $rc, $(task_status "$id"): $(brief "$out")"
    fi

    tmo 30 "${CTR[@]}" task kill -s HUP "$id" >/dev/null 2>&1 || true
    if wait_until 20 status_is "$id" STOPPED; then
        set +e
        out=$(tmo 30 "${CTR[@]}" task rm "$id" 2>&1)
        set -e
        # ctr 1.6 exits 0 and reports a non-zero status as a warning
        if [[ $out == *"exit code 5"* ]]; then
            pass task-kill-signal
        else
            fail task-kill-signal "want exit 5 from the HUP trap: $(brief "$out")"
        fi
    else
        fail task-kill-signal "status $(task_status "$id") after kill -s HUP"
    fi
else
    fail task-exec-user-cwd "could not start $id: $(brief "$out")"
    for t in task-exec-paused-refused task-kill-signal; do skip "$t" "no task $id"; done
fi
tmo 30 "${CTR[@]}" task kill -a -s 9 "$id" >/dev/null 2>&1 || true
tmo 30 "${CTR[@]}" task rm -f "$id" >/dev/null 2>&1 || true
tmo 30 "${CTR[@]}" container rm "$id" >/dev/null 2>&1 || true

# --- nothing left behind ----------------------------------------------------
if out=$("${CTR[@]}" task ls -q 2>&1) && [[ -z $out ]]; then
    pass no-tasks-left
else
    fail no-tasks-left "$(brief "$out")"
fi
# <runc-root>/<namespace>/.cache holds outlet's compiled seccomp filters:
# the runtime's cache, kept across containers, not a container's state.
left=$(find "$tmp/runc-root" -mindepth 2 -not -path '*/.cache' -not -path '*/.cache/*' 2>/dev/null | head -5)
if [[ -z $left ]]; then
    pass no-runtime-state-left
else
    fail no-runtime-state-left "$(brief "$left")"
fi
for id in "${containers[@]}"; do
    tmo 10 "${CTR[@]}" container rm "$id" >/dev/null 2>&1 || true
done
tmo 10 "${CTR[@]}" image rm "$image" >/dev/null 2>&1 || true
stop_pid "$containerd_pid" 10
containerd_pid=
sleep 0.5
left=$(mounts_under "$tmp")
if [[ -z $left ]]; then
    pass no-mounts-left
else
    fail no-mounts-left "$(brief "$left")"
fi
left=$(for d in $(ns_cgroups); do find "$d" -mindepth 1 -type d; done)
if [[ -z $left ]]; then
    pass no-cgroups-left
else
    fail no-cgroups-left "$(brief "$left")"
fi

summary "$suite"

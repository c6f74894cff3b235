#!/usr/bin/env bash
# Real-caller test: podman 4.3 + conmon driving the runtime under test
# ($RUNTIME, default target/<triple>/release/outlet) with `--runtime PATH`.
#
# podman runs with private --root/--runroot/--tmpdir under a temp dir, vfs
# storage, cgroupfs with our own cgroup parent, no network; conmon and every
# container are stopped (by pid) and removed on exit, also on failure.
#
# env: RUNTIME=path           runtime binary (default <repo>/target/<triple>/release/outlet)
#      CALLERS_ARGV_LOG=file  append every runtime argv podman/conmon send to file
#      CALLERS_KEEP=1         keep the temp dir for debugging
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
repo=$(repo_root)
suite=callers-podman
RUNTIME=${RUNTIME:-$("$repo/scripts/binary-path.sh")}

require_tools "$suite" podman conmon script jq
require_runtime "$suite"
name=$(basename "$RUNTIME")

image_tar=$repo/target/callers/busybox-oci.tar
"$here/image.sh" "$image_tar" >&2

source "$here/podman-setup.sh"
inspect() { tmo 10 "${P[@]}" inspect --format "$2" "$1" 2>/dev/null; }
state_is() { [[ $(inspect "$1" '{{.State.Status}}') == "$2" ]]; }

# --- run --rm: output and exit code ------------------------------------------
set +e
out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" "$image" sh -c 'echo hi; exit 7' 2>&1)
rc=$?
set -e
if [[ $rc -eq 7 && $out == *hi* ]]; then
    pass run-exit-code
else
    fail run-exit-code "want exit 7 and 'hi', got exit $rc: $(brief "$out")"
fi

# podman decides per call whether to pass the JSON log; the first create shows it.
if grep -q -- ' create .*--log-format=json\| --log-format=json .*create ' "$argv_log" 2>/dev/null; then
    pass json-log-requested
else
    fail json-log-requested "conmon's create had no --log-format=json: $(brief "$(grep ' create ' "$argv_log" | head -1)")"
fi

# --- run -t: conmon's console socket ------------------------------------------
set +e
out=$(tmo 30 script -qefc "$(printf '%q ' "${P[@]}" run --rm -t "${run_opts[@]}" --name "$(new_name)" "$image" sh -c 'tty; test -t 0 && test -t 1 && echo tty-ok; exit 3')" /dev/null 2>&1)
rc=$?
set -e
check_run_tty "$rc" "$out"

# --- a detached container: limits, exec, pause/resume, stop -------------------
c=$(new_name)
if out=$(tmo 30 "${P[@]}" run -d "${run_opts[@]}" --name "$c" --memory 64m --cpus 0.25 "$image" \
    sh -c 'trap "exit 143" TERM; while :; do sleep 1; done' 2>&1) &&
    wait_until 20 state_is "$c" running; then
    pass run-detached

    pid=$(inspect "$c" '{{.State.Pid}}')
    mem=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
    cpu=/sys/fs/cgroup/cpu$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' "/proc/$pid/cgroup")
    limit=$(cat "$mem/memory.limit_in_bytes" 2>/dev/null || echo missing)
    quota=$(cat "$cpu/cpu.cfs_quota_us" 2>/dev/null || echo missing)
    period=$(cat "$cpu/cpu.cfs_period_us" 2>/dev/null || echo missing)
    if [[ $mem == *"$cgparent"* && $limit == 67108864 ]]; then
        pass memory-limit-in-cgroup
    else
        fail memory-limit-in-cgroup "init $pid in $mem, memory.limit_in_bytes=$limit (want 67108864 under $cgparent)"
    fi
    if [[ $cpu == *"$cgparent"* && $quota =~ ^[0-9]+$ && $period =~ ^[0-9]+$ && $((quota * 4)) -eq $period ]]; then
        pass cpu-quota-in-cgroup
    else
        fail cpu-quota-in-cgroup "init $pid in $cpu, cfs_quota_us=$quota cfs_period_us=$period (want quota = period/4)"
    fi

    set +e
    out=$(tmo 30 "${P[@]}" exec "$c" sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "; exit 5' 2>&1)
    rc=$?
    set -e
    if [[ $rc -eq 5 && $out == *exec-ok* && $out == *"sh -c trap"* ]]; then
        pass exec
    else
        fail exec "want exec-ok, init's cmdline (same pid ns), exit 5; got exit $rc: $(brief "$out")"
    fi

    set +e
    out=$(tmo 30 script -qefc "$(printf '%q ' "${P[@]}" exec -t "$c" sh -c 'test -t 0 && echo exec-tty-ok')" /dev/null 2>&1)
    rc=$?
    set -e
    if [[ $rc -eq 0 && $out == *exec-tty-ok* ]]; then
        pass exec-tty
    else
        fail exec-tty "got exit $rc: $(brief "$out")"
    fi

    freezer=/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$pid/cgroup")/freezer.state
    if out=$(tmo 30 "${P[@]}" pause "$c" 2>&1) && state_is "$c" paused; then
        state=$(cat "$freezer" 2>/dev/null || echo "no $freezer")
        if [[ $state == FROZEN ]]; then pass pause; else fail pause "podman says paused but $freezer is $state"; fi
    else
        fail pause "state $(inspect "$c" '{{.State.Status}}'): $(brief "$out")"
    fi
    if out=$(tmo 30 "${P[@]}" unpause "$c" 2>&1) && state_is "$c" running; then
        state=$(cat "$freezer" 2>/dev/null || echo "no $freezer")
        if [[ $state == THAWED ]]; then pass unpause; else fail unpause "podman says running but $freezer is $state"; fi
    else
        fail unpause "state $(inspect "$c" '{{.State.Status}}'): $(brief "$out")"
    fi

    # podman update -> `runtime update --resources FILE ID`: the new limits
    # land in the same cgroup files.
    if out=$(tmo 30 "${P[@]}" update --memory 128m --cpu-quota 50000 --cpu-period 100000 "$c" 2>&1); then
        limit=$(cat "$mem/memory.limit_in_bytes" 2>/dev/null || echo missing)
        quota=$(cat "$cpu/cpu.cfs_quota_us" 2>/dev/null || echo missing)
        if [[ $limit == 134217728 && $quota == 50000 ]]; then
            pass update
        else
            fail update "after podman update: memory.limit_in_bytes=$limit (want 134217728), cfs_quota_us=$quota (want 50000)"
        fi
    else
        fail update "$(brief "$out")"
    fi

    # SIGTERM reaches the trap, so stop must finish well before its 10 s kill.
    start=$SECONDS
    if out=$(tmo 30 "${P[@]}" stop -t 10 "$c" 2>&1); then
        code=$(inspect "$c" '{{.State.ExitCode}}')
        took=$((SECONDS - start))
        if [[ $code == 143 && $took -lt 10 ]] && state_is "$c" exited; then
            pass stop
        else
            fail stop "exit code $code after ${took}s, state $(inspect "$c" '{{.State.Status}}') (want 143, < 10 s, exited)"
        fi
    else
        fail stop "$(brief "$out")"
    fi
    tmo 30 "${P[@]}" rm -f "$c" >/dev/null 2>&1 || true
else
    fail run-detached "state $(inspect "$c" '{{.State.Status}}'): $(brief "$out")"
    for t in memory-limit-in-cgroup cpu-quota-in-cgroup exec exec-tty pause unpause update stop; do
        skip "$t" "no detached container"
    done
fi

# --- OOM under --memory -------------------------------------------------------
has_probe=no
out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" "$image" sh -c 'test -x /bin/probe && echo yes' 2>/dev/null) &&
    [[ $out == *yes* ]] && has_probe=yes
memory_hog "$has_probe"
set +e
out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" --memory 64m --memory-swap 64m "$image" "${hog[@]}" 2>&1)
rc=$?
set -e
if [[ $rc -eq 137 && $out != *"$hog_done"* ]]; then
    pass memory-oom
    echo "  hog: ${hog[*]}"
else
    fail memory-oom "want exit 137 from a 128 MiB hog under 64m, got exit $rc: $(brief "$out")"
fi

# --- a command that does not exist: the runtime's message reaches podman ------
set +e
c=$(new_name)
# Without --rm, so the runtime's log file can be read afterwards.
out=$(tmo 30 "${P[@]}" run "${run_opts[@]}" --name "$c" "$image" nope-no-such-cmd 2>&1)
rc=$?
set -e
# podman maps a runtime message matching "executable file not found in" or
# "no such file or directory" to exit 127 (126 for any other runtime error),
# and at its default log level prints only the matching line.
if [[ $rc -eq 127 && $out == *nope-no-such-cmd* ]]; then
    pass missing-command-error
    echo "  podman said (exit $rc): $(brief "$out")"
else
    fail missing-command-error "want exit 127 (message has 'executable file not found in' or 'no such file or directory') naming nope-no-such-cmd; got exit $rc: $(brief "$out")"
fi
# podman reads <runroot>/.../userdata/oci-log as ONE JSON object {level,time,msg}
# (json.Unmarshal of the whole file): more than one line breaks it.
cid=$(inspect "$c" '{{.Id}}')
oci_log=$tmp/runroot/vfs-containers/$cid/userdata/oci-log
if [[ -z $cid || ! -e $oci_log ]]; then
    fail json-log-one-error "no $oci_log after the failed create"
elif jq -e -s 'length == 1 and .[0].level == "error" and (.[0].msg | test("nope-no-such-cmd"))
        and (.[0].time | type == "string")' "$oci_log" >/dev/null 2>&1; then
    pass json-log-one-error
else
    fail json-log-one-error "want one {level:error,msg,time} object naming the command in $oci_log: $(brief "$(head -c 400 "$oci_log")")"
fi
tmo 30 "${P[@]}" rm -f "$c" >/dev/null 2>&1 || true

# --- --tmpfs over an image directory: podman asks for tmpcopyup ---------------
set +e
out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" --tmpfs /etc "$image" \
    sh -c 'head -1 /etc/passwd; grep " /etc " /proc/self/mountinfo' 2>&1)
rc=$?
set -e
if [[ $rc -eq 0 && $out == *root:* && $out == *" /etc "*" - tmpfs "* ]]; then
    pass tmpfs-copyup
else
    fail tmpfs-copyup "want the image's /etc/passwd on a tmpfs at /etc, got exit $rc: $(brief "$out")"
fi

# --- --systemd always (podman's default for /sbin/init): on a v1 host a bind
# of name=systemd at /sys/fs/cgroup/systemd below the read-only cgroup mount,
# tmpfs at /run and /tmp
set +e
out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" --systemd always "$image" \
    sh -c 'for d in /run /tmp /sys/fs/cgroup/systemd; do grep -c " $d " /proc/self/mounts; done; touch /sys/fs/cgroup/x 2>&1; echo end' 2>&1)
rc=$?
set -e
# (runc also mounts name=systemd there itself, under podman's bind: 2; and
# runc 1.1.5 leaves the tmpfs writable, so with runc this check fails on
# the touch: outlet keeps the spec's `ro`.)
if [[ $rc -eq 0 && $(head -3 <<<"$out" | tr '\n' ' ') =~ ^[12]\ [12]\ [12]\ $ && $out == *"Read-only file system"* ]]; then
    pass systemd-always
else
    fail systemd-always "want /run, /tmp and /sys/fs/cgroup/systemd mounted, /sys/fs/cgroup still read-only; got exit $rc: $(brief "$out")"
fi

# --- --privileged: podman asks only for the bounding set's capabilities ---------
bnd=$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
set +e
out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" --privileged "$image" \
    sh -c 'grep -E "^(CapEff|Seccomp):" /proc/self/status; test -c /dev/fuse && echo host-devices' 2>&1)
rc=$?
set -e
if [[ $rc -eq 0 && $(echo $out) == "CapEff: $bnd Seccomp: 0 host-devices" ]]; then
    pass privileged
else
    fail privileged "want CapEff $bnd, no seccomp, the host's /dev/fuse; got exit $rc: $(brief "$out")"
fi

# --- the host's console: podman's device rules do not name c 5:1 and runc 1.1
# adds no default rule for it, so a node made with CAP_MKNOD must not open
# (EPERM). The same open of a c 1:3 node is the control that opens can
# succeed. probe runs as sh's child: not a session leader, so the open could
# never make the host's console its controlling terminal.
if [[ $has_probe == yes ]]; then
    set +e
    out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" "$image" sh -c \
        'probe mknod /tmp/con c 5 1 && probe mknod /tmp/nul c 1 3 && probe openw /tmp/nul && probe openw /tmp/con' 2>&1)
    rc=$?
    set -e
    nul=$(grep '"path":"/tmp/nul","target"' <<<"$out" | jq -c '[.direct_write.ok, .reopen_write.ok]' 2>/dev/null)
    con=$(grep '"path":"/tmp/con","target"' <<<"$out" | jq -c '[.direct_write.errno, .reopen_write.errno]' 2>/dev/null)
    if [[ $rc -eq 0 && $nul == "[true,true]" && $con == "[1,1]" ]]; then
        pass host-console-denied
    else
        fail host-console-denied "want c 1:3 opened and c 5:1 refused with EPERM (1); got exit $rc, 1:3 $nul, 5:1 $con: $(brief "$out")"
    fi
else
    skip host-console-denied "the image has no /bin/probe"
fi

# --- --personality, --sysctl (in the container's own net namespace) ------------
set +e
out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" --personality LINUX32 \
    --sysctl net.ipv4.ip_forward=1 --sysctl kernel.msgmax=4096 "$image" \
    sh -c 'uname -m; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax' 2>&1)
rc=$?
set -e
if [[ $rc -eq 0 && $(echo $out) == "i686 1 4096" ]]; then
    pass personality-sysctl
else
    fail personality-sysctl "want 'i686 1 4096'; got exit $rc: $(brief "$out")"
fi

# --- a running container: top, stats, exec --detach, exec -i -u -w, restart -----
c=$(new_name)
if out=$(tmo 30 "${P[@]}" run -d "${run_opts[@]}" --name "$c" "$image" \
    sh -c 'trap "exit 143" TERM; while :; do sleep 1; done' 2>&1) &&
    wait_until 20 state_is "$c" running; then
    pid=$(inspect "$c" '{{.State.Pid}}')
    out=$(tmo 30 "${P[@]}" top "$c" pid hpid comm 2>&1) || true
    if awk 'NR > 1 && $1 == 1 { print $2, $3 }' <<<"$out" | grep -qx "$pid sh"; then
        pass top
    else
        fail top "want pid 1 = host pid $pid (sh): $(brief "$out")"
    fi
    # podman reads the cgroup itself: the container's two processes.
    out=$(tmo 30 "${P[@]}" stats --no-stream --format '{{.PIDs}} {{.MemUsage}}' "$c" 2>&1) || true
    if [[ $out =~ ^2\ [0-9.]+[kMG]?B\ / ]]; then
        pass stats
    else
        fail stats "want 2 pids and a memory usage: $(brief "$out")"
    fi
    out=$(tmo 30 "${P[@]}" exec --detach "$c" sh -c "sleep 1; echo detached-$$ >/tmp/exec-d" 2>&1) || true
    got_d() { [[ $(tmo 20 "${P[@]}" exec "$c" cat /tmp/exec-d 2>/dev/null) == "detached-$$" ]]; }
    if wait_until 10 got_d; then
        pass exec-detach
    else
        fail exec-detach "/tmp/exec-d never read detached-$$: $(brief "$out")"
    fi
    set +e
    out=$(echo 'id -u; pwd; echo "z=$ZZ"; exit 4' |
        tmo 30 "${P[@]}" exec -i -u 1000 -w /tmp -e ZZ=zz "$c" sh 2>&1)
    rc=$?
    set -e
    if [[ $rc -eq 4 && $(echo $out) == "1000 /tmp z=zz" ]]; then
        pass exec-i-user-workdir-env
    else
        fail exec-i-user-workdir-env "want '1000 /tmp z=zz' and exit 4; got exit $rc: $(brief "$out")"
    fi
    if out=$(tmo 30 "${P[@]}" restart -t 1 "$c" 2>&1) && wait_until 10 state_is "$c" running &&
        [[ $(inspect "$c" '{{.State.Pid}}') != "$pid" ]]; then
        pass restart
    else
        fail restart "want running with a new init after restart: $(inspect "$c" '{{.State.Status}} {{.State.Pid}}'): $(brief "$out")"
    fi
else
    fail top "could not start $c: $(brief "$out")"
    for t in stats exec-detach exec-i-user-workdir-env restart; do skip "$t" "no container $c"; done
fi
tmo 30 "${P[@]}" rm -f -t 0 "$c" >/dev/null 2>&1 || true

# --- commands that cannot run: podman's 126 for the runtime's "permission denied"
codes=
for cmd in /no/such /etc/passwd /tmp; do
    set +e
    out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" "$image" "$cmd" 2>&1)
    rc=$?
    set -e
    codes+="$cmd=$rc "
done
if [[ $codes == "/no/such=127 /etc/passwd=126 /tmp=126 " ]]; then
    pass command-exit-codes
else
    fail command-exit-codes "want /no/such=127 /etc/passwd=126 /tmp=126; got $codes: $(brief "$out")"
fi

# --- run -i: stdin through conmon into the container, and back out -------------
set +e
out=$(printf 'line-1\nline-2\n' | tmo 30 "${P[@]}" run --rm -i "${run_opts[@]}" --name "$(new_name)" "$image" \
    sh -c 'wc -l; exit 3' 2>&1)
rc=$?
set -e
if [[ $rc -eq 3 && $(echo $out) == 2 ]]; then
    pass run-stdin
else
    fail run-stdin "want 2 lines counted from stdin and exit 3; got exit $rc: $(brief "$out")"
fi

# --- a detached container: logs, exec -i piping data, cp, commit, healthcheck ---
c=$(new_name)
if out=$(tmo 30 "${P[@]}" run -d "${run_opts[@]}" --name "$c" --health-cmd 'test -e /tmp/ok' \
    "$image" sh -c "echo log-$$; trap 'exit 143' TERM; while :; do sleep 1; done" 2>&1) &&
    wait_until 20 state_is "$c" running; then
    logs_have() { tmo 10 "${P[@]}" logs "$c" 2>&1 | grep -qx "log-$$"; }
    if wait_until 10 logs_have; then pass logs; else fail logs "no log-$$: $(brief "$(tmo 10 "${P[@]}" logs "$c" 2>&1)")"; fi

    # 1 MiB through exec -i and back: nothing lost or added on the way.
    head -c 1048576 /dev/urandom >"$tmp/blob"
    got=$(tmo 30 "${P[@]}" exec -i "$c" sh -c 'cat >/tmp/blob; md5sum </tmp/blob' <"$tmp/blob" 2>&1) || true
    if [[ ${got%% *} == "$(md5sum <"$tmp/blob" | cut -d' ' -f1)" ]]; then
        pass exec-i-pipe
    else
        fail exec-i-pipe "want the md5 of 1 MiB piped through exec -i; got $(brief "$got")"
    fi

    echo "cp-$$" >"$tmp/cp-in"
    if out=$(tmo 30 "${P[@]}" cp "$tmp/cp-in" "$c:/cp-in" 2>&1) &&
        out=$(tmo 30 "${P[@]}" cp "$c:/tmp/blob" "$tmp/blob-out" 2>&1) && cmp -s "$tmp/blob" "$tmp/blob-out" &&
        out=$(tmo 60 "${P[@]}" commit -q "$c" "localhost/committed-$$" 2>&1) &&
        out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" "localhost/committed-$$" cat /cp-in 2>&1) &&
        [[ $out == "cp-$$" ]]; then
        pass cp-commit
    else
        fail cp-commit "want cp in, cp out of the 1 MiB blob, commit, the file in the new image: $(brief "$out")"
    fi
    tmo 30 "${P[@]}" rmi -f "localhost/committed-$$" >/dev/null 2>&1 || true

    # healthcheck run execs the probe through the runtime: 1 before /tmp/ok exists, 0 after.
    set +e
    tmo 30 "${P[@]}" healthcheck run "$c" >/dev/null 2>&1
    h1=$?
    tmo 30 "${P[@]}" exec "$c" touch /tmp/ok
    tmo 30 "${P[@]}" healthcheck run "$c" >/dev/null 2>&1
    h2=$?
    set -e
    if [[ "$h1 $h2 $(inspect "$c" '{{.State.Health.Status}}')" == "1 0 healthy" ]]; then
        pass healthcheck-run
    else
        fail healthcheck-run "want 1 then 0 and healthy; got $h1 $h2 $(inspect "$c" '{{.State.Health.Status}}')"
    fi
else
    fail logs "could not start $c: $(brief "$out")"
    for t in exec-i-pipe cp-commit healthcheck-run; do skip "$t" "no container $c"; done
fi
tmo 30 "${P[@]}" rm -f -t 0 "$c" >/dev/null 2>&1 || true

# --- podman build: a Containerfile's RUN steps in containers of the runtime ------
# buildah takes --cgroup-parent as the RUN container's cgroup itself: one of
# its own, since the v1 devices cgroup refuses "a" in devices.deny (EINVAL)
# once the cgroup has children, as our parent has here (runc too).
mkdir -p "$tmp/ctx"
printf 'FROM %s\nRUN echo one >/one && id -u >>/one\nRUN cat /one >/two && echo two >>/two\n' "$image" >"$tmp/ctx/Containerfile"
creates_before=$(grep -c ' create ' "$argv_log" || true)
set +e
out=$(tmo 180 "${P[@]}" build --network none --cgroup-parent "$cgparent/build" -q -t "localhost/built-$$" "$tmp/ctx" 2>&1)
rc=$?
set -e
creates=$(($(grep -c ' create ' "$argv_log" || true) - creates_before))
if [[ $rc -eq 0 ]] && out=$(tmo 30 "${P[@]}" run --rm "${run_opts[@]}" --name "$(new_name)" "localhost/built-$$" cat /two 2>&1) &&
    [[ $(echo $out) == "one 0 two" && $creates -ge 2 ]]; then
    pass build-run-steps
else
    fail build-run-steps "want /two 'one 0 two' and >= 2 creates by the runtime ($creates); build exit $rc: $(brief "$out")"
fi
tmo 30 "${P[@]}" rmi -f "localhost/built-$$" >/dev/null 2>&1 || true

# --- a pod with a user namespace (pod create --uidmap): each container joins
# the infra's user namespace by path and makes its own pid namespace, which
# that user namespace must own (else mounting its /proc fails with EPERM) --
upod=userns-pod-$$
# /dev/mqueue's owner is the ipc namespace's creator's fsuid and fsgid:
# runc makes it after setresuid(0) and before setresgid, so 0 and the
# host's unmapped gid (65534); made by the clone it read 65534 65534.
uns_of='echo "pid $$"; for n in user pid; do readlink /proc/self/ns/$n; done; cat /proc/self/uid_map; id -u; stat -c "mqueue %u %g" /dev/mqueue'
# The host's hard rlimits are below podman's defaults (HOST.md): as a
# default they reach the infra container too (this section's conf only).
{ cat "$tmp/containers.conf"; printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'; } >"$tmp/pod-userns.conf"
export CONTAINERS_CONF=$tmp/pod-userns.conf
set +e
out=$(tmo 60 "${P[@]}" pod create --name "$upod" --network none --cgroup-parent "$cgparent" \
    --uidmap 0:100000:65536 --gidmap 0:100000:65536 \
    --infra-image "$image" --infra-command '/bin/sleep 1000000' 2>&1) &&
    out=$(tmo 60 "${P[@]}" pod start "$upod" 2>&1) &&
    out=$(tmo 60 "${P[@]}" run --rm --pull never --pod "$upod" --name "$(new_name)" "$image" sh -c "$uns_of" 2>&1)
rc=$?
set -e
infra=$(tmo 10 "${P[@]}" pod inspect --format '{{.InfraContainerID}}' "$upod" 2>/dev/null || true)
ipid=$( [[ -n $infra ]] && inspect "$infra" '{{.State.Pid}}' || true)
iuser=$( [[ -n $ipid ]] && readlink "/proc/$ipid/ns/user" || true)
ipidns=$( [[ -n $ipid ]] && readlink "/proc/$ipid/ns/pid" || true)
map=$(echo "$out" | awk '$1 == "0" && $2 == "100000" { print $1, $2, $3 }')
if [[ $rc -eq 0 && -n $iuser && $out == *"pid 1"* && $out == *"$iuser"* &&
    $iuser != "$(readlink /proc/self/ns/user)" && $out != *"$ipidns"* &&
    $map == "0 100000 65536" && $out == *"mqueue 0 65534"* ]]; then
    pass pod-userns-join-new-pid
else
    fail pod-userns-join-new-pid "want pid 1, the infra's user ns ($iuser) with map 0 100000 65536, a pid ns not the infra's ($ipidns), /dev/mqueue 0 65534; exit $rc: $(brief "$out")"
fi
tmo 60 "${P[@]}" pod rm -f -t 0 "$upod" >/dev/null 2>&1 || true
export CONTAINERS_CONF=$tmp/containers.conf

# --- nothing left behind --------------------------------------------------------
tmo 30 "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true
if out=$("${P[@]}" ps -aq 2>&1) && [[ -z $out ]]; then
    pass no-containers-left
else
    fail no-containers-left "$(brief "$out")"
fi
if wait_until 10 test -z "$(our_conmons)"; then
    pass no-conmon-left
else
    fail no-conmon-left "conmon still running: $(our_conmons | tr '\n' ' ')"
fi
# podman passes no --root, so the runtime keeps state in its default root
# (/run/runc, /run/outlet); the full podman ids come from the argv log.
left=
for cid in $(grep -oE ' (create|delete --force) .* [0-9a-f]{64}$' "$argv_log" | grep -oE '[0-9a-f]{64}$' | sort -u); do
    [[ -e /run/$name/$cid ]] && left+="/run/$name/$cid "
done
if [[ -z $left ]]; then
    pass no-runtime-state-left
else
    fail no-runtime-state-left "$left"
fi
left=$(mounts_under "$tmp")
if [[ -z $left ]]; then
    pass no-mounts-left
else
    fail no-mounts-left "$(brief "$left")"
fi
# conmon is moved to <parent>/conmon by podman and stays ours to remove.
left=$(for d in $(parent_cgroups); do find "$d" -mindepth 1 -type d ! -name conmon; done)
if [[ -z $left ]]; then
    pass no-cgroups-left
else
    fail no-cgroups-left "$(brief "$left")"
fi

summary "$suite"

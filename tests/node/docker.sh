# Docker as its users mostly have it: dockerd 20.10 (Debian's docker.io) on
# a systemd + cgroup v2 host with AppArmor on, its systemd cgroup driver
# (Docker's default on v2), outlet added with --add-runtime. Sourced by
# suite.sh (its verdict, file_is, unit_exists, unit_gone, containerd_down,
# $RT, $CG, $OUT, $D); run by the NODE_ONLY name docker. Every container
# is run with an explicit --runtime; where a value is not obvious the same
# container is run with runc (docker.io brings 1.1.5) and the two must
# agree. After each group of checks no docker-*.scope unit, cgroup or
# runtime state may be left (a FAIL docker_leftovers_after_<group> line
# otherwise), and at the end docker_no_leftovers. Under TCG every
# container costs seconds (dockerd, docker, the shim are Go programs that
# start slowly there): the options share two containers per runtime.

DK=/usr/bin/docker
DK_IMG=localhost/busybox:node
DK_LOG=/tmp/dockerd.log
dk_pid=""

# dk ARGS...: docker, output (both streams) in $OUT/dk.out, rc in $rc.
dk() {
    timeout 90 $DK "$@" </dev/null >"$OUT/dk.out" 2>&1
    rc=$?
}
# The last output on one line, for a verdict (no backslashes: dash's echo).
dk_brief() { tr '\n\\' ' /' <"$OUT/dk.out" | tr -s ' ' | cut -c1-${1:-300}; }
# The output as one line of words (tabs, CRs and newlines as spaces).
dk_line() { tr -d '\r' <"$OUT/dk.out" | tr '\t\n' '  ' | sed 's/ $//'; }
dk_id() { timeout 30 $DK inspect -f '{{.Id}}' "$1" 2>/dev/null; }
dk_inspect() { timeout 30 $DK inspect -f "$2" "$1" 2>/dev/null; }

dk_up() {
    # dockerd would use a containerd it finds on the default socket (the
    # suite's, for the CRI checks): its own is the one Docker users have.
    containerd_down
    modprobe overlay 2>/dev/null
    dockerd --add-runtime outlet="$RT" --exec-opt native.cgroupdriver=systemd \
        --log-driver json-file >"$DK_LOG" 2>&1 &
    dk_pid=$!
    for _ in $(seq 1 120); do
        $DK version >/dev/null 2>&1 && return 0
        kill -0 $dk_pid 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}
dk_down() {
    [ -n "$dk_pid" ] || return 0
    ids=$($DK ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 120 $DK rm -f $ids >/dev/null 2>&1
    kill $dk_pid 2>/dev/null
    wait $dk_pid 2>/dev/null
    dk_pid=""
}

# What a container of Docker's leaves on the node: scope units, their
# cgroups, the runtime's state (the shim's root for each runtime is
# /run/docker/runtime-<name>/moby; outlet's seccomp cache is .cache).
dk_left() {
    u=$(systemctl list-units --all --plain --no-legend 'docker-*.scope' 2>/dev/null | awk '{ print $1 }')
    c=$(ls -d $CG/system.slice/docker-*.scope $CG/dk.slice 2>/dev/null)
    s=$(find /run/docker/runtime-outlet /run/docker/runtime-runc /run/outlet -mindepth 2 \
        -not -path '*/.cache' -not -path '*/.cache/*' 2>/dev/null)
    echo $u $c $s
}
# dk_gone ID: the container's scope unit and its cgroup are gone ($gone_seen says what was left).
dk_gone() {
    gone_seen=""
    for _ in $(seq 1 20); do
        unit_gone "docker-$1.scope" && [ ! -e "$CG/system.slice/docker-$1.scope" ] && return 0
        sleep 0.25
    done
    gone_seen="docker-$1.scope $(systemctl show -p LoadState,ActiveState,Result --value "docker-$1.scope" | tr '\n' ' ')dir: $([ -e "$CG/system.slice/docker-$1.scope" ] && echo left || echo gone)"
    return 1
}
# dk_rm NAME...: remove, then $gone is yes when every scope went with it.
dk_rm() {
    ids=""
    for n in "$@"; do ids="$ids $(dk_id "$n")"; done
    timeout 60 $DK rm -f "$@" >/dev/null 2>&1
    gone=yes gone_all=""
    for i in $ids; do dk_gone "$i" || { gone=no; gone_all="$gone_all $gone_seen"; }; done
}

# --- run --rm: the exit code the engine reports -------------------------------
# 0 and 3 come with t_dk_opts's runs (its container A exits 3); 137
# (SIGKILL) with docker stop's (t_dk_stop: a signal from inside cannot
# kill the container's pid 1). 127 is dockerd's reading of the runtime's
# error text, hence runc too.
t_dk_exit() {
    dk run --rm --runtime outlet --network none $DK_IMG /no/such/cmd
    c127=$rc e127=$(dk_brief 200)
    dk run --rm --runtime runc --network none $DK_IMG /no/such/cmd
    r127=$rc
    if [ $c127 = 127 ] && [ $r127 = 127 ]; then
        verdict docker_run_missing_command PASS "run --rm of a missing command -> $c127 (runc: $r127)"
    else
        verdict docker_run_missing_command FAIL "missing command -> $c127 (want 127 as runc: $r127): $e127"
    fi
}

# --- the limits in the scope's files and its unit, against runc --------------
DK_FILES="cpu.max memory.max memory.swap.max pids.max cpuset.cpus io.weight"
DK_PROPS="Slice Delegate CPUQuotaPerSecUSec MemoryMax MemorySwapMax TasksMax AllowedCPUs IOWeight"
dk_read() { # ID -> "files: ... props: ..." of docker-ID.scope
    sc=docker-$1.scope
    r="files:"
    for f in $DK_FILES; do r="$r $f=$(tr '\n' ',' <"$CG/system.slice/$sc/$f" 2>/dev/null | sed 's/,$//')"; done
    r="$r props:"
    for p in $DK_PROPS; do r="$r $p=$(systemctl show -p $p --value $sc 2>&1)"; done
    echo "$r"
}
# runc 1.1.5 sets no IOWeight (systemd then shows it unset), so systemd's
# next property change (docker update) rewrites io.weight to its default
# and runc's blkio weight is lost (seen: 2930 -> 100); outlet sets the
# property (props.rs) and keeps it. The one difference the comparison
# allows; outlet's values are checked against the wanted ones.
dk_no_ioweight() { echo "$1" | sed 's/ IOWeight=.*$//; s/ io.weight=default [0-9]*//'; }
DK_LIM="--cpus 0.25 --memory 512m --pids-limit 64 --cpuset-cpus 0 --blkio-weight 300"
DK_WANT_LIM='files: cpu.max=25000 100000 memory.max=536870912 memory.swap.max=536870912 pids.max=64 cpuset.cpus=0 io.weight=default 2930 props: Slice=system.slice Delegate=yes CPUQuotaPerSecUSec=250ms MemoryMax=536870912 MemorySwapMax=536870912 TasksMax=64 AllowedCPUs=0 IOWeight=2930'
DK_WANT_UPD='files: cpu.max=50000 100000 memory.max=268435456 memory.swap.max=536870912 pids.max=64 cpuset.cpus=0 io.weight=default 2930 props: Slice=system.slice Delegate=yes CPUQuotaPerSecUSec=500ms MemoryMax=268435456 MemorySwapMax=536870912 TasksMax=64 AllowedCPUs=0 IOWeight=2930'
# After docker restart the same, but for swap: dockerd's new spec asks its
# saved --memory-swap (twice the first --memory: 1 GiB) again, which
# `docker update --memory` did not send (runc and outlet alike keep the
# old swap.max on that update).
DK_WANT_RST=$(echo "$DK_WANT_UPD" | sed 's/536870912/805306368/g')
t_dk_limits() {
    # shellcheck disable=SC2086
    dk run -d --runtime outlet --name dk-lim $DK_LIM $DK_IMG /bin/sleep 600
    lrc=$rc lerr=$(dk_brief)
    dk run -d --runtime runc --name dk-lim-runc $DK_LIM $DK_IMG /bin/sleep 600
    rrc=$rc
    id=$(dk_id dk-lim) rid=$(dk_id dk-lim-runc)
    if [ $lrc != 0 ] || [ -z "$id" ]; then
        verdict docker_limits FAIL "run rc=$lrc: $lerr"
        dk_rm dk-lim dk-lim-runc
        return
    fi
    sc=docker-$id.scope
    dir=$CG/system.slice/$sc
    pid=$(dk_inspect dk-lim '{{.State.Pid}}')
    gl=$(dk_read "$id") rgot=$(dk_read "$rid")
    echo "NODEINFO docker limits outlet: $gl"
    echo "NODEINFO docker limits runc (rc=$rrc): $rgot"
    ok=1
    unit_exists $sc || ok=0
    file_is /proc/$pid/cgroup "0::/system.slice/$sc" || ok=0
    s1=$seen
    [ "$gl" = "$DK_WANT_LIM" ] || ok=0
    [ "$(dk_no_ioweight "$gl")" = "$(dk_no_ioweight "$rgot")" ] || ok=0
    if [ $ok = 1 ]; then
        verdict docker_limits PASS "$sc active, init $s1; $gl; runc the same but IOWeight"
    else
        verdict docker_limits FAIL "ActiveState=$(systemctl show -p ActiveState --value $sc) $s1; got '$gl' want '$DK_WANT_LIM'; runc '$rgot'"
    fi
    # Control: the leftover probe used after every check sees a live
    # container's scope (an unlimited container's reading: t_dk_stop).
    left=$(dk_left)
    case " $left " in
    *" $sc "*) verdict docker_leftover_probe_control PASS "the probe lists the live $sc" ;;
    *) verdict docker_leftover_probe_control FAIL "the probe missed the live $sc: '$left'" ;;
    esac

    dk_exec_checks dk-lim
    dk_top_stats dk-lim "$pid"

    # pause / unpause: the scope's cgroup.freeze and its frozen state.
    dk pause dk-lim
    p1=$rc f1=$(cat $dir/cgroup.freeze 2>&1) st1=$(grep -c '^frozen 1' $dir/cgroup.events 2>/dev/null)
    s1=$(dk_inspect dk-lim '{{.State.Status}}')
    dk unpause dk-lim
    p2=$rc f2=$(cat $dir/cgroup.freeze 2>&1) s2=$(dk_inspect dk-lim '{{.State.Status}}')
    if [ $p1 = 0 ] && [ "$f1" = 1 ] && [ "$st1" = 1 ] && [ "$s1" = paused ] && [ $p2 = 0 ] && [ "$f2" = 0 ] && [ "$s2" = running ]; then
        verdict docker_pause_unpause PASS "paused: cgroup.freeze=$f1 frozen=$st1; unpaused: cgroup.freeze=$f2 ($s2)"
    else
        verdict docker_pause_unpause FAIL "pause rc=$p1 $s1 freeze=$f1 frozen=$st1; unpause rc=$p2 $s2 freeze=$f2: $(dk_brief)"
    fi

    # docker update: `runtime update --resources=-`, through the systemd
    # driver: the files and the unit's properties, as runc.
    dk update --cpus 0.5 --memory 256m dk-lim
    urc=$rc uerr=$(dk_brief)
    dk update --cpus 0.5 --memory 256m dk-lim-runc
    gl=$(dk_read "$id") rgot=$(dk_read "$rid")
    echo "NODEINFO docker update outlet: $gl"
    echo "NODEINFO docker update runc: $rgot"
    if [ $urc = 0 ] && [ "$gl" = "$DK_WANT_UPD" ] && [ "$(dk_no_ioweight "$gl")" = "$(dk_no_ioweight "$rgot")" ]; then
        verdict docker_update PASS "$gl; runc the same but IOWeight"
    else
        verdict docker_update FAIL "rc=$urc $uerr; got '$gl' want '$DK_WANT_UPD'; runc '$rgot'"
    fi

    # docker restart: the same id, so the same unit name: the old scope
    # must be gone before the new one starts; the updated limits stay.
    dk restart -t 1 dk-lim
    rsrc=$rc rserr=$(dk_brief)
    npid=$(dk_inspect dk-lim '{{.State.Pid}}')
    gl=$(dk_read "$id")
    ok=1
    [ $rsrc = 0 ] && [ "$(dk_inspect dk-lim '{{.State.Status}}')" = running ] || ok=0
    [ -n "$npid" ] && [ "$npid" != "$pid" ] || ok=0
    file_is /proc/$npid/cgroup "0::/system.slice/$sc" || ok=0
    [ "$gl" = "$DK_WANT_RST" ] || ok=0
    if [ $ok = 1 ]; then
        verdict docker_restart PASS "init $pid -> $npid in $sc, the updated limits kept"
    else
        verdict docker_restart FAIL "rc=$rsrc $rserr; pid $pid -> $npid; $seen; got '$gl'"
    fi
    dk_rm dk-lim dk-lim-runc
    if [ $gone = yes ]; then
        verdict docker_rm_scope_gone PASS "docker rm -f: $sc and its cgroup gone (and runc's)"
    else
        verdict docker_rm_scope_gone FAIL "$gone_all"
    fi
}

# --- docker exec: exit code, -t, -u, -w, -e ----------------------------------
dk_exec_checks() { # NAME
    dk exec "$1" sh -c 'exit 5'
    e1=$rc
    dk exec -u 1000:1000 -w /tmp -e DKV=exec-env "$1" sh -c 'echo $(id -u):$(id -g) $(pwd) $DKV; cat /proc/self/cgroup'
    e2=$rc o2=$(tr '\n' ' ' <"$OUT/dk.out")
    dk exec -t "$1" sh -c 'tty; [ -t 1 ] && echo tty-out'
    e3=$rc o3=$(tr -d '\r' <"$OUT/dk.out" | tr '\n' ' ')
    if [ $e1 = 5 ] && [ $e2 = 0 ] && [ "$o2" = "1000:1000 /tmp exec-env 0::/ " ] &&
        [ $e3 = 0 ] && echo "$o3" | grep -qE '^/dev/pts/[0-9]+ tty-out $'; then
        verdict docker_exec PASS "exit 5 -> $e1; -u -w -e: $o2; -t: $o3"
    else
        verdict docker_exec FAIL "exit 5 -> $e1; -u -w -e rc=$e2: '$o2' (want '1000:1000 /tmp exec-env 0::/ '); -t rc=$e3: '$o3'"
    fi
}

# --- docker top, docker stats --------------------------------------------------
dk_top_stats() { # NAME INIT_PID
    dk top "$1"
    if [ $rc = 0 ] && awk 'NR > 1 { print $2 }' "$OUT/dk.out" | grep -qx "$2"; then
        verdict docker_top PASS "lists the init $2"
    else
        verdict docker_top FAIL "rc=$rc want pid $2: $(dk_brief)"
    fi
    # A spinning exec in the container gives the stats a CPU share.
    # Under a loaded TCG guest `exec -d` can return before the spinner is
    # in the container: wait for `top` to list it (a fixed second once
    # read pids 1 and CPU 0), then give it a moment of CPU to show.
    dk exec -d "$1" /bin/probe spin 1 10
    i=0
    while [ $i -lt 60 ]; do
        dk top "$1"
        grep -q 'probe spin' "$OUT/dk.out" && break
        sleep 0.5
        i=$((i + 1))
    done
    sleep 1
    dk stats --no-stream --format '{{.CPUPerc}} {{.MemUsage}} {{.PIDs}}' "$1"
    st=$(head -n1 "$OUT/dk.out")
    cpu=${st%%%*} mem=$(echo "$st" | cut -d' ' -f2) pids=$(echo "$st" | awk '{ print $NF }')
    if [ $rc = 0 ] && awk -v c="$cpu" 'BEGIN { exit !(c > 0) }' && [ "$mem" != 0B ] &&
        echo "$mem" | grep -qE '^[0-9.]+[KMG]iB$' && [ "${pids:-0}" -ge 2 ] 2>/dev/null; then
        verdict docker_stats PASS "stats --no-stream: $st"
    else
        verdict docker_stats FAIL "rc=$rc '$st' (want CPU% > 0, memory and pids non-zero)"
    fi
}

# --- OOM kill under --memory, OOMKilled in inspect, against runc -------------
t_dk_oom() {
    for r in outlet runc; do
        dk run --runtime $r --name dk-oom-$r --network none --memory 64m --memory-swap 64m $DK_IMG /bin/probe mem 128
        eval "oom_$r=\"rc=$rc OOMKilled=$(dk_inspect dk-oom-$r '{{.State.OOMKilled}}')\""
    done
    dk_rm dk-oom-outlet dk-oom-runc
    if [ "$oom_outlet" = "rc=137 OOMKilled=true" ] && [ "$oom_outlet" = "$oom_runc" ] && [ $gone = yes ]; then
        verdict docker_oom_killed PASS "probe mem 128 under --memory 64m: $oom_outlet (runc: $oom_runc); scopes gone"
    else
        verdict docker_oom_killed FAIL "outlet: $oom_outlet runc: $oom_runc (want rc=137 OOMKilled=true); gone=$gone $gone_all"
    fi
}

# --- docker run -d, logs, and stop's grace period then SIGKILL ----------------
t_dk_stop() {
    dk run -d --runtime outlet --name dk-stop --network none $DK_IMG sh -c \
        'trap "echo ignored-term" TERM; echo ready; while :; do sleep 0.2; done'
    ready=no
    for _ in $(seq 1 40); do
        timeout 20 $DK logs dk-stop 2>&1 | grep -q ready && { ready=yes; break; }
        sleep 0.25
    done
    if [ $ready = yes ]; then
        verdict docker_logs PASS "run -d: 'ready' in docker logs"
    else
        verdict docker_logs FAIL "no 'ready' in docker logs: $(timeout 20 $DK logs dk-stop 2>&1 | tr '\n' ' ' | cut -c1-200)"
    fi
    # Control of docker_limits: a container without limits reads
    # otherwise through the same reading, so that comparison can fail.
    fgot=$(dk_read "$(dk_id dk-stop)")
    if [ "$fgot" != "$DK_WANT_LIM" ] && echo "$fgot" | grep -q 'cpu.max=max 100000 memory.max=max'; then
        verdict docker_limits_control PASS "no limits: '$(echo "$fgot" | cut -c1-100)...'"
    else
        verdict docker_limits_control FAIL "no limits reads '$fgot'"
    fi
    t0=$(date +%s)
    dk stop -t 3 dk-stop
    took=$(($(date +%s) - t0))
    src=$rc
    lg=$(timeout 20 $DK logs dk-stop 2>&1 | tr '\n' ' ')
    code=$(dk_inspect dk-stop '{{.State.Status}} {{.State.ExitCode}}')
    dk_rm dk-stop
    if [ $src = 0 ] && [ "$lg" = "ready ignored-term " ] && [ "$code" = "exited 137" ] && [ $took -ge 3 ] && [ $took -lt 30 ] && [ $gone = yes ]; then
        verdict docker_stop_grace_kill PASS "TERM trapped, SIGKILL after the 3 s grace (${took}s): $code; scope gone"
    else
        verdict docker_stop_grace_kill FAIL "rc=$src after ${took}s: '$code' logs '$lg' (want exited 137 after >= 3 s); gone=$gone $gone_all"
    fi
}

# --- options users pass every day; the effect seen from inside -------------
# Two containers per runtime, each printing one line per option
# ("key: what it saw"): A with the options, B the defaults they change
# (the controls). Every line of outlet's must be as wanted and as runc's.
DK_A='echo "init: $(readlink /proc/1/exe) ppid=$PPID"
touch /tmp/a /run/b && w=wrote; touch /x 2>/tmp/e; echo "ro: $w $(sed "s/.*: //" /tmp/e) $(grep -c "^tmpfs /\(tmp\|run\) tmpfs rw," /proc/mounts)"
echo from-ctr >/data/ctr; touch /ro/x 2>/tmp/e; echo "bind: $(cat /data/host) $(sed "s/.*: //" /tmp/e)"
echo "caps: $(grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status | tr "\t\n" "  ")"
mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/tmp/e && m=mounted || m=$(sed "s/.*: //" /tmp/e); echo "apparmor: $(cat /proc/self/attr/current) mount $m"
set -- $(stat -c "%t %T" /dev/dkdisk); mknod /dev/other b $((0x$1)) 0; mknod /dev/same b $((0x$1)) $((0x$2))
head -c 1 /dev/other >/dev/null 2>/tmp/e && o=opened || o=$(sed "s/.*: //" /tmp/e)
echo "device: $(head -c 512 /dev/dkdisk | wc -c) other $o same $(head -c 512 /dev/same | wc -c)"
echo "net: $(echo $(ls /sys/class/net))"
echo "cgroup: $(cat /proc/self/cgroup)"; exit 3'
DK_B='echo "caps: $(grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status | tr "\t\n" "  ")"
mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/tmp/e && m=mounted || m=$(sed "s/.*: //" /tmp/e); echo "apparmor: $(cat /proc/self/attr/current) mount $m"
gw=$(ip route | awk "/^default/ { print \$3 }"); ping -c 1 -W 5 $gw >/dev/null && p=ping-ok; echo "net: $(echo $(ls /sys/class/net)) gw=$gw $p"
echo "cgroup: $(sed "s/$(hostname)[0-9a-f]*/ID/" /proc/self/cgroup)"'
# key|check name|A or B|wanted
DK_WANT='init|docker_init|A|/sbin/docker-init ppid=1
ro|docker_read_only_tmpfs|A|wrote Read-only file system 2
bind|docker_bind_volume|A|from-host Read-only file system
caps|docker_caps_nnp|A|CapEff: 00000000a82425fa CapBnd: 00000000a82425fa NoNewPrivs: 1
caps|docker_caps_nnp_control|B|CapEff: 00000000a82425fb CapBnd: 00000000a82425fb NoNewPrivs: 0
apparmor|docker_apparmor|A|docker-default (enforce) mount Permission denied
apparmor|docker_apparmor_control|B|unconfined mount mounted
device|docker_device|A|512 other Operation not permitted same 512
net|docker_network_none|A|lo
net|docker_bridge|B|eth0 lo gw=172.17.0.1 ping-ok
cgroup|docker_cgroupns_private|A|0::/
cgroup|docker_cgroupns_host|B|0::/system.slice/docker-ID.scope'
# A: --init, read-only root with two tmpfs, a bind read-write and one
# read-only, capabilities added and dropped, no_new_privs, the test disk
# (vdb) as a device (the root disk vda, same major, made with mknod, is
# refused by the device cgroup: v2's eBPF program; vdb made the same way
# reads), no network, a private cgroup namespace (Docker's default on v2).
# B: the defaults, but CAP_SYS_ADMIN unconfined by AppArmor (so the mount
# that A's profile refuses works), the default bridge, the host's cgroup
# namespace.
dk_opts_run() { # RUNTIME -> $OUT/dk-opts-RUNTIME-{A,B}
    dk run --rm --runtime $1 --init --read-only --tmpfs /run --tmpfs /tmp:size=2m \
        -v $hb:/data -v $hb:/ro:ro --cap-add SYS_ADMIN --cap-drop CHOWN \
        --security-opt no-new-privileges --device /dev/vdb:/dev/dkdisk --network none \
        --cgroupns private $DK_IMG sh -c "$DK_A"
    echo "rc: $rc" >>"$OUT/dk.out"
    tr -d '\r' <"$OUT/dk.out" >"$OUT/dk-opts-$1-A"
    dk run --rm --runtime $1 --cap-add SYS_ADMIN --security-opt apparmor=unconfined \
        --cgroupns host $DK_IMG sh -c "$DK_B"
    echo "rc: $rc" >>"$OUT/dk.out"
    tr -d '\r' <"$OUT/dk.out" >"$OUT/dk-opts-$1-B"
}
t_dk_opts() {
    hb=/tmp/dk-bind
    mkdir -p $hb
    echo from-host >$hb/host
    dk_opts_run outlet
    ctr=$(cat $hb/ctr 2>&1)
    dk_opts_run runc
    rm -rf $hb
    echo "NODEINFO docker options A: $(tr '\n' '|' <"$OUT/dk-opts-outlet-A")"
    echo "NODEINFO docker options B: $(tr '\n' '|' <"$OUT/dk-opts-outlet-B")"
    echo "$DK_WANT" | while IFS='|' read -r key name ab want; do
        o=$(sed -n "s/^$key: //p" "$OUT/dk-opts-outlet-$ab" | sed 's/ *$//')
        r=$(sed -n "s/^$key: //p" "$OUT/dk-opts-runc-$ab" | sed 's/ *$//')
        orc=$(sed -n 's/^rc: //p' "$OUT/dk-opts-outlet-$ab")
        rrc=$(sed -n 's/^rc: //p' "$OUT/dk-opts-runc-$ab")
        [ $ab = A ] && wrc=3 || wrc=0
        if [ "$orc" = $wrc ] && [ "$rrc" = $wrc ] && [ "$o" = "$want" ] && [ "$r" = "$o" ]; then
            echo "$name PASS $o (runc the same)"
        else
            echo "$name FAIL outlet (rc=$orc) '$o', runc (rc=$rrc) '$r', want '$want' (rc $wrc)"
        fi
    done >"$OUT/dk-opts.verdicts"
    a=$(sed -n 's/^rc: //p' "$OUT/dk-opts-outlet-A") b=$(sed -n 's/^rc: //p' "$OUT/dk-opts-outlet-B")
    if [ "$a" = 3 ] && [ "$b" = 0 ]; then
        verdict docker_run_exit_codes PASS "run --rm: a container's exit 3 -> $a, exit 0 -> $b"
    else
        verdict docker_run_exit_codes FAIL "run --rm: exit 3 -> '$a', exit 0 -> '$b'"
    fi
    while read -r name v detail; do
        [ $name = docker_bind_volume ] && [ "$ctr" != from-ctr ] && v=FAIL detail="$detail; the host's file: $ctr"
        verdict $name $v "$detail"
    done <"$OUT/dk-opts.verdicts"
}

# --- a --cgroup-parent slice, the weights, and an update of the rest -------
# `--cgroup-parent dk-node.slice` with the systemd driver: the scope in
# dk-node.slice, which systemd nests in dk.slice. The properties and files
# of the knobs t_dk_limits leaves out, after create and after an update,
# as runc's (started side by side).
DK_FILES2="cpu.weight memory.low pids.max cpuset.cpus cpu.max"
DK_PROPS2="Slice CPUWeight MemoryLow TasksMax AllowedCPUs CPUQuotaPerSecUSec"
dk_read2() { # ID
    d=$CG/dk.slice/dk-node.slice/docker-$1.scope
    r="files:"
    for f in $DK_FILES2; do r="$r $f=$(tr '\n' ',' <"$d/$f" 2>/dev/null | sed 's/,$//')"; done
    r="$r props:"
    for p in $DK_PROPS2; do r="$r $p=$(systemctl show -p $p --value docker-$1.scope 2>&1)"; done
    echo "$r"
}
# Without --pids-limit the scope has systemd's DefaultTasksMax.
DK_WANT_MORE='files: cpu.weight=20 memory.low=104857600 pids.max=@T cpuset.cpus= cpu.max=max 100000 props: Slice=dk-node.slice CPUWeight=20 MemoryLow=104857600 TasksMax=@T AllowedCPUs= CPUQuotaPerSecUSec=infinity'
DK_WANT_MORE2='files: cpu.weight=10 memory.low=52428800 pids.max=100 cpuset.cpus=0-1 cpu.max=20000 50000 props: Slice=dk-node.slice CPUWeight=10 MemoryLow=52428800 TasksMax=100 AllowedCPUs=0-1 CPUQuotaPerSecUSec=400ms'
t_dk_more() {
    DK_WANT_MORE=$(echo "$DK_WANT_MORE" | sed "s/@T/$(systemctl show -p DefaultTasksMax --value)/g")
    # Side by side; waited for by pid (dockerd is a child of the suite too).
    bg=""
    for r in outlet runc; do
        timeout 90 $DK run -d --runtime $r --name dk-more-$r --cgroup-parent dk-node.slice \
            --cpu-shares 512 --memory-reservation 100m --network none $DK_IMG /bin/sleep 600 \
            </dev/null >"$OUT/dk-more-$r" 2>&1 &
        bg="$bg $!"
    done
    wait $bg
    o=$(dk_id dk-more-outlet) r=$(dk_id dk-more-runc)
    g1=$(dk_read2 "$o") r1=$(dk_read2 "$r")
    timeout 90 $DK update --cpu-shares 256 --memory-reservation 50m --pids-limit 100 --cpuset-cpus 0-1 \
        --cpu-period 50000 --cpu-quota 20000 dk-more-outlet >"$OUT/dk.out" 2>&1
    urc=$?
    timeout 90 $DK update --cpu-shares 256 --memory-reservation 50m --pids-limit 100 --cpuset-cpus 0-1 \
        --cpu-period 50000 --cpu-quota 20000 dk-more-runc >/dev/null 2>&1
    g2=$(dk_read2 "$o") r2=$(dk_read2 "$r")
    echo "NODEINFO docker cgroup-parent outlet: $g1 | update: $g2"
    echo "NODEINFO docker cgroup-parent runc: $r1 | update: $r2"
    dk_rm dk-more-outlet dk-more-runc
    if [ -n "$o" ] && [ "$g1" = "$DK_WANT_MORE" ] && [ "$g1" = "$r1" ] && [ $urc = 0 ] &&
        [ "$g2" = "$DK_WANT_MORE2" ] && [ "$g2" = "$r2" ] && [ $gone = yes ]; then
        verdict docker_cgroup_parent_update PASS "create: $g1; update: $g2; runc the same; scopes gone"
    else
        verdict docker_cgroup_parent_update FAIL "outlet '$g1' then (rc=$urc) '$g2'; runc '$r1' then '$r2'; want '$DK_WANT_MORE' then '$DK_WANT_MORE2'; gone=$gone $gone_all $(tr '\n' ' ' <"$OUT/dk-more-outlet" | cut -c1-200)"
    fi
    systemctl stop dk-node.slice dk.slice 2>/dev/null
}

t_docker() {
    t0=$(date +%s)
    if ! dk_up; then
        verdict docker_daemon FAIL "dockerd did not answer: $(tail -n 5 $DK_LOG | tr '\n' ' ' | cut -c1-400)"
        dk_down
        return
    fi
    if ! tar -C $D/rootfs -c . | timeout 120 $DK import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - $DK_IMG >"$OUT/dk.out" 2>&1; then
        verdict docker_daemon FAIL "docker import: $(dk_brief)"
        dk_down
        return
    fi
    echo "NODEINFO docker: dockerd up and the image imported in $(($(date +%s) - t0)) s"
    drv=$($DK info --format '{{.CgroupDriver}} v{{.CgroupVersion}} {{.ServerVersion}}' 2>&1)
    if [ "${drv% *}" = "systemd v2" ]; then
        verdict docker_daemon PASS "dockerd $drv, --add-runtime outlet=$RT; image imported"
    else
        verdict docker_daemon FAIL "docker info: '$drv' (want the systemd driver on v2)"
    fi
    for t in exit limits more oom stop opts; do
        t0=$(date +%s)
        t_dk_$t
        echo "NODEINFO docker $t took $(($(date +%s) - t0)) s"
        left=$(dk_left)
        [ -z "$left" ] || verdict docker_leftovers_after_$t FAIL "$left"
    done
    dk_down
    left=$(dk_left)
    if [ -z "$left" ]; then
        verdict docker_no_leftovers PASS "no docker-*.scope unit, cgroup or runtime state after every check"
    else
        verdict docker_no_leftovers FAIL "$left"
    fi
}

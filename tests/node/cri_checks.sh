# What critest's validate package checks and kubelet sends every day,
# through containerd's CRI with outlet as the runc shim's binary (handler
# "outlet"), on the systemd node. Sourced by suite.sh (its verdict, cri,
# jstr, cri_brief, containerd_up, unit_gone, file_is); run by the NODE_ONLY
# names cri_ns, cri_sec, cri_life, cri_mounts. Each check reads a real effect inside the
# container (ExecSync) or on the node, and each kind of check has a control
# that shows it can fail. Where runc (handler "runc": the same shim, the
# same SystemdCgroup) is the reference, both run the same containers.

# js TEXT: TEXT as a JSON string (the probes hold quotes).
js() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# has_lines FILE <WANTED: every line of WANTED is a whole line of FILE; the
# missing ones are in $missing. (Never in a pipe: $missing must survive.)
has_lines() {
    missing=""
    while IFS= read -r l; do
        [ -z "$l" ] && continue
        grep -qxF -- "$l" "$1" || missing="$missing [$l]"
    done
    [ -z "$missing" ]
}
# The last reply, short and on one line; backslashes become / (dash's echo,
# which prints the verdicts, would expand \n).
brief() { tr '\n\\' ' /' <"$OUT/cri.out" | cut -c1-400; }
flat() { tr '\n' ' ' <"$1" | cut -c1-${2:-500}; }
jnum() { sed -n "s/.*\"$1\": *\"\{0,1\}\([0-9.]*\).*/\1/p" "$OUT/cri.out" | head -n1; }

cri_imported=""
cri_images() {
    cri_t0=$(cut -d' ' -f1 /proc/uptime)
    [ -n "$cri_imported" ] && return 0
    containerd_up || return 1
    ctr -n k8s.io images import --base-name localhost/busybox $D/node-images.tar >"$OUT/ctr.out" 2>&1 || return 1
    for _ in $(seq 1 40); do
        cri ImageStatus '{"image":{"image":"localhost/busybox:pause"}}'
        grep -q '"repo_tags": \[".*pause' "$OUT/cri.out" && break
        sleep 0.5
    done
    cri_imported=1
}

# pod_up NAME UID HANDLER NET PID IPC HOSTNAME PRIVILEGED SYSCTLS_JSON:
# RunPodSandbox as kubelet sends it; $pod is its config, $psid its id.
pod_up() {
    mkdir -p /tmp/cri/pods/$2
    pod="{\"metadata\":{\"name\":\"$1\",\"uid\":\"$2\",\"namespace\":\"default\",\"attempt\":0},
          \"hostname\":\"$7\",\"log_directory\":\"/tmp/cri/pods/$2\",
          \"linux\":{\"cgroup_parent\":\"kubepods-besteffort-pod$2.slice\",\"sysctls\":$9,
                     \"security_context\":{\"privileged\":$8,
                        \"namespace_options\":{\"network\":$4,\"pid\":$5,\"ipc\":$6}}}}"
    cri RunPodSandbox "{\"config\":$pod,\"runtime_handler\":\"$3\"}"
    psid=$(jstr pod_sandbox_id)
    [ $rc = 0 ] && [ -n "$psid" ]
}

# ctr_up NAME COMMAND_JSON LINUX_JSON [MORE_CONFIG_FIELDS]: a started
# container in the pod $psid ($pod); its id in $cid.
ctr_up() {
    cri CreateContainer "{\"pod_sandbox_id\":\"$psid\",\"sandbox_config\":$pod,
        \"config\":{\"metadata\":{\"name\":\"$1\"},\"image\":{\"image\":\"localhost/busybox:latest\"},
                   \"command\":$2,\"log_path\":\"$1.log\",\"linux\":$3${4:+,$4}}}"
    cid=$(jstr container_id)
    [ $rc = 0 ] && [ -n "$cid" ] || return 1
    cri StartContainer "{\"container_id\":\"$cid\"}"
    [ $rc = 0 ]
}

# xs CID SCRIPT_JSON OUTFILE: ExecSync sh -c SCRIPT; its stdout to OUTFILE.
xs() {
    : >"$3"
    export CRI_STDOUT="$3"
    cri ExecSync "{\"container_id\":\"$1\",\"cmd\":[\"/bin/sh\",\"-c\",$2],\"timeout\":60}"
    unset CRI_STDOUT
}

# The pid of a task (container or sandbox) on the node.
task_pid() { ctr -n k8s.io task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }

pod_gone() { # PSID: stop and remove; rc of the removal in $rc
    cri StopPodSandbox "{\"pod_sandbox_id\":\"$1\"}"
    cri RemovePodSandbox "{\"pod_sandbox_id\":\"$1\"}"
}

LOOP='["/bin/sh","-c","while :; do sleep 1; done"]'

# took NAME: how long the test function NAME ran (since its cri_images).
took() { echo "NODEINFO $1 took $(awk -v a="$cri_t0" '{ printf "%.0f", $1 - a }' /proc/uptime) s"; }

# --- a pod with its own network namespace, hostname and sysctls ---------------
# The pause container and the app share the pod's net, ipc and uts; with
# pid POD the app sees the pause process as its pid 1, with pid CONTAINER
# its own shell. Pod sysctls: net.* lands in the pod's netns, kernel.shm*
# in its ipc namespace. A container with host network, pid and ipc reads
# the node's namespaces and systemd as pid 1 (control: the pod's
# expectations checked against it fail). RemovePodSandbox leaves nothing.
PROBE_NS='echo hostname=$(hostname)
echo comm1=$(cat /proc/1/comm)
for n in net ipc uts pid; do echo ns.$n=$(readlink /proc/self/ns/$n); done
r=$(cat /proc/sys/net/ipv4/ip_local_port_range); echo portrange=$(echo $r | tr " " -)
echo shm_rmid_forced=$(cat /proc/sys/kernel/shm_rmid_forced)
grep -q eth0: /proc/net/dev && echo eth0=yes || echo eth0=no'

t_cri_ns() {
    cri_images || { verdict cri_ns_pod_shared FAIL "containerd/images: $(tail -n 5 /tmp/containerd.log | tr '\n' ' ')"; return; }
    probe=$(js "$PROBE_NS")
    netns_before=$(ls /var/run/netns 2>/dev/null | sort | tr '\n' ' ')
    if ! pod_up crinspod crins1 outlet 0 0 0 cri-ns-pod false \
        '{"net.ipv4.ip_local_port_range":"1024 65000","kernel.shm_rmid_forced":"1"}'; then
        verdict cri_ns_pod_shared FAIL "RunPodSandbox (own netns, CNI bridge) rc=$rc $(brief) $(grep -i error /tmp/containerd.log | tail -n 2 | cut -c1-300)"
        return
    fi
    nspsid=$psid
    nspod=$pod
    ppid=$(task_pid $psid)
    nsids="$psid"
    for n in net ipc uts pid; do echo ns.$n=$(readlink /proc/$ppid/ns/$n); done >"$OUT/ns.pause"
    for n in net ipc uts pid; do echo ns.$n=$(readlink /proc/1/ns/$n); done >"$OUT/ns.node"
    cri PodSandboxStatus "{\"pod_sandbox_id\":\"$psid\"}"
    podip=$(sed -n 's/.*"network": *{"ip": *"\([^"]*\)".*/\1/p' "$OUT/cri.out")
    if ctr_up podpid "$LOOP" '{"security_context":{"namespace_options":{"network":0,"pid":0,"ipc":0}}}'; then
        nsids="$nsids $cid"
        xs $cid "$probe" "$OUT/ns.podpid"
        if has_lines "$OUT/ns.podpid" <<EOF && ! grep -qxF "$(grep ns.net "$OUT/ns.node")" "$OUT/ns.podpid"; then
hostname=cri-ns-pod
comm1=sleep
eth0=yes
portrange=1024-65000
shm_rmid_forced=1
$(cat "$OUT/ns.pause")
EOF
            verdict cri_ns_pod_shared PASS "pod ip $podip; app (pid POD): $(flat "$OUT/ns.podpid"); pause $ppid: $(flat "$OUT/ns.pause")"
        else
            verdict cri_ns_pod_shared FAIL "missing$missing; app: $(flat "$OUT/ns.podpid"); pause $ppid: $(flat "$OUT/ns.pause"); node $(grep ns.net "$OUT/ns.node") $(brief)"
        fi
    else
        verdict cri_ns_pod_shared FAIL "container: rc=$rc $(brief)"
    fi
    pod=$nspod psid=$nspsid
    if ctr_up ctrpid "$LOOP" '{"security_context":{"namespace_options":{"network":0,"pid":1,"ipc":0}}}'; then
        nsids="$nsids $cid"
        xs $cid "$probe" "$OUT/ns.ctrpid"
        if has_lines "$OUT/ns.ctrpid" <<EOF && ! grep -qxF "$(grep ns.pid "$OUT/ns.pause")" "$OUT/ns.ctrpid"; then
hostname=cri-ns-pod
comm1=sh
$(grep -v ns.pid "$OUT/ns.pause")
EOF
            verdict cri_ns_pid_container PASS "app (pid CONTAINER): its own pid ns, sh as pid 1, the pod's net/ipc/uts: $(flat "$OUT/ns.ctrpid")"
        else
            verdict cri_ns_pid_container FAIL "missing$missing (or the pause's pid ns); app: $(flat "$OUT/ns.ctrpid") $(brief)"
        fi
    else
        verdict cri_ns_pid_container FAIL "container: rc=$rc $(brief)"
    fi
    # Host namespaces: a host-network pod whose container asks for the
    # node's pid and ipc namespaces too.
    if pod_up crihostpod crihost1 outlet 2 2 2 "" false '{}'; then
        hpsid=$psid
        if ctr_up hostns "$LOOP" '{"security_context":{"namespace_options":{"network":2,"pid":2,"ipc":2}}}'; then
            xs $cid "$probe" "$OUT/ns.host"
            if has_lines "$OUT/ns.host" <<EOF; then
comm1=systemd
hostname=$(hostname)
$(cat "$OUT/ns.node")
EOF
                verdict cri_ns_host PASS "host network/pid/ipc: $(flat "$OUT/ns.host")"
            else
                verdict cri_ns_host FAIL "missing$missing; got: $(flat "$OUT/ns.host"); node: $(flat "$OUT/ns.node")"
            fi
            if has_lines "$OUT/ns.host" <<EOF; then
hostname=cri-ns-pod
comm1=sleep
eth0=yes
portrange=1024-65000
$(cat "$OUT/ns.pause")
EOF
                verdict cri_ns_control_wrong FAIL "the host container matched the pod's expectations"
            else
                verdict cri_ns_control_wrong PASS "the pod's expectations fail on the host-namespace container:$(echo "$missing" | cut -c1-300)"
            fi
        else
            verdict cri_ns_host FAIL "container: rc=$rc $(brief)"
        fi
        pod_gone $hpsid
    else
        verdict cri_ns_host FAIL "pod: rc=$rc $(brief)"
    fi
    # RemovePodSandbox leaves no state dir, scope, cgroup, mount, netns or
    # pause process. Control: the same look before the removal finds them.
    pdir=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podcrins1.slice
    leftovers() {
        for id in $nsids; do
            [ -e /run/containerd/runc/k8s.io/$id ] && echo "state:$id"
            [ -e "$pdir/cri-containerd-$id.scope" ] && echo "cgroup:$id"
            unit_gone cri-containerd-$id.scope || echo "unit:$id"
            grep -q "$id" /proc/self/mountinfo && echo "mount:$id"
        done
        kill -0 "$ppid" 2>/dev/null && echo "pid:$ppid"
        netns_now=$(ls /var/run/netns 2>/dev/null | sort | tr '\n' ' ')
        [ "$netns_now" = "$netns_before" ] || echo "netns:$netns_now"
    }
    before=$(leftovers | tr '\n' ' ')
    pod_gone $nspsid
    src=$rc
    after=$(leftovers | tr '\n' ' ')
    kids=$(find "$pdir" -mindepth 1 -type d 2>/dev/null | wc -l)
    if [ $src = 0 ] && [ -z "$after" ] && [ "$kids" = 0 ]; then
        verdict cri_ns_remove_clean PASS "after RemovePodSandbox nothing of the pod's $(echo $nsids | wc -w) ids: no state dir, scope, cgroup, mount, pause pid, netns (the empty pod slice is kubelet's to stop)"
    else
        verdict cri_ns_remove_clean FAIL "remove rc=$src; left: $after; $kids cgroups under the pod slice $(brief)"
    fi
    case "$before" in
    *state:*unit:*mount:*pid:*netns:*) verdict cri_ns_remove_control PASS "before the removal the same look found: $(echo $before | cut -c1-300)" ;;
    *) verdict cri_ns_remove_control FAIL "before the removal the look found only: $before" ;;
    esac
    systemctl stop kubepods-besteffort-podcrins1.slice kubepods-besteffort-podcrihost1.slice 2>/dev/null
    took cri_ns
}

# --- security context: outlet and runc, the same containers --------------------
# Each container's init (pid 1: pid CONTAINER) and an exec'd shell report
# their ids, capabilities, no_new_privs, seccomp mode, whether /, /sys,
# /proc/sys are read-only and the masks hold; the expectations are the
# spec's, and runc's output for the same container must be the same line
# for line. Control: one case's expectations checked on another's output.
PROBE_SEC='for f in 1 self; do
  awk -v f=$f '"'"'/^(Uid|Gid|CapEff|CapBnd|CapPrm|CapAmb|NoNewPrivs|Seccomp):/ { k = $1; $1 = ""; sub(/^ +/, ""); print f "." k $0 }
    /^Groups:/ { for (i = 2; i <= NF; i++) if ($i == 4000 || $i == 5000) n++; print "suppl" f "=" n + 0; $1 = ""; print f ".Groups:" $0 }'"'"' /proc/$f/status
done
mnt() { v=$(awk -v m="$1" '"'"'$5 == m { o = substr($6, 1, 2) } END { print (o == "" ? "none" : o) }'"'"' /proc/self/mountinfo); echo "mnt$1=$v"; }
mnt /; mnt /sys; mnt /proc/sys; mnt /proc/sysrq-trigger
[ -c /proc/kcore ] && echo kcore=masked || echo kcore=open
echo firmware=$(stat -f -c %T /sys/firmware 2>&1)
[ -b /dev/vda ] && echo vda=yes || echo vda=no
if touch /probe-w 2>/dev/null; then echo rootw=yes; rm -f /probe-w; else echo rootw=no; fi'
MASKED='["/proc/asound","/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/proc/scsi","/sys/firmware"]'
RO_PATHS='["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]'
# kubelet sends the namespace options with every container: pid CONTAINER
# makes pid 1 the container's own shell (with pid POD it is the pause).
PATHS="\"masked_paths\":$MASKED,\"readonly_paths\":$RO_PATHS,\"namespace_options\":{\"network\":2,\"pid\":1,\"ipc\":0}"
# name|security_context (JSON without a |)
SEC_CASES="ids|{\"run_as_user\":{\"value\":1000},\"run_as_group\":{\"value\":3000},\"supplemental_groups\":[4000,5000],\"readonly_rootfs\":true,\"no_new_privs\":true,\"seccomp\":{\"profile_type\":0},$PATHS}
caps|{\"capabilities\":{\"add_capabilities\":[\"NET_ADMIN\",\"SYS_TIME\"],\"drop_capabilities\":[\"CHOWN\"]},\"seccomp\":{\"profile_type\":1},$PATHS}
dropall|{\"capabilities\":{\"add_capabilities\":[\"NET_BIND_SERVICE\"],\"drop_capabilities\":[\"ALL\"]},\"seccomp\":{\"profile_type\":0},$PATHS}
priv|{\"privileged\":true,$PATHS}"

# sec_want NAME: the lines the spec implies for case NAME on this node, one
# a line. Where containerd decides and the spec does not say (a non-root
# user's effective set, the primary gid among the groups), runc's output
# is the reference (the _runc checks).
sec_want() {
    all=$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)
    def=00000000a80425fb # containerd's default set
    case $1 in
    ids) printf '%s\n' "1.Uid:1000 1000 1000 1000" "1.Gid:3000 3000 3000 3000" suppl1=2 \
        "self.Uid:1000 1000 1000 1000" "self.Gid:3000 3000 3000 3000" supplself=2 "1.CapBnd:$def" \
        "1.NoNewPrivs:1" "1.Seccomp:2" "self.NoNewPrivs:1" "self.Seccomp:2" \
        mnt/=ro rootw=no mnt/sys=ro mnt/proc/sys=ro mnt/proc/sysrq-trigger=ro kcore=masked firmware=tmpfs vda=no ;;
    caps) printf '%s\n' "1.Uid:0 0 0 0" "1.CapEff:00000000aa0435fa" "1.CapBnd:00000000aa0435fa" \
        "self.CapEff:00000000aa0435fa" "1.NoNewPrivs:0" "1.Seccomp:0" "self.Seccomp:0" \
        mnt/=rw rootw=yes mnt/sys=ro mnt/proc/sys=ro kcore=masked firmware=tmpfs vda=no ;;
    dropall) printf '%s\n' "1.CapEff:0000000000000400" "1.CapBnd:0000000000000400" \
        "self.CapEff:0000000000000400" "1.Seccomp:2" "self.Seccomp:2" kcore=masked ;;
    priv) printf '%s\n' "1.CapEff:$all" "1.CapBnd:$all" "self.CapEff:$all" "1.Seccomp:0" "self.Seccomp:0" \
        mnt/sys=rw mnt/proc/sys=none kcore=open firmware=sysfs vda=yes rootw=yes ;;
    esac
}

# sec_run HANDLER UID: a host-network pod (privileged allowed) on HANDLER
# with every case; outputs in $OUT/sec.HANDLER.NAME, the pod's id in $psid.
sec_run() {
    if ! pod_up crisec$1 $2 $1 2 1 0 "" true '{}'; then
        echo "pod: rc=$rc $(brief)" >"$OUT/sec.$1.err"
        return 1
    fi
    echo "$SEC_CASES" >"$OUT/sec.cases"
    while IFS='|' read -r name ctx; do
        if ctr_up sec-$name "$LOOP" "{\"security_context\":$ctx}"; then
            xs $cid "$probe" "$OUT/sec.$1.$name"
            echo "NODEINFO cri_sec $1 $name: exec rc=$rc, $(wc -l <"$OUT/sec.$1.$name") lines"
        else
            echo "container: rc=$rc $(brief)" >"$OUT/sec.$1.$name"
        fi
    done <"$OUT/sec.cases"
}

t_cri_sec() {
    cri_images || { verdict cri_sec_ids FAIL "containerd/images: $(tail -n 5 /tmp/containerd.log | tr '\n' ' ')"; return; }
    probe=$(js "$PROBE_SEC")
    sec_run outlet crisec1 || { verdict cri_sec_ids FAIL "outlet $(cat "$OUT/sec.outlet.err")"; return; }
    osec=$psid
    rsec=""
    sec_run runc crisec2 && rsec=$psid
    for name in ids caps dropall priv; do
        o=$OUT/sec.outlet.$name
        sec_want $name >"$OUT/want.$name"
        if has_lines "$o" <"$OUT/want.$name"; then
            verdict cri_sec_$name PASS "$(grep -v '^self\.' "$o" | tr '\n' ' ' | cut -c1-600)"
        else
            verdict cri_sec_$name FAIL "missing$missing; got: $(flat "$o" 600)"
        fi
        r=$OUT/sec.runc.$name
        if [ -z "$rsec" ]; then
            verdict cri_sec_${name}_runc FAIL "runc pod: $(cat "$OUT/sec.runc.err")"
        elif diff "$r" "$o" >"$OUT/sec.diff" 2>&1; then
            verdict cri_sec_${name}_runc PASS "outlet and runc report the same $(wc -l <"$o") lines"
        else
            verdict cri_sec_${name}_runc FAIL "runc < > outlet: $(grep '^[<>]' "$OUT/sec.diff" | tr '\n' ' ' | cut -c1-500)"
        fi
    done
    if diff "$OUT/sec.runc.ids" "$OUT/sec.outlet.caps" >/dev/null 2>&1; then
        verdict cri_sec_runc_control FAIL "runc's ids output equals outlet's caps output"
    else
        verdict cri_sec_runc_control PASS "the parity check tells cases apart: runc's ids and outlet's caps differ in $(diff "$OUT/sec.runc.ids" "$OUT/sec.outlet.caps" | grep -c '^<') lines"
    fi
    if has_lines "$OUT/sec.outlet.caps" <"$OUT/want.ids"; then
        verdict cri_sec_control_wrong FAIL "the caps container matched the ids expectations"
    else
        verdict cri_sec_control_wrong PASS "the ids expectations fail on the caps container:$(echo "$missing" | cut -c1-200)"
    fi
    pod_gone $osec
    [ -n "$rsec" ] && pod_gone $rsec
    systemctl stop kubepods-besteffort-podcrisec1.slice kubepods-besteffort-podcrisec2.slice 2>/dev/null
    took cri_sec
}

# --- the lifecycle calls kubelet makes --------------------------------------------
# cstatus CID: ContainerStatus; state, exit code, reason, times in $st_*.
cstatus() {
    cri ContainerStatus "{\"container_id\":\"$1\"}"
    st_state=$(jnum state) st_exit=$(jnum exit_code) st_reason=$(jstr reason)
    st_created=$(jnum created_at) st_started=$(jnum started_at) st_finished=$(jnum finished_at)
}
wait_exited() { # CID: up to 60 s
    for _ in $(seq 1 120); do
        cstatus $1
        [ "$st_state" = 2 ] && return 0
        sleep 0.5
    done
    return 1
}
INSIDE='d=/sys/fs/cgroup; [ -f $d/cpu.max ] || d=$d$(sed -n s/^0:://p /proc/self/cgroup); cat $d/cpu.max $d/memory.max
awk '"'"'/^Cpus_allowed_list/ { print "cpus=" $2 }'"'"' /proc/1/status; echo oom_score_adj=$(cat /proc/1/oom_score_adj)'
# kubelet's resources for a container: limits, and the oom_score_adj of its
# QoS class (an odd value here, to be told from any default).
# pid CONTAINER: the probe's pid 1 is the box's own shell, not the pause.
BOX_RES='{"resources":{"cpu_period":100000,"cpu_quota":25000,"memory_limit_in_bytes":536870912,"oom_score_adj":987},
          "security_context":{"namespace_options":{"network":2,"pid":1,"ipc":0}}}'
UPDATE='"linux":{"cpu_period":100000,"cpu_quota":50000,"memory_limit_in_bytes":268435456,"cpuset_cpus":"1","oom_score_adj":987}'
# update_box CID OUTPREFIX: the container's view before and after the update.
update_box() {
    xs $1 "$(js "$INSIDE")" "$2.before"
    cri UpdateContainerResources "{\"container_id\":\"$1\",$UPDATE}"
    urc=$rc
    xs $1 "$(js "$INSIDE")" "$2.after"
}

t_cri_life() {
    cri_images || { verdict cri_exec_timeout FAIL "containerd/images: $(tail -n 5 /tmp/containerd.log | tr '\n' ' ')"; return; }
    if ! pod_up crilife crilife1 outlet 2 1 0 "" false '{}'; then
        verdict cri_exec_timeout FAIL "pod: rc=$rc $(brief)"
        return
    fi
    lpsid=$psid
    ldir=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podcrilife1.slice
    if ! ctr_up box "$LOOP" "$BOX_RES"; then
        verdict cri_exec_timeout FAIL "container: rc=$rc $(brief)"
        pod_gone $lpsid
        return
    fi
    box=$cid
    bdir=$ldir/cri-containerd-$box.scope

    # ExecSync whose timeout expires: the exec'd process is killed and the
    # call returns soon after. The watcher proves it ran first. Control: a
    # command within its timeout reports its exit code.
    (for _ in $(seq 1 100); do pgrep -f '^/bin/sleep 37$' && break; sleep 0.1; done) >"$OUT/seen37" 2>&1 &
    wpid=$!
    cri ExecSync "{\"container_id\":\"$box\",\"cmd\":[\"/bin/sleep\",\"37\"],\"timeout\":6}"
    xrc=$rc xsecs=$(jnum seconds) xout=$(brief)
    wait $wpid
    left=""
    for _ in $(seq 1 20); do
        left=$(pgrep -f '^/bin/sleep 37$')
        [ -z "$left" ] && break
        sleep 0.5
    done
    if [ -s "$OUT/seen37" ] && [ -z "$left" ] && awk -v s="$xsecs" 'BEGIN { exit !(s >= 6 && s < 20) }' &&
        { [ $xrc = 1 ] || grep -q '"exit_code": 137' "$OUT/cri.out"; }; then
        verdict cri_exec_timeout PASS "sleep 37 (pid $(head -n1 "$OUT/seen37")) with timeout 6: returned after ${xsecs}s: $xout; process gone"
    else
        verdict cri_exec_timeout FAIL "seen=$(flat "$OUT/seen37") left=$left rc=$xrc after ${xsecs}s: $xout"
    fi
    cri ExecSync "{\"container_id\":\"$box\",\"cmd\":[\"/bin/sh\",\"-c\",\"sleep 1; exit 5\"],\"timeout\":30}"
    if [ $rc = 0 ] && grep -q '"exit_code": 5' "$OUT/cri.out"; then
        verdict cri_exec_timeout_control PASS "within its timeout: exit 5 reported after $(jnum seconds)s"
    else
        verdict cri_exec_timeout_control FAIL "rc=$rc $(brief)"
    fi

    # Exec through containerd's streaming server (WebSocket, v4 channels).
    cri Exec "{\"container_id\":\"$box\",\"cmd\":[\"/bin/sh\",\"-c\",\"echo out-\$((6*7)); echo err-x >&2; exit 3\"],\"stdout\":true,\"stderr\":true}"
    if grep -q '"stdout": "out-42\\n"' "$OUT/cri.out" && grep -q '"stderr": "err-x\\n"' "$OUT/cri.out" &&
        grep -q 'NonZeroExitCode' "$OUT/cri.out" && grep -q 'ExitCode.*3' "$OUT/cri.out"; then
        verdict cri_exec_stream PASS "$(brief)"
    else
        verdict cri_exec_stream FAIL "$(brief)"
    fi
    cri Exec "{\"container_id\":\"$box\",\"cmd\":[\"/bin/true\"],\"stdout\":true,\"stderr\":true}"
    if grep -q '\\"status\\":\\"Success\\"' "$OUT/cri.out" && ! grep -q NonZeroExitCode "$OUT/cri.out"; then
        verdict cri_exec_stream_control PASS "exit 0 streams Success: $(brief)"
    else
        verdict cri_exec_stream_control FAIL "$(brief)"
    fi

    # A logging container: Attach reads its stdout; ReopenContainerLog
    # makes a new file after the old one was renamed (control: without
    # the call no new file appears).
    if ctr_up logger '["/bin/sh","-c","i=0; while :; do echo line$i; i=$((i+1)); sleep 1; done"]' '{}'; then
        lg=$cid
        cri Attach "{\"container_id\":\"$lg\",\"stdout\":true,\"stderr\":true}" line
        if [ $rc = 0 ] && grep -q '"end": "seen"' "$OUT/cri.out" && grep -q '"stdout": "line[0-9]' "$OUT/cri.out"; then
            verdict cri_attach PASS "$(brief)"
        else
            verdict cri_attach FAIL "rc=$rc $(brief)"
        fi
        export CRI_STREAM_LIMIT=4
        cri Attach "{\"container_id\":\"$box\",\"stdout\":true,\"stderr\":true}" line
        unset CRI_STREAM_LIMIT
        if grep -q '"end": "seen"' "$OUT/cri.out"; then
            verdict cri_attach_control FAIL "attach to a silent container saw output: $(brief)"
        else
            verdict cri_attach_control PASS "attach to a silent container sees nothing: $(brief)"
        fi
        log=/tmp/cri/pods/crilife1/logger.log
        for _ in $(seq 1 20); do [ "$(wc -l <$log 2>/dev/null)" -ge 2 ] 2>/dev/null && break; sleep 0.5; done
        mv $log $log.1
        sleep 2.5
        [ -e $log ] && nonew=no || nonew=yes
        cri ReopenContainerLog "{\"container_id\":\"$lg\"}"
        orc=$rc
        sleep 1
        s1=$(wc -c <$log.1)
        sleep 2.5
        s2=$(wc -c <$log.1)
        n=$(grep -c ' stdout F line[0-9]' $log 2>/dev/null)
        if [ $orc = 0 ] && [ "${n:-0}" -ge 2 ] && [ "$s1" = "$s2" ]; then
            verdict cri_reopen_log PASS "new $log has $n lines ($(tail -n1 $log)); the renamed file stopped at $s2 bytes"
        else
            verdict cri_reopen_log FAIL "rc=$orc new lines=$n renamed $s1 -> $s2 bytes $(brief)"
        fi
        if [ $nonew = yes ]; then
            verdict cri_reopen_log_control PASS "before ReopenContainerLog the renamed log went on and no new file appeared"
        else
            verdict cri_reopen_log_control FAIL "a new log file appeared without ReopenContainerLog"
        fi
    else
        verdict cri_attach FAIL "container: rc=$rc $(brief)"
    fi

    # UpdateContainerResources lands in the scope's files, systemd's
    # properties and the container's own view. Control: before the call
    # the same check fails.
    if file_is "$bdir/cpu.max" "50000 100000"; then
        verdict cri_update_control FAIL "cpu.max had the new value before the update: $seen"
    else
        verdict cri_update_control PASS "before the update: $seen"
    fi
    update_box $box "$OUT/upd.outlet"
    inner=$(flat "$OUT/upd.outlet.after")
    mm=$(systemctl show -p MemoryMax --value cri-containerd-$box.scope)
    if [ $urc = 0 ] && file_is "$bdir/cpu.max" "50000 100000" && file_is "$bdir/memory.max" 268435456 &&
        [ "$mm" = 268435456 ] && has_lines "$OUT/upd.outlet.after" <<EOF; then
50000 100000
268435456
EOF
        verdict cri_update PASS "${seen#$CG/}, cpu.max 50000 100000, MemoryMax=$mm, inside: $inner"
    else
        verdict cri_update FAIL "rc=$urc $seen cpu.max=$(cat $bdir/cpu.max) MemoryMax=$mm inside: $inner $(brief)"
    fi
    # The cpuset (kubelet's static CPU manager) and the oom_score_adj set at
    # create and kept by the update. Control: the cpuset before the call.
    if has_lines "$OUT/upd.outlet.after" <<EOF && file_is "$bdir/cpuset.cpus" 1; then
cpus=1
oom_score_adj=987
EOF
        verdict cri_update_cpuset PASS "after: $inner; ${seen#$CG/}; before: $(flat "$OUT/upd.outlet.before")"
    else
        verdict cri_update_cpuset FAIL "missing$missing; $seen; after: $inner; before: $(flat "$OUT/upd.outlet.before")"
    fi
    if grep -qx cpus=1 "$OUT/upd.outlet.before"; then
        verdict cri_update_cpuset_control FAIL "cpus=1 before the update"
    else
        verdict cri_update_cpuset_control PASS "before the update: $(flat "$OUT/upd.outlet.before")"
    fi

    # ContainerStats: the cpu value lies between the scope's usage_usec
    # read before and after the call; memory within 512 KiB of
    # memory.current read around it (the box forks a sleep every second,
    # which one full run caught at +108 KiB). Control: the pause
    # container's cgroup does not match.
    u1=$(awk '/^usage_usec/ { print $2 }' $bdir/cpu.stat)
    m1=$(cat $bdir/memory.current)
    cri ContainerStats "{\"container_id\":\"$box\"}"
    u2=$(awk '/^usage_usec/ { print $2 }' $bdir/cpu.stat)
    m2=$(cat $bdir/memory.current)
    cpu=$(sed -n 's/.*"usage_core_nano_seconds": *{"value": *"\([0-9]*\)".*/\1/p' "$OUT/cri.out")
    mem=$(sed -n 's/.*"usage_bytes": *{"value": *"\([0-9]*\)".*/\1/p' "$OUT/cri.out")
    if [ -n "$cpu" ] && [ -n "$mem" ] &&
        awk -v c="$cpu" -v a="$u1" -v b="$u2" -v m="$mem" -v x="$m1" -v y="$m2" \
            'BEGIN { lo = (x < y ? x : y) - 524288; hi = (x > y ? x : y) + 524288; exit !(c >= a * 1000 && c <= b * 1000 && m >= lo && m <= hi) }'; then
        verdict cri_stats_values PASS "cpu ${cpu} ns in [${u1}000, ${u2}000]; memory ${mem} B, memory.current ${m1}..${m2}"
    else
        verdict cri_stats_values FAIL "cpu=${cpu} ns vs usage_usec ${u1}..${u2}; memory=${mem} vs ${m1}..${m2} $(brief)"
    fi
    pz=$(awk '/^usage_usec/ { print $2 }' $ldir/cri-containerd-$lpsid.scope/cpu.stat)
    if [ -n "$cpu" ] && [ -n "$pz" ] && [ "$cpu" = "${pz}000" ]; then
        verdict cri_stats_control FAIL "the pause's usage ${pz} us matched"
    else
        verdict cri_stats_control PASS "the pause's cgroup (${pz:-?} us) does not match ${cpu} ns"
    fi
    cri ListContainerStats "{\"filter\":{\"pod_sandbox_id\":\"$lpsid\"}}"
    if [ $rc = 0 ] && grep -q "\"id\": \"$box\"" "$OUT/cri.out" && grep -q "\"id\": \"${lg:-none}\"" "$OUT/cri.out"; then
        verdict cri_list_stats PASS "ListContainerStats of the pod lists box and logger: $(grep -o '"usage_core_nano_seconds": {"value": "[0-9]*"}' "$OUT/cri.out" | tr '\n' ' ')"
    else
        verdict cri_list_stats FAIL "rc=$rc $(brief)"
    fi

    # StopContainer with a grace period: a shell that exits 7 on SIGTERM
    # stops at once; one that ignores SIGTERM is killed after the grace
    # period (137). Each is the other's control. Their ContainerStatus
    # carries state EXITED, the exit code, reason and ordered times.
    if ctr_up term "[\"/bin/sh\",\"-c\",\"trap 'exit 7' TERM; while :; do sleep 1; done\"]" '{}'; then
        t=$cid
        cri StopContainer "{\"container_id\":\"$t\",\"timeout\":30}"
        s1=$(jnum seconds) r1=$rc
        cstatus $t
        if [ $r1 = 0 ] && [ "$st_state" = 2 ] && [ "$st_exit" = 7 ] && [ "$st_reason" = Error ] &&
            awk -v s="$s1" 'BEGIN { exit !(s < 10) }' && [ "$st_created" -gt 0 ] &&
            [ "$st_started" -ge "$st_created" ] && [ "$st_finished" -gt "$st_started" ]; then
            verdict cri_stop_term PASS "stopped in ${s1}s of 30 s grace: exit $st_exit reason $st_reason, created <= started < finished"
        else
            verdict cri_stop_term FAIL "rc=$r1 ${s1}s state=$st_state exit=$st_exit reason=$st_reason times $st_created $st_started $st_finished $(brief)"
        fi
        termreason=$st_reason
    else
        verdict cri_stop_term FAIL "container: rc=$rc $(brief)"
    fi
    if ctr_up deaf "[\"/bin/sh\",\"-c\",\"trap '' TERM; while :; do sleep 1; done\"]" '{}'; then
        t=$cid
        cri StopContainer "{\"container_id\":\"$t\",\"timeout\":4}"
        s1=$(jnum seconds) r1=$rc
        cstatus $t
        if [ $r1 = 0 ] && [ "$st_state" = 2 ] && [ "$st_exit" = 137 ] && awk -v s="$s1" 'BEGIN { exit !(s >= 4) }'; then
            verdict cri_stop_kill PASS "SIGTERM ignored: killed after ${s1}s (grace 4 s), exit $st_exit reason $st_reason"
        else
            verdict cri_stop_kill FAIL "rc=$r1 ${s1}s state=$st_state exit=$st_exit reason=$st_reason $(brief)"
        fi
    else
        verdict cri_stop_kill FAIL "container: rc=$rc $(brief)"
    fi

    # OOM: reason OOMKilled, exit 137, on outlet and (the reference) runc.
    # Control: the SIGTERM container's reason is not OOMKilled.
    oom_case() { # -> $oom_res
        if ctr_up oom '["/bin/probe","mem","128"]' '{"resources":{"memory_limit_in_bytes":67108864}}'; then
            wait_exited $cid
            oom_res="state=$st_state exit=$st_exit reason=$st_reason"
        else
            oom_res="container: rc=$rc $(brief)"
        fi
    }
    oom_case
    if [ "$oom_res" = "state=2 exit=137 reason=OOMKilled" ]; then
        verdict cri_oom_reason PASS "probe mem 128 under 64 MiB: $oom_res"
    else
        verdict cri_oom_reason FAIL "$oom_res"
    fi
    if [ "${termreason:-}" != OOMKilled ]; then
        verdict cri_oom_reason_control PASS "the SIGTERM-stopped container's reason: ${termreason:-none}"
    else
        verdict cri_oom_reason_control FAIL "the SIGTERM-stopped container reads OOMKilled"
    fi
    pod_gone $lpsid
    # runc: the same OOM (information) and the same update (compared).
    if pod_up crilifer crilife2 runc 2 1 0 "" false '{}'; then
        oom_case
        echo "NODEINFO cri OOM under runc: $oom_res"
        if ctr_up box "$LOOP" "$BOX_RES"; then
            update_box $cid "$OUT/upd.runc"
            if cat "$OUT/upd.runc.before" "$OUT/upd.runc.after" >"$OUT/upd.runc" &&
                cat "$OUT/upd.outlet.before" "$OUT/upd.outlet.after" >"$OUT/upd.outlet" &&
                diff "$OUT/upd.runc" "$OUT/upd.outlet" >"$OUT/upd.diff"; then
                verdict cri_update_runc PASS "outlet and runc read the same before and after: $(flat "$OUT/upd.runc")"
            else
                verdict cri_update_runc FAIL "runc < > outlet: $(grep '^[<>]' "$OUT/upd.diff" | tr '\n' ' ')"
            fi
        else
            verdict cri_update_runc FAIL "runc container: rc=$rc $(brief)"
        fi
        pod_gone $psid
    else
        verdict cri_update_runc FAIL "runc pod: rc=$rc $(brief)"
    fi
    systemctl stop kubepods-besteffort-podcrilife1.slice kubepods-besteffort-podcrilife2.slice 2>/dev/null
    took cri_life
}

# --- volumes and mount propagation (critest's propagation tests) --------------
# One host directory as a read-only volume and as PRIVATE,
# HOST_TO_CONTAINER (rslave) and BIDIRECTIONAL (rshared; privileged)
# mounts. A ramfs mounted on the node after the start shows through the
# rslave and rshared mounts (control: not through the private ones); runc
# runs the same container and must read the same. A ramfs mounted in the
# container under the rshared mount reaches the node under both, as
# Kubernetes' Bidirectional volumes (CSI node plugins) need: CRI sets
# rootfsPropagation rshared and the bind's rbind+rshared, and outlet keeps
# such a bind a peer of its host source (tests/bidir_s8.rs); runc's result
# is the control that the look sees such a mount.
PROBE_MNT='mount -t ramfs ctrmnt /p-shared/fromctr && echo ctrmount=ok || echo ctrmount=fail
for m in vol p-private p-slave p-shared; do echo $m=$(stat -f -c %T /$m/fromhost); done
awk '"'"'$5 == "/vol" { print "vol.mode=" substr($6, 1, 2) }'"'"' /proc/self/mountinfo
echo marker=$(cat /vol/marker)
if touch /vol/x 2>/dev/null; then echo volw=yes; else echo volw=no; fi'

t_cri_mounts() {
    cri_images || { verdict cri_mount_propagation FAIL "containerd/images: $(tail -n 5 /tmp/containerd.log | tr '\n' ' ')"; return; }
    probe=$(js "$PROBE_MNT")
    for h in outlet runc; do
        H=/tmp/cri/prop-$h
        mkdir -p $H/fromhost $H/fromctr
        echo m >$H/marker
        mp="[{\"container_path\":\"/vol\",\"host_path\":\"$H\",\"readonly\":true},
             {\"container_path\":\"/p-private\",\"host_path\":\"$H\",\"propagation\":0},
             {\"container_path\":\"/p-slave\",\"host_path\":\"$H\",\"propagation\":1},
             {\"container_path\":\"/p-shared\",\"host_path\":\"$H\",\"propagation\":2}]"
        if ! pod_up crimnt$h crimnt$h $h 2 1 0 "" true '{}'; then
            echo "pod: rc=$rc $(brief)" >"$OUT/mnt.$h"
        elif ctr_up mnt "$LOOP" '{"security_context":{"privileged":true,"namespace_options":{"network":2,"pid":1,"ipc":0}}}' \
            "\"mounts\":$mp"; then
            mount -t ramfs nodemnt $H/fromhost
            xs $cid "$probe" "$OUT/mnt.$h"
            echo "host.fromctr=$(stat -f -c %T $H/fromctr)" >>"$OUT/mnt.$h"
            pod_gone $psid
        else
            echo "container: rc=$rc $(brief)" >"$OUT/mnt.$h"
            pod_gone $psid
        fi
        for m in $H/fromctr $H/fromhost; do
            for _ in 1 2 3 4; do mountpoint -q $m && umount $m; done
        done
        rm -rf $H
        systemctl stop kubepods-besteffort-podcrimnt$h.slice 2>/dev/null
    done
    if has_lines "$OUT/mnt.outlet" <<EOF; then
ctrmount=ok
p-slave=ramfs
p-shared=ramfs
vol.mode=ro
volw=no
marker=m
EOF
        verdict cri_mount_propagation PASS "$(flat "$OUT/mnt.outlet")"
    else
        verdict cri_mount_propagation FAIL "missing$missing; got: $(flat "$OUT/mnt.outlet")"
    fi
    if [ -s "$OUT/mnt.outlet" ] && ! grep -qx p-private=ramfs "$OUT/mnt.outlet" && ! grep -qx vol=ramfs "$OUT/mnt.outlet"; then
        verdict cri_mount_private_control PASS "the private mounts do not see the node's ramfs: $(grep -E '^(p-private|vol)=' "$OUT/mnt.outlet" | tr '\n' ' ')"
    else
        verdict cri_mount_private_control FAIL "$(flat "$OUT/mnt.outlet")"
    fi
    grep -v '^host\.' "$OUT/mnt.runc" >"$OUT/mnt.runc.in" 2>/dev/null
    grep -v '^host\.' "$OUT/mnt.outlet" >"$OUT/mnt.outlet.in" 2>/dev/null
    if [ -s "$OUT/mnt.outlet.in" ] && diff "$OUT/mnt.runc.in" "$OUT/mnt.outlet.in" >"$OUT/mnt.diff" 2>&1; then
        verdict cri_mount_runc PASS "inside, outlet and runc read the same $(wc -l <"$OUT/mnt.outlet.in") lines"
    else
        verdict cri_mount_runc FAIL "runc < > outlet: $(grep '^[<>]' "$OUT/mnt.diff" | tr '\n' ' ' | cut -c1-400)"
    fi
    if grep -qx ctrmount=ok "$OUT/mnt.outlet" && grep -qx host.fromctr=ramfs "$OUT/mnt.outlet" &&
        grep -qx host.fromctr=ramfs "$OUT/mnt.runc"; then
        verdict cri_mount_bidirectional PASS "the container's own mount under its Bidirectional (rshared) volume reaches the node, as with runc: outlet $(grep '^host' "$OUT/mnt.outlet"); runc $(grep '^host' "$OUT/mnt.runc")"
    else
        verdict cri_mount_bidirectional FAIL "outlet: $(grep -E '^(ctrmount|host)' "$OUT/mnt.outlet" | tr '\n' ' '); runc: $(grep -E '^(ctrmount|host)' "$OUT/mnt.runc" | tr '\n' ' ')"
    fi
    took cri_mounts
}

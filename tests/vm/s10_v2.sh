# Session 10's behaviour on cgroup v2 (sourced by tests.sh; busybox sh):
# test_userns_join (a user namespace joined by path with new namespaces:
# the init forks pid 1 after its joins, src/process/init_fork.rs) and
# test_freeze_nested (a container that froze a cgroup below its own, as
# tests/attack_s10.rs does on v1).

# The init's pid from `state` (empty when there is none).
s10_pid() { # id
    "$RUNTIME" --root "$RTROOT" state "$1" 2>/dev/null | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$'
}

# Whether PID is a live process: a zombie (reparented to the VM's PID 1,
# which may not have reaped it yet) is dead.
s10_alive() { # pid
    s10_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$s10_st" ] && [ "$s10_st" != Z ]
}

# Up to 10 s until FILE's line count is N.
s10_wait_lines() { # file n
    i=0
    while [ $i -lt 100 ]; do
        [ "$(wc -l <"$1" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# The holder (a user namespace of its own, 0 -> 100000) runs; a container
# joins its user namespace by path and makes pid, net, ipc, uts and mount
# namespaces, with memory and cpu limits. On v2 the init is cloned into
# the container's cgroup (CLONE_INTO_CGROUP) and forks pid 1 there. After
# `create --pid-file` the cgroup holds that pid 1 alone (the intermediate
# is gone) and the staged pid file names it. After `start`: the state's
# pid is pid 1 of a pid namespace of its own (NSpid) in the holder's user
# namespace, /proc/PID/cgroup is the state's cgroup, whose limits are the
# bundle's and which holds pid 1 and its child only. delete --force kills
# both and removes the cgroup. Then a joiner with a 64 MiB limit touching
# 128 MiB is OOM-killed: `run` exits 137 with oom_kill counted. Controls:
# the holder's /proc/PID/cgroup is another path, the parent's memory.max
# and cpu.max are max, oom_kill is 0 before the OOM run.
test_userns_join() {
    n=userns_join id=vm-ujoin hid=vm-ujoin-holder oid=vm-ujoin-oom
    setup_parent $n || { verdict $n FAIL "cannot create parent cgroup"; return; }
    timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" run -d --bundle "$BUNDLES/userns_holder" $hid \
        </dev/null >"$OUT/$hid.out" 2>"$OUT/$hid.err"
    hrc=$?
    hp=$(s10_pid $hid)
    if [ "$hrc" != 0 ] || [ -z "$hp" ]; then
        "$RUNTIME" --root "$RTROOT" delete --force $hid >/dev/null 2>&1
        finish $n $id FAIL "holder: run -d rc=$hrc pid='$hp' err: $(errline "$OUT/$hid.err")"
        return
    fi
    for b in userns_join userns_join_oom; do
        sed -i "s/__HOLDER__/$hp/" "$BUNDLES/$b/config.json"
    done
    # create + start, with a pid file: created, the forked pid 1 waits in
    # the cgroup alone (the intermediate is gone) and the pid file names it.
    timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" create --pid-file "$OUT/$id.pid" \
        --bundle "$BUNDLES/$n" $id </dev/null >"$OUT/$id.out" 2>"$OUT/$id.err"
    rc=$?
    p=$(s10_pid $id)
    pidfile=$(cat "$OUT/$id.pid" 2>/dev/null)
    ctr=$CG/vmtest/$n/ctr
    created=$(tr '\n' ' ' <"$ctr/cgroup.procs" 2>/dev/null)
    "$RUNTIME" --root "$RTROOT" start $id >>"$OUT/$id.out" 2>>"$OUT/$id.err"
    src=$?
    s10_wait_lines "$ctr/cgroup.procs" 2
    procs=$(tr '\n' ' ' <"$ctr/cgroup.procs" 2>/dev/null)
    nspid=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null | tr '\t' ' ')
    own=$(cat "/proc/$p/cgroup" 2>/dev/null)
    hown=$(cat "/proc/$hp/cgroup" 2>/dev/null)
    state_cg=$(grep -o '"unified": *"[^"]*"' "$RTROOT/$id/state.json" 2>/dev/null | sed 's/.*"\([^"]*\)"$/\1/')
    userns=no pidns=new
    [ -n "$p" ] && [ "$(readlink /proc/$p/ns/user)" = "$(readlink /proc/$hp/ns/user)" ] && userns=holder
    for q in $hp $$; do
        [ "$(readlink /proc/$p/ns/pid)" = "$(readlink /proc/$q/ns/pid)" ] && pidns="same-as-$q"
    done
    # Every process of the cgroup is in the holder's user namespace.
    others=""
    for q in $procs; do
        [ "$(readlink /proc/$q/ns/user)" = "$(readlink /proc/$hp/ns/user)" ] || others="$others $q"
    done
    mem=$(cat "$ctr/memory.max" 2>/dev/null)
    cpu=$(cat "$ctr/cpu.max" 2>/dev/null)
    pmem=$(cat "$CG/vmtest/$n/memory.max")
    pcpu=$(cat "$CG/vmtest/$n/cpu.max")
    child=""
    for q in $procs; do [ "$q" != "$p" ] && child=$q; done
    "$RUNTIME" --root "$RTROOT" delete --force $id >"$OUT/$id.del" 2>&1
    drc=$?
    p_alive=no c_alive=no ctr_left=no
    [ -n "$p" ] && s10_alive "$p" && p_alive=yes
    [ -n "$child" ] && s10_alive "$child" && c_alive=yes
    [ -d "$ctr" ] && ctr_left=yes
    ev=$CG/vmtest/$n/memory.events
    oom0=$(sed -n 's/^oom_kill \([0-9]*\)/\1/p' "$ev")
    timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" run --bundle "$BUNDLES/userns_join_oom" $oid \
        </dev/null >"$OUT/$oid.out" 2>"$OUT/$oid.err"
    orc=$?
    oom1=$(sed -n 's/^oom_kill \([0-9]*\)/\1/p' "$ev")
    "$RUNTIME" --root "$RTROOT" delete --force $oid >/dev/null 2>&1
    oom_left=no
    [ -d "$CG/vmtest/$n/oom" ] && oom_left=yes
    "$RUNTIME" --root "$RTROOT" delete --force $hid >"$OUT/$hid.del" 2>&1
    hdrc=$?
    detail="holder $hp ($hown); joiner: create rc=$rc pid $p pid file '$pidfile' cgroup.procs while created [$created] start rc=$src; NSpid '$nspid' userns=$userns pidns=$pidns cgroup '$own' state '$state_cg' procs [$procs] outside the userns [$others] memory.max=$mem cpu.max='$cpu' (parent $pmem '$pcpu'); delete --force rc=$drc pid 1 alive=$p_alive child $child alive=$c_alive cgroup left=$ctr_left; oom joiner: rc=$orc oom_kill $oom0 -> $oom1 cgroup left=$oom_left; holder delete rc=$hdrc"
    if [ "$rc" = 0 ] && [ -n "$p" ] && [ "$pidfile" = "$p" ] && [ "$created" = "$p " ] && [ "$src" = 0 ] &&
        [ "${nspid##* }" = 1 ] && [ "${nspid%% *}" = "$p" ] &&
        [ $userns = holder ] && [ $pidns = new ] && [ "$own" = "0::/vmtest/$n/ctr" ] &&
        [ "$state_cg" = "$ctr" ] && [ "$hown" = "0::/vmtest/$n/holder" ] &&
        [ "$(echo $procs | wc -w)" = 2 ] && [ -n "$child" ] && [ -z "$others" ] &&
        [ "$mem" = $((64 * 1024 * 1024)) ] && [ "$cpu" = "25000 100000" ] &&
        [ "$pmem" = max ] && [ "$pcpu" = "max 100000" ] &&
        [ "$drc" = 0 ] && [ $p_alive = no ] && [ $c_alive = no ] && [ $ctr_left = no ] &&
        [ "${oom0:-x}" = 0 ] && [ "$orc" = 137 ] && [ "${oom1:-0}" -ge 1 ] && [ $oom_left = no ] &&
        [ "$hdrc" = 0 ]; then
        finish $n $id PASS "$detail"
    else
        finish $n $id FAIL "$detail err: $(errline "$OUT/$id.err") $(errline "$OUT/$id.del") $(errline "$OUT/$oid.err") $(errline "$OUT/$hid.del")"
    fi
}

# One container of a freeze_* bundle (see bundles.sh) with ACTION
# (delete: delete --force; kill: kill KILL, then a plain delete). Before
# the action, the control: f is frozen (cgroup.events "frozen 1", its
# counter counted to 3 or more and then stood still for 0.5 s) and the
# container's own cgroup is not. After it: the init and every process of f
# are dead, the state and the cgroup (f with it) are gone, and kill KILL
# returned with the container stopped, not after its wait.
s10_freeze_case() { # bundle action
    b=$1 act=$2 id=vm-fz-$1-$2
    setup_parent $b || { echo "FAIL $b/$act: cannot create parent cgroup"; return; }
    ctr=$CG/vmtest/$b/ctr
    # The frozen cgroup: f, or in freeze_own the container's own.
    f=$ctr/f
    [ $b = freeze_own ] && f=$ctr
    timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" run -d --bundle "$BUNDLES/$b" $id \
        </dev/null >"$OUT/$id.out" 2>"$OUT/$id.err"
    rc=$?
    p=$(s10_pid $id)
    i=0
    while [ $i -lt 150 ] && ! grep -qx 'frozen 1' "$f/cgroup.events" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    ev=$(grep frozen "$f/cgroup.events" 2>/dev/null)
    own_ev=$(grep frozen "$ctr/cgroup.events" 2>/dev/null)
    fprocs=$(tr '\n' ' ' <"$f/cgroup.procs" 2>/dev/null)
    st0=$("$RUNTIME" --root "$RTROOT" state $id 2>/dev/null | grep -o '"status": *"[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"')
    c1=$(cat "/proc/$p/root/tmp/n" 2>/dev/null)
    sleep 0.5
    c2=$(cat "/proc/$p/root/tmp/n" 2>/dev/null)
    init_in_f=no
    echo " $fprocs" | grep -q " $p " && init_in_f=yes
    kerr=""
    st=""
    if [ $act = kill ]; then
        timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" kill $id KILL >"$OUT/$id.kill" 2>&1
        arc=$?
        kerr=$(errline "$OUT/$id.kill")
        # kill waits for the init's exit unless the container was paused
        # (freeze_own): then up to 1 s here.
        i=0
        while :; do
            st=$("$RUNTIME" --root "$RTROOT" state $id 2>/dev/null | grep -o '"status": *"[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"')
            [ "$st" = stopped ] || [ "$st0" != paused ] || [ $i = 10 ] && break
            sleep 0.1
            i=$((i + 1))
        done
        "$RUNTIME" --root "$RTROOT" delete $id >"$OUT/$id.del" 2>&1
        drc=$?
    else
        timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" delete --force $id >"$OUT/$id.del" 2>&1
        arc=$?
        drc=$arc
    fi
    alive=""
    for q in $p $fprocs; do s10_alive $q && alive="$alive $q"; done
    left=""
    [ -e "$RTROOT/$id" ] && left="$left state"
    [ -d "$ctr/f" ] && left="$left f"
    [ -d "$ctr" ] && left="$left ctr"
    d="$b/$act: run -d rc=$rc init $p in f=$init_in_f; f: '$ev' procs [$fprocs] counter $c1 -> $c2 (own cgroup '$own_ev', status $st0); $act rc=$arc${st:+ status after kill $st}$([ $act = kill ] && echo " delete rc=$drc") alive after [$alive] left [$left]${kerr:+ kill said: $kerr}"
    ok=yes
    [ "$rc" = 0 ] && [ -n "$p" ] && [ "$ev" = "frozen 1" ] && [ -n "$fprocs" ] && [ -n "$c1" ] && [ "$c1" -ge 3 ] && [ "$c1" = "$c2" ] || ok=control
    case $b in
    freeze_self*) [ $init_in_f = yes ] && [ "$own_ev" = "frozen 0" ] || ok=control ;;
    freeze_own) [ $init_in_f = yes ] || ok=control ;;
    *) [ $init_in_f = no ] && [ "$own_ev" = "frozen 0" ] || ok=control ;;
    esac
    [ "$arc" = 0 ] && [ "$drc" = 0 ] && [ -z "$alive" ] && [ -z "$left" ] || ok=no
    if [ $act = kill ]; then
        [ "$st" = stopped ] && [ -z "$kerr" ] || ok=no
    fi
    # Whatever it left, gone before the next case.
    [ -d "$ctr" ] && echo 1 >"$ctr/cgroup.kill" 2>/dev/null && echo 0 >"$f/cgroup.freeze" 2>/dev/null
    for q in $alive; do kill -9 $q 2>/dev/null; done
    [ -e "$RTROOT/$id" ] && "$RUNTIME" --root "$RTROOT" delete --force $id >/dev/null 2>&1
    sleep 0.2
    rmdir "$ctr/f" "$ctr" "$CG/vmtest/$b" 2>/dev/null
    [ -d "$CG/vmtest/$b" ] && d="$d; parent not removable"
    [ -d "$CG/vmtest/$b" ] && ok=no
    case $ok in
    yes) echo "PASS $d" ;;
    control) echo "FAIL control (the child was not frozen as set up): $d err: $(errline "$OUT/$id.err")" ;;
    *) echo "FAIL $d err: $(errline "$OUT/$id.err") $(errline "$OUT/$id.del")" ;;
    esac
}

# A container froze a cgroup below its own (pid 1 outside it or in it; in
# a pid namespace of its own or the VM's), or its own (freeze_own, which
# `state` then calls paused): delete --force, and kill KILL then delete,
# leave no process, no cgroup and no state. v2 needs no thaw
# (Cgroup::thaw_below is v1's): SIGKILL ends a frozen task.
test_freeze_nested() {
    n=freeze_nested
    out=""
    bad=0
    for b in freeze_ctr freeze_self freeze_ctr_host freeze_self_host freeze_own; do
        for act in delete kill; do
            r=$(s10_freeze_case $b $act)
            case $r in PASS*) ;; *) bad=$((bad + 1)) ;; esac
            echo "VMINFO $n $r"
            out="$out${out:+ | }${r%%;*}"
        done
    done
    if [ $bad = 0 ]; then
        verdict $n PASS "10 cases (see VMINFO $n lines): $out"
    else
        verdict $n FAIL "$bad of 10 cases failed (see VMINFO $n lines): $out"
    fi
}

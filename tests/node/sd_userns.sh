# A user namespace joined by path with new namespaces, under the systemd
# driver (sourced by suite.sh; uses sd, unit_exists, unit_gone, verdict,
# $R, $B, $CG, $OUT): t_sd_userns. The init joins, unshares and forks pid
# 1 (src/process/init_fork.rs), and the pid placed in the scope must be
# that pid 1, not the intermediate that exits. After `create --pid-file`
# the scope's cgroup holds pid 1 alone and the pid file names it; after
# `start`, pid 1 of a pid namespace of its own in the holder's user
# namespace, with its child, in the scope, whose limits are the bundle's;
# delete --force kills both and the scope goes. Controls: the holder's
# /proc/PID/cgroup is its own scope; system.slice's memory.max is max.

s10_alive() { # pid: a zombie is dead
    s10_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$s10_st" ] && [ "$s10_st" != Z ]
}

t_sd_userns() {
    sd run -d --bundle "$B/sd_uholder" node-uholder
    hrc=$rc herr=$(err)
    hp=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$R/node-uholder/state.json" 2>/dev/null | head -n1)
    mkdir -p /tmp/sd-ujoin
    sed "s/__HOLDER__/$hp/" "$B/sd_ujoin/config.json" >/tmp/sd-ujoin/config.json
    sd create --pid-file "$OUT/ujoin.pid" --bundle /tmp/sd-ujoin node-ujoin
    crc=$rc cerr=$(err)
    p=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$R/node-ujoin/state.json" 2>/dev/null | head -n1)
    pidfile=$(cat "$OUT/ujoin.pid" 2>/dev/null)
    scope=$CG/system.slice/outlet-node-ujoin.scope
    created=$(tr '\n' ' ' <"$scope/cgroup.procs" 2>/dev/null)
    sd start node-ujoin
    src=$rc
    for _ in $(seq 1 40); do
        [ "$(wc -l <"$scope/cgroup.procs" 2>/dev/null)" = 2 ] && break
        sleep 0.25
    done
    procs=$(tr '\n' ' ' <"$scope/cgroup.procs" 2>/dev/null)
    own=$(cat "/proc/$p/cgroup" 2>/dev/null)
    hown=$(cat "/proc/$hp/cgroup" 2>/dev/null)
    nspid=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null | tr '\t' ' ')
    userns=no
    [ -n "$p" ] && [ "$(readlink /proc/$p/ns/user)" = "$(readlink /proc/$hp/ns/user)" ] && userns=holder
    mem=$(cat "$scope/memory.max" 2>/dev/null)
    cpu=$(cat "$scope/cpu.max" 2>/dev/null)
    smem=$(cat "$CG/system.slice/memory.max" 2>/dev/null)
    active=no
    unit_exists outlet-node-ujoin.scope && active=yes
    child=""
    for q in $procs; do [ "$q" != "$p" ] && child=$q; done
    sd delete --force node-ujoin
    drc=$rc derr=$(err)
    alive=""
    for q in $p $child; do s10_alive $q && alive="$alive $q"; done
    for _ in $(seq 1 20); do unit_gone outlet-node-ujoin.scope && break; sleep 0.25; done
    gone=no
    unit_gone outlet-node-ujoin.scope && [ ! -e "$scope" ] && gone=yes
    sd delete --force node-uholder
    hdrc=$rc
    detail="holder rc=$hrc pid $hp ($hown); joiner: create rc=$crc pid $p pid file '$pidfile' scope procs while created [$created] start rc=$src; NSpid '$nspid' userns=$userns cgroup '$own' procs [$procs] memory.max=$mem cpu.max='$cpu' (system.slice $smem) scope active=$active; delete --force rc=$drc alive after [$alive] scope gone=$gone; holder delete rc=$hdrc"
    if [ "$hrc" = 0 ] && [ "$crc" = 0 ] && [ -n "$p" ] && [ "$pidfile" = "$p" ] && [ "$created" = "$p " ] &&
        [ "$src" = 0 ] && [ "${nspid##* }" = 1 ] && [ "${nspid%% *}" = "$p" ] && [ $userns = holder ] &&
        [ "$own" = "0::/system.slice/outlet-node-ujoin.scope" ] &&
        [ "$hown" = "0::/system.slice/outlet-node-uholder.scope" ] &&
        [ "$(echo $procs | wc -w)" = 2 ] && [ -n "$child" ] &&
        [ "$mem" = $((64 * 1048576)) ] && [ "$cpu" = "25000 100000" ] && [ "$smem" = max ] &&
        [ $active = yes ] && [ "$drc" = 0 ] && [ -z "$alive" ] && [ $gone = yes ] && [ "$hdrc" = 0 ]; then
        verdict sd_userns_join PASS "$detail"
    else
        verdict sd_userns_join FAIL "$detail; holder: $herr create: $cerr delete: $derr"
    fi
    for q in $alive; do kill -9 $q 2>/dev/null; done
    rm -rf /tmp/sd-ujoin
}

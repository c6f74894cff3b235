# Sourced by suite.sh (same helpers: verdict, file_is, $RT, $CG, $OUT, $D,
# $NU, $NUID, $XRD). Rootless podman with the systemd cgroup manager and
# outlet as its runtime: podman, run by nodeuser, runs the runtime as uid
# 0 of podman's user namespace (uid 0 there is 1000 outside). The scope
# must be the user's systemd instance's (user@1000.service), reached on
# the user's session bus, never the system's.

# podman as nodeuser in a real user session: its runtime dir and bus.
rl_podman() { # ARGS... -> $OUT/rlp.out, $prc
    timeout 240 runuser -u $NU -- env HOME=/home/$NU XDG_RUNTIME_DIR=$XRD \
        DBUS_SESSION_BUS_ADDRESS=unix:path=$XRD/bus CONTAINERS_CONF=$RLP/containers.conf \
        podman --cgroup-manager systemd --runtime $RLP/bin/outlet --events-backend file \
        --storage-driver vfs "$@" </dev/null >"$OUT/rlp.out" 2>&1
    prc=$?
}
rl_systemctl() { # ARGS... : the user's manager
    runuser -u $NU -- env XDG_RUNTIME_DIR=$XRD DBUS_SESSION_BUS_ADDRESS=unix:path=$XRD/bus \
        systemctl --user "$@" 2>&1
}
rlp_out() { tr '\n' ' ' <"$OUT/rlp.out" | cut -c1-400; }

t_rootless_podman() {
    for _ in $(seq 1 120); do [ -S $XRD/bus ] && break; sleep 0.5; done
    if [ ! -S $XRD/bus ]; then
        verdict rootless_podman_run FAIL "no session bus at $XRD/bus: user@$NUID.service $(systemctl show -p ActiveState --value user@$NUID.service)"
        return
    fi
    RLP=/tmp/podman-rl
    mkdir -p $RLP/bin
    # podman passes --log-format json only to runtimes it knows by name,
    # so the wrapper is called outlet. It records what podman gives the
    # runtime (environment, namespace, arguments) on the create.
    cat >$RLP/containers.conf <<'EOF'
[engine]
runtime_supports_json = ["crun", "runc", "outlet"]
EOF
    cat >$RLP/bin/outlet <<EOF
#!/bin/sh
case " \$* " in *" create "*)
    { echo "args: \$*"; echo "uid_map: \$(cat /proc/self/uid_map | tr -s ' ' | tr '\n' ';')"; id -u
      env | grep -E '^(XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS|HOME)='; } >$RLP/create-env 2>&1 ;;
esac
exec $RT "\$@"
EOF
    chmod 0755 $RLP/bin/outlet
    chown -R $NU: $RLP
    rl_podman load -i $D/busybox-oci.tar
    if [ $prc != 0 ]; then
        verdict rootless_podman_run FAIL "podman load as $NU: $(rlp_out)"
        return
    fi
    img=$(sed -nE 's/^Loaded image(\(s\))?: *//p' "$OUT/rlp.out" | head -n1 | cut -d, -f1)
    rl_podman run -d --name rl-pod --pull never --network none --cpus 0.25 --memory 512m \
        "$img" /bin/sleep 600
    runrc=$prc
    id=$(tail -n1 "$OUT/rlp.out")
    echo "NODEINFO rootless podman gave the runtime: $(tr '\n' ' ' <$RLP/create-env 2>/dev/null | sed 's/--bundle [^ ]*//' | cut -c1-600)"
    if [ $runrc != 0 ]; then
        verdict rootless_podman_run FAIL "podman run as $NU rc=$runrc: $(rlp_out)"
        rl_podman rm -f -t 0 rl-pod
        return
    fi
    sc=libpod-$id.scope
    mgr=$(rl_systemctl show -p ControlGroup --value)
    pdir=$CG$mgr/user.slice/$sc
    act=$(rl_systemctl show -p ActiveState --value "$sc")
    sysact=$(systemctl show -p LoadState --value "$sc" 2>&1)
    ok=1
    [ "$act" = active ] || ok=0
    # The system manager knows no such unit: it is the user's.
    [ "$sysact" = not-found ] || ok=0
    file_is "$pdir/cpu.max" "25000 100000" || ok=0
    h1=$seen
    file_is "$pdir/memory.max" 536870912 || ok=0
    h2=$seen
    owner=$(stat -c %U "$pdir" 2>&1)
    [ "$owner" = $NU ] || ok=0
    if [ $ok = 1 ]; then
        verdict rootless_podman_run PASS "as $NU: $sc $act in the user's manager (system: $sysact), owned by $owner; ${h1#$CG} ${h2#$CG}"
    else
        verdict rootless_podman_run FAIL "ActiveState=$act system LoadState=$sysact owner=$owner $h1 $h2 $(rlp_out)"
    fi
    # exec, and the limits as the container sees them (its own cgroup
    # namespace: its scope is its /sys/fs/cgroup).
    rl_podman exec rl-pod /bin/sh -c 'cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max /proc/self/cgroup'
    inside=$(tr '\n' ' ' <"$OUT/rlp.out")
    if [ $prc = 0 ] && [ "$inside" = "25000 100000 536870912 0::/ " ]; then
        verdict rootless_podman_exec_limits PASS "exec inside sees: $inside"
    else
        verdict rootless_podman_exec_limits FAIL "exec rc=$prc: $inside"
    fi
    status=$(rl_systemctl status "$sc" | grep -m1 'Active:' | tr -s ' ')
    case $status in
    *"Active: active"*) verdict rootless_podman_user_status PASS "systemctl --user status $sc:$status" ;;
    *) verdict rootless_podman_user_status FAIL "systemctl --user status $sc: $(rl_systemctl status "$sc" | head -n5 | tr '\n' ' ')" ;;
    esac
    rl_podman pause rl-pod
    p1=$prc f1=$(cat "$pdir/cgroup.freeze" 2>&1) st1=$(grep -c '^frozen 1' "$pdir/cgroup.events" 2>/dev/null)
    rl_podman unpause rl-pod
    p2=$prc f2=$(cat "$pdir/cgroup.freeze" 2>&1)
    if [ $p1 = 0 ] && [ "$f1" = 1 ] && [ "$st1" = 1 ] && [ $p2 = 0 ] && [ "$f2" = 0 ]; then
        verdict rootless_podman_pause PASS "paused: cgroup.freeze=$f1 frozen=$st1; unpaused: cgroup.freeze=$f2"
    else
        verdict rootless_podman_pause FAIL "pause rc=$p1 freeze=$f1 frozen=$st1, unpause rc=$p2 freeze=$f2 $(rlp_out)"
    fi
    rl_podman update --cpus 0.5 --memory 256m rl-pod
    urc=$prc
    ok=1
    [ $urc = 0 ] || ok=0
    file_is "$pdir/cpu.max" "50000 100000" || ok=0
    u1=$seen
    file_is "$pdir/memory.max" 268435456 || ok=0
    u2=$seen
    mm=$(rl_systemctl show -p MemoryMax --value "$sc")
    [ "$mm" = 268435456 ] || ok=0
    if [ $ok = 1 ]; then
        verdict rootless_podman_update PASS "update rc=$urc ${u1#$CG} ${u2#$CG}, user manager's MemoryMax=$mm"
    else
        verdict rootless_podman_update FAIL "update rc=$urc $u1 $u2 MemoryMax=$mm $(rlp_out)"
    fi
    rl_podman rm -f -t 0 rl-pod
    rrc=$prc
    st=$(rl_systemctl show -p LoadState --value "$sc")
    if [ $rrc = 0 ] && [ "$st" = not-found ] && [ ! -e "$pdir" ]; then
        verdict rootless_podman_rm_gone PASS "podman rm -f: $sc not-found in the user's manager, its cgroup gone"
    else
        verdict rootless_podman_rm_gone FAIL "rm rc=$rrc LoadState=$st dir: $([ -e "$pdir" ] && echo left || echo gone) $(rlp_out)"
    fi
}

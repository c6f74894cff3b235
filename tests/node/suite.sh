#!/bin/sh
# The node suite, run by outlet-node.service inside the node VM (systemd
# as PID 1, cgroup v2 only), as root, from the test disk at /mnt/node.
# Prints one line per test, `NODETEST <name> PASS|FAIL|SKIP <detail>`,
# then exactly `node: N passed, N failed, N skipped`. No `set -e`: a
# failing command is a FAIL line, never the end of the run.

D=/mnt/node
RT=$D/outlet
R=/run/outlet-node
B=$D/bundles
CG=/sys/fs/cgroup
OUT=/tmp/node-out
mkdir -p "$OUT" "$R"
passed=0 failed=0 skipped=0
echo "node: suite starts $(cut -d' ' -f1 /proc/uptime)s after boot; $(uname -r); $(systemctl --version | head -n1)"

verdict() { # name PASS|FAIL|SKIP detail...
    n=$1 v=$2
    shift 2
    echo "NODETEST $n $v $*"
    case $v in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
    *) skipped=$((skipped + 1)) ;;
    esac
}

# outlet with the systemd driver; output in $OUT/last.{out,err}, rc in $rc.
sd() {
    timeout 60 "$RT" --systemd-cgroup --root "$R" "$@" </dev/null >"$OUT/last.out" 2>"$OUT/last.err"
    rc=$?
}
fs() {
    timeout 60 "$RT" --root "$R" "$@" </dev/null >"$OUT/last.out" 2>"$OUT/last.err"
    rc=$?
}
err() { tr '\n' ' ' <"$OUT/last.err" | cut -c1-300; }

# file_is PATH WANT: the file's content (trimmed) is WANT; says what it saw.
file_is() {
    got=$(cat "$1" 2>&1)
    seen="$1=$got"
    [ "$got" = "$2" ]
}

unit_exists() { # unit: loaded and active according to systemd
    [ "$(systemctl show -p ActiveState --value "$1" 2>/dev/null)" = active ]
}
unit_gone() {
    st=$(systemctl show -p LoadState --value "$1" 2>/dev/null)
    [ "$st" = not-found ] || [ -z "$st" ]
}

# --- features: systemd true here (false on the hybrid hosts: callers_cmds) --
fs features
if [ $rc = 0 ] && grep -q '"systemd": *true' "$OUT/last.out"; then
    verdict features_systemd PASS "outlet features: $(grep -o '"systemd": *[a-z]*' "$OUT/last.out")"
else
    verdict features_systemd FAIL "rc=$rc $(grep -o '"systemd": *[a-z]*' "$OUT/last.out") $(err)"
fi

# --- the mission's limits on the systemd driver, through the lifecycle ------
sc=outlet-node-sd1.scope
dir=$CG/system.slice/$sc
sd create --bundle "$B/sd_mission" node-sd1
if [ $rc != 0 ]; then
    verdict sd_create FAIL "create rc=$rc: $(err)"
else
    t0=$(date +%s%N)
    pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$R/node-sd1/state.json" 2>/dev/null | head -n1)
    [ -n "$pid" ] || { sd state node-sd1; pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$OUT/last.out"); }
    if unit_exists $sc; then
        verdict sd_create PASS "$sc active: $(systemctl status $sc 2>&1 | head -n1)"
    else
        verdict sd_create FAIL "$sc not active: $(systemctl status $sc 2>&1 | head -n3 | tr '\n' ' ')"
    fi
    if file_is "$dir/cpu.max" "25000 100000"; then s1="$seen"; ok=1; else s1="$seen"; ok=0; fi
    if file_is "$dir/memory.max" 536870912; then s2="$seen"; else s2="$seen"; ok=0; fi
    deleg=$(systemctl show -p Delegate --value $sc)
    [ "$deleg" = yes ] || ok=0
    if [ $ok = 1 ]; then verdict sd_limits PASS "$s1 $s2 Delegate=$deleg"; else verdict sd_limits FAIL "$s1 $s2 Delegate=$deleg"; fi
    # Control: the same check with a wrong expectation must fail.
    if file_is "$dir/cpu.max" "50000 100000"; then
        verdict control_wrong_expectation FAIL "cpu.max matched a wrong value: $seen"
    else
        verdict control_wrong_expectation PASS "a wrong expectation (50000 100000) fails: $seen"
    fi
    if file_is /proc/$pid/cgroup "0::/system.slice/$sc"; then
        verdict sd_init_cgroup PASS "init $pid: $seen"
    else
        verdict sd_init_cgroup FAIL "init $pid: $seen"
    fi
    sd start node-sd1
    sd exec node-sd1 /bin/cat /proc/self/cgroup
    got=$(cat "$OUT/last.out")
    if [ $rc = 0 ] && [ "$got" = "0::/system.slice/$sc" ]; then
        verdict sd_exec PASS "exec sees $got"
    else
        verdict sd_exec FAIL "exec rc=$rc out=$got $(err)"
    fi
    sd pause node-sd1
    p1=$rc f1=$(cat "$dir/cgroup.freeze")
    st1=$(grep -c '^frozen 1' "$dir/cgroup.events")
    sd resume node-sd1
    p2=$rc f2=$(cat "$dir/cgroup.freeze")
    if [ $p1 = 0 ] && [ "$f1" = 1 ] && [ "$st1" = 1 ] && [ $p2 = 0 ] && [ "$f2" = 0 ]; then
        verdict sd_pause_resume PASS "paused: cgroup.freeze=$f1 frozen=$st1; resumed: cgroup.freeze=$f2"
    else
        verdict sd_pause_resume FAIL "pause rc=$p1 freeze=$f1 frozen=$st1, resume rc=$p2 freeze=$f2 $(err)"
    fi
    sd update --memory 268435456 --cpu-quota 50000 node-sd1
    mm=$(systemctl show -p MemoryMax --value $sc)
    if [ $rc = 0 ] && file_is "$dir/memory.max" 268435456 && [ "$mm" = 268435456 ] &&
        [ "$(cat $dir/cpu.max)" = "50000 100000" ]; then
        verdict sd_update PASS "$seen, systemd MemoryMax=$mm, cpu.max=$(cat $dir/cpu.max)"
    else
        verdict sd_update FAIL "rc=$rc $seen MemoryMax=$mm cpu.max=$(cat $dir/cpu.max) $(err)"
    fi
    sd kill node-sd1 KILL
    sd delete --force node-sd1
    if [ $rc = 0 ] && unit_gone $sc && [ ! -e "$dir" ]; then
        verdict sd_delete_gone PASS "scope unit and $dir gone"
    else
        verdict sd_delete_gone FAIL "delete rc=$rc LoadState=$(systemctl show -p LoadState --value $sc) dir exists: $([ -e "$dir" ] && echo yes || echo no) $(err)"
    fi
fi

# --- OOM kill enforced at 64 MiB in a scope ---------------------------------
sd run --bundle "$B/sd_oom" node-oom
oomrc=$rc
oomerr=$(err)
sd delete --force node-oom
if [ $oomrc = 137 ]; then
    verdict sd_oom PASS "probe mem 128 under a 64 MiB scope: run rc=$oomrc"
else
    verdict sd_oom FAIL "probe mem 128 under a 64 MiB scope: run rc=$oomrc (want 137) $oomerr"
fi
if unit_gone outlet-node-oom.scope; then
    verdict sd_oom_gone PASS "outlet-node-oom.scope gone after run + delete"
else
    verdict sd_oom_gone FAIL "LoadState=$(systemctl show -p LoadState --value outlet-node-oom.scope)"
fi

# --- 0.25 CPU measured on the systemd driver; control: no limit -----------
# probe spins 2 threads for 4 s and reports the cgroup's usage during the
# spin: 1.0 s at 0.25 CPU; without a limit far more (TCG: ~8 s).
json_num() { grep -o "\"$1\":-\{0,1\}[0-9.]*" "$2" | head -n1 | sed "s/^\"$1\"://"; }
sd run --bundle "$B/sd_cpu_limited" node-cpu
cp "$OUT/last.out" "$OUT/cpu.out"
u=$(json_num cgroup_usage_s "$OUT/cpu.out")
if [ $rc = 0 ] && [ -n "$u" ] && awk -v u="$u" 'BEGIN { exit !(u >= 0.75 && u <= 1.25) }'; then
    verdict sd_cpu_quarter PASS "quota 25000/100000, spin 2x4s: cgroup usage ${u}s (want 1.0 +-25%)"
else
    verdict sd_cpu_quarter FAIL "rc=$rc usage=${u:-?}s (want 1.0 +-25%) $(err)"
fi
sd run --bundle "$B/sd_cpu_free" node-cpufree
cp "$OUT/last.out" "$OUT/cpufree.out"
u2=$(json_num cgroup_usage_s "$OUT/cpufree.out")
if [ $rc = 0 ] && [ -n "$u2" ] && awk -v u="$u2" 'BEGIN { exit !(u >= 6) }'; then
    verdict sd_cpu_free_control PASS "no limit, same spin: ${u2}s (>= 6 s: the limit, not the machine, held the other down)"
else
    verdict sd_cpu_free_control FAIL "rc=$rc usage=${u2:-?}s (want >= 6 s) $(err)"
fi
sd delete --force node-cpu
sd delete --force node-cpufree

# --- nested slice: a-b-c.slice expands to its parents ------------------------
ndir=$CG/node.slice/node-test.slice/node-test-nested.slice/outlet-node-nest.scope
sd create --bundle "$B/sd_nested" node-nest
if [ $rc = 0 ] && file_is "$ndir/pids.max" 32; then
    verdict sd_nested_slice PASS "$seen"
else
    verdict sd_nested_slice FAIL "rc=$rc $seen $(err)"
fi
sd delete --force node-nest
systemctl stop node-test-nested.slice node-test.slice node.slice 2>/dev/null

# --- empty cgroupsPath: runc's default system.slice:outlet:<id> ------------
sd create --bundle "$B/sd_default" node-def
if [ $rc = 0 ] && unit_exists outlet-node-def.scope && [ -d $CG/system.slice/outlet-node-def.scope ]; then
    verdict sd_default_path PASS "outlet-node-def.scope in system.slice"
else
    verdict sd_default_path FAIL "rc=$rc $(err)"
fi
sd delete --force node-def
unit_gone outlet-node-def.scope || verdict sd_default_path FAIL "outlet-node-def.scope left after delete"

# --- delete --force of a create killed after its scope existed ------------
# The bundle's createRuntime hook sleeps, holding create after the scope is
# made; create is SIGKILLed there (its init dies with it).
"$RT" --systemd-cgroup --root "$R" create --bundle "$B/sd_killed" node-killed </dev/null >/dev/null 2>&1 &
opid=$!
kdir=$CG/system.slice/outlet-node-killed.scope
seen_scope=no
for _ in $(seq 1 60); do
    [ -d "$kdir" ] && { seen_scope=yes; break; }
    sleep 0.25
done
kill -KILL $opid 2>/dev/null
wait $opid 2>/dev/null
sd delete --force node-killed
if [ $seen_scope = yes ] && unit_gone outlet-node-killed.scope && [ ! -e "$kdir" ] && [ ! -e "$R/node-killed" ]; then
    verdict sd_killed_create_leftovers PASS "scope seen, create killed; after delete --force (rc=$rc) no scope, cgroup or state"
else
    verdict sd_killed_create_leftovers FAIL "scope seen before the kill: $seen_scope; LoadState=$(systemctl show -p LoadState --value outlet-node-killed.scope) dir: $([ -e "$kdir" ] && echo left || echo gone) $(err)"
fi

# --- the cgroupfs driver keeps working on the same node ---------------------
fs create --bundle "$B/cgfs" node-fs
fdir=$CG/outlet-node/cgfs1
if [ $rc = 0 ] && file_is "$fdir/cpu.max" "25000 100000" && file_is "$fdir/memory.max" 536870912; then
    verdict cgroupfs_on_node PASS "$fdir: cpu.max and $seen"
else
    verdict cgroupfs_on_node FAIL "rc=$rc $seen $(err)"
fi
fs delete --force node-fs
rmdir $CG/outlet-node 2>/dev/null
[ -e "$fdir" ] && verdict cgroupfs_on_node FAIL "$fdir left after delete"

# --- containerd's ctr with the runc shim asking for the systemd driver -----
modprobe overlay 2>/dev/null
containerd >/tmp/containerd.log 2>&1 &
cpid=$!
for _ in $(seq 1 60); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.5; done
if ! ctr image import --base-name localhost/busybox $D/busybox-oci.tar >"$OUT/ctr.out" 2>&1; then
    verdict ctr_systemd_cgroup FAIL "ctr image import: $(tr '\n' ' ' <"$OUT/ctr.out" | cut -c1-300)"
else
    # Detached, so the host's view of the scope can be read while it runs.
    timeout 120 ctr run -d --runc-binary "$RT" --runc-systemd-cgroup --cgroup system.slice:ctr:node-ctr1 \
        --cpus 0.25 --memory-limit 536870912 localhost/busybox:latest node-ctr1 /bin/sleep 600 \
        </dev/null >"$OUT/ctr.out" 2>&1
    crc=$?
    cdir=$CG/system.slice/ctr-node-ctr1.scope
    timeout 60 ctr task exec --exec-id e1 node-ctr1 /bin/sh -c \
        'cat /proc/self/cgroup; grep cgroup /proc/self/mountinfo; ls /sys/fs/cgroup | head -n 5' \
        </dev/null >"$OUT/ctr-exec.out" 2>&1
    erc=$?
    echo "NODEINFO ctr exec rc=$erc inside: $(tr '\n' ' ' <"$OUT/ctr-exec.out" | cut -c1-400)"
    if [ $crc = 0 ] && file_is "$cdir/cpu.max" "25000 100000" && file_is "$cdir/memory.max" 536870912 &&
        unit_exists ctr-node-ctr1.scope && [ $erc = 0 ]; then
        ok=1
    else
        ok=0
    fi
    s1="run rc=$crc exec rc=$erc $seen $(tr '\n' ' ' <"$OUT/ctr.out" | cut -c1-200)"
    timeout 30 ctr task kill -s KILL node-ctr1 >/dev/null 2>&1
    for _ in $(seq 1 40); do ctr task delete node-ctr1 >/dev/null 2>&1 && break; sleep 0.5; done
    ctr container delete node-ctr1 >/dev/null 2>&1
    if [ $ok = 1 ] && unit_gone ctr-node-ctr1.scope && [ ! -e "$cdir" ]; then
        verdict ctr_systemd_cgroup PASS "$s1; scope gone after task delete"
    else
        verdict ctr_systemd_cgroup FAIL "$s1; LoadState after delete: $(systemctl show -p LoadState --value ctr-node-ctr1.scope)"
    fi
fi
kill $cpid 2>/dev/null
wait $cpid 2>/dev/null

# --- cost per create: systemd scope vs cgroupfs (informational) -----------
ms() { echo $(( $(date +%s%N) / 1000000 )); }
for drv in sd fs; do
    t=$(ms)
    for i in 1 2 3 4 5; do $drv create --bundle "$B/sd_default" node-t$i; done
    t2=$(ms)
    for i in 1 2 3 4 5; do $drv delete --force node-t$i; done
    echo "NODEINFO 5 creates with $drv: $((t2 - t)) ms, 5 deletes: $(( $(ms) - t2 )) ms"
done

echo "node: $passed passed, $failed failed, $skipped skipped"

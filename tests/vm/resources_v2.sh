# The resources_v2 test (sourced by tests.sh): every field of
# linux.resources on cgroup v2 (cgroupfs driver), against what runc 1.1.5
# does with the same config. One container per group of fields (bundles
# res_* in bundles.sh) is created, never started, and every cgroup v2 file
# the group maps to is read back from the VM's side; then `update` (flags
# and --resources FILE) is driven step by step on one container, and after
# each step the files of every group are read again: the new value lands,
# the others stay.
#
# The expected values are what runc 1.1.5 writes (learnt by running this
# test with RUNTIME=/usr/sbin/runc); where runc refuses a field, outlet
# must refuse it too, with an error that names the field (the patterns
# differ by runtime: runc's words are its own).
#
# Control: res_cpu_ctl is the cpu group with other shares and quota, held
# against res_cpu's expectation: the comparison must fail there, or the
# read-back proves nothing.

RES_MEM="memory.max memory.low memory.high memory.min memory.swap.max memory.oom.group"
RES_CPU="cpu.weight cpu.weight.nice cpu.max cpu.max.burst cpu.idle cpuset.cpus cpuset.mems"
RES_IO="io.weight io.bfq.weight io.max"
RES_UPD="memory.max memory.low memory.swap.max memory.high cpu.weight cpu.max cpu.max.burst cpu.idle cpuset.cpus cpuset.mems pids.max io.weight io.max"

# res_read DIR FILES...: "file=value" for each file, a file's lines joined
# by ',', "-" for a missing file.
res_read() {
    d=$1
    shift
    s=""
    for f in "$@"; do
        if [ -e "$d/$f" ]; then
            v=$(tr '\n' ',' <"$d/$f" | sed 's/,$//')
        else
            v=-
        fi
        s="$s $f=$v"
    done
    echo "${s# }"
}

# The runtime's error, without runc's time= and level= prefix.
res_err() { # file
    tr '\n' ' ' <"$1" | sed 's/time="[^"]*" //g; s/level=[a-z]* //g; s/ *$//' | cut -c1-240
}

# Something left behind fails outlet's run. runc 1.1.5's delete of a
# created container sometimes returns before its cgroup can be removed
# (seen: 1 to 3 of 32 groups); against runc that is only reported, the
# subject here is the values.
res_left() { # case left
    [ -n "$2" ] || return 0
    if [ "$RUNTIME_NAME" = outlet ]; then
        res_bad="$res_bad [$1: left behind:$2]"
    else
        echo "VMINFO res $1: $RUNTIME_NAME left behind:$2"
    fi
}

# The files each case reads.
res_files() { # case
    case $1 in
    mem*) echo "$RES_MEM" ;;
    cpu*) echo "$RES_CPU" ;;
    pids*) echo pids.max ;;
    io*) echo "$RES_IO" ;;
    huge) echo hugetlb.2MB.max hugetlb.2MB.rsvd.max ;;
    rdma) echo rdma.max ;;
    net) echo cgroup.procs ;;
    unified*) echo "cgroup.subtree_control memory.max memory.high memory.min memory.oom.group cpu.weight cpu.weight.nice cpu.max pids.max cpuset.cpus hugetlb.2MB.max io.max cgroup.max.depth cgroup.max.descendants" ;;
    esac
}

# What the runtime must give for a case: "rc=0 <files>" as runc 1.1.5
# writes it, or "rc=1 <error pattern>" (a shell glob) where it refuses.
# Where outlet differs on purpose, both are given and the comment says why.
res_want() { # case
    rt=$RUNTIME_NAME
    [ "$rt" = outlet ] || rt=runc
    m0="memory.high=max memory.min=0"
    c0="cpu.max.burst=0 cpu.idle=0"
    cdef="cpu.weight=100 cpu.weight.nice=0"
    u0="memory.max=max memory.high=max memory.min=0 memory.oom.group=0"
    u1="pids.max=max cpuset.cpus= hugetlb.2MB.max=max io.max= cgroup.max.depth=max cgroup.max.descendants=max"
    # update: the memory, cpu and rest parts of the read after each step
    um0="memory.max=67108864 memory.low=33554432 memory.swap.max=33554432 memory.high=max"
    um1="memory.max=83886080 memory.low=33554432 memory.swap.max=33554432"
    uc0="cpu.weight=20 cpu.max=25000 100000 $c0 cpuset.cpus=0 cpuset.mems=0"
    uc1="cpu.weight=39 cpu.max=50000 200000"
    # runc 1.1.5's update --resources ignores blockIO throttles and cpu
    # burst (s7); outlet writes every field the document holds.
    case $rt in
    runc) ub="cpu.max.burst=0 cpu.idle=0" ui="io.max=" ;;
    *) ub="cpu.max.burst=5000 cpu.idle=0" ui="io.max=$RES_DEV rbps=max wbps=4096 riops=max wiops=max" ;;
    esac
    case $rt:$1 in
    # runc 1.1.5 writes: swap.max = swap - limit, low = reservation.
    *:mem) echo "rc=0 memory.max=67108864 memory.low=33554432 $m0 memory.swap.max=33554432 memory.oom.group=0" ;;
    # -1 everywhere: max everywhere, memory.low included.
    *:mem_max) echo "rc=0 memory.max=max memory.low=max $m0 memory.swap.max=max memory.oom.group=0" ;;
    # 0 is unset; a limit of -1 alone leaves swap unlimited.
    *:mem_limmax | *:mem_zero) echo "rc=0 memory.max=max memory.low=0 $m0 memory.swap.max=max memory.oom.group=0" ;;
    *:mem_swapeq) echo "rc=0 memory.max=67108864 memory.low=0 $m0 memory.swap.max=0 memory.oom.group=0" ;;
    runc:mem_swaplow) echo 'rc=1 *memory+swap limit should be >= memory limit*' ;;
    outlet:mem_swaplow) echo 'rc=1 *linux.resources.memory.swap: 33554432 is below memory.limit 67108864*' ;;
    runc:mem_swaponly) echo 'rc=1 *unable to set swap limit without memory limit*' ;;
    outlet:mem_swaponly) echo 'rc=1 *linux.resources.memory.swap: 100663296 needs a memory limit*' ;;
    # kernel, kernelTCP, swappiness, disableOOMKiller, useHierarchy:
    # no v2 file; runc 1.1.5 ignores them all.
    *:mem_kernel | *:mem_swappiness | *:mem_flags) echo "rc=0 memory.max=67108864 memory.low=0 $m0 memory.swap.max=max memory.oom.group=0" ;;
    # checkBeforeUpdate true: runc 1.1.5 predates the field and ignores it;
    # outlet does not implement the check and says so (src/spec/refused.rs)
    # rather than let the caller believe its updates are checked.
    runc:mem_cbu) echo "rc=0 memory.max=67108864 memory.low=0 $m0 memory.swap.max=max memory.oom.group=0" ;;
    outlet:mem_cbu) echo 'rc=1 *linux.resources.memory.checkBeforeUpdate: true is not supported*' ;;
    # runc 1.1.5 writes: shares 512 -> cpu.weight 20 (nice 7), "quota period".
    *:cpu) echo "rc=0 cpu.weight=20 cpu.weight.nice=7 cpu.max=25000 50000 $c0 cpuset.cpus=0 cpuset.mems=0" ;;
    # burst: runc 1.1.5 predates the field and leaves 0 (runc 1.2 writes
    # it); outlet writes what the spec asks.
    runc:cpu_burst) echo "rc=0 $cdef cpu.max=25000 100000 $c0 cpuset.cpus= cpuset.mems=" ;;
    outlet:cpu_burst) echo "rc=0 $cdef cpu.max=25000 100000 cpu.max.burst=10000 cpu.idle=0 cpuset.cpus= cpuset.mems=" ;;
    # idle: the same (runc 1.1.5 leaves 0).
    runc:cpu_idle) echo "rc=0 $cdef cpu.max=max 100000 $c0 cpuset.cpus= cpuset.mems=" ;;
    outlet:cpu_idle) echo "rc=0 cpu.weight=0 cpu.weight.nice=19 cpu.max=max 100000 cpu.max.burst=0 cpu.idle=1 cpuset.cpus= cpuset.mems=" ;;
    # shares 2 -> weight 1, 262144 -> 10000; quota -1 and 0 -> max.
    *:cpu_edges) echo "rc=0 cpu.weight=1 cpu.weight.nice=19 cpu.max=max 100000 $c0 cpuset.cpus= cpuset.mems=" ;;
    *:cpu_shmax) echo "rc=0 cpu.weight=10000 cpu.weight.nice=-20 cpu.max=max 100000 $c0 cpuset.cpus= cpuset.mems=" ;;
    *:cpu_period) echo "rc=0 $cdef cpu.max=max 50000 $c0 cpuset.cpus= cpuset.mems=" ;;
    # realtimeRuntime/Period: no v2 file, runc 1.1.5 ignores them.
    *:cpu_rt) echo "rc=0 $cdef cpu.max=max 100000 $c0 cpuset.cpus= cpuset.mems=" ;;
    *:pids) echo "rc=0 pids.max=32" ;;
    *:pids_max | *:pids_zero) echo "rc=0 pids.max=max" ;;
    # weight 500 -> io.weight 4950 (no BFQ on the loop device); leafWeight
    # ignored. weightDevice: runc 1.1.5 writes it only to io.bfq.weight and
    # drops it without BFQ; a per-device io.weight needs iocost on the
    # device (EOPNOTSUPP here), so outlet drops it too.
    *:io) echo "rc=0 io.weight=default 4950 io.bfq.weight=- io.max=$RES_DEV rbps=1048576 wbps=2097152 riops=100 wiops=200" ;;
    *:io_leaf) echo "rc=0 io.weight=default 100 io.bfq.weight=- io.max=" ;;
    # A throttle rate of 0: runc 1.1.5 writes "wbps=0", which the kernel
    # refuses (ERANGE), failing a spec v1 takes as "no limit"; outlet
    # writes max.
    runc:io_zero) echo 'rc=1 *wbps=0*numerical result*' ;;
    outlet:io_zero) echo "rc=0 io.weight=default 100 io.bfq.weight=- io.max=" ;;
    # runc 1.1.5 leaves the reservation counter at max (runc 1.2 sets it
    # too); outlet sets it, so an mmap over the limit fails instead of a
    # SIGBUS at the fault.
    runc:huge) echo "rc=0 hugetlb.2MB.max=4194304 hugetlb.2MB.rsvd.max=max" ;;
    outlet:huge) echo "rc=0 hugetlb.2MB.max=4194304 hugetlb.2MB.rsvd.max=4194304" ;;
    # No RDMA device in the VM: the kernel refuses the line, both fail.
    runc:rdma) echo 'rc=1 *failed to write*mlx4_0 hca_handle=2 hca_object=100*' ;;
    outlet:rdma) echo 'rc=1 *write "mlx4_0 hca_handle=2 hca_object=100" to *rdma.max: No such device*' ;;
    # network (net_cls/net_prio): no v2 controller, runc 1.1.5 ignores it.
    *:net) echo 'rc=0 cgroup.procs=[1-9]*' ;;
    # A key of every controller, written as given (cpu.weight follows
    # cpu.weight.nice=5); unified wins over the fields it overlaps.
    *:unified) echo "rc=0 cgroup.subtree_control= memory.max=max memory.high=50331648 memory.min=1048576 memory.oom.group=1 cpu.weight=33 cpu.weight.nice=5 cpu.max=30000 100000 pids.max=20 cpuset.cpus=1 hugetlb.2MB.max=2097152 io.max=$RES_DEV rbps=max wbps=max riops=max wiops=300 cgroup.max.depth=3 cgroup.max.descendants=7" ;;
    *:unified_over) echo "rc=0 cgroup.subtree_control= memory.max=33554432 memory.high=max memory.min=0 memory.oom.group=0 cpu.weight=77 cpu.weight.nice=1 cpu.max=max 100000 $u1" ;;
    *:unified_subtree) echo "rc=0 cgroup.subtree_control=pids $u0 $cdef cpu.max=max 100000 $u1" ;;
    runc:unified_nosuch) echo 'rc=1 *unable to set unified resource*memory.nosuch*' ;;
    outlet:unified_nosuch) echo 'rc=1 *linux.resources.unified*memory controller has no memory.nosuch*' ;;
    runc:unified_nodot) echo 'rc=1 *unified resource*nodot*must be in the form CONTROLLER.PARAMETER*' ;;
    # A controller the kernel does not have: both fail naming the key.
    runc:unified_noctl) echo 'rc=1 *unified resource*foo.bar*controller*foo*not available*' ;;
    outlet:unified_noctl) echo 'rc=1 *linux.resources.unified: "foo.bar": cannot be set*no controller "foo"*' ;;
    outlet:unified_nodot) echo 'rc=1 *linux.resources.unified: key "nodot" must be in the form CONTROLLER.PARAMETER*' ;;
    # runc 1.1.5 writes cgroup.procs: the VM's process moved into the
    # container's cgroup. That is a hole (the container's limits, kill and
    # delete reach a host process), so outlet refuses the key.
    runc:unified_procs) echo "rc=0 victim=0::/vmtest/res_unified_procs/ctr" ;;
    outlet:unified_procs) echo 'rc=1 victim=0::/ *linux.resources.unified: key "cgroup.procs" moves processes*' ;;
    # update: the flags' value lands, the rest stays.
    *:upd_s0) echo "rc=0 $um0 $uc0 pids.max=32 io.weight=default 4950 io.max=" ;;
    *:upd_s1) echo "rc=0 $um1 memory.high=max $uc0 pids.max=32 io.weight=default 4950 io.max=" ;;
    # --memory-swap without --memory: both refuse, nothing changes.
    runc:upd_s2) echo "rc=1 $um1 memory.high=max $uc0 pids.max=32 io.weight=default 4950 io.max= err=*unable to set swap limit without memory limit*" ;;
    outlet:upd_s2) echo "rc=1 $um1 memory.high=max $uc0 pids.max=32 io.weight=default 4950 io.max= err=*linux.resources.memory.swap: 167772160 needs a memory limit*" ;;
    *:upd_s3) echo "rc=0 $um1 memory.high=max cpu.weight=20 cpu.max=50000 100000 $c0 cpuset.cpus=0 cpuset.mems=0 pids.max=32 io.weight=default 4950 io.max=" ;;
    *:upd_s4) echo "rc=0 $um1 memory.high=max $uc1 $c0 cpuset.cpus=0 cpuset.mems=0 pids.max=32 io.weight=default 4950 io.max=" ;;
    *:upd_s5) echo "rc=0 $um1 memory.high=max $uc1 $c0 cpuset.cpus=0-1 cpuset.mems=0 pids.max=64 io.weight=default 2930 io.max=" ;;
    *:upd_s6) echo "rc=0 $um1 memory.high=max $uc1 $c0 cpuset.cpus=0-1 cpuset.mems=0 pids.max=100 io.weight=default 2930 io.max=" ;;
    *:upd_s7) echo "rc=0 $um1 memory.high=max $uc1 $ub cpuset.cpus=0-1 cpuset.mems=0 pids.max=100 io.weight=default 2930 $ui" ;;
    *:upd_s8 | *:upd_s9 | *:upd_s10) echo "rc=0 $um1 memory.high=99999744 $uc1 $ub cpuset.cpus=0-1 cpuset.mems=0 pids.max=100 io.weight=default 2930 $ui" ;;
    *:upd_s11) echo "rc=0 memory.max=max memory.low=33554432 memory.swap.max=max memory.high=99999744 $uc1 $ub cpuset.cpus=0-1 cpuset.mems=0 pids.max=100 io.weight=default 2930 $ui" ;;
    *:upd_s12) echo "rc=0 memory.max=50331648 memory.low=33554432 memory.swap.max=max memory.high=99999744 $uc1 $ub cpuset.cpus=0-1 cpuset.mems=0 pids.max=max io.weight=default 2930 $ui" ;;
    *) echo "no expectation for $1" ;;
    esac
}

# Compares; records a mismatch in res_bad.
res_check() { # label got want
    case "$2" in
    $3) ;;
    *) res_bad="$res_bad [$1: got '$2' want '$3']" ;;
    esac
}

# Creates container vm-res-CASE from bundle res_CASE and reads its files
# into $got; deletes it and removes its parent.
res_case() { # case
    rcase=$1 n=res_$1 id=vm-res-$1
    res_parent $n || { got="no parent cgroup"; return; }
    timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" create --bundle "$BUNDLES/$n" "$id" \
        </dev/null >"$OUT/$id.out" 2>"$OUT/$id.err"
    rc=$?
    if [ $rc = 0 ]; then
        # shellcheck disable=SC2046 # the list of files splits on purpose
        got="rc=0 $(res_read "$CG/vmtest/$n/ctr" $(res_files "$rcase"))"
    else
        got="rc=$rc $(res_err "$OUT/$id.err")"
    fi
    echo "VMINFO res $rcase: $got"
    left=$(cleanup_check $n $id)
    res_left "$rcase" "$left"
}

# setup_parent, and the controllers it leaves out (cpuset, rdma, misc).
res_parent() { # name
    setup_parent "$1" || return 1
    for ctl in cpuset rdma misc; do
        echo "+$ctl" >"$CG/vmtest/$1/cgroup.subtree_control" 2>/dev/null
    done
    return 0
}

# The loop device the io groups throttle (as test_io); its numbers go into
# the bundles in place of 9990:9991.
res_loop() {
    [ -b /dev/loop0 ] || insmod /vmtests/loop.ko 2>/dev/null
    dd if=/dev/zero of=/tmp/vmtest-res-disk bs=1M count=4 2>/dev/null
    losetup /dev/loop0 /tmp/vmtest-res-disk || return 1
    RES_DEV=$(cat /sys/block/loop0/dev)
    for b in res_io res_io_zero res_unified res_upd; do
        sed -i "s/9990:9991/$RES_DEV/g; s/9990/${RES_DEV%:*}/g; s/9991/${RES_DEV#*:}/g" \
            "$BUNDLES/$b/config.json"
    done
}

# One update step on vm-res-upd: the runtime's update with ARGS, then the
# files of every group into $got.
res_update() { # step args...
    step=$1
    shift
    "$RUNTIME" --root "$RTROOT" update "$@" vm-res-upd >"$OUT/upd-$step.out" 2>"$OUT/upd-$step.err"
    urc=$?
    # shellcheck disable=SC2086 # the list of files splits on purpose
    got="rc=$urc $(res_read "$CG/vmtest/res_upd/ctr" $RES_UPD)"
    [ $urc = 0 ] || got="$got err=$(res_err "$OUT/upd-$step.err")"
    echo "VMINFO res upd $step: $got"
}

# update: each step changes one or a few fields; the read after it holds
# every group's file, so an unset field that moved shows as a mismatch.
res_updates() {
    res_parent res_upd || { res_bad="$res_bad [upd: no parent cgroup]"; return; }
    if ! timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" create --bundle "$BUNDLES/res_upd" vm-res-upd \
        </dev/null >"$OUT/upd.out" 2>"$OUT/upd.err"; then
        res_bad="$res_bad [upd: create failed: $(res_err "$OUT/upd.err")]"
        cleanup_check res_upd vm-res-upd >/dev/null
        return
    fi
    f=/tmp/vmtest-res-upd.json
    res_update s0
    res_check "upd s0" "$got" "$(res_want upd_s0)"
    res_update s1 --memory 80m
    res_check "upd s1" "$got" "$(res_want upd_s1)"
    res_update s2 --memory-swap 160m --memory-reservation 16m
    res_check "upd s2" "$got" "$(res_want upd_s2)"
    res_update s3 --cpu-quota 50000
    res_check "upd s3" "$got" "$(res_want upd_s3)"
    res_update s4 --cpu-period 200000 --cpu-share 1024
    res_check "upd s4" "$got" "$(res_want upd_s4)"
    res_update s5 --cpuset-cpus 0-1 --cpuset-mems 0 --pids-limit 64 --blkio-weight 300
    res_check "upd s5" "$got" "$(res_want upd_s5)"
    echo '{"pids":{"limit":100}}' >$f
    res_update s6 --resources $f
    res_check "upd s6" "$got" "$(res_want upd_s6)"
    echo "{\"blockIO\":{\"throttleWriteBpsDevice\":[{\"major\":${RES_DEV%:*},\"minor\":${RES_DEV#*:},\"rate\":4096}]},\"cpu\":{\"burst\":5000}}" >$f
    res_update s7 --resources $f
    res_check "upd s7" "$got" "$(res_want upd_s7)"
    echo '{"unified":{"memory.high":"100000000"}}' >$f
    res_update s8 --resources $f
    res_check "upd s8" "$got" "$(res_want upd_s8)"
    res_update s9 --cpu-rt-period 1000000 --cpu-rt-runtime 950000
    res_check "upd s9" "$got" "$(res_want upd_s9)"
    res_update s10 --kernel-memory 32m
    res_check "upd s10" "$got" "$(res_want upd_s10)"
    echo '{"memory":{"limit":-1}}' >$f
    res_update s11 --resources $f
    res_check "upd s11" "$got" "$(res_want upd_s11)"
    res_update s12 --memory 48m --memory-swap -1 --pids-limit -1
    res_check "upd s12" "$got" "$(res_want upd_s12)"
    rm -f $f
    left=$(cleanup_check res_upd vm-res-upd)
    res_left upd "$left"
}

RES_CASES="mem mem_max mem_limmax mem_zero mem_swapeq mem_swaplow mem_swaponly mem_kernel mem_swappiness mem_flags mem_cbu
cpu cpu_burst cpu_idle cpu_edges cpu_shmax cpu_period cpu_rt pids pids_max pids_zero io io_leaf io_zero huge rdma net
unified unified_over unified_nosuch unified_nodot unified_noctl unified_subtree"

test_resources_v2() {
    n=resources_v2
    res_bad=""
    if ! res_loop; then
        verdict $n FAIL "no loop device for the io groups"
        return
    fi
    for rc_case in $RES_CASES; do
        res_case "$rc_case"
        res_check "$rc_case" "$got" "$(res_want "$rc_case")"
    done
    res_unified_procs
    res_updates
    losetup -d /dev/loop0
    rm -f /tmp/vmtest-res-disk
    # Control: other values in the cpu group must not pass as res_cpu's.
    ctl_bad=$res_bad
    res_case cpu_ctl
    ctl_got=$got
    res_check cpu_ctl "$got" "$(res_want cpu)"
    if [ "$res_bad" = "$ctl_bad" ]; then
        verdict resources_v2 FAIL "control: res_cpu_ctl (shares 1024, quota 20000) matched res_cpu's expectation: $got"
        return
    fi
    res_bad=$ctl_bad
    if [ -z "$res_bad" ]; then
        verdict resources_v2 PASS "$(echo $RES_CASES | wc -w) groups, unified cgroup.procs and update s0-s12 as expected (runc 1.1.5's values; outlet's differences documented); control cpu_ctl mismatched as it must: $ctl_got"
    else
        verdict resources_v2 FAIL "$res_bad"
    fi
}

# unified cgroup.procs: a victim process of the VM named as the value.
res_unified_procs() {
    n=res_unified_procs id=vm-res-unified-procs
    sleep 300 &
    victim=$!
    sed -i "s/__VICTIM__/$victim/" "$BUNDLES/$n/config.json"
    res_parent $n || { res_bad="$res_bad [unified_procs: no parent]"; kill $victim; return; }
    timeout "$STEP_TIMEOUT" "$RUNTIME" --root "$RTROOT" create --bundle "$BUNDLES/$n" "$id" \
        </dev/null >"$OUT/$id.out" 2>"$OUT/$id.err"
    rc=$?
    vcg=$(cat /proc/$victim/cgroup)
    # Out again before the clean-up, or the cgroup stays busy.
    echo $victim >"$CG/cgroup.procs"
    kill $victim
    wait $victim 2>/dev/null
    got="rc=$rc victim=$vcg"
    [ $rc = 0 ] || got="$got $(res_err "$OUT/$id.err")"
    echo "VMINFO res unified_procs: $got"
    left=$(cleanup_check $n $id)
    res_left unified_procs "$left"
    res_check unified_procs "$got" "$(res_want unified_procs)"
}

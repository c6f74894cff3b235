#!/bin/bash
# Writes the OCI bundles for the cgroup v2 VM tests (host side, needs jq).
#
# usage: tests/vm/bundles.sh OUTDIR
# Each bundle is OUTDIR/<name>/config.json; all share the fixture rootfs,
# which the VM holds at /fixtures/rootfs (read-only root, tmpfs on /tmp).
# Each container lives in its own cgroup /vmtest/<name>/ctr: the VM test
# script creates /vmtest/<name> so that what the container used (hierarchical
# memory.events, cpu.stat) can still be read after the runtime removed ctr.
set -euo pipefail

out=${1:?usage: bundles.sh OUTDIR}
mkdir -p "$out"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bundle NAME ARGS_JSON RESOURCES_JSON [CGROUPNS(true|false)]
bundle() {
    local name=$1 args=$2 res=$3 cgns=${4:-false}
    mkdir -p "$out/$name"
    jq -n \
        --argjson args "$args" \
        --argjson res "$res" \
        --argjson cgns "$cgns" \
        --arg cgpath "/vmtest/$name/ctr" \
        --arg rootfs /fixtures/rootfs \
        --arg hostname vmtest-ctr \
        -f "$here/../common/bundle.jq" >"$out/$name/config.json"
}

mib=1048576

bundle smoke '["/bin/probe","report"]' '{}'
bundle criu '["sh","-c","x=$(head -c 2000000 /dev/zero | tr \"\\\\0\" a); i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done"]' "{\"memory\":{\"limit\":$((64 * mib))}}"
# In the VM's network namespace: criu would save a namespace of its own with
# iptables-save, which the VM does not hold (the cgroup v2 paths are the point).
jq '.linux.namespaces |= map(select(.type != "network"))' "$out/criu/config.json" >"$out/criu/c.json"
mv "$out/criu/c.json" "$out/criu/config.json"
# A listening TCP socket in the container's own network namespace (kept),
# with memory and CPU limits, for the --tcp-established round trips.
bundle criu_tcp '["sh","-c","ip link set lo up; nc -ll -p 8080 -e true & i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done"]' "{\"memory\":{\"limit\":$((64 * mib))},\"cpu\":{\"quota\":25000,\"period\":100000}}"
cp -r "$out/criu_tcp" "$out/criu_tcp_empty"
bundle mem_oom '["/bin/probe","mem","128"]' "{\"memory\":{\"limit\":$((64 * mib))}}"
bundle mem_ok '["/bin/probe","mem","32"]' "{\"memory\":{\"limit\":$((64 * mib))}}"
# The cgroup is mounted inside so that probe reads cpu.stat around the spin
# itself: the runtime's own setup work in the container's cgroup (seen:
# runc's Go init, ~0.6 s under TCG, before its limits are written) must not
# count as a limit failure.
bundle cpu_limited '["/bin/probe","spin","2","4"]' '{"cpu":{"quota":25000,"period":100000}}' true
bundle cpu_free '["/bin/probe","spin","2","4"]' '{}' true
bundle pids '["/bin/probe","forks","64"]' '{"pids":{"limit":16}}'
# events --stats on a known load: 24 MiB in /dev/shm (charged to the
# container's memory cgroup), a CPU spin, then a marker and sleep.
bundle stats_v2 '["sh","-c","head -c 25165824 /dev/zero >/dev/shm/fill; n=0; while [ $n -lt 100000 ]; do n=$((n+1)); done; touch /tmp/done; exec sleep 1000"]' "{\"memory\":{\"limit\":$((128 * mib))}}"
bundle mission '["/bin/probe","cgroup"]' \
    '{"cpu":{"quota":25000,"period":100000},"memory":{"limit":536870912}}' true
# The cgroup mount without a cgroup namespace: a read-only bind of the
# container's own cgroup directory (outlet clones it by fd and makes it
# read-only while detached).
# preserve_fds: the process lists its fds as (number, statfs magic, dir or
# not); run and exec are called with fds 3 and 4 passed and 3..10 declared,
# so any fd of outlet's own (the cgroup directory's, opened for
# CLONE_INTO_CGROUP) that landed in the gap would be kept.
fds_sh='for f in /proc/$$/fd/*; do n=${f##*/}; k=other; [ -d $f ] && k=dir; echo "fd $n $(stat -L -f -c %t $f) $k"; done; echo types-done'
bundle preserve_fds "$(jq -cn --arg s "$fds_sh" '["/bin/sh","-c",$s]')" '{}'
bundle preserve_fds_exec '["sleep","1000"]' '{}'
bundle cgroup_dirs '["/bin/sh","-c","find /sys/fs/cgroup/ -type d | wc -l"]' '{}' true
bundle cgroup_bind '["/bin/sh","-c","cat /sys/fs/cgroup/cpu.max; grep \" /sys/fs/cgroup \" /proc/self/mountinfo | cut -d\" \" -f4-6; touch /sys/fs/cgroup/x 2>/dev/null && echo WRITABLE; exit 0"]' \
    '{"cpu":{"quota":25000,"period":100000}}' true
jq '.linux.namespaces |= map(select(.type != "cgroup"))' "$out/cgroup_bind/config.json" >"$out/cgroup_bind/c.json"
mv "$out/cgroup_bind/c.json" "$out/cgroup_bind/config.json"
# One JSON line per step; the script goes on after a failure so every step
# is reported.
bundle devices '["/bin/sh","-c","probe read /dev/null; probe mknod /tmp/null2 c 1 3; probe read /tmp/null2; probe mknod /tmp/sda b 8 0; probe read /tmp/sda; exit 0"]' '{}'
# The spec's access string held exactly: /dev/kmsg's 1:11 granted "r"
# (devices_ro) or "rw" (devices_rw, the control) after a deny-all; the node
# is made inside (the default `c *:* m`) and only opened for writing, never
# written. /dev/net/tun from the default rules: mknod works, its open is
# not refused by the filter (ENODEV without the tun module is fine).
dev_sh='probe mknod /tmp/k c 1 11; probe openw /tmp/k; probe mknod /tmp/tun c 10 200; probe read /tmp/tun; exit 0'
for acc in ro:r rw:rw; do
    bundle "devices_${acc%%:*}" "[\"/bin/sh\",\"-c\",\"$dev_sh\"]" \
        "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":11,\"access\":\"${acc#*:}\"}]}"
done
# mount_api: the mount API paths on Debian 12's kernel: an rbind made
# read-only recursively (rro) and private while detached, over a source with
# a submount the VM makes, and a tmpfs over the image's /etc that tmpcopyup
# fills. /tmp is the container's own tmpfs, so nothing lands in the fixture.
bundle mount_api '["/bin/sh","-c","touch /tmp/b/x; echo top=$?; touch /tmp/b/sub/x; echo sub=$?; head -1 /etc/passwd"]' '{}'
jq '.mounts += [{destination: "/tmp/b", type: "bind", source: "/tmp/vmtest-mnt",
                 options: ["rbind", "rro", "rprivate"]},
                {destination: "/etc", type: "tmpfs", source: "tmpfs",
                 options: ["nosuid", "tmpcopyup"]}]' \
    "$out/mount_api/config.json" >"$out/mount_api/config.json.new"
mv "$out/mount_api/config.json.new" "$out/mount_api/config.json"
# systemd_bus_env: a systemd cgroupsPath, so that `--systemd-cgroup` goes
# as far as choosing its bus (the VM runs no systemd: the connect fails);
# a pids limit only (a user's driver asks the bus for it; uid 0 of a user
# namespace, the control, could not set device rules).
bundle systemd_bus '["true"]' '{}'
jq '.linux.cgroupsPath = "system.slice:vmtest:bus" | .linux.resources = {pids: {limit: 100}}' "$out/systemd_bus/config.json" >"$out/systemd_bus/c.json"
mv "$out/systemd_bus/c.json" "$out/systemd_bus/config.json"
# Control for unified_escape: a valid key must work, or a refusal of the
# bad one proves nothing.
bundle unified_ok '["/bin/probe","cgroup"]' '{"unified":{"pids.max":"10"}}' true
# __VICTIM__ is replaced in the VM by the pid of a process in the root
# cgroup: if the runtime wrote the key, that process moves into /vmtest/unified_escape.
bundle unified_escape '["/bin/probe","exit","0"]' '{"unified":{"../cgroup.procs":"__VICTIM__"}}'

# hugetlb: the VM boots with hugepages=4 (2 MiB each). probe maps two; a
# 2 MiB limit (one page) refuses the mapping, 4 MiB takes both.
huge_sh='cat /sys/fs/cgroup/hugetlb.2MB.max /sys/fs/cgroup/hugetlb.2MB.rsvd.max; exec probe huge 2'
bundle hugetlb_limited "[\"/bin/sh\",\"-c\",\"$huge_sh\"]" \
    "{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":$((2 * mib))}]}" true
bundle hugetlb_ok "[\"/bin/sh\",\"-c\",\"$huge_sh\"]" \
    "{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":$((4 * mib))}]}" true

# io: a loop device the VM sets up, whose numbers are only known there:
# 9990:9991 stand for them and tests.sh puts in the real ones. The
# container gets the device node (linux.devices) and writes 3 MiB with
# O_DIRECT, under a 1 MiB/s write limit or none.
io_sh='cat /sys/fs/cgroup/io.max; dd if=/dev/zero of=/dev/loop0 bs=256k count=12 oflag=direct 2>&1'
bundle io_limited "[\"/bin/sh\",\"-c\",\"$io_sh\"]" \
    '{"blockIO":{"throttleWriteBpsDevice":[{"major":9990,"minor":9991,"rate":1048576}]}}' true
bundle io_free "[\"/bin/sh\",\"-c\",\"$io_sh\"]" '{}' true
for b in io_limited io_free; do
    # As with runc, a linux.devices node gets no device-cgroup rule of its
    # own: the spec grants it, as docker does for --device.
    jq '.linux.devices = [{path: "/dev/loop0", type: "b", major: 9990, minor: 9991, fileMode: 432, uid: 0, gid: 0}]
        | .linux.resources.devices += [{allow: true, type: "b", major: 9990, minor: 9991, access: "rw"}]' \
        "$out/$b/config.json" >"$out/$b/config.json.new"
    mv "$out/$b/config.json.new" "$out/$b/config.json"
done

# Two containers run from this one bundle, so they share its cgroupsPath.
bundle shared '["/bin/sleep","1000"]' '{}'

# cgdepth: no pid namespace of its own, so that delete --force kills
# through the cgroup tree, which the test nests past PATH_MAX.
bundle cgdepth '["/bin/sleep","1000"]' '{}'
jq '.linux.namespaces |= map(select(.type != "pid"))' "$out/cgdepth/config.json" >"$out/cgdepth/c.json"
mv "$out/cgdepth/c.json" "$out/cgdepth/config.json"

# crash_v2: create/run -d with cpu, memory and pids limits and the device
# rules of every bundle (the eBPF filter); the marker in the environment
# finds any process of the container a killed runtime left.
bundle crash_v2 '["/bin/sleep","1000"]' "{\"cpu\":{\"quota\":25000,\"period\":100000},\"memory\":{\"limit\":$((64 * mib))},\"pids\":{\"limit\":64}}"
jq '.process.env += ["VMCRASH_MARK=1"]' "$out/crash_v2/config.json" >"$out/crash_v2/c.json"
mv "$out/crash_v2/c.json" "$out/crash_v2/config.json"
# The same in the VM's pid namespace, for delete --force: the runtime
# kills a container without a pid namespace of its own through
# cgroup.kill (with one, through the init's pidfd).
jq '.linux.namespaces |= map(select(.type != "pid"))' "$out/crash_v2/config.json" >"$out/crash_v2/c.json"
mkdir -p "$out/crash_v2_hostpid"
mv "$out/crash_v2/c.json" "$out/crash_v2_hostpid/config.json"

# userns_join (tests/vm/s10_v2.sh): a holder in a user namespace of its
# own (0 -> 100000), and containers joining it by path with every other
# namespace new: the init joins, unshares and forks pid 1
# (src/process/init_fork.rs). Their cgroups sit side by side under
# /vmtest/userns_join; __HOLDER__ is the holder's pid, put in by the VM.
bundle userns_holder '["/bin/sleep","1000"]' '{}'
jq '.linux.cgroupsPath = "/vmtest/userns_join/holder"
    | .linux.namespaces += [{type: "user"}]
    | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
    | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]' \
    "$out/userns_holder/config.json" >"$out/userns_holder/c.json"
mv "$out/userns_holder/c.json" "$out/userns_holder/config.json"
# A shell's child and pid 1, both to be found in the cgroup and killed.
bundle userns_join '["/bin/sh","-c","sleep 1000 & exec sleep 1001"]' \
    "{\"memory\":{\"limit\":$((64 * mib))},\"cpu\":{\"quota\":25000,\"period\":100000}}"
bundle userns_join_oom '["/bin/probe","mem","128"]' "{\"memory\":{\"limit\":$((64 * mib))}}"
for b in userns_join:ctr userns_join_oom:oom; do
    jq --arg cg "/vmtest/userns_join/${b#*:}" \
        '.linux.cgroupsPath = $cg
        | .linux.namespaces += [{type: "user", path: "/proc/__HOLDER__/ns/user"}]' \
        "$out/${b%:*}/config.json" >"$out/${b%:*}/c.json"
    mv "$out/${b%:*}/c.json" "$out/${b%:*}/config.json"
done

# freeze_* (tests/vm/s10_v2.sh): the container, given its cgroup namespace
# and a writable cgroup2 mount, makes /sys/fs/cgroup/f, puts a counter (and
# in freeze_self* itself, pid 1) there, and freezes f. *_host: in the VM's
# pid namespace. /tmp/n is the counter, /tmp/frozen says the freeze is
# about to be written.
# The counter is renamed into place: frozen between echo's truncation and
# its write, /tmp/n stood empty for good and the case's set-up check read
# nothing (seen once in CI under TCG).
count='i=0; while :; do i=$((i+1)); echo $i >/tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.1; done'
fz_ctr="mkdir /sys/fs/cgroup/f; sh -c 'echo 0 >/sys/fs/cgroup/f/cgroup.procs; $count' & sleep 2; touch /tmp/frozen; echo 1 >/sys/fs/cgroup/f/cgroup.freeze; exec sleep 1000"
fz_self="mkdir /sys/fs/cgroup/f; echo 0 >/sys/fs/cgroup/f/cgroup.procs; { $count; } & sleep 2; touch /tmp/frozen; echo 1 >/sys/fs/cgroup/f/cgroup.freeze; exec sleep 1000"
# freeze_own: the container freezes its own cgroup (the namespace's root).
fz_own="{ $count; } & sleep 2; touch /tmp/frozen; echo 1 >/sys/fs/cgroup/cgroup.freeze; exec sleep 1000"
for b in freeze_ctr freeze_self freeze_ctr_host freeze_self_host freeze_own; do
    case $b in freeze_ctr*) script=$fz_ctr ;; freeze_own) script=$fz_own ;; *) script=$fz_self ;; esac
    bundle "$b" "$(jq -cn --arg s "$script" '["/bin/sh","-c",$s]')" '{}' true
    jq --arg b "$b" '.mounts |= map(if .destination == "/sys/fs/cgroup" then .options -= ["ro"] else . end)
        | if ($b | endswith("_host")) then .linux.namespaces |= map(select(.type != "pid")) else . end' \
        "$out/$b/config.json" >"$out/$b/c.json"
    mv "$out/$b/c.json" "$out/$b/config.json"
done

# cgh_* (tests/vm/s15_v2.sh): the container, given its cgroup namespace and
# a writable cgroup2 mount, rearranges its tree, then touches /tmp/ready.
# cgh_sub: pid 1 moves into a, the root gets controllers in its
# subtree_control (so no process may live in it). cgh_pidsmax: pids.max at
# the count of its processes. cgh_maxdesc: no sub-cgroup may be made.
# cgh_mover*: a frozen f, and a loop that moves every other process that
# shows up in the root into f (*_host: in the VM's pid namespace, where
# exec's helper itself shows up).
cg=/sys/fs/cgroup
cgh_sub="mkdir $cg/a $cg/b $cg/b/c; echo 0 >$cg/a/cgroup.procs; echo +pids +memory >$cg/cgroup.subtree_control; touch /tmp/ready; exec sleep 1000"
cgh_pidsmax="sleep 1000 & touch /tmp/ready; echo 2 >$cg/pids.max; exec sleep 1000"
cgh_maxdesc="mkdir $cg/a; echo 0 >$cg/cgroup.max.descendants; echo 0 >$cg/a/cgroup.max.depth; echo 0 >$cg/cgroup.max.depth; touch /tmp/ready; exec sleep 1000"
# Three movers, skipping every shell (themselves and pid 1, or in the
# *_host case the shell that started them) by its comm.
mover="while :; do while read -r q; do read -r c </proc/\$q/comm || c=sh; [ \"\$c\" = sh ] || echo \$q >$cg/f/cgroup.procs; done <$cg/cgroup.procs 2>/dev/null; done"
cgh_mover="mkdir $cg/f; echo 1 >$cg/f/cgroup.freeze; touch /tmp/ready; sh -c '$mover' & sh -c '$mover' & exec sh -c '$mover'"
for b in cgh_sub cgh_pidsmax cgh_maxdesc cgh_mover cgh_mover_host; do
    case $b in cgh_mover*) script=$cgh_mover ;; *) eval "script=\$$b" ;; esac
    bundle "$b" "$(jq -cn --arg s "$script" '["/bin/sh","-c",$s]')" '{}' true
    jq --arg b "$b" '.mounts |= map(if .destination == "/sys/fs/cgroup" then .options -= ["ro"] else . end)
        | if ($b | endswith("_host")) then .linux.namespaces |= map(select(.type != "pid")) else . end' \
        "$out/$b/config.json" >"$out/$b/c.json"
    mv "$out/$b/c.json" "$out/$b/config.json"
done

# resources_v2: every field of linux.resources, one group per container
# (created, never started: the init waits while tests.sh reads the cgroup
# files). 9990:9991 stand for the VM's loop device (see io above).
res() { bundle "res_$1" '["/bin/sleep","1000"]' "$2"; }
res mem "{\"memory\":{\"limit\":$((64 * mib)),\"reservation\":$((32 * mib)),\"swap\":$((96 * mib))}}"
res mem_max '{"memory":{"limit":-1,"reservation":-1,"swap":-1}}'
res mem_limmax '{"memory":{"limit":-1}}'
res mem_zero '{"memory":{"limit":0,"reservation":0,"swap":0}}'
res mem_swapeq "{\"memory\":{\"limit\":$((64 * mib)),\"swap\":$((64 * mib))}}"
res mem_swaplow "{\"memory\":{\"limit\":$((64 * mib)),\"swap\":$((32 * mib))}}"
res mem_swaponly "{\"memory\":{\"swap\":$((96 * mib))}}"
res mem_kernel "{\"memory\":{\"limit\":$((64 * mib)),\"kernel\":$((32 * mib)),\"kernelTCP\":$((16 * mib))}}"
res mem_swappiness "{\"memory\":{\"limit\":$((64 * mib)),\"swappiness\":30}}"
res mem_flags "{\"memory\":{\"limit\":$((64 * mib)),\"disableOOMKiller\":true,\"useHierarchy\":true,\"checkBeforeUpdate\":false}}"
res mem_cbu "{\"memory\":{\"limit\":$((64 * mib)),\"checkBeforeUpdate\":true}}"
res cpu '{"cpu":{"shares":512,"quota":25000,"period":50000,"cpus":"0","mems":"0"}}'
# The control: the cpu group with other values, held against res_cpu's
# expectation.
res cpu_ctl '{"cpu":{"shares":1024,"quota":20000,"period":50000,"cpus":"0","mems":"0"}}'
res cpu_burst '{"cpu":{"quota":25000,"period":100000,"burst":10000}}'
res cpu_idle '{"cpu":{"idle":1}}'
res cpu_edges '{"cpu":{"shares":2,"quota":-1,"period":100000}}'
res cpu_shmax '{"cpu":{"shares":262144,"quota":0}}'
res cpu_period '{"cpu":{"period":50000}}'
res cpu_rt '{"cpu":{"realtimeRuntime":950000,"realtimePeriod":1000000}}'
res pids '{"pids":{"limit":32}}'
res pids_max '{"pids":{"limit":-1}}'
res pids_zero '{"pids":{"limit":0}}'
res io '{"blockIO":{"weight":500,"leafWeight":300,
  "weightDevice":[{"major":9990,"minor":9991,"weight":200,"leafWeight":100}],
  "throttleReadBpsDevice":[{"major":9990,"minor":9991,"rate":1048576}],
  "throttleWriteBpsDevice":[{"major":9990,"minor":9991,"rate":2097152}],
  "throttleReadIOPSDevice":[{"major":9990,"minor":9991,"rate":100}],
  "throttleWriteIOPSDevice":[{"major":9990,"minor":9991,"rate":200}]}}'
res io_leaf '{"blockIO":{"leafWeight":300}}'
res io_zero '{"blockIO":{"throttleWriteBpsDevice":[{"major":9990,"minor":9991,"rate":0}]}}'
res huge "{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":$((4 * mib))}]}"
res rdma '{"rdma":{"mlx4_0":{"hcaHandles":2,"hcaObjects":100}}}'
res net '{"network":{"classID":42,"priorities":[{"name":"eth0","priority":5}]}}'
res unified '{"unified":{"memory.high":"50331648","memory.min":"1048576","memory.oom.group":"1",
  "cpu.weight.nice":"5","cpu.max":"30000 100000","pids.max":"20","cpuset.cpus":"1",
  "hugetlb.2MB.max":"2097152","io.max":"9990:9991 wiops=300",
  "cgroup.max.depth":"3","cgroup.max.descendants":"7"}}'
res unified_over '{"cpu":{"shares":512},"memory":{"limit":67108864},
  "unified":{"cpu.weight":"77","memory.max":"33554432"}}'
res unified_nosuch '{"unified":{"memory.nosuch":"1"}}'
res unified_nodot '{"unified":{"nodot":"1"}}'
# crun: test_resources.py test_resources_unified_invalid_controller
res unified_noctl '{"unified":{"foo.bar":"doesntmatter"}}'
res unified_procs '{"unified":{"cgroup.procs":"__VICTIM__"}}'
res unified_subtree '{"unified":{"cgroup.subtree_control":"+pids"}}'
# The container `update` changes: a value in every group update can reach.
res upd "{\"memory\":{\"limit\":$((64 * mib)),\"reservation\":$((32 * mib)),\"swap\":$((96 * mib))},
  \"cpu\":{\"shares\":512,\"quota\":25000,\"period\":100000,\"cpus\":\"0\",\"mems\":\"0\"},
  \"pids\":{\"limit\":32},\"blockIO\":{\"weight\":500}}"
for b in res_io res_io_zero res_unified res_upd; do
    jq '.linux.devices = [{path: "/dev/loop0", type: "b", major: 9990, minor: 9991, fileMode: 432, uid: 0, gid: 0}]' \
        "$out/$b/config.json" >"$out/$b/config.json.new"
    mv "$out/$b/config.json.new" "$out/$b/config.json"
done

echo "bundles written to $out" >&2

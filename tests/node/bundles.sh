#!/bin/bash
# Writes the OCI bundles of the node suite (host side, needs jq).
#
# usage: tests/node/bundles.sh OUTDIR
# Each bundle is OUTDIR/<name>/config.json; all share the fixture rootfs,
# which the node holds at /mnt/node/rootfs (read-only root, tmpfs on /tmp).
set -euo pipefail

out=${1:?usage: bundles.sh OUTDIR}
mkdir -p "$out"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bundle NAME ARGS_JSON RESOURCES_JSON CGROUPS_PATH [CGROUPNS(true|false)]
bundle() {
    mkdir -p "$out/$1"
    jq -n --argjson args "$2" --argjson res "$3" --arg cgpath "$4" --argjson cgns "${5:-false}" \
        --arg rootfs /mnt/node/rootfs --arg hostname node-ctr \
        -f "$here/../common/bundle.jq" >"$out/$1/config.json"
}

mib=1048576
mission="{\"cpu\":{\"quota\":25000,\"period\":100000},\"memory\":{\"limit\":$((512 * mib))}}"
bundle sd_mission '["/bin/sleep","1000"]' "$mission" "system.slice:outlet:node-sd1"
bundle sd_oom '["/bin/probe","mem","128"]' "{\"memory\":{\"limit\":$((64 * mib))}}" "system.slice:outlet:node-oom"
bundle sd_nested '["/bin/sleep","1000"]' '{"pids":{"limit":32}}' "node-test-nested.slice:outlet:node-nest"
bundle sd_default '["/bin/sleep","1000"]' '{}' ""
bundle cgfs '["/bin/sleep","1000"]' "$mission" "/outlet-node/cgfs1"
# probe reads the cgroup's cpu.stat around a 2-thread, 4 s spin from inside.
bundle sd_cpu_limited '["/bin/probe","spin","2","4"]' '{"cpu":{"quota":25000,"period":100000}}' "system.slice:outlet:node-cpu" true
bundle sd_cpu_free '["/bin/probe","spin","2","4"]' '{}' "system.slice:outlet:node-cpufree" true
# A createRuntime hook that sleeps holds create after the scope exists: the
# window in which the killed-create test kills it.
bundle sd_killed '["/bin/sleep","1000"]' '{}' "system.slice:outlet:node-killed"
jq '.hooks = {createRuntime: [{path: "/bin/sleep", args: ["sleep", "20"]}]}' \
    "$out/sd_killed/config.json" >"$out/sd_killed/config.json.new"
mv "$out/sd_killed/config.json.new" "$out/sd_killed/config.json"
# A slice as the name (runc's meaning): the unit node-slc-ctr.slice, wanted
# by node-slc.slice, where systemd places it by its name; then one that
# systemd would place outside the slice it names.
bundle sd_slice '["/bin/sleep","1000"]' "{\"pids\":{\"limit\":32},\"memory\":{\"limit\":$((64 * mib))}}" \
    "node-slc.slice:outlet:node-slc-ctr.slice"
bundle sd_slice_outside '["/bin/sleep","1000"]' '{}' "system.slice:outlet:other-node.slice"
# The victim of the unit-name attack; the attacker's create reuses its
# cgroupsPath (and a fresh one for the control).
bundle sd_victim '["/bin/sleep","1000"]' '{}' "system.slice:outlet:node-victim"
bundle sd_attacker_fresh '["/bin/sleep","1000"]' '{}' "system.slice:outlet:node-attacker"
# A unit name that outlives its container: the first exits at once (its
# scope goes away), the second starts the same unit name later.
bundle sd_stale_first '["/bin/true"]' '{}' "system.slice:outlet:node-stale"
# Without a pid namespace: what is in its cgroup after the init is gone
# would be signalled through the cgroup (kill --all, delete).
jq '.linux.namespaces |= map(select(.type != "pid"))' \
    "$out/sd_stale_first/config.json" >"$out/sd_stale_first/config.json.new"
mv "$out/sd_stale_first/config.json.new" "$out/sd_stale_first/config.json"
bundle sd_stale_second '["/bin/sleep","1000"]' '{}' "system.slice:outlet:node-stale"
# Rootless: uid 0 inside is nodeuser (1000) outside, the scope the user's
# systemd instance's in its user.slice.
bundle sd_rootless '["/bin/sleep","1000"]' \
    "{\"pids\":{\"limit\":32},\"memory\":{\"limit\":$((64 * mib))},\"cpu\":{\"quota\":25000,\"period\":100000}}" \
    "user.slice:outlet:node-rl" true
jq '.linux.namespaces += [{type: "user"}]
    | .linux.uidMappings = [{containerID: 0, hostID: 1000, size: 1}]
    | .linux.gidMappings = [{containerID: 0, hostID: 1000, size: 1}]' \
    "$out/sd_rootless/config.json" >"$out/sd_rootless/config.json.new"
mv "$out/sd_rootless/config.json.new" "$out/sd_rootless/config.json"
# Rootless with a limit whose controller the user's instance was not given
# (guest-setup.sh delegates cpu cpuset io memory pids, not hugetlb).
bundle sd_rootless_hugetlb '["/bin/sleep","1000"]' \
    '{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}' "user.slice:outlet:node-rlh" true
jq '.linux.namespaces += [{type: "user"}]
    | .linux.uidMappings = [{containerID: 0, hostID: 1000, size: 1}]
    | .linux.gidMappings = [{containerID: 0, hostID: 1000, size: 1}]' \
    "$out/sd_rootless_hugetlb/config.json" >"$out/sd_rootless_hugetlb/config.json.new"
mv "$out/sd_rootless_hugetlb/config.json.new" "$out/sd_rootless_hugetlb/config.json"
# sd_res: the fields systemd manages (and a unified key it converts), for
# the properties-against-runc test (t_sdres); blockIO weight too.
bundle sd_res '["/bin/sleep","1000"]' \
    "{\"memory\":{\"limit\":$((64 * mib)),\"reservation\":$((32 * mib)),\"swap\":$((96 * mib))},
      \"cpu\":{\"shares\":512,\"quota\":25000,\"period\":100000,\"cpus\":\"0\",\"mems\":\"0\"},
      \"pids\":{\"limit\":32},\"blockIO\":{\"weight\":500},
      \"unified\":{\"memory.high\":\"$((48 * mib))\"}}" "system.slice:outlet:node-res"

# sd_userns (tests/node/sd_userns.sh): a holder in a user namespace of its
# own (0 -> 100000), and a container joining it by path with its other
# namespaces new (the init forks pid 1 after its joins), in a scope with
# memory and cpu limits; __HOLDER__ is the holder's pid, put in on the node.
bundle sd_uholder '["/bin/sleep","1000"]' '{}' "system.slice:outlet:node-uholder"
jq '.linux.namespaces += [{type: "user"}]
    | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
    | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]' \
    "$out/sd_uholder/config.json" >"$out/sd_uholder/c.json"
mv "$out/sd_uholder/c.json" "$out/sd_uholder/config.json"
bundle sd_ujoin '["/bin/sh","-c","sleep 1000 & exec sleep 1001"]' \
    "{\"memory\":{\"limit\":$((64 * mib))},\"cpu\":{\"quota\":25000,\"period\":100000}}" "system.slice:outlet:node-ujoin"
jq '.linux.namespaces += [{type: "user", path: "/proc/__HOLDER__/ns/user"}]' \
    "$out/sd_ujoin/config.json" >"$out/sd_ujoin/c.json"
mv "$out/sd_ujoin/c.json" "$out/sd_ujoin/config.json"

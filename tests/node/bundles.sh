#!/bin/bash
# Writes the OCI bundles of the node suite (host side, needs jq).
#
# usage: tests/node/bundles.sh OUTDIR
# Each bundle is OUTDIR/<name>/config.json; all share the fixture rootfs,
# which the node holds at /mnt/node/rootfs (read-only root, tmpfs on /tmp).
set -euo pipefail

out=${1:?usage: bundles.sh OUTDIR}
mkdir -p "$out"

# bundle NAME ARGS_JSON RESOURCES_JSON CGROUPS_PATH [CGROUPNS(true|false)]
bundle() {
    mkdir -p "$out/$1"
    jq -n --argjson args "$2" --argjson res "$3" --arg cgpath "$4" --argjson cgns "${5:-false}" -f /dev/stdin \
        >"$out/$1/config.json" <<'JQ'
def caps: ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL",
           "CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_NET_BIND_SERVICE",
           "CAP_SYS_CHROOT","CAP_MKNOD","CAP_AUDIT_WRITE"];
{
  ociVersion: "1.0.2",
  process: {
    terminal: false,
    user: {uid: 0, gid: 0},
    args: $args,
    env: ["PATH=/bin:/usr/bin", "HOME=/root"],
    cwd: "/",
    capabilities: {bounding: caps, effective: caps, permitted: caps},
    rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
    noNewPrivileges: true
  },
  root: {path: "/mnt/node/rootfs", readonly: true},
  hostname: "node-ctr",
  mounts: ([
    {destination: "/proc", type: "proc", source: "proc"},
    {destination: "/dev", type: "tmpfs", source: "tmpfs",
     options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {destination: "/dev/pts", type: "devpts", source: "devpts",
     options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {destination: "/sys", type: "sysfs", source: "sysfs",
     options: ["nosuid", "noexec", "nodev", "ro"]},
    {destination: "/tmp", type: "tmpfs", source: "tmpfs",
     options: ["nosuid", "mode=1777", "size=16m"]}
  ] + (if $cgns then [
    {destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
     options: ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ] else [] end)),
  linux: {
    resources: $res,
    cgroupsPath: $cgpath,
    namespaces: ([{type: "pid"}, {type: "network"}, {type: "ipc"},
                  {type: "uts"}, {type: "mount"}]
                 + (if $cgns then [{type: "cgroup"}] else [] end)),
    maskedPaths: ["/proc/kcore", "/proc/keys", "/sys/firmware"],
    readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                    "/proc/sysrq-trigger"]
  }
}
JQ
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

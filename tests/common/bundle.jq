# The OCI config.json of one test bundle, shared by the VM suite
# (tests/vm/bundles.sh) and the node suite (tests/node/bundles.sh):
#   jq -n -f bundle.jq --argjson args ARGV_JSON --argjson res RESOURCES_JSON
#      --argjson cgns true|false --arg cgpath CGROUPS_PATH
#      --arg rootfs PATH --arg hostname NAME
# A busybox rootfs, read-only with a tmpfs on /tmp; with cgns, a cgroup
# namespace and the cgroup mounted read-only inside.
def caps: ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL",
           "CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_NET_BIND_SERVICE",
           "CAP_SYS_CHROOT","CAP_MKNOD","CAP_AUDIT_WRITE"];
# The standard device nodes are allowed explicitly, so the tests do not rely
# on a runtime's built-in default list.
def std_devices:
  [{allow: false, access: "rwm"}] +
  ([[1,3],[1,5],[1,7],[1,8],[1,9],[5,0],[5,1],[5,2]]
     | map({allow: true, type: "c", major: .[0], minor: .[1], access: "rwm"})) +
  [{allow: true, type: "c", major: 136, access: "rwm"}];
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
  root: {path: $rootfs, readonly: true},
  hostname: $hostname,
  mounts: ([
    {destination: "/proc", type: "proc", source: "proc"},
    {destination: "/dev", type: "tmpfs", source: "tmpfs",
     options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {destination: "/dev/pts", type: "devpts", source: "devpts",
     options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {destination: "/dev/shm", type: "tmpfs", source: "shm",
     options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {destination: "/sys", type: "sysfs", source: "sysfs",
     options: ["nosuid", "noexec", "nodev", "ro"]},
    {destination: "/tmp", type: "tmpfs", source: "tmpfs",
     options: ["nosuid", "mode=1777", "size=16m"]}
  ] + (if $cgns then [
    {destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
     options: ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ] else [] end)),
  linux: {
    resources: ({devices: std_devices} + $res),
    cgroupsPath: $cgpath,
    namespaces: ([{type: "pid"}, {type: "network"}, {type: "ipc"},
                  {type: "uts"}, {type: "mount"}]
                 + (if $cgns then [{type: "cgroup"}] else [] end)),
    maskedPaths: ["/proc/kcore", "/proc/keys", "/proc/timer_list",
                  "/sys/firmware"],
    readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                    "/proc/sysrq-trigger"]
  }
}

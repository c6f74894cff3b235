#!/usr/bin/env bash
# The demo: build outlet, make a busybox bundle limited to 0.25 CPU and
# 512 MiB, run it, and show from inside the container its isolation and its
# limits. As root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "demo.sh: run as root" >&2; exit 1; }
bash scripts/install-deps.sh
cargo build --release --locked 2>&1 | tail -1
rootfs=$(rootfs-fixtures/build.sh)
outlet=$(scripts/binary-path.sh)

work=$(mktemp -d /tmp/outlet-demo.XXXXXX)
root=$work/state
id=demo-$$
cleanup() {
  "$outlet" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bundle=$work/bundle
mkdir -p "$bundle"
"$outlet" spec --bundle "$bundle"
# The container: 0.25 CPU (25 ms per 100 ms), 512 MiB, its own cgroup view.
jq --arg rootfs "$rootfs" '
  .root = {path: $rootfs, readonly: true}
  | .process.terminal = false
  | .hostname = "slice"
  | .linux.resources.cpu = {quota: 25000, period: 100000}
  | .linux.resources.memory = {limit: 536870912}
  | .process.args = ["sh", "-c", "
      echo \"inside: hostname $(hostname), I am pid $$, uid $(id -u)\";
      echo \"inside: processes I can see: $(ls /proc | grep -c \"^[0-9]\")\";
      echo \"inside: network interfaces: $(ls /sys/class/net | tr \"\\n\" \" \")\";
      echo \"inside: / holds: $(ls / | tr \"\\n\" \" \")\";
      if [ -f /sys/fs/cgroup/cpu.max ]; then
        echo \"inside: cpu.max $(cat /sys/fs/cgroup/cpu.max), memory.max $(cat /sys/fs/cgroup/memory.max)\";
      else
        echo \"inside: cpu.cfs_quota_us $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) of cpu.cfs_period_us $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us), memory.limit_in_bytes $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\";
      fi;
      echo \"inside: spinning 2 threads for 2 s of wall time...\";
      probe spin 2 2 | sed \"s/^/inside: /\"
    "]
' "$bundle/config.json" > "$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

echo "host: outlet run $id (0.25 CPU, 512 MiB)"
start=$(date +%s%N)
"$outlet" --root "$root" run --bundle "$bundle" "$id"
rc=$?
end=$(date +%s%N)
echo "host: container exited $rc after $(( (end - start) / 1000000 )) ms; a 0.25 CPU limit lets 2 busy threads use about 0.5 s of CPU in 2 s"
echo "host: state left behind: $(ls "$root" 2>/dev/null | wc -l) containers"

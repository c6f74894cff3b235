#!/usr/bin/env bash
# Real-caller test: `podman container checkpoint/restore` (podman 4.3 +
# conmon) driving the runtime under test ($RUNTIME, default
# target/<triple>/release/outlet) with `--runtime PATH`, and CRIU 4.1.1 from trixie
# (scripts/fetch-criu.sh; bookworm's 3.17 fails `criu check` on this kernel)
# first on PATH for both podman (it checks criu itself) and the runtime.
# Same private podman setup as podman.sh.
#
# podman runs with private --root/--runroot/--tmpdir under a temp dir, vfs
# storage, cgroupfs with our own cgroup parent, no network; conmon and every
# container are stopped (by pid) and removed on exit, also on failure.
#
# env: RUNTIME=path           runtime binary (default <repo>/target/<triple>/release/outlet)
#      CALLERS_ARGV_LOG=file  append every runtime argv podman/conmon send to file
#      CALLERS_KEEP=1         keep the temp dir for debugging
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
repo=$(repo_root)
suite=callers-podman-checkpoint
RUNTIME=${RUNTIME:-$("$repo/scripts/binary-path.sh")}

require_tools "$suite" podman conmon script jq
require_runtime "$suite"
name=$(basename "$RUNTIME")

image_tar=$repo/target/callers/busybox-oci.tar
"$here/image.sh" "$image_tar" >&2

criu=$("$repo/scripts/fetch-criu.sh")
criu_dir=$(dirname "$criu")
export PATH=$criu_dir:$PATH
conmon_path_prefix="$criu_dir:"
source "$here/podman-setup.sh"
inspect() { tmo 10 "${P[@]}" inspect --format "$2" "$1" 2>/dev/null; }
state_is() { [[ $(inspect "$1" '{{.State.Status}}') == "$2" ]]; }
# count NAME: the counter, read again (up to ~2 s) while it reads empty: the
# shell truncates /tmp/n before each write, and a dump can catch it there, so
# the first read right after a restore may find the file empty (seen).
count() {
    local n= i
    for ((i = 0; i < 20; i++)); do
        n=$(tmo 10 "${P[@]}" exec "$1" cat /tmp/n 2>/dev/null) && [[ -n $n ]] && break
        sleep 0.1
    done
    echo "${n:-0}"
}
counted() { [[ $(count "$1") -ge 10 ]]; }
counter='i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done'

# --- checkpoint (stop) + restore: the counter goes on from the dump ----------
c=$(new_name)
tmo 30 "${P[@]}" run -d "${run_opts[@]}" --name "$c" --memory 64m "$image" sh -c "$counter" >/dev/null
wait_until 10 counted "$c" || true
set +e
out=$(tmo 60 "${P[@]}" container checkpoint "$c" 2>&1); rc=$?
set -e
at=$(inspect "$c" '{{.State.Status}}')
if [[ $rc -eq 0 && $at == exited ]]; then
    pass checkpoint
else
    fail checkpoint "exit $rc, state $at: $(brief "$out")"
fi
set +e
out=$(tmo 60 "${P[@]}" container restore "$c" 2>&1); rc=$?
set -e
n=$(count "$c")
if [[ $rc -eq 0 ]] && state_is "$c" running && [[ $n -ge 10 ]]; then
    pass restore-continues
else
    fail restore-continues "exit $rc, count $n (want >= 10): $(brief "$out")"
fi
if grep -rqs 67108864 /sys/fs/cgroup/memory"${cgparent}"/*/memory.limit_in_bytes; then
    pass restore-memory-limit
else
    fail restore-memory-limit "no 64m memory.limit_in_bytes under $cgparent"
fi
# Control: a restart (no checkpoint) counts from 1 again, which the same
# check must tell apart.
tmo 30 "${P[@]}" restart -t 0 "$c" >/dev/null 2>&1 || true
n=$(count "$c")
if [[ $n -lt 10 ]]; then
    pass control-restart-counts-from-1
else
    fail control-restart-counts-from-1 "count $n after a restart"
fi

# --- --leave-running, --export/--import into a new container ------------------
wait_until 10 counted "$c" || true
set +e
out=$(tmo 60 "${P[@]}" container checkpoint --leave-running --export "$tmp/c.tar.gz" "$c" 2>&1); rc=$?
set -e
if [[ $rc -eq 0 ]] && state_is "$c" running; then
    pass checkpoint-leave-running-export
else
    fail checkpoint-leave-running-export "exit $rc: $(brief "$out")"
fi
c2=$(new_name)
set +e
out=$(tmo 60 "${P[@]}" container restore --import "$tmp/c.tar.gz" --name "$c2" 2>&1); rc=$?
set -e
n=$(count "$c2")
if [[ $rc -eq 0 ]] && state_is "$c2" running && [[ $n -ge 10 ]]; then
    pass restore-import-new-name
else
    fail restore-import-new-name "exit $rc, count $n: $(brief "$out")"
fi

# --- --keep, --print-stats, --tcp-established ---------------------------------
# --print-stats: podman prints one JSON object whose criu_statistics it reads
# from the stats-dump/stats-restore file CRIU writes into the work directory
# the runtime gives it (--work-path): pages written > 0 shows the runtime's
# CRIU wrote them where podman looks. --keep: podman leaves dump.log (the
# runtime's -o log in --work-path); the control is the first checkpoint
# above, without --keep, whose dump.log podman removed.
c3=$(new_name)
tmo 30 "${P[@]}" run -d "${run_opts[@]}" --name "$c3" "$image" sh -c "$counter" >/dev/null
cid=$(inspect "$c3" '{{.Id}}')
cid1=$(inspect "$c" '{{.Id}}')
dump_logs() { find "$tmp/root" "$tmp/runroot" -path "*$1*" -name dump.log 2>/dev/null; }
wait_until 10 counted "$c3" || true
set +e
out=$(tmo 60 "${P[@]}" container checkpoint --keep --print-stats --tcp-established "$c3" 2>"$tmp/stats.err"); rc=$?
set -e
pages=$(jq -r '.container_statistics[0].criu_statistics.pages_written // 0' <<<"$out" 2>/dev/null || echo 0)
if [[ $rc -eq 0 && $pages =~ ^[0-9]+$ && $pages -gt 0 ]]; then
    pass checkpoint-print-stats
else
    fail checkpoint-print-stats "exit $rc, pages_written '$pages': $(brief "$out $(cat "$tmp/stats.err")")"
fi
if [[ -n $(dump_logs "$cid") && -z $(dump_logs "$cid1") ]]; then
    pass checkpoint-keep-leaves-dump-log
else
    fail checkpoint-keep-leaves-dump-log "with --keep: '$(dump_logs "$cid")'; without (control): '$(dump_logs "$cid1")'"
fi
set +e
out=$(tmo 60 "${P[@]}" container restore --keep --print-stats --tcp-established "$c3" 2>"$tmp/stats.err"); rc=$?
set -e
restore_us=$(jq -r '.container_statistics[0].criu_statistics.restore_time // 0' <<<"$out" 2>/dev/null || echo 0)
n=$(count "$c3")
if [[ $rc -eq 0 && $restore_us =~ ^[0-9]+$ && $restore_us -gt 0 && $n -ge 10 ]] && state_is "$c3" running; then
    pass restore-print-stats-tcp-established
else
    fail restore-print-stats-tcp-established "exit $rc, restore_time '$restore_us', count $n: $(brief "$out $(cat "$tmp/stats.err")")"
fi

# --- --pre-checkpoint, then --with-previous ------------------------------------
# A pre-dump needs the kernel's soft-dirty tracking (criu check --feature
# mem_dirty_track). Where it is there, the pre-checkpoint leaves the
# container running, the final checkpoint links to it (runtime --parent-path)
# and the restore goes on counting. Where it is not (this host's 6.18), the
# runtime must refuse the pre-dump saying why, and leave the container running.
set +e
out=$(tmo 60 "${P[@]}" container checkpoint --pre-checkpoint "$c3" 2>&1); rc=$?
set -e
if "$criu" check --feature mem_dirty_track >/dev/null 2>&1; then
    set +e
    out2=$(tmo 60 "${P[@]}" container checkpoint --with-previous "$c3" 2>&1); rc2=$?
    out3=$(tmo 60 "${P[@]}" container restore "$c3" 2>&1); rc3=$?
    set -e
    n=$(count "$c3")
    if [[ $rc -eq 0 && $rc2 -eq 0 && $rc3 -eq 0 && $n -ge 10 ]] && state_is "$c3" running &&
        grep -q -- ' --parent-path ' "$argv_log"; then
        pass pre-checkpoint-with-previous
    else
        fail pre-checkpoint-with-previous "exits $rc/$rc2/$rc3, count $n: $(brief "$out $out2 $out3")"
    fi
elif [[ $rc -ne 0 && $out == *mem_dirty_track* ]] && state_is "$c3" running && counted "$c3"; then
    pass pre-checkpoint-refused-without-soft-dirty
else
    fail pre-checkpoint-refused-without-soft-dirty "exit $rc, state $(inspect "$c3" '{{.State.Status}}'): $(brief "$out")"
fi

grep -E ' (checkpoint|restore) ' "$argv_log" | sed 's/^/argv: /' | cut -c1-900 >&2 || true
summary "$suite"

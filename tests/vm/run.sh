#!/bin/bash
# cgroup v2 tests in a VM: the hosts here are cgroup v1-hybrid, so boot
# Debian's kernel under qemu with an initramfs holding the runtime under
# test, the fixture rootfs, the bundles and tests/vm/tests.sh; read the
# verdict from the serial console.
#
# usage: [RUNTIME=/path/to/runtime] tests/vm/run.sh
#   RUNTIME       runtime binary (default <repo>/target/<triple>/release/outlet, built
#                 with cargo when missing); runc works too: RUNTIME=/usr/sbin/runc
#   VM_ACCEL      auto (default: try KVM briefly, then TCG) | kvm | tcg
#   VM_TIMEOUT    wall-clock limit of the test boot in seconds (default 400: resources_v2 alone takes about 100 s under TCG)
#   VMTEST_ONLY   space-separated test names to run (default: all)
#   CPU_FREE_MIN_RATIO  cpu_free threshold as a multiple of wall time (default 1.5,
#                 see tests.sh)
#   VM_CPU_BASELINE=1  also print the same spin in a hand-made cgroup (calibration)
# Output: one line per test, then exactly `vm: N passed, N failed, N skipped`.
# Exit 1 when a test failed or the VM gave no verdict.
# Needs: qemu-system-x86, cpio, jq, busybox-static, apt-get/dpkg (for the kernel).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$repo/target/vm
cache=$work/cache
stage=$work/stage
log=$work/serial.log
accel=${VM_ACCEL:-auto}
vm_timeout=${VM_TIMEOUT:-400}
kvm_probe_timeout=${VM_KVM_PROBE_TIMEOUT:-12}

say() { echo "vm: $*" >&2; }
die() {
    say "error: $*"
    echo "vm: 0 passed, 0 failed, 0 skipped"
    exit 1
}

qemu_pid=""
cleanup() {
    if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

for tool in qemu-system-x86_64 cpio jq dpkg apt-get timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (see the script header for packages)"
done

# --- runtime under test ---------------------------------------------------------
if [[ -z ${RUNTIME:-} ]]; then
    RUNTIME=$("$repo/scripts/binary-path.sh")
    if [[ ! -x $RUNTIME ]]; then
        say "building outlet (release)"
        (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
    fi
fi
[[ -x $RUNTIME ]] || die "RUNTIME=$RUNTIME is not an executable"
RUNTIME=$(readlink -f "$RUNTIME")
runtime_name=$(basename "$RUNTIME")

# --- kernel: Debian's current image, cached under target/vm -----------------------
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
if [[ -z $kpkg ]]; then
    # No apt lists (no `apt-get update` yet): use a cached package if any.
    deb=$(ls -t "$cache"/linux-image-*.deb 2>/dev/null | head -n1 || true)
    [[ -n $deb ]] || die "apt-cache knows no linux-image-amd64 (run apt-get update) and nothing is cached"
else
    deb=$(ls -t "$cache/${kpkg}_"*.deb 2>/dev/null | head -n1 || true)
    if [[ -z $deb ]]; then
        say "downloading $kpkg"
        (cd "$cache" && apt-get download -q "$kpkg" >&2) || die "apt-get download $kpkg failed"
        deb=$(ls -t "$cache/${kpkg}_"*.deb | head -n1)
    fi
fi
kdir=$cache/$(basename "$deb" .deb)
if ! ls "$kdir"/boot/vmlinuz-* >/dev/null 2>&1; then
    rm -rf "$kdir.tmp"
    dpkg -x "$deb" "$kdir.tmp"
    rm -rf "$kdir"
    mv "$kdir.tmp" "$kdir"
fi
kernel=$(ls "$kdir"/boot/vmlinuz-* | head -n1)
say "kernel $(basename "$kernel")"

# --- initramfs --------------------------------------------------------------------
rootfs=$("$repo/rootfs-fixtures/build.sh" "$repo/target/fixtures")

rm -rf "$stage"
mkdir -p "$stage"
# The VM's own userland is the fixture rootfs (static busybox + probe).
cp -a "$rootfs/." "$stage/"
mkdir -p "$stage"/{fixtures,bundles,vmtests,opt/runtime,run,sbin,usr/sbin,newroot}
cp -a "$rootfs" "$stage/fixtures/rootfs"
install -m 0755 "$here/init" "$stage/init"
install -m 0644 "$here/tests.sh" "$stage/vmtests/tests.sh"
install -m 0644 "$here/crash_v2.sh" "$stage/vmtests/crash_v2.sh"
install -m 0644 "$here/resources_v2.sh" "$stage/vmtests/resources_v2.sh"
install -m 0644 "$here/s10_v2.sh" "$stage/vmtests/s10_v2.sh"
install -m 0644 "$here/s15_v2.sh" "$stage/vmtests/s15_v2.sh"
# The kernel opens /dev/console for init's stdio before anything is mounted.
mknod -m 0600 "$stage/dev/console" c 5 1
mknod -m 0666 "$stage/dev/null" c 1 3

# The runtime, its shared libraries and the loader, at their host paths so
# the loader's default search path finds them.
install -m 0755 "$RUNTIME" "$stage/opt/runtime/$runtime_name"
while read -r lib; do
    [[ -n $lib ]] || continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
done < <(ldd "$RUNTIME" 2>/dev/null | grep -o '/[^ ]*' | sort -u || true)

# strace for the crash_v2 test (it kills the runtime at sampled system
# calls), with its libraries: the host's, copied each run like the runtime
# (the initramfs is rebuilt every time; only the kernel is cached). Without
# it crash_v2 FAILs.
if strace_bin=$(command -v strace); then
    install -m 0755 "$strace_bin" "$stage/usr/bin/strace"
    while read -r lib; do
        [[ -n $lib ]] || continue
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib"
    done < <(ldd "$strace_bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u || true)
fi

# CRIU for the checkpoint test (VM_CRIU=path of scripts/fetch-criu.sh's
# criu): its directory at the same path (the binary's loader and RPATH are
# absolute), and GNU tar, which criu runs for tmpfs contents (busybox's tar
# lacks its options), with tar's libraries.
if [[ -n ${VM_CRIU:-} ]]; then
    criu_dir=$(dirname "$VM_CRIU")
    mkdir -p "$stage$criu_dir"
    cp -a "$criu_dir/." "$stage$criu_dir/"
    # A network namespace of the container's own is dumped with the host's
    # tools, found by name: iproute2's ip (busybox's lacks `ip addr save`)
    # and iptables(-save|-restore), also criu's default network lock; the
    # legacy (x_tables) build, whose modules the VM loads.
    rm -f "$stage/bin/tar" "$stage/bin/ip"
    install -m 0755 "$(command -v tar)" "$stage/bin/tar"
    install -m 0755 /usr/bin/ip "$stage/bin/ip"
    install -m 0755 /usr/sbin/xtables-legacy-multi "$stage/bin/xtables-legacy-multi"
    for t in iptables ip6tables; do
        for s in "" -save -restore; do
            ln -sf xtables-legacy-multi "$stage/bin/$t$s"
        done
    done
    mkdir -p "$stage/usr/lib/x86_64-linux-gnu"
    cp -a /usr/lib/x86_64-linux-gnu/xtables "$stage/usr/lib/x86_64-linux-gnu/"
    for bin in "$(command -v tar)" /usr/bin/ip /usr/sbin/xtables-legacy-multi; do
        while read -r lib; do
            [[ -n $lib ]] || continue
            mkdir -p "$stage$(dirname "$lib")"
            cp -L "$lib" "$stage$lib"
        done < <(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u || true)
    done
fi

{
    printf 'CRIU=%q\n' "${VM_CRIU:-}"
    printf 'RUNTIME=%q\n' "/opt/runtime/$runtime_name"
    printf 'RUNTIME_NAME=%q\n' "$runtime_name"
    printf 'VMTEST_ONLY=%q\n' "${VMTEST_ONLY:-}"
    printf 'CPU_FREE_MIN_RATIO=%q\n' "${CPU_FREE_MIN_RATIO:-1.5}"
    printf 'VM_CPU_BASELINE=%q\n' "${VM_CPU_BASELINE:-}"
    printf 'CRASH_V2_BUDGET=%q\n' "${CRASH_V2_BUDGET:-}"
    # The VM boots the same way every time ($$ there is always the same):
    # the sample's offset comes from here.
    printf 'CRASH_V2_OFFSET=%q\n' "${CRASH_V2_OFFSET:-$RANDOM}"
    printf 'CRASH_V2_EVERY=%q\n' "${CRASH_V2_EVERY:-}"
    printf 'CRASH_V2_KEY=%q\n' "${CRASH_V2_KEY:-}"
    printf 'CRASH_V2_ONLY=%q\n' "${CRASH_V2_ONLY:-}"
} >"$stage/vmtests/env"

"$here/bundles.sh" "$stage/bundles"

# The io test throttles a loop device (the kernel has the driver as a
# module, with no dependencies); the hugetlb tests use the pool of
# hugepages=4 on the kernel command line.
loop_ko=$(find "$kdir/lib/modules" -name loop.ko | head -n1)
[[ -n $loop_ko ]] && cp "$loop_ko" "$stage/vmtests/loop.ko"
# criu's kernel needs, modules in Debian's kernel: sock_diag for every socket
# family it dumps, nf_tables and x_tables (iptables) for its network lock,
# veth for its kernel probes (loaded in that order).
if [[ -n ${VM_CRIU:-} ]]; then
    mkdir -p "$stage/vmtests/criu-ko"
    n=0
    for m in libcrc32c nfnetlink nf_tables inet_diag tcp_diag udp_diag unix_diag netlink_diag af_packet_diag \
        x_tables ip_tables iptable_filter ip6_tables ip6table_filter xt_mark veth tun raw_diag \
        nf_defrag_ipv4 nf_defrag_ipv6 nf_conntrack nf_conntrack_netlink; do
        ko=$(find "$kdir/lib/modules" -name "$m.ko" | head -n1)
        n=$((n + 1))
        [[ -n $ko ]] && cp "$ko" "$stage/vmtests/criu-ko/$(printf %02d $n)-$m.ko"
    done
fi

initrd=$work/initramfs.cpio
(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) >"$initrd"
say "initramfs $(du -h "$initrd" | cut -f1)"

# --- boot ---------------------------------------------------------------------------
boot() { # accel timeout_seconds
    : >"$log"
    timeout --kill-after=5 "$2" qemu-system-x86_64 \
        -accel "$1" -m 1024 -smp 2 \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 quiet loglevel=2 panic=-1 rdinit=/init hugepages=4" \
        -nographic -no-reboot </dev/null >"$log" 2>&1 &
    qemu_pid=$!
}

# Waits for qemu to exit; returns 0 if it did. With a marker, returns 2 as
# soon as the marker did not appear within the given seconds.
wait_vm() { # [marker seconds]
    local marker=${1:-} limit=${2:-0} waited=0
    while kill -0 "$qemu_pid" 2>/dev/null; do
        if [[ -n $marker ]] && ((waited >= limit * 2)) && ! grep -q "$marker" "$log"; then
            return 2
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
    return 0
}

start=$SECONDS
used=""
if [[ $accel == auto || $accel == kvm ]] && [[ -w /dev/kvm ]]; then
    # Nested KVM on these hosts can hang before the kernel prints anything:
    # give it a few seconds to reach our /init, then fall back to TCG.
    say "booting with KVM (giving up after ${kvm_probe_timeout}s without reaching /init)"
    boot kvm "$vm_timeout"
    if wait_vm VMINIT "$kvm_probe_timeout"; then
        used=kvm
    else
        say "KVM did not reach /init within ${kvm_probe_timeout}s; falling back to TCG"
        cleanup
        qemu_pid=""
    fi
fi
if [[ -z $used ]]; then
    [[ $accel == kvm ]] && die "VM_ACCEL=kvm but KVM did not boot"
    say "booting with TCG (timeout ${vm_timeout}s)"
    boot tcg "$vm_timeout"
    wait_vm
    used=tcg
fi
say "VM ($used) ran $((SECONDS - start))s; serial log: $log"

# --- verdict ----------------------------------------------------------------------
tr -d '\r' <"$log" >"$log.txt"
grep -E "^VM(INFO|TEST) " "$log.txt" || true
result=$(grep -E '^VMRESULT passed=[0-9]+ failed=[0-9]+ skipped=[0-9]+$' "$log.txt" | tail -n1 || true)
if [[ -z $result ]]; then
    # Count what was reported before the VM died or timed out, plus one
    # failure for the missing verdict.
    say "no verdict from the VM; last lines of the serial log:"
    tail -n 30 "$log.txt" >&2
    p=$(grep -c '^VMTEST [^ ]* PASS' "$log.txt" || true)
    f=$(grep -c '^VMTEST [^ ]* FAIL' "$log.txt" || true)
    s=$(grep -c '^VMTEST [^ ]* SKIP' "$log.txt" || true)
    echo "vm: $p passed, $((f + 1)) failed, $s skipped"
    exit 1
fi
p=$(sed 's/.*passed=\([0-9]*\).*/\1/' <<<"$result")
f=$(sed 's/.*failed=\([0-9]*\).*/\1/' <<<"$result")
s=$(sed 's/.*skipped=\([0-9]*\).*/\1/' <<<"$result")
# The per-test lines must agree with the summary: a test that died mid-way
# and printed nothing must not disappear from the count.
lines=$(grep -c '^VMTEST ' "$log.txt" || true)
if ((lines != p + f + s)); then
    say "VMRESULT counts $((p + f + s)) tests but $lines VMTEST lines were printed"
    f=$((f + 1))
fi
echo "vm: $p passed, $f failed, $s skipped"
((f == 0))

#!/usr/bin/env bash
# Install what building and testing outlet needs on Debian 12, as root.
# Idempotent: a second run installs nothing.
set -euo pipefail

packages=(
  build-essential pkg-config libseccomp-dev   # the build (libseccomp crate links it)
  busybox-static                              # the test root filesystem
  jq iproute2 time procps util-linux gawk python3  # test and bench scripts
  qemu-system-x86 cpio                        # the cgroup v2 VM harness
  debootstrap                                 # the systemd node image (tests/node)
  runc crun hyperfine                         # benchmark and behaviour comparison
  containerd umoci podman conmon              # real callers
  golang-github-containers-common             # podman's default seccomp profile
  docker.io tini buildah                      # real callers: dockerd (docker-init is tini), buildah
  iptables nftables                           # undo what dockerd and CNI add to the host firewall; criu's network lock
  tar patchelf                                # criu (tmpfs contents); scripts/fetch-criu.sh (trixie's criu on bookworm)
  containernetworking-plugins                 # podman's CNI bridge network
  dbus-daemon                                 # a real session bus daemon (tests/systemd_userbus.rs)
  strace                                      # kills at every syscall (tests/crash_syscalls.rs)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # docker.io's and containerd's postinst start their daemons unless
  # policy-rc.d says no; the tests start private ones and no host daemon
  # may run.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found; install a Rust toolchain >= 1.88 (edition 2024, let-chains), e.g. with rustup" >&2
  exit 1
fi

# The build target of .cargo/config.toml (musl: see the comment there).
# rustup ships its standard library and its own musl libc, so no Debian
# musl package is needed.
triple=$(sed -n 's/^target = "\(.*\)"$/\1/p' "$(dirname "$0")/../.cargo/config.toml")
if [[ -n $triple && ! -d $(rustc --print sysroot)/lib/rustlib/$triple/lib ]]; then
  if command -v rustup >/dev/null; then
    echo "install-deps: adding the Rust target $triple"
    rustup target add "$triple" >/dev/null
  else
    echo "install-deps: the Rust standard library for $triple is missing and rustup is not here to add it" >&2
    exit 1
  fi
fi

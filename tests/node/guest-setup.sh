#!/bin/sh
# Runs inside the freshly debootstrapped tree (chroot): make it boot
# quickly to one unit that runs the node suite from the second disk and
# powers off.
set -eu
echo node >/etc/hostname
cat >/etc/fstab <<'F'
LABEL=noderoot / ext4 defaults 0 1
LABEL=nodetests /mnt/node ext4 defaults,nofail 0 0
F
mkdir -p /mnt/node
# Nothing on the node may compete with the suite for the two TCG CPUs.
for u in containerd.service apt-daily.timer apt-daily-upgrade.timer \
         e2scrub_all.timer fstrim.timer systemd-timesyncd.service \
         getty@tty1.service serial-getty@ttyS0.service; do
    ln -sf /dev/null "/etc/systemd/system/$u"
done
cat >/etc/systemd/system/outlet-node.service <<'F'
[Unit]
Description=outlet node suite
After=local-fs.target dbus.service
Wants=dbus.service
RequiresMountsFor=/mnt/node

[Service]
Type=oneshot
ExecStart=/bin/sh /mnt/node/suite.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
ExecStopPost=/bin/systemctl --no-block poweroff -f

[Install]
WantedBy=multi-user.target
F
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -sf /etc/systemd/system/outlet-node.service /etc/systemd/system/multi-user.target.wants/
passwd -d root >/dev/null
# The rootless test's user: its systemd user instance (started by
# `loginctl enable-linger` in the suite) gets the controllers delegated, as
# rootless podman hosts configure it.
useradd -m -u 1000 -s /bin/sh nodeuser
# Rootless podman maps the container's ids onto these (newuidmap).
echo nodeuser:100000:65536 >/etc/subuid
echo nodeuser:100000:65536 >/etc/subgid
mkdir -p /etc/systemd/system/user@.service.d
cat >/etc/systemd/system/user@.service.d/delegate.conf <<'F'
[Service]
Delegate=cpu cpuset io memory pids
F
# podman's and docker's own services and timers stay off: the suite starts
# podman and dockerd itself.
for u in docker.service docker.socket podman.service podman.socket podman-auto-update.timer podman-restart.service \
         podman-clean-transient.service; do
    ln -sf /dev/null "/etc/systemd/system/$u"
done

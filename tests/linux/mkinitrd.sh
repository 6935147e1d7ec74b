#!/bin/sh
# Builds the test initramfs for Linux guests: busybox-static, tests/linux/init
# and a 1 MiB file of known random content whose md5sum the guest prints.
# With KERNEL (its /boot/vmlinuz-VERSION), also that kernel's ACPI button
# driver and the input event interface (button.ko, evdev.ko), so that a
# guest can answer the power button, and the virtio PCI and block drivers
# at their /lib/modules paths (the init's shale.test=blk loads them), and
# the virtio entropy driver (shale.test=rng), the balloon driver
# (shale.test=balloon), the virtio network driver (shale.test=net) and
# the kernel's vsock modules (shale.test=vsock). Each TOOL (a static
# program) goes to /bin (tests/tools/vsock_echo, tests/tools/vattack:
# shale.test=vsock and shale.test=attack).
# usage: mkinitrd.sh OUT.cpio OUT.md5 [KERNEL [TOOL...]]
set -eu
out=$1
sum=$2
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
cp "$busybox" "$tmp/bin/busybox"
cp "$here/init" "$tmp/init"
if [ $# -ge 3 ]; then
	mods=/lib/modules/${3##*/vmlinuz-}/kernel/drivers
	for ko in "$mods/acpi/button.ko" "$mods/input/evdev.ko"; do
		if [ -f "$ko" ]; then cp "$ko" "$tmp/"; fi
	done
	for ko in virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev \
		virtio/virtio_pci_legacy_dev virtio/virtio_pci block/virtio_blk \
		char/hw_random/virtio-rng char/virtio_console virtio/virtio_balloon \
		net/net_failover net/virtio_net; do
		if [ -f "$mods/$ko.ko" ]; then
			mkdir -p "$tmp/lib/modules/${3##*/vmlinuz-}/kernel/drivers/${ko%/*}"
			cp "$mods/$ko.ko" "$tmp/lib/modules/${3##*/vmlinuz-}/kernel/drivers/$ko.ko"
		fi
	done
	# virtio_net needs net_failover, which needs failover (shale.test=net).
	core=/lib/modules/${3##*/vmlinuz-}/kernel/net/core
	if [ -f "$core/failover.ko" ]; then
		mkdir -p "$tmp$core"
		cp "$core/failover.ko" "$tmp$core/"
	fi
	net=/lib/modules/${3##*/vmlinuz-}/kernel/net/vmw_vsock
	for ko in vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport; do
		if [ -f "$net/$ko.ko" ]; then
			mkdir -p "$tmp/${net#/}"
			cp "$net/$ko.ko" "$tmp/${net#/}/"
		fi
	done
	shift 3
	for tool in "$@"; do cp "$tool" "$tmp/bin/"; done
fi
head -c 1048576 /dev/urandom >"$tmp/payload.bin"
md5sum "$tmp/payload.bin" | cut -d' ' -f1 >"$sum"
(cd "$tmp" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out"

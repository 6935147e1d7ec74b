#!/usr/bin/env bash
# Exits 0 when tests/lab/lab.sh can run on this machine; otherwise prints
# "SKIP: <reason>" and exits 77. Packages: scripts/lab-deps.txt.
set -euo pipefail
skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}
for tool in qemu-system-x86_64 lz4 cpio busybox ldd timeout; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (install the packages in scripts/lab-deps.txt)"
done
vmlinuz=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n 1)
[ -n "$vmlinuz" ] || skip "no /boot/vmlinuz-*-cloud-amd64 (install linux-image-cloud-amd64)"
[ -r "$vmlinuz" ] || skip "$vmlinuz is not readable"
kver=${vmlinuz#/boot/vmlinuz-}
[ -f "/lib/modules/$kver/modules.dep" ] || skip "no modules for $kver in /lib/modules"
grep -qE '(^|/)kvm-amd\.ko(\.[a-z]+)?:' "/lib/modules/$kver/modules.dep" ||
	skip "kernel $kver has no kvm-amd module"
if ldd "$(command -v busybox)" >/dev/null 2>&1; then
	skip "busybox is not statically linked (install busybox-static)"
fi
exit 0

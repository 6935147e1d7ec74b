#!/bin/sh
# Builds the test initramfs for Linux guests: busybox-static, tests/linux/init
# and a 1 MiB file of known random content whose md5sum the guest prints.
# usage: mkinitrd.sh OUT.cpio OUT.md5
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
head -c 1048576 /dev/urandom >"$tmp/payload.bin"
md5sum "$tmp/payload.bin" | cut -d' ' -f1 >"$sum"
(cd "$tmp" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out"

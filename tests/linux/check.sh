#!/bin/sh
# Runs the Linux-guest suite (run-linux-tests.sh) where unmodified kernels
# can run: directly on a host whose /dev/kvm is vmx or svm (`shale host
# --kind`, scripts/host-kind.sh), otherwise (pvm, none, ...) in the
# nested-SVM lab, otherwise says SKIP with the reason. The guest is the
# Debian cloud kernel from /boot and an initramfs made from busybox-static.
#
# usage: check.sh BUILD_DIR
#   SHALE_LINUX_ONLY=blk: only the virtio-blk tests; =net: only virtio-net's;
#   =vsock: only virtio-vsock's; =attack: only the malicious-guest tests
#   SHALE_ATTACK_SECS, SHALE_ATTACK_COUNT: their fuzzing time and port storm size
set -u
B=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

skip_all() {
	echo "SKIP linux-guests: $1"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

command -v busybox >/dev/null 2>&1 || skip_all "busybox-static is not installed"
kernels=$("$top/tests/lab/lab.sh" --kernels 2>&1) || skip_all "no Debian cloud kernel: $kernels"
bz=${kernels% *}
vmlinux=${kernels#* }

stage=$B/tests/linux-stage
rm -rf "$stage"
mkdir -p "$stage"
cp "$B/shale" "$B/shaled" "$B/tests/tools/ptyrun" "$B/tests/tools/ctl" "$here/run-linux-tests.sh" \
	"$B/tests/tools/vsock_echo" \
	"$top/tests/integration/lib.sh" "$stage/"
# --net user's helper, found next to shale (the lab adds its libraries).
cp "$B/shale-net" "$stage/"
cp "$bz" "$stage/bzImage"
cp "$vmlinux" "$stage/vmlinux"
tools="$B/tests/tools/vsock_echo"
[ -x "$B/tests/tools/vattack" ] && tools="$tools $B/tests/tools/vattack"
# shellcheck disable=SC2086 # one word per tool
"$here/mkinitrd.sh" "$stage/initrd.cpio" "$stage/initrd.md5" "$bz" $tools

# guest_place
. "$top/scripts/host-kind.sh"
guest_place "$B/shale" linux
if [ "$PLACE" = direct ]; then
	echo "linux-guests: running on this host's /dev/kvm ($HOST_KIND)"
	cd "$stage" && exec ./run-linux-tests.sh ./shale ./bzImage ./vmlinux ./initrd.cpio ./initrd.md5
fi
if ! reason=$("$top/tests/lab/lab-available.sh" 2>&1); then
	skip_all "$PLACE_WHY and the lab cannot run: ${reason#SKIP: }"
fi

echo "linux-guests: $PLACE_WHY; booting them in the nested-SVM lab"
cat >"$stage/run.sh" <<RUN
#!/bin/sh
cd /payload
export SHALE_LINUX_ONLY=${SHALE_LINUX_ONLY:-}
export SHALE_ATTACK_SECS=${SHALE_ATTACK_SECS:-} SHALE_ATTACK_COUNT=${SHALE_ATTACK_COUNT:-}
./run-linux-tests.sh ./shale ./bzImage ./vmlinux ./initrd.cpio ./initrd.md5
RUN
chmod +x "$stage/run.sh"
exec "$top/tests/lab/run-suite.sh" linux-guests "$B/tests/lab-linux.log" --timeout 1500 --mem 2048 \
	"$stage"

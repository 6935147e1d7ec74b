# The staging and dispatch of the Linux guests' benchmarks (bench/boot.sh,
# bench/io.sh), sourced at the end of each: stages BUILD_DIR/shale, the
# benchmark's script and tools, the Debian cloud kernel, the test
# initramfs (tests/linux/mkinitrd.sh) and QEMU's microvm firmware in
# BUILD_DIR/bench/NAME-stage, then runs "NAME.sh --run DIR" directly where
# Linux guests run (a vmx or svm /dev/kvm: scripts/host-kind.sh), otherwise
# in the nested-SVM lab (tests/lab/lab.sh). Output also in
# BUILD_DIR/bench/NAME-results.log.
#
# Set by the caller: BENCH_NAME (boot, io), BENCH_EXTRA (files of the
# build directory staged too, e.g. bench/boottime), BENCH_KNOBS (names of
# the environment settings passed on) and BENCH_LAB_MEM (MiB for L1);
# BENCH_MODULES=1 puts the kernel's virtio modules in the initramfs.

B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
log=$B/bench/$BENCH_NAME-results.log

skip() {
	echo "bench $BENCH_NAME: SKIP: $1" | tee "$log"
	exit 0
}

for f in shale $BENCH_EXTRA; do
	if [ ! -f "$B/$f" ]; then
		echo "bench $BENCH_NAME: $B/$f is missing: run 'make bench-build' first" >&2
		exit 1
	fi
done
mkdir -p "$B/bench"
command -v busybox >/dev/null 2>&1 || skip "busybox-static is not installed"
qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 is not installed (the baseline)"
kernels=$("$top/tests/lab/lab.sh" --kernels 2>&1) || skip "no Debian cloud kernel: $kernels"
bz=${kernels% *}

stage=$B/bench/$BENCH_NAME-stage
rm -rf "$stage"
mkdir -p "$stage/fw"
cp "$B/shale" "$here/$BENCH_NAME.sh" "$here/lib.sh" "$stage/"
for f in $BENCH_EXTRA; do cp "$B/$f" "$stage/"; done
cp "$bz" "$stage/bzImage"
# With BENCH_MODULES=1, the kernel's modules the test init loads too (virtio).
if [ "${BENCH_MODULES:-0}" = 1 ]; then
	"$top/tests/linux/mkinitrd.sh" "$stage/initrd.cpio" "$stage/initrd.md5" "$bz" || exit 1
else
	"$top/tests/linux/mkinitrd.sh" "$stage/initrd.cpio" "$stage/initrd.md5" || exit 1
fi
# The benchmark's own staging, if it has some: BENCH_STAGE_EXTRA STAGE KERNEL.
if [ -n "${BENCH_STAGE_EXTRA:-}" ]; then
	"$BENCH_STAGE_EXTRA" "$stage" "$bz" || exit 1
fi
# What QEMU's microvm reads when it boots a bzImage: its default firmware
# (qboot) and the option ROM that loads the kernel through fw_cfg DMA.
for f in bios-microvm.bin linuxboot_dma.bin; do
	for d in /usr/share/qemu /usr/share/seabios; do
		if [ -f "$d/$f" ]; then
			cp -L "$d/$f" "$stage/fw/"
			break
		fi
	done
	[ -f "$stage/fw/$f" ] || skip "QEMU firmware $f not found in /usr/share/qemu or /usr/share/seabios"
done

# The benchmark's settings, passed on (quoted: a command line has blanks).
: >"$stage/knobs.sh"
for k in $BENCH_KNOBS; do
	eval "v=\${$k-}"
	[ -n "$v" ] || continue
	case $v in *"'"*) echo "bench $BENCH_NAME: $k must not contain a single quote" >&2; exit 2 ;; esac
	printf "export %s='%s'\n" "$k" "$v" >>"$stage/knobs.sh"
done
printf "export BOOT_QEMU='%s'\n" "$qemu" >>"$stage/knobs.sh"

linkage() {
	if readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'; then
		echo "dynamically linked"
	else
		echo "statically linked"
	fi
}
# guest_place
. "$top/scripts/host-kind.sh"
guest_place "$B/shale" linux
mode=$PLACE
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "source: ${BENCH_SOURCE_REV:-$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)}"
	echo "host: Linux $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
	echo "host load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "host kvm: $HOST_KIND (shale host --kind)"
	echo "shale: $(stat -c %s "$B/shale") bytes, $(linkage "$B/shale")"
	echo "baseline: $qemu ($("$qemu" --version | head -n 1)), $(linkage "$qemu")"
	echo "kernel: $bz ($(stat -c %s "$bz") bytes); initramfs: busybox + tests/linux/init ($(stat -c %s "$stage/initrd.cpio") bytes)"
	if [ "$mode" = lab ]; then
		echo "lab: $("$qemu" --version | head -n 1), TCG, -cpu max,-erms, L1 $BENCH_LAB_MEM MiB"
	fi
} >"$stage/env.txt"

if [ "$mode" = direct ]; then
	echo "bench $BENCH_NAME: running guests on this host's /dev/kvm ($HOST_KIND)"
	{
		# shellcheck disable=SC1091 # written above
		(. "$stage/knobs.sh" && sh "$stage/$BENCH_NAME.sh" --run "$stage") 2>&1
		echo $? >"$stage/status"
	} | tee "$log"
	echo "host load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
	exit "$(cat "$stage/status")"
fi

if ! reason=$("$top/tests/lab/lab-available.sh" 2>&1); then
	skip "$PLACE_WHY and the lab cannot run: ${reason#SKIP: }"
fi
echo "bench $BENCH_NAME: $PLACE_WHY; running the guests in the nested-SVM lab"
cat >"$stage/run.sh" <<RUN
#!/bin/sh
cd /payload
. ./knobs.sh
sh ./$BENCH_NAME.sh --run /payload
RUN
chmod +x "$stage/run.sh"
echo "$qemu" >"$stage/host-bins"

# lab_run, lab_payload_lines
# shellcheck source=tests/lab/lib.sh
. "$top/tests/lab/lib.sh"

# The benchmark's own lines as they come, without the LAB-EXIT line, also
# kept in the log.
# shellcheck disable=SC2317 # called by lab_run
bench_lines() { lab_payload_lines | grep --line-buffered -v '^LAB-EXIT' | tee "$log"; }

raw=$B/bench/$BENCH_NAME-lab-console.log
lab_run "$raw" bench_lines "$top/tests/lab/lab.sh" --timeout 900 --mem "$BENCH_LAB_MEM" "$stage"
echo "host load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
if [ -z "$lab_status" ]; then
	echo "bench $BENCH_NAME: the lab did not finish (console: $raw)"
	exit 1
fi
exit "$lab_status"

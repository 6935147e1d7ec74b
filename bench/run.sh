#!/bin/sh
# Runs the benchmarks (bench/suite.sh), whose guests are para-virtual, where
# they can run: directly on a vmx, svm or pvm /dev/kvm (`shale host --kind`,
# scripts/host-kind.sh), otherwise inside the nested-SVM lab
# (tests/lab/lab.sh). `make bench` builds everything and calls this.
#
# usage: bench/run.sh [BUILD_DIR]     (default: build)
#
# Environment: SHALE_FORCE_LAB=1 uses the lab even where /dev/kvm works;
# BENCH_SOURCE_REV names the source revision when this is no git tree;
# BENCH_LAB_MEM (MiB, default 3072) sizes the lab's L1, whose tmpfs holds
# the block benchmark's image; BENCH_LAB_SMP (default 2) gives L1 as many
# CPUs as such a host has, so that a VM's I/O thread runs beside its vCPU
# as it would there; BENCH_LAB_NPT (default 0 with more than one L1 CPU,
# else 1) is kvm-amd's npt in L1: with nested paging, QEMU's multi-threaded
# TCG now and then corrupts a guest that runs beside its I/O thread
# (docs/benchmarks.md, "The lab and nested paging"). BENCH_* knobs (see
# bench/suite.sh) are passed on. The output is also kept in
# BUILD_DIR/bench/results.log.
#
# The Linux boot benchmark ("boot" in BENCH_ONLY, or all when it is empty)
# is bench/boot.sh: it runs after the suite, where Linux guests run (in the
# lab on pvm), and keeps its output in BUILD_DIR/bench/boot-results.log.
set -u
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
log=$B/bench/results.log

want() { [ -z "${BENCH_ONLY:-}" ] || case " $BENCH_ONLY " in *" $1 "*) true ;; *) false ;; esac; }

# finish STATUS: the boot benchmark when it is wanted, then exit with
# STATUS, or with the boot benchmark's failure when STATUS is 0.
finish() {
	st=$1
	if want boot; then
		"$here/boot.sh" "$B" || [ "$st" != 0 ] || st=1
	fi
	exit "$st"
}

suite=0
for b in lifecycle hypercall memory compute block net; do
	if want "$b"; then suite=1; fi
done
[ "$suite" = 1 ] || finish 0

for f in shale bench/spawn bench/hcloop examples/compute-native \
	g/examples/hello.elf g/examples/compute.elf g/examples/blockread.elf \
	g/bench/guests/nop.elf g/bench/guests/touch.elf g/examples/net.elf \
	tests/tools/udp_echo_client; do
	if [ ! -f "$B/$f" ]; then
		echo "bench: $B/$f is missing: run 'make bench-build' first" >&2
		exit 1
	fi
done

# One flat directory of everything the suite runs.
stage=$B/bench/stage
rm -rf "$stage"
mkdir -p "$stage"
cp "$B/shale" "$B/bench/spawn" "$B/bench/hcloop" "$B/examples/compute-native" \
	"$B/g/examples/hello.elf" "$B/g/examples/compute.elf" "$B/g/examples/blockread.elf" \
	"$B/g/bench/guests/nop.elf" "$B/g/bench/guests/touch.elf" "$B/g/examples/net.elf" \
	"$B/tests/tools/udp_echo_client" "$here/suite.sh" "$here/lib.sh" "$stage/"

# The baselines: coreutils' true and dd (GNU dd reports its own copy time).
true_bin=/usr/bin/true
[ -x "$true_bin" ] || true_bin=/bin/true
dd_bin=/usr/bin/dd
[ -x "$dd_bin" ] || dd_bin=/bin/dd

lab_smp=${BENCH_LAB_SMP:-2}
if [ "$lab_smp" -gt 1 ] 2>/dev/null; then lab_npt=${BENCH_LAB_NPT:-0}; else lab_npt=${BENCH_LAB_NPT:-1}; fi
case $lab_npt in
0 | 1) ;;
*) echo "bench: BENCH_LAB_NPT must be 0 or 1, not $lab_npt" >&2; exit 2 ;;
esac

# guest_place
. "$top/scripts/host-kind.sh"
guest_place "$B/shale" pv
mode=$PLACE

linkage() {
	if readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'; then
		echo "dynamically linked ($(readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ' | sed 's/ $//'))"
	else
		echo "statically linked"
	fi
}

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "source: ${BENCH_SOURCE_REV:-$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)}"
	echo "host: Linux $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
	echo "host kvm: $HOST_KIND (shale host --kind)"
	echo "host load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "compiler: $(${CC:-gcc} --version | head -n 1)"
	echo "shale: $(stat -c %s "$B/shale") bytes, $(linkage "$B/shale")"
	echo "baselines: $true_bin, $dd_bin ($("$dd_bin" --version 2>/dev/null | head -n 1))"
	if [ "$mode" = lab ]; then
		echo "lab: $(qemu-system-x86_64 --version | head -n 1), TCG, -cpu max,-erms, L1 $lab_smp CPUs, ${BENCH_LAB_MEM:-3072} MiB, kvm_amd npt=$lab_npt"
	fi
} >"$stage/env.txt"

mkdir -p "$(dirname "$log")"
if [ "$mode" = direct ]; then
	echo "bench: running guests on this host's /dev/kvm ($HOST_KIND)"
	{
		BENCH_TRUE=$true_bin BENCH_DD=$dd_bin "$stage/suite.sh" "$stage" 2>&1
		echo $? >"$stage/status"
	} | tee "$log"
	echo "host load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
	finish "$(cat "$stage/status")"
fi

if ! reason=$("$top/tests/lab/lab-available.sh" 2>&1); then
	echo "bench: SKIP: $PLACE_WHY and the lab cannot run: ${reason#SKIP: }"
	finish 0
fi
echo "bench: $PLACE_WHY; running the benchmarks in the nested-SVM lab"

# The BENCH_* settings of this environment, passed on to the lab.
env | grep -E '^BENCH_[A-Z_]*=[A-Za-z0-9_./ -]*$' | grep -v -e '^BENCH_LAB_MEM=' -e '^BENCH_LAB_SMP=' -e '^BENCH_LAB_NPT=' |
	sed "s/^\([A-Z_]*\)=\(.*\)$/export \1='\2'/" >"$stage/knobs.sh"
# The network benchmark needs iproute2 (netns, tuntap), which busybox lacks.
ip_path=$(command -v ip || true)
cat >"$stage/run.sh" <<RUN
#!/bin/sh
cd /payload
. ./knobs.sh
export BENCH_TRUE=$true_bin BENCH_DD=$dd_bin
# busybox sh runs its own applets first: name iproute2's ip by path.
${ip_path:+export IP=$ip_path}
# iproute2 keeps network namespaces under /var/run/netns.
mkdir -p /var /run/netns && ln -sfn /run /var/run
./suite.sh /payload
RUN
chmod +x "$stage/run.sh"
printf '%s\n' "$true_bin" "$dd_bin" ${ip_path:+"$ip_path"} >"$stage/host-bins"

# lab_run, lab_payload_lines
# shellcheck source=tests/lab/lib.sh
. "$top/tests/lab/lib.sh"

# Shows the suite's own lines as they come, and keeps them in the log.
# shellcheck disable=SC2317 # called by lab_run
suite_lines() { lab_payload_lines | tee "$log"; }

raw=$B/bench/lab-console.log
lab_run "$raw" suite_lines "$top/tests/lab/lab.sh" --timeout 1800 \
	--mem "${BENCH_LAB_MEM:-3072}" --smp "$lab_smp" --kvm-amd "npt=$lab_npt" "$stage"
echo "host load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
if [ -z "$lab_status" ]; then
	echo "bench: the lab did not finish (console: $raw)"
	finish 1
fi
finish "$lab_status"

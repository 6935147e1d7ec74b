#!/bin/sh
# The management daemon's benchmarks (docs/benchmarks.md), on this host's
# /dev/kvm (para-virtual guests must run directly):
#
#   lifecycle rate  create + start + run to exit + delete of hello.elf VMs
#                   through the API (bench/apiload, 2 client threads),
#                   VMs per second; baseline: the same guest run by
#                   `shale run` in a loop (bench/spawn), one at a time.
#                   Goal: at least 100 VMs/s on 2 cores.
#   density         BENCH_IDLE_VMS (default 1000) idle VMs (examples/idle.elf,
#                   4 MiB each) held at once: memory per idle VM (the drop in
#                   MemAvailable, and the VMMs' summed PSS), the daemon's RSS,
#                   and API latency (GET /v1/vms/idle0) with them all running
#                   against the same with none. Goal: all of them up, the API
#                   answering.
#
# usage: bench/daemon.sh [BUILD_DIR]   (make bench-daemon)
set -u
B=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
SHALE=$B/shale
N_CYCLE=${BENCH_CYCLE_VMS:-300}
N_IDLE=${BENCH_IDLE_VMS:-1000}
W=$(mktemp -d "${TMPDIR:-/tmp}/shale-bench-daemon.XXXXXX")
SOCK=$W/api.sock
TABLE=$W/table
LAB=0
DPID=
: >"$TABLE"

. "$top/scripts/host-kind.sh"
guest_place "$SHALE" pv
KIND=$HOST_KIND
if [ "$PLACE" != direct ]; then
	echo "SKIP bench-daemon: $PLACE_WHY (the daemon benchmarks run guests directly)"
	exit 0
fi
for f in shaled bench/apiload bench/spawn g/examples/hello.elf g/examples/idle.elf; do
	[ -x "$B/$f" ] || [ -f "$B/$f" ] || { echo "bench-daemon: $B/$f is missing: run 'make bench-build'" >&2; exit 1; }
done

cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	for p in $(pgrep -f -- "--control=$W/" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

mem_available_kib() { awk '/^MemAvailable/ { print $2 }' /proc/meminfo; }

echo "== environment"
echo "  host: Linux $(uname -r), $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo), kvm $KIND"
ulimit -n 65536 2>/dev/null || true

# Baseline: one VM at a time with `shale run`, no daemon.
"$B/bench/spawn" -n 100 -w 5 -- "$SHALE" run --memory 4M "$B/g/examples/hello.elf" >"$W/spawn" 2>&1
direct_us=$(field median_us "$W/spawn")
direct_rate=$(calc "1000000 / $direct_us" %.1f)
echo "  shale run hello.elf, one at a time: median ${direct_us} us -> ${direct_rate} VMs/s"

"$B/shaled" --socket "$SOCK" --state-dir "$W/state" --vmm "$SHALE" 2>"$W/shaled.log" &
DPID=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

echo "== lifecycle rate ($N_CYCLE VMs)"
rates=
for round in 1 2 3; do
	"$B/bench/apiload" "$SOCK" cycle "$B/g/examples/hello.elf" "$N_CYCLE" 2 >"$W/cycle" || cat "$W/cycle"
	sed 's/^/  /' "$W/cycle"
	rates="$rates $(field rate "$W/cycle")"
done
rate=$(median $rates)
row "VM lifecycle through the API (VMs/s)" "$rate" "$direct_rate" \
	"$(calc "$rate / $direct_rate")x" ">= 100/s" "$(verdict "$rate >= 100")"

echo "== density ($N_IDLE idle VMs)"
"$B/bench/apiload" "$SOCK" latency /v1/vms 1 >/dev/null
"$B/bench/apiload" "$SOCK" latency /v1/host 200 >"$W/lat0"
sed 's/^/  with none: /' "$W/lat0"
sync
before=$(mem_available_kib)
"$B/bench/apiload" "$SOCK" up "$B/g/examples/idle.elf" "$N_IDLE" >"$W/up"
sed 's/^/  /' "$W/up"
sleep 2
after=$(mem_available_kib)
up=$(field vms "$W/up")
pss=0
for p in $(pgrep -f -- "--control=$W/"); do
	k=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
	pss=$((pss + ${k:-0}))
done
drss=$(awk '/^VmRSS/ { print $2 }' "/proc/$DPID/status")
"$B/bench/apiload" "$SOCK" latency /v1/host 200 >"$W/lat1"
"$B/bench/apiload" "$SOCK" latency /v1/vms/idle0 200 >"$W/lat2"
"$B/bench/apiload" "$SOCK" latency /v1/vms 5 >"$W/lat3"
sed 's/^/  with all running: /' "$W/lat1" "$W/lat2" "$W/lat3"
per_vm=$(calc "($before - $after) / ${up:-1}" %.0f)
per_pss=$(calc "$pss / ${up:-1}" %.0f)
echo "  MemAvailable dropped $((before - after)) KiB: $per_vm KiB per VM; VMM PSS $per_pss KiB per VM; shaled RSS $drss KiB"
l0=$(field median_us "$W/lat0")
l1=$(field median_us "$W/lat1")
row "idle VMs held at once" "$up" "$N_IDLE" "$(calc "$up / $N_IDLE")x" ">= 1000" \
	"$(verdict "$up >= 1000")"
row "memory per idle VM (KiB, MemAvailable)" "$per_vm" "-" "-" "info" "-"
row "API latency with them running (us, GET /v1/host)" "$l1" "$l0" "$(calc "$l1 / $l0")x" \
	"responsive" "$(verdict "$l1 < 100000")"
"$B/bench/apiload" "$SOCK" down "$up" | sed 's/^/  /'
print_results

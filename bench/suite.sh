#!/bin/sh
# The benchmarks themselves. Each measures shale and a baseline in the same
# run, prints the medians, the ratio and the verdict against its goal, and
# all end in one results table. POSIX sh: it runs under busybox inside the
# lab as well as directly on a KVM host. bench/run.sh stages DIR and calls
# this script; see docs/benchmarks.md for the method.
#
# usage: suite.sh DIR
#   DIR holds shale, spawn, hcloop, compute-native and the guests
#   (hello, compute, blockread, nop, touch .elf), and may hold env.txt,
#   lines describing the host that are printed first.
#
# Environment (defaults in brackets; in the lab, where LAB=1 is set, smaller
# counts: there a VM exit costs ~40 us and every instruction is emulated;
# on PVM (`shale host --kind` says pvm) fewer hypercalls: an exit costs
# ~75-120 us there, though guest code runs at native speed):
#   BENCH_TRUE [/usr/bin/true]   BENCH_DD [/usr/bin/dd, GNU: it reports its time]
#   BENCH_LIFECYCLE_RUNS [200; lab 30]   BENCH_HC_CALLS [200000; lab, pvm 20000]
#   BENCH_HC_REPEAT [7]   BENCH_TOUCH_MIB [32]
#   BENCH_COMPUTE_ITERS [300000000; lab 100000000]   BENCH_COMPUTE_REPEAT [5]
#   BENCH_BLOCK_MIB [1024]   BENCH_BLOCK_REPEAT [7]
#   BENCH_BLOCK_DEPTH [8]: requests in flight for the goal; BENCH_BLOCK_DEPTH2
#     [1]: a second depth, for information
#   BENCH_QUEUE_CALLS [200000]: NOP requests through an I/O queue
#   BENCH_NET_ECHOES [3000]   BENCH_NET_BULK [20000 datagrams of 1400 bytes]
#   BENCH_NET_WINDOW [8]   BENCH_NET_REPEAT [3]
#   BENCH_WORK [a new directory under $TMPDIR or /tmp]: the disk image
#   BENCH_ONLY: names of the benchmarks to run (lifecycle hypercall memory
#     compute block net), separated by spaces; all when empty
set -u
D=$1
LAB=${LAB:-0}
SHALE=$D/shale
SPAWN=$D/spawn
TRUE=${BENCH_TRUE:-/usr/bin/true}
DD=${BENCH_DD:-/usr/bin/dd}
KIND=$("$SHALE" host --kind 2>/dev/null) || KIND=unknown
if [ "$LAB" = 1 ]; then
	LC_RUNS=${BENCH_LIFECYCLE_RUNS:-30}
	HC_CALLS=${BENCH_HC_CALLS:-20000}
	CP_ITERS=${BENCH_COMPUTE_ITERS:-100000000}
elif [ "$KIND" = pvm ]; then
	LC_RUNS=${BENCH_LIFECYCLE_RUNS:-200}
	HC_CALLS=${BENCH_HC_CALLS:-20000}
	CP_ITERS=${BENCH_COMPUTE_ITERS:-300000000}
else
	LC_RUNS=${BENCH_LIFECYCLE_RUNS:-200}
	HC_CALLS=${BENCH_HC_CALLS:-200000}
	CP_ITERS=${BENCH_COMPUTE_ITERS:-300000000}
fi
HC_REPEAT=${BENCH_HC_REPEAT:-7}
TOUCH_MIB=${BENCH_TOUCH_MIB:-32}
CP_REPEAT=${BENCH_COMPUTE_REPEAT:-5}
BLK_MIB=${BENCH_BLOCK_MIB:-1024}
BLK_REPEAT=${BENCH_BLOCK_REPEAT:-7}
BLK_DEPTH=${BENCH_BLOCK_DEPTH:-8}
BLK_DEPTH2=${BENCH_BLOCK_DEPTH2:-1}
Q_CALLS=${BENCH_QUEUE_CALLS:-200000}
NET_ECHOES=${BENCH_NET_ECHOES:-3000}
NET_BULK=${BENCH_NET_BULK:-20000}
NET_WINDOW=${BENCH_NET_WINDOW:-8}
NET_REPEAT=${BENCH_NET_REPEAT:-3}
ONLY=${BENCH_ONLY:-}

if [ -n "${BENCH_WORK:-}" ]; then
	W=$BENCH_WORK
	mkdir -p "$W"
	own_work=0
else
	W=$(mktemp -d "${TMPDIR:-/tmp}/shale-bench.XXXXXX") || exit 1
	own_work=1
fi
OUT=$W/out
ERR=$W/err
TABLE=$W/table
: >"$TABLE"
FAILED=0
cleanup() {
	rm -f "$W/disk.img" "$OUT" "$ERR" "$TABLE"
	if [ "$own_work" = 1 ]; then rmdir "$W" 2>/dev/null; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers ----------------------------------------------------------------

# median, minimum, calc, field, verdict, row, print_results
. "$(dirname "$0")/lib.sh"

want() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) true ;; *) false ;; esac; }


# A benchmark run failed: say why and mark the benchmark.
failed() {
	FAILED=$((FAILED + 1))
	echo "  FAILED: $1"
	[ -s "$OUT" ] && sed 's/^/    stdout: /' "$OUT" | head -n 10
	[ -s "$ERR" ] && sed 's/^/    stderr: /' "$ERR" | head -n 10
	row "$2" FAILED - - - FAILED
}

# run CMD...: CMD with stdout in $OUT and stderr in $ERR, bounded by 30 min.
run() { timeout 1800 "$@" >"$OUT" 2>"$ERR" </dev/null; }

# --- environment ------------------------------------------------------------

show_environment

# --- 1. lifecycle -----------------------------------------------------------
# Baselines: a process that does nothing ($TRUE), and hcloop with one exit,
# the least any KVM program pays (open /dev/kvm, create a VM and a vCPU,
# run it, tear it down): what shale costs beyond KVM itself.

# lifecycle_one LABEL CMD...: spawn's median and p90 (us) in $med and $p90.
lifecycle_one() {
	label=$1
	shift
	if ! run "$SPAWN" -n "$LC_RUNS" -t 120 -- "$@"; then
		failed "$*" lifecycle
		return 1
	fi
	med=$(field median_us "$OUT") p90=$(field p90_us "$OUT")
	printf '  %-8s median %s us, p90 %s us\n' "$label:" "$med" "$p90"
}

ms() { calc "$1 / 1000" %.2f; }

if want lifecycle; then
	echo "== lifecycle: 'shale run hello.elf' vs '$TRUE' and a minimal KVM program" \
		"(hcloop 1), exec to exit, $LC_RUNS runs each"
	if lifecycle_one true "$TRUE" && t_med=$med &&
		lifecycle_one kvm "$D/hcloop" 1 && k_med=$med &&
		lifecycle_one shale "$SHALE" run "$D/hello.elf"; then
		s_med=$med s_p90=$p90
		echo "  shale / true: $(calc "$s_med / $t_med")x, shale / minimal KVM program:" \
			"$(calc "$s_med / $k_med")x"
		if [ "$LAB" = 1 ]; then
			v="n/a (lab)"
		else
			v=$(verdict "$s_med < 3000")
		fi
		row lifecycle "$(ms "$s_med") ms (p90 $(ms "$s_p90"))" "true: $(ms "$t_med") ms" \
			"$(calc "$s_med / $t_med")x" "< 3 ms" "$v"
		row "lifecycle vs raw KVM" "$(ms "$s_med") ms" "hcloop 1: $(ms "$k_med") ms" \
			"$(calc "$s_med / $k_med")x" "<= 1.30x" "$(verdict "$s_med <= 1.3 * $k_med")"
	fi
fi

# --- 2. null hypercall ------------------------------------------------------

if want hypercall; then
	echo "== hypercall: shale_nop() vs a raw KVM_RUN port-exit loop," \
		"$HC_CALLS calls, median of $HC_REPEAT"
	raw='' pv='' qn='' ok=1
	i=0
	while [ $i -lt "$HC_REPEAT" ] && [ $ok = 1 ]; do
		i=$((i + 1))
		if run "$D/hcloop" "$HC_CALLS"; then
			raw="$raw $(calc "$(field ns "$OUT") / $(field exits "$OUT")" %.1f)"
		else
			failed "hcloop" hypercall
			ok=0
			break
		fi
		if run "$SHALE" run "$D/nop.elf" "$HC_CALLS"; then
			pv="$pv $(calc "$(field ns "$OUT") / $(field calls "$OUT")" %.1f)"
		else
			failed "shale run nop.elf" hypercall
			ok=0
		fi
		# The same NOP as a request through an I/O queue, one at a time.
		if run "$SHALE" run "$D/nop.elf" "$Q_CALLS" queue; then
			qn="$qn $(calc "$(field ns "$OUT") / $(field calls "$OUT")" %.1f)"
		else
			failed "shale run nop.elf $Q_CALLS queue" hypercall
			ok=0
		fi
	done
	if [ $ok = 1 ]; then
		# shellcheck disable=SC2086 # word splitting wanted
		raw_m=$(median $raw)
		# shellcheck disable=SC2086
		pv_m=$(median $pv)
		# shellcheck disable=SC2086
		echo "  raw KVM:  ns/exit$raw -> median $raw_m, best $(minimum $raw)"
		# shellcheck disable=SC2086
		echo "  shale:    ns/call$pv -> median $pv_m, best $(minimum $pv)"
		ratio=$(calc "$pv_m / $raw_m")
		echo "  shale / raw: ${ratio}x"
		row hypercall "$(calc "$pv_m / 1000" %.2f) us/call" "$(calc "$raw_m / 1000" %.2f) us/exit" \
			"${ratio}x" "<= 1.10x" "$(verdict "$pv_m <= 1.10 * $raw_m")"
		# shellcheck disable=SC2086
		q_m=$(median $qn)
		# shellcheck disable=SC2086
		echo "  queue:    ns/request$qn -> median $q_m ($Q_CALLS NOP requests each)"
		cheaper=$(calc "$raw_m / $q_m" %.1f)
		echo "  one exit / one queued request: ${cheaper}x"
		row "queued NOP" "$(calc "$q_m / 1000" %.3f) us/request" \
			"$(calc "$raw_m / 1000" %.2f) us/exit" "${cheaper}x cheaper" ">= 10x cheaper" \
			"$(verdict "$raw_m >= 10 * $q_m")"
	fi
fi

# --- 3. memory --------------------------------------------------------------
# VMM overhead = peak RSS of the whole shale process minus the guest RAM it
# holds (guest_ram_touched_kib from --stats, mincore() over guest RAM at
# exit). The peak RSS is the one wait4() reports after exit (spawn's
# maxrss_kib), not the peak_rss_kib shale prints: that one comes from
# getrusage() while shale runs, which (1) starts from the RSS of the
# process that forked shale (Linux keeps the maximum across exec), and
# (2) on kernels before 6.2 misses up to 64 recent page faults per thread
# (split RSS counters); it is printed for comparison only.

# stats NAME ARGS...: `shale run --stats ARGS` three times; sets ovh_kib,
# touched_kib, peak_kib and self_kib (medians); returns 1 when a run failed.
stats() {
	name=$1
	shift
	o='' t='' p='' q=''
	for _ in 1 2 3; do
		if ! run "$SPAWN" -k -n 1 -w 0 -- "$SHALE" run --stats "$@"; then
			failed "shale run --stats $*" "$name"
			return 1
		fi
		tk=$(field guest_ram_touched_kib "$ERR")
		sk=$(field peak_rss_kib "$ERR")
		pk=$(field maxrss_kib "$OUT")
		if [ -z "$tk" ] || [ -z "$sk" ] || [ -z "$pk" ]; then
			failed "no shale-stats or spawn line" "$name"
			return 1
		fi
		t="$t $tk" p="$p $pk" q="$q $sk" o="$o $((pk - tk))"
	done
	# shellcheck disable=SC2086
	ovh_kib=$(median $o) touched_kib=$(median $t) peak_kib=$(median $p) self_kib=$(median $q)
}

if want memory; then
	echo "== memory: peak RSS (wait4) minus guest RAM touched (shale run --stats), median of 3"
	if run "$SPAWN" -n 5 -w 1 -- "$TRUE"; then
		true_kib=$(field maxrss_kib "$OUT")
		echo "  baseline: peak RSS of $TRUE: $true_kib KiB"
	else
		true_kib=0
		echo "  baseline: $TRUE failed"
	fi
	for g in hello touch; do
		if [ $g = hello ]; then
			set -- "$D/hello.elf"
			label="memory (hello)"
		else
			set -- "$D/touch.elf" "$TOUCH_MIB"
			label="memory (touch $TOUCH_MIB MiB)"
		fi
		if stats "$label" "$@"; then
			echo "  $g: peak RSS $peak_kib KiB, guest RAM touched $touched_kib KiB," \
				"VMM overhead $ovh_kib KiB (shale's own peak_rss_kib: $self_kib)"
			row "$label" "$(calc "$ovh_kib / 1024" %.2f) MiB overhead" \
				"true: $(calc "$true_kib / 1024" %.2f) MiB RSS" \
				"$(calc "$ovh_kib / ($true_kib ? $true_kib : 1)")x" "< 2 MiB" \
				"$(verdict "$ovh_kib < 2048")"
		fi
	done
fi

# --- 4. compute -------------------------------------------------------------

if want compute; then
	echo "== compute: examples/compute.c in a guest vs natively, $CP_ITERS iterations," \
		"median of $CP_REPEAT"
	g='' n='' ok=1 i=0
	while [ $i -lt "$CP_REPEAT" ]; do
		i=$((i + 1))
		if ! run "$D/compute-native" "$CP_ITERS"; then
			failed "compute-native" compute
			ok=0
			break
		fi
		n="$n $(field ns "$OUT")"
		want_result=$(sed -n 's/^result \([0-9a-f]*\).*/\1/p' "$OUT")
		if ! run "$SHALE" run "$D/compute.elf" "$CP_ITERS"; then
			failed "shale run compute.elf" compute
			ok=0
			break
		fi
		if ! grep -q "^result $want_result " "$OUT"; then
			failed "the guest computed another result than the host" compute
			ok=0
			break
		fi
		g="$g $(field ns "$OUT")"
	done
	if [ $ok = 1 ]; then
		# shellcheck disable=SC2086
		g_m=$(median $g)
		# shellcheck disable=SC2086
		n_m=$(median $n)
		# shellcheck disable=SC2086
		echo "  native: ns$n -> median $n_m, best $(minimum $n)"
		# shellcheck disable=SC2086
		echo "  guest:  ns$g -> median $g_m, best $(minimum $g)"
		speed=$(calc "$n_m / $g_m" %.3f)
		echo "  guest speed / native speed: ${speed}x"
		row compute "$(calc "$g_m / 1e6" %.1f) ms" "$(calc "$n_m / 1e6" %.1f) ms native" \
			"${speed}x speed" ">= 0.95x" "$(verdict "$n_m >= 0.95 * $g_m")"
	fi
fi

# --- 5. block ---------------------------------------------------------------

if want block; then
	img=$W/disk.img
	echo "== block: $BLK_MIB MiB image, 1 MiB requests: blockread.elf vs '$DD bs=1M'," \
		"page cache warm, median of $BLK_REPEAT; one v1 hypercall per request, and" \
		"$BLK_DEPTH and $BLK_DEPTH2 requests in flight through the block I/O queue"
	if ! run "$DD" if=/dev/zero of="$img" bs=1M count="$BLK_MIB" ||
		! run "$DD" if="$img" of=/dev/null bs=1M; then
		failed "cannot write or read a $BLK_MIB MiB image in $W" block
	else
		d='' s='' sw='' q='' qw='' dq='' ok=1 i=0
		while [ $i -lt "$BLK_REPEAT" ]; do
			i=$((i + 1))
			# GNU dd reports its own copy time: "..., 0.1234 s, 8.7 GB/s".
			if ! run "$DD" if="$img" of=/dev/null bs=1M; then
				failed "$DD" block
				ok=0
				break
			fi
			secs=$(sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p' "$ERR")
			if [ -z "$secs" ]; then
				failed "$DD printed no copy time (it must be GNU dd)" block
				ok=0
				break
			fi
			d="$d $(calc "$BLK_MIB * 1048576 / ($secs * 1e6)" %.1f)"
			if ! run "$SPAWN" -k -n 1 -w 0 -- "$SHALE" run --disk "$img,ro" "$D/blockread.elf" \
				1048576 0 || ! grep -q '^bytes ' "$OUT"; then
				failed "shale run blockread.elf 1048576 0" block
				ok=0
				break
			fi
			s="$s $(calc "$(field bytes "$OUT") * 1000 / $(field ns "$OUT")" %.1f)"
			sw="$sw $(calc "$(field bytes "$OUT") / $(field median_us "$OUT")" %.1f)"
			if ! run "$SPAWN" -k -n 1 -w 0 -- "$SHALE" run --memory 256M --disk "$img,ro" \
				"$D/blockread.elf" 1048576 "$BLK_DEPTH" || ! grep -q '^bytes ' "$OUT"; then
				failed "shale run blockread.elf 1048576 $BLK_DEPTH" block
				ok=0
				break
			fi
			q="$q $(calc "$(field bytes "$OUT") * 1000 / $(field ns "$OUT")" %.1f)"
			qw="$qw $(calc "$(field bytes "$OUT") / $(field median_us "$OUT")" %.1f)"
			if ! run "$SHALE" run --memory 256M --disk "$img,ro" "$D/blockread.elf" 1048576 \
				"$BLK_DEPTH2" || ! grep -q '^bytes ' "$OUT"; then
				failed "shale run blockread.elf 1048576 $BLK_DEPTH2" block
				ok=0
				break
			fi
			dq="$dq $(calc "$(field bytes "$OUT") * 1000 / $(field ns "$OUT")" %.1f)"
		done
		if [ $ok = 1 ]; then
			# shellcheck disable=SC2086
			d_m=$(median $d)
			# shellcheck disable=SC2086
			s_m=$(median $s)
			# shellcheck disable=SC2086
			sw_m=$(median $sw)
			# shellcheck disable=SC2086
			q_m=$(median $q)
			# shellcheck disable=SC2086
			qw_m=$(median $qw)
			echo "  dd:    MB/s$d -> median $d_m"
			echo "  v1:    MB/s$s -> median $s_m (reads only; whole process:$sw -> median $sw_m)"
			# shellcheck disable=SC2086
			dq_m=$(median $dq)
			echo "  queue: MB/s$q -> median $q_m (reads only; whole process:$qw -> median $qw_m)"
			echo "  queue, depth $BLK_DEPTH2: MB/s$dq -> median $dq_m"
			ratio=$(calc "$s_m / $d_m" %.3f)
			qratio=$(calc "$q_m / $d_m" %.3f)
			echo "  v1 / dd: ${ratio}x, queue / dd: ${qratio}x"
			row "block (v1 calls)" "$s_m MB/s ($sw_m whole run)" "$d_m MB/s" "${ratio}x" \
				"(none)" "info"
			row "block (queue, depth $BLK_DEPTH)" "$q_m MB/s ($qw_m whole run)" "$d_m MB/s" \
				"${qratio}x" ">= 0.90x" "$(verdict "$q_m >= 0.9 * $d_m")"
			row "block (queue, depth $BLK_DEPTH2)" "$dq_m MB/s" "$d_m MB/s" \
				"$(calc "$dq_m / $d_m" %.3f)x" "(none)" "info"
		fi
	fi
	rm -f "$img"
fi

# --- 6. network -------------------------------------------------------------
# examples/net.c on a tap device in a network namespace of its own, driven
# from the host side by udp_echo_client: one datagram at a time (round
# trips per second, median latency), and bulk with NET_WINDOW datagrams of
# 1400 bytes in flight (MB/s). The same guest with v1 calls and with -q
# (its network I/O queue). Needs root and iproute2.

# net_stop: ends the guest started by net_run.
net_stop() {
	kill -TERM "$guest" 2>/dev/null
	wait "$guest"
}

# net_fail: ends the guest and adds what it printed to $ERR, for failed().
net_fail() {
	net_stop
	sed 's/^/guest: /' "$W/net.out" >>"$ERR"
}

# net_run MODE: sets e_rate, e_med (us), b_mbs for the guest in MODE ("" or -q).
net_run() {
	e='' m='' b='' i=0
	while [ $i -lt "$NET_REPEAT" ]; do
		i=$((i + 1))
		"$IP" netns exec "$ns" "$SHALE" run --timeout 300s --net tap=tap0 "$D/net.elf" -- \
			${1:+"$1"} 10.78.0.2 >"$W/net.out" 2>&1 &
		guest=$!
		tries=0
		until "$IP" netns exec "$ns" "$D/udp_echo_client" 10.78.0.2 7 ready >/dev/null 2>&1; do
			tries=$((tries + 1))
			if [ $tries -gt 10 ]; then
				: >"$OUT"
				: >"$ERR"
				net_fail
				return 1
			fi
		done
		if ! run "$IP" netns exec "$ns" "$D/udp_echo_client" -n "$NET_ECHOES" 10.78.0.2 7 \
			shale-bench-echo; then
			net_fail
			return 1
		fi
		e="$e $(calc "$(field echoes "$OUT") * 1e9 / $(field ns "$OUT")" %.0f)"
		m="$m $(calc "$(field median_ns "$OUT") / 1000" %.1f)"
		if ! run "$IP" netns exec "$ns" "$D/udp_echo_client" -w "$NET_WINDOW" -n "$NET_BULK" \
			10.78.0.2 7 1400; then
			net_fail
			return 1
		fi
		b="$b $(calc "$(field bytes "$OUT") * 1000 / $(field ns "$OUT")" %.1f)"
		net_stop
	done
	# shellcheck disable=SC2086
	e_rate=$(median $e) e_med=$(median $m) b_mbs=$(median $b)
	echo "  ${2}: echoes/s$e -> median $e_rate; median round trip$m -> $e_med us;" \
		"bulk MB/s$b -> median $b_mbs"
}

if want net; then
	IP=${IP:-ip}
	ns=shale-bench$$
	echo "== net: UDP echo through a tap device, $NET_ECHOES round trips one at a time and" \
		"$NET_BULK x 1400 bytes with $NET_WINDOW in flight, median of $NET_REPEAT;" \
		"v1 calls vs the I/O queue"
	if ! command -v "$IP" >/dev/null 2>&1 || ! "$IP" netns add "$ns" 2>/dev/null; then
		echo "  SKIP: cannot create a network namespace (needs root and iproute2)"
		row net SKIP - - - "skip"
	else
		"$IP" netns exec "$ns" "$IP" link set lo up
		"$IP" netns exec "$ns" "$IP" tuntap add dev tap0 mode tap
		"$IP" netns exec "$ns" "$IP" addr add 10.78.0.1/24 dev tap0
		"$IP" netns exec "$ns" "$IP" link set tap0 up
		if net_run "" v1 && v_rate=$e_rate v_med=$e_med v_mbs=$b_mbs &&
			net_run -q queue; then
			row "net echo" "$e_rate/s (queue), $e_med us" "$v_rate/s (v1), $v_med us" \
				"$(calc "$e_rate / $v_rate" %.1f)x" "(none)" "info"
			row "net bulk" "$b_mbs MB/s (queue)" "$v_mbs MB/s (v1)" \
				"$(calc "$b_mbs / $v_mbs" %.1f)x" "(none)" "info"
		else
			failed "the network guest or its client" net
		fi
		"$IP" netns del "$ns"
	fi
fi

# --- results ----------------------------------------------------------------

print_results
[ "$FAILED" -eq 0 ]

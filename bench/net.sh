#!/bin/sh
# Network throughput of a Linux guest on the user-mode network: the same
# kernel and initramfs (tests/linux/init, shale.test=netbench) on shale's
# virtio-net with --net user (libslirp in the shale-net helper) and on
# QEMU's (`-M microvm,pcie=on`, virtio-net-pci on `-netdev user`: libslirp
# inside QEMU), alternating. Each run: the guest fetches BENCH_NET_MIB MiB
# over HTTP from a server here through slirp's 10.0.2.2, timed by its own
# clock (receive); then this side fetches as much from the guest's server
# through a port forward, timed here (transmit). Also VM exits per MiB
# (shale's --stats, both directions and the boot).
#
# usage: bench/net.sh [BUILD_DIR]   stages and runs, directly where Linux
#          guests run, else in the nested-SVM lab (bench/linux-stage.sh)
#        net.sh --run DIR           the measurement itself (POSIX sh)
#
# Environment (defaults in brackets): BENCH_NET_MIB [64], BENCH_NET_RUNS [3]
#   rounds after BENCH_NET_WARMUP [1], BENCH_NET_TIMEOUT [300] s per run,
#   BENCH_NET_LAB_MEM [3072] MiB for the lab's L1.
set -u

# median, calc, verdict, row, print_results, show_environment
. "$(dirname "$0")/lib.sh"

HOST_PORT=18090 # the forward to the guest's port 80
SERVE_PORT=18091 # this side's HTTP server, 10.0.2.2:18091 to the guest

now() { cut -d' ' -f1 /proc/uptime; }

# one VMM: a run under VMM (shale or qemu). Sets rx and tx (MB/s) and,
# for shale, exits; 1 on failure.
one() {
	cl="console=ttyS0 quiet panic=-1 shale.test=netbench shale.netbench=$MIB"
	# The last run's forward (its VMM, or shale-net after it) may still hold the port.
	k=0
	while busybox netstat -ltn 2>/dev/null | grep -q ":$HOST_PORT " && [ $k -lt 50 ]; do
		sleep 0.2
		k=$((k + 1))
	done
	# Emptied here, not by the VMM's redirection, which may come after the first look.
	: >"$OUT"
	: >"$ERR"
	if [ "$1" = shale ]; then
		"$SHALE" run --stats --memory 512M --kernel "$D/bzImage" --initrd "$D/initrd.cpio" \
			--cmdline "$cl" --net "user,hostfwd=tcp::$HOST_PORT-:80" >"$OUT" 2>"$ERR" </dev/null &
	else
		"$QEMU" -L "$D/fw" -enable-kvm -cpu host -M microvm,pcie=on -m 512M \
			-smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-kernel "$D/bzImage" -initrd "$D/initrd.cpio" -append "$cl" \
			-netdev "user,id=n0,hostfwd=tcp::$HOST_PORT-:80" -device virtio-net-pci,netdev=n0,romfile= \
			>"$OUT" 2>"$ERR" </dev/null &
	fi
	vmm=$!
	k=0
	while ! grep -q L2-NETBENCH-READY "$OUT" && kill -0 "$vmm" 2>/dev/null && [ $k -lt "$LIMIT" ]; do
		sleep 1
		k=$((k + 1))
	done
	line=$(grep -a '^L2-NETBENCH-RX' "$OUT" | tr -d '\r' | head -n 1)
	t0=$(now)
	busybox wget -q -O /dev/null "http://127.0.0.1:$HOST_PORT/big.bin"
	st=$?
	t1=$(now)
	kill -TERM "$vmm" 2>/dev/null
	wait "$vmm"
	a=$(echo "$line" | sed -n 's/.* start=\([0-9.]*\).*/\1/p')
	b=$(echo "$line" | sed -n 's/.* end=\([0-9.]*\).*/\1/p')
	case $line in *" status=0 "*) ;; *)
		FAILED=$((FAILED + 1))
		echo "  FAILED: $1: ${line:-no L2-NETBENCH-RX line}"
		tail -n 5 "$OUT" | tr -d '\r' | sed 's/^/    stdout: /'
		tail -n 5 "$ERR" | tr -d '\r' | sed 's/^/    stderr: /'
		return 1 ;;
	esac
	if [ "$st" != 0 ]; then
		FAILED=$((FAILED + 1))
		echo "  FAILED: $1: the fetch from the guest failed (status $st)"
		return 1
	fi
	rx=$(calc "$BYTES / 1000000 / ($b - $a)" %.1f)
	tx=$(calc "$BYTES / 1000000 / ($t1 - $t0)" %.1f)
	exits=
	[ "$1" = shale ] && exits=$(sed -n 's/.* exits=\([0-9]*\).*/\1/p' "$ERR" | tail -n 1)
	return 0
}

run_bench() {
	D=$1
	SHALE=$D/shale
	QEMU=${BOOT_QEMU:-qemu-system-x86_64}
	MIB=${BENCH_NET_MIB:-64}
	RUNS=${BENCH_NET_RUNS:-3}
	WARMUP=${BENCH_NET_WARMUP:-1}
	LIMIT=${BENCH_NET_TIMEOUT:-300}
	LAB=${LAB:-0}
	BYTES=$((MIB * 1048576))
	W=$(mktemp -d "${TMPDIR:-/tmp}/shale-net.XXXXXX") || exit 1
	OUT=$W/out ERR=$W/err TABLE=$W/table
	: >"$TABLE"
	FAILED=0
	mkdir -p "$W/www"
	dd if=/dev/zero of="$W/www/big.bin" bs=1M count="$MIB" 2>/dev/null
	busybox httpd -f -p "$SERVE_PORT" -h "$W/www" &
	httpd=$!
	trap 'kill $httpd 2>/dev/null; rm -rf "$W"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	show_environment
	echo "== network: $MIB MiB over HTTP (busybox wget and httpd) through the user-mode" \
		"network, fetched by the guest from this side (rx) and by this side from the guest" \
		"through a port forward (tx); $RUNS rounds (after $WARMUP untimed) of: Linux on" \
		"shale's virtio-net (--net user), Linux on QEMU's virtio-net-pci (-netdev user)"
	i=0 ok=1 srx= stx= qrx= qtx= es=
	while [ $i -lt $((WARMUP + RUNS)) ] && [ $ok = 1 ]; do
		i=$((i + 1))
		one shale || { ok=0; break; }
		[ $i -gt "$WARMUP" ] && srx="$srx $rx" stx="$stx $tx" es="$es $exits"
		one qemu || { ok=0; break; }
		[ $i -gt "$WARMUP" ] && qrx="$qrx $rx" qtx="$qtx $tx"
	done
	if [ $ok = 1 ]; then
		# shellcheck disable=SC2086
		m_srx=$(median $srx) m_stx=$(median $stx) m_qrx=$(median $qrx) m_qtx=$(median $qtx)
		# shellcheck disable=SC2086
		m_es=$(median $es)
		echo "  shale, guest receives:  MB/s$srx -> median $m_srx"
		echo "  QEMU,  guest receives:  MB/s$qrx -> median $m_qrx"
		echo "  shale, guest transmits: MB/s$stx -> median $m_stx"
		echo "  QEMU,  guest transmits: MB/s$qtx -> median $m_qtx"
		echo "  shale VM exits per run:$es"
		row "Linux network receive, virtio-net" "$m_srx MB/s" "qemu: $m_qrx MB/s" \
			"$(calc "$m_srx / $m_qrx")x" ">= 1.00x" "$(verdict "$m_srx >= $m_qrx")"
		row "Linux network transmit, virtio-net" "$m_stx MB/s" "qemu: $m_qtx MB/s" \
			"$(calc "$m_stx / $m_qtx")x" ">= 1.00x" "$(verdict "$m_stx >= $m_qtx")"
		row "VM exits per MiB, virtio-net" "$(calc "$m_es / (2 * $MIB)")" "(boot included)" \
			"-" "(none)" "info"
	else
		row "Linux network, virtio-net" FAILED - - - FAILED
	fi
	print_results
	[ "$FAILED" -eq 0 ]
}

if [ "${1:-}" = --run ]; then
	[ $# -eq 2 ] || { echo "usage: net.sh --run DIR" >&2; exit 2; }
	run_bench "$2"
	exit $?
fi

# --- staging and dispatch (bench/net.sh [BUILD_DIR]) -------------------------

BENCH_NAME=net
BENCH_EXTRA=shale-net
BENCH_KNOBS="BENCH_NET_MIB BENCH_NET_RUNS BENCH_NET_WARMUP BENCH_NET_TIMEOUT"
BENCH_LAB_MEM=${BENCH_NET_LAB_MEM:-3072}
BENCH_MODULES=1
. "$(dirname "$0")/linux-stage.sh"

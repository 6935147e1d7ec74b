#!/bin/sh
# Network throughput of a Linux guest: the same kernel and initramfs
# (tests/linux/init, shale.test=netbench) on shale's virtio-net and on
# QEMU's (`-M microvm,pcie=on`, virtio-net-pci), alternating, first on the
# user-mode network (--net user: libslirp in the shale-net helper;
# -netdev user: libslirp inside QEMU), then on a tap made here (-netdev
# tap with the device's offloads off, as shale offers none). Each run: the
# guest fetches BENCH_NET_MIB MiB over HTTP from a server here (slirp's
# 10.0.2.2, or 10.78.0.1 on the tap), timed by its own clock (receive);
# then this side fetches as much from the guest's server (through a port
# forward, or at 10.78.0.2), timed here (transmit). Also VM exits per MiB
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

# one VMM NET: a run under VMM (shale or qemu) on NET (user: the user-mode
# network with a port forward; tap: shtap0, 10.78.0.1 here and 10.78.0.2 in
# the guest). Sets rx and tx (MB/s) and, for shale, exits; 1 on failure.
one() {
	cl="console=ttyS0 quiet panic=-1 shale.test=netbench shale.netbench=$MIB"
	if [ "$2" = tap ]; then
		cl="$cl shale.net0=10.78.0.2/24 shale.netserver=10.78.0.1:$SERVE_PORT"
		snet=tap=shtap0
		# The same device as shale's: no offloads (QEMU's would do TSO on a tap).
		qnet=tap,id=n0,ifname=shtap0,script=no,downscript=no
		qdev=virtio-net-pci,netdev=n0,romfile=,csum=off,guest_csum=off
		url=http://10.78.0.2/big.bin
	else
		snet=user,hostfwd=tcp::$HOST_PORT-:80
		qnet=user,id=n0,hostfwd=tcp::$HOST_PORT-:80
		qdev=virtio-net-pci,netdev=n0,romfile=
		url=http://127.0.0.1:$HOST_PORT/big.bin
		# The last run's forward (its VMM, or shale-net after it) may still hold the port.
		k=0
		while busybox netstat -ltn 2>/dev/null | grep -q ":$HOST_PORT " && [ $k -lt 50 ]; do
			sleep 0.2
			k=$((k + 1))
		done
	fi
	# Emptied here, not by the VMM's redirection, which may come after the first look.
	: >"$OUT"
	: >"$ERR"
	if [ "$1" = shale ]; then
		"$SHALE" run --stats --memory 512M --kernel "$D/bzImage" --initrd "$D/initrd.cpio" \
			--cmdline "$cl" --net "$snet" >"$OUT" 2>"$ERR" </dev/null &
	else
		"$QEMU" -L "$D/fw" -enable-kvm -cpu host -M microvm,pcie=on -m 512M \
			-smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-kernel "$D/bzImage" -initrd "$D/initrd.cpio" -append "$cl" \
			-netdev "$qnet" -device "$qdev" >"$OUT" 2>"$ERR" </dev/null &
	fi
	vmm=$!
	k=0
	while ! grep -q L2-NETBENCH-READY "$OUT" && kill -0 "$vmm" 2>/dev/null && [ $k -lt "$LIMIT" ]; do
		sleep 1
		k=$((k + 1))
	done
	line=$(grep -a '^L2-NETBENCH-RX' "$OUT" | tr -d '\r' | head -n 1)
	t0=$(now)
	busybox wget -q -O /dev/null "$url"
	st=$?
	t1=$(now)
	kill -TERM "$vmm" 2>/dev/null
	wait "$vmm"
	a=$(echo "$line" | sed -n 's/.* start=\([0-9.]*\).*/\1/p')
	b=$(echo "$line" | sed -n 's/.* end=\([0-9.]*\).*/\1/p')
	case $line in *" status=0 "*) ;; *)
		FAILED=$((FAILED + 1))
		echo "  FAILED: $1 ($2): ${line:-no L2-NETBENCH-RX line}"
		tail -n 5 "$OUT" | tr -d '\r' | sed 's/^/    stdout: /'
		tail -n 5 "$ERR" | tr -d '\r' | sed 's/^/    stderr: /'
		return 1 ;;
	esac
	if [ "$st" != 0 ]; then
		FAILED=$((FAILED + 1))
		echo "  FAILED: $1 ($2): the fetch from the guest failed (status $st)"
		return 1
	fi
	rx=$(calc "$BYTES / 1000000 / ($b - $a)" %.1f)
	tx=$(calc "$BYTES / 1000000 / ($t1 - $t0)" %.1f)
	exits=
	[ "$1" = shale ] && exits=$(sed -n 's/.* exits=\([0-9]*\).*/\1/p' "$ERR" | tail -n 1)
	return 0
}

# rounds NET: WARMUP + RUNS rounds of shale then QEMU on NET, and their rows.
rounds() {
	r=0 ok=1 srx= stx= qrx= qtx= es=
	while [ $r -lt $((WARMUP + RUNS)) ] && [ $ok = 1 ]; do
		r=$((r + 1))
		one shale "$1" || { ok=0; break; }
		[ $r -gt "$WARMUP" ] && srx="$srx $rx" stx="$stx $tx" es="$es $exits"
		one qemu "$1" || { ok=0; break; }
		[ $r -gt "$WARMUP" ] && qrx="$qrx $rx" qtx="$qtx $tx"
	done
	if [ $ok = 0 ]; then
		row "Linux network ($1), virtio-net" FAILED - - - FAILED
		return
	fi
	# shellcheck disable=SC2086
	m_srx=$(median $srx) m_stx=$(median $stx) m_qrx=$(median $qrx) m_qtx=$(median $qtx)
	# shellcheck disable=SC2086
	m_es=$(median $es)
	echo "  $1: shale, guest receives:  MB/s$srx -> median $m_srx"
	echo "  $1: QEMU,  guest receives:  MB/s$qrx -> median $m_qrx"
	echo "  $1: shale, guest transmits: MB/s$stx -> median $m_stx"
	echo "  $1: QEMU,  guest transmits: MB/s$qtx -> median $m_qtx"
	echo "  $1: shale VM exits per run:$es"
	row "Linux network receive ($1)" "$m_srx MB/s" "qemu: $m_qrx MB/s" \
		"$(calc "$m_srx / $m_qrx")x" ">= 1.00x" "$(verdict "$m_srx >= $m_qrx")"
	row "Linux network transmit ($1)" "$m_stx MB/s" "qemu: $m_qtx MB/s" \
		"$(calc "$m_stx / $m_qtx")x" ">= 1.00x" "$(verdict "$m_stx >= $m_qtx")"
	row "VM exits per MiB ($1)" "$(calc "$m_es / (2 * $MIB)")" "(boot included)" \
		"-" "(none)" "info"
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
	echo "== network: $MIB MiB over HTTP (busybox wget and httpd), fetched by the guest" \
		"from this side (receive) and by this side from the guest (transmit); $RUNS" \
		"rounds (after $WARMUP untimed) of Linux on shale's virtio-net, then on QEMU's" \
		"virtio-net-pci: on the user-mode network (shale-net; -netdev user) with a" \
		"port forward, and on a tap (-netdev tap, offloads off)"
	rounds user
	if { "${IP:-ip}" tuntap add dev shtap0 mode tap 2>/dev/null ||
		busybox tunctl -t shtap0 >/dev/null 2>&1; } &&
		"${IP:-ip}" addr add 10.78.0.1/24 dev shtap0 && "${IP:-ip}" link set shtap0 up; then
		rounds tap
		"${IP:-ip}" link del shtap0 2>/dev/null
	else
		echo "  tap: SKIP: cannot make a tap device here (needs root and /dev/net/tun)"
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

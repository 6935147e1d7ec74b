#!/bin/sh
# Block I/O of a Linux guest, full against para-virtual: the same kernel
# and initramfs read a whole disk image (1 MiB direct reads, the guest's
# own clock: tests/linux/init, shale.test=blkbench) through shale's
# virtio-blk and through QEMU's (`-M microvm,pcie=on`, virtio-blk-pci on
# a raw file: user-space back ends both), alternating; and the same image
# read by a para-virtual shale guest through the hypercall block interface
# (blockread.elf: one v1 call per 1 MiB, and 8 in flight on the I/O queue).
# Also: VM exits per MiB (shale's --stats). See docs/full-vs-para.md.
#
# usage: bench/io.sh [BUILD_DIR]   stages and runs, directly where Linux
#          guests run, else in the nested-SVM lab (bench/linux-stage.sh)
#        io.sh --run DIR           the measurement itself (POSIX sh)
#
# Also console output: KiB written by the same Linux to ttyS0 (the 16550A
# UART) and to hvc0 (virtio-console), with the exits each costs.
#
# Environment (defaults in brackets): BENCH_IO_MIB [256] the image,
#   BENCH_IO_CONSOLE_KIB [64] the console output,
#   BENCH_IO_RUNS [5] rounds after BENCH_IO_WARMUP [1], BENCH_IO_TIMEOUT
#   [300] s per run, BENCH_IO_LAB_MEM [3072] MiB for the lab's L1.
set -u

# median, calc, field, verdict, row, print_results, show_environment
. "$(dirname "$0")/lib.sh"

# linux VMM: one read of the disk by the guest under VMM (shale or qemu).
# Sets mbs (MB/s by the guest's clock) and, for shale, exits; 1 on failure.
linux() {
	cl="console=ttyS0 quiet panic=-1 shale.test=blkbench"
	if [ "$1" = shale ]; then
		timeout "$LIMIT" "$SHALE" run --stats --memory 256M --kernel "$D/bzImage" \
			--initrd "$D/initrd.cpio" --cmdline "$cl" --disk "$IMG,ro" >"$OUT" 2>"$ERR" </dev/null
	else
		timeout "$LIMIT" "$QEMU" -L "$D/fw" -enable-kvm -cpu host -M microvm,pcie=on -m 256M \
			-smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-kernel "$D/bzImage" -initrd "$D/initrd.cpio" -append "$cl" \
			-drive "file=$IMG,if=none,id=d0,format=raw,readonly=on" \
			-device virtio-blk-pci,drive=d0 >"$OUT" 2>"$ERR" </dev/null
	fi
	line=$(grep -a '^L2-BLKBENCH' "$OUT" | tr -d '\r' | head -n 1)
	bytes=$(echo "$line" | sed -n 's/.* bytes=\([0-9]*\).*/\1/p')
	a=$(echo "$line" | sed -n 's/.* start=\([0-9.]*\).*/\1/p')
	b=$(echo "$line" | sed -n 's/.* end=\([0-9.]*\).*/\1/p')
	case $line in *" status=0 "*) ;; *)
		FAILED=$((FAILED + 1))
		echo "  FAILED: $1: ${line:-no L2-BLKBENCH line}"
		tail -n 5 "$OUT" | sed 's/^/    stdout: /'
		tail -n 5 "$ERR" | sed 's/^/    stderr: /'
		return 1 ;;
	esac
	[ "$bytes" = "$IMG_BYTES" ] || { FAILED=$((FAILED + 1)); echo "  FAILED: $1 read $bytes bytes"; return 1; }
	mbs=$(calc "$bytes / 1000000 / ($b - $a)" %.1f)
	exits=
	[ "$1" = shale ] && exits=$(sed -n 's/.* exits=\([0-9]*\).*/\1/p' "$ERR" | tail -n 1)
	return 0
}

# con DEV KIB: one Linux run writing KIB KiB to /dev/DEV (ttyS0: the
# emulated 16550A UART, hvc0: virtio-console; both shown on shale's
# stdout), or none with KIB 0. Sets kibs (KiB/s by the guest's clock) and
# exits; 1 on failure.
con() {
	cl="console=ttyS0 quiet panic=-1 shale.test=hvc"
	[ "$2" -gt 0 ] && cl="$cl shale.console_bench=$1:$2"
	timeout "$LIMIT" "$SHALE" run --stats --memory 256M --kernel "$D/bzImage" \
		--initrd "$D/initrd.cpio" --cmdline "$cl" --console virtio >"$OUT" 2>"$ERR" </dev/null
	exits=$(sed -n 's/.* exits=\([0-9]*\).*/\1/p' "$ERR" | tail -n 1)
	kibs=
	[ "$2" -gt 0 ] || return 0
	line=$(grep -a '^L2-CONSOLE-BENCH' "$OUT" | tr -d '\r' | head -n 1)
	a=$(echo "$line" | sed -n 's/.* start=\([0-9.]*\).*/\1/p')
	b=$(echo "$line" | sed -n 's/.* end=\([0-9.]*\).*/\1/p')
	if [ -z "$a" ] || [ -z "$b" ] || [ -z "$exits" ]; then
		FAILED=$((FAILED + 1))
		echo "  FAILED: console $1: ${line:-no L2-CONSOLE-BENCH line}"
		tail -n 3 "$ERR" | sed 's/^/    stderr: /'
		return 1
	fi
	kibs=$(calc "$2 / ($b - $a)" %.1f)
	return 0
}

# pv DEPTH: blockread.elf over the whole image with DEPTH requests in
# flight (0: v1 calls). Sets mbs and exits; 1 on failure.
pv() {
	if ! timeout "$LIMIT" "$SHALE" run --stats --memory 64M --disk "$IMG,ro" "$D/blockread.elf" \
		1048576 "$1" >"$OUT" 2>"$ERR" </dev/null || ! grep -q '^bytes ' "$OUT"; then
		FAILED=$((FAILED + 1))
		echo "  FAILED: blockread.elf 1048576 $1"
		tail -n 5 "$OUT" "$ERR" | sed 's/^/    /'
		return 1
	fi
	mbs=$(calc "$(field bytes "$OUT") * 1000 / $(field ns "$OUT")" %.1f)
	exits=$(sed -n 's/.* exits=\([0-9]*\).*/\1/p' "$ERR" | tail -n 1)
	return 0
}

run_bench() {
	D=$1
	SHALE=$D/shale
	QEMU=${BOOT_QEMU:-qemu-system-x86_64}
	MIB=${BENCH_IO_MIB:-256}
	RUNS=${BENCH_IO_RUNS:-5}
	WARMUP=${BENCH_IO_WARMUP:-1}
	LIMIT=${BENCH_IO_TIMEOUT:-300}
	CON_KIB=${BENCH_IO_CONSOLE_KIB:-64}
	LAB=${LAB:-0}
	W=$(mktemp -d "${TMPDIR:-/tmp}/shale-io.XXXXXX") || exit 1
	OUT=$W/out ERR=$W/err TABLE=$W/table IMG=$W/disk.img
	: >"$TABLE"
	FAILED=0
	trap 'rm -rf "$W"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	show_environment
	# Random bytes: nothing in the path can take a shortcut on zeros.
	dd if=/dev/urandom of="$IMG" bs=1M count="$MIB" 2>/dev/null
	IMG_BYTES=$((MIB * 1048576))
	echo "== block I/O: a $MIB MiB image read whole with 1 MiB requests, page cache warm;" \
		"$RUNS rounds (after $WARMUP untimed) of: Linux on shale's virtio-blk, Linux on" \
		"QEMU's virtio-blk, shale's para-virtual guest (v1 calls, queue depth 8)"
	i=0 ok=1 ls= lq= p1= p8= es= e1= e8=
	while [ $i -lt $((WARMUP + RUNS)) ] && [ $ok = 1 ]; do
		i=$((i + 1))
		linux shale || { ok=0; break; }
		[ $i -gt "$WARMUP" ] && ls="$ls $mbs" es="$es $exits"
		linux qemu || { ok=0; break; }
		[ $i -gt "$WARMUP" ] && lq="$lq $mbs"
		pv 0 || { ok=0; break; }
		[ $i -gt "$WARMUP" ] && p1="$p1 $mbs" e1="$e1 $exits"
		pv 8 || { ok=0; break; }
		[ $i -gt "$WARMUP" ] && p8="$p8 $mbs" e8="$e8 $exits"
	done
	if [ $ok = 1 ]; then
		# shellcheck disable=SC2086
		m_ls=$(median $ls) m_lq=$(median $lq) m_p1=$(median $p1) m_p8=$(median $p8)
		# shellcheck disable=SC2086
		m_es=$(median $es) m_e1=$(median $e1) m_e8=$(median $e8)
		echo "  Linux, shale virtio-blk: MB/s$ls -> median $m_ls; VM exits per run:$es"
		echo "  Linux, QEMU virtio-blk:  MB/s$lq -> median $m_lq"
		echo "  para-virtual, v1 calls:  MB/s$p1 -> median $m_p1; VM exits per run:$e1"
		echo "  para-virtual, queue 8:   MB/s$p8 -> median $m_p8; VM exits per run:$e8"
		echo "  shale / QEMU (Linux, virtio-blk): $(calc "$m_ls / $m_lq")x"
		row "Linux block read, virtio-blk" "$m_ls MB/s" "qemu: $m_lq MB/s" \
			"$(calc "$m_ls / $m_lq")x" ">= 1.00x" "$(verdict "$m_ls >= $m_lq")"
		row "para-virtual block read, queue" "$m_p8 MB/s" "Linux virtio-blk: $m_ls MB/s" \
			"$(calc "$m_p8 / $m_ls")x" "(none)" "info"
		row "para-virtual block read, v1 calls" "$m_p1 MB/s" "Linux virtio-blk: $m_ls MB/s" \
			"$(calc "$m_p1 / $m_ls")x" "(none)" "info"
		row "VM exits per MiB, Linux virtio-blk" "$(calc "$m_es / $MIB")" "(boot included)" \
			"-" "(none)" "info"
		row "VM exits per MiB, para-virtual v1" "$(calc "$m_e1 / $MIB")" "queue: $(calc "$m_e8 / $MIB")" \
			"-" "(none)" "info"
	else
		row "Linux block read, virtio-blk" FAILED - - - FAILED
	fi

	echo "== console output: $CON_KIB KiB written by a Linux guest to ttyS0 (the 16550A" \
		"UART: an exit per byte) and to hvc0 (virtio-console); $RUNS rounds after $WARMUP," \
		"exits counted against a run that writes nothing"
	i=0 ok=1 ku= kv= xu= xv=
	while [ $i -lt $((WARMUP + RUNS)) ] && [ $ok = 1 ]; do
		i=$((i + 1))
		con none 0 || { ok=0; break; }
		e0=$exits
		con ttyS0 "$CON_KIB" || { ok=0; break; }
		[ $i -gt "$WARMUP" ] && ku="$ku $kibs" xu="$xu $(calc "($exits - $e0) / $CON_KIB")"
		con hvc0 "$CON_KIB" || { ok=0; break; }
		[ $i -gt "$WARMUP" ] && kv="$kv $kibs" xv="$xv $(calc "($exits - $e0) / $CON_KIB")"
	done
	if [ $ok = 1 ]; then
		# shellcheck disable=SC2086
		m_ku=$(median $ku) m_kv=$(median $kv) m_xu=$(median $xu) m_xv=$(median $xv)
		echo "  ttyS0 (UART):           KiB/s$ku -> median $m_ku; exits per KiB:$xu -> median $m_xu"
		echo "  hvc0 (virtio-console):  KiB/s$kv -> median $m_kv; exits per KiB:$xv -> median $m_xv"
		row "console output, virtio-console" "$m_kv KiB/s" "UART: $m_ku KiB/s" \
			"$(calc "$m_kv / $m_ku")x" "(none)" "info"
		row "VM exits per KiB, console" "hvc0: $m_xv" "UART: $m_xu" "-" "(none)" "info"
	else
		row "console output, virtio-console" FAILED - - - FAILED
	fi
	print_results
	[ "$FAILED" -eq 0 ]
}

if [ "${1:-}" = --run ]; then
	[ $# -eq 2 ] || { echo "usage: io.sh --run DIR" >&2; exit 2; }
	run_bench "$2"
	exit $?
fi

# --- staging and dispatch (bench/io.sh [BUILD_DIR]) --------------------------

BENCH_NAME=io
BENCH_EXTRA=g/examples/blockread.elf
BENCH_KNOBS="BENCH_IO_MIB BENCH_IO_RUNS BENCH_IO_WARMUP BENCH_IO_TIMEOUT BENCH_IO_CONSOLE_KIB"
BENCH_LAB_MEM=${BENCH_IO_LAB_MEM:-3072}
BENCH_MODULES=1
. "$(dirname "$0")/linux-stage.sh"

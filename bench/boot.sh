#!/bin/sh
# The Linux boot benchmark: the same kernel, initramfs and command line
# booted by `shale run --kernel` and by `qemu-system-x86_64 -M microvm`,
# alternating, timed from exec until the guest's /init prints its first line
# (tests/linux/init: "L2-INIT", then it powers off). Also measured: the
# memory of each VMM process and, for shale, the time from exec to the first
# guest instruction. See docs/benchmarks.md ("Linux boot").
#
# usage: bench/boot.sh [BUILD_DIR]   (default: build) stages BUILD_DIR/shale,
#          BUILD_DIR/bench/boottime, the Debian cloud kernel, a busybox
#          initramfs and QEMU's firmware in BUILD_DIR/bench/boot-stage, then
#          runs the measurement directly where Linux guests run (a vmx or
#          svm /dev/kvm: `shale host --kind`, scripts/host-kind.sh),
#          otherwise (pvm, none, ...) in the nested-SVM lab (tests/lab/lab.sh)
#        boot.sh --run DIR           the measurement itself, on DIR as staged
#          (POSIX sh: it runs under busybox in the lab)
#
# Environment (defaults in brackets):
#   BENCH_BOOT_RUNS [5]  timed rounds, after BENCH_BOOT_WARMUP [1] untimed
#     ones; a round boots shale, then QEMU (then the variant below)
#   BENCH_BOOT_CMDLINE ["console=ttyS0 quiet panic=-1"]  for both VMMs
#   BENCH_BOOT_NOCMOS [1]  each round also boots both with
#     initcall_blacklist=cmos_init added (an information row: how much of
#     the difference is the guest's CMOS RTC probe); 0 leaves this out
#   BENCH_BOOT_ROOT [1]  each round also boots both from a virtio root disk
#     (shale.root=vda: an initramfs that loads the virtio drivers, mounts an
#     ext4 image of itself and switches to its /init; QEMU with
#     -M microvm,pcie=on and virtio-blk-pci); 0 leaves this out
#   BENCH_BOOT_MEM [256M]  guest RAM   BENCH_BOOT_TIMEOUT [120]  s per boot
#   BENCH_BOOT_LAB_MEM [2048]  MiB for the lab's L1
#   SHALE_FORCE_LAB=1  use the lab even on a VMX/SVM host
# The output is also kept in BUILD_DIR/bench/boot-results.log.
set -u

# --- the measurement (boot.sh --run DIR) -------------------------------------

# median, calc, field, verdict, row, print_results
. "$(dirname "$0")/lib.sh"


mib() { calc "$1 / 1024" %.1f; }

# boot_one CMD...: one boot, timed by boottime. Sets t (ms to the marker),
# up (the guest's uptime at init, s), rss (peak RSS, KiB), vmm (RSS minus
# guest RAM when the marker came, KiB), and for shale sw and sc (set-up
# wall and CPU time, us). Returns 1, after saying why, when the boot failed.
boot_one() {
	"$BOOTTIME" -t "$LIMIT" -m -o "$OUT" -e "$ERR" L2-INIT -- "$@" >"$RES" 2>"$W/bt.err" </dev/null
	st=$?
	t=$(field time_to_marker_ms "$RES")
	if [ "$st" != 0 ] || [ -z "$t" ] || [ "$t" = -1.000 ] || [ -z "$(field marker_rss_kib "$RES")" ]; then
		FAILED=$((FAILED + 1))
		echo "  FAILED: $*"
		sed 's/^/    /' "$RES" "$W/bt.err"
		[ -s "$OUT" ] && tail -n 10 "$OUT" | sed 's/^/    stdout: /'
		[ -s "$ERR" ] && tail -n 10 "$ERR" | sed 's/^/    stderr: /'
		return 1
	fi
	up=$(sed -n 's/.*L2-INIT uptime=\([0-9.]*\).*/\1/p' "$OUT" | head -n 1)
	rss=$(field maxrss_kib "$RES")
	vmm=$(($(field marker_rss_kib "$RES") - $(field marker_ram_rss_kib "$RES")))
	sw=$(field vmm_setup_wall_us "$RES")
	sc=$(field vmm_setup_cpu_us "$RES")
	steps=$(field vmm_setup_steps "$RES")
	return 0
}

# boot_cfg C: one boot of configuration C: s (shale) or q (QEMU) with the
# command line CMDLINE; sn and qn: the same with initcall_blacklist=cmos_init.
# sr and qr: from the virtio root disk.
boot_cfg() {
	cl=$CMDLINE initrd=$D/initrd.cpio
	case $1 in *n) cl="$CMDLINE initcall_blacklist=cmos_init" ;; esac
	case $1 in *r) cl="$CMDLINE shale.root=vda" initrd=$D/initrd-root.cpio ;; esac
	case $1 in
	sr)
		boot_one "$SHALE" run --stats --memory "$MEM" --kernel "$D/bzImage" \
			--initrd "$initrd" --cmdline "$cl" --disk "$D/root.img" || return 1 ;;
	qr)
		boot_one "$QEMU" -L "$D/fw" -enable-kvm -cpu host -M microvm,pcie=on -m "$MEM" -smp 1 \
			-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-kernel "$D/bzImage" -initrd "$initrd" -append "$cl" \
			-drive "file=$D/root.img,if=none,id=root,format=raw" \
			-device virtio-blk-pci,drive=root || return 1 ;;
	s*)
		boot_one "$SHALE" run --stats --memory "$MEM" --kernel "$D/bzImage" \
			--initrd "$initrd" --cmdline "$cl" || return 1
		if [ -z "$sw" ] || [ -z "$sc" ]; then
			FAILED=$((FAILED + 1))
			echo "  FAILED: shale's --stats line has no usable first_entry_mono_ns and first_entry_cpu_us"
			sed 's/^/    stderr: /' "$ERR" | tail -n 5
			return 1
		fi
		;;
	*) boot_one "$QEMU" -L "$D/fw" -enable-kvm -cpu host -M microvm -m "$MEM" -smp 1 \
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
		-kernel "$D/bzImage" -initrd "$initrd" -append "$cl" || return 1 ;;
	esac
	# The init that printed the marker says where it came from.
	case $1 in *r) want=disk ;; *) want=initramfs ;; esac
	if ! tr -d '\r' <"$OUT" | grep -qx "L2-ROOT $want"; then
		FAILED=$((FAILED + 1))
		echo "  FAILED: $1: the guest's init did not run from the $want"
		grep -a '^L2-' "$OUT" | tail -n 5 | sed 's/^/    stdout: /'
		return 1
	fi
}

# record C: appends the last boot's figures to configuration C's lists
# (t_C, up_C, rss_C, vmm_C, sw_C, sc_C; all numbers).
record() {
	eval "t_$1=\"\${t_$1-} $t\" up_$1=\"\${up_$1-} ${up:-0}\" rss_$1=\"\${rss_$1-} $rss\""
	eval "vmm_$1=\"\${vmm_$1-} $vmm\" sw_$1=\"\${sw_$1-} ${sw:-0}\" sc_$1=\"\${sc_$1-} ${sc:-0}\""
	if [ "$1" = s ] && [ -n "${steps-}" ]; then echo "$steps" >>"$W/steps"; fi
}

# step_medians FILE: lines of "step:us,step:us,..." (shale's set-up steps)
# as "step median, step median, ..." in the order the steps came.
step_medians() {
	awk -F, '
		{
			for (i = 1; i <= NF; i++) {
				split($i, kv, ":")
				if (!(kv[1] in cnt)) order[++n] = kv[1]
				v[kv[1], ++cnt[kv[1]]] = kv[2] + 0
			}
		}
		END {
			for (j = 1; j <= n; j++) {
				k = order[j]
				m = cnt[k]
				for (a = 1; a <= m; a++) s[a] = v[k, a]
				for (a = 2; a <= m; a++) {
					x = s[a]
					for (b = a - 1; b > 0 && s[b] > x; b--) s[b + 1] = s[b]
					s[b + 1] = x
				}
				printf "%s%s %s", (j > 1 ? ", " : ""), k, (m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2)
			}
			print ""
		}' "$1"
}

# lst NAME C: list NAME of configuration C; med NAME C: its median.
lst() { eval "printf '%s' \"\$${1}_$2\""; }
med() { eval "median \$${1}_$2"; }

# show_times C LABEL: the boot times of configuration C.
show_times() {
	printf '  %-6s ms to init%s -> median %s (the guest'"'"'s uptime at init, s:%s -> median %s)\n' \
		"$2:" "$(lst t "$1")" "$(med t "$1")" "$(lst up "$1")" "$(med up "$1")"
}

run_bench() {
	D=$1
	SHALE=$D/shale
	BOOTTIME=$D/boottime
	QEMU=${BOOT_QEMU:-qemu-system-x86_64}
	RUNS=${BENCH_BOOT_RUNS:-5}
	WARMUP=${BENCH_BOOT_WARMUP:-1}
	CMDLINE=${BENCH_BOOT_CMDLINE:-console=ttyS0 quiet panic=-1}
	NOCMOS=${BENCH_BOOT_NOCMOS:-1}
	ROOT=${BENCH_BOOT_ROOT:-1}
	MEM=${BENCH_BOOT_MEM:-256M}
	LIMIT=${BENCH_BOOT_TIMEOUT:-120}
	LAB=${LAB:-0}
	W=$(mktemp -d "${TMPDIR:-/tmp}/shale-boot.XXXXXX") || exit 1
	OUT=$W/out ERR=$W/err RES=$W/res TABLE=$W/table
	: >"$TABLE"
	FAILED=0
	trap 'rm -rf "$W"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	show_environment
	echo "  guest: $MEM RAM, 1 vCPU; QEMU firmware: bios-microvm.bin, linuxboot_dma.bin"

	cfgs="s q"
	what="shale, QEMU"
	if [ "$NOCMOS" = 1 ]; then
		cfgs="$cfgs sn qn"
		what="$what, then both with initcall_blacklist=cmos_init"
	fi
	if [ "$ROOT" = 1 ]; then
		cfgs="$cfgs sr qr"
		what="$what, then both from a virtio root disk"
	fi
	echo "== Linux boot: time from exec to the guest's \"L2-INIT\" line; $RUNS rounds" \
		"(after $WARMUP untimed) of: $what"
	echo "  command line (both): $CMDLINE"
	i=0 ok=1
	while [ $i -lt $((WARMUP + RUNS)) ] && [ $ok = 1 ]; do
		i=$((i + 1))
		for c in $cfgs; do
			if ! boot_cfg "$c"; then
				ok=0
				break
			fi
			if [ $i -gt "$WARMUP" ]; then record "$c"; fi
		done
	done
	if [ $ok = 1 ]; then
		s_t=$(med t s) q_t=$(med t q) s_vmm=$(med vmm s) q_vmm=$(med vmm q)
		s_rss=$(med rss s) q_rss=$(med rss q) s_sw=$(med sw s) s_sc=$(med sc s)
		show_times s shale
		show_times q qemu
		echo "  shale / qemu: $(calc "$s_t / $q_t")x"
		echo "  peak RSS, KiB (wait4, guest RAM included): shale$(lst rss s) -> median $s_rss;" \
			"qemu$(lst rss q) -> median $q_rss"
		echo "  VMM memory, KiB (RSS minus guest RAM, at init): shale$(lst vmm s) -> median" \
			"$s_vmm; qemu$(lst vmm q) -> median $q_vmm"
		echo "  shale set-up, exec to first KVM_RUN: wall us$(lst sw s) -> median $s_sw;" \
			"CPU us$(lst sc s) -> median $s_sc"
		[ -s "$W/steps" ] &&
			echo "  shale set-up steps, CPU us, medians ('start' is everything from exec" \
				"to creating the VM): $(step_medians "$W/steps")"
		row "boot to init" "$(calc "$s_t / 1000") s" "qemu: $(calc "$q_t / 1000") s" \
			"$(calc "$s_t / $q_t")x" "<= 0.80x" "$(verdict "$s_t <= 0.8 * $q_t")"
		row "VMM memory at init" "$(mib "$s_vmm") MiB" "qemu: $(mib "$q_vmm") MiB" \
			"$(calc "$s_vmm / $q_vmm")x" "<= 0.20x" "$(verdict "$s_vmm <= 0.2 * $q_vmm")"
		row "peak RSS with guest RAM" "$(mib "$s_rss") MiB" "qemu: $(mib "$q_rss") MiB" \
			"$(calc "$s_rss / $q_rss")x" "(none)" "info"
		if [ "$LAB" = 1 ]; then
			v_w="n/a (lab)" v_c="n/a (lab)"
		else
			v_w=$(verdict "$s_sw < 2000") v_c=$(verdict "$s_sc < 2000")
		fi
		row "VMM set-up, wall" "$(calc "$s_sw / 1000") ms" "-" "-" "< 2 ms" "$v_w"
		row "VMM set-up, CPU" "$(calc "$s_sc / 1000") ms" "Firecracker spec: 8 ms" \
			"$(calc "$s_sc / 8000")x" "< 2 ms" "$v_c"
		if [ "$NOCMOS" = 1 ]; then
			sn_t=$(med t sn) qn_t=$(med t qn)
			echo "  with initcall_blacklist=cmos_init added:"
			show_times sn shale
			show_times qn qemu
			echo "  shale / qemu: $(calc "$sn_t / $qn_t")x; the CMOS probe costs (difference of" \
				"the medians) shale $(calc "($s_t - $sn_t) / 1000") s, qemu $(calc "($q_t - $qn_t) / 1000") s"
			row "boot to init, no cmos_init" "$(calc "$sn_t / 1000") s" \
				"qemu: $(calc "$qn_t / 1000") s" "$(calc "$sn_t / $qn_t")x" "(none)" "info"
		fi
		if [ "$ROOT" = 1 ]; then
			sr_t=$(med t sr) qr_t=$(med t qr)
			echo "  from a virtio root disk (ext4 on virtio-blk, mounted by an initramfs):"
			show_times sr shale
			show_times qr qemu
			echo "  shale / qemu: $(calc "$sr_t / $qr_t")x"
			row "boot to init, virtio root disk" "$(calc "$sr_t / 1000") s" \
				"qemu: $(calc "$qr_t / 1000") s" "$(calc "$sr_t / $qr_t")x" "<= 0.50x" \
				"$(verdict "$sr_t <= 0.5 * $qr_t")"
		fi
	else
		row "boot to init" FAILED - - - FAILED
	fi

	print_results
	[ "$FAILED" -eq 0 ]
}

if [ "${1:-}" = --run ]; then
	[ $# -eq 2 ] || { echo "usage: boot.sh --run DIR" >&2; exit 2; }
	run_bench "$2"
	exit $?
fi

# --- staging and dispatch (bench/boot.sh [BUILD_DIR]) ------------------------

BENCH_NAME=boot
BENCH_EXTRA=bench/boottime
BENCH_KNOBS="BENCH_BOOT_RUNS BENCH_BOOT_WARMUP BENCH_BOOT_CMDLINE BENCH_BOOT_NOCMOS BENCH_BOOT_ROOT
	BENCH_BOOT_MEM BENCH_BOOT_TIMEOUT"

# The root disk (BENCH_BOOT_ROOT): an initramfs with the virtio drivers, and
# an ext4 image of it marked /.on-disk, made without mounting anything.
stage_root_disk() {
	[ "${BENCH_BOOT_ROOT:-1}" = 1 ] || return 0
	command -v mke2fs >/dev/null 2>&1 || { echo "bench boot: mke2fs (e2fsprogs) is needed for the root disk; BENCH_BOOT_ROOT=0 leaves it out" >&2; return 1; }
	st=$(cd "$1" && pwd) || return 1
	"$top/tests/linux/mkinitrd.sh" "$st/initrd-root.cpio" "$st/initrd-root.md5" "$2" || return 1
	rm -rf "$st/root-tree"
	mkdir -p "$st/root-tree"
	(cd "$st/root-tree" && cpio --quiet -idm <"$st/initrd-root.cpio") || return 1
	touch "$st/root-tree/.on-disk"
	mke2fs -q -F -t ext4 -O ^has_journal,^metadata_csum -d "$st/root-tree" "$st/root.img" 32M >/dev/null ||
		return 1
	rm -rf "$st/root-tree"
}
BENCH_STAGE_EXTRA=stage_root_disk
BENCH_LAB_MEM=${BENCH_BOOT_LAB_MEM:-2048}
. "$(dirname "$0")/linux-stage.sh"

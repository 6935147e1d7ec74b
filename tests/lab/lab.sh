#!/usr/bin/env bash
# The nested-SVM lab: run a payload inside a Linux guest (L1) booted by QEMU in
# software mode (TCG, -cpu max). L1 loads kvm-amd and offers a /dev/kvm with
# nested paging, so programs that need hardware-style KVM run there even on
# hosts without a usable /dev/kvm.
#
# usage: tests/lab/lab.sh [--timeout SECS] [--smp N] [--mem MiB] [--kvm-amd PARAMS]
#                         [--gzip] PAYLOAD_DIR
#        tests/lab/lab.sh --kernels   (prints "BZIMAGE VMLINUX" of the L1 kernel)
#   --timeout  bound on the whole boot (default 600)
#   --smp      L1 CPUs (default 1: boots and runs small KVM programs one after
#              another fastest; above 1, L1 starts lab-keyhold, see below)
#   --mem      L1 memory in MiB (default 1024; L2 guests need room)
#   --kvm-amd  parameters for kvm-amd in L1, blank-separated (e.g. "npt=0";
#              default none: nested paging on)
#   --gzip     compress the initramfs (boots slower here; uncompressed default)
#
# PAYLOAD_DIR is copied to /payload in L1's initramfs (structure and modes
# kept). L1's /init mounts proc, sys, devtmpfs, devpts, tmpfs on /tmp and /run,
# brings up lo, loads irqbypass, kvm, kvm-amd and tun, checks /dev/kvm, prints
# "LAB-READY <uptime>", runs "sh /payload/run.sh" in /payload (stdin /dev/null,
# LAB=1 in the environment), prints "LAB-EXIT <status>" and powers off.
#
# Every dynamically linked ELF file in the payload gets the libraries that
# ldd lists (and the dynamic loader) at the same paths. PAYLOAD_DIR/host-bins,
# if present, lists absolute host paths (one a line, # comments) of extra
# programs to copy in at the same paths, with their libraries.
#
# The console of L1 goes to stdout (CRs stripped). The exit status is the one
# from the LAB-EXIT line, or 125 when the lab itself failed (no /dev/kvm in L1,
# no LAB-EXIT line: hang, crash or timeout). A guest that printed nothing at
# all (a silent early hang) is killed after LAB_BOOT_TIMEOUT seconds (default
# 60) and booted once more.
#
# Environment: LAB_CACHE (default build/lab) holds the unpacked kernel;
# LAB_TSC_KHZ overrides the host TSC rate; LAB_APPEND adds to L1's command
# line; LAB_QEMU_ARGS adds to QEMU's (split on blanks; e.g. a -monitor for
# debugging); LAB_QUIET=1 drops the one-line timing summary on stderr.
set -euo pipefail

prog=${0##*/}
timeout_s=600
smp=1
mem=1024
kvm_amd_params=
compress=none

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 125; }
usage() {
	printf 'usage: %s [--timeout SECS] [--smp N] [--mem MiB] [--kvm-amd PARAMS] [--gzip] PAYLOAD_DIR\n' \
		"$prog" >&2
	exit 2
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
	--timeout=*) timeout_s=${1#*=}; shift ;;
	--smp) [ $# -ge 2 ] || usage; smp=$2; shift 2 ;;
	--smp=*) smp=${1#*=}; shift ;;
	--mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
	--mem=*) mem=${1#*=}; shift ;;
	--kvm-amd) [ $# -ge 2 ] || usage; kvm_amd_params=$2; shift 2 ;;
	--kvm-amd=*) kvm_amd_params=${1#*=}; shift ;;
	--gzip) compress=gzip; shift ;;
	--kernels) print_kernels=1; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
if [ "${print_kernels:-0}" = 1 ]; then set -- /; fi
[ $# -eq 1 ] || usage
payload=$1
if ! is_uint "$timeout_s" || [ "$timeout_s" -eq 0 ]; then die "bad --timeout: $timeout_s"; fi
if ! is_uint "$smp" || [ "$smp" -eq 0 ]; then die "bad --smp: $smp"; fi
if ! is_uint "$mem" || [ "$mem" -lt 128 ]; then die "bad --mem: $mem (at least 128)"; fi
[[ $kvm_amd_params =~ ^[A-Za-z0-9_=,\ -]*$ ]] || die "bad --kvm-amd: $kvm_amd_params"
[ -d "$payload" ] || die "no such payload directory: $payload"
[ "${print_kernels:-0}" = 1 ] || [ -f "$payload/run.sh" ] || die "$payload/run.sh is missing"
boot_timeout=${LAB_BOOT_TIMEOUT:-60}
is_uint "$boot_timeout" || die "bad LAB_BOOT_TIMEOUT: $boot_timeout"

for tool in qemu-system-x86_64 lz4 cpio timeout ldd od dd; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see scripts/lab-deps.txt)"
done

cache=${LAB_CACHE:-build/lab}
mkdir -p "$cache"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab.XXXXXX")
qpid=
# shellcheck disable=SC2317 # called through trap
cleanup() {
	if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- L1 kernel -------------------------------------------------------------

vmlinuz=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n 1)
[ -n "$vmlinuz" ] || die "no /boot/vmlinuz-*-cloud-amd64 (install linux-image-cloud-amd64)"
kver=${vmlinuz#/boot/vmlinuz-}
moddir=/lib/modules/$kver
[ -f "$moddir/modules.dep" ] || die "no $moddir/modules.dep"

# Little-endian unsigned integer of $3 bytes at offset $2 of file $1.
read_le() {
	local v
	v=$(od -An -t "u$3" -j "$2" -N "$3" --endian=little "$1" | tr -d ' ')
	is_uint "$v" || die "cannot read $1 at $2"
	printf '%s\n' "$v"
}

# Unpack the kernel proper (an ELF vmlinux with a PVH note) from the bzImage,
# which microvm boots much faster than the bzImage itself.
extract_vmlinux() {
	local src=$1 out=$2 setup_sects off len start magic size
	[ "$(od -An -c -j 0x202 -N 4 "$src" | tr -d ' ')" = HdrS ] || die "$src is not a bzImage"
	setup_sects=$(read_le "$src" $((0x1f1)) 1)
	[ "$setup_sects" -ne 0 ] || setup_sects=4
	off=$(read_le "$src" $((0x248)) 4)
	len=$(read_le "$src" $((0x24c)) 4)
	start=$(((setup_sects + 1) * 512 + off))
	magic=$(od -An -t x1 -j "$start" -N 6 "$src" | tr -d ' ')
	# All but gzip have the unpacked size appended (4 bytes, little endian).
	case $magic in
	1f8b*) size='' ;;
	*)
		size=$(read_le "$src" $((start + len - 4)) 4)
		len=$((len - 4))
		;;
	esac
	dd if="$src" of="$out.z" bs=64K iflag=skip_bytes,count_bytes skip="$start" count="$len" status=none
	case $magic in
	02214c18*) lz4 -d -q -f "$out.z" "$out" ;;
	1f8b*) gzip -dc <"$out.z" >"$out" ;;
	fd377a585a00) xz -dc <"$out.z" >"$out" ;;
	28b52ffd*) zstd -q -d -c <"$out.z" >"$out" ;;
	425a68*) bzip2 -dc <"$out.z" >"$out" ;;
	*) die "unknown kernel payload compression (magic $magic) in $src" ;;
	esac
	rm -f "$out.z"
	[ "$(od -An -t x1 -N 4 "$out" | tr -d ' ')" = 7f454c46 ] || die "unpacked kernel is not an ELF file"
	[ -z "$size" ] || [ "$(stat -c %s "$out")" -eq "$size" ] || die "unpacked kernel has the wrong size"
}

vmlinux=$cache/vmlinux-$kver
stamp="$vmlinuz $(stat -c '%s %Y' "$vmlinuz")"
if [ ! -f "$vmlinux" ] || [ "$(cat "$vmlinux.src" 2>/dev/null)" != "$stamp" ]; then
	extract_vmlinux "$vmlinuz" "$tmp/vmlinux"
	# Rename into place so that concurrent runs never see a partial file.
	mv -f "$tmp/vmlinux" "$vmlinux.$$"
	mv -f "$vmlinux.$$" "$vmlinux"
	printf '%s\n' "$stamp" >"$vmlinux.src.$$"
	mv -f "$vmlinux.src.$$" "$vmlinux.src"
fi
# --kernels: only name the L1 kernel (bzImage) and its unpacked vmlinux.
if [ "${print_kernels:-0}" = 1 ]; then
	printf '%s %s\n' "$vmlinuz" "$vmlinux"
	exit 0
fi

# ---- host TSC rate ---------------------------------------------------------
# Under TCG the guest TSC ticks at the host rate. Telling L1 the rate avoids
# its PIT calibration, which hangs now and then on microvm.

measure_tsc_khz() {
	command -v gcc >/dev/null 2>&1 || return 1
	cat >"$tmp/tsc.c" <<-'EOF'
		#include <stdio.h>
		#include <time.h>
		#include <x86intrin.h>
		static double now(void)
		{
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
			return ts.tv_sec + ts.tv_nsec / 1e9;
		}
		int main(void)
		{
			double t0 = now(), t1;
			unsigned long long c0 = __rdtsc(), c1;
			do {
				t1 = now();
			} while (t1 - t0 < 0.2);
			c1 = __rdtsc();
			printf("%.0f\n", (c1 - c0) / (t1 - t0) / 1000.0);
			return 0;
		}
	EOF
	gcc -O2 -o "$tmp/tsc" "$tmp/tsc.c" 2>/dev/null && "$tmp/tsc"
}

tsc_khz=${LAB_TSC_KHZ:-}
if [ -z "$tsc_khz" ]; then
	# The refined calibration where the host made one, else the first guess.
	mhz=$(dmesg 2>/dev/null | sed -n \
		-e 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\.[0-9][0-9][0-9]\) MHz.*/2 \1/p' \
		-e 's/.*tsc: Detected \([0-9]*\.[0-9][0-9][0-9]\) MHz.*/1 \1/p' |
		sort -r | head -n 1 | cut -d' ' -f2 || true)
	if [ -n "$mhz" ]; then
		tsc_khz=$((10#${mhz%.*} * 1000 + 10#${mhz#*.}))
	else
		tsc_khz=$(measure_tsc_khz || true)
	fi
fi
tsc_opt=
if is_uint "${tsc_khz:-x}" && [ "$tsc_khz" -gt 0 ]; then
	tsc_opt="tsc_early_khz=$tsc_khz"
else
	printf '%s: warning: host TSC rate unknown; L1 may hang calibrating it\n' "$prog" >&2
fi

# ---- L1 initramfs ----------------------------------------------------------
# Two newc archives, concatenated (the kernel unpacks them in order): a cached
# base (busybox and its links, the kvm modules, /init) and the payload with
# the libraries its programs need.

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (install busybox-static)"

# Copy $1 (a host path) to the same path under root $2, replacing whatever
# is there (possibly a busybox link, which cp would write through).
copy_host_file() {
	local dst=$2$1
	mkdir -p "${dst%/*}"
	rm -f "$dst"
	cp -L --preserve=mode "$1" "$dst"
}

is_elf() { [ "$(od -An -t x1 -N 4 "$1" 2>/dev/null | tr -d ' ')" = 7f454c46 ]; }

declare -A copied_libs=()
# Copy the shared libraries and loader that ELF file $1 needs under root $2.
copy_libs() {
	local out line lib
	is_elf "$1" || return 0
	out=$(ldd "$1" 2>/dev/null) || return 0 # static, foreign or not loadable
	while IFS= read -r line; do
		case $line in
		*'=> not found'*) die "$1 needs ${line%% =>*}, which is not on this host" ;;
		*'=> /'*) lib=${line#*=> } ;;
		*/*) lib=${line#"${line%%/*}"} ;;
		*) continue ;;
		esac
		lib=${lib%% (*}
		if [ -z "${copied_libs[$2$lib]:-}" ]; then
			copied_libs[$2$lib]=1
			copy_host_file "$lib" "$2"
		fi
	done <<<"$out"
}

# kvm-amd and what modules.dep says it needs, dependencies first.
dep_line=$(grep -E '^([^:]*/)?kvm-amd\.ko(\.[a-z]+)?:' "$moddir/modules.dep" || true)
[ -n "$dep_line" ] || die "kvm-amd is not in $moddir/modules.dep"
read -r -a deps <<<"${dep_line#*:}"
mods=("${dep_line%%:*}")
for ((i = 0; i < ${#deps[@]}; i++)); do mods=("${deps[i]}" "${mods[@]}"); done
# tun, for tests that give guests a tap device (it needs no other module).
tun_line=$(grep -E '^([^:]*/)?tun\.ko(\.[a-z]+)?:' "$moddir/modules.dep" || true)
[ -n "$tun_line" ] && mods+=("${tun_line%%:*}")

# L1 with more than one CPU: under multi-threaded TCG, the text patching
# that flips a static key (int3 on the site, IPIs, rewrite) sometimes leaves
# a CPU looping on a stale int3 forever (L1 hangs silently, 1 run in 4 that
# create and destroy VMs in a loop). KVM flips keys when the first VM or vCPU
# comes and the last goes (preempt notifiers, vCPUs without and with an
# in-kernel local APIC), so lab-keyhold creates such VMs once and keeps them
# for the whole run: the keys stay on and are never patched again.
build_keyhold() {
	local cc
	cc=$(command -v gcc || command -v cc || true)
	[ -n "$cc" ] || return 1
	cat >"$tmp/keyhold.c" <<-'EOF'
		#include <fcntl.h>
		#include <linux/kvm.h>
		#include <sys/ioctl.h>
		#include <unistd.h>
		int main(void)
		{
			int kvm = open("/dev/kvm", O_RDWR), a, b;
			if (kvm < 0)
				return 1;
			a = ioctl(kvm, KVM_CREATE_VM, 0);
			if (a < 0 || ioctl(a, KVM_CREATE_VCPU, 0) < 0)
				return 1;
			b = ioctl(kvm, KVM_CREATE_VM, 0);
			if (b < 0 || ioctl(b, KVM_CREATE_IRQCHIP, 0) < 0 ||
			    ioctl(b, KVM_CREATE_VCPU, 0) < 0)
				return 1;
			switch (fork()) {
			case -1:
				return 1;
			case 0:
				setsid();
				for (;;)
					pause();
			default:
				return 0;
			}
		}
	EOF
	"$cc" -O2 -static -o "$1" "$tmp/keyhold.c" 2>/dev/null ||
		"$cc" -O2 -o "$1" "$tmp/keyhold.c"
}

build_base() {
	local root=$1 applet m base insmods=''
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,payload,lib/modules/lab}
	cp -L "$busybox" "$root/bin/busybox"
	chmod 0755 "$root/bin/busybox"
	while IFS= read -r applet; do
		case $applet in
		'' | bin/busybox) continue ;;
		*/*) ;;
		*) applet=bin/$applet ;;
		esac
		mkdir -p "$root/${applet%/*}"
		ln -sf /bin/busybox "$root/$applet"
	done < <("$root/bin/busybox" --list-full)
	copy_libs "$busybox" "$root"
	if build_keyhold "$root/sbin/lab-keyhold"; then
		copy_libs "$root/sbin/lab-keyhold" "$root"
	else
		printf '%s: warning: no C compiler; L1 with --smp above 1 may hang\n' "$prog" >&2
	fi

	for m in "${mods[@]}"; do
		base=${m##*/}
		case $base in
		*.ko) cp "$moddir/$m" "$root/lib/modules/lab/$base" ;;
		*.ko.xz) base=${base%.xz}; xz -dc "$moddir/$m" >"$root/lib/modules/lab/$base" ;;
		*.ko.zst) base=${base%.zst}; zstd -q -dc "$moddir/$m" >"$root/lib/modules/lab/$base" ;;
		*.ko.gz) base=${base%.gz}; gzip -dc "$moddir/$m" >"$root/lib/modules/lab/$base" ;;
		*) die "unknown module file $m" ;;
		esac
		# kvm-amd's parameters come with the payload (/lab/kvm-amd.params).
		case $base in
		kvm-amd.ko) insmods+="load /lib/modules/lab/$base \$(cat /lab/kvm-amd.params 2>/dev/null)"$'\n' ;;
		*) insmods+="load /lib/modules/lab/$base"$'\n' ;;
		esac
	done

	cat >"$root/init" <<-EOF
		#!/bin/sh
		export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		export HOME=/root TERM=dumb LAB=1
		mount -t proc proc /proc
		mount -t sysfs sysfs /sys
		mount -t devtmpfs devtmpfs /dev 2>/dev/null
		mkdir -p /dev/pts /dev/shm
		mount -t devpts devpts /dev/pts
		mount -t tmpfs tmpfs /dev/shm
		mount -t tmpfs tmpfs /tmp
		mount -t tmpfs tmpfs /run
		ip link set lo up
		lab_fail() {
			echo "lab: \$*"
			echo "LAB-EXIT 125"
			poweroff -f
			exit 125
		}
		load() { insmod "\$@" || lab_fail "insmod \$1 failed"; }
		${insmods}[ -c /dev/kvm ] || lab_fail "no /dev/kvm in L1"
		if [ "\$(nproc)" -gt 1 ] && [ -x /sbin/lab-keyhold ]; then
			/sbin/lab-keyhold || lab_fail "lab-keyhold failed"
		fi
		read -r up _ </proc/uptime
		echo "LAB-READY \$up"
		cd /payload
		sh /payload/run.sh </dev/null
		st=\$?
		echo "LAB-EXIT \$st"
		poweroff -f
	EOF
	chmod 0755 "$root/init"
}

# newc archive of directory $1 on stdout, everything owned by root.
mkcpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0)
}

# The base is rebuilt when this script, busybox or the kernel changes.
key=$({
	cksum <"${BASH_SOURCE[0]}"
	stat -L -c '%n %s %Y' "$busybox" "$moddir/modules.dep" "$vmlinuz"
} | cksum | cut -d' ' -f1)
base_cpio=$cache/l1-base-$key.cpio
if [ ! -f "$base_cpio" ]; then
	build_base "$tmp/base"
	mkcpio "$tmp/base" >"$cache/l1-base.$$"
	mv -f "$cache/l1-base.$$" "$base_cpio"
	find "$cache" -maxdepth 1 -name 'l1-base-*.cpio' ! -name "${base_cpio##*/}" -delete
	rm -rf "$tmp/base"
fi

root=$tmp/root
mkdir -p "$root/payload" "$root/lab"
cp -a "$payload/." "$root/payload/"
[ -z "$kvm_amd_params" ] || printf '%s\n' "$kvm_amd_params" >"$root/lab/kvm-amd.params"
if [ -f "$payload/host-bins" ]; then
	while IFS= read -r hb || [ -n "$hb" ]; do
		hb=${hb%%#*}
		hb=${hb//[[:space:]]/}
		[ -n "$hb" ] || continue
		case $hb in /*) ;; *) die "host-bins: not an absolute path: $hb" ;; esac
		[ -f "$hb" ] || die "host-bins: no such file: $hb"
		copy_host_file "$hb" "$root"
		copy_libs "$hb" "$root"
	done <"$payload/host-bins"
fi
while IFS= read -r -d '' f; do
	copy_libs "$f" "$root"
done < <(find "$root/payload" -type f -perm /111 -print0)

initrd=$tmp/l1.cpio
if [ "$compress" = gzip ]; then
	initrd=$initrd.gz
	{ gzip -1 -c "$base_cpio"; mkcpio "$root" | gzip -1; } >"$initrd"
else
	{ cat "$base_cpio"; mkcpio "$root"; } >"$initrd"
fi

# ---- boot ------------------------------------------------------------------

append="console=ttyS0 panic=-1 quiet mitigations=off cryptomgr.notests $tsc_opt tsc=reliable ${LAB_APPEND:-}"
# shellcheck disable=SC2054 # commas belong to QEMU options
qemu=(qemu-system-x86_64 -accel tcg -cpu max,-erms -m "$mem" -smp "$smp" -M microvm
	-nodefaults -no-user-config -nographic -serial stdio -no-reboot
	-kernel "$vmlinux" -initrd "$initrd" -append "$append")
read -r -a extra <<<"${LAB_QEMU_ARGS:-}"
qemu+=("${extra[@]}")

now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# One boot. Streams the console to stdout and records it in $tmp/console.
# Sets: lab_status (from LAB-EXIT, or empty), lab_lines, t_ready, t_end,
# guest_ready.
boot_once() {
	local fifo=$tmp/console.fifo line partial='' t0 rc
	rm -f "$fifo" "$tmp/console"
	mkfifo "$fifo"
	lab_status='' lab_lines=0 t_ready='' guest_ready='' silent=''
	t0=$(now)
	# Now and then L1's CPU stalls in HLT with no timer interrupt to come
	# (seen mid-run, after dozens of boots, once in several long runs): an
	# interrupt wakes it, and leaving idle re-arms its tick. So L1's console
	# gets a byte every few seconds: XON (Ctrl-Q), which L1's tty takes as
	# flow control (IXON) and neither echoes nor queues.
	{ while sleep 5; do printf '\021' || break; done; } |
		timeout -k 5 "$timeout_s" "${qemu[@]}" >"$fifo" &
	qpid=$!
	exec 3<"$fifo"
	while :; do
		if IFS= read -r -t 1 line <&3; then
			line=$partial$line
			partial=''
		else
			rc=$?
			if [ "$rc" -gt 128 ]; then # no full line within a second
				partial+=$line
				if [ "$lab_lines" -eq 0 ] && [ -z "$partial" ] &&
					[ "$(elapsed "$t0" "$(now)" | cut -d. -f1)" -ge "$boot_timeout" ]; then
					printf '%s: guest printed nothing in %ss; killing it\n' "$prog" "$boot_timeout" >&2
					silent=1
					kill "$qpid" 2>/dev/null || true
				fi
				continue
			fi
			line=$partial$line # EOF
			partial=''
			[ -n "$line" ] || break
		fi
		line=${line//$'\r'/}
		lab_lines=$((lab_lines + 1))
		printf '%s\n' "$line"
		printf '%s\n' "$line" >>"$tmp/console"
		if [[ $line =~ ^LAB-READY\ ([0-9.]+)$ ]]; then
			t_ready=$(elapsed "$t0" "$(now)")
			guest_ready=${BASH_REMATCH[1]}
		elif [[ $line =~ LAB-EXIT\ ([0-9]+)$ ]]; then # output may lack its newline
			lab_status=${BASH_REMATCH[1]}
		fi
	done
	exec 3<&-
	rc=0
	wait "$qpid" || rc=$?
	qpid=
	t_end=$(elapsed "$t0" "$(now)")
	qemu_rc=$rc
}

boot_once
if [ -z "$lab_status" ] && [ "$lab_lines" -eq 0 ]; then
	printf '%s: no output from L1 (qemu status %s); booting once more\n' "$prog" "$qemu_rc" >&2
	boot_once
fi

if [ "${LAB_QUIET:-0}" != 1 ]; then
	r=${t_ready:+${t_ready}s} g=${guest_ready:+${guest_ready}s}
	printf '%s: kernel %s, smp %s, mem %s MiB: ready %s (guest %s), total %ss\n' \
		"$prog" "$kver" "$smp" "$mem" "${r:--}" "${g:--}" "$t_end" >&2
fi
if [ -z "$lab_status" ]; then
	if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
		printf '%s: FAIL: timed out after %ss without LAB-EXIT\n' "$prog" "$timeout_s" >&2
	else
		if [ -n "$silent" ]; then
			printf '%s: FAIL: L1 printed nothing in %ss, twice\n' "$prog" "$boot_timeout" >&2
		else
			printf '%s: FAIL: L1 stopped without LAB-EXIT (qemu status %s)\n' "$prog" "$qemu_rc" >&2
		fi
	fi
	exit 125
fi
exit "$lab_status"

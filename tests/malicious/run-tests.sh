#!/bin/sh
# The malicious-guest suite: para-virtual guests that attack shale
# (tests/guests/attack.c). For each attack it checks that the VMM ends the
# VM with the documented status and one report line on stderr (or answers
# every bad request with an error and the guest exits 0), stays within
# its time and memory bounds, that a second VM started beside it computes
# what it computes natively, that a VM running under its own VMM through
# the whole suite keeps running, and that no file outside the attacker's
# own (its disk, console log and exit file) changes: a canary directory
# and a read-only disk are compared byte for byte before and after.
#
# usage: run-tests.sh SHALE GUEST_DIR
#   GUEST_DIR holds attack.elf, misbehave.elf, compute.elf, compute-native,
#   ctl and stallpty. COMPUTE_N sets the bystander's work (default
#   200000000, about 0.35 s on a PVM host).
set -u
SHALE=$1
G=$2
. "$(dirname "$0")/lib.sh"
W=$(mktemp -d)
A=$G/attack.elf
C=$G/ctl
N=${COMPUTE_N:-200000000}
BY_PID=
cleanup() {
	[ -n "$BY_PID" ] && kill -KILL "$BY_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

native=$("$G/compute-native" "$N" | sed -n 's/^result \([0-9a-fx]*\).*/\1/p')

# --- the files an attacker must not change ------------------------------------
# $W/canary: files of the host's; $W/vm: the attacker's directory, whose
# own files are disk.img, console.log*, exit.json and ctl; ro.img is
# attached read-only and must not change either.
mkdir -p "$W/canary/sub" "$W/vm"
echo "SHALE-CANARY host secret $$" >"$W/canary/secret.txt"
dd if=/dev/zero bs=1k count=64 2>/dev/null | tr '\000' 'c' >"$W/canary/sub/data.bin"
ln -s ../secret.txt "$W/canary/sub/link"
echo "SHALE-CANARY beside the disk" >"$W/vm/neighbour.txt"
# The disk: 4 MiB of zeros, then 100 bytes past the last whole sector that
# the guest never sees.
mkdisk() {
	dd if=/dev/zero of="$1" bs=1M count=4 2>/dev/null
	printf '%0100d' 0 | tr 0 T >>"$1"
}
mkdisk "$W/disk.tmpl"
tail -c 100 "$W/disk.tmpl" >"$W/tail.tmpl"
mkdisk "$W/vm/ro.img"
cp "$W/vm/ro.img" "$W/ro.orig"
# Everything but the attacker's own files, with contents.
sums() {
	(cd "$W" && find canary vm -type f ! -name disk.img ! -name 'console.log*' \
		! -name exit.json ! -name 'exit.json.tmp' | sort | xargs md5sum;
	 find canary vm -type l | sort | while read -r l; do echo "$l -> $(readlink "$l")"; done)
}
sums >"$W/sums.before"

# --- a VM that runs through the whole suite under its own VMM --------------------
mkdir -p "$W/by"
"$SHALE" run --control "$W/by/ctl" --console-log "$W/by/console.log" \
	"$G/misbehave.elf" count >/dev/null 2>"$W/by/stderr" </dev/null &
BY_PID=$!
"$C" -w 10000 "$W/by/ctl" >/dev/null || echo "bystander: control socket never accepted"
BY_START=$(date +%s)

# --- one attack -----------------------------------------------------------------
# reports FILE: shale's lines in FILE, without the warning that the disk
# has bytes past its last whole sector (this suite's disks do, on purpose).
reports() {
	grep '^shale: ' "$1" | grep -v 'size is not a multiple of 512'
}
size_of() { wc -c <"$1" | tr -d ' '; }
# stat_of FIELD FILE: a counter of a `stats` reply.
stat_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2" | head -n 1; }

# attack NAME STATUS REPORT [RUN OPTIONS] MODE [ARGS]: runs the attacker
# (bounded by T_LIMIT seconds, default 60) with a fresh disk.img beside a
# compute VM, and checks everything said above. REPORT: an extended
# regular expression the one line on stderr must match ('' for none: the
# guest exits by itself and must print "0 failures" or nothing wrong).
# RSS_MAX (KiB) bounds the VMM's peak RSS (default 48 MiB over RAM);
# TMPL names the disk's template (default $W/disk.tmpl), WRAP a command to
# run shale under, OUT where its stdout goes (default $T_OUT).
attack() {
	name=$1 want=$2 re=$3
	shift 3
	why=
	cp "${TMPL:-$W/disk.tmpl}" "$W/vm/disk.img"
	rm -f "$W/vm/exit.json" "$W/vm/console.log" "$W/vm/console.log.1"
	"$SHALE" run "$G/compute.elf" -- "$N" >"$W/compute.out" 2>&1 </dev/null &
	cpid=$!
	t0=$(date +%s)
	# shellcheck disable=SC2086 # WRAP is a command, or nothing
	timeout -s KILL "${T_LIMIT:-60}" ${WRAP:-} "$SHALE" run --stats \
		--exit-file "$W/vm/exit.json" "$@" >"${OUT:-$T_OUT}" 2>"$T_ERR" </dev/null
	got=$?
	t1=$(date +%s)
	wait "$cpid"
	cst=$?
	reports=$(reports "$T_ERR" | grep -c .)
	rss=$(sed -n 's/.*peak_rss_kib=\([0-9]*\).*/\1/p' "$T_ERR")
	mem=$(echo " $* " | sed -n 's/.* --memory \([0-9]*\)M .*/\1/p')
	rss_max=${RSS_MAX:-$(((${mem:-64} + 48) * 1024))}
	sums >"$W/sums.after"
	if [ "$got" != "$want" ]; then
		why="exit status $got, want $want"
	elif [ -n "$re" ] && [ "$reports" != 1 ]; then
		why="$reports report lines on stderr, want 1"
	elif [ -n "$re" ] && ! reports "$T_ERR" | grep -Eq -- "$re"; then
		why="the report does not match /$re/"
	elif [ -z "$re" ] && [ "$reports" != 0 ]; then
		why="$reports report lines on stderr, want none"
	elif [ -z "$re" ] && grep -q 'failures' "$T_OUT" && ! grep -q ' 0 failures$' "$T_OUT"; then
		why="the guest counted failures"
	elif [ -z "$rss" ] || [ "$rss" -gt "$rss_max" ]; then
		why="VMM peak RSS ${rss:-?} KiB, limit $rss_max KiB"
	elif [ "$cst" != 0 ] || ! grep -q "^result $native " "$W/compute.out"; then
		why="the VM beside it: status $cst, $(head -c 200 "$W/compute.out")"
	elif ! cmp -s "$W/sums.before" "$W/sums.after"; then
		why="files outside the VM's own changed: $(diff "$W/sums.before" "$W/sums.after" | head -n 4 | tr '\n' ' ')"
	elif [ "$(size_of "$W/vm/disk.img")" != "$(size_of "$W/disk.tmpl")" ]; then
		why="disk.img is $(size_of "$W/vm/disk.img") bytes, was $(size_of "$W/disk.tmpl")"
	elif ! tail -c 100 "$W/vm/disk.img" | cmp -s - "$W/tail.tmpl"; then
		why="the bytes of disk.img past its last sector changed"
	elif ! "$C" "$W/by/ctl" '{"op":"info"}' | grep -q '"state":"running"'; then
		why="the VM running beside the suite does not answer as running"
	fi
	if [ -n "$why" ]; then
		fail "$name" "$why ($((t1 - t0)) s)"
	else
		ok "$name"
	fi
}

DISK=$W/vm/disk.img
crash() { # MODE REPORT [ARGS]
	m=$1 re=$2
	shift 2
	attack "$m" 126 "^shale: guest crashed: $re" "$A" "$m" "$@"
}

# --- wild guest addresses and lengths in every call that takes a buffer ----------
attack hc-wild 0 '' --disk "$DISK" "$A" hc-wild
attack hc-struct-straddle 126 '^shale: guest crashed: hypercall console_write: argument struct at 0x[0-9a-f]+ is not in guest-writable memory$' \
	"$A" hc-struct-straddle
# The second of 64 hypercalls in one rep outsl stops the VM; the 62 after
# it do not run, however many of them KVM hands over in one exit.
attack hc-rep-crash 126 '^shale: guest crashed: hypercall console_write: argument struct at 0x0 is not in guest-writable memory$' \
	"$A" hc-rep-crash
n=$(grep -c '^attack: rep console write$' "$T_OUT")
if [ "$n" = 1 ]; then ok hc-rep-crash-nothing-after; else fail hc-rep-crash-nothing-after "$n console writes ran, want 1"; fi

# The network's calls and queue too, on a tap in a network namespace.
IP=${IP:-ip}
ns=shale-m$$
if ! command -v "$IP" >/dev/null 2>&1 || ! "$IP" netns add "$ns" 2>/dev/null; then
	skip net-wild "cannot create a network namespace (needs root and iproute2)"
else
	"$IP" netns exec "$ns" "$IP" tuntap add dev tap0 mode tap
	"$IP" netns exec "$ns" "$IP" link set tap0 up
	WRAP="$IP netns exec $ns" attack net-hc-wild 0 '' --disk "$DISK" --net tap=tap0 "$A" hc-wild
	WRAP="$IP netns exec $ns" attack net-queue-wild 0 '' --disk "$DISK" --net tap=tap0 "$A" queue-wild
	"$IP" netns del "$ns"
fi

# --- the I/O queues ----------------------------------------------------------------
attack queue-wild 0 '' --disk "$DISK" "$A" queue-wild
attack queue-race 0 '' --disk "$DISK" "$A" queue-race 200
attack queue-backwards 126 "^shale: guest crashed: block queue: sq_tail is 0, 4294967295 past the VMM's sq_head 1 in a queue of 16$" \
	--disk "$DISK" "$A" queue-backwards
attack queue-shared 0 '' --disk "$DISK" "$A" queue-shared
# A block read whose data lands on its own ring's indices: the first page
# of this disk is all 'A' (0x41414141).
cp "$W/disk.tmpl" "$W/disk.self"
dd if=/dev/zero bs=4096 count=1 2>/dev/null | tr '\000' 'A' |
	dd of="$W/disk.self" conv=notrunc 2>/dev/null
TMPL=$W/disk.self attack queue-self 126 "^shale: guest crashed: block queue: sq_tail is 1094795585, 1094795584 past the VMM's sq_head 1 in a queue of 16$" \
	--disk "$DISK" "$A" queue-self

# A queue the guest filled and never consumes: the VMM sleeps, it does not
# spin. The VMM's CPU time over 2 s of the guest's sleep stays under 5%.
mkdir -p "$W/stall"
"$SHALE" run --control "$W/stall/ctl" "$A" queue-stall 5 >"$W/stall/out" 2>&1 </dev/null &
spid=$!
"$C" -w 10000 "$W/stall/ctl" >/dev/null
sleep 0.5
"$C" "$W/stall/ctl" '{"op":"stats"}' >"$W/stall/s1"
sleep 2
"$C" "$W/stall/ctl" '{"op":"stats"}' >"$W/stall/s2"
wait "$spid"
sst=$?
c1=$(stat_of cpu_ns "$W/stall/s1") c2=$(stat_of cpu_ns "$W/stall/s2")
if [ "$sst" = 0 ] && [ -n "$c1" ] && [ -n "$c2" ] && [ $((c2 - c1)) -lt 100000000 ] &&
	grep -q 'queue-stall: .* 0 failures' "$W/stall/out"; then
	ok queue-stall-no-spin
else
	fail queue-stall-no-spin "status $sst, VMM CPU ${c1:-?} -> ${c2:-?} ns over 2 s"
fi

# --- exit storms: the VMM keeps answering, and does not grow -------------------------
# storm MODE: 15 s of exits; four `stats` through the control socket,
# each answered within 5 s (ctl itself waits 1 s for the VMM to close the
# connection after the reply; the host may be busy with other work), then
# a pause and a resume; RSS at the first and the last sample within 512
# KiB; the hypercalls counted keep growing.
storm() {
	sname=$1
	d=$W/storm
	rm -rf "$d"
	mkdir -p "$d"
	"$SHALE" run --control "$d/ctl" "$A" "$1" 15 >"$T_OUT" 2>"$T_ERR" </dev/null &
	spid=$!
	# A VMM that does not end is killed after 60 s and fails below.
	(sleep 60; kill -KILL "$spid" 2>/dev/null) &
	wd=$!
	"$C" -w 10000 "$d/ctl" >/dev/null
	"$SHALE" run "$G/compute.elf" -- "$N" >"$W/compute.out" 2>&1 </dev/null &
	cpid=$!
	sleep 1
	why=
	i=0
	while [ $i -lt 4 ]; do
		if ! timeout 5 "$C" "$d/ctl" '{"op":"stats"}' >"$d/s$i" || ! grep -q '"ok":true' "$d/s$i"; then
			why="stats $i got no answer within 5 s"
			break
		fi
		i=$((i + 1))
		sleep 0.5
	done
	# And it pauses and resumes the storming VM at once.
	if [ -z "$why" ]; then
		timeout 5 "$C" "$d/ctl" '{"op":"pause"}' '{"op":"resume"}' >"$d/pr"
		if [ "$(grep -Ec '^\{"ok":true,"state":"(paused|running)"\}$' "$d/pr")" != 2 ]; then
			why="pause and resume: $(tr '\n' ' ' <"$d/pr")"
		fi
	fi
	wait "$spid"
	sst=$?
	kill "$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	wait "$cpid"
	cst=$?
	if [ -z "$why" ]; then
		r0=$(stat_of rss_bytes "$d/s0") r3=$(stat_of rss_bytes "$d/s3")
		h0=$(stat_of hypercall "$d/s0") h3=$(stat_of hypercall "$d/s3")
		# Notifies end in the kernel (ioeventfd), where KVM has one: not counted.
		[ "$1" = storm-notify ] && h3=$((h0 + 1))
		if [ "$sst" != 0 ] || ! grep -q "^attack: $1: [0-9]* exits" "$T_OUT" ||
			grep -q '^shale: ' "$T_ERR"; then
			why="status $sst"
		elif [ $((r3 - r0)) -gt 524288 ]; then
			why="the VMM grew from $r0 to $r3 bytes during the storm"
		elif [ "$h3" -le "$h0" ]; then
			why="hypercalls counted did not grow ($h0 -> $h3)"
		elif [ "$cst" != 0 ] || ! grep -q "^result $native " "$W/compute.out"; then
			why="the VM beside it: status $cst"
		fi
	fi
	if [ -n "$why" ]; then fail "$sname" "$why"; else ok "$sname"; fi
}
storm storm-nop
storm storm-rep
storm storm-notify
storm storm-poll
# A refused port access ends the VM at the first one: there is no storm of them.
attack storm-refused-port 126 '^shale: guest crashed: outl to I/O port 0x80 at rip 0x[0-9a-f]+: the guest may use only the hypercall ports' \
	"$G/misbehave.elf" port

# --- console floods -------------------------------------------------------------------
# 2 GiB through the console queue and 1 GiB by hypercalls into the log:
# the log stays two files of at most 1 MiB, and the last line is there.
flood_log() { # NAME MODE MIB
	attack "$1" 0 '' --console-log "$W/vm/console.log" "$A" "$2" "$3"
	files=$(find "$W/vm" -name 'console.log*' | wc -l | tr -d ' ')
	s0=$(size_of "$W/vm/console.log" 2>/dev/null || echo 0)
	s1=$(size_of "$W/vm/console.log.1" 2>/dev/null || echo 0)
	if [ "$files" = 2 ] && [ "$s0" -le 1048576 ] && [ "$s1" = 1048576 ] &&
		grep -q "^attack: $2: $3 MiB written$" "$W/vm/console.log"; then
		ok "$1-log-bounded"
	else
		fail "$1-log-bounded" "$files log files, $s0 and $s1 bytes"
	fi
}
flood_log flood-queue flood-queue "${FLOOD_MIB:-2048}"
flood_log flood-hc flood-hc "${FLOOD_HC_MIB:-1024}"
# To a terminal that nobody reads, and to a pipe nobody reads: the guest
# waits, the VMM does not; --timeout still ends it.
WRAP=$G/stallpty attack flood-terminal 124 '^shale: timeout: the guest ran for 2s; VM stopped$' \
	--timeout 2s "$A" flood-hc 100000
mkfifo "$W/fifo"
exec 5<>"$W/fifo"
OUT=$W/fifo attack flood-pipe 124 '^shale: timeout: the guest ran for 2s; VM stopped$' \
	--timeout 2s "$A" flood-queue 100000
exec 5>&-

# --- exceptions, and the CPU's tables ------------------------------------------------
# The ABI gives the guest no exception handler: the first fault ends the VM.
crash exc-storm 'vector 6, invalid opcode \(#UD\) at rip 0x[0-9a-f]+, error code 0x0, rsp 0x[0-9a-f]+$'
crash exc-bad-rsp 'vector 6, invalid opcode \(#UD\) at rip 0x[0-9a-f]+, error code 0x0, rsp 0x0$'
# A push to a non-canonical address: #SS by the SDM (PVM), #GP in QEMU's CPU (the lab).
crash exc-noncanon-rsp 'vector 1[23], (stack fault \(#SS\)|general protection fault \(#GP\)) at rip 0x[0-9a-f]+, error code 0x0, rsp 0x8000000000000000$'
crash exc-tf 'vector 1, debug exception \(#DB\) at rip'
for t in gdt:0x2000 tss:0x2168 idt:0x3000 stubs:0x4000 xstack:0x6ff8 pt:0xe000; do
	crash "sys-${t%%:*}" "vector 14, page fault \(#PF\) at rip 0x[0-9a-f]+, address ${t#*:}, error code 0x7,"
done
crash sys-lidt 'vector 13, general protection fault \(#GP\)'
crash sys-ltr 'vector 13, general protection fault \(#GP\)'

# --- memory ---------------------------------------------------------------------------
attack mem-touch 0 '' --memory 256M "$A" mem-touch
if grep -Eq '^attack: mem-touch: 25[0-9] MiB touched of 256$' "$T_OUT"; then ok mem-touch-all; else fail mem-touch-all "$(cat "$T_OUT")"; fi
attack mem-malloc 0 '' --memory 128M "$A" mem-malloc
if grep -q 'MiB allocated, then none$' "$T_OUT"; then ok mem-malloc-none-left; else fail mem-malloc-none-left "$(cat "$T_OUT")"; fi
expect mem-more-than-allowed 125 '' 'memory' "$SHALE" run --memory 8G "$A" mem-touch

# --- the disk ---------------------------------------------------------------------------
# Out of bounds, wrapping, huge: refused; the last sector is written; the
# 100 bytes past it, the file's size and everything beside it unchanged.
attack disk-bounds 0 '' --disk "$DISK" "$A" disk-bounds
dd if=/dev/zero bs=512 count=8191 2>/dev/null >"$W/disk.want"
dd if=/dev/zero bs=512 count=1 2>/dev/null | tr '\000' Z >>"$W/disk.want"
cat "$W/tail.tmpl" >>"$W/disk.want"
if cmp -s "$W/vm/disk.img" "$W/disk.want"; then ok disk-bounds-contents; else fail disk-bounds-contents "disk.img is not zeros, one sector of Z, the tail"; fi
attack disk-bounds-ro 0 '' --disk "$W/vm/ro.img,ro" "$A" disk-bounds ro
if cmp -s "$W/vm/ro.img" "$W/ro.orig"; then ok disk-readonly-identical; else fail disk-readonly-identical "ro.img changed"; fi

# --- the VM that ran beside all of them -------------------------------------------------
"$C" "$W/by/ctl" '{"op":"stats"}' >"$W/by/stats"
ticks=$(grep -c '^tick ' "$W/by/console.log")
secs=$(($(date +%s) - BY_START))
# A tick every 10 ms plus a hypercall's time: at least one per 50 ms.
if [ "$ticks" -ge $((secs * 20)) ] && grep -q '"ok":true' "$W/by/stats"; then
	ok bystander-progress
else
	fail bystander-progress "$ticks ticks in $secs s"
fi
"$C" "$W/by/ctl" '{"op":"kill"}' >/dev/null
wait "$BY_PID"
bst=$?
BY_PID=
if [ "$bst" = 137 ] && [ "$(grep -vc 'killed through the control socket' "$W/by/stderr")" = 0 ]; then
	ok bystander-unaffected
else
	fail bystander-unaffected "status $bst: $(cat "$W/by/stderr")"
fi
sums >"$W/sums.after"
if cmp -s "$W/sums.before" "$W/sums.after"; then ok canary-unchanged; else fail canary-unchanged "$(diff "$W/sums.before" "$W/sums.after" | head -n 5)"; fi

summary

#!/bin/sh
# Integration tests that run guests: they need a usable /dev/kvm. Run
# directly on a KVM host, or inside the lab (tests/lab/lab.sh) elsewhere.
#
# usage: run-tests.sh SHALE GUEST_DIR
#   GUEST_DIR holds the example and test guests (*.elf), compute-native and
#   udp_echo_client.
set -u
SHALE=$1
G=$2
. "$(dirname "$0")/lib.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# --- examples ---------------------------------------------------------------
expect hello 0 '^Hello from a shale guest!$' '' "$SHALE" run "$G/hello.elf"
expect default-guest 0 'shale' '' "$SHALE" run
expect echo-args 0 '^a b c$' '' "$SHALE" run "$G/echo.elf" -- a b c
expect echo-spaces 0 '^one two words$' '' "$SHALE" run "$G/echo.elf" one 'two words'
# --stats: memory, timing and the CPU time of each set-up step.
expect stats 0 'Hello' '^shale-stats: guest_ram_touched_kib=[0-9]+ peak_rss_kib=[0-9]+ wall_us=[0-9]+ first_entry_mono_ns=[1-9][0-9]* first_entry_cpu_us=[1-9][0-9]* setup_cpu_us=start:[0-9]+,kvm:[0-9]+,memory:[0-9]+,load:[0-9]+,sandbox:[0-9]+,enter:[0-9]+ exits=[1-9][0-9]*$' \
	"$SHALE" run --stats "$G/hello.elf"
expect memory-4g 0 'Hello' '' "$SHALE" run --memory 4G "$G/hello.elf"
expect memory-4m 0 'Hello' '' "$SHALE" run --memory 4M "$G/hello.elf"

# compute: the guest computes what the same code computes natively.
native=$("$G/compute-native" 20000000 | sed -n 's/^result \([0-9a-fx]*\).*/\1/p')
expect compute 0 "^result $native " '' "$SHALE" run "$G/compute.elf" -- 20000000

# --- block ------------------------------------------------------------------
disk=$W/disk.img
dd if=/dev/zero of="$disk" bs=1M count=4 2>/dev/null
# FNV-1a 64 of 4 MiB of zero bytes, computed by the guest and compared to
# the value the same example prints for a known image.
expect block-checksum 0 '^checksum [0-9a-f]{16}$' '' "$SHALE" run --disk "$disk" "$G/block.elf"
sum_zero=$(sed -n 's/^checksum //p' "$T_OUT")
expect block-fill 0 '^verified' '' "$SHALE" run --disk "$disk" "$G/block.elf" -- fill 171
dd if=/dev/zero bs=1M count=4 2>/dev/null | tr '\000' '\253' >"$W/expect.img"
if cmp -s "$disk" "$W/expect.img"; then ok block-fill-reached-disk; else fail block-fill-reached-disk "disk content differs"; fi
expect block-checksum-changed 0 '^checksum [0-9a-f]{16}$' '' "$SHALE" run --disk "$disk" "$G/block.elf"
if [ "$(sed -n 's/^checksum //p' "$T_OUT")" != "$sum_zero" ]; then ok block-checksum-differs; else fail block-checksum-differs "same checksum after fill"; fi
cp "$disk" "$W/before.img"
expect block-readonly 1 '' '' "$SHALE" run --disk "$disk,ro" "$G/block.elf" -- fill 1
if cmp -s "$disk" "$W/before.img"; then ok block-readonly-untouched; else fail block-readonly-untouched "read-only disk changed"; fi
expect block-none 2 '' '' "$SHALE" run "$G/block.elf"
expect abi-check 0 '0 failures' '' "$SHALE" run --disk "$disk" "$G/abi_check.elf"

# --- I/O queues (ABI v2) ------------------------------------------------------
qdisk=$W/queue.img
dd if=/dev/zero of="$qdisk" bs=1M count=16 2>/dev/null
expect queue-check 0 '^queue_check: 0 failures' '' "$SHALE" run --disk "$qdisk" "$G/queue_check.elf"
if grep -q '^queue_check: console through its queue$' "$T_OUT"; then ok queue-console; else fail queue-console "no console line from the console queue"; fi
# What the writes put on the disk: page i is all 0x40 + i; the write from
# read-only guest memory reached 8 MiB.
want=$(i=0; while [ $i -lt 64 ]; do printf '%02x' $((0x40 + i)); i=$((i + 1)); done)
got=$(i=0; while [ $i -lt 64 ]; do dd if="$qdisk" bs=4096 skip=$i count=1 2>/dev/null | od -An -tx1 -N1 | tr -d ' \n'; i=$((i + 1)); done)
if [ "$got" = "$want" ]; then ok queue-writes-reached-disk; else fail queue-writes-reached-disk "first bytes of the 64 pages: $got"; fi
expect queue-corrupt-sq 126 '' "guest crashed: block queue: sq_tail is [0-9]+, 5000 past the VMM's sq_head" \
	"$SHALE" run --disk "$qdisk" "$G/queue_check.elf" corrupt-sq
expect queue-corrupt-cq 126 '' "guest crashed: block queue: cq_head is [0-9]+, past the VMM's cq_tail" \
	"$SHALE" run --disk "$qdisk" "$G/queue_check.elf" corrupt-cq
cp "$qdisk" "$W/q-before.img"
expect queue-readonly 0 '' '' "$SHALE" run --disk "$qdisk,ro" "$G/blockread.elf" -- 65536 8
if cmp -s "$qdisk" "$W/q-before.img"; then ok queue-readonly-untouched; else fail queue-readonly-untouched "read-only disk changed"; fi
# blockread through the queue at several depths reads the whole disk.
for depth in 1 8 64; do
	expect "queue-blockread-depth-$depth" 0 '^bytes 16777216 requests 256 ns [0-9]+' '' \
		"$SHALE" run --memory 64M --disk "$qdisk" "$G/blockread.elf" -- 65536 $depth
done

# A disk in use by a running VM is refused.
"$SHALE" run --timeout 5s --disk "$disk" "$G/misbehave.elf" sleep >/dev/null 2>&1 &
holder=$!
sleep 1
expect disk-locked 125 '' 'in use' "$SHALE" run --disk "$disk" "$G/hello.elf"
kill -TERM "$holder" 2>/dev/null
wait "$holder"

# check NAME FILE ERE: ok if FILE matches ERE.
check() {
	if grep -Eq -- "$3" "$2"; then ok "$1"; else fail "$1" "$(head -c 600 "$2") does not match /$3/"; fi
}

# --- the sandbox (docs/security.md) -----------------------------------------
# SHALE_SANDBOX_TEST makes the VMM do, right after it is sandboxed, what the
# sandbox must stop. SIGSYS is signal 31: status 159. Sanitizer builds have
# no seccomp and no jail; a host may allow no jail.
SB="$W/sb"
mkdir -p "$SB"
expect sandbox-state 0 'Hello' '^sandbox-test: uid=[0-9]+ gid=[0-9]+ groups=[0-9]+ nnp=1 core=0 nofile=[0-9]+ jail=(landlock|mount|no) netns=[0-9]+ seccomp=(yes|no)$' \
	env SHALE_SANDBOX_TEST=state "$SHALE" run "$G/hello.elf"
nofile=$(sed -n 's/.* nofile=\([0-9]*\) .*/\1/p' "$T_ERR")
if [ -n "$nofile" ] && [ "$nofile" -le 4096 ]; then ok sandbox-nofile-limited; else fail sandbox-nofile-limited "RLIMIT_NOFILE ${nofile:-?}"; fi
sb_jail=$(sed -n 's/.* jail=\([a-z]*\) .*/\1/p' "$T_ERR")
sb_seccomp=$(sed -n 's/.* seccomp=\([a-z]*\)$/\1/p' "$T_ERR")
# As root the jail joins one empty network namespace that every VMM shares
# (/run/shale/netns), not the host's.
sb_netns=$(sed -n 's/.* netns=\([0-9]*\) .*/\1/p' "$T_ERR")
host_netns=$(stat -L -c %i /proc/self/ns/net 2>/dev/null)
if [ "$sb_jail" = no ] || [ "$(id -u)" != 0 ]; then
	skip sandbox-netns-shared "no jail, or not root: $(sed -n 1p "$T_ERR")"
elif [ "$sb_netns" = "$(stat -L -c %i /run/shale/netns 2>/dev/null)" ] && [ "$sb_netns" != "$host_netns" ]; then
	ok sandbox-netns-shared
else
	fail sandbox-netns-shared "VMM netns $sb_netns, /run/shale/netns $(stat -L -c %i /run/shale/netns 2>&1), host $host_netns"
fi
if [ "$sb_seccomp" = yes ]; then
	expect sandbox-syscall-killed 159 '' '^sandbox-test: socket\(AF_INET\) after the sandbox$' \
		env SHALE_SANDBOX_TEST=syscall "$SHALE" run "$G/hello.elf"
	if grep -q 'not killed' "$T_ERR"; then fail sandbox-syscall-not-returned "socket() returned"; else ok sandbox-syscall-not-returned; fi
	expect sandbox-vcpu-killed 159 '' '^sandbox-test: accept4\(\) on a vCPU thread$' \
		env SHALE_SANDBOX_TEST=vcpu "$SHALE" run "$G/hello.elf"
else
	skip sandbox-seccomp "no seccomp in this build (sanitizers)"
fi
# Through a directory the sandbox lets it open files in, an absolute path
# and a relative one that climbs out of it: Landlock refuses both (EACCES);
# the mount-namespace jail has no /etc, and its root is as far as '..'
# goes from a directory bound into it (ENOENT). The default jail first,
# then the other one where the host has Landlock.
open_refused() { # NAME KIND ERROR
	if grep -q "^sandbox-test: open /etc/hostname: $3 (jail: $2)\$" "$T_ERR" &&
		grep -q "^sandbox-test: open \(\.\./\)*etc/hostname: $3 (jail: $2)\$" "$T_ERR"; then
		ok "$1"
	else
		fail "$1" "the host file could be opened: $(cat "$T_ERR")"
	fi
}
expect sandbox-open-host-file 0 '' '' \
	env SHALE_SANDBOX_TEST=open "$SHALE" run --console-log "$SB/c.log" --exit-file "$SB/x.json" \
	--control "$SB/ctl" "$G/hello.elf"
case $sb_jail in
landlock) open_refused sandbox-open-fails landlock 'Permission denied' ;;
mount) open_refused sandbox-open-fails mount 'No such file or directory' ;;
*) skip sandbox-open-fails "no jail (host or sanitizer build): $(cat "$T_ERR")" ;;
esac
if [ "$sb_jail" = landlock ]; then
	expect sandbox-open-host-file-mount 0 '' '' \
		env SHALE_SANDBOX_TEST=open "$SHALE" run --jail mount --console-log "$SB/m.log" \
		--exit-file "$SB/m.json" --control "$SB/mctl" "$G/hello.elf"
	open_refused sandbox-open-fails-mount mount 'No such file or directory'
	check sandbox-mount-console-log "$SB/m.log" '^Hello'
	check sandbox-mount-exit-file "$SB/m.json" '^\{"reason":"exit","status":0,'
elif [ "$sb_jail" = mount ]; then
	expect sandbox-jail-landlock-absent 125 '' 'Landlock jail: this kernel has no Landlock' \
		"$SHALE" run --jail landlock "$G/hello.elf"
fi
expect sandbox-jail-bad 125 '' "want auto, landlock or mount, not 'chroot'" \
	"$SHALE" run --jail chroot "$G/hello.elf"
# What was written and created after the sandbox, through the directories:
# the console log, the exit file; and the control socket is gone.
if grep -q '^Hello' "$SB/c.log" 2>/dev/null; then ok sandbox-console-log; else fail sandbox-console-log "no Hello in $SB/c.log"; fi
if grep -Eq '^\{"reason":"exit","status":0,' "$SB/x.json" 2>/dev/null; then ok sandbox-exit-file; else fail sandbox-exit-file "$(cat "$SB/x.json" 2>&1)"; fi
if [ ! -e "$SB/ctl" ]; then ok sandbox-control-unlinked; else fail sandbox-control-unlinked "$SB/ctl left behind"; fi
expect sandbox-off 0 '^Hello' '' env SHALE_SANDBOX_TEST=state "$SHALE" run --no-sandbox "$G/hello.elf"
if grep -q sandbox-test "$T_ERR"; then fail sandbox-off-no-trigger "the sandbox ran"; else ok sandbox-off-no-trigger; fi
if [ "$(id -u)" = 0 ]; then
	expect sandbox-user 0 'Hello' '^sandbox-test: uid=65534 gid=[0-9]+ groups=0 nnp=1 ' \
		env SHALE_SANDBOX_TEST=state "$SHALE" run --user 65534 "$G/hello.elf"
	expect sandbox-user-no-sandbox 125 '' 'run: --user needs root and the sandbox' \
		"$SHALE" run --no-sandbox --user 65534 "$G/hello.elf"
else
	skip sandbox-user "not root"
	expect sandbox-user-not-root 125 '' 'run: --user needs root' "$SHALE" run --user 0 "$G/hello.elf"
fi
expect sandbox-user-unknown 125 '' '^shale: --user no-such-user-x: no such user in /etc/passwd$' \
	"$SHALE" run --user no-such-user-x "$G/hello.elf"

# --- misbehaving guests -----------------------------------------------------
M=$G/misbehave.elf
crash() { expect "crash-$1" 126 '' "$2" "$SHALE" run "$M" "$1"; }
crash null 'page fault \(#PF\) at rip 0x[0-9a-f]+, address 0x0,'
crash wild 'page fault'
crash write-text 'page fault'
crash exec-heap 'page fault'
crash page-tables 'page fault.*address 0x8000'
crash read-vmm 'page fault.*address 0x2000'
crash clts 'general protection'
crash hlt 'general protection'
crash cr3 'general protection'
crash wrmsr 'general protection'
crash lgdt 'general protection'
crash ud2 'invalid opcode'
# Where PVM and hardware differ (PVM.md): PVM raises #UD for `int n` and
# lets `syscall` jump to LSTAR (0 here) in ring 3; hardware raises #GP
# (DPL-0 gate) and #UD (EFER.SCE clear).
if [ "$(host_kind)" = pvm ]; then
	crash syscall 'page fault \(#PF\) at rip 0x0,'
	crash int 'invalid opcode'
else
	crash syscall 'invalid opcode'
	crash int 'general protection'
fi
crash int3 'guest crashed: vector'
crash div0 'divide error'
crash port '^shale: guest crashed: outl to I/O port 0x80 at rip 0x[0-9a-f]+: the guest may use only the hypercall ports 0x500-0x53f'
crash port-in-low 'inb from I/O port 0x61 at rip'
crash port-in 'bad 4-byte read of I/O port'
crash hc-unknown 'unknown hypercall 40'
crash hc-struct 'not in guest-writable memory'
crash hc-byte 'bad 1-byte write of I/O port'
crash hc-struct-ro 'hypercall clock: argument struct at 0x[0-9a-f]+ is not in guest-writable memory'
expect hc-guarded 0 '^hc-guarded page-tables -1 text -1' '' "$SHALE" run "$M" hc-guarded
crash exc-port 'outl to I/O port 0x53f at rip 0x[0-9a-f]+: the access reaches past the hypercall ports'
crash stack 'page fault'
expect exit-status 42 '' '' "$SHALE" run "$M" exit
expect exit-status-truncated 69 '' '' "$SHALE" run "$M" exit-big
expect timeout-loop 124 '' 'timeout' "$SHALE" run --timeout 1s "$M" loop
expect timeout-poll 124 '' 'timeout' "$SHALE" run --timeout 300ms "$M" sleep
# Output into a pipe nobody reads blocks the guest, but not its stop.
mkfifo "$W/spam"
exec 5<>"$W/spam"
timeout -s KILL 30 "$SHALE" run --timeout 2s "$M" spam >"$W/spam" 2>"$W/spam.err"
got=$?
exec 5>&-
if [ "$got" = 124 ] && grep -q 'timeout' "$W/spam.err"; then
	ok timeout-output-blocked
else
	fail timeout-output-blocked "status $got; $(tail -n 1 "$W/spam.err")"
fi

for sig in TERM INT; do
	"$SHALE" run "$M" loop >"$T_OUT" 2>"$T_ERR" &
	pid=$!
	# A VMM that ignores the signal is killed after 30 s and fails below.
	(sleep 30; kill -KILL "$pid" 2>/dev/null) &
	watchdog=$!
	sleep 1
	kill -"$sig" "$pid"
	wait "$pid"
	got=$?
	kill "$watchdog" 2>/dev/null
	want=143; [ "$sig" = INT ] && want=130
	if [ "$got" = "$want" ] && grep -q 'stopping the VM' "$T_ERR"; then
		ok "signal-$sig"
	else
		fail "signal-$sig" "exit status $got, want $want"
	fi
done

# --- managed mode: control socket, console log, exit file (shaled) ----------
C=$G/ctl
# start_vmm NAME [RUN OPTIONS] GUEST ARGS...: a VMM in managed mode in $W/NAME;
# sets VPID, CS (control socket), CL (console log), CX (exit file).
start_vmm() {
	d=$W/$1
	shift
	mkdir -p "$d"
	CS=$d/ctl CL=$d/console.log CX=$d/exit.json
	"$SHALE" run --control "$CS" --console-log "$CL" --exit-file "$CX" "$@" \
		>"$d/stdout" 2>"$d/stderr" </dev/null &
	VPID=$!
	"$C" -w 10000 "$CS" || echo "control socket $CS never accepted"
}
# wait_vmm: the VMM's exit status in VST (killed after 30 s: a hang fails).
wait_vmm() {
	(sleep 30; kill -KILL "$VPID" 2>/dev/null) &
	wd=$!
	wait "$VPID"
	VST=$?
	kill "$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
}
size_of() { wc -c <"$1" | tr -d ' '; }
# stat_of FIELD: a counter of the last `stats` reply in $T_OUT.
stat_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$T_OUT" | head -n 1; }

start_vmm ctl "$M" count
case $(ls -l "$CS") in
srw-------*) ok ctl-socket-mode ;;
*) fail ctl-socket-mode "$(ls -l "$CS")" ;;
esac
"$C" "$CS" '{"op":"info"}' >"$T_OUT"
check ctl-info "$T_OUT" "^\{\"ok\":true,\"state\":\"running\",\"pid\":$VPID,\"kind\":\"pv\",\"vcpus\":1,\"memory_bytes\":67108864\}$"
# One connection, several requests, replies in order.
"$C" "$CS" '{"op":"stats"}' '{"op":"info"}' >"$T_OUT"
if [ "$(sed -n 1p "$T_OUT" | grep -c '"exits":{"io":[0-9]*,"mmio":0,"hlt":0,"hypercall":[0-9]*,"shutdown":0,')" = 1 ] &&
	grep -q '"block":{"reads":0,"writes":0,"flushes":0,"read_bytes":0,"write_bytes":0},"net":{"rx_packets":0,"tx_packets":0,"rx_bytes":0,"tx_bytes":0},"console_bytes":[0-9]*' "$T_OUT" &&
	sed -n 2p "$T_OUT" | grep -q '"kind":"pv"'; then
	ok ctl-stats-shape
else
	fail ctl-stats-shape "$(cat "$T_OUT")"
fi
hc1=$(stat_of hypercall) cb1=$(stat_of console_bytes) cpu1=$(stat_of cpu_ns)
sleep 0.3
"$C" "$CS" '{"op":"stats"}' >"$T_OUT"
hc2=$(stat_of hypercall) cb2=$(stat_of console_bytes) cpu2=$(stat_of cpu_ns)
if [ "$hc2" -gt "$hc1" ] && [ "$cb2" -gt "$cb1" ] && [ "$cpu2" -ge "$cpu1" ] &&
	[ "$(stat_of rss_bytes)" -gt 0 ]; then
	ok ctl-stats-increase
else
	fail ctl-stats-increase "hypercalls $hc1 -> $hc2, console bytes $cb1 -> $cb2, cpu $cpu1 -> $cpu2"
fi
# The console log has what the counter says, and nothing on stdout.
sleep 0.1
if [ "$(size_of "$CL")" -ge "$cb2" ] && grep -q '^tick 5$' "$CL" && [ ! -s "$W/ctl/stdout" ]; then
	ok ctl-console-log
else
	fail ctl-console-log "log $(size_of "$CL") bytes, counter $cb2"
fi
# Paused: the guest prints no tick until it is resumed.
"$C" "$CS" '{"op":"pause"}' >"$T_OUT"
check ctl-pause "$T_OUT" '^\{"ok":true,"state":"paused"\}$'
s1=$(size_of "$CL")
sleep 0.5
s2=$(size_of "$CL")
"$C" "$CS" '{"op":"info"}' '{"op":"pause"}' >"$T_OUT"
if [ "$s1" = "$s2" ] && grep -q '"state":"paused","pid"' "$T_OUT" &&
	grep -q '^{"ok":true,"state":"paused"}$' "$T_OUT"; then
	ok ctl-paused-no-progress
else
	fail ctl-paused-no-progress "log $s1 -> $s2 bytes while paused"
fi
"$C" "$CS" '{"op":"resume"}' >"$T_OUT"
check ctl-resume "$T_OUT" '^\{"ok":true,"state":"running"\}$'
sleep 0.3
s3=$(size_of "$CL")
if [ "$s3" -gt "$s2" ]; then ok ctl-resumed-progress; else fail ctl-resumed-progress "log $s2 -> $s3 bytes"; fi
# A console client gets the guest's output from now on.
"$C" -c 500 "$CS" >"$T_OUT"
if sed -n 1p "$T_OUT" | grep -q '^{"ok":true}$' && grep -q '^tick [0-9]*$' "$T_OUT"; then
	ok ctl-console-client
else
	fail ctl-console-client "$(head -n 3 "$T_OUT")"
fi
# Bad requests get an error; the VMM lives on.
"$C" "$CS" 'this is not json' >"$T_OUT"
if grep -q '^{"ok":false,"error":"invalid JSON' "$T_OUT" && grep -q '^closed$' "$T_OUT"; then
	ok ctl-bad-json
else
	fail ctl-bad-json "$(cat "$T_OUT")"
fi
"$C" "$CS" '{"op":"reboot-the-moon"}' '["op"]' '{"op":7}' '{"op":"info"}' >"$T_OUT"
if [ "$(grep -c '^{"ok":false,"error":"' "$T_OUT")" = 3 ] && grep -q 'unknown op \\"reboot-the-moon\\"' "$T_OUT" &&
	grep -q '"state":"running"' "$T_OUT" && ! grep -q '^closed$' "$T_OUT"; then
	ok ctl-bad-requests
else
	fail ctl-bad-requests "$(cat "$T_OUT")"
fi
# A para-virtual VM has no balloon: the op is refused, the VM goes on.
"$C" "$CS" '{"op":"balloon","target_mib":1}' '{"op":"info"}' >"$T_OUT"
if grep -q '^{"ok":false,"error":"this VM has no balloon (shale run --balloon)"}$' "$T_OUT" &&
	grep -q '"state":"running"' "$T_OUT"; then
	ok ctl-no-balloon
else
	fail ctl-no-balloon "$(cat "$T_OUT")"
fi
"$C" -l 5000 "$CS" >"$T_OUT"
if grep -q '^{"ok":false,"error":"request line longer than 4096 bytes"}$' "$T_OUT" && grep -q '^closed$' "$T_OUT"; then
	ok ctl-overlong-line
else
	fail ctl-overlong-line "$(cat "$T_OUT")"
fi
"$C" -l 4000 "$CS" >"$T_OUT"
check ctl-long-line-is-json "$T_OUT" '^\{"ok":false,"error":"invalid JSON'
"$C" "$CS" '{"op":"info"}' >"$T_OUT"
check ctl-survives "$T_OUT" '"ok":true,"state":"running"'
# kill: the reply, then the VMM exits as killed, with the exit file, and removes its socket.
"$C" "$CS" '{"op":"kill"}' >"$T_OUT"
check ctl-kill-reply "$T_OUT" '^\{"ok":true\}$'
wait_vmm
if [ "$VST" = 137 ] && [ ! -e "$CS" ]; then ok ctl-kill-status; else fail ctl-kill-status "exit status $VST, socket $(ls "$CS" 2>&1)"; fi
check ctl-kill-exit-file "$CX" '^\{"reason":"killed","status":137,"message":"killed through the control socket"\}$'

# shutdown: the idle guest sleeps until asked, then exits 0.
start_vmm idle "$G/idle.elf"
sleep 0.5
"$C" "$CS" '{"op":"stats"}' >"$T_OUT"
hc1=$(stat_of hypercall)
sleep 0.5
"$C" "$CS" '{"op":"stats"}' '{"op":"shutdown"}' >"$T_OUT"
hc2=$(stat_of hypercall)
# Idle means blocked in one POLL: no exit while it waits.
if [ "$hc1" = 1 ] && [ "$hc2" = 1 ]; then ok idle-sleeps; else fail idle-sleeps "hypercalls $hc1 then $hc2"; fi
if sed -n 2p "$T_OUT" | grep -q '^{"ok":true}$'; then ok ctl-shutdown-reply; else fail ctl-shutdown-reply "$(cat "$T_OUT")"; fi
wait_vmm
if [ "$VST" = 0 ]; then ok ctl-shutdown-idle; else fail ctl-shutdown-idle "exit status $VST"; fi
check ctl-shutdown-exit-file "$CX" '^\{"reason":"exit","status":0,"message":"the guest exited with status 0"\}$'

# A guest that never leaves ring 3 on its own: the kick of a pause is taken
# once, not again at every KVM_RUN after the resume (and so is a shutdown's).
start_vmm busy "$M" loop
"$C" "$CS" '{"op":"pause"}' '{"op":"resume"}' '{"op":"shutdown"}' >/dev/null
sleep 0.5
"$C" "$CS" '{"op":"stats"}' >"$T_OUT"
intr=$(stat_of intr)
"$C" "$CS" '{"op":"kill"}' >/dev/null
wait_vmm
if [ -n "$intr" ] && [ "$intr" -le 10 ] && [ "$VST" = 137 ]; then
	ok ctl-resume-busy-guest
else
	fail ctl-resume-busy-guest "$intr KVM_RUN returns on a signal after one pause (status $VST)"
fi

# A paused VM still stops: kill, and --timeout.
start_vmm paused-kill "$M" count
"$C" "$CS" '{"op":"pause"}' '{"op":"kill"}' >"$T_OUT"
wait_vmm
if [ "$VST" = 137 ] && grep -q '"state":"paused"' "$T_OUT"; then ok ctl-kill-paused; else fail ctl-kill-paused "exit status $VST"; fi
start_vmm paused-timeout --timeout 1500ms "$M" sleep
"$C" "$CS" '{"op":"pause"}' >"$T_OUT"
wait_vmm
if [ "$VST" = 124 ] && grep -q '"state":"paused"' "$T_OUT"; then ok ctl-timeout-paused; else fail ctl-timeout-paused "exit status $VST"; fi
check ctl-timeout-exit-file "$CX" '^\{"reason":"timeout","status":124,"message":"timeout: the guest ran for 1.5s; VM stopped"\}$'
start_vmm paused-signal "$M" count
"$C" "$CS" '{"op":"pause"}' >"$T_OUT"
kill -TERM "$VPID"
wait_vmm
if [ "$VST" = 143 ]; then ok ctl-signal-paused; else fail ctl-signal-paused "exit status $VST"; fi
check ctl-signal-exit-file "$CX" '^\{"reason":"signal","status":143,"message":"stopping the VM on Terminated"\}$'

# The console log rotates at 1 MiB and loses nothing; a console client that
# does not read is dropped without holding up the guest.
start_vmm rotate "$M" spam
"$C" -s 1000 "$CS" >"$T_OUT"
check ctl-console-stalled-dropped "$T_OUT" '^dropped$'
i=0
while [ ! -e "$CL.1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
"$C" "$CS" '{"op":"kill"}' >/dev/null
wait_vmm
if [ "$(size_of "$CL.1" 2>/dev/null)" = 1048576 ] && [ -s "$CL" ]; then
	ok console-log-rotated
else
	fail console-log-rotated "$CL.1: $(ls -l "$CL.1" 2>&1)"
fi
# Every line, in order, across the two files (the first MiB was not lost).
if cat "$CL.1" "$CL" | awk 'NR == 1 { n = $3 + 0; if (n != 0) bad = 1 }
	{ if ($0 != "spam line " n ": nobody reads this") bad = 1; n++ }
	END { exit bad }'; then
	ok console-log-rotation-lossless
else
	fail console-log-rotation-lossless "$(tail -c 100 "$CL.1"; head -c 100 "$CL")"
fi

# The exit file for a guest's own exit, a crash and a guest shale refuses.
mkdir -p "$W/xf"
expect exit-file-exit 42 '' '' "$SHALE" run --exit-file "$W/xf/exit.json" "$M" exit
check exit-file-exit-contents "$W/xf/exit.json" '^\{"reason":"exit","status":42,"message":"the guest exited with status 42"\}$'
expect exit-file-crash 126 '' '' "$SHALE" run --exit-file "$W/xf/exit.json" "$M" ud2
check exit-file-crash-contents "$W/xf/exit.json" '^\{"reason":"crash","status":126,"message":"guest crashed: vector 6, invalid opcode'
expect exit-file-error 125 '' '' "$SHALE" run --exit-file "$W/xf/exit.json" "$G/compute-native"
check exit-file-error-contents "$W/xf/exit.json" '^\{"reason":"error","status":125,"message":".*compute-native: not a guest shale can run'
if [ ! -e "$W/xf/exit.json.tmp" ]; then ok exit-file-no-tmp; else fail exit-file-no-tmp "exit.json.tmp left behind"; fi
# --console-log alone: the output goes there, not to stdout.
expect console-log-only 0 '' '' "$SHALE" run --console-log "$W/xf/hello.log" "$G/hello.elf"
if [ ! -s "$T_OUT" ]; then ok console-log-no-stdout; else fail console-log-no-stdout "output on stdout"; fi
check console-log-only-contents "$W/xf/hello.log" '^Hello from a shale guest!$'
expect control-path-too-long 125 '' 'path longer than' "$SHALE" run --control "$W/$(printf '%0200d' 0)" "$G/hello.elf"

# --- user-mode network (--net user: libslirp in shale-net) -------------------
# No root, no tap: a host port forwarded to the guest's UDP echo port.
UPORT=$((20000 + $$ % 20000))
if [ ! -x "${SHALE%/*}/shale-net" ]; then
	skip net-user "no shale-net next to $SHALE"
else
	for q in "" -q; do
		name=net-user${q:+-queue}
		"$SHALE" run --timeout 30s --net "user,hostfwd=udp::$UPORT-:7" "$G/net.elf" -- $q 10.0.2.15 \
			>"$W/$name.out" 2>&1 &
		guest=$!
		reply=
		# Until shale-net has bound the forward, the port is refused at once.
		i=0
		while [ $i -lt 40 ]; do
			reply=$("$G/udp_echo_client" 127.0.0.1 "$UPORT" shale-user-echo 2>/dev/null) && break
			sleep 0.25
			i=$((i + 1))
		done
		if [ "$reply" = shale-user-echo ]; then ok "$name-udp-echo"; else fail "$name-udp-echo" "got '$reply': $(cat "$W/$name.out")"; fi
		reply=$("$G/udp_echo_client" -n 200 127.0.0.1 "$UPORT" shale-user-echo 2>&1)
		case $reply in
		"echoes 200 ns "*) ok "$name-udp-200" ;;
		*) fail "$name-udp-200" "got '$reply'" ;;
		esac
		helper=$(pgrep -P "$guest" -x shale-net)
		# The helper goes with its VMM, even one killed outright.
		kill -KILL "$guest" 2>/dev/null
		wait "$guest" 2>/dev/null
		gone=no
		for _ in $(seq 50); do
			# Gone, or a zombie its new parent has yet to reap.
			if [ -n "$helper" ] && { [ ! -e "/proc/$helper" ] ||
				[ "$(cut -d' ' -f3 "/proc/$helper/stat" 2>/dev/null)" = Z ]; }; then
				gone=yes
				break
			fi
			sleep 0.1
		done
		if [ "$gone" = yes ]; then ok "$name-helper-gone"; else fail "$name-helper-gone" "shale-net '${helper:-none}' still there"; fi
		UPORT=$((UPORT + 1))
	done
	# The port is taken (by the first forward): the helper says so and the
	# VM does not start.
	expect net-user-port-taken 125 '' 'shale-net: hostfwd=udp:127\.0\.0\.1:'"$UPORT"'-10\.0\.2\.15:7: cannot listen' \
		"$SHALE" run --net "user,hostfwd=udp::$UPORT-:7,hostfwd=udp::$UPORT-:7" "$G/hello.elf"
	expect net-user-bad-fwd 125 '' "bad forward 'udp:1.2.3:5-:7'" \
		"$SHALE" run --net user,hostfwd=udp:1.2.3:5-:7 "$G/hello.elf"
	expect net-user-port-zero 125 '' "bad forward 'tcp::0-:80'" \
		"$SHALE" run --net user,hostfwd=tcp::0-:80 "$G/hello.elf"
	expect net-user-fwd-without-user 125 '' 'hostfwd= is for --net user' \
		"$SHALE" run --net tap=tap0,hostfwd=tcp::8080-:80 "$G/hello.elf"
	expect net-user-and-tap 125 '' 'want one of tap=NAME and user' \
		"$SHALE" run --net user,tap=tap0 "$G/hello.elf"
fi

# --- network ----------------------------------------------------------------
# IP: iproute2's ip (busybox's lacks netns and tuntap).
IP=${IP:-ip}
if ! command -v "$IP" >/dev/null 2>&1 || ! "$IP" netns add shale-t$$ 2>/dev/null; then
	skip net "cannot create a network namespace (needs root and iproute2)"
else
	ns=shale-t$$
	nsx() { "$IP" netns exec "$ns" "$@"; }
	nsx "$IP" link set lo up
	nsx "$IP" tuntap add dev tap0 mode tap
	nsx "$IP" addr add 10.77.0.1/24 dev tap0
	nsx "$IP" link set tap0 up
	# Not through nsx: $! must be shale itself (ip netns exec execs it).
	"$IP" netns exec "$ns" "$SHALE" run --timeout 30s --net tap=tap0,mac=02:00:00:00:00:02 "$G/net.elf" -- 10.77.0.2 >"$W/net.out" 2>&1 &
	guest=$!
	sleep 1
	if nsx ping -c 3 -W 2 10.77.0.2 >"$T_OUT" 2>&1; then ok net-ping; else fail net-ping "no answer to ping"; fi
	reply=$(nsx "$G/udp_echo_client" 10.77.0.2 7 shale-udp-echo 2>&1)
	if [ "$reply" = shale-udp-echo ]; then ok net-udp-echo; else fail net-udp-echo "got '$reply'"; fi
	kill -TERM "$guest" 2>/dev/null
	wait "$guest"
	# The same through the network I/O queue: answers, and many in a row.
	# Not through nsx: $! must be shale itself (ip netns exec execs it).
	"$IP" netns exec "$ns" "$SHALE" run --timeout 30s --net tap=tap0,mac=02:00:00:00:00:02 "$G/net.elf" -- -q 10.77.0.2 >"$W/netq.out" 2>&1 &
	guest=$!
	sleep 1
	if nsx ping -c 3 -W 2 10.77.0.2 >"$T_OUT" 2>&1; then ok net-queue-ping; else fail net-queue-ping "no answer to ping"; fi
	reply=$(nsx "$G/udp_echo_client" 10.77.0.2 7 shale-udp-queue 2>&1)
	if [ "$reply" = shale-udp-queue ]; then ok net-queue-udp-echo; else fail net-queue-udp-echo "got '$reply'"; fi
	reply=$(nsx "$G/udp_echo_client" -n 500 10.77.0.2 7 shale-udp-queue 2>&1)
	case $reply in
	"echoes 500 ns "*) ok net-queue-udp-500 ;;
	*) fail net-queue-udp-500 "got '$reply'" ;;
	esac
	kill -TERM "$guest" 2>/dev/null
	wait "$guest"
	grep -q 'listening on 10.77.0.2 (I/O queue)' "$W/netq.out" || fail net-queue-mode "$(cat "$W/netq.out")"
	# Out-of-order completion: the guest's receive completes after its NOP,
	# when the ping from the host side arrives.
	"$IP" netns exec "$ns" "$SHALE" run --timeout 30s --net tap=tap0 "$G/queue_check.elf" \
		net-order >"$T_OUT" 2>"$T_ERR" &
	guest=$!
	sleep 1
	nsx ping -c 2 -W 1 10.77.0.9 >/dev/null 2>&1
	wait "$guest"
	got=$?
	if [ "$got" = 0 ] && grep -q '^queue_check: net-order: 0 failures' "$T_OUT"; then
		ok queue-out-of-order
	else
		fail queue-out-of-order "exit status $got"
	fi
	"$IP" netns del "$ns"
fi

summary

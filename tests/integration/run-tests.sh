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
expect stats 0 'Hello' '^shale-stats: guest_ram_touched_kib=[0-9]+ peak_rss_kib=[0-9]+ wall_us=[0-9]+ first_entry_mono_ns=[1-9][0-9]* first_entry_cpu_us=[1-9][0-9]* setup_cpu_us=start:[0-9]+,kvm:[0-9]+,memory:[0-9]+,load:[0-9]+,enter:[0-9]+$' \
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

#!/bin/sh
# Boots an unmodified Debian kernel under shale and checks what the guest
# reports (tests/linux/init prints the L2-* marker lines). Needs a
# hardware-style /dev/kvm: a VMX/SVM host, or the lab.
#
# usage: run-linux-tests.sh SHALE BZIMAGE VMLINUX INITRD INITRD_MD5
#   (tests/tools/ptyrun next to this script)
set -u
SHALE=$1 BZ=$2 VMLINUX=$3 INITRD=$4
PTYRUN=$(dirname "$0")/ptyrun
MD5=$(cat "$5")
. "$(dirname "$0")/lib.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
BASE="console=ttyS0 quiet panic=-1"
# A guest boot takes seconds here, more in the lab.
T_LIMIT=180
# The usual VM; the paths hold no blanks.
RUN="$SHALE run --memory 256M --initrd $INITRD --timeout 120s"

# acpi_clean NAME: the guest in $T_OUT counted no ACPI errors in its log.
acpi_clean() {
	if grep -Eq '^L2-ACPI-ERRORS 0.?$' "$T_OUT"; then
		ok "$1"
	else
		fail "$1" "$(grep -E '^L2-ACPI-(ERRORS|LOG)' "$T_OUT" | head -n 5 | tr '\r\n' '  ')"
	fi
}

CTL=$(dirname "$0")/ctl

# virtio-balloon (tests/linux/init, shale.test=balloon): the guest writes
# 128 MiB to a tmpfs and frees it; the VMM's RSS (VmRSS) then falls by
# 64 MiB or more when the host sets a balloon target through the control
# socket (reporting off, so that only the balloon gives memory back), and,
# in a second VM, when the guest reports the freed memory (free page
# reporting, after Linux's 2 s delay).
# only NAME: whether SHALE_LINUX_ONLY (a list of names) asks for NAME, or is empty.
only() {
	case " ${SHALE_LINUX_ONLY:-} " in
	"  " | *" $1 "*) return 0 ;;
	esac
	return 1
}
if only balloon; then
	L=$W/balloon
	mkdir -p "$L"
	BRUN="$SHALE run --memory 256M --initrd $INITRD --timeout 300s"
	rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }
	# wait_line FILE PATTERN SECONDS
	wait_line() {
		i=0
		while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt "$3" ]; do sleep 1; i=$((i + 1)); done
		grep -q "$2" "$1" 2>/dev/null
	}
	# bal FILE KEY: a number of stats' balloon object (before its "guest" part).
	bal() { sed -n "s/.*\"balloon\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" "$1"; }
	# poll_actual CTL MIN MAX: stats into $L/stats until actual_bytes is in [MIN, MAX] (90 s).
	poll_actual() {
		i=0
		while [ $i -lt 90 ]; do
			"$CTL" "$1" '{"op":"stats"}' >"$L/stats" 2>&1
			a=$(bal "$L/stats" actual_bytes)
			[ "${a:-0}" -ge "$2" ] && [ "${a:-0}" -le "$3" ] && return 0
			sleep 1
			i=$((i + 1))
		done
		return 1
	}
	$BRUN --stats --control "$L/ctl" --balloon no-reporting --kernel "$BZ" \
		--cmdline "$BASE shale.test=balloon" </dev/null >"$L/out" 2>"$L/err" &
	pid=$!
	r1= r2=
	if wait_line "$L/out" L2-BALLOON-FREED 150; then
		sleep 2
		r1=$(rss_kib "$pid")
		"$CTL" "$L/ctl" '{"op":"balloon","target_mib":160}' \
			'{"op":"balloon","target_mib":257}' '{"op":"balloon"}' >"$L/set" 2>&1
		poll_actual "$L/ctl" $((160 << 20)) $((160 << 20))
		sleep 1
		r2=$(rss_kib "$pid")
		cp "$L/stats" "$L/inflated"
		# The guest's numbers: the first stats handed its buffer back.
		sleep 2
		"$CTL" "$L/ctl" '{"op":"stats"}' >"$L/gstats" 2>&1
		"$CTL" "$L/ctl" '{"op":"balloon","target_mib":0}' >>"$L/set" 2>&1
		poll_actual "$L/ctl" 0 0
	fi
	"$CTL" "$L/ctl" '{"op":"kill"}' >/dev/null 2>&1
	wait "$pid"
	tr -d '\r' <"$L/out" >"$L/log"
	why="$(grep -a '^L2-BALLOON' "$L/log" | tr '\n' ' ') $(tail -n 3 "$L/err" | tr '\n' ' ')"
	grep -q '^L2-BALLOON-UP stats=1 oom=0 reporting=0$' "$L/log" && ok balloon-features ||
		fail balloon-features "$why"
	if [ "$(sed -n 1p "$L/set")" = '{"ok":true}' ] &&
		sed -n 2p "$L/set" | grep -q '"target_mib\\" must be from 0 to 256' &&
		sed -n 3p "$L/set" | grep -q 'no \\"target_mib\\" number'; then
		ok balloon-op
	else
		fail balloon-op "$(cat "$L/set")"
	fi
	if [ "$(bal "$L/inflated" actual_bytes)" = $((160 << 20)) ] &&
		[ "$(bal "$L/inflated" target_bytes)" = $((160 << 20)) ] &&
		[ "$(bal "$L/inflated" inflated_bytes)" -ge $((160 << 20)) ]; then
		ok balloon-inflate
	else
		fail balloon-inflate "$(cat "$L/inflated") $why"
	fi
	if [ -n "$r1" ] && [ -n "$r2" ] && [ $((r1 - r2)) -ge 65536 ]; then
		ok balloon-rss
	else
		fail balloon-rss "VmRSS ${r1:-?} kB before, ${r2:-?} kB after the target"
	fi
	echo "balloon: VmRSS ${r1:-?} kB freed, ${r2:-?} kB with 160 MiB in the balloon"
	if grep -Eq '"guest":\{.*"free_memory":[1-9][0-9]*.*\}' "$L/gstats" &&
		grep -Eq '"total_memory":[1-9]' "$L/gstats"; then
		ok balloon-guest-stats
	else
		fail balloon-guest-stats "$(cat "$L/gstats")"
	fi
	if [ "$(bal "$L/stats" actual_bytes)" = 0 ] && [ "$(bal "$L/stats" deflated_bytes)" -ge $((160 << 20)) ]; then
		ok balloon-deflate
	else
		fail balloon-deflate "$(cat "$L/stats")"
	fi
	grep -Eq '^shale-stats-balloon: target_kib=0 actual_kib=0 inflated_kib=[1-9][0-9]* deflated_kib=[1-9][0-9]* reported_kib=0' "$L/err" &&
		ok balloon-stats-at-exit || fail balloon-stats-at-exit "$(grep -a shale-stats "$L/err")"

	# Free page reporting: the RSS with the 128 MiB in the guest's tmpfs,
	# then after the guest freed them.
	$BRUN --control "$L/ctl2" --balloon deflate-on-oom --kernel "$BZ" \
		--cmdline "$BASE shale.test=balloon shale.balloon_hold=10" </dev/null >"$L/out2" 2>"$L/err2" &
	pid=$!
	r1= r2=
	if wait_line "$L/out2" L2-BALLOON-TOUCHED 150; then
		sleep 3
		r1=$(rss_kib "$pid")
		if wait_line "$L/out2" L2-BALLOON-FREED 60; then
			i=0
			while [ $i -lt 60 ]; do
				r2=$(rss_kib "$pid")
				[ $((r1 - r2)) -ge 65536 ] && break
				sleep 1
				i=$((i + 1))
			done
		fi
		"$CTL" "$L/ctl2" '{"op":"stats"}' >"$L/stats2" 2>&1
	fi
	"$CTL" "$L/ctl2" '{"op":"kill"}' >/dev/null 2>&1
	wait "$pid"
	tr -d '\r' <"$L/out2" >"$L/log2"
	grep -q '^L2-BALLOON-UP stats=1 oom=1 reporting=1$' "$L/log2" && ok balloon-features-oom ||
		fail balloon-features-oom "$(grep -a '^L2-BALLOON' "$L/log2" | tr '\n' ' ') $(tail -n 3 "$L/err2" | tr '\n' ' ')"
	if [ -n "$r1" ] && [ -n "$r2" ] && [ $((r1 - r2)) -ge 65536 ] &&
		[ "$(bal "$L/stats2" reported_bytes)" -ge $((64 << 20)) ]; then
		ok balloon-reporting
	else
		fail balloon-reporting "VmRSS ${r1:-?} kB held, ${r2:-?} kB freed; $(cat "$L/stats2" 2>/dev/null)"
	fi
	echo "balloon: VmRSS ${r1:-?} kB with 128 MiB in tmpfs, ${r2:-?} kB after reporting"

	# A reboot keeps the host's target: the guest waits for its balloon to
	# shrink it, reboots, and the next boot's balloon shrinks it again with
	# no new request.
	$BRUN --control "$L/ctl3" --balloon --kernel "$BZ" \
		--cmdline "$BASE shale.test=balloon-reboot" </dev/null >"$L/out3" 2>"$L/err3" &
	pid=$!
	if wait_line "$L/out3" L2-BALLOON-UP 150; then
		"$CTL" "$L/ctl3" '{"op":"balloon","target_mib":64}' >"$L/set3" 2>&1
		i=0
		while [ "$(grep -c L2-BALLOON-SHRUNK "$L/out3")" -lt 2 ] && [ $i -lt 150 ]; do
			sleep 1
			i=$((i + 1))
		done
		"$CTL" "$L/ctl3" '{"op":"stats"}' >"$L/stats3" 2>&1
	fi
	"$CTL" "$L/ctl3" '{"op":"kill"}' >/dev/null 2>&1
	wait "$pid"
	shrunk=$(grep -c '^L2-BALLOON-SHRUNK' "$L/out3")
	if [ "$shrunk" -ge 2 ] && [ "$(bal "$L/stats3" target_bytes)" = $((64 << 20)) ]; then
		ok balloon-reboot-keeps-target
	else
		fail balloon-reboot-keeps-target "shrunk in $shrunk boot(s); $(grep -a '^L2-BALLOON' "$L/out3" | tr '\r\n' '  ') $(cat "$L/set3" "$L/stats3" 2>/dev/null | head -c 400)"
	fi
fi

# virtio-console input (shale.test=hvc-shell): piped input reaches a shell
# on hvc0, an answer comes back, and 16 KiB more, all there before the
# guest boots, arrive whole: the receive queue takes what its buffers hold,
# the rest waits until the driver gives buffers back.
if only hvc-input; then
	i=0
	while [ $i -lt 448 ]; do
		printf 'hvc line %05d abcdefghijklmnopqrstu\n' $i
		i=$((i + 1))
	done >"$W/hvc-bulk"
	size=$(wc -c <"$W/hvc-bulk")
	sum=$(md5sum "$W/hvc-bulk" | cut -d' ' -f1)
	{
		echo "stty -echo; echo \"L2-HVC-ANSWER \$((6 * 7))\"; head -c $size >/bulk; echo L2-HVC-BULK \$(md5sum </bulk); poweroff -f"
		cat "$W/hvc-bulk"
	} >"$W/hvc-in"
	$T_TIMEOUT "$T_LIMIT" $RUN --kernel "$BZ" --console virtio \
		--cmdline "$BASE shale.test=hvc-shell" <"$W/hvc-in" >"$W/hvc.out" 2>"$W/hvc.err"
	got=$?
	tr -d '\r' <"$W/hvc.out" >"$W/hvc.log"
	if [ "$got" = 0 ] && grep -q 'L2-HVC-ANSWER 42' "$W/hvc.log"; then
		ok hvc-input
	else
		fail hvc-input "status $got; $(grep -a '^L2-HVC' "$W/hvc.log" | tr '\n' ' ') $(tail -n 3 "$W/hvc.err" | tr '\n' ' ')"
	fi
	if [ "$got" = 0 ] && grep -q "L2-HVC-BULK $sum" "$W/hvc.log"; then
		ok hvc-input-bulk
	else
		fail hvc-input-bulk "status $got, $size bytes sent; $(grep -a L2-HVC-BULK "$W/hvc.log" | tail -n 1)"
	fi
fi
case " ${SHALE_LINUX_ONLY:-} " in
*" balloon "* | *" hvc-input "*)
	summary
	exit
	;;
esac
# virtio-vsock (tests/linux/init, shale.test=vsock), sandboxed, in each
# jail this host has: the guest (CID 42) echoes 256 KiB through the host's
# echo server at PATH_5000, then serves one for the host, which connects
# through PATH with "CONNECT 6000". The jail must let the VMM reach PATH_P.
VSOCK_ECHO=$(dirname "$0")/vsock_echo
VSOCK_BYTES=262144
vsock_run() { # JAIL
	VS=$W/vsock-$1
	mkdir -p "$VS"
	"$VSOCK_ECHO" unix-serve "$VS/v.sock_5000" >"$VS/echo" 2>&1 &
	echo_pid=$!
	$RUN --kernel "$BZ" --jail "$1" --vsock "cid=42,socket=$VS/v.sock" \
		--cmdline "$BASE shale.test=vsock shale.vsock_bytes=$VSOCK_BYTES" \
		</dev/null >"$VS/out" 2>"$VS/err" &
	pid=$!
	i=0
	while ! grep -q 'L2-VSOCK-H2G LISTENING' "$VS/out" && kill -0 "$pid" 2>/dev/null &&
		[ $i -lt 150 ]; do
		sleep 1
		i=$((i + 1))
	done
	$T_TIMEOUT 120 "$VSOCK_ECHO" unix-connect "$VS/v.sock" 6000 "@$VSOCK_BYTES" >"$VS/h2g" 2>&1
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
	kill "$pid" 2>/dev/null
	wait "$pid"
	status=$?
	kill "$echo_pid" 2>/dev/null
	wait "$echo_pid" 2>/dev/null
	tr -d '\r' <"$VS/out" >"$VS/log"
	why="$(grep -a '^L2-VSOCK' "$VS/log" | tr '\n' ' ') host: $(tr '\n' ' ' <"$VS/h2g") $(tail -n 3 "$VS/err" | tr '\n' ' ')"
	grep -q '^L2-VSOCK-CID 42$' "$VS/log" && ok "vsock-cid-$1" || fail "vsock-cid-$1" "$why"
	grep -q "^L2-VSOCK-G2H ECHO-OK n=$VSOCK_BYTES " "$VS/log" && ok "vsock-guest-to-host-$1" ||
		fail "vsock-guest-to-host-$1" "$why"
	if grep -Eq '^OK [0-9]+$' "$VS/h2g" && grep -q "^ECHO-OK n=$VSOCK_BYTES\$" "$VS/h2g" &&
		grep -q '^L2-VSOCK-H2G SERVED' "$VS/log"; then
		ok "vsock-host-to-guest-$1"
	else
		fail "vsock-host-to-guest-$1" "$why"
	fi
	# The cap (32 connections): some refused, no more than 32 at once, then room again.
	many=$(sed -n 's/^L2-VSOCK-MANY ok=\([0-9]*\) refused=\([0-9]*\)$/\1 \2/p' "$VS/log")
	if [ -n "$many" ] && [ "${many% *}" -le 32 ] && [ "${many% *}" -ge 28 ] &&
		[ "${many#* }" -ge 8 ] && grep -q '^L2-VSOCK-AGAIN ECHO-OK n=5$' "$VS/log"; then
		ok "vsock-cap-$1"
	else
		fail "vsock-cap-$1" "$why"
	fi
	[ "$status" = 0 ] && [ ! -e "$VS/v.sock" ] && ok "vsock-exit-$1" ||
		fail "vsock-exit-$1" "status $status (want 0), PATH removed: $([ -e "$VS/v.sock" ] && echo no || echo yes)"
}
if only vsock; then
	if [ ! -x "$VSOCK_ECHO" ]; then
		skip vsock "no tests/tools/vsock_echo next to this script"
	else
		if "$SHALE" host --json 2>/dev/null | grep -q '"jail":"landlock"'; then
			vsock_run landlock
		else
			skip vsock-landlock "this kernel has no Landlock"
		fi
		vsock_run mount
	fi
	# A reboot builds the device again on the socket opened once (the
	# sandbox would let nothing bind PATH again).
	VS=$W/vsock-reboot
	mkdir -p "$VS"
	"$VSOCK_ECHO" unix-serve "$VS/v.sock_5000" >"$VS/echo" 2>&1 &
	echo_pid=$!
	expect vsock-reboot 124 'L2-VSOCK-G2H' 'timeout' "$SHALE" run --memory 256M --initrd "$INITRD" \
		--timeout 40s --kernel "$BZ" --vsock "cid=43,socket=$VS/v.sock" \
		--cmdline "$BASE shale.test=vsock-reboot"
	kill "$echo_pid" 2>/dev/null
	wait "$echo_pid" 2>/dev/null
	echoes=$(grep -c '^L2-VSOCK-G2H ECHO-OK n=4096' "$T_OUT")
	[ "$echoes" -ge 2 ] && ok vsock-reboot-echo || fail vsock-reboot-echo "echoed in $echoes boot(s)"
	expect vsock-bad-cid 125 '' 'cid=2: want a number from 3' $RUN --kernel "$BZ" \
		--vsock cid=2,socket="$W/x.sock"
	if [ "${SHALE_LINUX_ONLY:-}" = vsock ]; then
		summary
		exit
	fi
fi

# virtio-net (SHALE_LINUX_ONLY=net: only these): a tap device made here,
# 10.78.0.1/24 on this side; the guest (shale.test=net in tests/linux/init)
# configures eth0 statically, pings this side, fetches 1 MiB from an HTTP
# server here and serves its own files, which this side fetches and pings.
# Then --net user (shale-net, next to shale) with a port forward and, on a
# second device, the same tap: DHCP from libslirp, 1 MiB from this side's
# server through slirp's 10.0.2.2, the guest's server through the forward.
if only net; then
	N=$W/net
	mkdir -p "$N/www"
	head -c 1048576 /dev/urandom >"$N/www/f.bin"
	f_sum=$(md5sum "$N/www/f.bin" | cut -d' ' -f1)
	busybox httpd -f -p 18081 -h "$N/www" &
	httpd_pid=$!
	IP=${IP:-ip}
	tap=
	if "$IP" tuntap add dev shtap0 mode tap 2>/dev/null || busybox tunctl -t shtap0 >/dev/null 2>&1; then
		"$IP" addr add 10.78.0.1/24 dev shtap0 && "$IP" link set shtap0 up && tap=shtap0
	fi
	# net_run NAME NET_OPTIONS... -- CMDLINE: the guest in the background until L2-NET-READY.
	net_run() {
		name=$1
		shift
		opts=
		while [ "$1" != -- ]; do opts="$opts $1"; shift; done
		shift
		# shellcheck disable=SC2086 # the options are words
		$RUN --control "$N/$name.ctl" --kernel "$BZ" $opts --cmdline "$BASE shale.test=net $*" \
			</dev/null >"$N/$name.out" 2>"$N/$name.err" &
		pid=$!
		i=0
		while ! grep -q L2-NET-READY "$N/$name.out" && kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
			sleep 1
			i=$((i + 1))
		done
	}
	net_stop() {
		"$CTL" "$N/$1.ctl" '{"op":"stats"}' >"$N/$1.stats" 2>&1
		kill -TERM "$pid" 2>/dev/null
		wait "$pid"
		tr -d '\r' <"$N/$1.out" >"$N/$1.log"
	}
	net_check() { # RUN NAME PATTERN WHY
		if grep -Eq "$3" "$N/$1.log"; then ok "$2"; else
			fail "$2" "$4; $(grep -a '^L2-NET' "$N/$1.log" | tr '\n' ' ') $(tail -n 3 "$N/$1.err" | tr '\n' ' ')"
		fi
	}
	if [ -z "$tap" ]; then
		skip net-tap "cannot make a tap device here (needs root and /dev/net/tun)"
	else
		net_run tap --net tap=shtap0,mac=02:00:00:00:00:22 -- shale.net0=10.78.0.2/24 \
			shale.peer=10.78.0.1 shale.fetch=http://10.78.0.1:18081/f.bin
		if ping -c 3 -W 5 10.78.0.2 >/dev/null 2>&1; then ok net-tap-host-ping; else
			fail net-tap-host-ping "no answer from the guest"; fi
		got_sum=$(busybox wget -q -O - http://10.78.0.2/payload.bin | md5sum | cut -d' ' -f1)
		[ "$got_sum" = "$MD5" ] && ok net-tap-guest-to-host ||
			fail net-tap-guest-to-host "fetched $got_sum, want $MD5"
		net_stop tap
		net_check tap net-tap-device '^L2-NET-DEV eth0 mac=02:00:00:00:00:22 carrier=1 ' "no eth0 with its MAC, link up"
		net_check tap net-tap-features 'csum=0 mac_f=1 mrg=0 status_f=1 v1=1$' "features not as offered"
		net_check tap net-tap-guest-ping '^L2-NET-PING 10.78.0.1 status=0$' "the guest's ping got no answer"
		net_check tap net-tap-host-to-guest "^L2-NET-FETCH $f_sum\$" "the guest fetched other data"
		if grep -Eq '"net":\{"rx_packets":[1-9][0-9]*,"tx_packets":[1-9]' "$N/tap.stats"; then
			ok net-tap-stats
		else
			fail net-tap-stats "$(cat "$N/tap.stats")"
		fi
	fi
	fwd=user,hostfwd=tcp::18080-:80
	fetch=shale.fetch=http://10.0.2.2:18081/f.bin
	if [ -n "$tap" ]; then
		net_run user --net "$fwd" --net tap=shtap0 -- shale.net0=dhcp $fetch \
			shale.net1=10.78.0.2/24 shale.peer=10.78.0.1
	else
		net_run user --net "$fwd" -- shale.net0=dhcp $fetch
	fi
	got_sum=$(busybox wget -q -O - http://127.0.0.1:18080/payload.bin | md5sum | cut -d' ' -f1)
	[ "$got_sum" = "$MD5" ] && ok net-user-hostfwd || fail net-user-hostfwd "fetched $got_sum, want $MD5"
	net_stop user
	net_check user net-user-dhcp '^L2-NET-DHCP eth0 status=0 10\.0\.2\.15/24$' "no address from DHCP"
	net_check user net-user-fetch "^L2-NET-FETCH $f_sum\$" "the guest fetched other data through slirp"
	if [ -n "$tap" ]; then
		net_check user net-two-devices '^L2-NET-DEV eth1 mac=.* carrier=1 ' "no second device"
		net_check user net-two-devices-ping '^L2-NET-PING 10.78.0.1 status=0$' "no answer on eth1"
	fi
	# A reboot builds the device again on the back end opened once (the
	# sandbox lets nothing be opened, nor fcntl() called, by then).
	expect net-reboot 124 'L2-NET-FETCH' 'timeout' "$SHALE" run --memory 256M --initrd "$INITRD" \
		--timeout 60s --kernel "$BZ" --net user --cmdline "$BASE shale.test=net shale.net0=dhcp \
		shale.fetch=http://10.0.2.2:18081/f.bin shale.net_reboot=1"
	fetches=$(grep -c "^L2-NET-FETCH $f_sum" "$T_OUT")
	[ "$fetches" -ge 2 ] && ok net-reboot-fetch || fail net-reboot-fetch "fetched in $fetches boot(s)"
	kill "$httpd_pid" 2>/dev/null
	wait "$httpd_pid" 2>/dev/null
	[ -n "$tap" ] && "$IP" link del shtap0 2>/dev/null
	expect net-too-many 125 '' 'at most 4 network devices' $RUN --kernel "$BZ" --net user \
		--net user --net user --net user --net user
fi
if [ "${SHALE_LINUX_ONLY:-}" = net ]; then
	summary
	exit
fi

# The malicious-guest suite for Linux guests (tests/tools/vattack from
# the guest's root, shale.test=attack, two vCPUs): vda's function gets
# wild and broken rings, requests racing resets and BAR moves from the
# other vCPU, configuration-space and BAR fuzzing; then port I/O storms;
# then virtio-rng's function gets the broken rings. shale reports
# NEEDS_RESET for those two only, stays up (the guest powers off: 0), its
# I/O threads do not spin afterwards, vdb and virtio-rng keep working
# while vda is attacked, both attacked devices work again once reset, and
# no file but vda's image changes.
attack_tests() {
	A=$W/attack
	mkdir -p "$A"
	head -c 2097152 /dev/urandom >"$A/a.img"
	head -c 2097152 /dev/urandom >"$A/b.img"
	head -c 1048576 /dev/urandom >"$A/decoy.img"
	ln -s decoy.img "$A/decoy-link.img"
	files() { (cd "$A" && md5sum b.img decoy.img && readlink decoy-link.img && stat -c '%n %s %a %Y' b.img decoy.img); }
	files >"$A/files.before"
	a_sum=$(md5sum <"$A/a.img" | cut -d' ' -f1)
	b_sum=$(md5sum <"$A/b.img" | cut -d' ' -f1)
	$SHALE run --memory 256M --cpus 2 --initrd "$INITRD" --timeout 400s --kernel "$BZ" --rng \
		--cmdline "$BASE shale.test=attack shale.attack_secs=${SHALE_ATTACK_SECS:-10} shale.attack_count=${SHALE_ATTACK_COUNT:-50000} shale.attack_seed=$$" \
		--disk "$A/a.img" --disk "$A/b.img,ro" </dev/null >"$A/out" 2>"$A/err" &
	pid=$!
	# While the guest idles after the attacks: the VMM's CPU time over 2 s.
	cpu= i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 2000 ]; do
		if [ -z "$cpu" ] && grep -q L2-ATTACK-IDLE "$A/out"; then
			t0=$(cut -d' ' -f14,15 "/proc/$pid/stat")
			sleep 2
			t1=$(cut -d' ' -f14,15 "/proc/$pid/stat")
			cpu=$(( ${t1% *} + ${t1#* } - ${t0% *} - ${t0#* } ))
		fi
		sleep 0.2
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	got=$?
	tr -d '\r' <"$A/out" >"$A/log"
	if grep -q '^L2-ATTACK-NO-TOOL' "$A/log"; then
		skip attack "the initramfs has no vattack (tests/tools/vattack not built)"
		return
	fi
	# What the attacks did, for the record.
	grep -a '^VATTACK-[A-Z]*-DONE\|^VATTACK-RACE-\|^VATTACK-PORTS \|^VATTACK-CASE rings-overlap' "$A/log" | sed 's/^/    /'
	why="$(grep -a '^L2-ATTACK\|^VATTACK-[A-Z]*-DONE\|VATTACK-ERROR\|NO-RESET' "$A/log" | tr '\n' ' ') $(tail -n 3 "$A/err" | tr '\n' ' ')"
	[ "$got" = 0 ] && grep -q '^L2-ATTACK-DONE' "$A/log" && ok attack-vmm-up ||
		fail attack-vmm-up "status $got; $why"
	bdf=$(sed -n 's/^L2-ATTACK-BDF 0000:\([^ ]*\) rng=.*$/\1/p' "$A/log")
	rbdf=$(sed -n 's/^L2-ATTACK-BDF .* rng=0000:\(.*\)$/\1/p' "$A/log")
	grep -q '^L2-ATTACK-RINGS status=0' "$A/log" && grep -q '^L2-ATTACK-RNG-RINGS status=0' "$A/log" &&
		[ "$(grep -Ec '^VATTACK-RINGS-DONE cases=[1-9][0-9]+ failures=0' "$A/log")" = 2 ] &&
		ok attack-rings-needs-reset || fail attack-rings-needs-reset "$why"
	# Each broken ring was caught at once: no case took more than 100 ms.
	slow=$(sed -n 's/^VATTACK-CASE \([^ ]*\) .*needs-reset ms=\([0-9]*\)\..*/\2 \1/p' "$A/log" | awk '$1 >= 100' | tr '\n' ' ')
	[ -z "$slow" ] && grep -q '^VATTACK-CASE loop .*needs-reset' "$A/log" && ok attack-rings-at-once ||
		fail attack-rings-at-once "slow: $slow"
	grep -q '^L2-ATTACK-RACE status=0' "$A/log" && grep -Eq '^VATTACK-RACE-CONFIG writes=[1-9]' "$A/log" &&
		ok attack-race || fail attack-race "$(grep -a 'VATTACK-RACE' "$A/log" | tr '\n' ' ') $why"
	# Reports for the two attacked functions only, 8 each (then no more).
	reports=$(grep -c 'the guest driver broke the device' "$A/err")
	mine=$(grep -c "^shale: virtio-blk at $bdf: the guest driver broke the device" "$A/err")
	rmine=$(grep -c "^shale: virtio-rng at $rbdf: the guest driver broke the device" "$A/err")
	if [ -n "$bdf" ] && [ -n "$rbdf" ] && [ "$reports" = 16 ] && [ "$mine" = 8 ] && [ "$rmine" = 8 ] &&
		[ "$(grep -c 'said for the last time' "$A/err")" = 2 ]; then
		ok attack-report-attacked-only
	else
		fail attack-report-attacked-only "$reports reports, $mine for ${bdf:-?}, $rmine for ${rbdf:-?}; $(grep -v "at $bdf:\|at $rbdf:" "$A/err" | head -n 3 | tr '\n' ' ')"
	fi
	grep -q '^L2-ATTACK-FUZZ status=0' "$A/log" && grep -Eq '^VATTACK-FUZZ-DONE devices=[3-9] .*bar_writes=[1-9][0-9]* changed=0' "$A/log" &&
		ok attack-fuzz || fail attack-fuzz "$(grep -a 'VATTACK-FUZZ' "$A/log" | head -n 5 | tr '\n' ' ')"
	n=$(grep -c '^VATTACK-PORTS [a-z0-9]* accesses=' "$A/log")
	[ "$n" = 6 ] && grep -q '^L2-ATTACK-PORTS status=0' "$A/log" && ok attack-ports ||
		fail attack-ports "$n storms; $why"
	# The console after the UART storm: the lines after it came through.
	grep -q '^L2-ATTACK-AFTER ' "$A/log" && ok attack-ports-console || fail attack-ports-console "$why"
	grep -Eq "^L2-ATTACK-BEFORE vdb=$b_sum rng=102[0-4]\$" "$A/log" &&
		grep -Eq "^L2-ATTACK-MID vdb=$b_sum rng=102[0-4]\$" "$A/log" &&
		grep -Eq "^L2-ATTACK-AFTER vda=[0-9a-f]+ vdb=$b_sum rng=[0-9]+\$" "$A/log" &&
		ok attack-others-work || fail attack-others-work "want vdb $b_sum; $why"
	grep -Eq "^L2-ATTACK-AFTER vda=$a_sum vdb=[0-9a-f]+ rng=102[0-4]\$" "$A/log" && ok attack-reset-recovers ||
		fail attack-reset-recovers "want vda $a_sum; $why"
	echo "    idle guest: the VMM took ${cpu:-?} ticks of CPU in 2 s"
	if [ -n "$cpu" ] && [ "$cpu" -lt 60 ]; then ok attack-no-spin; else
		fail attack-no-spin "${cpu:-no} ticks of CPU in 2 s of an idle guest"
	fi
	# A BAR moved over another device's is refused with a line: that is no fault.
	others=$(grep -v 'the guest driver broke the device\|overlaps another device; not mapped' "$A/err" | head -n 5 | tr '\n' ' ')
	[ -z "$others" ] && ok attack-stderr-clean || fail attack-stderr-clean "$others"
	files >"$A/files.after"
	if cmp -s "$A/files.before" "$A/files.after" && [ "$(ls "$A" | tr '\n' ' ')" = "a.img b.img decoy-link.img decoy.img err files.after files.before log out " ]; then
		ok attack-files-untouched
	else
		fail attack-files-untouched "$(diff "$A/files.before" "$A/files.after" | tr '\n' ' ') $(ls "$A" | tr '\n' ' ')"
	fi
}
# A reboot through the reset register (0xcf9) with eight disk reads in
# flight is a legitimate one: shale ends cleanly (--on-reboot=exit).
attack_reboot_tests() {
	if [ ! -s "$W/attack/a.img" ]; then
		skip attack-reboot-busy "no disk image from the attack tests"
		return
	fi
	expect attack-reboot-busy 0 '^VATTACK-REBOOT completed=[1-9]' '^shale: guest rebooted' \
		$RUN --on-reboot=exit --kernel "$BZ" --cmdline "$BASE shale.test=attack-reboot" \
		--disk "$W/attack/a.img"
	if [ "$(grep -cv '^shale: guest rebooted' "$T_ERR")" = 0 ] && ! grep -q VATTACK-REBOOT-IGNORED "$T_OUT"; then
		ok attack-reboot-busy-clean
	else
		fail attack-reboot-busy-clean "$(head -n 3 "$T_ERR" | tr '\n' ' ')"
	fi
}
# A queue full of WRITE_ZEROES requests, each 16 times the whole disk
# (64 MiB): where the file system cannot zero a range (tmpfs, the lab's
# disk) each is 1 GiB of writes. --timeout (20 s) still ends the VM at
# once: a stopping VM's devices take no more requests and stop a long
# one between chunks.
attack_zeroes_tests() {
	head -c 67108864 /dev/zero >"$W/attack/z.img"
	t0=$(date +%s)
	expect attack-zeroes-timeout 124 '^VATTACK-ZEROES sectors=131072 queued=128' 'timeout' \
		"$SHALE" run --memory 256M --initrd "$INITRD" --timeout 20s --kernel "$BZ" \
		--cmdline "$BASE shale.test=attack-zeroes" --disk "$W/attack/z.img"
	t=$(($(date +%s) - t0))
	echo "    zeroes: shale ended $t s after it started (--timeout 20s)"
	# 20 s and the boot's end: well under a minute even in the lab.
	[ "$t" -le 35 ] && ok attack-zeroes-stop-at-once || fail attack-zeroes-stop-at-once "shale took $t s"
	rm -f "$W/attack/z.img"
}
if only attack; then
	attack_tests
	attack_reboot_tests
	attack_zeroes_tests
fi
if [ "${SHALE_LINUX_ONLY:-}" = attack ]; then
	summary
	exit
fi

# virtio-blk: three disks (tests/linux/init, shale.test=blk): vda filled by
# the host and read by the guest, vdb read-only, vdc written by the guest
# (fsync'ed), discarded in part, and written once more, flushed, before
# the host kills the VMM with SIGKILL: what the guest flushed is in the
# image.
mb() { dd if="$1" bs=1048576 skip="$2" count="$3" 2>/dev/null | md5sum | cut -d' ' -f1; }
V=$W/blk
mkdir -p "$V"
head -c 4194304 /dev/urandom >"$V/a.img"
head -c 2097152 /dev/urandom >"$V/b.img"
head -c 8388608 /dev/urandom >"$V/c.img"
a_sum=$(mb "$V/a.img" 0 4)
b_sum=$(mb "$V/b.img" 0 2)
c_rest=$(mb "$V/c.img" 4 4)
zero_sum=$(head -c 1048576 /dev/zero | md5sum | cut -d' ' -f1)
$RUN --control "$V/ctl" --kernel "$BZ" --cmdline "$BASE shale.test=blk" \
	--disk "$V/a.img,serial=shale-a" --disk "$V/b.img,ro" --disk "$V/c.img,serial=shale-c" \
	</dev/null >"$V/out" 2>"$V/err" &
pid=$!
i=0
while ! grep -q L2-BLK-SYNCED "$V/out" && kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
	sleep 1
	i=$((i + 1))
done
"$CTL" "$V/ctl" '{"op":"stats"}' >"$V/stats" 2>&1
kill -9 "$pid" 2>/dev/null
wait "$pid"
tr -d '\r' <"$V/out" >"$V/log"
blk_check() { # NAME PATTERN WHY
	if grep -Eq "$2" "$V/log"; then ok "$1"; else
		fail "$1" "$3; $(grep -a '^L2-BLK' "$V/log" | tr '\n' ' ') $(tail -n 3 "$V/err" | tr '\n' ' ')"
	fi
}
blk_check blk-devices '^L2-BLK-DEV vda sectors=8192 ro=0 serial=shale-a$' "vda not seen"
blk_check blk-several '^L2-BLK-DEV vdc sectors=16384 ro=0 serial=shale-c$' "vdc not seen"
blk_check blk-readonly-seen '^L2-BLK-DEV vdb sectors=4096 ro=1 serial=$' "vdb not seen read-only"
blk_check blk-host-to-guest "^L2-BLK-READ vda $a_sum\$" "the guest read other data"
blk_check blk-features '^L2-BLK-FEATURES indirect=1 event_idx=1 flush=1$' "features not negotiated"
if grep -q '^L2-BLK-RO-WRITE status=[1-9]' "$V/log" && [ "$(mb "$V/b.img" 0 2)" = "$b_sum" ]; then
	ok blk-readonly-refused
else
	fail blk-readonly-refused "$(grep -a RO-WRITE "$V/log"); image $(mb "$V/b.img" 0 2) want $b_sum"
fi
if grep -q '^L2-BLK-WRITE status=0' "$V/log" && [ "$(mb "$V/c.img" 0 1)" = "$MD5" ]; then
	ok blk-guest-to-host
else
	fail blk-guest-to-host "$(grep -a BLK-WRITE "$V/log"); image $(mb "$V/c.img" 0 1) want $MD5"
fi
blk_check blk-readback "^L2-BLK-READBACK $MD5\$" "O_DIRECT read back differs"
if grep -q '^L2-BLK-DISCARD status=0' "$V/log" && [ "$(mb "$V/c.img" 3 1)" = "$zero_sum" ]; then
	ok blk-discard
else
	fail blk-discard "$(grep -a DISCARD "$V/log"); [3M, 4M) not zeros"
fi
if grep -q '^L2-BLK-SYNCED status=0' "$V/log" && [ "$(mb "$V/c.img" 1 1)" = "$MD5" ] &&
	grep -Eq '"flushes":[1-9]' "$V/stats"; then
	ok blk-flush-kill
else
	fail blk-flush-kill "$(grep -a SYNCED "$V/log"); image [1M, 2M) $(mb "$V/c.img" 1 1); $(cat "$V/stats")"
fi
[ "$(mb "$V/c.img" 4 4)" = "$c_rest" ] && ok blk-untouched || fail blk-untouched "vdc changed past 4 MiB"
expect blk-missing-disk 125 '' 'nope.img: No such file' $RUN --kernel "$BZ" --disk "$W/nope.img"
# virtio-console: hvc0's output reaches shale's stdout.
expect hvc 0 '^L2-HVC-HELLO through hvc0' '' $RUN --kernel "$BZ" --console virtio \
	--cmdline "$BASE shale.test=hvc"
expect console-bad 125 '' "want serial or virtio, not 'usb'" $RUN --kernel "$BZ" --console usb
# virtio-rng: the guest's hardware RNG, 4096 distinct 16-byte lines in 64 KiB.
expect rng 0 '^L2-RNG-CURRENT virtio_rng' '' $RUN --kernel "$BZ" --rng --cmdline "$BASE shale.test=rng"
if grep -Eq '^L2-RNG-LINES +(409[0-6])[[:space:]]*$' "$T_OUT"; then ok rng-random; else fail rng-random "$(grep -a L2-RNG "$T_OUT")"; fi
# A reboot builds the devices again on the disks opened once (the sandbox
# lets nothing be opened by name by then).
expect blk-reboot 124 'L2-BLK-READ' 'timeout' "$SHALE" run --memory 256M --initrd "$INITRD" \
	--timeout 40s --kernel "$BZ" --cmdline "$BASE shale.test=blk-reboot" --disk "$V/a.img,ro"
reads=$(grep -c "^L2-BLK-READ vda $a_sum" "$T_OUT")
[ "$reads" -ge 2 ] && ok blk-reboot-read || fail blk-reboot-read "read the disk in $reads boot(s)"
# Without MSI (pci=nomsi) the driver takes INTA, through the _PRT; with
# it, MSI-X (two vCPUs: the vector may point at either).
expect blk-intx 0 "^L2-BLK-READ vda $a_sum" '' $RUN --kernel "$BZ" \
	--cmdline "$BASE pci=nomsi shale.test=blk-read" --disk "$V/a.img,ro"
grep -q '^L2-BLK-IRQ .*IO-APIC' "$T_OUT" && ok blk-intx-ioapic ||
	fail blk-intx-ioapic "$(grep -a L2-BLK-IRQ "$T_OUT")"
expect blk-msix 0 "^L2-BLK-READ vda $a_sum" '' $RUN --kernel "$BZ" --cpus 2 \
	--cmdline "$BASE shale.test=blk-read" --disk "$V/a.img,ro"
grep -q '^L2-BLK-IRQ .*PCI-MSI' "$T_OUT" && ok blk-msix-used ||
	fail blk-msix-used "$(grep -a L2-BLK-IRQ "$T_OUT")"
# A file system on a virtio disk: made and filled by the guest, read back
# from the disk after a remount, and again by a second VM on the image.
: >"$V/fs.img"
truncate -s 32M "$V/fs.img"
expect blk-fs 0 "^L2-FS-READ $MD5" '' $RUN --kernel "$BZ" \
	--cmdline "$BASE shale.test=blk-fs" --disk "$V/fs.img"
grep -q '^L2-FS-MKFS ok' "$T_OUT" && grep -q '^L2-FS-UMOUNT ok' "$T_OUT" && ok blk-fs-made ||
	fail blk-fs-made "$(grep -a '^L2-FS' "$T_OUT" | tr '\n' ' ')"
expect blk-fs-again 0 "^L2-FS-READ $MD5" '' $RUN --kernel "$BZ" \
	--cmdline "$BASE shale.test=blk-fs" --disk "$V/fs.img"
grep -q '^L2-FS-MKFS' "$T_OUT" && fail blk-fs-kept "the second boot made the file system again" ||
	ok blk-fs-kept
# Unbound and bound again (a reset by the driver), then removed from the
# bus and found by a rescan (BAR and MSI-X again): the same data each time.
expect blk-rebind 0 "^L2-BLK-REBIND $a_sum $a_sum $a_sum" '' $RUN --kernel "$BZ" \
	--cmdline "$BASE shale.test=blk-rebind" --disk "$V/a.img,ro"
if [ "${SHALE_LINUX_ONLY:-}" = blk ]; then
	summary
	exit
fi

# Boot to init with 1, 2 and 4 vCPUs: all online; command line and initrd intact.
for n in 1 2 4; do
	last=$((n - 1))
	want="online=0"
	[ "$n" -gt 1 ] && want="online=0-$last"
	expect "boot-${n}cpu" 0 "L2-CPUS $want nproc=$n" '' \
		$RUN --kernel "$BZ" --cpus "$n" --cmdline "$BASE shale.arg=x$n"
	grep -q "L2-CMDLINE .*shale.arg=x$n" "$T_OUT" && ok "cmdline-${n}cpu" ||
		fail "cmdline-${n}cpu" "command line not seen by the guest"
	grep -q "L2-INITRD $MD5" "$T_OUT" && ok "initrd-${n}cpu" ||
		fail "initrd-${n}cpu" "initrd content differs"
	acpi_clean "acpi-clean-${n}cpu"
done

# The same kernel as an ELF vmlinux through its PVH entry.
expect boot-pvh 0 'L2-CPUS online=0-1 nproc=2' '' \
	$RUN --kernel "$VMLINUX" --cpus 2 --cmdline "$BASE"
grep -q "L2-INITRD $MD5" "$T_OUT" && ok initrd-pvh || fail initrd-pvh "initrd content differs"
acpi_clean acpi-clean-pvh

# PCI bus 0 through ACPI: the kernel bound the PNP0A03 root bridge PCI0 to
# pci0000:00, found the 440FX host bridge at 00:00.0 on the bus it
# scanned, and took bus number and windows from the bridge's _CRS.
expect pci-root 0 'L2-PCI-ROOT PNP0A03:00 acpi=1' '' $RUN --kernel "$BZ" --cmdline "$BASE"
grep -q 'L2-PCI-HOST 0x8086:0x1237' "$T_OUT" && ok pci-host-bridge ||
	fail pci-host-bridge "$(grep L2-PCI-HOST "$T_OUT" | tr -d '\r')"
missing=
for w in 'bus 00' 'io +0x0000-0x0cf7 window' 'io +0x0d00-0xffff window' \
	'mem 0xc0000000-0xfebfffff window'; do
	grep -Eq "^L2-PCI-WINDOW $w" "$T_OUT" || missing="$missing [$w]"
done
[ -z "$missing" ] && ok pci-windows ||
	fail pci-windows "not among the root bus resources:$missing"
acpi_clean acpi-clean-pci

# Memory size seen by the guest: MemTotal is RAM minus what the kernel keeps.
expect memory-512m 0 'L2-MEM' '' "$SHALE" run --memory 512M --initrd "$INITRD" \
	--timeout 120s --kernel "$BZ" --cmdline "$BASE"
kb=$(sed -n 's/^L2-MEM //p' "$T_OUT" | tr -d '\r')
if [ -n "$kb" ] && [ "$kb" -gt 400000 ] && [ "$kb" -le 524288 ]; then
	ok memory-512m-seen
else
	fail memory-512m-seen "MemTotal ${kb:-?} kB for 512 MiB"
fi

# The guest's clock comes from the CMOS RTC: close to the host's.
expect rtc 0 'L2-DATE' '' $RUN --kernel "$BZ" --cmdline "$BASE"
guest=$(sed -n 's/^L2-DATE //p' "$T_OUT" | tr -d '\r')
host=$(date -u +%s)
d=$((host - ${guest:-0}))
[ "$d" -lt 0 ] && d=$((-d))
if [ -n "$guest" ] && [ "$d" -le 10 ]; then ok rtc-close; else fail rtc-close "guest ${guest:-?} host $host"; fi

# shell_guest NAME KERNEL: boots KERNEL into a shell in the background,
# its output in $W/NAME.out and .err, its input a fifo open on fd 3; waits
# until the shell is ready. Sets pid; finish_shell waits for it (sets got).
shell_guest() {
	mkfifo "$W/$1.in"
	$RUN --kernel "$2" --cmdline "$BASE shale.test=shell" <"$W/$1.in" >"$W/$1.out" \
		2>"$W/$1.err" &
	pid=$!
	exec 3>"$W/$1.in"
	i=0
	while ! grep -q L2-SHELL-READY "$W/$1.out" && [ $i -lt 100 ]; do sleep 1; i=$((i + 1)); done
	sleep 1
}
finish_shell() {
	wait "$pid"
	got=$?
	exec 3>&-
}

# Serial input reaches a shell in the guest and its answer comes back.
shell_guest shell "$BZ"
echo 'echo "L2-ANSWER $((6 * 7))"; poweroff -f' >&3
finish_shell
if [ "$got" = 0 ] && grep -q 'L2-ANSWER 42' "$W/shell.out"; then
	ok serial-input
else
	fail serial-input "status $got; $(tail -n 3 "$W/shell.out" | tr '\n' ' ')"
fi

# Piped input far larger than the UART's buffer, all there before the guest
# boots, arrives whole: shale reads a pipe no faster than the guest takes it.
i=0
while [ $i -lt 448 ]; do
	printf 'line %05d abcdefghijklmnopqrstuvwxy\n' $i
	i=$((i + 1))
done >"$W/bulk"
size=$(wc -c <"$W/bulk")
sum=$(md5sum "$W/bulk" | cut -d' ' -f1)
{
	echo "stty -echo; head -c $size >/bulk; echo L2-BULK \$(md5sum </bulk); poweroff -f"
	cat "$W/bulk"
} >"$W/bulk-in"
timeout "$T_LIMIT" $RUN --kernel "$BZ" --cmdline "$BASE shale.test=shell" <"$W/bulk-in" \
	>"$W/bulk.out" 2>&1
got=$?
if [ "$got" = 0 ] && grep -q "L2-BULK $sum" "$W/bulk.out"; then
	ok serial-input-bulk
else
	fail serial-input-bulk "status $got, $size bytes sent; $(grep -a L2-BULK "$W/bulk.out" | tail -n 1)"
fi

# At a terminal: raw mode, typed keys reach the guest's shell, Ctrl-A x
# quits, and the terminal's settings are restored (ptyrun checks them).
expect terminal-escape 0 'quit from the console' '' \
	"$PTYRUN" -w L2-SHELL-READY -s 'echo "L2-TTY $((6 * 7))"\r' -w 'L2-TTY 42' -s '\x01x' -- \
	$RUN --kernel "$BZ" --cmdline "$BASE shale.test=shell"
grep -q 'L2-TTY 42' "$T_OUT" && ok terminal-input || fail terminal-input "no answer from the guest"

# Managed mode (shaled): the control socket, console log and exit file with
# a Linux guest; console input from a control client reaches its shell.
M=$W/managed
mkdir -p "$M"
$RUN --control "$M/ctl" --console-log "$M/console.log" --exit-file "$M/exit.json" \
	--kernel "$BZ" --cpus 2 --cmdline "$BASE shale.test=shell" </dev/null >"$M/out" 2>"$M/err" &
pid=$!
i=0
while ! grep -q L2-SHELL-READY "$M/console.log" 2>/dev/null && [ $i -lt 100 ]; do sleep 1; i=$((i + 1)); done
"$CTL" "$M/ctl" '{"op":"info"}' '{"op":"pause"}' '{"op":"info"}' '{"op":"resume"}' '{"op":"stats"}' >"$T_OUT" 2>"$T_ERR"
if grep -q "^{\"ok\":true,\"state\":\"running\",\"pid\":$pid,\"kind\":\"linux\",\"vcpus\":2,\"memory_bytes\":268435456}" "$T_OUT" &&
	grep -q '"state":"paused","pid"' "$T_OUT" && grep -q '^{"ok":true,"state":"running"}$' "$T_OUT" &&
	grep -Eq '"exits":\{"io":[1-9][0-9]*,' "$T_OUT" && [ ! -s "$M/out" ]; then
	ok managed-linux-control
else
	fail managed-linux-control "$(cat "$T_OUT")"
fi
nl='
'
"$CTL" -c 5000 "$M/ctl" "echo \"L2-CTL \$((6 * 7))\"$nl" >"$T_OUT" 2>"$T_ERR"
if grep -q 'L2-CTL 42' "$T_OUT" && grep -q 'L2-CTL 42' "$M/console.log"; then
	ok managed-linux-console
else
	fail managed-linux-console "$(tail -c 300 "$M/console.log")"
fi
"$CTL" "$M/ctl" '{"op":"shutdown"}' '{"op":"kill"}' >"$T_OUT" 2>"$T_ERR"
wait "$pid"
got=$?
if [ "$got" = 137 ] && [ "$(grep -c '^{"ok":true}$' "$T_OUT")" = 2 ] &&
	grep -q '^{"reason":"killed","status":137,' "$M/exit.json"; then
	ok managed-linux-kill
else
	fail managed-linux-kill "status $got; $(cat "$T_OUT" "$M/exit.json" 2>&1)"
fi

# Power-off, reboot, panic and triple fault.
expect poweroff 0 'L2-INIT' 'setup_cpu_us=start:[0-9]+,kvm:[0-9]+,memory:[0-9]+,acpi:[0-9]+,load:[0-9]+,devices:[0-9]+,vcpus:[0-9]+,sandbox:[0-9]+,enter:[0-9]+ exits=[1-9][0-9]*$' \
	$RUN --stats --kernel "$BZ" --cmdline "$BASE"
expect reboot-exit 0 'L2-INIT' 'guest rebooted' \
	$RUN --on-reboot=exit --kernel "$BZ" --cmdline "$BASE shale.test=reboot"
expect reboot-restart 124 'L2-INIT' 'timeout' "$SHALE" run --stats --memory 256M \
	--initrd "$INITRD" --timeout 40s --kernel "$BZ" --cmdline "$BASE shale.test=reboot"
boots=$(grep -c L2-INIT "$T_OUT")
[ "$boots" -ge 2 ] && ok reboot-restarted || fail reboot-restarted "booted $boots time(s)"
stats=$(grep -c '^shale-stats: ' "$T_ERR")
[ "$stats" = 1 ] && ok stats-once || fail stats-once "$stats stats lines for one run"
expect panic 126 'L2-INIT' 'guest kernel panic' \
	$RUN --kernel "$BZ" --cmdline "$BASE shale.test=panic"
expect triple-fault 126 'L2-INIT' 'triple fault' \
	$RUN --on-reboot=exit --kernel "$BZ" --cmdline "$BASE reboot=t shale.test=reboot"

# The kernel file is emptied while its guest runs (a kernel replaced in
# place): the reboot that would parse it again is refused with a message.
cp "$BZ" "$W/bz-copy"
shell_guest shrink "$W/bz-copy"
: >"$W/bz-copy"
echo 'reboot -f' >&3
finish_shell
if [ "$got" = 125 ] && grep -q 'shrank since shale started' "$W/shrink.err"; then
	ok kernel-shrank
else
	fail kernel-shrank "status $got; $(tail -n 2 "$W/shrink.err" | tr '\n' ' ')"
fi

# Bad kernels and initrds are refused with a message.
printf 'not a kernel at all' >"$W/junk"
head -c 600000 "$BZ" >"$W/short-bz"
expect bad-kernel 125 '' 'not a Linux kernel' "$SHALE" run --kernel "$W/junk"
expect truncated-kernel 125 '' 'truncated' "$SHALE" run --kernel "$W/short-bz"
expect missing-initrd 125 '' 'No such file' "$SHALE" run --kernel "$BZ" --initrd "$W/nope"
expect initrd-too-large 125 '' 'initrd too large' "$SHALE" run --memory 64M --kernel "$BZ" \
	--initrd "$VMLINUX"
expect kernel-too-large 125 '' 'needs more memory' "$SHALE" run --memory 16M --kernel "$VMLINUX"

# A graceful shutdown: the control socket's shutdown presses the ACPI power
# button, and a guest that listens (the button driver and acpid) powers off.
$RUN --control "$M/ctl2" --console-log "$M/button.log" --exit-file "$M/button.json" \
	--kernel "$BZ" --cmdline "$BASE shale.test=button" </dev/null >/dev/null 2>"$M/button.err" &
pid=$!
i=0
while ! grep -Eq 'L2-BUTTON-(READY|MISSING)' "$M/button.log" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 1
	i=$((i + 1))
done
if grep -q L2-BUTTON-MISSING "$M/button.log"; then
	kill "$pid"
	wait "$pid"
	skip managed-linux-shutdown "the initramfs has no button.ko for this kernel"
else
	"$CTL" "$M/ctl2" '{"op":"shutdown"}' >"$T_OUT" 2>"$T_ERR"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
	wait "$pid"
	got=$?
	if [ "$got" = 0 ] && grep -q L2-POWER-BUTTON "$M/button.log" &&
		grep -q '"reason":"poweroff"' "$M/button.json"; then
		ok managed-linux-shutdown
	else
		kill "$pid" 2>/dev/null
		fail managed-linux-shutdown "status $got; $(tail -c 300 "$M/button.log" | tr '\r\n' '  ')"
	fi
fi

# A Linux VM managed by shaled, driven with the shale commands: created,
# started, its console log and counters read, paused and resumed, asked to
# shut down (this guest has no power-button handler, so the timeout kills
# it), started again, killed and removed.
SHALED=$(dirname "$0")/shaled
if [ -x "$SHALED" ]; then
	D=$W/daemon
	mkdir -p "$D"
	"$SHALED" --socket "$D/api.sock" --state-dir "$D/state" --vmm "$(cd "$(dirname "$SHALE")" && pwd)/${SHALE##*/}" \
		2>"$D/shaled.log" &
	dpid=$!
	i=0
	while [ ! -S "$D/api.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	export SHALE_SOCKET="$D/api.sock"
	abs() { echo "$(cd "$(dirname "$1")" && pwd)/${1##*/}"; }
	expect daemon-linux-create 0 '^lin: created' '' "$SHALE" create lin --kernel "$(abs "$BZ")" \
		--initrd "$(abs "$INITRD")" --cmdline "$BASE shale.test=shell" --cpus 2 --memory 256M \
		--disk "$(abs "$V/a.img"),ro,serial=daemon-a"
	expect daemon-linux-start 0 '^lin: running' '' "$SHALE" start lin
	i=0
	while ! "$SHALE" logs lin 2>/dev/null | grep -q L2-SHELL-READY && [ $i -lt 120 ]; do
		sleep 1
		i=$((i + 1))
	done
	expect daemon-linux-logs 0 'L2-CPUS online=0-1 nproc=2' '' "$SHALE" logs lin
	expect daemon-linux-stats 0 'exits: +io [1-9]' '' "$SHALE" stats lin
	expect daemon-linux-disk 0 'disk: +/.*a.img \(read-only\) serial daemon-a' '' "$SHALE" info lin
	expect daemon-linux-pause 0 '^lin: paused' '' "$SHALE" pause lin
	expect daemon-linux-resume 0 '^lin: running' '' "$SHALE" resume lin
	expect daemon-linux-stop 0 '' '' "$SHALE" stop lin --timeout 2s
	i=0
	while ! "$SHALE" info lin | grep -q 'state: *stopped' && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
	expect daemon-linux-stop-timeout 0 'did not shut down in time' '' "$SHALE" info lin
	# A guest that answers the power button stops gracefully.
	expect daemon-linux-create-button 0 '^btn: created' '' "$SHALE" create btn \
		--kernel "$(abs "$BZ")" --initrd "$(abs "$INITRD")" --cmdline "$BASE shale.test=button"
	expect daemon-linux-start-button 0 '^btn: running' '' "$SHALE" start btn
	i=0
	while ! "$SHALE" logs btn 2>/dev/null | grep -Eq 'L2-BUTTON-(READY|MISSING)' && [ $i -lt 120 ]; do
		sleep 1
		i=$((i + 1))
	done
	if "$SHALE" logs btn | grep -q L2-BUTTON-READY; then
		expect daemon-linux-shutdown 0 '' '' "$SHALE" stop btn --timeout 60s
		i=0
		while ! "$SHALE" info btn | grep -q 'state: *stopped' && [ $i -lt 300 ]; do
			sleep 0.2
			i=$((i + 1))
		done
		expect daemon-linux-shutdown-reason 0 'last stop: +shutdown' '' "$SHALE" info btn
	else
		"$SHALE" kill btn >/dev/null
		skip daemon-linux-shutdown "the initramfs has no button.ko for this kernel"
	fi
	expect daemon-linux-rm-button 0 '^btn: removed' '' "$SHALE" rm btn
	expect daemon-linux-restart 0 '^lin: running' '' "$SHALE" start lin
	expect daemon-linux-kill 0 '^lin: stopped' '' "$SHALE" kill lin
	expect daemon-linux-rm 0 '^lin: removed' '' "$SHALE" rm lin
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
else
	skip daemon-linux "no shaled next to this script"
fi

summary

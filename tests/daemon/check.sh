#!/bin/sh
# The management daemon, driven through its HTTP API with curl: bad
# requests, definitions that persist, and - where this host runs
# para-virtual guests directly - the lifecycle of real VMs: start, stats,
# logs, pause, resume, shutdown, kill, a killed VMM, a killed and restarted
# daemon, the VM's directory (the daemon's) and the VMM's run/ within it,
# files a VMM could plant there, state directories of the layout before
# run/, limits, and 100 VMs at once.
#
# usage: check.sh BUILD_DIR
set -u
B=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/integration/lib.sh"

SHALE=$B/shale
SHALED=$B/shaled
HELLO=$B/g/examples/hello.elf
IDLE=$B/g/examples/idle.elf
W=$(mktemp -d "${TMPDIR:-/tmp}/shaled-test.XXXXXX")
SOCK=$W/api.sock
STATE=$W/state
DPID=

if ! command -v curl >/dev/null; then
	echo "SKIP daemon: curl is missing (scripts/deps.sh check installs it)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	# VMMs outlive the daemon by design: stop every one this test started.
	for p in $(pgrep -f -- "--control=$STATE/" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

start_daemon() {
	"$SHALED" --socket "$SOCK" --state-dir "$STATE" --vmm "$SHALE" "$@" 2>>"$W/shaled.log" &
	DPID=$!
	# Until it answers: a daemon killed with SIGKILL left its socket file.
	i=0
	while ! curl -s -m 5 -o /dev/null --unix-socket "$SOCK" http://shale/v1/host &&
		[ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

stop_daemon() { # SIGNAL
	kill "-$1" "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

# api METHOD PATH [BODY]: the response body in $T_OUT, the status in $CODE.
api() {
	if [ $# -ge 3 ]; then
		CODE=$(curl -s -m 30 -o "$T_OUT" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
			-H 'Content-Type: application/json' --data-binary "$3" "http://shale$2")
	else
		CODE=$(curl -s -m 30 -o "$T_OUT" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
			"http://shale$2")
	fi
	: >"$T_ERR"
}

# check NAME CODE BODY_RE METHOD PATH [BODY]
check() {
	name=$1 want=$2 re=$3
	shift 3
	api "$@"
	if [ "$CODE" != "$want" ]; then
		fail "$name" "HTTP status $CODE, want $want"
	elif [ -n "$re" ] && ! grep -Eq -- "$re" "$T_OUT"; then
		fail "$name" "body does not match /$re/"
	else
		ok "$name"
	fi
}

# The top-level "state" of a VM (the config holds no such key).
state_of() {
	api GET "/v1/vms/$1"
	sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' "$T_OUT"
}
pid_of() {
	api GET "/v1/vms/$1"
	sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$T_OUT"
}

# wait_state VM STATE [TENTHS]: 0 once the VM is in STATE.
wait_state() {
	i=0
	while [ $i -lt "${3:-50}" ]; do
		[ "$(state_of "$1")" = "$2" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# expect_state NAME VM STATE [TENTHS]
expect_state() {
	if wait_state "$2" "$3" "${4:-50}"; then ok "$1"; else fail "$1" "state $(state_of "$2"), want $3"; fi
}

pv() { # NAME GUEST [EXTRA JSON]
	printf '{"name":"%s","guest":"%s","memory_mib":8%s}' "$1" "$2" "${3:-}"
}

start_daemon
if [ ! -S "$SOCK" ]; then
	echo "FAIL daemon-start: no socket at $SOCK"
	cat "$W/shaled.log"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

# ---- the daemon itself ----
mode=$(stat -c %a "$SOCK")
if [ "$mode" = 660 ]; then ok socket-mode; else fail socket-mode "mode $mode, want 660"; fi
expect second-daemon 1 '' 'another shaled already answers' \
	"$SHALED" --socket "$SOCK" --state-dir "$W/other" --vmm "$SHALE"
expect daemon-bad-option 2 '' "bad option '--frobnicate'" "$SHALED" --frobnicate
expect daemon-help 0 'Usage: shaled' '' "$SHALED" --help
check host 200 "\"version\":\"[0-9.]+\",\"host_kind\":\"$("$SHALE" host --kind)\",\"cpus\":[0-9]+,\"memory_bytes\":[0-9]+" GET /v1/host
expect tcp-not-loopback 1 '' 'only loopback addresses' \
	"$SHALED" --socket "$W/other.sock" --state-dir "$W/other" --vmm "$SHALE" --tcp 0.0.0.0:8080

# Only root, the daemon's user and the socket's group get answers, even
# through a socket whose mode would let anyone connect.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$W"
	chmod 666 "$SOCK"
	code=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://shale/v1/vms 2>/dev/null)
	chmod 660 "$SOCK"
	chmod 700 "$W"
	if [ "$code" = 403 ]; then ok peer-credentials; else fail peer-credentials "HTTP status $code for uid 65534, want 403"; fi
else
	skip peer-credentials "needs root and setpriv to connect as another user"
fi
check list-empty 200 '^\{"vms":\[\]\}' GET /v1/vms
check metrics 200 '^shale_vms\{state="running"\} 0' GET /v1/metrics

# ---- bad requests: a 4xx with a message, and the daemon stays up ----
check bad-json 400 '"error":"bad JSON' POST /v1/vms '{"name": "x",'
check bad-trailing 400 'data after the object' POST /v1/vms "$(pv x "$HELLO")}"
check bad-not-object 400 'want a JSON object' POST /v1/vms '[1,2]'
check bad-unknown-field 400 "unknown field 'color'" POST /v1/vms "$(pv x "$HELLO" ',"color":"red"')"
check bad-name-slash 400 'name: want' POST /v1/vms "$(pv ../x "$HELLO")"
check bad-name-long 400 'name: ' POST /v1/vms "$(pv "$(printf 'a%.0s' $(seq 70))" "$HELLO")"
check bad-relative-path 400 'guest: want an absolute path' POST /v1/vms '{"name":"x","guest":"hello.elf"}'
check bad-missing-file 400 'No such file' POST /v1/vms "$(pv x /nonexistent.elf)"
check bad-both-kinds 400 'exactly one of guest' POST /v1/vms \
	"{\"name\":\"x\",\"guest\":\"$HELLO\",\"kernel\":\"$HELLO\"}"
check bad-memory-huge 400 'memory_mib: want' POST /v1/vms \
	"{\"name\":\"x\",\"guest\":\"$HELLO\",\"memory_mib\":1000000000000000}"
check bad-memory-type 400 'memory_mib: want an integer' POST /v1/vms \
	"{\"name\":\"x\",\"guest\":\"$HELLO\",\"memory_mib\":\"lots\"}"
check bad-memory-odd 400 'multiple of 2' POST /v1/vms "{\"name\":\"x\",\"guest\":\"$HELLO\",\"memory_mib\":9}"
check bad-args 400 'args' POST /v1/vms "{\"name\":\"x\",\"guest\":\"$HELLO\",\"args\":[1]}"
check bad-mac 400 'mac: want a unicast' POST /v1/vms \
	"{\"name\":\"x\",\"guest\":\"$HELLO\",\"nets\":[{\"tap\":\"t0\",\"mac\":\"01:00:00:00:00:01\"}]}"
check bad-cpulist 400 'limits.cpus' POST /v1/vms "$(pv x "$HELLO" ',"limits":{"cpus":"3-1"}')"
big=$W/big.json
{ printf '{"name":"x","cmdline":"'; head -c 100000 /dev/zero | tr '\0' a; printf '"}'; } >"$big"
CODE=$(curl -s -o "$T_OUT" -w '%{http_code}' --unix-socket "$SOCK" -X POST --data-binary "@$big" http://shale/v1/vms)
if [ "$CODE" = 413 ]; then ok bad-body-too-large; else fail bad-body-too-large "HTTP status $CODE, want 413"; fi
check bad-resource 404 'no such resource' GET /v2/vms
check bad-vm 404 'no VM named nope' GET /v1/vms/nope
check bad-vm-name 400 'a VM name is' GET '/v1/vms/-x'
check bad-action 404 'no such action' POST /v1/vms/nope/explode
check bad-method 405 'method not allowed' PUT /v1/vms
check bad-start-missing 404 'no VM named nope' POST /v1/vms/nope/start
check bad-shutdown-body 400 "unknown field 'when'" POST /v1/vms/nope/shutdown '{"when":1}'
check daemon-alive 200 '"vms":\[\]' GET /v1/vms

# systemd socket activation: the daemon serves the socket it is given.
if command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate -l "$W/act.sock" "$SHALED" --state-dir "$W/act" --vmm "$SHALE" \
		2>"$W/act.log" &
	apid=$!
	i=0
	while [ ! -S "$W/act.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	CODE=$(curl -s -m 10 -o "$T_OUT" -w '%{http_code}' --unix-socket "$W/act.sock" http://shale/v1/vms)
	if [ "$CODE" = 200 ] && grep -q 'ready on the activated socket' "$W/act.log"; then
		ok socket-activation
	else
		fail socket-activation "HTTP status $CODE; $(cat "$W/act.log")"
	fi
	kill "$apid" 2>/dev/null
	pkill -f -- "--state-dir $W/act" 2>/dev/null
	wait "$apid" 2>/dev/null
else
	skip socket-activation "systemd-socket-activate is not installed"
fi

# ---- definitions ----
check create 201 '"name":"h1","state":"created"' POST /v1/vms "$(pv h1 "$HELLO" ',"args":["a b","c"]')"
check create-exists 409 'a VM named h1 exists' POST /v1/vms "$(pv h1 "$HELLO")"
check info 200 '"args":\["a b","c"\]' GET /v1/vms/h1
check list-one 200 '"name":"h1"' GET /v1/vms
if [ -f "$STATE/vms/h1/config.json" ]; then ok create-saved; else fail create-saved "no config.json"; fi
# The VM's directory is the daemon's alone; the VMM gets run/ within it.
mode=$(stat -c '%U %a' "$STATE/vms/h1" 2>&1)/$(stat -c '%a' "$STATE/vms/h1/config.json" 2>&1)
if [ "$mode" = "$(id -un) 700/600" ] && [ -d "$STATE/vms/h1/run" ]; then
	ok create-layout
else
	fail create-layout "directory and config.json: $mode; $(ls -la "$STATE/vms/h1" 2>&1 | tr '\n' ' ')"
fi
stop_daemon TERM
start_daemon
check persist-restart 200 '"name":"h1","state":"created"' GET /v1/vms/h1
stop_daemon TERM
port=$((20000 + $$ % 20000))
start_daemon --tcp "127.0.0.1:$port"
CODE=$(curl -s -m 10 -o "$T_OUT" -w '%{http_code}' "http://127.0.0.1:$port/v1/vms/h1")
if [ "$CODE" = 200 ] && grep -q '"name":"h1"' "$T_OUT"; then ok tcp-loopback; else fail tcp-loopback "HTTP status $CODE"; fi

# ---- VMs that run: only where para-virtual guests run directly ----
. "$top/scripts/host-kind.sh"
guest_place "$SHALE" pv
if [ "$PLACE" != direct ]; then
	skip daemon-vms "$PLACE_WHY: the daemon's VM tests run guests directly"
	check delete-created 204 '' DELETE /v1/vms/h1
	summary
	exit
fi

check start-hello 200 '"name":"h1"' POST /v1/vms/h1/start
expect_state hello-stops h1 stopped
check hello-last-stop 200 '"last_stop":\{"reason":"exit","status":0' GET /v1/vms/h1
check hello-logs 200 'Hello from a shale guest!' GET /v1/vms/h1/logs
check restart-hello 200 '' POST /v1/vms/h1/start
expect_state restart-hello-stops h1 stopped
check logs-bytes 200 '^t!$' GET '/v1/vms/h1/logs?bytes=3'
check delete 204 '' DELETE /v1/vms/h1
if [ ! -e "$STATE/vms/h1" ]; then ok delete-files; else fail delete-files "$STATE/vms/h1 is still there"; fi

check create-idle 201 '' POST /v1/vms "$(pv idle "$IDLE")"
check start-idle 200 '"state":"running"' POST /v1/vms/idle/start
# The VMM is given run/ alone: its control socket, console log and exit
# file (so its jail) are there.
d=$STATE/vms/idle
args=$(tr '\0' '\n' <"/proc/$(pid_of idle)/cmdline" 2>/dev/null)
if echo "$args" | grep -qx -- "--control=$d/run/ctl" &&
	echo "$args" | grep -qx -- "--console-log=$d/run/console.log" &&
	echo "$args" | grep -qx -- "--exit-file=$d/run/exit.json" &&
	! echo "$args" | grep -q -- "=$d/[^r]"; then
	ok vmm-given-run-dir
else
	fail vmm-given-run-dir "$(echo "$args" | tr '\n' ' ')"
fi
check start-twice 409 'idle is running' POST /v1/vms/idle/start
check delete-running 409 'stop it first' DELETE /v1/vms/idle
check stats 200 '"cpu_ns":[1-9][0-9]*,"rss_bytes":[1-9].*"exits":\{"io":[0-9]+' GET /v1/vms/idle/stats
check metrics-vm 200 'shale_vm_rss_bytes\{vm="idle"\} [1-9]' GET /v1/metrics
# The balloon's target goes to the VMM, which refuses it without a balloon.
check balloon-none 409 'has no balloon' POST /v1/vms/idle/balloon '{"target_mib":4}'
check balloon-bad 400 'target_mib: missing' POST /v1/vms/idle/balloon '{}'
check balloon-none-running 200 '"state":"running"' GET /v1/vms/idle
check pause 200 '"state":"paused"' POST /v1/vms/idle/pause
check paused-stats 200 '"state":"paused"' GET /v1/vms/idle/stats
check resume 200 '"state":"running"' POST /v1/vms/idle/resume
check shutdown 202 '' POST /v1/vms/idle/shutdown '{"timeout_ms":5000}'
expect_state shutdown-stops idle stopped
check shutdown-reason 200 '"reason":"shutdown","status":0' GET /v1/vms/idle
check events 200 '"vm":"idle","state":"paused"' GET '/v1/events?since=0' 2>/dev/null

# A guest that ignores the shutdown request is killed after the timeout.
check create-deaf 201 '' POST /v1/vms "$(pv deaf "$B/g/tests/guests/misbehave.elf" ',"args":["sleep"]')"
check start-deaf 200 '' POST /v1/vms/deaf/start
check shutdown-deaf 202 '' POST /v1/vms/deaf/shutdown '{"timeout_ms":300}'
expect_state shutdown-timeout deaf stopped 50
check shutdown-timeout-reason 200 '"reason":"killed","status":-1,"message":"the guest did not shut down in time' GET /v1/vms/deaf

# User-mode networking: a host port forwarded to the guest's UDP echo.
UPORT=$((40000 + $$ % 20000))
check create-usernet 201 '"user":true' POST /v1/vms "$(pv unet "$B/g/examples/net.elf" \
	",\"args\":[\"10.0.2.15\",\"60\"],\"nets\":[{\"user\":true,\"hostfwd\":[\"udp::$UPORT-:7\"]}]")"
check start-usernet 200 '"state":"running"' POST /v1/vms/unet/start
reply=
# Until shale-net has bound the forward, the port is refused at once.
i=0
while [ $i -lt 40 ]; do
	reply=$("$B/tests/tools/udp_echo_client" 127.0.0.1 "$UPORT" shale-daemon-user 2>/dev/null) && break
	sleep 0.25
	i=$((i + 1))
done
if [ "$reply" = shale-daemon-user ]; then ok usernet-echo; else fail usernet-echo "got '$reply'"; fi
check kill-usernet 200 '' POST /v1/vms/unet/kill
expect_state usernet-stops unet stopped
check delete-usernet 204 '' DELETE /v1/vms/unet

# The shale commands against the real daemon, the console through it included.
export SHALE_SOCKET="$SOCK"
expect cli-create 0 '^ticker: created' '' "$SHALE" create ticker \
	--guest "$B/g/tests/guests/misbehave.elf" --memory 8M -- count
expect cli-start 0 '^ticker: running' '' "$SHALE" start ticker
expect cli-list 0 '^ticker +running' '' "$SHALE" list
T_LIMIT=1 expect cli-console 124 '^tick [0-9]+' '' "$SHALE" console ticker
# Several clients read the console at once.
$T_TIMEOUT 1 "$SHALE" console ticker </dev/null >"$W/con1" 2>&1 &
c1=$!
$T_TIMEOUT 1 "$SHALE" console ticker </dev/null >"$W/con2" 2>&1 &
c2=$!
wait "$c1" "$c2"
if grep -q '^tick' "$W/con1" && grep -q '^tick' "$W/con2"; then
	ok cli-console-two-readers
else
	fail cli-console-two-readers "$(head -c 200 "$W/con1") / $(head -c 200 "$W/con2")"
fi
expect cli-logs 0 '^tick 1$' '' "$SHALE" logs ticker
expect cli-stats 0 'hypercall [1-9]' '' "$SHALE" stats ticker
expect cli-balloon-none 1 '' 'has no balloon' "$SHALE" balloon ticker 4M
expect cli-balloon-size 2 '' 'want a whole number of MiB' "$SHALE" balloon ticker lots
expect cli-kill 0 '^ticker: stopped' '' "$SHALE" kill ticker
expect cli-rm 0 '^ticker: removed' '' "$SHALE" rm ticker
# A Linux VM's devices, as the definition keeps them (created, not started).
expect cli-create-devices 0 '^lin: created' '' "$SHALE" create lin --kernel "$B/shale" \
	--rng --console virtio --balloon=deflate-on-oom
expect cli-devices-kept 0 '"rng":true,"console":"virtio","balloon":\{"deflate_on_oom":true,"free_page_reporting":true\}' '' \
	"$SHALE" info lin --json
expect cli-devices-pv 2 '' '--rng, --console and --balloon are for --kernel' "$SHALE" create pvd \
	--guest "$B/g/tests/guests/misbehave.elf" --rng
expect cli-balloon-stopped 1 '' 'lin is created' "$SHALE" balloon lin 64M
expect cli-rm-devices 0 '^lin: removed' '' "$SHALE" rm lin

check start-reboot 200 '' POST /v1/vms/idle/start
p=$(pid_of idle)
check reboot 200 '"state":"running"' POST /v1/vms/idle/reboot
p2=$(pid_of idle)
if [ -n "$p2" ] && [ "$p2" != "$p" ] && ! kill -0 "$p" 2>/dev/null; then ok reboot-new-vmm; else fail reboot-new-vmm "pid $p then $p2"; fi
check kill-rebooted 200 '' POST /v1/vms/idle/kill

check start-kill 200 '' POST /v1/vms/idle/start
check kill 200 '"state":"stopped".*"reason":"killed"' POST /v1/vms/idle/kill

# A VMM that dies is seen at once.
check start-victim 200 '' POST /v1/vms/idle/start
p=$(pid_of idle)
kill -9 "$p"
expect_state vmm-killed idle crashed 10
check vmm-killed-reason 200 '"reason":"vmm-died".*killed by signal 9' GET /v1/vms/idle

# The daemon dies; its VMs do not; the next daemon adopts them.
check start-adopt 200 '' POST /v1/vms/idle/start
p=$(pid_of idle)
stop_daemon KILL
if kill -0 "$p" 2>/dev/null; then ok vm-outlives-daemon; else fail vm-outlives-daemon "VMM $p is gone"; fi
start_daemon
check adopted 200 "\"state\":\"running\",.*\"pid\":$p" GET /v1/vms/idle
check adopted-stats 200 '"cpu_ns":' GET /v1/vms/idle/stats
check adopted-shutdown 202 '' POST /v1/vms/idle/shutdown
expect_state adopted-stops idle stopped
check adopted-reason 200 '"reason":"shutdown"' GET /v1/vms/idle

# A VM that ended while no daemon ran: its exit record tells the next one.
check start-orphan 200 '' POST /v1/vms/idle/start
stop_daemon KILL
kill -TERM "$(pgrep -f -- "--control=$STATE/vms/idle/")" 2>/dev/null
sleep 0.3
start_daemon
check orphan-record 200 '"state":"stopped".*"reason":"signal"' GET /v1/vms/idle

# A state.json that names another process (as a VMM taken over by its
# guest could write it where the VM's directory was the VMM's): not
# adopted, and that process is never signalled.
sleep 600 &
bystander=$!
bstart=$(sed 's/.*) //' "/proc/$bystander/stat" | cut -d' ' -f20)
stop_daemon TERM
printf '{"state":"running","pid":%s,"pid_start":%s,"created_at":1,"started_at":1,"stopped_at":0}' \
	"$bystander" "$bstart" >"$STATE/vms/idle/state.json"
start_daemon
check forged-not-adopted 200 '"name":"idle","state":"(stopped|crashed)"' GET /v1/vms/idle
check forged-kill-refused 409 '' POST /v1/vms/idle/kill
if kill -0 "$bystander" 2>/dev/null; then ok forged-bystander-alive; else fail forged-bystander-alive "pid $bystander was signalled"; fi
kill "$bystander" 2>/dev/null
wait "$bystander" 2>/dev/null

# What a VMM taken over by its guest could plant in its run/, the daemon
# does not follow: an exit record or a console log that is a symbolic
# link, a hard link or a FIFO pointing at a file outside is refused (the
# stop is recorded from what the daemon saw), and that file is unchanged.
run=$STATE/vms/idle/run
outside=$W/outside.json
printf '{"reason":"exit","status":42,"message":"forged through a link"}\n' >"$outside"
sum=$(cksum <"$outside")
# plant NAME TYPE: starts idle, plants run/exit.json, kills the VMM.
plant() {
	api POST /v1/vms/idle/start
	p=$(pid_of idle)
	rm -f "$run/exit.json"
	case $2 in
	symlink) ln -s "$outside" "$run/exit.json" ;;
	hardlink) ln "$outside" "$run/exit.json" ;;
	fifo) mkfifo "$run/exit.json" ;;
	esac
	kill -9 "$p"
	expect_state "link-$1-crashed" idle crashed 50
	check "link-$1-refused" 200 "\"reason\":\"vmm-died\",\"status\":-1,\"message\":\"the VMM process was killed by signal 9 \\(Killed\\) \\(its exit record was refused: $3\\)" GET /v1/vms/idle
	rm -f "$run/exit.json"
}
plant symlink symlink 'it is a symbolic link'
plant hardlink hardlink 'it is not a regular file of its own'
plant fifo fifo 'it is not a regular file of its own'
if [ "$(cksum <"$outside")" = "$sum" ]; then ok link-outside-unchanged; else fail link-outside-unchanged "$(cat "$outside")"; fi
# A console log that links elsewhere: GET /logs leaves it out and says why
# in the daemon's log; at the next start it is removed, not written through.
printf 'outside-secret\n' >"$W/outside.log"
lsum=$(cksum <"$W/outside.log")
ln -s "$W/outside.log" "$run/console.log.1"
check link-logs 200 '' GET '/v1/vms/idle/logs?bytes=100000'
if ! grep -q outside-secret "$T_OUT" && grep -q 'console.log.1 is refused: it is a symbolic link' "$W/shaled.log"; then
	ok link-logs-refused
else
	fail link-logs-refused "logs: $(head -c 200 "$T_OUT")"
fi
check create-linked 201 '' POST /v1/vms "$(pv linked "$HELLO")"
ln -s "$W/outside.log" "$STATE/vms/linked/run/console.log"
ln -s "$W/outside.log" "$STATE/vms/linked/run/exit.json.tmp"
check start-linked 200 '' POST /v1/vms/linked/start
expect_state linked-stops linked stopped
check linked-logs 200 'Hello from a shale guest!' GET /v1/vms/linked/logs
if [ "$(cksum <"$W/outside.log")" = "$lsum" ] && [ ! -L "$STATE/vms/linked/run/console.log" ]; then
	ok link-log-not-written-through
else
	fail link-log-not-written-through "$(head -c 200 "$W/outside.log")"
fi
check linked-exit-record 200 '"reason":"exit","status":0' GET /v1/vms/linked
check delete-linked 204 '' DELETE /v1/vms/linked
rm -f "$run/console.log.1"

# A state directory of the layout before run/, where the VMM had the VM's
# directory (given to --vmm-user): the new daemon takes it back, adopts a
# VMM of that layout still running, and moves its files into run/ once
# none runs there.
stop_daemon TERM
L=$STATE/vms/legacy O=$STATE/vms/oldstop
mkdir "$L" "$O"
chmod 700 "$L" "$O"
printf '{"name":"legacy","guest":"%s","memory_mib":8}' "$IDLE" >"$L/config.json"
printf '{"name":"oldstop","guest":"%s","memory_mib":8}' "$HELLO" >"$O/config.json"
printf '{"state":"stopped","last_stop":{"reason":"exit","status":0,"message":"m"},"created_at":1,"started_at":1,"stopped_at":1}' >"$O/state.json"
printf 'console output of the old layout\n' >"$O/console.log"
ln -s /etc/passwd "$O/console.log.1"
[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && chown -R -h nobody "$O"
"$SHALE" run --control="$L/ctl" --console-log="$L/console.log" --exit-file="$L/exit.json" \
	--memory=8M -- "$IDLE" -- </dev/null >/dev/null 2>"$W/legacy.log" &
lpid=$!
i=0
while [ ! -S "$L/ctl" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
lstart=$(sed 's/.*) //' "/proc/$lpid/stat" | cut -d' ' -f20)
printf '{"state":"running","pid":%s,"pid_start":%s,"created_at":1,"started_at":1,"stopped_at":0}' \
	"$lpid" "$lstart" >"$L/state.json"
start_daemon
check legacy-adopted 200 "\"state\":\"running\",.*\"pid\":$lpid" GET /v1/vms/legacy
check legacy-stats 200 '"cpu_ns":[1-9]' GET /v1/vms/legacy/stats
check legacy-shutdown 202 '' POST /v1/vms/legacy/shutdown
expect_state legacy-stops legacy stopped
check legacy-reason 200 '"reason":"shutdown","status":0' GET /v1/vms/legacy
wait "$lpid" 2>/dev/null
if [ -f "$L/run/console.log" ] && [ -f "$L/run/exit.json" ] && [ ! -e "$L/ctl" ] &&
	[ ! -e "$L/console.log" ] && [ ! -e "$L/exit.json" ]; then
	ok legacy-migrated
else
	fail legacy-migrated "$(ls -la "$L" "$L/run" 2>&1 | tr '\n' ' ')"
fi
check legacy-start-new 200 '' POST /v1/vms/legacy/start
if tr '\0' '\n' <"/proc/$(pid_of legacy)/cmdline" | grep -qx -- "--control=$L/run/ctl"; then
	ok legacy-new-layout
else
	fail legacy-new-layout "$(tr '\0' ' ' <"/proc/$(pid_of legacy)/cmdline" 2>&1)"
fi
check legacy-kill 200 '' POST /v1/vms/legacy/kill
check delete-legacy 204 '' DELETE /v1/vms/legacy
mode=$(stat -c '%U %a' "$O")
if [ "$mode" = "$(id -un) 700" ] && [ -f "$O/run/console.log" ] && [ ! -e "$O/console.log" ] &&
	[ ! -e "$O/console.log.1" ] && [ ! -e "$O/run/console.log.1" ]; then
	ok legacy-taken-back
else
	fail legacy-taken-back "$mode: $(ls -la "$O" "$O/run" 2>&1 | tr '\n' ' ')"
fi
check legacy-logs 200 '^console output of the old layout$' GET /v1/vms/oldstop/logs
check delete-oldstop 204 '' DELETE /v1/vms/oldstop

# Limits: CPU pinning everywhere, cgroup limits where the host has them.
check create-pinned 201 '' POST /v1/vms "$(pv pinned "$IDLE" ',"limits":{"cpus":"0"}')"
check start-pinned 200 '' POST /v1/vms/pinned/start
p=$(pid_of pinned)
if grep -q '^Cpus_allowed_list:[[:space:]]*0$' "/proc/$p/status" 2>/dev/null; then
	ok pinned-affinity
else
	fail pinned-affinity "$(grep Cpus_allowed_list "/proc/$p/status" 2>&1)"
fi
check kill-pinned 200 '' POST /v1/vms/pinned/kill
check create-capped 201 '' POST /v1/vms "$(pv capped "$IDLE" ',"limits":{"cpu_max_percent":50,"memory_max_mib":64}')"
if [ -f /sys/fs/cgroup/cgroup.controllers ] || [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
	api POST /v1/vms/capped/start
	p=$(pid_of capped)
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		quota=$(cat /sys/fs/cgroup/shale/capped/cpu.max 2>/dev/null)
		mem=$(cat /sys/fs/cgroup/shale/capped/memory.max 2>/dev/null)
		want_quota="50000 100000"
	else
		quota=$(cat /sys/fs/cgroup/cpu/shale/capped/cpu.cfs_quota_us 2>/dev/null)
		mem=$(cat /sys/fs/cgroup/memory/shale/capped/memory.limit_in_bytes 2>/dev/null)
		want_quota=50000
	fi
	if [ "$CODE" = 200 ] && grep -q shale/capped "/proc/$p/cgroup" 2>/dev/null &&
		[ "$quota" = "$want_quota" ] && [ "$mem" = 67108864 ]; then
		ok cgroup-limits
	elif [ "$CODE" = 200 ]; then
		fail cgroup-limits "VMM $p: cpu quota '$quota', memory '$mem'; $(tr '\n' ' ' <"/proc/$p/cgroup" 2>&1)"
	else
		fail cgroup-limits "HTTP status $CODE"
	fi
	api POST /v1/vms/capped/kill
else
	skip cgroup-limits "no cgroup cpu controller mounted on this host"
fi

# VMMs as an unprivileged user: set up as root, then that user.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	stop_daemon TERM
	start_daemon --vmm-user nobody
	check user-start 200 '' POST /v1/vms/idle/start
	p=$(pid_of idle)
	# Set up as root first: the drop comes before the guest's first instruction.
	i=0
	while uid=$(awk '/^Uid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) &&
		[ "$uid" != "$(id -u nobody)" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$uid" = "$(id -u nobody)" ]; then ok user-vmm-uid; else fail user-vmm-uid "VMM $p has uid '$uid'"; fi
	check user-stats 200 '"exits":' GET /v1/vms/idle/stats
	# That user can write in run/, reached through a descriptor opened
	# before it took over (as the VMM does), but not config.json, nor
	# anything else of the VM's directory, even through a descriptor of it.
	d=$STATE/vms/idle
	as_vmm() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups sh -c "$@"; }
	owner=$(stat -c '%U %a' "$d")/$(stat -c '%U %a' "$d/run")
	if [ "$owner" = "root 700/nobody 700" ]; then ok user-dir-owners; else fail user-dir-owners "$owner"; fi
	e1=$(as_vmm "echo '{}' >'$d/config.json'" 2>&1)
	e2=$(as_vmm 'echo "{}" >/proc/self/fd/3/config.json' 3<"$d" 2>&1)
	e3=$(as_vmm 'mv /proc/self/fd/3/config.json /proc/self/fd/3/x' 3<"$d" 2>&1)
	if echo "$e1" | grep -q 'Permission denied' && echo "$e2" | grep -q 'Permission denied' &&
		echo "$e3" | grep -q 'Permission denied' && grep -Eq '"name": *"idle"' "$d/config.json"; then
		ok user-config-not-writable
	else
		fail user-config-not-writable "$e1 / $e2 / $e3"
	fi
	if as_vmm 'echo probe >/proc/self/fd/3/probe' 3<"$d/run" &&
		[ "$(stat -c %U "$d/run/probe" 2>&1)" = nobody ]; then
		ok user-run-writable
	else
		fail user-run-writable "$(ls -la "$d/run" 2>&1 | tr '\n' ' ')"
	fi
	rm -f "$d/run/probe"
	check user-shutdown 202 '' POST /v1/vms/idle/shutdown
	expect_state user-stops idle stopped
	check user-exit-record 200 '"reason":"shutdown","status":0' GET /v1/vms/idle
	stop_daemon TERM
	start_daemon
	# Without --vmm-user, run/ is the daemon's user's again.
	api POST /v1/vms/idle/start
	owner=$(stat -c %U "$STATE/vms/idle/run")
	api POST /v1/vms/idle/kill
	if [ "$owner" = root ]; then ok user-run-dir-back; else fail user-run-dir-back "run/ is $owner's"; fi
else
	skip vmm-user "needs root and a user named nobody"
fi
expect vmm-user-unknown 2 '' "no such user" "$SHALED" --vmm-user no-such-user-here

# The overcommit policy: with half a vCPU per host CPU, one VM fits, not two.
check create-over 201 '' POST /v1/vms "$(pv over "$IDLE")"
stop_daemon TERM
start_daemon --cpu-overcommit "$(awk "BEGIN { print 1.5 / $(nproc) }")"
check overcommit-first 200 '' POST /v1/vms/idle/start
check overcommit-refused 507 'over needs 1 vCPU\(s\): 2 would be committed' POST /v1/vms/over/start
check overcommit-host 200 '"overcommit":\{"cpu":0\.' GET /v1/host
check kill-first 200 '' POST /v1/vms/idle/kill
check delete-over 204 '' DELETE /v1/vms/over
stop_daemon TERM
start_daemon

# ---- malicious guests (tests/guests/attack.c) under one daemon ----
# Each attacker ends as crashed, with its report, or as stopped; the VM
# beside them keeps running and answering; the daemon stays up.
ATTACK=$B/g/tests/guests/attack.elf
check create-bystander 201 '' POST /v1/vms "$(pv bystander "$B/g/tests/guests/misbehave.elf" ',"args":["count"]')"
check start-bystander 200 '"state":"running"' POST /v1/vms/bystander/start
by_pid=$(pid_of bystander)
# attacker NAME ARGS_JSON STATE REASON_RE: creates, starts and waits for it.
attacker() {
	check "attack-$1-create" 201 '' POST /v1/vms "$(pv "a-$1" "$ATTACK" ",\"args\":$2${5:-}")"
	api POST "/v1/vms/a-$1/start"
	expect_state "attack-$1-ends-$3" "a-$1" "$3" 300
	check "attack-$1-reason" 200 "\"last_stop\":\{$4" GET "/v1/vms/a-$1"
	check "attack-$1-bystander-stats" 200 '"cpu_ns":[1-9][0-9]*,"rss_bytes":[1-9]' GET /v1/vms/bystander/stats
	[ -n "${KEEP:-}" ] || api DELETE "/v1/vms/a-$1"
}
dd if=/dev/zero of="$W/attack.img" bs=1M count=1 2>/dev/null
attacker exception '["exc-storm"]' crashed '"reason":"crash","status":126,"message":"guest crashed: vector 6, invalid opcode'
attacker queue '["queue-backwards"]' crashed '"reason":"crash","status":126,"message":"guest crashed: block queue: sq_tail is 0, 4294967295 past' \
	",\"disks\":[{\"path\":\"$W/attack.img\"}]"
attacker system '["sys-idt"]' crashed '"reason":"crash","status":126,"message":"guest crashed: vector 14, page fault \(#PF\) at rip 0x[0-9a-f]+, address 0x3000'
attacker wild '["hc-wild"]' stopped '"reason":"exit","status":0' \
	",\"disks\":[{\"path\":\"$W/attack.img\"}]"
attacker storm '["storm-nop","3"]' stopped '"reason":"exit","status":0'
# A flood: the daemon's console log of the VM stays at two files of 1 MiB.
KEEP=1 attacker flood '["flood-queue","256"]' stopped '"reason":"exit","status":0'
logs=$(find "$STATE/vms/a-flood/run" -name 'console.log*' | wc -l | tr -d ' ')
if [ "$logs" = 2 ] && [ "$(wc -c <"$STATE/vms/a-flood/run/console.log.1")" = 1048576 ] &&
	[ "$(wc -c <"$STATE/vms/a-flood/run/console.log")" -le 1048576 ]; then
	ok attack-flood-log-bounded
else
	fail attack-flood-log-bounded "$logs console logs: $(wc -c "$STATE"/vms/a-flood/run/console.log* 2>&1 | tr '\n' ' ')"
fi
# The logs API serves the last N bytes across both files: just after a
# rotation the current file holds one line, the rest is in console.log.1.
cur=$(wc -c <"$STATE/vms/a-flood/run/console.log")
api GET /v1/vms/a-flood/logs
got=$(wc -c <"$T_OUT")
api GET '/v1/vms/a-flood/logs?bytes=4194304'
all=$(wc -c <"$T_OUT")
if [ "$got" = 65536 ] && [ "$all" = $((1048576 + cur)) ] &&
	tail -n 1 "$T_OUT" | grep -q '^attack: flood-queue: 256 MiB written$'; then
	ok attack-flood-logs-both-files
else
	fail attack-flood-logs-both-files "logs gave $got bytes (want 65536) and $all with bytes=4194304 (want $((1048576 + cur)))"
fi
api DELETE /v1/vms/a-flood
# A guest that touches more RAM than its VMM's cgroup allows: the kernel
# kills that VMM alone, and shaled says so.
if [ -f /sys/fs/cgroup/cgroup.controllers ] || [ -d /sys/fs/cgroup/memory ]; then
	check attack-memory-create 201 '' POST /v1/vms \
		"{\"name\":\"a-memory\",\"guest\":\"$ATTACK\",\"args\":[\"mem-touch\"],\"memory_mib\":256,\"limits\":{\"memory_max_mib\":32}}"
	api POST /v1/vms/a-memory/start
	expect_state attack-memory-ends-crashed a-memory crashed 300
	check attack-memory-reason 200 '"last_stop":\{"reason":"vmm-died".*killed by signal 9' GET /v1/vms/a-memory
	check attack-memory-bystander-stats 200 '"cpu_ns":[1-9][0-9]*,"rss_bytes":[1-9]' GET /v1/vms/bystander/stats
	api DELETE /v1/vms/a-memory
else
	skip attack-memory "no cgroup memory controller mounted on this host"
fi
check bystander-still-running 200 "\"state\":\"running\",.*\"pid\":$by_pid" GET /v1/vms/bystander
check bystander-logs 200 'tick [0-9]+' GET '/v1/vms/bystander/logs?bytes=100'
check kill-bystander 200 '"reason":"killed"' POST /v1/vms/bystander/kill
check delete-bystander 204 '' DELETE /v1/vms/bystander

# ---- 100 VMs ----
n=0 bad=0
while [ $n -lt 100 ]; do
	api POST /v1/vms "$(pv "many$n" "$IDLE" ',"memory_mib":4')"
	[ "$CODE" = 201 ] || bad=$((bad + 1))
	api POST "/v1/vms/many$n/start"
	[ "$CODE" = 200 ] || bad=$((bad + 1))
	n=$((n + 1))
done
if [ $bad = 0 ]; then ok many-start; else fail many-start "$bad requests failed"; fi
api GET /v1/vms
running=$(grep -o '"state":"running"' "$T_OUT" | wc -l)
if [ "$running" -ge 100 ]; then ok many-list; else fail many-list "$running running, want 100"; fi
check many-host 200 '"running":100' GET /v1/host
n=0
while [ $n -lt 100 ]; do api POST "/v1/vms/many$n/shutdown"; n=$((n + 1)); done
n=0 bad=0
while [ $n -lt 100 ]; do wait_state "many$n" stopped 100 || bad=$((bad + 1)); n=$((n + 1)); done
if [ $bad = 0 ]; then ok many-stop; else fail many-stop "$bad VMs did not stop"; fi
n=0 bad=0
while [ $n -lt 100 ]; do
	api DELETE "/v1/vms/many$n"
	[ "$CODE" = 204 ] || bad=$((bad + 1))
	n=$((n + 1))
done
if [ $bad = 0 ]; then ok many-delete; else fail many-delete "$bad deletes failed"; fi

check delete-force 204 '' DELETE '/v1/vms/idle?force=1'
check daemon-still-alive 200 '' GET /v1/host
stop_daemon TERM
summary

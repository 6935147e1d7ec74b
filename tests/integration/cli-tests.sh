#!/bin/sh
# Command-line and image checks that need no KVM: bad flags and broken
# guest images must be refused with one clear line and status 125, before
# the VMM touches /dev/kvm. Then the clients of shaled's API: usage errors
# (status 2), no daemon (status 1), and what they send to and print from
# a fake daemon with canned answers.
#
# usage: cli-tests.sh SHALE BUILD_DIR
set -u
SHALE=$1
B=$2
. "$(dirname "$0")/lib.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
HELLO=$B/g/examples/hello.elf

expect help 0 'Usage: shale COMMAND' '' "$SHALE" --help
expect run-help 0 'Usage: shale run' '' "$SHALE" run --help
expect help-run 0 'Usage: shale run' '' "$SHALE" help run
abi=$(sed -n 's/^#define SHALE_ABI_VERSION \([0-9]*\)u.*/\1/p' \
	"$(dirname "$0")/../../include/shale/abi/hypercall.h")
expect version 0 "^shale [0-9.]+ \\(guest ABI ${abi:-?}\\)\$" '' "$SHALE" --version
expect no-command 2 '' 'Usage' "$SHALE"
expect unknown-command 2 '' "unknown command 'frob'" "$SHALE" frob
expect unknown-option 125 '' "bad option '--frob'" "$SHALE" run --frob
expect memory-junk 125 '' '--memory 12Q' "$SHALE" run --memory 12Q "$HELLO"
expect memory-small 125 '' '--memory 2M' "$SHALE" run --memory 2M "$HELLO"
expect memory-odd 125 '' '--memory 5M' "$SHALE" run --memory 5M "$HELLO"
expect memory-huge 125 '' '--memory 8G' "$SHALE" run --memory 8G "$HELLO"
expect memory-overflow 125 '' 'want a multiple' "$SHALE" run --memory 99999999999999999999G "$HELLO"
expect timeout-junk 125 '' '--timeout soon' "$SHALE" run --timeout soon "$HELLO"
expect timeout-zero 125 '' '--timeout 0' "$SHALE" run --timeout 0 "$HELLO"
expect net-junk 125 '' "unknown setting 'bridge=br0'" "$SHALE" run --net bridge=br0 "$HELLO"
expect net-mac 125 '' 'bad MAC' "$SHALE" run --net tap=t0,mac=01:00:00:00:00:01 "$HELLO"
expect rng-needs-kernel 125 '' '--rng and --console need --kernel' "$SHALE" run --rng "$HELLO"
expect balloon-needs-kernel 125 '' '--balloon needs --kernel' "$SHALE" run --balloon "$HELLO"
expect balloon-junk 125 '' "--balloon: want deflate-on-oom and/or no-reporting, not 'big'" \
	"$SHALE" run --balloon=big --kernel /nonexistent
# --vsock: checked before anything is opened.
expect vsock-needs-kernel 125 '' '--vsock needs --kernel' "$SHALE" run --vsock cid=3,socket="$W/v" "$HELLO"
expect vsock-cid-low 125 '' 'cid=2: want a number from 3 to 4294967294' \
	"$SHALE" run --kernel /nonexistent --vsock cid=2,socket="$W/v"
expect vsock-no-socket 125 '' '--vsock: want cid=N and socket=PATH' \
	"$SHALE" run --kernel /nonexistent --vsock cid=3
expect vsock-unknown 125 '' "--vsock: unknown setting 'port=1'" \
	"$SHALE" run --kernel /nonexistent --vsock cid=3,socket="$W/v",port=1
expect vsock-twice 125 '' 'one vsock device per VM' \
	"$SHALE" run --kernel /nonexistent --vsock cid=3,socket="$W/v" --vsock cid=4,socket="$W/w"
# Closed standard streams: nothing shale writes may land in the files it opens.
head -c 1000 /dev/urandom >"$W/odd.img"
cp "$W/odd.img" "$W/odd.orig"
"$SHALE" run --disk "$W/odd.img" >/dev/null 2>&-
if cmp -s "$W/odd.img" "$W/odd.orig"; then ok closed-stdio; else fail closed-stdio "the disk image changed"; fi
expect disk-missing 125 '' "--disk $W/nope.img: No such file" "$SHALE" run --disk "$W/nope.img" "$HELLO"
expect disk-dir 125 '' '(Is a directory|not a regular file or block device)' "$SHALE" run --disk "$W" "$HELLO"
expect disk-serial-long 125 '' 'serial=123456789012345678901: want 1 to 20 characters' \
	"$SHALE" run --disk "$W/odd.img,serial=123456789012345678901" "$HELLO"
expect disk-pv-two 125 '' 'a para-virtual guest has one --disk' \
	"$SHALE" run --disk "$W/odd.img,ro" --disk "$W/odd.img,ro" "$HELLO"
expect disk-pv-serial 125 '' 'a para-virtual guest has one --disk, without serial=' \
	"$SHALE" run --disk "$W/odd.img,ro,serial=x" "$HELLO"
many=
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do many="$many --disk $W/odd.img,ro"; done
# shellcheck disable=SC2086 # one word per option
expect disk-too-many 125 '' '--disk: at most 16 disks' "$SHALE" run $many --kernel "$W/odd.img"
expect disk-empty 125 '' '--disk: missing file name' "$SHALE" run --disk ,ro,serial=a "$HELLO"
expect guest-missing 125 '' 'No such file' "$SHALE" run "$W/nope.elf"
expect guest-dir 125 '' 'not a regular file' "$SHALE" run "$W"

# Broken images, each refused with the reason.
bad() { expect "elf-$1" 125 '' "not a guest shale can run: .*$2" "$SHALE" run "$W/$1"; }
: >"$W/empty"
bad empty 'empty file'
printf 'hello' >"$W/short"
bad short 'file too short'
head -c 4096 /dev/urandom >"$W/random"
bad random 'not an ELF file'
head -c 200 "$HELLO" >"$W/truncated"
bad truncated 'program headers lie outside the file'
head -c 5000 "$HELLO" >"$W/truncated-segment"
bad truncated-segment 'segment lies outside the file'
cp /bin/sh "$W/host-program"
bad host-program '(position-independent|dynamically linked)'

# Patch one field of a good image (little-endian) at a byte offset.
patch() { # NAME OFFSET BYTES(octal escapes)
	cp "$HELLO" "$W/$1"
	printf "$3" | dd of="$W/$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
patch class32 4 '\001'
bad class32 'not a 64-bit ELF'
patch bigendian 5 '\002'
bad bigendian 'not a little-endian'
patch machine 18 '\003\000'
bad machine 'not an x86-64'
patch reloc 16 '\001\000'
bad reloc 'not an executable'
# Program header 0 starts at 64; p_flags at +4: make the text segment RWX.
patch wx 68 '\007'
bad wx 'both writable and executable'
# p_vaddr of segment 0 (at 64+16) moved below the image base.
patch low 80 '\000\020\000\000'
bad low 'outside guest memory'
# entry point (offset 24) into the data segment's page range.
patch entry 24 '\000\000\000\100'
bad entry 'entry point is not in an executable segment'

# `shale host`: what this host's KVM is. Its text and JSON must agree with
# --kind, whatever the kind; the guest kinds and the measured exit follow
# from the kind.
expect host-help 0 'Usage: shale host' '' "$SHALE" host --help
expect help-lists-host 0 '^  host +' '' "$SHALE" --help
expect host-bad-flag 2 '' "bad option '--frob'" "$SHALE" host --frob
expect host-bad-arg 2 '' "unexpected argument 'now'" "$SHALE" host now
expect host-json-kind 2 '' 'exclude each other' "$SHALE" host --json --kind
expect host-kind 0 '^(vmx|svm|pvm|none|inaccessible|unknown)$' '' "$SHALE" host --kind
kind=$("$SHALE" host --kind 2>/dev/null)
if [ "$(printf '%s\n' "$kind" | wc -l)" != 1 ]; then
	fail host-kind-one-word "'$kind' is not one line"
else
	ok host-kind-one-word
fi
case $kind in
vmx | svm) pv=yes linux=yes exit_re='[0-9.]+ us \(median of [0-9]+ ' ;;
pvm) pv=yes linux=no exit_re='[0-9.]+ us \(median of [0-9]+ ' ;;
none | inaccessible) pv=no linux=no exit_re='not measured' ;;
*) pv=no linux=no exit_re='' ;;
esac
T_LIMIT=10 expect host-text 0 "^kind: +$kind\$" '' "$SHALE" host
for re in "^para-virtual guests: +$pv" "^Linux guests: +$linux" "^VM exit round trip: +$exit_re" \
	'^device: +/dev/kvm \(' '^module: +' '^reason: +.' '^sandbox jail: +(Landlock \(ABI [1-9][0-9]*\)|a mount namespace)'; do
	if ! grep -Eq -- "$re" "$T_OUT"; then
		fail host-text-lines "no line matches /$re/"
		re=
		break
	fi
done
[ -z "$re" ] || ok host-text-lines
# The JSON parses, and says what --kind and the text say.
if ! command -v python3 >/dev/null 2>&1; then
	skip host-json "python3 is not installed"
elif ! out=$(timeout 10 "$SHALE" host --json 2>"$T_ERR"); then
	fail host-json "exit status $?"
elif ! printf '%s\n' "$out" | python3 -c '
import json, sys
h = json.load(sys.stdin)
kind, pv, linux = sys.argv[1], sys.argv[2] == "yes", sys.argv[3] == "yes"
assert h["kind"] == kind, "kind %r, --kind says %r" % (h["kind"], kind)
assert h["device"] == "/dev/kvm", h["device"]
assert h["pv_guests"] is pv and h["linux_guests"] is linux, (h["pv_guests"], h["linux_guests"])
assert isinstance(h["accessible"], bool) and isinstance(h["reason"], str) and h["reason"]
assert h["module"] is None or h["module"].startswith("kvm")
rt = h["exit_round_trip_ns"]
if kind in ("vmx", "svm", "pvm"):
    assert isinstance(rt, int) and rt > 0 and h["exit_samples"] > 0, (rt, h["exit_error"])
if kind in ("none", "inaccessible"):
    assert rt is None and not h["accessible"]
assert (h["jail"], h["landlock_abi"] > 0) in (("landlock", True), ("mount", False)), (h["jail"], h["landlock_abi"])
' "$kind" "$pv" "$linux" >"$T_OUT" 2>&1; then
	fail host-json "$(tail -n 1 "$T_OUT"): $out"
else
	ok host-json
fi

# A Linux guest on PVM is refused at once: before the kernel is even read.
if [ "$kind" = pvm ]; then
	expect run-kernel-pvm 125 '' \
		"KVM is PVM.*cannot run unmodified kernels: run Linux guests on a VMX or SVM host" \
		"$SHALE" run --kernel "$W/no-such-kernel"
	if [ "$(wc -l <"$T_ERR")" = 1 ]; then
		ok run-kernel-pvm-one-line
	else
		fail run-kernel-pvm-one-line "not one line"
	fi
else
	skip run-kernel-pvm "this host's KVM is $kind, not pvm"
	skip run-kernel-pvm-one-line "this host's KVM is $kind, not pvm"
fi

# Without /dev/kvm, a good guest is refused with a clear message.
if [ -e /dev/kvm ]; then
	skip no-kvm "this host has /dev/kvm"
else
	expect no-kvm 125 '' '/dev/kvm: not present' "$SHALE" run "$HELLO"
fi

# The clients of shaled's API. Each has --help and is listed by shale --help.
CLIENTS="create start stop kill pause resume reboot rm list info stats logs console events"
for c in $CLIENTS; do
	expect "$c-help" 0 "^Usage: shale $c" '' "$SHALE" "$c" --help
	expect "help-lists-$c" 0 "^  $c +" '' "$SHALE" --help
done
expect help-create 0 '^Usage: shale create NAME --guest' '' "$SHALE" help create
expect create-help-limits 0 '--memory-max SIZE' '' "$SHALE" create --help

# Usage errors: status 2 and a line saying what is wrong.
for c in start stop kill pause resume reboot rm info stats logs console; do
	expect "$c-no-name" 2 '' "^shale: $c: missing NAME" "$SHALE" "$c"
done
expect create-no-name 2 '' '^shale: create: missing NAME' "$SHALE" create --guest "$HELLO"
expect start-two-names 2 '' "unexpected argument 'b'" "$SHALE" start a b
expect list-operand 2 '' "^shale: list: unexpected argument 'x'" "$SHALE" list x
expect events-operand 2 '' "unexpected argument 'x'" "$SHALE" events x
expect start-bad-name 2 '' "bad VM name 'a/b'" "$SHALE" start a/b
expect start-dash-name 2 '' "bad VM name '-x'" "$SHALE" info -- -x
expect name-too-long 2 '' 'bad VM name' "$SHALE" info "$(printf 'a%.0s' $(seq 65))"
expect start-bad-flag 2 '' "^shale: start: bad option '--frob'" "$SHALE" start x --frob
expect list-bad-short 2 '' "unknown option '-z'" "$SHALE" list -z
expect socket-no-value 2 '' "option '--socket' needs a value" "$SHALE" list --socket
expect stop-timeout-junk 2 '' '--timeout soon' "$SHALE" stop x --timeout soon
expect stop-timeout-zero 2 '' '--timeout 0' "$SHALE" stop x --timeout 0
expect logs-bytes-junk 2 '' '--bytes lots' "$SHALE" logs x --bytes lots
expect create-nothing 2 '' 'say what to run: --guest ELF or --kernel FILE' "$SHALE" create x
expect create-both 2 '' 'exclude each other' "$SHALE" create x --guest "$HELLO" --kernel "$HELLO"
expect create-initrd-pv 2 '' 'are for --kernel' "$SHALE" create x --guest "$HELLO" --initrd "$HELLO"
expect create-kernel-args 2 '' 'with --kernel, pass arguments with --cmdline' \
	"$SHALE" create x --kernel "$HELLO" -- a
expect create-args-no-dashes 2 '' "unexpected argument 'a' \\(guest arguments follow --\\)" \
	"$SHALE" create x --guest "$HELLO" a
expect create-memory-junk 2 '' '--memory 12Q' "$SHALE" create x --guest "$HELLO" --memory 12Q
expect create-memory-odd 2 '' '--memory 1500k: want a whole number of MiB' \
	"$SHALE" create x --guest "$HELLO" --memory 1500k
expect create-cpus 2 '' '--cpus 0' "$SHALE" create x --guest "$HELLO" --cpus 0
expect create-cpu-max 2 '' '--cpu-max half' "$SHALE" create x --guest "$HELLO" --cpu-max half
expect create-cpu-weight 2 '' '--cpu-weight 0: want a number from 1 to 10000' \
	"$SHALE" create x --guest "$HELLO" --cpu-weight 0
expect create-pin 2 '' '--pin 0-: want a CPU list' "$SHALE" create x --guest "$HELLO" --pin 0-
expect create-net-junk 2 '' "unknown setting 'bridge=br0'" \
	"$SHALE" create x --guest "$HELLO" --net bridge=br0
expect create-net-mac 2 '' 'bad MAC' "$SHALE" create x --guest "$HELLO" --net tap=t0,mac=01:00:00:00:00:01
expect create-net-fwd 2 '' "bad forward 'tcp::99999-:80'" "$SHALE" create x --guest "$HELLO" --net user,hostfwd=tcp::99999-:80
expect create-net-both 2 '' 'want one of tap=NAME and user' "$SHALE" create x --guest "$HELLO" --net user,tap=t0
expect create-guest-twice 2 '' '--guest given twice' "$SHALE" create x --guest "$HELLO" --guest "$HELLO"
# A file that is not there is not a usage error: status 1.
expect create-guest-missing 1 '' "--guest $W/nope.elf: No such file" "$SHALE" create x --guest "$W/nope.elf"
expect create-disk-missing 1 '' "--disk $W/nope.img: No such file" \
	"$SHALE" create x --guest "$HELLO" --disk "$W/nope.img,ro"

# No daemon: status 1 and how to start one, whichever way the socket is named.
NOSOCK=$W/no-daemon.sock
nodaemon="^shale: no daemon at $NOSOCK: start it with 'shaled --socket $NOSOCK'\$"
expect no-daemon-list 1 '' "$nodaemon" "$SHALE" list --socket "$NOSOCK"
expect no-daemon-env 1 '' "$nodaemon" env SHALE_SOCKET="$NOSOCK" "$SHALE" info web
expect no-daemon-start 1 '' "$nodaemon" "$SHALE" start web --socket "$NOSOCK"
expect no-daemon-create 1 '' "$nodaemon" "$SHALE" create web --guest "$HELLO" --socket "$NOSOCK"
expect no-daemon-console 1 '' "$nodaemon" "$SHALE" console web --socket "$NOSOCK"
expect no-daemon-events 1 '' "$nodaemon" "$SHALE" events --socket "$NOSOCK"
: >"$W/not-a-socket"
expect no-daemon-file 1 '' "^shale: no daemon at $W/not-a-socket" "$SHALE" list --socket "$W/not-a-socket"
expect socket-too-long 1 '' 'too long for a Unix socket' "$SHALE" list --socket "/$(printf 'x%.0s' $(seq 120))"

# Against a fake daemon that answers every connection with $W/answer and
# keeps the last request in $W/request.
FAKE=$B/tests/tools/fake_shaled
SOCK=$W/fake.sock
# answer STATUS BODY: a JSON answer with its Content-Length.
answer() {
	printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"$1" "${#2}" "$2" >"$W/answer"
}
# sent PATTERN: the last request matches the extended regular expression.
sent() {
	grep -Eq -- "$1" "$W/request"
}
fake_pid=
if [ -x "$FAKE" ]; then
	answer '200 OK' '{}'
	"$FAKE" "$SOCK" "$W/answer" "$W/request" 2>"$W/fake.err" &
	fake_pid=$!
	trap 'kill "$fake_pid" 2>/dev/null; rm -rf "$W"' EXIT
	i=0
	while [ ! -S "$SOCK" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
fi
if [ -z "$fake_pid" ] || [ ! -S "$SOCK" ]; then
	skip fake-daemon "$FAKE did not start"
else
	VMS='{"vms":[{"name":"web","state":"running","pid":1234,"config":{"name":"web","guest":"/srv/hello.elf","cpus":1,"memory_mib":32},"created_at":"2026-12-04T10:00:00Z","started_at":"2026-12-04T10:00:01Z"},{"name":"job-2","state":"stopped","config":{"name":"job-2","kernel":"/boot/vmlinuz","cpus":2,"memory_mib":1024},"created_at":"2026-12-04T10:00:00Z","last_stop":{"reason":"exit","status":3,"message":"the guest exited with status 3"}}]}'
	answer '200 OK' "$VMS"
	expect list-table 0 '^NAME +STATE +PID +CPUS +MEMORY +GUEST +LAST STOP$' '' \
		"$SHALE" list --socket "$SOCK"
	if grep -Eq '^web +running +1234 +1 +32M +hello.elf +-$' "$T_OUT" &&
		grep -Eq '^job-2 +stopped +- +2 +1G +vmlinuz +exit 3$' "$T_OUT"; then
		ok list-rows
	else
		fail list-rows "the rows are not as the answer says"
	fi
	if sent '^GET /v1/vms HTTP/1.1' && sent '^Connection: close'; then ok list-request; else
		fail list-request "$(head -n 1 "$W/request")"; fi
	expect list-json 0 '' '' env SHALE_SOCKET="$SOCK" "$SHALE" list --json
	if [ "$(cat "$T_OUT")" = "$VMS" ]; then ok list-json-verbatim; else
		fail list-json-verbatim "--json is not the API's JSON"; fi

	# The API's error, as the API words it.
	answer '404 Not Found' '{"error":"no VM named x"}'
	expect info-404 1 '' '^shale: no VM named x$' "$SHALE" info x --socket "$SOCK"
	expect start-404 1 '' '^shale: no VM named x$' "$SHALE" start x --socket "$SOCK"
	if [ "$(wc -l <"$T_ERR")" = 1 ]; then ok api-error-one-line; else
		fail api-error-one-line "not one line"; fi
	answer '409 Conflict' '{"error":"web is running: stop it first or use --force"}'
	expect rm-409 1 '' '^shale: web is running: stop it first' "$SHALE" rm web --socket "$SOCK"
	answer '500 Internal Server Error' 'not json'
	expect api-error-no-json 1 '' '^shale: the daemon answered 500 Internal Server Error$' \
		"$SHALE" list --socket "$SOCK"

	# create sends absolute paths, sizes in MiB and the arguments after --.
	cp "$HELLO" "$W/guest.elf"
	: >"$W/disk.img"
	answer '201 Created' '{"name":"job","state":"created","config":{}}'
	shale_abs=$(cd "$(dirname "$SHALE")" && pwd)/${SHALE##*/}
	(cd "$W" && exec "$shale_abs" create job --guest guest.elf --memory 32M --cpus 1 \
		--disk disk.img,ro --disk "$W/disk.img" --net tap=tap0,mac=52:54:00:12:34:56 \
		--net user,hostfwd=tcp::8080-:80,hostfwd=udp:0.0.0.0:53-10.0.2.9:53 \
		--cpu-max 50 --cpu-weight 200 --memory-max 1G --pin 0-1 --socket "$SOCK" \
		-- a 'b c' --json) >"$T_OUT" 2>"$T_ERR"
	st=$?
	body=$(sed -n '$p' "$W/request")
	want='{"name":"job","guest":"'$W'/guest.elf","args":["a","b c","--json"],"cpus":1,"memory_mib":32,"disks":[{"path":"'$W'/disk.img","readonly":true},{"path":"'$W'/disk.img","readonly":false}],"nets":[{"tap":"tap0","mac":"52:54:00:12:34:56"},{"user":true,"hostfwd":["tcp::8080-:80","udp:0.0.0.0:53-10.0.2.9:53"]}],"limits":{"cpu_max_percent":50,"cpu_weight":200,"memory_max_mib":1024,"cpus":"0-1"}}'
	if [ $st != 0 ]; then
		fail create-request "exit status $st"
	elif ! sent '^POST /v1/vms HTTP/1.1' || ! sent '^Content-Type: application/json' ||
		! sent "^Content-Length: ${#want}"; then
		fail create-request "$(head -n 1 "$W/request")"
	elif [ "$body" != "$want" ]; then
		fail create-request "body $body"
	else
		ok create-request
	fi
	expect create-text 0 '^job: created$' '' "$SHALE" create job --kernel "$HELLO" \
		--initrd "$HELLO" --cmdline 'console=ttyS0 quiet' --socket "$SOCK"
	if sent '"kernel":"[^"]*hello.elf","initrd":"[^"]*hello.elf","cmdline":"console=ttyS0 quiet"}$'; then
		ok create-kernel-request; else fail create-kernel-request "$(sed -n '$p' "$W/request")"; fi
	expect create-kernel-disks 0 '^job: created$' '' "$SHALE" create job --kernel "$HELLO" \
		--disk "$W/disk.img,serial=vol-1" --disk "$W/disk.img,ro" --socket "$SOCK"
	if sent '"disks":\[\{"path":"[^"]*disk.img","readonly":false,"serial":"vol-1"\},\{"path":"[^"]*disk.img","readonly":true\}\]'; then
		ok create-kernel-disks-request; else fail create-kernel-disks-request "$(sed -n '$p' "$W/request")"; fi

	# The lifecycle requests, and what they print.
	answer '200 OK' '{"name":"web","state":"paused","config":{}}'
	for a in start pause resume kill reboot; do
		expect "$a-request" 0 '^web: paused$' '' "$SHALE" "$a" web --socket "$SOCK"
		sent "^POST /v1/vms/web/$a HTTP/1.1" || fail "$a-target" "$(head -n 1 "$W/request")"
		sent '^Content-Length: 0' || fail "$a-length" "no Content-Length: 0"
	done
	answer '202 Accepted' '{"name":"web","state":"running","config":{}}'
	expect stop-request 0 '^web: shutdown requested$' '' "$SHALE" stop web --timeout 1.5s --socket "$SOCK"
	if sent '^POST /v1/vms/web/shutdown HTTP/1.1' && sent '^\{"timeout_ms":1500\}$'; then
		ok stop-timeout-ms; else fail stop-timeout-ms "$(cat "$W/request")"; fi
	printf 'HTTP/1.1 204 No Content\r\n\r\n' >"$W/answer"
	expect rm-force 0 '^web: removed$' '' "$SHALE" rm -f web --socket "$SOCK"
	if sent '^DELETE /v1/vms/web\?force=1 HTTP/1.1'; then ok rm-force-target; else
		fail rm-force-target "$(head -n 1 "$W/request")"; fi

	answer '200 OK' '{"name":"web","state":"stopped","config":{"name":"web","guest":"/srv/hello.elf","args":["a","b"],"cpus":1,"memory_mib":32,"disks":[{"path":"/srv/disk.img","readonly":true}],"limits":{"cpu_max_percent":50}},"created_at":"2026-12-04T10:00:00Z","last_stop":{"reason":"killed","status":137,"message":"killed through the API"}}'
	expect info-text 0 '^last stop: +killed: killed through the API$' '' "$SHALE" info web --socket "$SOCK"
	for re in '^state: +stopped$' '^guest: +/srv/hello.elf$' '^args: +a b$' '^memory: +32M$' \
		'^disk: +/srv/disk.img \(read-only\)$' '^limits: +cpu-max 50%$'; do
		grep -Eq -- "$re" "$T_OUT" || { fail info-lines "no line matches /$re/"; re=; break; }
	done
	[ -z "$re" ] || ok info-lines

	answer '200 OK' '{"state":"running","cpu_ns":1500000000,"rss_bytes":3145728,"exits":{"io":7,"hlt":2},"console_bytes":12}'
	expect stats-text 0 '^exits: +io 7, hlt 2$' '' "$SHALE" stats web --socket "$SOCK"
	if grep -Eq '^cpu time: +1.500 s$' "$T_OUT" && grep -Eq '^rss: +3.0 MiB$' "$T_OUT"; then
		ok stats-lines; else fail stats-lines "cpu time or rss"; fi

	# Chunked answers: the console log, and the event stream.
	printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n6;x=1\r\nworld\n\r\n0\r\n\r\n' >"$W/answer"
	expect logs-chunked 0 '^hello world$' '' "$SHALE" logs web --bytes 64k --socket "$SOCK"
	if sent '^GET /v1/vms/web/logs\?bytes=65536 HTTP/1.1'; then ok logs-bytes; else
		fail logs-bytes "$(head -n 1 "$W/request")"; fi
	e1='{"time":"2026-12-04T10:00:00Z","vm":"web","state":"running","reason":null}'
	e2='{"time":"2026-12-04T10:00:01Z","vm":"web","state":"stopped","reason":"killed"}'
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\n\r\n%x\r\n%s\n\r\n0\r\n\r\n' \
		$((${#e1} + 1)) "$e1" $((${#e2} + 1)) "$e2" >"$W/answer"
	expect events-text 0 '^2026-12-04T10:00:01Z  web  stopped  killed$' '' "$SHALE" events --socket "$SOCK"
	expect events-json 0 "^$e1\$" '' "$SHALE" events --json --socket "$SOCK"
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"vm"\r\n' >"$W/answer"
	expect events-cut 1 '' 'ended the event stream' "$SHALE" events --socket "$SOCK"

	# The console: the upgrade request, then raw bytes until the daemon closes.
	printf 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: shale-console\r\n\r\nguest says hi\n' >"$W/answer"
	expect console-bytes 0 '^guest says hi$' 'console of web was closed' "$SHALE" console web --socket "$SOCK"
	if sent '^GET /v1/vms/web/console HTTP/1.1' && sent '^Connection: Upgrade' &&
		sent '^Upgrade: shale-console'; then ok console-upgrade; else
		fail console-upgrade "$(cat "$W/request")"; fi
	# On a terminal: raw mode, keys to the guest, Ctrl-] detaches and restores it
	# (ptyrun exits with 99 if the terminal's settings changed).
	PTYRUN=$B/tests/tools/ptyrun
	cp "$W/answer" "$W/answer-101"
	"$FAKE" "$W/echo.sock" "$W/answer-101" "$W/request-echo" echo 2>"$W/fake-echo.err" &
	echo_pid=$!
	trap 'kill "$fake_pid" "$echo_pid" 2>/dev/null; rm -rf "$W"' EXIT
	i=0
	while [ ! -S "$W/echo.sock" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -x "$PTYRUN" ]; then
		skip console-tty "no $PTYRUN"
	else
		T_LIMIT=20 expect console-tty 0 'detached from web' '' "$PTYRUN" -w 'guest says hi' \
			-s 'ping\x03' -w 'ping' -s 'x\x1dnot sent' -- \
			"$SHALE" console web --socket "$W/echo.sock"
		if grep -q 'Ctrl-\] detaches' "$T_OUT" && ! grep -q 'not sent' "$T_OUT"; then
			ok console-tty-detach; else fail console-tty-detach "no hint, or bytes after Ctrl-] sent"; fi
	fi
	kill "$echo_pid" 2>/dev/null

	answer '409 Conflict' '{"error":"web is not running"}'
	expect console-refused 1 '' '^shale: web is not running$' "$SHALE" console web --socket "$SOCK"

	# What is not HTTP, or not well framed, is refused with the reason.
	printf 'HTTP/1.1 200 OK\nContent-Length: 2\n\n{}' >"$W/answer"
	expect bad-answer-lf 1 '' "^shale: bad answer from the daemon at $SOCK: .*LF without CR" \
		"$SHALE" list --socket "$SOCK"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{}' >"$W/answer"
	expect bad-answer-short 1 '' 'ended before the Content-Length' "$SHALE" list --socket "$SOCK"
	printf 'SSH-2.0-OpenSSH_9.2\r\n' >"$W/answer"
	expect bad-answer-ssh 1 '' 'not an HTTP/1.x response' "$SHALE" list --socket "$SOCK"
	answer '200 OK' '{"vms":'
	expect bad-answer-json 1 '' 'not a JSON object' "$SHALE" list --socket "$SOCK"
fi

summary

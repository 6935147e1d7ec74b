#!/bin/sh
# Command-line and image checks that need no KVM: bad flags and broken
# guest images must be refused with one clear line and status 125, before
# the VMM touches /dev/kvm.
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
# Closed standard streams: nothing shale writes may land in the files it opens.
head -c 1000 /dev/urandom >"$W/odd.img"
cp "$W/odd.img" "$W/odd.orig"
"$SHALE" run --disk "$W/odd.img" >/dev/null 2>&-
if cmp -s "$W/odd.img" "$W/odd.orig"; then ok closed-stdio; else fail closed-stdio "the disk image changed"; fi
expect disk-missing 125 '' "--disk $W/nope.img: No such file" "$SHALE" run --disk "$W/nope.img" "$HELLO"
expect disk-dir 125 '' '(Is a directory|not a regular file or block device)' "$SHALE" run --disk "$W" "$HELLO"
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
	'^device: +/dev/kvm \(' '^module: +' '^reason: +.'; do
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

summary

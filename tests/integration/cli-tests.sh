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
expect version 0 '^shale [0-9.]+ \(guest ABI 1\)$' '' "$SHALE" --version
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

# Without /dev/kvm, a good guest is refused with a clear message.
if [ -e /dev/kvm ]; then
	skip no-kvm "this host has /dev/kvm"
else
	expect no-kvm 125 '' '/dev/kvm: not present' "$SHALE" run "$HELLO"
fi

summary

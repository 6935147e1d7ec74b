#!/bin/sh
# The ACPI tables checked by ACPICA's own tools (Debian: acpica-tools), the
# code Linux runs on them: iasl must disassemble every table and show what
# test_acpi's configuration put there, the PCI root bridge PCI0 with its
# _CRS and _PRT included; the DSDT's disassembly must compile back to the
# same AML; acpiexec must load FADT, FACS, MADT and DSDT, evaluate \_S5,
# read PCI0's routing table and resources through ACPICA's resource
# manager (which also converts them back to AML and compares), and once
# go through S5 and back with ACPICA's PM1 register code.
# Without iasl every check is a SKIP.
#
# usage: tests/unit/acpi-iasl.sh BUILD_DIR
set -u
B=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/../integration/lib.sh"
BIN=$B/tests/unit/test_acpi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

if ! command -v iasl >/dev/null 2>&1; then
	skip acpi-iasl "iasl not found (Debian package acpica-tools)"
	summary
	exit
fi
if [ ! -x "$BIN" ]; then
	fail acpi-dump "$BIN is not built"
	summary
	exit
fi

# has NAME FILE PATTERN...: every extended regular expression matches.
has() {
	name=$1 file=$2
	shift 2
	for re in "$@"; do
		if ! grep -Eq -- "$re" "$file"; then
			cp "$file" "$T_OUT"
			fail "$name" "$(basename "$file") does not match /$re/"
			return
		fi
	done
	ok "$name"
}

# test_acpi --dump uses: PM1a_EVT 0x600, PM1a_CNT 0x604, PM timer 0x608,
# reset 0xcf9 <- 6, SCI 9, SLP_TYP 5 for S5, PCI memory window
# 0xc0000000-0xfebfffff.
for n in 1 4 64; do
	d=$W/cpus$n
	mkdir -p "$d"
	: >"$T_OUT"
	if ! "$BIN" --dump "$d" "$n" 2>"$T_ERR"; then
		fail "acpi-dump-$n" "test_acpi --dump $n failed"
		continue
	fi

	bad=
	for t in xsdt facp apic facs dsdt; do
		if ! (cd "$d" && iasl -d "$t.dat") >"$T_OUT" 2>"$T_ERR" || [ ! -s "$d/$t.dsl" ]; then
			bad=$t
			break
		fi
	done
	if [ -n "$bad" ]; then
		fail "iasl-disassemble-$n" "iasl -d $bad.dat failed"
		continue
	fi
	ok "iasl-disassemble-$n"

	lapics=$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$d/apic.dsl")
	ioapics=$(grep -c 'Subtable Type : 01 \[I/O APIC\]' "$d/apic.dsl")
	if [ "$lapics" != "$n" ] || [ "$ioapics" != 1 ]; then
		cp "$d/apic.dsl" "$T_OUT"
		fail "iasl-madt-$n" "$lapics local APICs and $ioapics I/O APICs, want $n and 1"
	else
		has "iasl-madt-$n" "$d/apic.dsl" \
			'Local Apic Address : FEE00000' 'PC-AT Compatibility : 1' \
			'Address : FEC00000' 'Source : 09' 'Flags \(decoded below\) : 000D'
	fi

	has "iasl-fadt-$n" "$d/facp.dsl" \
		'Revision : 06' 'SCI Interrupt : 0009' 'SMI Command Port : 00000000' \
		'PM1A Event Block Address : 00000600' 'PM1A Control Block Address : 00000604' \
		'PM1 Event Block Length : 04' 'PM1 Control Block Length : 02' \
		'PM Timer Block Address : 00000608' '32-bit PM Timer \(V1\) : 1' \
		'8042 Present on ports 60/64 \(V2\) : 1' 'CMOS RTC Not Present \(V5\) : 0' \
		'Reset Register Supported \(V2\) : 1' 'Hardware Reduced \(V5\) : 0' \
		'Address : 0000000000000CF9' 'Value to cause reset : 06' \
		'DSDT Address : 00000000000E'

	has "iasl-dsdt-$n" "$d/dsdt.dsl" \
		'Name \(_S5, Package \(0x04\)' 'EisaId \("PNP0501"\)' \
		'EisaId \("PNP0303"\)' 'EisaId \("PNP0B00"\)' \
		'0x03F8, +// Range Minimum' 'IRQNoFlags \(\)'

	# PCI0: a PNP0A03 root bridge for bus 0 (and no _ADR beside its _HID),
	# its windows, and 31 devices x 4 pins of INTx routes.
	if sed -n '/Device (PCI0)/,/Name (_CRS/p' "$d/dsdt.dsl" | grep -q '_ADR'; then
		cp "$d/dsdt.dsl" "$T_OUT"
		fail "iasl-pci0-$n" "PCI0 has an _ADR beside its _HID"
	else
		has "iasl-pci0-$n" "$d/dsdt.dsl" \
			'Device \(PCI0\)' 'EisaId \("PNP0A03"\)' 'Name \(_UID, Zero\)' \
			'Name \(_SEG, Zero\)' 'Name \(_BBN, Zero\)' 'Name \(_CRS, ResourceTemplate' \
			'WordBusNumber \(ResourceProducer, MinFixed, MaxFixed, PosDecode' \
			'0x0CF8, +// Range Minimum' '0x0CF7, +// Range Maximum' \
			'0x0D00, +// Range Minimum' '0xFFFF, +// Range Maximum' \
			'DWordMemory \(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite' \
			'0xC0000000, +// Range Minimum' '0xFEBFFFFF, +// Range Maximum' \
			'Name \(_PRT, Package \(0x7C\)' '0x001FFFFF'
	fi

	# Compiled back, the disassembly gives the same AML (not the same
	# header: the compiler signs it with its own id).
	if (cd "$d" && iasl -p rt dsdt.dsl) >"$T_OUT" 2>"$T_ERR" &&
		tail -c +37 "$d/dsdt.dat" >"$d/a.aml" && tail -c +37 "$d/rt.aml" >"$d/b.aml" &&
		cmp "$d/a.aml" "$d/b.aml" >>"$T_OUT" 2>&1; then
		ok "iasl-dsdt-roundtrip-$n"
	else
		fail "iasl-dsdt-roundtrip-$n" "dsdt.dsl does not compile back to the same AML"
	fi

	if ! command -v acpiexec >/dev/null 2>&1; then
		skip "acpiexec-$n" "acpiexec not found (Debian package acpica-tools)"
		continue
	fi
	# acpiexec's own hardware tests report "Unexpected AE_..." for what
	# the tables leave out on purpose (GPE blocks, PM2). Going through S5
	# costs 10 s (ACPICA waits that long for a power-off that cannot
	# happen here, then wakes), so only one configuration does it.
	cmd='evaluate \_S5; resources \_SB.PCI0'
	want='Contains 4 Elements'
	if [ "$n" = 4 ]; then
		cmd="$cmd; sleep 5"
		want='Wake: Return from sleep \(S5\)'
	fi
	(cd "$d" && timeout 60 acpiexec -b "$cmd" facp.dat dsdt.dat apic.dat facs.dat) \
		>"$d/acpiexec.out" 2>&1
	if grep -E 'ACPI (Error|Warning|Exception)|[Mm]ismatch' "$d/acpiexec.out" >"$T_OUT"; then
		fail "acpiexec-$n" "ACPICA complained"
	else
		has "acpiexec-$n" "$d/acpiexec.out" \
			'ACPI: FACP .*SHALE' 'ACPI: APIC .*SHALE' 'Contains 4 Elements' \
			'\[Integer\] = 0000000000000005' "$want" 'No outstanding allocations'
		# _PRT entry 0x7B, the 124th and last: device 31, pin INTD, GSI
		# 16 + (31 + 3) % 8 = 18.
		grep -A 4 '^\[7B\] PCI IRQ Routing Table Package' "$d/acpiexec.out" \
			>"$d/prt-last.out"
		has "acpiexec-pci0-$n" "$d/acpiexec.out" \
			'Evaluating _PRT' 'Evaluating _CRS' 'Resource Type : Bus Number Range' \
			'Address Maximum : FEBFFFFF' 'Resource Conversion Comparison'
		has "acpiexec-prt-$n" "$d/prt-last.out" \
			'Address : 00000000001FFFFF' 'Pin : 00000003' 'Source Index : 00000012'
	fi
done
summary

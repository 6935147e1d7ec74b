#!/bin/sh
# Runs every test suite and prints one closing line for all of them:
# "N passed, N failed, N skipped". Suites: cmocka unit tests, fuzz
# regression runs over the seed corpora, a short libFuzzer run of each
# harness (SHALE_FUZZ_SMOKE=0 leaves it out), CLI checks, the integration
# suite and the malicious-guest suite (guests on /dev/kvm, or in the lab,
# or SKIP with the reason), the daemon and the Linux guests.
#
# usage: tests/run-all.sh BUILD_DIR
set -u
B=$1
here=$(cd "$(dirname "$0")" && pwd)
P=0 F=0 S=0
log=$B/tests/last-run.log
mkdir -p "$B/tests"
: >"$log"

add() { P=$((P + $1)); F=$((F + $2)); S=$((S + $3)); }

# A suite whose output ends with "N passed, N failed[, N skipped]".
suite() {
	name=$1
	shift
	echo "== $name"
	out=$("$@" 2>&1)
	status=$?
	printf '%s\n' "$out" >>"$log"
	printf '%s\n' "$out" | grep -Ev '^ok ' 
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $name: no result line (exit status $status)"
		add 0 1 0
		return
	fi
	p=$(echo "$line" | sed 's/^\([0-9]*\) passed.*/\1/')
	f=$(echo "$line" | sed 's/.* \([0-9]*\) failed.*/\1/')
	s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	add "$p" "$f" "${s:-0}"
	if [ "$status" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL $name: exit status $status"
		add 0 1 0
	fi
}

# A cmocka binary: count its "[  PASSED  ]" and "[  FAILED  ]" lines.
cmocka() {
	out=$("$1" 2>&1)
	status=$?
	printf '%s\n' "$out" >>"$log"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	echo "${1##*/}: ${p:-0} passed, ${f:-0} failed"
	if [ -n "$f" ] && [ "$f" != 0 ]; then printf '%s\n' "$out" | grep -E '^\[  (FAILED|ERROR)' ; fi
	add "${p:-0}" "${f:-0}" 0
	if [ "$status" != 0 ] && [ "${f:-0}" = 0 ]; then
		echo "FAIL ${1##*/}: exit status $status"
		add 0 1 0
	fi
}

echo "== unit tests"
for t in "$B"/tests/unit/test_*; do
	case $t in *.o|*.d) continue ;; esac
	[ -x "$t" ] && cmocka "$t"
done

# Each fuzz harness over its seed corpus and fixed mutants: one test each.
echo "== fuzz regression"
for f in "$B"/tests/fuzz/fuzz_*-standalone; do
	[ -x "$f" ] || continue
	h=${f##*/fuzz_}
	h=${h%-standalone}
	if out=$("$f" -mutations=2000 -close_fd_mask=2 -artifact_prefix="$B/tests/fuzz/" \
		"$here/fuzz/corpus/$h" 2>&1); then
		echo "ok fuzz-$h: $out"
		add 1 0 0
	else
		printf 'FAIL fuzz-%s:\n%s\n' "$h" "$out"
		add 0 1 0
	fi
	printf '%s\n' "$out" >>"$log"
done

# The libFuzzer builds are ASan+UBSan already: `make asan` leaves them out.
if [ "${SHALE_FUZZ_SMOKE:-1}" = 1 ]; then
	suite "fuzz smoke (libFuzzer)" "$here/fuzz/smoke.sh"
else
	echo "== fuzz smoke (libFuzzer)"
	echo "SKIP fuzz smoke: SHALE_FUZZ_SMOKE=0 (make asan: its harnesses are sanitized builds already, run by make check)"
	add 0 0 1
fi
suite "ACPI tables (ACPICA)" "$here/unit/acpi-iasl.sh" "$B"
suite "CLI" "$here/integration/cli-tests.sh" "$B/shale" "$B"
suite "integration" "$here/integration/check.sh" "$B"
suite "malicious guests" "$here/malicious/check.sh" "$B"
suite "daemon" "$here/daemon/check.sh" "$B"
suite "Linux guests" "$here/linux/check.sh" "$B"

echo "(full output: $log)"
echo "$P passed, $F failed, $S skipped"
[ "$F" = 0 ]

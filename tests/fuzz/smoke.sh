#!/bin/sh
# Runs every libFuzzer harness briefly from its seed corpus and fails on
# any crash, leak, timeout or broken invariant; one "ok"/"FAIL" line per
# harness and a closing "N passed, N failed, N skipped". Without a clang
# that links -fsanitize=fuzzer each harness is skipped with the reason.
#
# usage: tests/fuzz/smoke.sh [SECONDS]   (default $FUZZ_SMOKE_TIME, else 10)
#   The harnesses are built first with `make fuzz` (into build-fuzz/);
#   inputs a run finds go to build-fuzz/smoke/NAME, which each run empties,
#   crashing inputs to build-fuzz/smoke/NAME-crash-*.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${1:-${FUZZ_SMOKE_TIME:-10}}
cc=${FUZZ_CC:-clang}
out=$top/build-fuzz/smoke
names=$(sed -n 's/^FUZZ_NAMES [:+]= //p' "$here/fuzz.mk")
P=0 F=0 S=0

skip_all() {
	for n in $names; do
		echo "SKIP fuzz-smoke-$n: $1"
		S=$((S + 1))
	done
	echo "$P passed, $F failed, $S skipped"
	exit 0
}

if ! command -v "$cc" >/dev/null 2>&1; then
	skip_all "no $cc (scripts/deps.sh fuzz installs clang and libclang-rt-14-dev)"
fi
mkdir -p "$out"
probe=$out/probe
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$probe" "$probe.c" >"$probe.log" 2>&1; then
	skip_all "$cc cannot link -fsanitize=fuzzer (libclang-rt-14-dev missing?): $(head -n 1 "$probe.log")"
fi
rm -f "$probe" "$probe.c" "$probe.log"

if ! blog=$(cd "$top" && ${MAKE:-make} --no-print-directory fuzz 2>&1); then
	printf '%s\n' "$blog" | grep -v warning | tail -n 20
	for n in $names; do
		echo "FAIL fuzz-smoke-$n: make fuzz failed"
		F=$((F + 1))
	done
	echo "$P passed, $F failed, $S skipped"
	exit 1
fi

for n in $names; do
	bin=$top/build-fuzz/fuzz_$n
	rm -rf "${out:?}/$n"
	mkdir -p "$out/$n"
	# -close_fd_mask=3: the code under test stays quiet; libFuzzer's own
	# report still reaches the log.
	log=$out/$n.log
	if "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 -close_fd_mask=3 \
		-artifact_prefix="$out/$n-" "$out/$n" "$here/corpus/$n" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok fuzz-smoke-$n: ${runs:-?} runs in ${secs}s, no crash"
		P=$((P + 1))
	else
		echo "FAIL fuzz-smoke-$n: (log: $log)"
		grep -E 'ERROR|invariant|SUMMARY|Test unit written|^#[0-9]+ *(DONE|pulse)' "$log" |
			tail -n 15
		F=$((F + 1))
	fi
done
echo "$P passed, $F failed, $S skipped"
[ "$F" = 0 ]

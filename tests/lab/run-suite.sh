#!/bin/sh
# Runs a test suite inside the lab and passes its result on: the suite's
# lines (ok, FAIL, SKIP, its closing "N passed, N failed" line) on stdout,
# the whole console in LOG, and the suite's exit status. A lab that does
# not finish counts as one failed test.
#
# usage: run-suite.sh NAME LOG [lab.sh options] PAYLOAD_DIR
set -u
name=$1
log=$2
shift 2
"$(dirname "$0")/lab.sh" "$@" | tee "$log" | grep -E '^(ok|FAIL|SKIP|    std|[0-9]+ passed)'
status=$(sed -n 's/^LAB-EXIT \([0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ -z "$status" ]; then
	echo "FAIL $name: the lab did not finish (log: $log)"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
exit "$status"

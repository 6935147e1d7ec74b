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
here=$(dirname "$0")
# lab_run
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"

# shellcheck disable=SC2317 # called by lab_run
suite_lines() { grep -E '^(ok|FAIL|SKIP|    std|[0-9]+ passed)'; }

lab_run "$log" suite_lines "$here/lab.sh" "$@"
if [ -z "$lab_status" ]; then
	echo "FAIL $name: the lab did not finish (log: $log)"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
exit "$lab_status"

# Host-side helpers for scripts that run a payload in the lab (tests/lab/lab.sh):
# the test suites (tests/lab/run-suite.sh) and the benchmarks (bench/run.sh,
# bench/boot.sh). Sourced; POSIX sh.

# lab_run LOG SHOW LAB_SH [lab.sh options] PAYLOAD_DIR: runs the lab, keeps
# its whole console in LOG and pipes it, as it comes, through the command
# SHOW, which prints what the caller's user should see. Then sets lab_status
# to the payload's exit status from the console's LAB-EXIT line, or to ""
# when the lab did not finish.
lab_run() {
	lab_log=$1
	lab_show=$2
	shift 2
	"$@" | tee "$lab_log" | "$lab_show"
	# shellcheck disable=SC2034 # read by the caller
	lab_status=$(sed -n 's/^LAB-EXIT \([0-9]*\).*/\1/p' "$lab_log" | tail -n 1)
}

# lab_payload_lines: a SHOW for lab_run: the payload's own lines, from the
# lab's LAB-READY marker to its LAB-EXIT line, without the LAB-READY line
# and without kernel messages.
lab_payload_lines() {
	sed -u -n '/^LAB-READY/,/^LAB-EXIT/p' |
		grep --line-buffered -Ev '^(LAB-READY|\[ *[0-9]+\.[0-9]+\])'
}

# Shared by the integration test scripts (POSIX sh: they also run under
# busybox inside the lab). Each test prints one line: "ok NAME",
# "FAIL NAME: why" or "SKIP NAME: why"; summary() prints the closing
# "N passed, N failed, N skipped" line and sets the exit status.

PASSED=0
FAILED=0
SKIPPED=0
T_OUT=${TMPDIR:-/tmp}/shale-test.$$.out
T_ERR=${TMPDIR:-/tmp}/shale-test.$$.err

ok() { PASSED=$((PASSED + 1)); echo "ok $1"; }
fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL $1: $2"
	if [ -s "$T_OUT" ]; then sed 's/^/    stdout: /' "$T_OUT" | head -n 20; fi
	if [ -s "$T_ERR" ]; then sed 's/^/    stderr: /' "$T_ERR" | head -n 20; fi
}
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP $1: $2"; }

# expect NAME STATUS OUT_PATTERN ERR_PATTERN CMD...
# How tests bound a command: `$T_TIMEOUT SECS CMD...`. With coreutils'
# timeout, --foreground: no SIGCONT after its SIGTERM, which could cancel
# the SIGSTOP of LeakSanitizer's tracer in an ASan build exiting on that
# SIGTERM and leave it waiting for ever (BusyBox's, in the lab, sends none).
# -k: what outlives SIGTERM by 10 s is killed (and fails with 137).
if timeout --foreground 5 true 2>/dev/null; then
	T_TIMEOUT="timeout --foreground -k 10"
else
	T_TIMEOUT="timeout -k 10"
fi

# Runs CMD (bounded by T_LIMIT seconds, default 60), then checks its exit status and that stdout
# and stderr match the extended regular expressions ('' matches anything).
expect() {
	name=$1 want=$2 out_re=$3 err_re=$4
	shift 4
	$T_TIMEOUT "${T_LIMIT:-60}" "$@" >"$T_OUT" 2>"$T_ERR" </dev/null
	got=$?
	if [ "$got" != "$want" ]; then
		fail "$name" "exit status $got, want $want"
	elif [ -n "$out_re" ] && ! grep -Eq -- "$out_re" "$T_OUT"; then
		fail "$name" "stdout does not match /$out_re/"
	elif [ -n "$err_re" ] && ! grep -Eq -- "$err_re" "$T_ERR"; then
		fail "$name" "stderr does not match /$err_re/"
	else
		ok "$name"
	fi
}

# host_kind: this host's KVM as `shale host --kind` names it (SHALE is the
# shale under test).
host_kind() {
	"$SHALE" host --kind 2>/dev/null || echo none
}

summary() {
	rm -f "$T_OUT" "$T_ERR"
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" -eq 0 ]
}

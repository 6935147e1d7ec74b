#!/bin/sh
# `make run`: the built-in demo guest, a para-virtual guest: directly on
# this host's /dev/kvm where para-virtual guests run (vmx, svm, pvm: see
# scripts/host-kind.sh), otherwise inside the nested-SVM lab (tests/lab/)
# when the lab can run here.
# usage: scripts/run-demo.sh BUILD_DIR
set -u
B=$1
top=$(cd "$(dirname "$0")/.." && pwd)
# guest_place
. "$top/scripts/host-kind.sh"
guest_place "$B/shale" pv
if [ "$PLACE" = direct ]; then
	exec "$B/shale" run
fi
if ! reason=$("$top/tests/lab/lab-available.sh" 2>&1); then
	echo "make run: $PLACE_WHY, and the lab cannot run: ${reason#SKIP: }" >&2
	[ "${SHALE_FORCE_LAB:-0}" = 1 ] && exit 125
	exec "$B/shale" run # says what is missing, with status 125
fi
echo "make run: $PLACE_WHY: running the demo guest in the nested-SVM lab" >&2
stage=$B/demo-stage
rm -rf "$stage"
mkdir -p "$stage"
cp "$B/shale" "$stage/"
cat >"$stage/run.sh" <<'RUN'
#!/bin/sh
echo DEMO-BEGIN
/payload/shale run
echo "DEMO-END $?"
RUN
chmod +x "$stage/run.sh"
LAB_QUIET=1 "$top/tests/lab/lab.sh" "$stage" >"$stage/console.log" 2>&1
tr -d '\r' <"$stage/console.log" | sed -n '/^DEMO-BEGIN/,/^DEMO-END/p' |
	sed -e '/^DEMO-BEGIN/d' -e '/^DEMO-END/d'
status=$(sed -n 's/^DEMO-END \([0-9]*\).*/\1/p' "$stage/console.log")
if [ -z "$status" ]; then
	echo "make run: the lab did not finish (log: $stage/console.log)" >&2
	exit 125
fi
exit "$status"

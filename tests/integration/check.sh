#!/bin/sh
# Runs the integration suite (run-tests.sh), whose guests are para-virtual,
# where they can run: directly on a vmx, svm or pvm /dev/kvm (`shale host
# --kind`, scripts/host-kind.sh), otherwise inside the nested-SVM lab
# (tests/lab/lab.sh), otherwise says SKIP with the reason.
#
# usage: check.sh BUILD_DIR
set -u
B=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# One flat directory of everything the suite runs.
stage=$B/tests/stage
rm -rf "$stage"
mkdir -p "$stage/guests"
cp "$B"/g/examples/*.elf "$B"/g/tests/guests/*.elf "$B/examples/compute-native" \
	"$B/tests/tools/udp_echo_client" "$B/tests/tools/ctl" "$stage/guests/"
cp "$B/shale" "$B/shale-net" "$here/run-tests.sh" "$here/lib.sh" "$stage/"

# guest_place
. "$top/scripts/host-kind.sh"
guest_place "$B/shale" pv
if [ "$PLACE" = direct ]; then
	echo "integration: running guests on this host's /dev/kvm ($HOST_KIND)"
	exec "$stage/run-tests.sh" "$stage/shale" "$stage/guests"
fi

if ! reason=$("$top/tests/lab/lab-available.sh" 2>&1); then
	echo "SKIP integration: $PLACE_WHY and the lab cannot run: ${reason#SKIP: }"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

echo "integration: $PLACE_WHY; running guests in the nested-SVM lab"
ip_path=$(command -v ip || true)
cat >"$stage/run.sh" <<RUN
#!/bin/sh
cd /payload
# busybox sh runs its own applets first: name iproute2's ip by path.
export IP=$ip_path
# iproute2 keeps network namespaces under /var/run/netns.
mkdir -p /var /run/netns && ln -sfn /run /var/run
./run-tests.sh /payload/shale /payload/guests
RUN
chmod +x "$stage/run.sh"
# The network tests need iproute2 (netns, tuntap), which busybox lacks.
[ -n "$ip_path" ] && echo "$ip_path" >"$stage/host-bins"
exec "$top/tests/lab/run-suite.sh" integration "$B/tests/lab-integration.log" --timeout 900 "$stage"

#!/bin/sh
# Runs the malicious-guest suite (run-tests.sh) where para-virtual guests
# run: directly on a vmx, svm or pvm /dev/kvm (`shale host --kind`,
# scripts/host-kind.sh), otherwise inside the nested-SVM lab
# (tests/lab/lab.sh), otherwise says SKIP with the reason.
#
# usage: check.sh BUILD_DIR
set -u
B=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

stage=$B/tests/stage-malicious
rm -rf "$stage"
mkdir -p "$stage/guests"
cp "$B/g/tests/guests/attack.elf" "$B/g/tests/guests/misbehave.elf" "$B/g/examples/compute.elf" \
	"$B/examples/compute-native" "$B/tests/tools/ctl" "$B/tests/tools/stallpty" "$stage/guests/"
cp "$B/shale" "$here/run-tests.sh" "$top/tests/integration/lib.sh" "$stage/"

# guest_place
. "$top/scripts/host-kind.sh"
guest_place "$B/shale" pv
if [ "$PLACE" = direct ]; then
	echo "malicious guests: running on this host's /dev/kvm ($HOST_KIND)"
	exec "$stage/run-tests.sh" "$stage/shale" "$stage/guests"
fi

if ! reason=$("$top/tests/lab/lab-available.sh" 2>&1); then
	echo "SKIP malicious guests: $PLACE_WHY and the lab cannot run: ${reason#SKIP: }"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

# The lab's CPU is emulated: less work for the VM beside each attack, and
# smaller floods, the same attacks.
echo "malicious guests: $PLACE_WHY; running them in the nested-SVM lab"
ip_path=$(command -v ip || true)
cat >"$stage/run.sh" <<RUN
#!/bin/sh
cd /payload
# busybox sh runs its own applets first: name iproute2's ip by path.
export IP=$ip_path
# iproute2 keeps network namespaces under /var/run/netns.
mkdir -p /var /run/netns && ln -sfn /run /var/run
export COMPUTE_N=2000000 FLOOD_MIB=256 FLOOD_HC_MIB=128 T_LIMIT=300
./run-tests.sh /payload/shale /payload/guests
RUN
chmod +x "$stage/run.sh"
# The network attacks need iproute2 (netns, tuntap), which busybox lacks.
[ -n "$ip_path" ] && echo "$ip_path" >"$stage/host-bins"
exec "$top/tests/lab/run-suite.sh" "malicious guests" "$B/tests/lab-malicious.log" --timeout 1500 "$stage"

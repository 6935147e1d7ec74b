#!/bin/sh
# Installs the Debian packages shale needs, or says how to.
#
# usage: scripts/deps.sh build|check|fuzz
#   build  compiler and libraries for `make` and `make run`
#   check  build + unit-test, lab, network-test and libFuzzer packages for
#          `make check` (its fuzz smoke runs need clang)
#   fuzz   build + clang's libFuzzer for `make fuzz`
#
# As root, missing packages are installed with apt-get. Otherwise the exact
# command is printed; a missing build package is an error, a missing lab
# package only means the lab tests will say SKIP.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

BUILD="gcc make libc6-dev binutils liburing-dev libjson-c-dev libmicrohttpd-dev libseccomp-dev libslirp-dev"
UNIT="libcmocka-dev"
LAB=$(grep -v '^#' "$here/lab-deps.txt" | tr '\n' ' ')
FUZZ="clang libclang-rt-14-dev"
# The network integration test pings the guest from the host; the daemon
# tests talk HTTP to shaled with curl.
NET="iputils-ping curl"

missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			printf '%s ' "$p"
	done
}

install() {
	if [ "$(id -u)" = 0 ]; then
		echo "deps: installing $*"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q "$@" >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
		return
	fi
	echo "deps: missing Debian packages; run as root:"
	echo "  apt-get install -y $*"
	return 1
}

case "${1:-build}" in
build) need="$BUILD" want="" ;;
check) need="$BUILD $UNIT" want="$LAB acpica-tools $NET $FUZZ" ;;
fuzz) need="$BUILD" want="$FUZZ" ;;
*) echo "usage: $0 build|check|fuzz" >&2; exit 2 ;;
esac

# shellcheck disable=SC2086 # word splitting of package lists is intended
m=$(missing $need)
if [ -n "$m" ]; then
	# shellcheck disable=SC2086
	install $m || exit 1
fi
# shellcheck disable=SC2086
m=$(missing $want)
if [ -n "$m" ]; then
	# shellcheck disable=SC2086
	install $m || echo "deps: continuing without them: tests that need them will SKIP"
fi
exit 0

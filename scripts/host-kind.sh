# shellcheck shell=sh
# Where guests run, from the kind of this host's KVM that `shale host
# --kind` reports (src/vmm/host.c): para-virtual guests directly on vmx,
# svm and pvm; Linux guests directly on vmx and svm (PVM emulates guest
# ring 0); anything else in the nested-SVM lab (tests/lab/).
# SHALE_FORCE_LAB=1 sends both to the lab. Sourced by the scripts that run
# guests (POSIX sh).

# guest_place SHALE pv|linux: sets HOST_KIND (none when SHALE cannot say),
# PLACE (direct or lab) and, for the lab, PLACE_WHY: why not directly, a
# phrase ("this host has no /dev/kvm").
# shellcheck disable=SC2034 # the caller reads PLACE and PLACE_WHY
guest_place() {
	HOST_KIND=$("$1" host --kind 2>/dev/null) || HOST_KIND=none
	PLACE=lab
	PLACE_WHY=
	case $HOST_KIND in
	vmx | svm) PLACE=direct ;;
	pvm)
		if [ "$2" = pv ]; then
			PLACE=direct
		else
			PLACE_WHY="this host's KVM is PVM, which cannot run unmodified kernels"
		fi
		;;
	none) PLACE_WHY="this host has no /dev/kvm" ;;
	inaccessible) PLACE_WHY="this host's /dev/kvm cannot be opened" ;;
	*) PLACE_WHY="this host's /dev/kvm is of a kind shale does not know" ;;
	esac
	if [ "${SHALE_FORCE_LAB:-0}" = 1 ]; then
		PLACE=lab
		PLACE_WHY="SHALE_FORCE_LAB=1"
	fi
}

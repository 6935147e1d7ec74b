#!/bin/sh
# Lab smoke test, run inside L1 by tests/lab/lab.sh: SVM is offered, /dev/kvm
# works, and a vCPU starts in ring-3 long mode with port exits (kvmcheck).
flags=$(grep -m 1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
	grep -E '^(svm|npt|nrip_save|vmcb_clean|flushbyasid|decodeassists|lbrv|tsc_scale|pause_filter|v_vmsave_vmload|vgif)$' |
	tr '\n' ' ')
echo "lab: cpu flags: $flags"
case " $flags " in
*" svm "*) ;;
*) echo "lab: FAIL: no svm flag in /proc/cpuinfo"; exit 1 ;;
esac
if [ ! -c /dev/kvm ]; then
	echo "lab: FAIL: /dev/kvm missing"
	exit 1
fi
echo "lab: kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt) nested=$(cat /sys/module/kvm_amd/parameters/nested)"
echo "lab: kvm ok"
./kvmcheck

/*
 * What this host's /dev/kvm is, and so which guests shale can run on it.
 * The one detection behind `shale host`, the refusal of `shale run
 * --kernel` where unmodified kernels cannot run, and (through `shale host
 * --kind`) the choice the test and benchmark scripts make between running
 * guests directly and running them in the lab.
 */
#ifndef SHALE_VMM_HOST_H
#define SHALE_VMM_HOST_H

#include <stdbool.h>

#define HOST_KVM_DEVICE "/dev/kvm"

enum host_kind {
	HOST_NONE,         /* no /dev/kvm, or no driver behind it */
	HOST_INACCESSIBLE, /* /dev/kvm exists but cannot be opened */
	HOST_UNKNOWN,      /* a /dev/kvm from a module shale does not know */
	HOST_VMX,          /* kvm_intel: hardware virtualization */
	HOST_SVM,          /* kvm_amd: hardware virtualization */
	HOST_PVM,          /* kvm_pvm: guest ring 3 native, guest ring 0 emulated */
};

struct host_info {
	enum host_kind kind;
	const char *device;  /* HOST_KVM_DEVICE */
	const char *module;  /* the KVM module that serves it (sysfs), or NULL */
	bool accessible;     /* the device opens for reading and writing */
	bool pvm_confirmed;  /* a vCPU's MSR 0x4b564d11 reads "PVM" */
	int err;             /* errno of the failed stat() or open(), or 0 */
	char reason[200];    /* one sentence on how the kind was found */
};

/*
 * host_detect() flags. Without HOST_PROBE, /sys/module decides when it
 * shows exactly one of kvm_intel, kvm_amd and kvm_pvm, and nothing but a
 * stat() and an open() is done; with it, or when sysfs shows none or
 * several, a throwaway VM with one vCPU (about 0.5 ms) is asked for PVM's
 * identification MSR, which settles which module the device belongs to.
 */
#define HOST_PROBE 0x1u

/* Never fails: what could not be found out is a kind and a reason too. */
void host_detect(struct host_info *h, unsigned flags);

/* "vmx", "svm", "pvm", "none", "inaccessible" or "unknown". */
const char *host_kind_name(enum host_kind kind);

/*
 * Whether kvm_intel is loaded: VMX enters a 64-bit guest only with a busy
 * TSS in TR, where everything else (the lab's software CPU in particular)
 * wants an available one for the I/O bitmap. Only sysfs is asked.
 */
bool host_kvm_is_vmx(void);

/* Para-virtual guests run at CPL 3 and need only a working KVM. */
bool host_runs_pv(const struct host_info *h);
/* Unmodified kernels need a KVM that runs guest ring 0 in hardware. */
bool host_runs_linux(const struct host_info *h);
/* Why host_runs_linux() is false, as a phrase; NULL when it is true. */
const char *host_linux_why_not(const struct host_info *h);

/* Where to run Linux guests instead: the end of a refusal. */
#define HOST_LINUX_ELSEWHERE \
	"run Linux guests on a VMX or SVM host, or in the lab (tests/lab/lab.sh)"

#endif

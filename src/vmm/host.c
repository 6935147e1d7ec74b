#include "vmm/host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

/*
 * PVM answers a host-initiated read of this MSR with "PVM" (0x4d5650);
 * VMX and SVM KVM know no such MSR and fail the read.
 */
#define PVM_ID_MSR 0x4b564d11u
#define PVM_ID_VALUE 0x4d5650ull

/* The vendor modules, in the order sysfs alone prefers them. */
static const struct {
	const char *name;
	enum host_kind kind;
} modules[] = {
	{ "kvm_pvm", HOST_PVM },
	{ "kvm_intel", HOST_VMX },
	{ "kvm_amd", HOST_SVM },
};
#define PVM_BIT (1u << 0) /* kvm_pvm's bit in a sysfs_modules() mask */

const char *host_kind_name(enum host_kind kind)
{
	switch (kind) {
	case HOST_NONE:
		return "none";
	case HOST_INACCESSIBLE:
		return "inaccessible";
	case HOST_UNKNOWN:
		return "unknown";
	case HOST_VMX:
		return "vmx";
	case HOST_SVM:
		return "svm";
	case HOST_PVM:
		return "pvm";
	}
	return "unknown";
}

bool host_runs_pv(const struct host_info *h)
{
	return h->kind == HOST_VMX || h->kind == HOST_SVM || h->kind == HOST_PVM;
}

bool host_runs_linux(const struct host_info *h)
{
	return h->kind == HOST_VMX || h->kind == HOST_SVM;
}

const char *host_linux_why_not(const struct host_info *h)
{
	switch (h->kind) {
	case HOST_VMX:
	case HOST_SVM:
		return NULL;
	case HOST_PVM:
		return "PVM emulates guest ring 0, so an unmodified kernel cannot run here";
	case HOST_NONE:
		return "this host has no KVM";
	case HOST_INACCESSIBLE:
		return HOST_KVM_DEVICE " cannot be opened";
	case HOST_UNKNOWN:
		break;
	}
	return "this KVM is none shale knows to run guest ring 0 in hardware";
}

/* Which vendor modules /sys/module shows: bit i for modules[i]. */
static unsigned sysfs_modules(void)
{
	unsigned mask = 0;
	char path[64];

	for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", modules[i].name);
		if (!access(path, F_OK))
			mask |= 1u << i;
	}
	return mask;
}

bool host_kvm_is_vmx(void)
{
	static int vmx = -1; /* asked once: the host's KVM does not change under a VMM */

	if (vmx < 0)
		vmx = access("/sys/module/kvm_intel", F_OK) == 0;
	return vmx;
}

/* Whether a vCPU of a VM on kvm_fd reads PVM's identification MSR. */
static bool probe_pvm(int kvm_fd)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} msrs = { .hdr.nmsrs = 1, .entry.index = PVM_ID_MSR };
	bool pvm = false;
	int vm_fd, vcpu_fd;

	do
		vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	while (vm_fd < 0 && errno == EINTR);
	if (vm_fd < 0)
		return false;
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd >= 0) {
		/* KVM_GET_MSRS returns how many MSRs it read. */
		pvm = ioctl(vcpu_fd, KVM_GET_MSRS, &msrs) == 1 && msrs.entry.data == PVM_ID_VALUE;
		close(vcpu_fd);
	}
	close(vm_fd);
	return pvm;
}

/* The kind and reason of a device that opened, from sysfs and the probe. */
static void classify(struct host_info *h, int fd, unsigned mask, unsigned flags)
{
	bool ambiguous = mask == 0 || (mask & (mask - 1)) != 0;
	const char *how = "";

	if ((flags & HOST_PROBE) || ambiguous)
		h->pvm_confirmed = probe_pvm(fd);

	h->kind = HOST_UNKNOWN;
	h->module = NULL;
	if (h->pvm_confirmed) {
		h->kind = HOST_PVM;
		h->module = (mask & PVM_BIT) ? modules[0].name : NULL;
		how = " (confirmed: MSR 0x4b564d11 reads PVM)";
	} else {
		/*
		 * A probe that found no PVM leaves PVM for the case where
		 * kvm_pvm is the only vendor module there is.
		 */
		if ((flags & HOST_PROBE) || ambiguous) {
			if (mask & ~PVM_BIT)
				mask &= ~PVM_BIT;
			else if (mask & PVM_BIT)
				how = " (not confirmed: MSR 0x4b564d11 does not read PVM)";
		}
		for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
			if (mask & (1u << i)) {
				h->kind = modules[i].kind;
				h->module = modules[i].name;
				break;
			}
		}
	}

	switch (h->kind) {
	case HOST_VMX:
		snprintf(h->reason, sizeof(h->reason),
			 "%s: hardware virtualization (Intel VMX)", h->module);
		break;
	case HOST_SVM:
		snprintf(h->reason, sizeof(h->reason),
			 "%s: hardware virtualization (AMD SVM)", h->module);
		break;
	case HOST_PVM:
		snprintf(h->reason, sizeof(h->reason),
			 "%s%sPVM, guest ring 3 runs natively and guest ring 0 is emulated%s",
			 h->module ? h->module : "", h->module ? ": " : "", how);
		break;
	default:
		snprintf(h->reason, sizeof(h->reason),
			 "%s is served by none of kvm_intel, kvm_amd and kvm_pvm", h->device);
		break;
	}
}

void host_detect(struct host_info *h, unsigned flags)
{
	unsigned mask = sysfs_modules();
	struct stat st;
	int fd, version;

	*h = (struct host_info){ .kind = HOST_NONE, .device = HOST_KVM_DEVICE };
	/* Until the device answers, the module is what sysfs prefers. */
	for (size_t i = 0; i < ARRAY_SIZE(modules) && !h->module; i++)
		if (mask & (1u << i))
			h->module = modules[i].name;
	if (stat(h->device, &st) < 0) {
		h->err = errno;
		if ((errno == ENOENT || errno == ENOTDIR) && h->module) {
			snprintf(h->reason, sizeof(h->reason), "no %s, although %s is loaded",
				 h->device, h->module);
		} else if (errno == ENOENT || errno == ENOTDIR) {
			snprintf(h->reason, sizeof(h->reason),
				 "no %s: this host offers no KVM (none of kvm_intel, kvm_amd and "
				 "kvm_pvm is loaded)", h->device);
		} else {
			h->kind = HOST_INACCESSIBLE;
			snprintf(h->reason, sizeof(h->reason), "%s: %s", h->device,
				 strerror(errno));
		}
		return;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(h->reason, sizeof(h->reason), "%s is not a character device", h->device);
		return;
	}
	fd = open(h->device, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		h->err = errno;
		if (errno == ENODEV || errno == ENXIO) {
			snprintf(h->reason, sizeof(h->reason),
				 "%s: %s: no KVM module serves it", h->device, strerror(errno));
		} else {
			h->kind = HOST_INACCESSIBLE;
			snprintf(h->reason, sizeof(h->reason), "%s: %s%s", h->device,
				 strerror(errno),
				 errno == EACCES || errno == EPERM ?
				 " (add this user to the 'kvm' group or run as root)" : "");
		}
		return;
	}
	h->accessible = true;
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		h->kind = HOST_UNKNOWN;
		snprintf(h->reason, sizeof(h->reason), "%s: KVM API version %d, shale needs %d",
			 h->device, version, KVM_API_VERSION);
	} else {
		classify(h, fd, mask, flags);
	}
	close(fd);
}

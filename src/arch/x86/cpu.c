#include "arch/x86/cpu.h"

#include <errno.h>
#include <pthread.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/pv.h"
#include "util/util.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define CPUID_1_ECX_XSAVE (1u << 26)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
/* x87, SSE, AVX, and the three AVX-512 state components. */
#define XCR0_WANTED 0xe7ull

/*
 * KVM_GET_SUPPORTED_CPUID, asked once per process (the answer depends only
 * on the host and /dev/kvm is the process's): it executes CPUID on the host
 * for every leaf, which is slow where the host is itself a VM (about
 * 0.35 ms under PVM: a fifth of a small guest's whole life). So it is asked
 * on a thread of its own as soon as /dev/kvm is open (x86_cpuid_prefetch()),
 * while the VM and its memory are made, and the vCPU's set-up waits for it.
 * Room for 256 entries is enough everywhere seen (75 to about 100); more is
 * asked for only on E2BIG.
 */
static struct {
	struct kvm_cpuid2 *table; /* NULL: the ioctl failed (errno in err) */
	size_t size;
	int err;
	int kvm_fd;
	bool asked;     /* by a prefetch or by supported_cpuid() */
	bool threaded;  /* ...on `thread`, not yet joined */
	pthread_t thread;
} cpuid_cache;

static void *ask_cpuid(void *unused)
{
	for (unsigned n = 256; n <= 4096; n *= 2) {
		size_t size = sizeof(struct kvm_cpuid2) + n * sizeof(struct kvm_cpuid_entry2);
		struct kvm_cpuid2 *c = calloc(1, size);

		if (!c) {
			cpuid_cache.err = ENOMEM;
			return NULL;
		}
		c->nent = n;
		if (ioctl(cpuid_cache.kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			cpuid_cache.table = c;
			cpuid_cache.size = sizeof(*c) + c->nent * sizeof(c->entries[0]);
			return NULL;
		}
		cpuid_cache.err = errno;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

void x86_cpuid_prefetch(int kvm_fd)
{
	if (cpuid_cache.asked)
		return;
	cpuid_cache.asked = true;
	cpuid_cache.kvm_fd = kvm_fd;
	/* No thread (a limit reached): asked inline, later. */
	if (pthread_create(&cpuid_cache.thread, NULL, ask_cpuid, NULL) == 0)
		cpuid_cache.threaded = true;
	else
		cpuid_cache.asked = false;
}

/* A copy of the table the caller frees; NULL with errno set. Set-up thread. */
static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c;

	if (cpuid_cache.threaded) {
		pthread_join(cpuid_cache.thread, NULL);
		cpuid_cache.threaded = false;
	}
	if (!cpuid_cache.asked) {
		cpuid_cache.asked = true;
		cpuid_cache.kvm_fd = kvm_fd;
		ask_cpuid(NULL);
	}
	if (!cpuid_cache.table) {
		errno = cpuid_cache.err;
		return NULL;
	}
	c = malloc(cpuid_cache.size);
	if (c)
		memcpy(c, cpuid_cache.table, cpuid_cache.size);
	return c;
}

static unsigned order_base_2(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

/*
 * One package of nr_cpus cores with one thread each; this vCPU's APIC ID is
 * its index. Linux reads the topology from leaves 1 and 0xb (Intel) or
 * 0x80000008 (AMD) and the CPU list from ACPI.
 */
static void set_topology(struct kvm_cpuid2 *c, unsigned id, unsigned nr_cpus, bool tsc_deadline)
{
	unsigned core_bits = order_base_2(nr_cpus);

	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | (MIN(nr_cpus, 255u) << 16) | (id << 24);
			/*
			 * The in-kernel LAPIC has the TSC-deadline timer, but older
			 * kernels leave it out of KVM_GET_SUPPORTED_CPUID.
			 */
			if (tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			e->edx = nr_cpus > 1 ? e->edx | CPUID_1_EDX_HTT : e->edx & ~CPUID_1_EDX_HTT;
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			break;
		case 0xb:
			e->edx = id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 1u << 8; /* SMT level */
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = nr_cpus;
				e->ecx = 2u << 8 | 1; /* core level */
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | (nr_cpus - 1);
			break;
		default:
			break;
		}
	}
}

int x86_setup_cpuid(struct vm *vm, struct vcpu *vcpu, unsigned nr_cpus, uint64_t *xcr0)
{
	struct kvm_cpuid2 *c = supported_cpuid(vm->kvm_fd);
	bool xsave = false;
	uint64_t xfeatures = 0;
	int ret = 0;

	if (!c) {
		ret = -errno;
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		return ret;
	}
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			xsave = e->ecx & CPUID_1_ECX_XSAVE;
		if (e->function == 0xd && e->index == 0)
			xfeatures = ((uint64_t)e->edx << 32) | e->eax;
	}
	set_topology(c, vcpu->id, nr_cpus,
		     ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0) {
		ret = -errno;
		log_err("KVM_SET_CPUID2: %s", strerror(errno));
	}
	free(c);

	*xcr0 = 0;
	if (xsave && ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		*xcr0 = xfeatures & XCR0_WANTED;
		/* AVX-512 state is usable only as a whole, and only with AVX. */
		if ((*xcr0 & 0xe0) != 0xe0 || !(*xcr0 & 0x4))
			*xcr0 &= ~0xe0ull;
		if ((*xcr0 & 0x3) != 0x3)
			*xcr0 = 0;
	}
	return ret;
}

int x86_set_xcr0(struct vcpu *vcpu, uint64_t xcr0)
{
	struct kvm_xcrs xcrs = { .nr_xcrs = 1 };

	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = xcr0;
	if (ioctl(vcpu->fd, KVM_SET_XCRS, &xcrs) < 0) {
		int ret = -errno;

		log_err("KVM_SET_XCRS: %s", strerror(errno));
		return ret;
	}
	return 0;
}

uint64_t x86_tsc_khz(struct vcpu *vcpu)
{
	int khz;

	if (ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) <= 0)
		return 0;
	khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	return khz > 0 ? (uint64_t)khz : 0;
}

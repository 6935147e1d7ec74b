#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/util.h"
#include "vmm/vm.h"

#define NR_IRQCHIP_GSIS 24u
/* 16 GSIs with two routes (8259 and IOAPIC), 8 with one (IOAPIC). */
#define NR_DEFAULT_ROUTES (16u * 2 + 8u)

struct irq_table {
	pthread_mutex_t lock;
	unsigned nr_msi;
	struct { uint64_t addr; uint32_t data; } msi[IRQ_MAX_MSI];
};

static struct irq_table *table(struct vm *vm)
{
	static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&create_lock);
	if (!vm->irq) {
		vm->irq = calloc(1, sizeof(*vm->irq));
		if (vm->irq)
			pthread_mutex_init(&vm->irq->lock, NULL);
	}
	pthread_mutex_unlock(&create_lock);
	return vm->irq;
}

/* Called with the table's lock. */
static int commit(struct vm *vm, struct irq_table *t)
{
	unsigned n = NR_DEFAULT_ROUTES + t->nr_msi, i = 0;
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) + n * sizeof(r->entries[0]));
	int ret = 0;

	if (!r)
		return -ENOMEM;
	for (unsigned gsi = 0; gsi < NR_IRQCHIP_GSIS; gsi++) {
		r->entries[i].gsi = gsi;
		r->entries[i].type = KVM_IRQ_ROUTING_IRQCHIP;
		r->entries[i].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		r->entries[i].u.irqchip.pin = gsi;
		i++;
		if (gsi < 16) {
			r->entries[i].gsi = gsi;
			r->entries[i].type = KVM_IRQ_ROUTING_IRQCHIP;
			r->entries[i].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
								  : KVM_IRQCHIP_PIC_SLAVE;
			r->entries[i].u.irqchip.pin = gsi % 8;
			i++;
		}
	}
	for (unsigned m = 0; m < t->nr_msi; m++, i++) {
		r->entries[i].gsi = IRQ_MSI_GSI_BASE + m;
		r->entries[i].type = KVM_IRQ_ROUTING_MSI;
		r->entries[i].u.msi.address_lo = (uint32_t)t->msi[m].addr;
		r->entries[i].u.msi.address_hi = (uint32_t)(t->msi[m].addr >> 32);
		r->entries[i].u.msi.data = t->msi[m].data;
	}
	r->nr = i;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0) {
		ret = -errno;
		log_err("KVM_SET_GSI_ROUTING: %s", strerror(errno));
	}
	free(r);
	return ret;
}

int irq_msi_alloc(struct vm *vm, unsigned *gsi)
{
	struct irq_table *t = table(vm);
	int ret = 0;

	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&t->lock);
	if (t->nr_msi == IRQ_MAX_MSI) {
		ret = -ENOSPC;
	} else {
		*gsi = IRQ_MSI_GSI_BASE + t->nr_msi;
		t->msi[t->nr_msi].addr = 0;
		t->msi[t->nr_msi].data = 0;
		t->nr_msi++;
		ret = commit(vm, t);
		if (ret)
			t->nr_msi--;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int irq_msi_set(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct irq_table *t = table(vm);
	unsigned m = gsi - IRQ_MSI_GSI_BASE;
	int ret = 0;

	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&t->lock);
	if (gsi < IRQ_MSI_GSI_BASE || m >= t->nr_msi) {
		ret = -EINVAL;
	} else if (t->msi[m].addr != addr || t->msi[m].data != data) {
		t->msi[m].addr = addr;
		t->msi[m].data = data;
		ret = commit(vm, t);
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int irq_irqfd(struct vm *vm, int fd, int resample_fd, unsigned gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (resample_fd >= 0 && assign) {
		irqfd.flags |= KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = (uint32_t)resample_fd;
	}

	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int ret = -errno;

		log_err("KVM_IRQFD (GSI %u): %s", gsi, strerror(errno));
		return ret;
	}
	return 0;
}

int irq_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len, bool assign)
{
	struct kvm_ioeventfd ioev = {
		.addr = addr, .len = len, .fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioev) < 0) {
		int ret = -errno;

		log_err("KVM_IOEVENTFD at 0x%llx: %s", (unsigned long long)addr, strerror(errno));
		return ret;
	}
	return 0;
}

void irq_destroy(struct vm *vm)
{
	if (!vm->irq)
		return;
	pthread_mutex_destroy(&vm->irq->lock);
	free(vm->irq);
	vm->irq = NULL;
}

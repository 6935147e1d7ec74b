/*
 * Interrupts and notifications that bypass the VMM's threads: MSI routes
 * in KVM's GSI routing table, irqfds that inject a route's interrupt when
 * an eventfd is written (from any thread, no ioctl), and ioeventfds that
 * turn a guest's write to an address into an eventfd signal without an
 * exit to user space.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so this module keeps it:
 * the default routes of the in-kernel irqchip (GSI 0-15 to the 8259s and
 * the IOAPIC, 16-23 to the IOAPIC, as KVM sets them up) and one MSI route
 * per allocated GSI from 24 up.
 */
#ifndef SHALE_VMM_IRQ_H
#define SHALE_VMM_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

#define IRQ_MSI_GSI_BASE 24u
#define IRQ_MAX_MSI 256u

/*
 * A GSI for an MSI route, initially routed nowhere useful (address 0,
 * which KVM takes as no interrupt until irq_msi_set()). -ENOSPC.
 */
int irq_msi_alloc(struct vm *vm, unsigned *gsi);
/* Points `gsi` at the MSI message (address, data) and commits the table. */
int irq_msi_set(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data);
/*
 * KVM_IRQFD: writes to `fd` inject `gsi` (assign) or no longer do. With
 * `resample_fd` (else -1), `gsi` is an irqchip pin held asserted from a
 * write to `fd` until the guest's EOI, when KVM releases it and signals
 * `resample_fd`: a level-triggered line driven from any thread.
 */
int irq_irqfd(struct vm *vm, int fd, int resample_fd, unsigned gsi, bool assign);
/*
 * KVM_IOEVENTFD: a guest write of `len` bytes (1, 2, 4 or 8) to MMIO
 * address `addr`, any value, signals `fd`. -errno.
 */
int irq_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len, bool assign);
/* Frees the table (vm_destroy()). */
void irq_destroy(struct vm *vm);

#endif

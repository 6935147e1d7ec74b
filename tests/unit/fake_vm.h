/*
 * A struct vm put together by hand for unit tests of devices and
 * hypercalls: no /dev/kvm and no vCPU, empty port I/O and MMIO buses,
 * unclaimed ports ignored as on a PC, an eventfd as stop_fd, interrupt
 * lines recorded instead of raised, and optionally anonymous memory as
 * guest RAM from address 0.
 *
 * Everything below checks with cmocka assertions, so a failure is
 * reported as the failure of the test that called it.
 */
#ifndef SHALE_TESTS_UNIT_FAKE_VM_H
#define SHALE_TESTS_UNIT_FAKE_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm.h"

#define FAKE_VM_NR_IRQS 32

struct fake_vm {
	struct vm vm;
	uint8_t *ram; /* vm.ram, or NULL without RAM */

	/*
	 * The fake irqchip. A device reports changes only, so the same level
	 * twice on one line fails the test; a GSI beyond FAKE_VM_NR_IRQS too.
	 */
	bool irq_level[FAKE_VM_NR_IRQS];
	unsigned irq_changes[FAKE_VM_NR_IRQS];
	unsigned irq_rises[FAKE_VM_NR_IRQS]; /* changes to high: edges */
};

/*
 * Sets up `fv` from scratch, with `ram_size` bytes of zeroed RAM at guest
 * address 0 (none when 0). Returns 0 or -errno, with nothing left to free.
 */
int fake_vm_init(struct fake_vm *fv, uint64_t ram_size);
/* Frees it all; every device must already be destroyed (checked). */
void fake_vm_destroy(struct fake_vm *fv);

/*
 * One port access of `size` bytes (1, 2 or 4) through vm.pio, as a vCPU
 * exit dispatches it; the access must reach a handler that accepts it.
 * A read starts from a poison value, so a handler that leaves bytes
 * unwritten is noticed.
 */
void fake_vm_out(struct fake_vm *fv, uint16_t port, uint32_t value, unsigned size);
uint32_t fake_vm_in(struct fake_vm *fv, uint16_t port, unsigned size);

/*
 * Why the VM stopped, or VM_RUNNING. Checks that stop_fd agrees (signalled
 * once when stopping, silent otherwise) and consumes its signal. When the
 * VM stopped and `exit_status` is not NULL, it gets vm_exit_status().
 */
enum vm_stop_reason fake_vm_stop_reason(struct fake_vm *fv, int *exit_status);

#endif

/*
 * The hand-made VM of the device and hypercall unit tests (fake_vm.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_vm.h"

#define POISON 0x5a

static void record_irq(struct vm *vm, unsigned gsi, bool level)
{
	struct fake_vm *fv = (struct fake_vm *)((char *)vm - offsetof(struct fake_vm, vm));

	assert_true(gsi < FAKE_VM_NR_IRQS);
	assert_int_not_equal(fv->irq_level[gsi], level);
	fv->irq_level[gsi] = level;
	fv->irq_changes[gsi]++;
	if (level)
		fv->irq_rises[gsi]++;
}

int fake_vm_init(struct fake_vm *fv, uint64_t ram_size)
{
	int err;

	memset(fv, 0, sizeof(*fv));
	fv->vm.kvm_fd = fv->vm.vm_fd = -1;
	fv->vm.unclaimed_io = VM_IO_IGNORE;
	fv->vm.set_irq = record_irq;
	fv->vm.stats = &fv->vm.own_stats;
	fv->vm.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fv->vm.stop_fd < 0)
		return -errno;
	if (ram_size) {
		void *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (ram == MAP_FAILED) {
			err = -errno;
			close(fv->vm.stop_fd);
			return err;
		}
		err = gmem_add_region(&fv->vm.gmem, 0, ram_size, ram);
		if (err) {
			munmap(ram, ram_size);
			close(fv->vm.stop_fd);
			return err;
		}
		fv->ram = ram;
		fv->vm.ram = ram;
		fv->vm.ram_size = ram_size;
	}
	pthread_mutex_init(&fv->vm.lock, NULL);
	iobus_init(&fv->vm.pio);
	iobus_init(&fv->vm.mmio);
	return 0;
}

void fake_vm_destroy(struct fake_vm *fv)
{
	/* A device that is gone has given back its ports and MMIO ranges. */
	assert_int_equal(fv->vm.pio.nr, 0);
	assert_int_equal(fv->vm.mmio.nr, 0);
	iobus_destroy(&fv->vm.pio);
	iobus_destroy(&fv->vm.mmio);
	pthread_mutex_destroy(&fv->vm.lock);
	if (fv->ram)
		munmap(fv->ram, fv->vm.ram_size);
	close(fv->vm.stop_fd);
}

void fake_vm_out(struct fake_vm *fv, uint16_t port, uint32_t value, unsigned size)
{
	uint8_t data[4];

	assert_true(size == 1 || size == 2 || size == 4);
	for (unsigned i = 0; i < size; i++)
		data[i] = (uint8_t)(value >> 8 * i);
	assert_int_equal(iobus_access(&fv->vm.pio, NULL, port, data, size, true), 0);
}

uint32_t fake_vm_in(struct fake_vm *fv, uint16_t port, unsigned size)
{
	uint8_t data[4];
	uint32_t value = 0;

	assert_true(size == 1 || size == 2 || size == 4);
	memset(data, POISON, sizeof(data));
	assert_int_equal(iobus_access(&fv->vm.pio, NULL, port, data, size, false), 0);
	for (unsigned i = 0; i < size; i++)
		value |= (uint32_t)data[i] << 8 * i;
	return value;
}

enum vm_stop_reason fake_vm_stop_reason(struct fake_vm *fv, int *exit_status)
{
	bool stopping = vm_stopping(&fv->vm);
	uint64_t count = 0;
	ssize_t n = read(fv->vm.stop_fd, &count, sizeof(count));
	int err = n < 0 ? errno : 0;

	if (!stopping) {
		assert_int_equal(fv->vm.reason, VM_RUNNING);
		assert_int_equal(n, -1);
		assert_int_equal(err, EAGAIN);
		return VM_RUNNING;
	}
	/* Whoever waits on stop_fd is woken, once. */
	assert_int_equal(n, sizeof(count));
	assert_int_equal(count, 1);
	assert_int_not_equal(fv->vm.reason, VM_RUNNING);
	if (exit_status)
		*exit_status = vm_exit_status(&fv->vm);
	return fv->vm.reason;
}

/*
 * Checks from inside a guest that the VMM answers bad hypercall arguments
 * with errors and keeps running: wild and overflowing pointers, lengths
 * past the end of RAM or of the disk, bad flags. Prints one line per
 * failed check and exits with the number of failures (0: all good).
 * Run with a disk of at least 1 MiB and without a network.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <shale/guest.h>

#define CHECK_GUEST "abi_check"
#include "check.h"

static int64_t console(uint64_t data, uint64_t len)
{
	struct shale_hc_console_write a = { .data = data, .len = len };

	shale_hypercall(SHALE_HC_CONSOLE_WRITE, &a);
	return a.ret;
}

static int64_t buffer_call(unsigned nr, uint64_t data, uint64_t len)
{
	struct shale_hc_buffer a = { .data = data, .len = len };

	shale_hypercall(nr, &a);
	return a.ret;
}

static int64_t block_io(unsigned nr, uint64_t off, uint64_t data, uint64_t len)
{
	struct shale_hc_block_io a = { .offset = off, .data = data, .len = len };

	shale_hypercall(nr, &a);
	return a.ret;
}

static uint8_t buf[1 << 16] __attribute__((aligned(4096)));

int main(void)
{
	uint64_t ram = shale_boot_info()->mem_size;
	uint64_t b = (uintptr_t)buf;
	struct shale_hc_block_info bi;
	struct shale_hc_net_info ni;
	struct shale_hc_poll p = { .deadline_ns = 0, .events = 0x80 };

	/* Console: wild, overflowing and oversized buffers. */
	CHECK(console(ram, 1), SHALE_EFAULT);
	CHECK(console(ram - 4, 8), SHALE_EFAULT);
	CHECK(console(UINT64_MAX - 2, 8), SHALE_EFAULT);
	CHECK(console(0x10, UINT64_MAX), SHALE_EINVAL);
	CHECK(console(b, SHALE_CONSOLE_MAX + 1), SHALE_EINVAL);
	CHECK(console(b, 0), 0);

	/* Random and arguments. */
	CHECK(buffer_call(SHALE_HC_RANDOM, ram - 8, 16), SHALE_EFAULT);
	CHECK(buffer_call(SHALE_HC_RANDOM, b, SHALE_RANDOM_MAX + 1), SHALE_EINVAL);
	CHECK(buffer_call(SHALE_HC_RANDOM, b, 32), 32);
	CHECK(buffer_call(SHALE_HC_ARGS, ram + 4096, 1 << 20) == SHALE_EFAULT, 1);
	CHECK(buffer_call(SHALE_HC_ARGS, 0, 0), shale_boot_info()->args_size);

	/* Block device, which must be there. */
	CHECK(shale_block_info(&bi), SHALE_OK);
	CHECK(block_io(SHALE_HC_BLOCK_READ, 0, b, 512), 512);
	CHECK(block_io(SHALE_HC_BLOCK_READ, 1, b, 512), SHALE_EINVAL);
	CHECK(block_io(SHALE_HC_BLOCK_READ, 0, b, 100), SHALE_EINVAL);
	CHECK(block_io(SHALE_HC_BLOCK_READ, bi.capacity, b, 512), SHALE_ENOSPC);
	CHECK(block_io(SHALE_HC_BLOCK_READ, bi.capacity - 512, b, 1024), SHALE_ENOSPC);
	CHECK(block_io(SHALE_HC_BLOCK_READ, UINT64_MAX - 511, b, 1024), SHALE_ENOSPC);
	CHECK(block_io(SHALE_HC_BLOCK_READ, 0, b, SHALE_BLOCK_IO_MAX + 512), SHALE_EINVAL);
	CHECK(block_io(SHALE_HC_BLOCK_READ, 0, ram - 512, 1024), SHALE_EFAULT);
	CHECK(block_io(SHALE_HC_BLOCK_READ, 0, UINT64_MAX - 511, 1024), SHALE_EFAULT);
	CHECK(block_io(SHALE_HC_BLOCK_WRITE, 0, 0x1000, 512), 512); /* boot info: readable RAM */
	CHECK(block_io(SHALE_HC_BLOCK_WRITE, bi.capacity, b, 512), SHALE_ENOSPC);
	CHECK(shale_block_flush(), SHALE_OK);

	/* No network configured. */
	CHECK(shale_net_info(&ni), SHALE_ENODEV);
	CHECK(shale_net_write(buf, 64), SHALE_ENODEV);
	CHECK(shale_net_read(buf, 64), SHALE_ENODEV);

	/* Poll with unknown event bits. */
	shale_hypercall(SHALE_HC_POLL, &p);
	CHECK(p.ret, SHALE_EINVAL);

	/* The VMM is still alive and answering. */
	CHECK(shale_clock_monotonic_ns() > 0, 1);
	printf("abi_check: %d failures\n", failures);
	return failures;
}

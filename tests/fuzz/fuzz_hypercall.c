/*
 * pv_hypercall() with a guest that controls everything it can control:
 * the hypercall number, the argument address and every byte of its RAM.
 * The input is
 *
 *   byte 0      hypercall number (low 6 bits: the port offset)
 *   byte 1      devices: bit 0 disk read-only, bit 1 no disk, bit 2 no
 *               network, bit 3 a frame is waiting on the network
 *   bytes 2-5   gpa of the argument struct, little-endian
 *   bytes 6-    guest RAM from address 0 (64 KiB, the rest zero)
 *
 * The VMM must never crash or touch memory outside guest RAM, and the
 * results it writes back must be ones the ABI allows. SHALE_HC_EXCEPTION
 * needs a vCPU and is skipped; a poll's deadline is forced to 0 so that
 * no input sleeps. A QUEUE_SETUP that succeeds starts the real I/O thread
 * over the ring in the fuzzed RAM; it is stopped (pv_stop) before the next
 * input, and may have stopped the VM as crashed by then (a ring of junk).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <shale/abi/hypercall.h>
#include <shale/abi/queue.h>

#include "fuzz.h"
#include "pv/pv.h"
#include "vmm/vm.h"

#define RAM_SIZE (64u << 10)
#define DISK_SIZE (8u << 10)
#define HEADER 6

#define F_DISK_RO 0x1u
#define F_NO_DISK 0x2u
#define F_NO_NET 0x4u
#define F_FRAME 0x8u

static struct vm vm;
static struct pv_guest pv;
static uint8_t *ram;
static int disk_fd = -1, net_fd = -1, net_peer = -1;
static const char args[] = "guest\0--flag\0value";

static void init(void)
{
	int sv[2];

	vm.kvm_fd = vm.vm_fd = -1;
	pthread_mutex_init(&vm.lock, NULL);
	/* Allocated, not mapped, so the sanitizers see where RAM ends. */
	ram = malloc(RAM_SIZE);
	if (!ram || gmem_add_region(&vm.gmem, 0, RAM_SIZE, ram))
		abort();
	vm.ram = ram;
	vm.ram_size = RAM_SIZE;
	vm.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vm.stats = &vm.own_stats;

	pv.vm = &vm;
	/* The guest may use all of its RAM (test_hypercall checks less). */
	pv.range[0] = (struct pv_range){ 0, RAM_SIZE, true };
	pv.nr_ranges = 1;
	pv.console_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pv.args = (char *)args;
	pv.args_size = sizeof(args);
	pv.argc = 3;

	disk_fd = memfd_create("disk", MFD_CLOEXEC);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		abort();
	net_fd = sv[0];
	net_peer = sv[1];
	memcpy(pv.net.mac, "\x02\x00\x00\x00\x00\x01", 6);
	pv.net.mtu = 1500;
	if (vm.stop_fd < 0 || pv.console_fd < 0 || disk_fd < 0)
		abort();
}

static void drain(int fd)
{
	uint8_t buf[2048];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Every input starts from the same VM, disk and network. */
static void reset(uint8_t flags, const uint8_t *mem, size_t mem_size)
{
	uint64_t v;

	vm.reason = VM_RUNNING;
	vm.status = 0;
	atomic_store(&vm.stopping, false);
	while (read(vm.stop_fd, &v, sizeof(v)) > 0)
		;

	memset(ram, 0, RAM_SIZE);
	memcpy(ram, mem, mem_size < RAM_SIZE ? mem_size : RAM_SIZE);

	if (ftruncate(disk_fd, 0) || ftruncate(disk_fd, DISK_SIZE))
		abort();
	pv.block.disk.fd = (flags & F_NO_DISK) ? -1 : disk_fd;
	pv.block.disk.capacity = DISK_SIZE;
	pv.block.disk.readonly = flags & F_DISK_RO;

	drain(net_fd);
	drain(net_peer);
	pv.net.fd = (flags & F_NO_NET) ? -1 : net_fd;
	if (flags & F_FRAME) {
		static const uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2 };

		if (write(net_peer, frame, sizeof(frame)) != sizeof(frame))
			abort();
	}
}

/* Reads back the `ret` field the handler wrote, at `off` in its struct. */
static int64_t ret_at(uint32_t gpa, size_t off)
{
	int64_t ret;

	FUZZ_CHECK(gmem_read(&vm.gmem, &ret, (uint64_t)gpa + off, sizeof(ret)));
	return ret;
}

static void check_ret(int64_t ret)
{
	FUZZ_CHECK(ret >= SHALE_EROFS);
}

/* A successful transfer moves all of it, or for net reads up to len. */
static void check_len(uint32_t gpa, size_t ret_off, size_t len_off, bool partial)
{
	int64_t ret = ret_at(gpa, ret_off);
	uint64_t len;

	check_ret(ret);
	FUZZ_CHECK(gmem_read(&vm.gmem, &len, (uint64_t)gpa + len_off, sizeof(len)));
	if (ret >= 0)
		FUZZ_CHECK(partial ? (uint64_t)ret <= len : (uint64_t)ret == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned nr;
	uint32_t gpa;
	bool in_ram;
	size_t arg_size = 0;

	if (!ram)
		init();
	if (size < HEADER)
		return 0;
	nr = data[0] % SHALE_HC_MAX;
	memcpy(&gpa, data + 2, sizeof(gpa));
	if (nr == SHALE_HC_EXCEPTION)
		return 0;
	reset(data[1], data + HEADER, size - HEADER);

	switch (nr) {
	case SHALE_HC_CONSOLE_WRITE: arg_size = sizeof(struct shale_hc_console_write); break;
	case SHALE_HC_EXIT: arg_size = sizeof(struct shale_hc_exit); break;
	case SHALE_HC_CLOCK: arg_size = sizeof(struct shale_hc_clock); break;
	case SHALE_HC_POLL: arg_size = sizeof(struct shale_hc_poll); break;
	case SHALE_HC_BLOCK_INFO: arg_size = sizeof(struct shale_hc_block_info); break;
	case SHALE_HC_BLOCK_READ:
	case SHALE_HC_BLOCK_WRITE: arg_size = sizeof(struct shale_hc_block_io); break;
	case SHALE_HC_BLOCK_FLUSH: arg_size = sizeof(struct shale_hc_status); break;
	case SHALE_HC_NET_INFO: arg_size = sizeof(struct shale_hc_net_info); break;
	case SHALE_HC_NET_READ:
	case SHALE_HC_NET_WRITE:
	case SHALE_HC_RANDOM:
	case SHALE_HC_ARGS: arg_size = sizeof(struct shale_hc_buffer); break;
	case SHALE_HC_QUEUE_SETUP: arg_size = sizeof(struct shale_hc_queue_setup); break;
	case SHALE_HC_QUEUE_WAIT: arg_size = sizeof(struct shale_hc_queue_wait); break;
	default: break;
	}
	in_ram = gmem_ptr(&vm.gmem, gpa, arg_size) != NULL;
	if (nr == SHALE_HC_POLL && in_ram) {
		/* The guest may place the struct at any alignment. */
		uint8_t *p = gmem_ptr(&vm.gmem, gpa, arg_size);

		memset(p + offsetof(struct shale_hc_poll, deadline_ns), 0, sizeof(uint64_t));
	}

	pv_hypercall(&pv, NULL, nr, gpa);
	if (pv.io) {
		/* Only the I/O thread may have stopped the VM since. */
		FUZZ_CHECK(nr == SHALE_HC_QUEUE_SETUP);
		FUZZ_CHECK(ret_at(gpa, offsetof(struct shale_hc_queue_setup, ret)) == SHALE_OK);
		FUZZ_CHECK(vm.reason == VM_RUNNING || vm.reason == VM_STOP_CRASH);
		pv_stop(&pv);
		FUZZ_CHECK(!pv.io);
		return 0;
	}

	/* Who stops the VM: unknown calls, structs outside RAM, and exit. */
	if (nr >= SHALE_HC_COUNT) {
		FUZZ_CHECK(vm.reason == VM_STOP_CRASH);
		return 0;
	}
	if (nr == SHALE_HC_NOP || nr == SHALE_HC_QUEUE_NOTIFY) {
		FUZZ_CHECK(vm.reason == VM_RUNNING);
		return 0;
	}
	if (!in_ram) {
		FUZZ_CHECK(vm.reason == VM_STOP_CRASH);
		return 0;
	}
	if (nr == SHALE_HC_EXIT) {
		FUZZ_CHECK(vm.reason == VM_STOP_EXIT);
		return 0;
	}
	FUZZ_CHECK(vm.reason == VM_RUNNING);

	switch (nr) {
	case SHALE_HC_CONSOLE_WRITE:
		check_len(gpa, offsetof(struct shale_hc_console_write, ret),
			  offsetof(struct shale_hc_console_write, len), false);
		break;
	case SHALE_HC_POLL: {
		struct shale_hc_poll p;

		FUZZ_CHECK(gmem_read(&vm.gmem, &p, gpa, sizeof(p)));
		FUZZ_CHECK(p.ret == SHALE_OK || p.ret == SHALE_EINVAL);
		FUZZ_CHECK(!(p.ready & ~(uint64_t)SHALE_POLL_NET));
		break;
	}
	case SHALE_HC_BLOCK_INFO:
		check_ret(ret_at(gpa, offsetof(struct shale_hc_block_info, ret)));
		break;
	case SHALE_HC_BLOCK_READ:
	case SHALE_HC_BLOCK_WRITE:
		check_len(gpa, offsetof(struct shale_hc_block_io, ret),
			  offsetof(struct shale_hc_block_io, len), false);
		break;
	case SHALE_HC_BLOCK_FLUSH:
		check_ret(ret_at(gpa, offsetof(struct shale_hc_status, ret)));
		break;
	case SHALE_HC_NET_INFO:
		check_ret(ret_at(gpa, offsetof(struct shale_hc_net_info, ret)));
		break;
	case SHALE_HC_NET_READ:
	case SHALE_HC_NET_WRITE:
	case SHALE_HC_RANDOM:
		check_len(gpa, offsetof(struct shale_hc_buffer, ret),
			  offsetof(struct shale_hc_buffer, len), nr == SHALE_HC_NET_READ);
		break;
	case SHALE_HC_ARGS:
		check_ret(ret_at(gpa, offsetof(struct shale_hc_buffer, ret)));
		break;
	case SHALE_HC_QUEUE_SETUP: {
		/* It failed (or pv.io would be set): with an error the ABI lists. */
		int64_t r = ret_at(gpa, offsetof(struct shale_hc_queue_setup, ret));

		FUZZ_CHECK(r == SHALE_EINVAL || r == SHALE_EFAULT || r == SHALE_ENODEV ||
			   r == SHALE_EIO);
		break;
	}
	case SHALE_HC_QUEUE_WAIT:
		/* No queue is ever set up when a wait comes. */
		FUZZ_CHECK(ret_at(gpa, offsetof(struct shale_hc_queue_wait, ret)) == SHALE_EINVAL);
		break;
	default:
		break;
	}
	return 0;
}

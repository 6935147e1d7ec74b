/*
 * The virtio PCI transport with virtio-blk behind it (devices/virtio/
 * pci.c, blk.c, queue.c) against a guest that writes any register of
 * configuration space and of BAR 0, in any width and order, and any byte
 * of its RAM, between the device's steps. The device is served in the
 * harness's thread (virtio_pci_serve()), not by its I/O thread, so that
 * a run is reproducible; KVM's routing is replaced (-Wl,--wrap, fuzz.mk).
 * The input is
 *
 *   byte 0      bit 0: the disk is read-only
 *   then        operations, each an opcode byte (bits 0-2: what, bits
 *               3-4: the access width 1 << n, bits 5-7: an argument `a`):
 *
 *   0  guest    configuration write: register (next byte), value (4 bytes)
 *   1  guest    configuration read: register (next byte)
 *   2  guest    BAR 0 write: offset (2 bytes, modulo the BAR), value (8)
 *   3  guest    BAR 0 read: offset (2 bytes)
 *   4  guest    writes a * 4 + 1 bytes at a RAM offset (2 bytes, times 16)
 *   5  device   serves its queue
 *   6  guest    what Linux's driver does to set the device up (BAR at
 *               its place, features (the event index for an odd a),
 *               MSI-X, the queue at 0x1000/0x2000/0x3000 with size
 *               8 << (a % 6)), then DRIVER_OK
 *   7  guest    makes the chain of head (next byte) available, notifies
 *
 * Checked: nothing crashes or reads outside what it may (the sanitizers);
 * every access reaches a handler that takes it; a device in NEEDS_RESET
 * changes no byte of guest RAM when served; a reset (status 0) reads back
 * 0; the device leaves no range on either bus behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/disk.h"
#include "devices/legacy/pci.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/pci.h"
#include "fuzz.h"
#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

int __wrap_irq_msi_alloc(struct vm *v, unsigned *gsi);
int __wrap_irq_msi_set(struct vm *v, unsigned gsi, uint64_t addr, uint32_t data);
int __wrap_irq_irqfd(struct vm *v, int fd, int resample_fd, unsigned gsi, bool assign);
int __wrap_irq_ioeventfd(struct vm *v, int fd, uint64_t addr, unsigned len, bool assign);

static unsigned next_gsi;

int __wrap_irq_msi_alloc(struct vm *v, unsigned *gsi)
{
	*gsi = IRQ_MSI_GSI_BASE + next_gsi++;
	return 0;
}

int __wrap_irq_msi_set(struct vm *v, unsigned gsi, uint64_t addr, uint32_t data)
{
	return 0;
}

int __wrap_irq_irqfd(struct vm *v, int fd, int resample_fd, unsigned gsi, bool assign)
{
	return 0;
}

int __wrap_irq_ioeventfd(struct vm *v, int fd, uint64_t addr, unsigned len, bool assign)
{
	return 0;
}

#define RAM 0x10000u
#define BAR 0xc0000000u
#define DEVNUM 3u
#define POISON 0xa5

static _Alignas(4096) uint8_t ram[RAM], before[RAM];
static struct vm vm;
static struct disk disk_rw, disk_ro;
/* A 32 KiB disk in a file of the harness's own, gone when it exits. */
static void open_disk(struct disk *d, bool readonly)
{
	static uint8_t zeros[64 * 512];
	char path[] = "/tmp/shale-fuzz-vpci.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros))
		abort();
	close(fd);
	if (disk_open(d, path, readonly, "fuzz"))
		abort();
	unlink(path);
}

static void init(void)
{
	open_disk(&disk_rw, false);
	open_disk(&disk_ro, true);
	vm.kvm_fd = vm.vm_fd = -1;
	pthread_mutex_init(&vm.lock, NULL);
	iobus_init(&vm.pio);
	iobus_init(&vm.mmio);
	vm.unclaimed_io = VM_IO_IGNORE;
	vm.stats = &vm.own_stats;
	vm.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gmem_add_region(&vm.gmem, 0, RAM, ram))
		abort();
}

struct script {
	const uint8_t *p, *end;
};

static bool next_n(struct script *s, void *out, size_t n)
{
	if ((size_t)(s->end - s->p) < n)
		return false;
	memcpy(out, s->p, n);
	s->p += n;
	return true;
}

static void pio(uint16_t port, uint8_t *data, unsigned size, bool write)
{
	FUZZ_CHECK(iobus_access(&vm.pio, NULL, port, data, size, write) == 0);
}

static void cfg(uint8_t reg, uint32_t *value, unsigned size, bool write)
{
	uint32_t addr = 0x80000000u | DEVNUM << 11 | (reg & 0xfcu);
	uint8_t data[4];

	pio(0xcf8, (uint8_t *)&addr, 4, true);
	reg &= (uint8_t)(4 - size);
	memcpy(data, value, 4);
	if (!write)
		memset(data, POISON, sizeof(data));
	pio((uint16_t)(0xcfc + (reg & 3)), data, size, write);
	memcpy(value, data, size);
}

/* -ENOENT when the BAR is not mapped there (the guest moved or disabled it). */
static int bar(uint32_t off, uint64_t *value, unsigned size, bool write)
{
	uint8_t data[8];
	int ret;

	memcpy(data, value, 8);
	if (!write)
		memset(data, POISON, sizeof(data));
	ret = iobus_access(&vm.mmio, NULL, BAR + off, data, size, write);
	FUZZ_CHECK(ret == 0 || ret == -ENOENT);
	if (!write)
		memcpy(value, data, size);
	return ret;
}

static void bar_w(uint32_t off, uint64_t v, unsigned size)
{
	bar(off, &v, size, true);
}

static uint64_t bar_r(uint32_t off, unsigned size)
{
	uint64_t v = 0;

	bar(off, &v, size, false);
	return v;
}

static void driver_init(unsigned a)
{
	uint32_t v = BAR;

	cfg(PCI_CFG_BAR0, &v, 4, true);
	v = PCI_CMD_MEM | PCI_CMD_MASTER;
	cfg(PCI_CFG_COMMAND, &v, 2, true);
	bar_w(0x14, 0, 1);
	FUZZ_CHECK(bar_r(0x14, 1) == 0);
	bar_w(0x14, 3, 1);
	bar_w(0x08, 0, 4);
	bar_w(0x0c, (uint32_t)(VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_BLK_F_FLUSH |
			       ((a & 1) ? VIRTIO_F_EVENT_IDX : 0)), 4);
	bar_w(0x08, 1, 4);
	bar_w(0x0c, 1, 4);
	bar_w(0x14, 0x0b, 1);
	for (unsigned n = 0; n < 2; n++) {
		bar_w(0x4000 + 16 * n, 0xfee00000u, 4);
		bar_w(0x4000 + 16 * n + 8, 0x30 + n, 4);
		bar_w(0x4000 + 16 * n + 12, 0, 4);
	}
	v = 0x8000;
	cfg(0x86, &v, 2, true);
	bar_w(0x10, 0, 2);
	bar_w(0x16, 0, 2);
	bar_w(0x18, 8u << (a % 6), 2);
	bar_w(0x1a, 1, 2);
	bar_w(0x20, 0x1000, 8);
	bar_w(0x28, 0x2000, 8);
	bar_w(0x30, 0x3000, 8);
	bar_w(0x1c, 1, 2);
	bar_w(0x14, 0x0f, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct script s = { data, data + size };
	struct pci_bus *bus;
	struct virtio_blk *blk;
	uint16_t avail_idx = 0;
	uint8_t flags, op;

	if (!ready) {
		init();
		ready = true;
	}
	if (!next_n(&s, &flags, 1))
		return 0;
	memset(ram, 0, sizeof(ram));
	next_gsi = 0;
	if (pci_create(&vm, NULL, &bus) ||
	    virtio_blk_create(&vm, bus, DEVNUM, (flags & 1) ? &disk_ro : &disk_rw, "fuzz", &blk))
		abort();

	while (next_n(&s, &op, 1)) {
		unsigned width = 1u << ((op >> 3) & 3), a = op >> 5;
		uint8_t reg;
		uint16_t off;
		uint32_t v32 = 0;
		uint64_t v64 = 0;

		switch (op & 7) {
		case 0:
			if (!next_n(&s, &reg, 1) || !next_n(&s, &v32, 4))
				goto out;
			cfg(reg, &v32, MIN(width, 4u), true);
			break;
		case 1:
			if (!next_n(&s, &reg, 1))
				goto out;
			cfg(reg, &v32, MIN(width, 4u), false);
			break;
		case 2:
			if (!next_n(&s, &off, 2) || !next_n(&s, &v64, 8))
				goto out;
			bar_w(off % VIRTIO_PCI_BAR_SIZE & ~(width - 1), v64, width);
			break;
		case 3:
			if (!next_n(&s, &off, 2))
				goto out;
			v64 = bar_r(off % VIRTIO_PCI_BAR_SIZE & ~(width - 1), width);
			break;
		case 4: {
			uint8_t buf[32];
			size_t n = a * 4 + 1;

			if (!next_n(&s, &off, 2) || !next_n(&s, buf, n))
				goto out;
			size_t at = (size_t)off * 16 % RAM;

			memcpy(ram + at, buf, MIN(n, RAM - at));
			break;
		}
		case 5: {
			bool broken = blk->vp->status & VIRTIO_STATUS_NEEDS_RESET;

			memcpy(before, ram, RAM);
			virtio_pci_serve(blk->vp, 0);
			if (broken)
				FUZZ_CHECK(!memcmp(before, ram, RAM));
			break;
		}
		case 6:
			driver_init(a);
			avail_idx = 0;
			break;
		case 7: {
			uint8_t head;
			uint16_t qsize = blk->vp->vq[0].size ? blk->vp->vq[0].size : 1;

			if (!next_n(&s, &head, 1))
				goto out;
			uint16_t h = head;

			memcpy(ram + 0x2000 + 4 + 2 * (avail_idx % qsize % 256), &h, 2);
			avail_idx++;
			memcpy(ram + 0x2002, &avail_idx, 2);
			bar_w(0x3000, 0, 2);
			virtio_pci_serve(blk->vp, 0);
			break;
		}
		}
		(void)v64;
	}
out:
	pci_destroy(bus);
	virtio_blk_destroy(blk);
	FUZZ_CHECK(vm.pio.nr == 0 && vm.mmio.nr == 0);
	return 0;
}

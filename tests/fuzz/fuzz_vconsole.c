/*
 * virtio-console (devices/virtio/console.c) behind the virtio PCI
 * transport, both ways: a guest that writes any register of configuration
 * space and BAR 0 and any byte of its RAM, and makes any chain available
 * on either queue, and a host that offers console input in between. The
 * device is served in the harness's thread (virtio_pci_serve()); input
 * comes through virtio_console_input() as the console's thread gives it;
 * KVM's routing is replaced (-Wl,--wrap, fuzz.mk). The input is
 *
 *   byte 0      features the driver takes: bit 0 INDIRECT_DESC, bit 1 VERSION_1
 *   then        operations, each an opcode byte (bits 0-2: what, bits
 *               3-4: the access width 1 << n, bits 5-7: an argument `a`):
 *
 *   0  guest    configuration write: register (next byte), value (4 bytes)
 *   1  guest    BAR 0 write: offset (2 bytes, modulo the BAR), value (8)
 *   2  guest    BAR 0 read: offset (2 bytes)
 *   3  guest    writes a * 4 + 1 bytes at a RAM offset (2 bytes, times 16)
 *   4  guest    what Linux's driver does: BAR, features, both queues of 8
 *               at 0x1000 + 0x400 * q, DRIVER_OK
 *   5  guest    makes chain head (next byte) available on queue a % 2,
 *               notifies; served
 *   6  host     offers a * 37 + 1 bytes of console input
 *   7  device   serves queue a % 2
 *
 * Checked: nothing crashes or reads outside what it may (the sanitizers);
 * the pages around guest RAM keep their pattern; input taken is never
 * more than offered, and none before DRIVER_OK; a device in NEEDS_RESET
 * changes no byte of guest RAM when served or offered input; every byte
 * the guest transmits reaches the output and is counted; the device
 * leaves no range on either bus behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "devices/legacy/pci.h"
#include "devices/virtio/console.h"
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
#define GUARD 0x4000u
#define GUARD_BYTE 0x5c
#define BAR 0xc0000000u
#define DEVNUM 18u
#define QSIZE 8u
#define QBASE(q) (0x1000u + 0x400u * (q))

static uint8_t *map, *ram;
static uint8_t before[RAM];
static struct vm vm;

static void init(void)
{
	map = mmap(NULL, GUARD + RAM + GUARD, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		abort();
	ram = map + GUARD;
	memset(map, GUARD_BYTE, GUARD);
	memset(ram + RAM, GUARD_BYTE, GUARD);
	vm.kvm_fd = vm.vm_fd = -1;
	pthread_mutex_init(&vm.lock, NULL);
	iobus_init(&vm.pio);
	iobus_init(&vm.mmio);
	vm.unclaimed_io = VM_IO_IGNORE;
	vm.stats = &vm.own_stats;
	vm.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vm.ram = ram;
	vm.ram_size = RAM;
	if (gmem_add_region(&vm.gmem, 0, RAM, ram))
		abort();
}

static bool guards_intact(void)
{
	return fuzz_all_bytes(map, GUARD, GUARD_BYTE) && fuzz_all_bytes(ram + RAM, GUARD, GUARD_BYTE);
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

static void cfg_write(uint8_t reg, uint32_t value, unsigned size)
{
	uint32_t addr = 0x80000000u | DEVNUM << 11 | (reg & 0xfcu);
	uint8_t data[4];

	FUZZ_CHECK(iobus_access(&vm.pio, NULL, 0xcf8, (uint8_t *)&addr, 4, true) == 0);
	reg &= (uint8_t)(4 - size);
	memcpy(data, &value, 4);
	FUZZ_CHECK(iobus_access(&vm.pio, NULL, (uint16_t)(0xcfc + (reg & 3)), data, size, true) ==
		   0);
}

static uint64_t bar(uint32_t off, uint64_t value, unsigned size, bool write)
{
	uint8_t data[8];
	int ret;

	memcpy(data, &value, 8);
	ret = iobus_access(&vm.mmio, NULL, BAR + off, data, size, write);
	/* -ENOENT: the guest moved or turned off the BAR. */
	FUZZ_CHECK(ret == 0 || ret == -ENOENT);
	value = 0;
	if (!write && !ret)
		memcpy(&value, data, size);
	return value;
}

static void driver_init(uint8_t feat)
{
	uint64_t f = ((feat & 2) ? VIRTIO_F_VERSION_1 : 0) |
		     ((feat & 1) ? VIRTIO_F_RING_INDIRECT_DESC : 0);

	cfg_write(PCI_CFG_BAR0, BAR, 4);
	cfg_write(PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER, 2);
	bar(0x14, 0, 1, true);
	bar(0x14, 3, 1, true);
	bar(0x08, 0, 4, true);
	bar(0x0c, (uint32_t)f, 4, true);
	bar(0x08, 1, 4, true);
	bar(0x0c, f >> 32, 4, true);
	bar(0x14, 0x0b, 1, true);
	for (unsigned q = 0; q < 2; q++) {
		bar(0x16, q, 2, true);
		bar(0x18, QSIZE, 2, true);
		bar(0x20, QBASE(q), 8, true);
		bar(0x28, QBASE(q) + 0x100, 8, true);
		bar(0x30, QBASE(q) + 0x200, 8, true);
		bar(0x1c, 1, 2, true);
	}
	bar(0x14, 0x0f, 1, true);
}

static uint64_t out_bytes;

static void collect(void *opaque, const uint8_t *buf, size_t len)
{
	FUZZ_CHECK(len > 0 && len <= RAM);
	out_bytes += len;
}

static void serve(struct virtio_console *con, unsigned q)
{
	bool broken = con->vp->status & VIRTIO_STATUS_NEEDS_RESET;

	memcpy(before, ram, RAM);
	virtio_pci_serve(con->vp, q);
	if (broken)
		FUZZ_CHECK(!memcmp(before, ram, RAM));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t input[8 * 37 + 1];
	struct script s = { data, data + size };
	struct virtio_console *con;
	struct pci_bus *bus;
	uint16_t avail_idx[2] = { 0 };
	uint8_t feat, op;

	if (!ready) {
		init();
		for (size_t i = 0; i < sizeof(input); i++)
			input[i] = (uint8_t)(i * 7 + 1);
		ready = true;
	}
	if (!next_n(&s, &feat, 1))
		return 0;
	memset(ram, 0, RAM);
	next_gsi = 0;
	out_bytes = 0;
	if (pci_create(&vm, NULL, &bus) ||
	    virtio_console_create(&vm, bus, DEVNUM, collect, NULL, &con))
		abort();

	while (next_n(&s, &op, 1)) {
		unsigned width = 1u << ((op >> 3) & 3), a = op >> 5;
		uint16_t off;
		uint8_t reg;
		uint32_t v32;
		uint64_t v64;

		switch (op & 7) {
		case 0:
			if (!next_n(&s, &reg, 1) || !next_n(&s, &v32, 4))
				goto out;
			cfg_write(reg, v32, MIN(width, 4u));
			break;
		case 1:
			if (!next_n(&s, &off, 2) || !next_n(&s, &v64, 8))
				goto out;
			bar(off % VIRTIO_PCI_BAR_SIZE & ~(width - 1), v64, width, true);
			break;
		case 2:
			if (!next_n(&s, &off, 2))
				goto out;
			bar(off % VIRTIO_PCI_BAR_SIZE & ~(width - 1), 0, width, false);
			break;
		case 3: {
			uint8_t buf[32];
			size_t n = a * 4 + 1, at;

			if (!next_n(&s, &off, 2) || !next_n(&s, buf, n))
				goto out;
			at = (size_t)off * 16 % RAM;
			memcpy(ram + at, buf, MIN(n, RAM - at));
			break;
		}
		case 4:
			driver_init(feat);
			memset(avail_idx, 0, sizeof(avail_idx));
			break;
		case 5: {
			unsigned q = a % 2;
			uint8_t head;
			uint16_t h;

			if (!next_n(&s, &head, 1))
				goto out;
			h = head;
			memcpy(ram + QBASE(q) + 0x100 + 4 + 2 * (avail_idx[q] % QSIZE), &h, 2);
			avail_idx[q]++;
			memcpy(ram + QBASE(q) + 0x100 + 2, &avail_idx[q], 2);
			serve(con, q);
			break;
		}
		case 6: {
			size_t n = a * 37 + 1, taken;
			bool broken = con->vp->status & VIRTIO_STATUS_NEEDS_RESET;
			bool live = con->vp->status & VIRTIO_STATUS_DRIVER_OK;

			memcpy(before, ram, RAM);
			taken = virtio_console_input(con, input, n);
			FUZZ_CHECK(taken <= n);
			if (!live)
				FUZZ_CHECK(taken == 0);
			if (broken)
				FUZZ_CHECK(taken == 0 && !memcmp(before, ram, RAM));
			break;
		}
		case 7:
			serve(con, a % 2);
			break;
		}
		FUZZ_CHECK(guards_intact());
	}
out:
	FUZZ_CHECK(out_bytes == con->bytes);
	pci_destroy(bus);
	virtio_console_destroy(con);
	FUZZ_CHECK(guards_intact());
	FUZZ_CHECK(vm.pio.nr == 0 && vm.mmio.nr == 0);
	return 0;
}

/*
 * The virtio PCI transport (devices/virtio/pci.c) with virtio-blk behind
 * it, driven as Linux's virtio_pci_modern driver drives it: configuration
 * space through the 0xcf8/0xcfc ports, BAR 0 through the MMIO bus, the
 * rings in fake guest RAM, and the device's own I/O thread serving them.
 * KVM's part (MSI routes, irqfds, ioeventfds) is replaced at link time
 * (--wrap): a notification then arrives through the MMIO handler, and an
 * interrupt is the vector's irqfd becoming readable.
 *
 * Without MSI-X, INTA: an irqfd with a resample eventfd on its IOAPIC pin.
 *
 * Then a driver that breaks its ring: that device, and only it, goes to
 * NEEDS_RESET with a configuration interrupt, serves nothing more, and
 * works again after a reset.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/disk.h"
#include "devices/legacy/pci.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/pci.h"
#include "fake_vm.h"
#include "vmm/irq.h"

/* ---- KVM's side, recorded ---------------------------------------------- */

int __wrap_irq_msi_alloc(struct vm *vm, unsigned *gsi);
int __wrap_irq_msi_set(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data);
int __wrap_irq_irqfd(struct vm *vm, int fd, int resample_fd, unsigned gsi, bool assign);
int __wrap_irq_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len, bool assign);

static unsigned next_gsi = IRQ_MSI_GSI_BASE;
static struct { uint64_t addr; uint32_t data; } route[64];
static uint64_t ioeventfd_addr;

int __wrap_irq_msi_alloc(struct vm *vm, unsigned *gsi)
{
	*gsi = next_gsi++;
	return 0;
}

int __wrap_irq_msi_set(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data)
{
	assert_true(gsi >= IRQ_MSI_GSI_BASE && gsi < IRQ_MSI_GSI_BASE + 64);
	route[gsi - IRQ_MSI_GSI_BASE].addr = addr;
	route[gsi - IRQ_MSI_GSI_BASE].data = data;
	return 0;
}

int __wrap_irq_irqfd(struct vm *vm, int fd, int resample_fd, unsigned gsi, bool assign)
{
	return 0;
}

int __wrap_irq_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len, bool assign)
{
	assert_int_equal(len, 2);
	ioeventfd_addr = assign ? addr : 0;
	return 0;
}

/* ---- the machine ----------------------------------------------------------- */

#define RAM (1u << 20)
#define BAR_A 0xc0000000u
#define BAR_B 0xc0008000u
#define SECTORS 64u
#define QSIZE 8u

struct drv {
	unsigned devnum;
	uint32_t bar;
	struct virtio_blk *blk;
	gpa_t desc, avail, used, buf;
	uint16_t avail_idx, used_seen;
};

struct fixture {
	struct fake_vm fv;
	struct pci_bus *bus;
	char path[64];
	struct disk disk[2];
	struct drv d[2];
};

static struct fixture *F;

static void cfg_addr(unsigned dev, unsigned reg)
{
	fake_vm_out(&F->fv, 0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc), 4);
}

static uint32_t cfg_read(unsigned dev, unsigned reg, unsigned size)
{
	cfg_addr(dev, reg);
	return fake_vm_in(&F->fv, (uint16_t)(0xcfc + (reg & 3)), size);
}

static void cfg_write(unsigned dev, unsigned reg, uint32_t v, unsigned size)
{
	cfg_addr(dev, reg);
	fake_vm_out(&F->fv, (uint16_t)(0xcfc + (reg & 3)), v, size);
}

static uint64_t mmio_read(struct drv *d, uint32_t off, unsigned size)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	assert_int_equal(iobus_access(&F->fv.vm.mmio, NULL, d->bar + off, data, size, false), 0);
	memcpy(&v, data, size);
	return v;
}

static void mmio_write(struct drv *d, uint32_t off, uint64_t v, unsigned size)
{
	uint8_t data[8];

	memcpy(data, &v, 8);
	assert_int_equal(iobus_access(&F->fv.vm.mmio, NULL, d->bar + off, data, size, true), 0);
}

static void ram_put(gpa_t gpa, const void *src, size_t n)
{
	memcpy(F->fv.ram + gpa, src, n);
}

/* Waits for vector n of d's device to fire; false after 5 s. */
static bool wait_vector(struct drv *d, unsigned n, int ms)
{
	struct pollfd p = { .fd = d->blk->vp->vec[n].fd, .events = POLLIN };
	uint64_t count;

	if (poll(&p, 1, ms) != 1)
		return false;
	assert_int_equal(read(p.fd, &count, 8), 8);
	return true;
}

static int setup(void **state)
{
	uint8_t sector[512];
	int fd;

	F = calloc(1, sizeof(*F));
	assert_non_null(F);
	assert_int_equal(fake_vm_init(&F->fv, RAM), 0);
	assert_int_equal(pci_create(&F->fv.vm, NULL, &F->bus), 0);
	strcpy(F->path, "/tmp/shale-test-vpci.XXXXXX");
	fd = mkstemp(F->path);
	assert_true(fd >= 0);
	for (unsigned i = 0; i < SECTORS; i++) {
		memset(sector, (int)(i + 1), sizeof(sector));
		assert_int_equal(write(fd, sector, sizeof(sector)), 512);
	}
	close(fd);
	/* Two devices on one image (read-only, so both may open it). */
	for (unsigned i = 0; i < 2; i++) {
		struct drv *d = &F->d[i];

		assert_int_equal(disk_open(&F->disk[i], F->path, true, "--disk"), 0);
		d->devnum = 1 + i;
		d->bar = i ? BAR_B : BAR_A;
		d->desc = 0x10000 + 0x10000 * i;
		d->avail = d->desc + 0x1000;
		d->used = d->desc + 0x2000;
		d->buf = d->desc + 0x4000;
		assert_int_equal(virtio_blk_create(&F->fv.vm, F->bus, d->devnum, &F->disk[i], "vpci",
						   &d->blk), 0);
		assert_int_equal(virtio_blk_start(d->blk), 0);
	}
	*state = F;
	return 0;
}

static int teardown(void **state)
{
	pci_destroy(F->bus);
	for (unsigned i = 0; i < 2; i++) {
		virtio_blk_destroy(F->d[i].blk);
		disk_close(&F->disk[i]);
	}
	unlink(F->path);
	fake_vm_destroy(&F->fv);
	free(F);
	return 0;
}

/*
 * Walks function dev's capability list, checking each; returns a mask of
 * what it found: 1 << type for virtio's (1 common, 2 notify, 3 ISR, 4
 * device, 5 configuration access), 1 << 6 for MSI-X.
 */
static unsigned capabilities(unsigned dev)
{
	unsigned at, found = 0;

	for (at = cfg_read(dev, PCI_CFG_CAP_PTR, 1); at; at = cfg_read(dev, at + 1, 1)) {
		unsigned id = cfg_read(dev, at, 1);

		assert_true(at >= 0x40 && at < 0x100);
		if (id == 0x09) {
			unsigned type = cfg_read(dev, at + 3, 1);
			static const uint32_t off[] = { 0, 0x0000, 0x3000, 0x1000, 0x2000, 0 };

			assert_true(type >= 1 && type <= 5);
			assert_int_equal(cfg_read(dev, at + 4, 1), 0);
			assert_int_equal(cfg_read(dev, at + 8, 4), off[type]);
			if (type == 2)
				assert_int_equal(cfg_read(dev, at + 16, 4), 4);
			found |= 1u << type;
		} else if (id == 0x11) {
			assert_int_equal(cfg_read(dev, at + 2, 2) & 0x7ff, 1); /* 2 vectors */
			assert_int_equal(cfg_read(dev, at + 4, 4), 0x4000);
			assert_int_equal(cfg_read(dev, at + 8, 4), 0x5000);
			found |= 1u << 6;
		}
	}
	return found;
}

/* The capabilities Linux's virtio_pci_modern looks for, and their places. */
static void test_config_space(void **state)
{
	unsigned dev = 1;

	assert_int_equal(cfg_read(dev, PCI_CFG_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_read(dev, PCI_CFG_DEVICE_ID, 2), 0x1042);
	assert_int_equal(cfg_read(dev, PCI_CFG_REVISION, 1), 1);
	assert_int_equal(cfg_read(dev, PCI_CFG_INT_PIN, 1), 1);
	assert_int_equal(cfg_read(dev, PCI_CFG_INT_LINE, 1), pci_intx_gsi(dev, 0));
	assert_true(cfg_read(dev, PCI_CFG_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* BAR 0 sizing: 32 KiB of 32-bit memory. */
	cfg_write(dev, PCI_CFG_BAR0, 0xffffffff, 4);
	assert_int_equal(cfg_read(dev, PCI_CFG_BAR0, 4), 0xffff8000);
	assert_int_equal(capabilities(dev), 0x7e);
}

static void map_bar(struct drv *d)
{
	cfg_write(d->devnum, PCI_CFG_BAR0, d->bar, 4);
	cfg_write(d->devnum, PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER, 2);
}

/* The configuration access capability: BAR 0 through configuration space. */
static void test_cfg_window(void **state)
{
	struct drv *d = &F->d[0];
	unsigned dev = d->devnum, at;

	map_bar(d);
	for (at = cfg_read(dev, PCI_CFG_CAP_PTR, 1); at; at = cfg_read(dev, at + 1, 1))
		if (cfg_read(dev, at, 1) == 0x09 && cfg_read(dev, at + 3, 1) == 5)
			break;
	assert_int_not_equal(at, 0);
	assert_int_equal(cfg_read(dev, at + 2, 1), 20);
	/* device_status, a byte at 0x14 */
	cfg_write(dev, at + 4, 0, 1);
	cfg_write(dev, at + 8, 0x14, 4);
	cfg_write(dev, at + 12, 1, 4);
	cfg_write(dev, at + 16, VIRTIO_STATUS_ACKNOWLEDGE, 4);
	assert_int_equal(mmio_read(d, 0x14, 1), VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_write(d, 0x14, 3, 1);
	assert_int_equal(cfg_read(dev, at + 16, 1), 3);
	/* num_queues, a word; the device configuration's capacity, a dword. */
	cfg_write(dev, at + 8, 0x12, 4);
	cfg_write(dev, at + 12, 2, 4);
	assert_int_equal(cfg_read(dev, at + 16, 2), 1);
	cfg_write(dev, at + 8, 0x2000, 4);
	cfg_write(dev, at + 12, 4, 4);
	assert_int_equal(cfg_read(dev, at + 16, 4), SECTORS);
	/* A misaligned or oversized window reaches nothing. */
	cfg_write(dev, at + 8, 0x15, 4);
	cfg_write(dev, at + 12, 2, 4);
	cfg_write(dev, at + 16, 0, 4);
	assert_int_equal(mmio_read(d, 0x14, 1), 3);
	cfg_write(dev, at + 12, 8, 4);
	cfg_write(dev, at + 16, 0, 4);
	assert_int_equal(mmio_read(d, 0x14, 1), 3);
}

/* Linux's order (virtio 1.2 §3.1.1), with MSI-X vectors 0 (config) and 1. */
static void driver_init_queue(struct drv *d, bool good_queue)
{
	uint64_t features;

	mmio_write(d, 0x14, 0, 1);
	assert_int_equal(mmio_read(d, 0x14, 1), 0);
	mmio_write(d, 0x14, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	mmio_write(d, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	mmio_write(d, 0x00, 0, 4);
	features = mmio_read(d, 0x04, 4);
	mmio_write(d, 0x00, 1, 4);
	features |= mmio_read(d, 0x04, 4) << 32;
	assert_true(features & VIRTIO_F_VERSION_1);
	assert_true(features & VIRTIO_BLK_F_RO);
	assert_true(features & VIRTIO_BLK_F_FLUSH);
	assert_true(features & VIRTIO_F_RING_INDIRECT_DESC);
	assert_true(features & VIRTIO_F_EVENT_IDX);
	mmio_write(d, 0x08, 0, 4);
	mmio_write(d, 0x0c, (uint32_t)features, 4);
	mmio_write(d, 0x08, 1, 4);
	mmio_write(d, 0x0c, features >> 32, 4);
	mmio_write(d, 0x14, 0x0b, 1);
	assert_int_equal(mmio_read(d, 0x14, 1), 0x0b);
	/* MSI-X: the table, unmasked; then enabled in configuration space. */
	for (unsigned n = 0; n < 2; n++) {
		mmio_write(d, 0x4000 + 16 * n, 0xfee00000u, 4);
		mmio_write(d, 0x4000 + 16 * n + 4, 0, 4);
		mmio_write(d, 0x4000 + 16 * n + 8, 0x40 + n + 2 * d->devnum, 4);
		mmio_write(d, 0x4000 + 16 * n + 12, 0, 4);
	}
	cfg_write(d->devnum, 0x86, 0x8000, 2);
	assert_int_equal(route[d->blk->vp->vec[1].gsi - IRQ_MSI_GSI_BASE].data,
			 0x41 + 2 * d->devnum);
	mmio_write(d, 0x10, 0, 2);
	assert_int_equal(mmio_read(d, 0x10, 2), 0);
	/*
	 * Queue 0, on rings made anew as a driver does after a reset: a
	 * notification still on its way from before must find nothing.
	 */
	if (good_queue)
		memset(F->fv.ram + d->desc, 0, d->buf - d->desc);
	mmio_write(d, 0x16, 0, 2);
	assert_int_equal(mmio_read(d, 0x18, 2), 256);
	mmio_write(d, 0x18, QSIZE, 2);
	mmio_write(d, 0x1a, 1, 2);
	assert_int_equal(mmio_read(d, 0x1a, 2), 1);
	mmio_write(d, 0x20, d->desc, 4);
	mmio_write(d, 0x24, 0, 4);
	mmio_write(d, 0x28, d->avail, 4);
	mmio_write(d, 0x2c, 0, 4);
	mmio_write(d, 0x30, d->used, 4);
	mmio_write(d, 0x34, 0, 4);
	mmio_write(d, 0x1c, 1, 2);
	assert_int_equal(mmio_read(d, 0x1c, 2), good_queue);
	mmio_write(d, 0x14, 0x0f, 1);
	d->avail_idx = d->used_seen = 0;
}

static void driver_init(struct drv *d)
{
	driver_init_queue(d, true);
}

/* A read of `sector` into d->buf: descriptors 0-2, made available, notified. */
static void submit_read(struct drv *d, uint64_t sector, uint16_t head)
{
	struct { uint32_t type, reserved; uint64_t sector; } hdr = { VIRTIO_BLK_T_IN, 0, sector };
	struct virtq_desc desc[3] = {
		{ d->buf, 16, VIRTQ_DESC_F_NEXT, 1 },
		{ d->buf + 0x200, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 },
		{ d->buf + 0x400, 1, VIRTQ_DESC_F_WRITE, 0 },
	};

	ram_put(d->buf, &hdr, sizeof(hdr));
	memset(F->fv.ram + d->buf + 0x200, 0, 513);
	F->fv.ram[d->buf + 0x400] = 0xee;
	ram_put(d->desc, desc, sizeof(desc));
	ram_put(d->avail + 4 + 2 * (d->avail_idx % QSIZE), &head, 2);
	/* used_event (EVENT_IDX is negotiated): interrupt for the next one, as Linux asks. */
	ram_put(d->avail + 4 + 2 * QSIZE, &d->used_seen, 2);
	d->avail_idx++;
	ram_put(d->avail + 2, &d->avail_idx, 2);
	mmio_write(d, 0x3000, 0, 2);
}

static uint16_t used_idx(struct drv *d)
{
	uint16_t v;

	memcpy(&v, F->fv.ram + d->used + 2, 2);
	return v;
}

static void expect_read_done(struct drv *d, uint64_t sector)
{
	assert_true(wait_vector(d, 1, 5000));
	assert_int_equal(used_idx(d), ++d->used_seen);
	assert_int_equal(F->fv.ram[d->buf + 0x400], VIRTIO_BLK_S_OK);
	assert_int_equal(F->fv.ram[d->buf + 0x200], sector + 1);
	assert_int_equal(F->fv.ram[d->buf + 0x3ff], sector + 1);
}

static void test_request(void **state)
{
	struct drv *d = &F->d[0];

	map_bar(d);
	assert_int_equal(ioeventfd_addr, BAR_A + 0x3000);
	driver_init(d);
	submit_read(d, 2, 0);
	expect_read_done(d, 2);
	submit_read(d, 63, 0);
	expect_read_done(d, 63);
	/* Device configuration: capacity, seg_max, blk_size. */
	assert_int_equal(mmio_read(d, 0x2000, 8), SECTORS);
	assert_int_equal(mmio_read(d, 0x2000 + 12, 4), VIRTIO_BLK_SEG_MAX);
	assert_int_equal(mmio_read(d, 0x2000 + 20, 4), 512);
	/* Memory decoding off: the BAR is gone, and so is its ioeventfd. */
	cfg_write(d->devnum, PCI_CFG_COMMAND, 0, 2);
	assert_int_equal(ioeventfd_addr, 0);
	uint8_t data[4];

	assert_int_equal(iobus_access(&F->fv.vm.mmio, NULL, BAR_A, data, 4, false), -ENOENT);
}

/*
 * A stopping VM's device takes no more requests: its stop waits for the
 * I/O thread, which a full queue of long requests (whole-disk
 * WRITE_ZEROES, 16 segments each) held for as long as they took (a
 * Linux guest's --timeout of 20 s ended after 82 s in the lab).
 */
static void test_stopping_takes_nothing(void **state)
{
	struct drv *d = &F->d[0];

	map_bar(d);
	driver_init(d);
	submit_read(d, 2, 0);
	expect_read_done(d, 2);
	vm_stop(&F->fv.vm, VM_STOP_ERROR, 0, NULL);
	submit_read(d, 3, 0);
	assert_false(wait_vector(d, 1, 300));
	virtio_pci_serve(d->blk->vp, 0);
	assert_int_equal(used_idx(d), d->used_seen);
	assert_int_equal(F->fv.ram[d->buf + 0x400], 0xee);
	assert_int_equal(fake_vm_stop_reason(&F->fv, NULL), VM_STOP_ERROR);
}

static void test_features_refused(void **state)
{
	struct drv *d = &F->d[0];

	map_bar(d);
	mmio_write(d, 0x14, 3, 1);
	mmio_write(d, 0x08, 1, 4);
	mmio_write(d, 0x0c, 1 | 1u << 8, 4); /* VERSION_1 and a feature never offered */
	mmio_write(d, 0x14, 0x0b, 1);
	assert_int_equal(mmio_read(d, 0x14, 1), 3);
	/* Without VERSION_1 (a legacy driver) too. */
	mmio_write(d, 0x14, 0, 1);
	mmio_write(d, 0x14, 3, 1);
	mmio_write(d, 0x14, 0x0b, 1);
	assert_int_equal(mmio_read(d, 0x14, 1), 3);
}

/* A queue outside RAM cannot be enabled: NEEDS_RESET at once. */
static void test_bad_queue_address(void **state)
{
	struct drv *d = &F->d[0];

	map_bar(d);
	d->desc = RAM - 64;
	driver_init_queue(d, false);
	assert_true(mmio_read(d, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(wait_vector(d, 0, 5000));
}

static void test_broken_ring_stops_one_device(void **state)
{
	struct drv *a = &F->d[0], *b = &F->d[1];
	uint8_t gen;

	map_bar(a);
	map_bar(b);
	driver_init(a);
	driver_init(b);
	submit_read(a, 1, 0);
	expect_read_done(a, 1);
	gen = (uint8_t)mmio_read(a, 0x15, 1);

	/* A head index past the queue. */
	submit_read(a, 3, QSIZE + 5);
	assert_true(wait_vector(a, 0, 5000));
	assert_true(mmio_read(a, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_not_equal((uint8_t)mmio_read(a, 0x15, 1), gen);
	assert_int_equal(mmio_read(a, 0x1000, 1) & 2, 2); /* ISR: configuration change */
	assert_int_equal(mmio_read(a, 0x1000, 1), 0);   /* cleared by the read */
	/* It serves nothing more, even a good request... */
	submit_read(a, 4, 0);
	assert_false(wait_vector(a, 1, 200));
	assert_int_equal(used_idx(a), a->used_seen);
	/* ...while the other device goes on. */
	submit_read(b, 5, 0);
	expect_read_done(b, 5);

	/* A reset brings it back. */
	driver_init(a);
	assert_false(mmio_read(a, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	submit_read(a, 6, 0);
	expect_read_done(a, 6);

	/* A descriptor loop (6 -> 7 -> 6): the same. */
	struct virtq_desc loop = { a->buf, 16, VIRTQ_DESC_F_NEXT, 6 };

	ram_put(a->desc + 16 * 7, &loop, sizeof(loop));
	loop.next = 7;
	ram_put(a->desc + 16 * 6, &loop, sizeof(loop));
	uint16_t head = 6;

	ram_put(a->avail + 4 + 2 * (a->avail_idx % QSIZE), &head, 2);
	a->avail_idx++;
	ram_put(a->avail + 2, &a->avail_idx, 2);
	mmio_write(a, 0x3000, 0, 2);
	assert_true(wait_vector(a, 0, 5000));
	assert_true(mmio_read(a, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	submit_read(b, 7, 0);
	expect_read_done(b, 7);
}

/* A masked vector holds its interrupt as pending, delivered at unmask. */
static void test_msix_mask(void **state)
{
	struct drv *d = &F->d[0];

	map_bar(d);
	driver_init(d);
	mmio_write(d, 0x4000 + 16 + 12, 1, 4);
	submit_read(d, 9, 0);
	assert_false(wait_vector(d, 1, 300));
	assert_int_equal(used_idx(d), ++d->used_seen);
	assert_int_equal(mmio_read(d, 0x5000, 8), 2); /* vector 1 pending */
	mmio_write(d, 0x4000 + 16 + 12, 0, 4);
	assert_true(wait_vector(d, 1, 5000));
	assert_int_equal(mmio_read(d, 0x5000, 8), 0);
}

static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t count;

	if (poll(&p, 1, ms) != 1)
		return false;
	assert_int_equal(read(fd, &count, 8), 8);
	return true;
}

/* MSI-X off: INTA, the ISR says why, and the EOI's resample asserts it again. */
static void test_intx(void **state)
{
	struct drv *d = &F->d[0];
	struct virtio_pci *vp = d->blk->vp;
	uint64_t one = 1;

	map_bar(d);
	driver_init(d);
	cfg_write(d->devnum, 0x86, 0, 2);
	submit_read(d, 8, 0);
	assert_true(wait_fd(vp->intx_fd, 5000));
	assert_int_equal(used_idx(d), ++d->used_seen);
	assert_false(wait_vector(d, 1, 0));
	/* The EOI while the ISR is still set: asserted again. */
	assert_int_equal(write(vp->resample_fd, &one, 8), 8);
	assert_true(wait_fd(vp->intx_fd, 5000));
	assert_int_equal(mmio_read(d, 0x1000, 1), 1);
	/* Read, so clear: the next EOI asserts nothing. */
	assert_int_equal(write(vp->resample_fd, &one, 8), 8);
	assert_false(wait_fd(vp->intx_fd, 300));
	/* Interrupt Disable in COMMAND silences it. */
	cfg_write(d->devnum, PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_INTX_DISABLE, 2);
	submit_read(d, 9, 0);
	assert_false(wait_fd(vp->intx_fd, 300));
	assert_int_equal(used_idx(d), ++d->used_seen);
}

/* ---- host descriptors on the I/O thread ------------------------------- */

static int host_seen_fd = -1, host_signal = -1;
static struct virtio_pci *host_vp; /* destroyed after its bus */

static int teardown_host(void **state)
{
	pci_destroy(F->bus);
	F->bus = NULL;
	virtio_pci_destroy(host_vp);
	host_vp = NULL;
	return teardown(state);
}

static void host_event(struct virtio_pci *vp, int fd, short revents)
{
	char buf[16];

	assert_true(revents & POLLIN);
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	host_seen_fd = fd;
	assert_int_equal(write(host_signal, "x", 1), 1);
}

static bool host_queue_notify(struct virtio_pci *vp, unsigned q)
{
	return false;
}

static void host_config_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned size)
{
	memset(data, 0, size);
}

static void host_reset(struct virtio_pci *vp)
{
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static const struct virtio_dev_ops host_ops = {
	.config_read = host_config_read,
	.queue_notify = host_queue_notify,
	.reset = host_reset,
	.host_event = host_event,
};

/*
 * A watched descriptor reaches host_event on the device's thread, a
 * changed set is taken at once, an unwatched one is left alone, and the
 * set is bounded.
 */
static void test_host_fds(void **state)
{
	struct virtio_pci_config cfg = {
		.name = "host-fds", .device_type = 4, .class_code = 0xff00,
		.nr_queues = 1, .queue_size = 8, .config_size = 0,
	};
	struct virtio_pci *vp;
	int data[2], sig[2];
	char c;

	assert_int_equal(pipe(data), 0);
	assert_int_equal(pipe(sig), 0);
	host_signal = sig[1];
	assert_int_equal(virtio_pci_create(&F->fv.vm, F->bus, 5, &cfg, &host_ops, NULL, &host_vp), 0);
	vp = host_vp;
	assert_int_equal(virtio_pci_start(vp), 0);
	/* No device configuration: no capability for it, the others all there. */
	assert_int_equal(capabilities(5), 0x6e);
	/* Watched after the thread went to sleep: the change wakes it. */
	usleep(20000);
	pthread_mutex_lock(&vp->lock);
	assert_int_equal(virtio_pci_watch(vp, data[0], POLLIN), 0);
	pthread_mutex_unlock(&vp->lock);
	assert_int_equal(write(data[1], "ab", 2), 2);
	assert_true(readable(sig[0], 5000));
	assert_int_equal(read(sig[0], &c, 1), 1);
	assert_int_equal(host_seen_fd, data[0]);
	/* Unwatched: the data stays where it is. */
	pthread_mutex_lock(&vp->lock);
	assert_int_equal(virtio_pci_watch(vp, data[0], 0), 0);
	pthread_mutex_unlock(&vp->lock);
	usleep(20000);
	assert_int_equal(write(data[1], "cd", 2), 2);
	assert_false(readable(sig[0], 300));
	/* Full: the next one is refused, the ones in it can still change. */
	pthread_mutex_lock(&vp->lock);
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_HOST_FDS; i++)
		assert_int_equal(virtio_pci_watch(vp, 1000 + (int)i, POLLIN), 0);
	assert_int_equal(virtio_pci_watch(vp, 2000, POLLIN), -ENOSPC);
	assert_int_equal(virtio_pci_watch(vp, 1000, POLLOUT), 0);
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_HOST_FDS; i++)
		assert_int_equal(virtio_pci_watch(vp, 1000 + (int)i, 0), 0);
	assert_int_equal(vp->nr_host_fds, 0);
	pthread_mutex_unlock(&vp->lock);
	for (unsigned i = 0; i < 2; i++) {
		close(data[i]);
		close(sig[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfg_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopping_takes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_queue_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring_stops_one_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_fds, setup, teardown_host),
	};

	return cmocka_run_group_tests_name("virtio_pci", tests, NULL, NULL);
}

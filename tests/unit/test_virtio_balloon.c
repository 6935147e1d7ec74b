/*
 * virtio-balloon (devices/virtio/balloon.c) over fake guest RAM: inflated
 * pages read back zero and leave the host's memory (mincore), their
 * neighbours keep their bytes; a PFN outside RAM, a torn PFN array or too
 * many PFNs are refused before any page is touched; statistics are
 * parsed and unknown tags ignored; reported ranges are released in whole
 * pages; queues are named by the features the driver took. Then the
 * device behind the real PCI transport, served in the test's thread:
 * the host's target reaches num_pages with a configuration interrupt,
 * the driver's actual is kept, an inflate chain is served, and a PFN
 * outside RAM sets NEEDS_RESET.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/legacy/pci.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/pci.h"
#include "fake_vm.h"
#include "vmm/irq.h"

/* ---- KVM's side, as none (the transport part) -------------------------------- */

int __wrap_irq_msi_alloc(struct vm *vm, unsigned *gsi);
int __wrap_irq_msi_set(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data);
int __wrap_irq_irqfd(struct vm *vm, int fd, int resample_fd, unsigned gsi, bool assign);
int __wrap_irq_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len, bool assign);

static unsigned next_gsi = IRQ_MSI_GSI_BASE;

int __wrap_irq_msi_alloc(struct vm *vm, unsigned *gsi)
{
	*gsi = next_gsi++;
	return 0;
}

int __wrap_irq_msi_set(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data)
{
	return 0;
}

int __wrap_irq_irqfd(struct vm *vm, int fd, int resample_fd, unsigned gsi, bool assign)
{
	return 0;
}

int __wrap_irq_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len, bool assign)
{
	return 0;
}

/* ---- the request paths ------------------------------------------------------ */

#define RAM (1u << 20)
#define PAGE VIRTIO_BALLOON_PAGE
#define NR_PAGES (RAM / PAGE)

struct fixture {
	struct fake_vm fv;
	struct virtio_balloon *bal;
	uint32_t pfns[VIRTIO_BALLOON_MAX_PFNS + 1];
	struct virtq_chain c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(fake_vm_init(&f->fv, RAM), 0);
	assert_int_equal(virtio_balloon_create(&f->fv.vm, NULL, 0, 0, &f->bal), 0);
	/* Every page holds its number, and is resident. */
	for (unsigned p = 0; p < NR_PAGES; p++)
		memset(f->fv.ram + (size_t)p * PAGE, (int)(p | 1), PAGE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_balloon_destroy(f->bal);
	fake_vm_destroy(&f->fv);
	free(f);
	return 0;
}

/* A chain of one readable buffer: f->pfns[0, n), as bytes `len` (default n * 4). */
static const struct virtq_chain *pfn_chain(struct fixture *f, size_t len)
{
	f->c = (struct virtq_chain){ .nr_out = 1, .out_len = len };
	f->c.iov[0] = (struct iovec){ f->pfns, len };
	return &f->c;
}

static bool page_is(struct fixture *f, unsigned p, uint8_t v)
{
	const uint8_t *b = f->fv.ram + (size_t)p * PAGE;

	for (unsigned i = 0; i < PAGE; i++)
		if (b[i] != v)
			return false;
	return true;
}

static bool resident(struct fixture *f, unsigned p)
{
	unsigned char vec;

	assert_int_equal(mincore(f->fv.ram + (size_t)p * PAGE, PAGE, &vec), 0);
	return vec & 1;
}

static void test_inflate(void **state)
{
	struct fixture *f = *state;
	const unsigned pages[] = { 10, 11, 12, 40, 255 };

	for (unsigned i = 0; i < 5; i++)
		f->pfns[i] = pages[i];
	assert_true(resident(f, 11));
	assert_int_equal(virtio_balloon_inflate(f->bal, pfn_chain(f, 20)), 0);
	for (unsigned i = 0; i < 5; i++)
		assert_false(resident(f, pages[i]));
	for (unsigned i = 0; i < 5; i++)
		assert_true(page_is(f, pages[i], 0));
	/* Neighbours keep their bytes. */
	assert_true(page_is(f, 9, 9));
	assert_true(page_is(f, 13, 13));
	assert_true(page_is(f, 41, 41));
	assert_true(page_is(f, 254, 255));
	assert_int_equal(f->bal->inflated, 5);
	/* An empty array is no mistake. */
	assert_int_equal(virtio_balloon_inflate(f->bal, pfn_chain(f, 0)), 0);
}

/* Refused as a whole: the good PFN before the bad one keeps its page. */
static void test_inflate_refused(void **state)
{
	struct fixture *f = *state;

	f->pfns[0] = 3;
	f->pfns[1] = NR_PAGES; /* just past RAM */
	assert_int_equal(virtio_balloon_inflate(f->bal, pfn_chain(f, 8)), -EINVAL);
	assert_string_equal(f->bal->why, "a PFN outside guest RAM");
	assert_true(page_is(f, 3, 3));
	f->pfns[1] = UINT32_MAX;
	assert_int_equal(virtio_balloon_inflate(f->bal, pfn_chain(f, 8)), -EINVAL);
	assert_true(page_is(f, 3, 3));
	/* A torn PFN. */
	f->pfns[1] = 4;
	assert_int_equal(virtio_balloon_inflate(f->bal, pfn_chain(f, 7)), -EINVAL);
	assert_true(page_is(f, 3, 3));
	/* Too many at once, all good ones. */
	for (unsigned i = 0; i <= VIRTIO_BALLOON_MAX_PFNS; i++)
		f->pfns[i] = i % NR_PAGES;
	assert_int_equal(virtio_balloon_inflate(f->bal, pfn_chain(f, sizeof(f->pfns))), -EINVAL);
	assert_string_equal(f->bal->why, "too many PFNs in one buffer");
	assert_true(page_is(f, 3, 3));
	assert_int_equal(f->bal->inflated, 0);
	/* The most it takes, across two buffers. */
	f->c = (struct virtq_chain){ .nr_out = 2, .out_len = VIRTIO_BALLOON_MAX_PFNS * 4 };
	f->c.iov[0] = (struct iovec){ f->pfns, 6 };
	f->c.iov[1] = (struct iovec){ (uint8_t *)f->pfns + 6, VIRTIO_BALLOON_MAX_PFNS * 4 - 6 };
	assert_int_equal(virtio_balloon_inflate(f->bal, &f->c), 0);
	assert_int_equal(f->bal->inflated, VIRTIO_BALLOON_MAX_PFNS);
	assert_true(page_is(f, 3, 0));
}

static void test_deflate(void **state)
{
	struct fixture *f = *state;

	f->pfns[0] = 20;
	assert_int_equal(virtio_balloon_inflate(f->bal, pfn_chain(f, 4)), 0);
	assert_int_equal(virtio_balloon_deflate(f->bal, pfn_chain(f, 4)), 0);
	assert_int_equal(f->bal->deflated, 1);
	/* The guest uses it again: an ordinary page. */
	f->fv.ram[20 * PAGE] = 7;
	assert_true(resident(f, 20));
	f->pfns[0] = NR_PAGES + 100;
	assert_int_equal(virtio_balloon_deflate(f->bal, pfn_chain(f, 4)), -EINVAL);
	assert_int_equal(f->bal->deflated, 1);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}

static void test_stats(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[40];
	struct virtq_chain *c = &f->c;

	put_stat(buf, 4, 123456789);         /* free memory */
	put_stat(buf + 10, 5, 512ull << 20); /* total */
	put_stat(buf + 20, 999, 1);          /* unknown: ignored */
	put_stat(buf + 30, 0, 3);            /* swap in */
	*c = (struct virtq_chain){ .nr_out = 2, .out_len = 40 };
	c->iov[0] = (struct iovec){ buf, 15 };
	c->iov[1] = (struct iovec){ buf + 15, 25 };
	assert_int_equal(virtio_balloon_stats(f->bal, c), 0);
	assert_int_equal(f->bal->stat[4], 123456789);
	assert_int_equal(f->bal->stat[5], 512ull << 20);
	assert_int_equal(f->bal->stat[0], 3);
	assert_int_equal(f->bal->stat_valid, 1u << 0 | 1u << 4 | 1u << 5);
	assert_int_equal(f->bal->stats_updates, 1);
	/* Not whole entries; too many. */
	c->out_len = 39;
	c->iov[1].iov_len = 24;
	assert_int_equal(virtio_balloon_stats(f->bal, c), -EINVAL);
	static uint8_t big[(VIRTIO_BALLOON_MAX_STAT_ENTRIES + 1) * 10];

	*c = (struct virtq_chain){ .nr_out = 1, .out_len = sizeof(big) };
	c->iov[0] = (struct iovec){ big, sizeof(big) };
	assert_int_equal(virtio_balloon_stats(f->bal, c), -EINVAL);
	assert_int_equal(f->bal->stats_updates, 1);
}

static void test_report(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain *c = &f->c;
	uint8_t *ram = f->fv.ram;

	/* Pages 64-127 exactly; and a range from the middle of 200 to the middle of 203. */
	*c = (struct virtq_chain){ .nr_in = 2 };
	c->iov[0] = (struct iovec){ ram + 64 * PAGE, 64 * PAGE };
	c->iov[1] = (struct iovec){ ram + 200 * PAGE + 100, 3 * PAGE };
	c->in_len = 67 * PAGE;
	assert_int_equal(virtio_balloon_report(f->bal, c), 0);
	for (unsigned p = 64; p < 128; p++)
		assert_false(resident(f, p));
	assert_true(page_is(f, 63, 63));
	assert_true(page_is(f, 128, 129));
	/* Only 201 and 202 are whole pages of the second range. */
	assert_true(page_is(f, 200, 201));
	assert_true(page_is(f, 201, 0));
	assert_true(page_is(f, 202, 0));
	assert_true(page_is(f, 203, 203));
	assert_int_equal(f->bal->reported, 66 * PAGE);
}

static void test_queue_roles(void **state)
{
	const uint64_t st = VIRTIO_BALLOON_F_STATS_VQ, rep = VIRTIO_BALLOON_F_PAGE_REPORTING;

	assert_int_equal(virtio_balloon_queue_role(0, 0), VIRTIO_BALLOON_Q_INFLATE);
	assert_int_equal(virtio_balloon_queue_role(0, 1), VIRTIO_BALLOON_Q_DEFLATE);
	assert_int_equal(virtio_balloon_queue_role(0, 2), VIRTIO_BALLOON_Q_NONE);
	assert_int_equal(virtio_balloon_queue_role(st, 2), VIRTIO_BALLOON_Q_STATS);
	assert_int_equal(virtio_balloon_queue_role(st, 3), VIRTIO_BALLOON_Q_NONE);
	assert_int_equal(virtio_balloon_queue_role(rep, 2), VIRTIO_BALLOON_Q_REPORTING);
	assert_int_equal(virtio_balloon_queue_role(rep, 3), VIRTIO_BALLOON_Q_NONE);
	assert_int_equal(virtio_balloon_queue_role(st | rep, 2), VIRTIO_BALLOON_Q_STATS);
	assert_int_equal(virtio_balloon_queue_role(st | rep, 3), VIRTIO_BALLOON_Q_REPORTING);
}

static void test_target(void **state)
{
	struct fixture *f = *state;
	struct virtio_balloon_info info;

	assert_int_equal(virtio_balloon_set_target(f->bal, RAM + 1), -EINVAL);
	assert_int_equal(virtio_balloon_set_target(f->bal, 256 * 1024), 0);
	virtio_balloon_info(f->bal, &info);
	assert_int_equal(info.target_pages, 64);
	assert_int_equal(virtio_balloon_set_target(f->bal, RAM), 0);
	assert_int_equal(f->bal->num_pages, NR_PAGES);
}

/* ---- behind the PCI transport ------------------------------------------------ */

#define DEVNUM 24u
#define BAR 0xc0000000u
#define QSIZE 8u
#define DESC 0x10000u
#define AVAIL 0x11000u
#define USED 0x12000u
#define ARRAY 0x13000u

struct tfix {
	struct fake_vm fv;
	struct pci_bus *bus;
	struct virtio_balloon *bal;
	uint16_t avail_idx;
};

static void cfg_write(struct tfix *t, unsigned reg, uint32_t v, unsigned size)
{
	fake_vm_out(&t->fv, 0xcf8, 0x80000000u | DEVNUM << 11 | (reg & 0xfc), 4);
	fake_vm_out(&t->fv, (uint16_t)(0xcfc + (reg & 3)), v, size);
}

static uint64_t mmio_read(struct tfix *t, uint32_t off, unsigned size)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	assert_int_equal(iobus_access(&t->fv.vm.mmio, NULL, BAR + off, data, size, false), 0);
	memcpy(&v, data, size);
	return v;
}

static void mmio_write(struct tfix *t, uint32_t off, uint64_t v, unsigned size)
{
	uint8_t data[8];

	memcpy(data, &v, 8);
	assert_int_equal(iobus_access(&t->fv.vm.mmio, NULL, BAR + off, data, size, true), 0);
}

static int setup_transport(void **state)
{
	struct tfix *t = calloc(1, sizeof(*t));
	uint64_t features;

	assert_non_null(t);
	assert_int_equal(fake_vm_init(&t->fv, RAM), 0);
	assert_int_equal(pci_create(&t->fv.vm, NULL, &t->bus), 0);
	assert_int_equal(virtio_balloon_create(&t->fv.vm, t->bus, DEVNUM,
					       VIRTIO_BALLOON_F_DEFLATE_ON_OOM |
					       VIRTIO_BALLOON_F_PAGE_REPORTING, &t->bal), 0);
	cfg_write(t, PCI_CFG_BAR0, BAR, 4);
	cfg_write(t, PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER, 2);
	/* Linux's order (§3.1.1); INTA, no MSI-X. */
	mmio_write(t, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	mmio_write(t, 0x00, 0, 4);
	features = mmio_read(t, 0x04, 4);
	mmio_write(t, 0x00, 1, 4);
	features |= mmio_read(t, 0x04, 4) << 32;
	assert_true(features & VIRTIO_BALLOON_F_STATS_VQ);
	assert_true(features & VIRTIO_BALLOON_F_PAGE_REPORTING);
	assert_true(features & VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	assert_true(features & VIRTIO_F_VERSION_1);
	mmio_write(t, 0x08, 0, 4);
	mmio_write(t, 0x0c, (uint32_t)features, 4);
	mmio_write(t, 0x08, 1, 4);
	mmio_write(t, 0x0c, features >> 32, 4);
	mmio_write(t, 0x14, 0x0b, 1);
	assert_int_equal(mmio_read(t, 0x14, 1), 0x0b);
	assert_int_equal(mmio_read(t, 0x12, 2), 4); /* num_queues */
	/* The inflate queue. */
	mmio_write(t, 0x16, 0, 2);
	mmio_write(t, 0x18, QSIZE, 2);
	mmio_write(t, 0x20, DESC, 4);
	mmio_write(t, 0x28, AVAIL, 4);
	mmio_write(t, 0x30, USED, 4);
	mmio_write(t, 0x1c, 1, 2);
	assert_int_equal(mmio_read(t, 0x1c, 2), 1);
	mmio_write(t, 0x14, 0x0f, 1);
	for (unsigned p = 0; p < NR_PAGES; p++)
		memset(t->fv.ram + (size_t)p * PAGE, (int)(p | 1), PAGE);
	*state = t;
	return 0;
}

static int teardown_transport(void **state)
{
	struct tfix *t = *state;

	pci_destroy(t->bus);
	virtio_balloon_destroy(t->bal);
	fake_vm_destroy(&t->fv);
	free(t);
	return 0;
}

/* Makes `n` PFNs at ARRAY one available chain (head 0) of the inflate queue, served. */
static void inflate(struct tfix *t, const uint32_t *pfn, unsigned n)
{
	struct virtq_desc d = { ARRAY, n * 4, 0, 0 };
	uint16_t head = 0;

	memcpy(t->fv.ram + ARRAY, pfn, n * 4);
	memcpy(t->fv.ram + DESC, &d, sizeof(d));
	memcpy(t->fv.ram + AVAIL + 4 + 2 * (t->avail_idx % QSIZE), &head, 2);
	t->avail_idx++;
	memcpy(t->fv.ram + AVAIL + 2, &t->avail_idx, 2);
	virtio_pci_serve(t->bal->vp, 0);
}

static uint16_t used_idx(struct tfix *t)
{
	uint16_t v;

	memcpy(&v, t->fv.ram + USED + 2, 2);
	return v;
}

static void test_transport_config(void **state)
{
	struct tfix *t = *state;
	uint8_t gen = (uint8_t)mmio_read(t, 0x15, 1);

	assert_int_equal(mmio_read(t, 0x2000, 4), 0);
	assert_int_equal(mmio_read(t, 0x1000, 1), 0);
	assert_int_equal(virtio_balloon_set_target(t->bal, 64 * PAGE), 0);
	assert_int_equal(mmio_read(t, 0x2000, 4), 64);
	assert_int_not_equal((uint8_t)mmio_read(t, 0x15, 1), gen);
	assert_int_equal(mmio_read(t, 0x1000, 1), 2); /* ISR: configuration change */
	/* The driver writes actual; num_pages is the host's. */
	mmio_write(t, 0x2004, 64, 4);
	mmio_write(t, 0x2000, 5, 4);
	assert_int_equal(mmio_read(t, 0x2000, 4), 64);
	assert_int_equal(mmio_read(t, 0x2004, 4), 64);
	mmio_write(t, 0x2006, 1, 1);
	assert_int_equal(mmio_read(t, 0x2004, 4), 0x10040);
	assert_int_equal(mmio_read(t, 0x2008, 4), 0);
	assert_int_equal(mmio_read(t, 0x200c, 4), 0);
	/* A reset empties actual, keeps the target. */
	mmio_write(t, 0x14, 0, 1);
	assert_int_equal(mmio_read(t, 0x2004, 4), 0);
	assert_int_equal(mmio_read(t, 0x2000, 4), 64);
}

static void test_transport_inflate(void **state)
{
	struct tfix *t = *state;
	const uint32_t good[] = { 100, 101, 150 }, bad[] = { 102, 0x100000 };

	inflate(t, good, 3);
	assert_int_equal(used_idx(t), 1);
	assert_int_equal(t->fv.ram[100 * PAGE], 0);
	assert_int_equal(t->fv.ram[150 * PAGE + PAGE - 1], 0);
	assert_int_equal(t->fv.ram[102 * PAGE], 103);
	assert_false(mmio_read(t, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);

	/* A PFN far outside RAM: NEEDS_RESET, nothing used, nothing discarded. */
	inflate(t, bad, 2);
	assert_true(mmio_read(t, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(t), 1);
	assert_int_equal(t->fv.ram[102 * PAGE], 103);
	assert_int_equal(mmio_read(t, 0x1000, 1) & 2, 2);
	/* And then it serves nothing until a reset. */
	inflate(t, good + 2, 1);
	assert_int_equal(used_idx(t), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inflate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflate_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deflate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
		cmocka_unit_test(test_queue_roles),
		cmocka_unit_test_setup_teardown(test_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_config, setup_transport,
						teardown_transport),
		cmocka_unit_test_setup_teardown(test_transport_inflate, setup_transport,
						teardown_transport),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * virtio-console (devices/virtio/console.c): on the transmit path the
 * readable buffers of a chain reach the output whole and in order;
 * writable ones and empty ones are skipped. On the receive path input
 * fills the writable buffers in order; then, behind the real PCI
 * transport, input goes into the buffers the driver made available, as
 * far as they take it, nothing before DRIVER_OK nor before the driver
 * first transmits, and the driver's notification of new buffers (or its
 * first transmission) makes the room eventfd readable.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/legacy/pci.h"
#include "devices/virtio/console.h"
#include "devices/virtio/pci.h"
#include "fake_vm.h"
#include "vmm/irq.h"

/* KVM's side, as none. */
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

static char got[256];
static size_t got_len;
static unsigned calls;

static void collect(void *opaque, const uint8_t *buf, size_t len)
{
	assert_ptr_equal(opaque, &calls);
	assert_true(got_len + len <= sizeof(got));
	memcpy(got + got_len, buf, len);
	got_len += len;
	calls++;
}

static void test_transmit_in_order(void **state)
{
	struct virtio_console *con;
	static char a[] = "hello, ", b[] = "", c[] = "hvc0\n", w[16];
	struct virtq_chain ch = { .nr_out = 3, .nr_in = 1 };

	assert_int_equal(virtio_console_create(NULL, NULL, 0, collect, &calls, &con), 0);
	ch.iov[0] = (struct iovec){ a, strlen(a) };
	ch.iov[1] = (struct iovec){ b, 0 };
	ch.iov[2] = (struct iovec){ c, strlen(c) };
	ch.iov[3] = (struct iovec){ w, sizeof(w) };
	virtio_console_transmit(con, &ch);
	assert_int_equal(got_len, strlen("hello, hvc0\n"));
	assert_memory_equal(got, "hello, hvc0\n", got_len);
	assert_int_equal(calls, 2);
	assert_int_equal(con->bytes, got_len);
	virtio_console_destroy(con);
}

static void test_fill(void **state)
{
	static uint8_t r[8], a[3], b[0], c[10];
	struct virtq_chain ch = { .nr_out = 1, .nr_in = 3 };
	const uint8_t in[20] = "0123456789abcdefghi";

	memset(r, 'r', sizeof(r));
	memset(c, '.', sizeof(c));
	ch.iov[0] = (struct iovec){ r, sizeof(r) };
	ch.iov[1] = (struct iovec){ a, sizeof(a) };
	ch.iov[2] = (struct iovec){ b, 0 };
	ch.iov[3] = (struct iovec){ c, sizeof(c) };
	assert_int_equal(virtio_console_fill(&ch, in, 5), 5);
	assert_memory_equal(a, "012", 3);
	assert_memory_equal(c, "34........", 10);
	assert_memory_equal(r, "rrrrrrrr", 8);
	/* More than the buffers hold: what fits. */
	assert_int_equal(virtio_console_fill(&ch, in, 20), 13);
	assert_memory_equal(c, "3456789abc", 10);
}

static void test_input_without_device(void **state)
{
	struct virtio_console *con;

	assert_int_equal(virtio_console_create(NULL, NULL, 0, collect, &calls, &con), 0);
	assert_true(virtio_console_room_fd(con) >= 0);
	assert_int_equal(virtio_console_input(con, (const uint8_t *)"x", 1), 0);
	virtio_console_destroy(con);
}

/* ---- behind the PCI transport ---- */

#define RAM (1u << 20)
#define DEVNUM 18u
#define BAR 0xc0000000u
#define QSIZE 8u
#define DESC 0x10000u
#define AVAIL 0x11000u
#define USED 0x12000u
#define BUF 0x13000u
#define TX_DESC 0x14000u
#define TX_AVAIL 0x15000u
#define TX_USED 0x16000u

static struct fake_vm fv;
static struct pci_bus *bus;

static void cfg_write(unsigned reg, uint32_t v, unsigned size)
{
	fake_vm_out(&fv, 0xcf8, 0x80000000u | DEVNUM << 11 | (reg & 0xfc), 4);
	fake_vm_out(&fv, (uint16_t)(0xcfc + (reg & 3)), v, size);
}

static void mmio_write(uint32_t off, uint64_t v, unsigned size)
{
	uint8_t data[8];

	memcpy(data, &v, 8);
	assert_int_equal(iobus_access(&fv.vm.mmio, NULL, BAR + off, data, size, true), 0);
}

static bool room(struct virtio_console *con)
{
	struct pollfd p = { .fd = virtio_console_room_fd(con), .events = POLLIN };
	uint64_t count;

	if (poll(&p, 1, 0) != 1)
		return false;
	assert_int_equal(read(p.fd, &count, 8), 8);
	return true;
}

/* Receive buffer i (of `len` bytes at BUF + 0x100 * i) made available. */
static void post(unsigned i, uint32_t len, uint16_t *avail_idx)
{
	struct virtq_desc d = { BUF + 0x100 * i, len, VIRTQ_DESC_F_WRITE, 0 };
	uint16_t head = (uint16_t)i;

	memcpy(fv.ram + DESC + 16 * i, &d, sizeof(d));
	memcpy(fv.ram + AVAIL + 4 + 2 * (*avail_idx % QSIZE), &head, 2);
	(*avail_idx)++;
	memcpy(fv.ram + AVAIL + 2, avail_idx, 2);
}

static void test_input_through_queue(void **state)
{
	struct virtio_console *con;
	uint16_t avail_idx = 0, used;
	uint32_t len;
	const uint8_t *hello = (const uint8_t *)"hello, world";

	assert_int_equal(fake_vm_init(&fv, RAM), 0);
	assert_int_equal(pci_create(&fv.vm, NULL, &bus), 0);
	assert_int_equal(virtio_console_create(&fv.vm, bus, DEVNUM, collect, &calls, &con), 0);
	cfg_write(PCI_CFG_BAR0, BAR, 4);
	cfg_write(PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER, 2);
	mmio_write(0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	mmio_write(0x08, 1, 4);
	mmio_write(0x0c, 1, 4); /* VERSION_1 */
	mmio_write(0x14, 0x0b, 1);
	mmio_write(0x16, VIRTIO_CONSOLE_RX, 2);
	mmio_write(0x18, QSIZE, 2);
	mmio_write(0x20, DESC, 4);
	mmio_write(0x28, AVAIL, 4);
	mmio_write(0x30, USED, 4);
	mmio_write(0x1c, 1, 2);
	mmio_write(0x16, VIRTIO_CONSOLE_TX, 2);
	mmio_write(0x18, QSIZE, 2);
	mmio_write(0x20, TX_DESC, 4);
	mmio_write(0x28, TX_AVAIL, 4);
	mmio_write(0x30, TX_USED, 4);
	mmio_write(0x1c, 1, 2);
	post(0, 5, &avail_idx);
	post(1, 4, &avail_idx);
	/* Not before DRIVER_OK. */
	assert_int_equal(virtio_console_input(con, hello, 12), 0);
	mmio_write(0x14, 0x0f, 1);
	/* DRIVER_OK notifies the enabled queues: the receive queue's says there is room. */
	virtio_pci_serve(con->vp, VIRTIO_CONSOLE_RX);
	assert_true(room(con));
	assert_false(room(con));
	/* Buffers, but no port yet: the driver has sent nothing. */
	assert_int_equal(virtio_console_input(con, hello, 12), 0);
	/* It sends "> ": that is the port in use, and the room for input. */
	struct virtq_desc td = { TX_DESC + 0x800, 2, 0, 0 };
	uint16_t zero = 0, one = 1;

	memcpy(fv.ram + TX_DESC + 0x800, "> ", 2);
	memcpy(fv.ram + TX_DESC, &td, sizeof(td));
	memcpy(fv.ram + TX_AVAIL + 4, &zero, 2);
	memcpy(fv.ram + TX_AVAIL + 2, &one, 2);
	got_len = 0;
	virtio_pci_serve(con->vp, VIRTIO_CONSOLE_TX);
	assert_int_equal(got_len, 2);
	assert_true(room(con));
	assert_int_equal(virtio_console_input(con, hello, 12), 9);
	assert_memory_equal(fv.ram + BUF, "hello", 5);
	assert_memory_equal(fv.ram + BUF + 0x100, ", wo", 4);
	memcpy(&used, fv.ram + USED + 2, 2);
	assert_int_equal(used, 2);
	memcpy(&len, fv.ram + USED + 4 + 4, 4);
	assert_int_equal(len, 5);
	memcpy(&len, fv.ram + USED + 4 + 8 + 4, 4);
	assert_int_equal(len, 4);
	assert_int_equal(con->in_bytes, 9);
	/* No buffer left: nothing taken, until the driver adds one and notifies. */
	assert_int_equal(virtio_console_input(con, hello + 9, 3), 0);
	post(2, 64, &avail_idx);
	mmio_write(0x3000 + 4 * VIRTIO_CONSOLE_RX, VIRTIO_CONSOLE_RX, 2);
	virtio_pci_serve(con->vp, VIRTIO_CONSOLE_RX);
	assert_true(room(con));
	assert_int_equal(virtio_console_input(con, hello + 9, 3), 3);
	assert_memory_equal(fv.ram + BUF + 0x200, "rld", 3);
	/* A head outside the ring: NEEDS_RESET, no input taken after it. */
	uint16_t bad = 200;

	memcpy(fv.ram + AVAIL + 4 + 2 * (avail_idx % QSIZE), &bad, 2);
	avail_idx++;
	memcpy(fv.ram + AVAIL + 2, &avail_idx, 2);
	assert_int_equal(virtio_console_input(con, hello, 1), 0);
	assert_true(con->vp->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(virtio_console_input(con, hello, 1), 0);
	pci_destroy(bus);
	virtio_console_destroy(con);
	fake_vm_destroy(&fv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transmit_in_order),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_input_without_device),
		cmocka_unit_test(test_input_through_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

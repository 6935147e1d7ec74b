/*
 * virtio-net behind the PCI transport (devices/virtio/net.c, pci.c,
 * queue.c) against a guest that writes any register of configuration
 * space and of BAR 0, in any width and order, and any byte of its RAM,
 * and a back end (a SOCK_SEQPACKET socket pair, as --net user's) that
 * sends frames of any length, 0 to 69631 bytes, between the device's
 * steps. The device is served in the harness's thread, not by its I/O
 * thread, so that a run is reproducible: the queues through
 * virtio_pci_serve(), the back end through the host_event hook, called
 * while the device watches it (as the I/O thread does). KVM's routing
 * is replaced (-Wl,--wrap, fuzz.mk). The input is
 *
 *   byte 0      bit 0: the back end's far end is closed from the start
 *   then        operations, each an opcode byte (bits 0-2: what, bits
 *               3-4: the access width 1 << n, bits 5-7: an argument `a`):
 *
 *   0  guest    configuration write: register (next byte), value (4 bytes)
 *   1  guest    configuration read: register (next byte)
 *   2  guest    BAR 0 write: offset (2 bytes, modulo the BAR), value (8)
 *   3  guest    BAR 0 read: offset (2 bytes)
 *   4  guest    writes a * 4 + 1 bytes at a RAM offset (2 bytes, times 16)
 *   5  device   a < 2: serves queue a; else the back end sends a frame of
 *               (2 bytes) + 4096 * (a & 1) bytes, and the device takes it
 *               if it watches the back end
 *   6  guest    what Linux's driver does to set the device up (BAR at
 *               its place, features (the event index for an odd a),
 *               MSI-X, receive queue at 0x1000/0x2000/0x3000, transmit
 *               queue at 0x4000/0x5000/0x6000, both of size 8 << (a % 6)),
 *               then DRIVER_OK
 *   7  guest    makes the chain of head (next byte) available on queue
 *               a & 1, notifies, and the device serves it
 *
 * Checked: nothing crashes or reads outside what it may (the sanitizers);
 * every access reaches a handler that takes it; a device in NEEDS_RESET
 * changes no byte of guest RAM when served or fed a frame; every frame
 * the back end gets is 14 to 65550 bytes; a reset (status 0) reads back 0
 * and leaves the back end unwatched with no chain held; the device
 * leaves no range on either bus behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/legacy/pci.h"
#include "devices/virtio/net.h"
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
#define DEVNUM 19u
#define POISON 0xa5
#define MAX_SEND (65535u + 4096u)

static _Alignas(4096) uint8_t ram[RAM], before[RAM];
static uint8_t frame[MAX_SEND], got[VIRTIO_NET_MAX_FRAME + 4096];
static struct vm vm;

static void init(void)
{
	vm.kvm_fd = vm.vm_fd = -1;
	pthread_mutex_init(&vm.lock, NULL);
	iobus_init(&vm.pio);
	iobus_init(&vm.mmio);
	vm.unclaimed_io = VM_IO_IGNORE;
	vm.stats = &vm.own_stats;
	vm.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gmem_add_region(&vm.gmem, 0, RAM, ram))
		abort();
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 13 + 1);
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
	bar_w(0x0c, (uint32_t)(VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
			       ((a & 1) ? VIRTIO_F_EVENT_IDX : 0)), 4);
	bar_w(0x08, 1, 4);
	bar_w(0x0c, 1, 4);
	bar_w(0x14, 0x0b, 1);
	for (unsigned n = 0; n < 3; n++) {
		bar_w(0x4000 + 16 * n, 0xfee00000u, 4);
		bar_w(0x4000 + 16 * n + 8, 0x30 + n, 4);
		bar_w(0x4000 + 16 * n + 12, 0, 4);
	}
	v = 0x8000;
	cfg(0x86, &v, 2, true);
	bar_w(0x10, 0, 2);
	for (unsigned q = 0; q < 2; q++) {
		bar_w(0x16, q, 2);
		bar_w(0x18, 8u << (a % 6), 2);
		bar_w(0x1a, 1 + q, 2);
		bar_w(0x20, 0x1000 + 0x3000 * q, 8);
		bar_w(0x28, 0x2000 + 0x3000 * q, 8);
		bar_w(0x30, 0x3000 + 0x3000 * q, 8);
		bar_w(0x1c, 1, 2);
	}
	bar_w(0x14, 0x0f, 1);
}

static bool broken(const struct virtio_net *net)
{
	return net->vp->status & VIRTIO_STATUS_NEEDS_RESET;
}

/* What the back end got: whole frames, none too short or too long. */
static void drain(int host)
{
	ssize_t n;

	if (host < 0)
		return;
	while ((n = recv(host, got, sizeof(got), MSG_DONTWAIT | MSG_TRUNC)) >= 0)
		FUZZ_CHECK(n >= VIRTIO_NET_MIN_FRAME && n <= VIRTIO_NET_MAX_FRAME);
}

/* The back end sends `len` bytes; the device reads them if it watches (the I/O thread's part). */
static void host_frame(struct virtio_net *net, int host, size_t len)
{
	if (host >= 0 && send(host, frame, len, MSG_DONTWAIT) < 0 && errno != EAGAIN &&
	    errno != ENOBUFS && errno != EMSGSIZE)
		abort();
	pthread_mutex_lock(&net->vp->lock);
	if (net->watching) {
		struct pollfd p = { .fd = net->fd, .events = POLLIN };

		if (poll(&p, 1, 0) == 1)
			net->vp->ops->host_event(net->vp, net->fd, p.revents);
	}
	pthread_mutex_unlock(&net->vp->lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct script s = { data, data + size };
	struct pci_bus *bus;
	struct virtio_net *net;
	uint16_t avail_idx[2] = { 0, 0 };
	uint8_t flags, op;
	int sp[2];

	if (!ready) {
		init();
		ready = true;
	}
	if (!next_n(&s, &flags, 1))
		return 0;
	memset(ram, 0, sizeof(ram));
	next_gsi = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) ||
	    fcntl(sp[0], F_SETFL, O_NONBLOCK))
		abort();
	if (flags & 1) {
		close(sp[1]);
		sp[1] = -1;
	}
	if (pci_create(&vm, NULL, &bus) || virtio_net_create(&vm, bus, DEVNUM, sp[0], mac, &net))
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
			off = (uint16_t)(off % VIRTIO_PCI_BAR_SIZE & ~(width - 1));
			bar_w(off, v64, width);
			/* A reset forgets the back end's frames in progress. */
			if (off == 0x14 && width == 1 && (uint8_t)v64 == 0 && net->vp->bar_gpa == BAR) {
				FUZZ_CHECK(bar_r(0x14, 1) == 0);
				FUZZ_CHECK(!net->watching && !net->rx_held);
			}
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
			bool was_broken = broken(net);

			memcpy(before, ram, RAM);
			if (a < 2) {
				virtio_pci_serve(net->vp, a);
			} else {
				uint16_t len;

				if (!next_n(&s, &len, 2))
					goto out;
				host_frame(net, sp[1], len + 4096u * (a & 1));
			}
			if (was_broken)
				FUZZ_CHECK(!memcmp(before, ram, RAM));
			break;
		}
		case 6:
			driver_init(a);
			avail_idx[0] = avail_idx[1] = 0;
			break;
		case 7: {
			unsigned q = a & 1;
			uint16_t qsize = net->vp->vq[q].size ? net->vp->vq[q].size : 1;
			gpa_t avail = 0x2000 + 0x3000 * q;
			uint8_t head;

			if (!next_n(&s, &head, 1))
				goto out;
			uint16_t h = head;

			memcpy(ram + avail + 4 + 2 * (avail_idx[q] % qsize % 256), &h, 2);
			avail_idx[q]++;
			memcpy(ram + avail + 2, &avail_idx[q], 2);
			bar_w(0x3000 + 4 * q, 0, 2);
			virtio_pci_serve(net->vp, q);
			break;
		}
		}
		drain(sp[1]);
		(void)v64;
	}
out:
	pci_destroy(bus);
	virtio_net_destroy(net);
	close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	FUZZ_CHECK(vm.pio.nr == 0 && vm.mmio.nr == 0);
	return 0;
}

/*
 * virtio-net (devices/virtio/net.c) behind the PCI transport, driven as
 * Linux's virtio_net drives it: the rings in fake guest RAM, the device's
 * own I/O thread serving them, and a SOCK_SEQPACKET socket pair as the
 * back end (what --net user's helper gives; one frame per message, as a
 * tap). KVM's part is replaced at link time (--wrap), as in
 * test_virtio_pci.c: an interrupt is the vector's irqfd becoming readable.
 *
 * A frame the guest transmits reaches the back end without its header; a
 * frame from the back end lands in the guest's buffer behind a zeroed
 * header (num_buffers 1); a frame too long for its buffer is dropped and
 * the buffer kept; broken chains put the device in NEEDS_RESET; a back
 * end that cannot take more drops frames and completes every chain;
 * without receive buffers the I/O thread sleeps while frames wait; a
 * back end that closes is said once and no longer watched.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/legacy/pci.h"
#include "devices/virtio/net.h"
#include "devices/virtio/pci.h"
#include "fake_vm.h"
#include "vmm/irq.h"

/* ---- KVM's side, replaced ----------------------------------------------- */

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

/* ---- the machine ---------------------------------------------------------- */

#define RAM (1u << 20)
#define BAR 0xc0000000u
#define DEVNUM 19u
#define QSIZE 64u
#define SLOTS (QSIZE / 4) /* chains in flight: four descriptors each */
#define HDR VIRTIO_NET_HDR_LEN

struct drvq {
	unsigned index;
	gpa_t desc, avail, used, buf;
	uint16_t avail_idx, used_seen;
};

struct fixture {
	struct fake_vm fv;
	struct pci_bus *bus;
	struct virtio_net *net;
	int host; /* the back end's other end */
	struct drvq q[2];
};

static struct fixture *F;
static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static void cfg_write(unsigned reg, uint32_t v, unsigned size)
{
	fake_vm_out(&F->fv, 0xcf8, 0x80000000u | DEVNUM << 11 | (reg & 0xfc), 4);
	fake_vm_out(&F->fv, (uint16_t)(0xcfc + (reg & 3)), v, size);
}

static uint32_t cfg_read(unsigned reg, unsigned size)
{
	fake_vm_out(&F->fv, 0xcf8, 0x80000000u | DEVNUM << 11 | (reg & 0xfc), 4);
	return fake_vm_in(&F->fv, (uint16_t)(0xcfc + (reg & 3)), size);
}

static uint64_t mmio_read(uint32_t off, unsigned size)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	assert_int_equal(iobus_access(&F->fv.vm.mmio, NULL, BAR + off, data, size, false), 0);
	memcpy(&v, data, size);
	return v;
}

static void mmio_write(uint32_t off, uint64_t v, unsigned size)
{
	uint8_t data[8];

	memcpy(data, &v, 8);
	assert_int_equal(iobus_access(&F->fv.vm.mmio, NULL, BAR + off, data, size, true), 0);
}

static bool wait_vector(unsigned n, int ms)
{
	struct pollfd p = { .fd = F->net->vp->vec[n].fd, .events = POLLIN };
	uint64_t count;

	if (poll(&p, 1, ms) != 1)
		return false;
	assert_int_equal(read(p.fd, &count, 8), 8);
	return true;
}

static uint16_t used_idx(const struct drvq *q)
{
	uint16_t v;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(&v, F->fv.ram + q->used + 2, 2);
	return v;
}

static struct virtq_used_elem used_elem(const struct drvq *q, uint16_t i)
{
	struct virtq_used_elem e;

	memcpy(&e, F->fv.ram + q->used + 4 + 8 * (i % QSIZE), sizeof(e));
	return e;
}

/* Waits until the device has returned `n` chains of q in all; false after 5 s. */
static bool wait_used(const struct drvq *q, uint16_t n)
{
	for (int i = 0; i < 5000 && used_idx(q) != n; i++)
		usleep(1000);
	return used_idx(q) == n;
}

static bool net_flag(const bool *flag)
{
	bool v;

	pthread_mutex_lock(&F->net->vp->lock);
	v = *flag;
	pthread_mutex_unlock(&F->net->vp->lock);
	return v;
}

static uint64_t net_count(const uint64_t *count)
{
	uint64_t v;

	pthread_mutex_lock(&F->net->vp->lock);
	v = *count;
	pthread_mutex_unlock(&F->net->vp->lock);
	return v;
}

static int setup(void **state)
{
	int sp[2];

	F = calloc(1, sizeof(*F));
	assert_non_null(F);
	assert_int_equal(fake_vm_init(&F->fv, RAM), 0);
	assert_int_equal(pci_create(&F->fv.vm, NULL, &F->bus), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	F->host = sp[1];
	/* As tap_open() and usernet_start() leave theirs. */
	assert_int_equal(fcntl(sp[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(virtio_net_create(&F->fv.vm, F->bus, DEVNUM, sp[0], mac, &F->net), 0);
	assert_int_equal(virtio_net_start(F->net), 0);
	for (unsigned i = 0; i < 2; i++) {
		struct drvq *q = &F->q[i];

		q->index = i;
		q->desc = 0x10000 + 0x8000 * i;
		q->avail = q->desc + 0x1000;
		q->used = q->desc + 0x2000;
		q->buf = 0x40000 + 0x40000 * i;
	}
	*state = F;
	return 0;
}

static int teardown(void **state)
{
	int fd = F->net->fd;

	pci_destroy(F->bus);
	virtio_net_destroy(F->net);
	close(fd);
	if (F->host >= 0)
		close(F->host);
	fake_vm_destroy(&F->fv);
	free(F);
	return 0;
}

static uint64_t offered_features(void)
{
	uint64_t f;

	mmio_write(0x00, 0, 4);
	f = mmio_read(0x04, 4);
	mmio_write(0x00, 1, 4);
	return f | mmio_read(0x04, 4) << 32;
}

/* Linux's order (§3.1.1): features, MSI-X vectors 0 (config), 1 (rx), 2 (tx), both queues. */
static void driver_init(uint64_t features)
{
	cfg_write(PCI_CFG_BAR0, BAR, 4);
	cfg_write(PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER, 2);
	mmio_write(0x14, 0, 1);
	mmio_write(0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	mmio_write(0x08, 0, 4);
	mmio_write(0x0c, (uint32_t)features, 4);
	mmio_write(0x08, 1, 4);
	mmio_write(0x0c, features >> 32, 4);
	mmio_write(0x14, 0x0b, 1);
	assert_int_equal(mmio_read(0x14, 1), 0x0b);
	for (unsigned n = 0; n < 3; n++) {
		mmio_write(0x4000 + 16 * n, 0xfee00000u, 4);
		mmio_write(0x4000 + 16 * n + 8, 0x40 + n, 4);
		mmio_write(0x4000 + 16 * n + 12, 0, 4);
	}
	cfg_write(0x86, 0x8000, 2);
	mmio_write(0x10, 0, 2);
	for (unsigned i = 0; i < 2; i++) {
		struct drvq *q = &F->q[i];

		memset(F->fv.ram + q->desc, 0, 0x3000);
		mmio_write(0x16, i, 2);
		assert_int_equal(mmio_read(0x18, 2), VIRTIO_NET_QUEUE_SIZE);
		mmio_write(0x18, QSIZE, 2);
		mmio_write(0x1a, 1 + i, 2);
		mmio_write(0x20, q->desc, 8);
		mmio_write(0x28, q->avail, 8);
		mmio_write(0x30, q->used, 8);
		mmio_write(0x1c, 1, 2);
		assert_int_equal(mmio_read(0x1c, 2), 1);
		q->avail_idx = q->used_seen = 0;
	}
	mmio_write(0x14, 0x0f, 1);
}

#define FEATURES (VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS)

/*
 * Makes a chain of `n` descriptors available on q and notifies: lengths
 * len[i], writable when `write`; the buffers follow each other in the
 * chain's slot of q->buf. Returns the head.
 */
static uint16_t submit(struct drvq *q, const uint32_t *len, unsigned n, bool write)
{
	uint16_t head = (uint16_t)((q->avail_idx % SLOTS) * 4);
	gpa_t at = q->buf + (gpa_t)(head / 4) * 0x1000;

	assert_true(n <= 4);
	for (unsigned i = 0; i < n; i++) {
		struct virtq_desc d = {
			at, len[i],
			(uint16_t)((write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
			(uint16_t)(head + i + 1),
		};

		memcpy(F->fv.ram + q->desc + 16 * (head + i), &d, sizeof(d));
		at += len[i];
	}
	memcpy(F->fv.ram + q->avail + 4 + 2 * (q->avail_idx % QSIZE), &head, 2);
	q->avail_idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(F->fv.ram + q->avail + 2, &q->avail_idx, 2);
	mmio_write(0x3000 + 4 * q->index, 0, 2);
	return head;
}

static uint8_t *slot(const struct drvq *q, uint16_t head)
{
	return F->fv.ram + q->buf + (gpa_t)(head / 4) * 0x1000;
}

static void fill_frame(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* What Linux's driver checks before it takes the device. */
static void test_config(void **state)
{
	uint64_t f;

	assert_int_equal(cfg_read(PCI_CFG_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_read(PCI_CFG_DEVICE_ID, 2), 0x1041);
	assert_int_equal(cfg_read(PCI_CFG_REVISION, 4) >> 8, 0x020000);
	cfg_write(PCI_CFG_BAR0, BAR, 4);
	cfg_write(PCI_CFG_COMMAND, PCI_CMD_MEM, 2);
	f = offered_features();
	assert_true(f & VIRTIO_F_VERSION_1);
	assert_true(f & VIRTIO_NET_F_MAC);
	assert_true(f & VIRTIO_NET_F_STATUS);
	/* No offloads (CSUM 0, GUEST_CSUM 1, TSO and UFO 6-14), no MRG_RXBUF (15), no control queue (17). */
	assert_int_equal(f & 0x2ffffu, VIRTIO_NET_F_MAC);
	assert_int_equal(mmio_read(0x12, 2), 2); /* num_queues */
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(mmio_read(0x2000 + i, 1), mac[i]);
	assert_int_equal(mmio_read(0x2006, 2), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(mmio_read(0x2008, 4), 1); /* max_virtqueue_pairs, and nothing after */
}

/* A frame split over three descriptors, the header sharing one with it. */
static void test_transmit(void **state)
{
	struct drvq *q = &F->q[VIRTIO_NET_TX];
	uint8_t frame[1514], got[2048];
	const uint32_t len[3] = { HDR + 100, 1000, sizeof(frame) - 1100 };
	uint16_t head;

	driver_init(FEATURES);
	fill_frame(frame, sizeof(frame), 3);
	head = (uint16_t)((q->avail_idx % SLOTS) * 4);
	memset(slot(q, head), 0, HDR);
	memcpy(slot(q, head) + HDR, frame, sizeof(frame));
	assert_int_equal(submit(q, len, 3, false), head);
	assert_true(wait_vector(2, 5000));
	assert_int_equal(used_idx(q), 1);
	assert_int_equal(used_elem(q, 0).id, head);
	assert_int_equal(used_elem(q, 0).len, 0);
	assert_int_equal(recv(F->host, got, sizeof(got), MSG_DONTWAIT), sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	assert_int_equal(F->fv.vm.own_stats.net_tx_packets, 1);
	assert_int_equal(F->fv.vm.own_stats.net_tx_bytes, sizeof(frame));
	/* Shorter than an Ethernet header: dropped, the chain completed all the same. */
	const uint32_t tiny[1] = { HDR + 10 };

	submit(q, tiny, 1, false);
	assert_true(wait_used(q, 2));
	assert_int_equal(recv(F->host, got, sizeof(got), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(net_count(&F->net->tx_dropped), 1);
}

/* One frame into a one-descriptor buffer, another into a header and a data descriptor. */
static void test_receive(void **state)
{
	struct drvq *q = &F->q[VIRTIO_NET_RX];
	const uint32_t one[1] = { HDR + 1518 }, two[2] = { HDR, 1518 };
	uint8_t frame[60], hdr[HDR] = { [10] = 1 };
	uint16_t h1, h2;

	driver_init(FEATURES);
	h1 = submit(q, one, 1, true);
	memset(slot(q, h1), 0xee, HDR + 1518);
	fill_frame(frame, sizeof(frame), 9);
	assert_int_equal(send(F->host, frame, sizeof(frame), 0), sizeof(frame));
	assert_true(wait_vector(1, 5000));
	assert_int_equal(used_idx(q), 1);
	assert_int_equal(used_elem(q, 0).id, h1);
	assert_int_equal(used_elem(q, 0).len, HDR + sizeof(frame));
	assert_memory_equal(slot(q, h1), hdr, HDR);
	assert_memory_equal(slot(q, h1) + HDR, frame, sizeof(frame));
	assert_int_equal(slot(q, h1)[HDR + sizeof(frame)], 0xee);

	h2 = submit(q, two, 2, true);
	memset(slot(q, h2), 0xee, HDR + 1518);
	fill_frame(frame, sizeof(frame), 11);
	assert_int_equal(send(F->host, frame, sizeof(frame), 0), sizeof(frame));
	assert_true(wait_used(q, 2));
	assert_int_equal(used_elem(q, 1).id, h2);
	assert_int_equal(used_elem(q, 1).len, HDR + sizeof(frame));
	assert_memory_equal(slot(q, h2), hdr, HDR);
	assert_memory_equal(slot(q, h2) + HDR, frame, sizeof(frame));
	assert_int_equal(F->fv.vm.own_stats.net_rx_packets, 2);
	assert_int_equal(F->fv.vm.own_stats.net_rx_bytes, 2 * sizeof(frame));
}

/* A frame longer than the buffer is dropped; the buffer takes the next one. */
static void test_receive_too_long(void **state)
{
	struct drvq *q = &F->q[VIRTIO_NET_RX];
	const uint32_t small[1] = { HDR + 100 };
	uint8_t big[200], frame[80];
	uint16_t head;

	driver_init(FEATURES);
	head = submit(q, small, 1, true);
	fill_frame(big, sizeof(big), 1);
	fill_frame(frame, sizeof(frame), 2);
	assert_int_equal(send(F->host, big, sizeof(big), 0), sizeof(big));
	for (int i = 0; i < 5000 && !net_count(&F->net->rx_dropped); i++)
		usleep(1000);
	assert_int_equal(net_count(&F->net->rx_dropped), 1);
	assert_int_equal(used_idx(q), 0);
	assert_int_equal(send(F->host, frame, sizeof(frame), 0), sizeof(frame));
	assert_true(wait_used(q, 1));
	assert_int_equal(used_elem(q, 0).id, head);
	assert_int_equal(used_elem(q, 0).len, HDR + sizeof(frame));
	assert_memory_equal(slot(q, head) + HDR, frame, sizeof(frame));
	assert_false(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
}

/* Transmit chains that are no frame: no header, or past the longest frame. */
static void test_bad_transmit_chain(void **state)
{
	struct drvq *q = &F->q[VIRTIO_NET_TX];
	const uint32_t shorter[1] = { HDR - 1 };
	const uint32_t longer[4] = { HDR + 0x4000, 0x4000, 0x4000, 0x4000 + 15 };
	uint8_t got[16];

	driver_init(FEATURES);
	submit(q, shorter, 1, false);
	assert_true(wait_vector(0, 5000));
	assert_true(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(q), 0);
	/* Reset, and the same with 65551 bytes after the header. */
	driver_init(FEATURES);
	assert_false(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	submit(q, longer, 4, false);
	assert_true(wait_vector(0, 5000));
	assert_true(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(recv(F->host, got, sizeof(got), MSG_DONTWAIT), -1);
}

/* A receive chain the device may not write, or with no room for the header. */
static void test_bad_receive_chain(void **state)
{
	struct drvq *q = &F->q[VIRTIO_NET_RX];
	const uint32_t len[1] = { HDR + 1518 }, tiny[1] = { HDR - 2 };
	uint8_t frame[60] = { 0 };

	driver_init(FEATURES);
	submit(q, len, 1, false); /* readable */
	assert_int_equal(send(F->host, frame, sizeof(frame), 0), sizeof(frame));
	assert_true(wait_vector(0, 5000));
	assert_true(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(q), 0);
	driver_init(FEATURES);
	submit(q, tiny, 1, true);
	assert_true(wait_vector(0, 5000));
	assert_true(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* A broken device is not watched: the frame waits, read by no one. */
	for (int i = 0; i < 1000 && net_flag(&F->net->watching); i++)
		usleep(1000);
	assert_false(net_flag(&F->net->watching));
	/* After a reset and a good buffer, that frame arrives. */
	driver_init(FEATURES);
	submit(q, len, 1, true);
	assert_true(wait_used(q, 1));
	assert_int_equal(used_elem(q, 0).len, HDR + sizeof(frame));
}

static uint64_t thread_cpu_ns(pthread_t t)
{
	clockid_t id;
	struct timespec ts;

	assert_int_equal(pthread_getcpuclockid(t, &id), 0);
	assert_int_equal(clock_gettime(id, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* No receive buffers and frames waiting: the I/O thread sleeps until the driver posts one. */
static void test_no_buffers_no_spin(void **state)
{
	struct drvq *q = &F->q[VIRTIO_NET_RX];
	const uint32_t len[1] = { HDR + 1518 };
	uint8_t frame[100];
	uint64_t t0, t1;

	driver_init(FEATURES);
	submit(q, len, 1, true);
	for (unsigned i = 0; i < 4; i++) {
		fill_frame(frame, sizeof(frame), (uint8_t)i);
		assert_int_equal(send(F->host, frame, sizeof(frame), 0), sizeof(frame));
	}
	assert_true(wait_used(q, 1));
	/* The ring is dry, three frames wait: no longer watched. */
	for (int i = 0; i < 1000 && net_flag(&F->net->watching); i++)
		usleep(1000);
	assert_false(net_flag(&F->net->watching));
	t0 = thread_cpu_ns(F->net->vp->thread);
	usleep(300000);
	t1 = thread_cpu_ns(F->net->vp->thread);
	assert_true(t1 - t0 < 20000000ull); /* under 7% of a CPU; a spinning thread takes all */
	/* A buffer, notified: the next waiting frame, in order. */
	uint16_t head = submit(q, len, 1, true);

	assert_true(wait_used(q, 2));
	fill_frame(frame, sizeof(frame), 1);
	assert_memory_equal(slot(q, head) + HDR, frame, sizeof(frame));
	assert_int_equal(net_count(&F->net->rx_dropped), 0);
}

/* A back end that takes no more: frames dropped and counted, every chain completed. */
static void test_transmit_drops_when_full(void **state)
{
	struct drvq *q = &F->q[VIRTIO_NET_TX];
	const uint32_t len[1] = { HDR + 1514 };
	uint16_t done = 0;
	uint64_t sent, dropped;
	uint8_t got[2048];
	unsigned n = 0;

	driver_init(FEATURES);
	/* 1024 frames, nobody reading: more than an AF_UNIX socket holds. */
	for (unsigned batch = 0; batch < 1024 / SLOTS; batch++) {
		for (unsigned i = 0; i < SLOTS; i++)
			submit(q, len, 1, false);
		done = (uint16_t)(done + SLOTS);
		assert_true(wait_used(q, done));
	}
	sent = F->fv.vm.own_stats.net_tx_packets;
	dropped = net_count(&F->net->tx_dropped);
	assert_int_equal(sent + dropped, 1024);
	assert_true(dropped > 0);
	while (recv(F->host, got, sizeof(got), MSG_DONTWAIT) == 1514)
		n++;
	assert_int_equal(n, sent);
	/* Read, so there is room again: the next frame goes through. */
	submit(q, len, 1, false);
	assert_true(wait_used(q, (uint16_t)(done + 1)));
	assert_int_equal(recv(F->host, got, sizeof(got), MSG_DONTWAIT), 1514);
}

/* The back end closes (its helper ended): said once, not watched again, no spinning. */
static void test_backend_closed(void **state)
{
	struct drvq *q = &F->q[VIRTIO_NET_RX];
	const uint32_t len[1] = { HDR + 1518 };
	uint64_t t0, t1;

	driver_init(FEATURES);
	submit(q, len, 1, true);
	close(F->host);
	F->host = -1;
	for (int i = 0; i < 5000 && !net_flag(&F->net->backend_gone); i++)
		usleep(1000);
	assert_true(net_flag(&F->net->backend_gone));
	assert_false(net_flag(&F->net->watching));
	t0 = thread_cpu_ns(F->net->vp->thread);
	submit(q, len, 1, true);
	usleep(200000);
	t1 = thread_cpu_ns(F->net->vp->thread);
	assert_true(t1 - t0 < 20000000ull);
	assert_int_equal(used_idx(q), 0);
	assert_false(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_transmit_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_receive_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_buffers_no_spin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_drops_when_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_closed, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio_net", tests, NULL, NULL);
}

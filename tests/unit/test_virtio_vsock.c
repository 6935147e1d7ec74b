/*
 * virtio-vsock (devices/virtio/vsock.c) behind its PCI transport, driven
 * as Linux's virtio_transport drives it: the three queues in fake guest
 * RAM, the device's own I/O thread serving them and watching the host
 * sockets, which are real Unix sockets in a directory of the test's.
 * KVM's part is replaced at link time (--wrap), as in test_virtio_pci.
 *
 * Checked: a guest's connection to a port with a listening socket gets
 * RESPONSE and data both ways, and ends with an RST after its SHUTDOWN;
 * to a port without one, an RST; a host program's CONNECT line reaches
 * the guest as a REQUEST and gets "OK <port>" once the guest answers;
 * bad headers get an RST, or are dropped (wrong CID), and a chain too
 * short for a header puts the device in NEEDS_RESET; and the device
 * never sends more than the guest's buf_alloc allows.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/vsock_unix.h"
#include "devices/legacy/pci.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/vsock.h"
#include "fake_vm.h"
#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/irq.h"

/* ---- KVM's side, left out -------------------------------------------------- */

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

/* ---- the machine and the driver ------------------------------------------- */

#define RAM (1u << 20)
#define BAR 0xc0000000u
#define DEVNUM 23u
#define QSIZE 16u
#define CID 42u
#define RXBUF (44u + 4096u)
#define RX_BUFS 0x40000u
#define TX_BUFS 0x80000u
#define HOST_PORT 1234u

struct drvq {
	gpa_t desc, avail, used;
	uint16_t avail_idx, used_seen;
};

struct fixture {
	struct fake_vm fv;
	struct pci_bus *bus;
	struct vsock_unix host;
	struct virtio_vsock *vs;
	char dir[40], path[64], port_path[80];
	int port_listen; /* listening at PATH_1234 */
	struct drvq q[3];
	unsigned tx_next;
};

static struct fixture *F;

static void cfg_write(unsigned reg, uint32_t v, unsigned size)
{
	fake_vm_out(&F->fv, 0xcf8, 0x80000000u | DEVNUM << 11 | (reg & 0xfc), 4);
	fake_vm_out(&F->fv, (uint16_t)(0xcfc + (reg & 3)), v, size);
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

static void ram_put(gpa_t gpa, const void *src, size_t n)
{
	memcpy(F->fv.ram + gpa, src, n);
}

static uint16_t used_idx(unsigned q)
{
	return __atomic_load_n((uint16_t *)(F->fv.ram + F->q[q].used + 2), __ATOMIC_ACQUIRE);
}

static void make_avail(unsigned q, uint16_t head)
{
	struct drvq *d = &F->q[q];

	ram_put(d->avail + 4 + 2 * (d->avail_idx % QSIZE), &head, 2);
	d->avail_idx++;
	__atomic_store_n((uint16_t *)(F->fv.ram + d->avail + 2), d->avail_idx, __ATOMIC_RELEASE);
	mmio_write(0x3000 + 4 * q, q, 2);
}

/* Receive buffer i: descriptor i of queue 0, one writable buffer of RXBUF bytes. */
static void rx_post(uint16_t i)
{
	struct virtq_desc d = { RX_BUFS + 0x2000u * i, RXBUF, VIRTQ_DESC_F_WRITE, 0 };

	ram_put(F->q[0].desc + 16u * i, &d, sizeof(d));
	make_avail(VIRTIO_VSOCK_RX, i);
}

/* Linux's order (virtio 1.2 §3.1.1): features, then the three queues. */
static void driver_init(unsigned nr_rx)
{
	uint64_t features;

	cfg_write(PCI_CFG_BAR0, BAR, 4);
	cfg_write(PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER, 2);
	mmio_write(0x14, 0, 1);
	mmio_write(0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	mmio_write(0x00, 0, 4);
	features = mmio_read(0x04, 4);
	mmio_write(0x00, 1, 4);
	features |= mmio_read(0x04, 4) << 32;
	assert_true(features & VIRTIO_F_VERSION_1);
	mmio_write(0x08, 0, 4);
	mmio_write(0x0c, (uint32_t)features, 4);
	mmio_write(0x08, 1, 4);
	mmio_write(0x0c, features >> 32, 4);
	mmio_write(0x14, 0x0b, 1);
	assert_int_equal(mmio_read(0x12, 2), 3);
	for (unsigned q = 0; q < 3; q++) {
		struct drvq *d = &F->q[q];

		*d = (struct drvq){ .desc = 0x10000u * (q + 1) };
		d->avail = d->desc + 0x1000;
		d->used = d->desc + 0x2000;
		memset(F->fv.ram + d->desc, 0, 0x3000);
		mmio_write(0x16, q, 2);
		assert_int_equal(mmio_read(0x18, 2), VIRTIO_VSOCK_QUEUE_SIZE);
		mmio_write(0x18, QSIZE, 2);
		mmio_write(0x20, d->desc, 4);
		mmio_write(0x24, 0, 4);
		mmio_write(0x28, d->avail, 4);
		mmio_write(0x2c, 0, 4);
		mmio_write(0x30, d->used, 4);
		mmio_write(0x34, 0, 4);
		mmio_write(0x1c, 1, 2);
		assert_int_equal(mmio_read(0x1c, 2), 1);
	}
	mmio_write(0x14, 0x0f, 1);
	F->tx_next = 0;
	for (uint16_t i = 0; i < nr_rx; i++)
		rx_post(i);
}

struct pkt {
	struct virtio_vsock_hdr h;
	uint8_t data[4096];
};

/* The next packet the device sent the guest, within `ms`; false if none. The buffer goes back. */
static bool rx_next(struct pkt *p, int ms)
{
	struct drvq *d = &F->q[0];
	struct virtq_used_elem e;

	for (int t = 0; used_idx(0) == d->used_seen; t++) {
		if (t >= ms)
			return false;
		usleep(1000);
	}
	memcpy(&e, F->fv.ram + d->used + 4 + 8 * (d->used_seen % QSIZE), sizeof(e));
	d->used_seen++;
	assert_true(e.id < QSIZE);
	assert_true(e.len >= 44 && e.len <= RXBUF);
	memcpy(&p->h, F->fv.ram + RX_BUFS + 0x2000u * e.id, 44);
	assert_int_equal(e.len, 44 + p->h.len);
	memcpy(p->data, F->fv.ram + RX_BUFS + 0x2000u * e.id + 44, p->h.len);
	assert_int_equal(p->h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(p->h.dst_cid, CID);
	assert_int_equal(p->h.type, VIRTIO_VSOCK_TYPE_STREAM);
	rx_post((uint16_t)e.id);
	return true;
}

static void rx_expect(struct pkt *p, uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	assert_true(rx_next(p, 5000));
	assert_int_equal(p->h.op, op);
	assert_int_equal(p->h.src_port, src_port);
	assert_int_equal(p->h.dst_port, dst_port);
}

/* Sends raw bytes as one transmit chain (header and payload in two buffers), and waits until taken. */
static void tx_raw_wait(const void *buf, uint32_t len, uint32_t split, bool wait)
{
	struct drvq *d = &F->q[1];
	uint16_t head = (uint16_t)(2 * (F->tx_next++ % (QSIZE / 2)));
	gpa_t at = TX_BUFS + 0x2000u * head;
	struct virtq_desc desc[2] = {
		{ at, split, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1) },
		{ at + split, len - split, 0, 0 },
	};
	uint16_t want = (uint16_t)(d->used_seen + 1);

	ram_put(at, buf, len);
	if (split == len) {
		desc[0].flags = 0;
		ram_put(d->desc + 16u * head, desc, sizeof(desc[0]));
	} else {
		ram_put(d->desc + 16u * head, desc, sizeof(desc));
	}
	make_avail(VIRTIO_VSOCK_TX, head);
	for (int t = 0; wait && used_idx(1) != want; t++) {
		assert_true(t < 5000);
		usleep(1000);
	}
	if (wait)
		d->used_seen = want;
}

static void tx_raw(const void *buf, uint32_t len, uint32_t split)
{
	tx_raw_wait(buf, len, split, true);
}

static void tx_flags(uint16_t op, uint32_t flags, uint32_t src_port, uint32_t dst_port,
		     const void *data, uint32_t len, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct pkt p = {
		.h = { .src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = src_port,
		       .dst_port = dst_port, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM,
		       .op = op, .flags = flags, .buf_alloc = buf_alloc, .fwd_cnt = fwd_cnt },
	};

	if (len)
		memcpy(p.data, data, len);
	tx_raw(&p, 44 + len, 44);
}

static void tx(uint16_t op, uint32_t src_port, uint32_t dst_port, const void *data, uint32_t len,
	       uint32_t buf_alloc, uint32_t fwd_cnt)
{
	tx_flags(op, 0, src_port, dst_port, data, len, buf_alloc, fwd_cnt);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int setup(void **state)
{
	F = calloc(1, sizeof(*F));
	assert_non_null(F);
	assert_int_equal(fake_vm_init(&F->fv, RAM), 0);
	assert_int_equal(pci_create(&F->fv.vm, NULL, &F->bus), 0);
	strcpy(F->dir, "/tmp/shale-test-vsock.XXXXXX");
	assert_non_null(mkdtemp(F->dir));
	snprintf(F->path, sizeof(F->path), "%s/v.sock", F->dir);
	snprintf(F->port_path, sizeof(F->port_path), "%s_%u", F->path, HOST_PORT);
	assert_int_equal(vsock_unix_open(&F->host, F->path, "--vsock"), 0);
	F->port_listen = unix_listen(F->port_path);
	assert_int_equal(virtio_vsock_create(&F->fv.vm, F->bus, DEVNUM, CID, &F->host, &F->vs), 0);
	assert_int_equal(virtio_vsock_start(F->vs), 0);
	driver_init(QSIZE);
	*state = F;
	return 0;
}

static int teardown(void **state)
{
	pci_destroy(F->bus);
	virtio_vsock_destroy(F->vs);
	vsock_unix_close(&F->host);
	close(F->port_listen);
	unlink(F->port_path);
	assert_int_equal(rmdir(F->dir), 0); /* PATH is gone too */
	fake_vm_destroy(&F->fv);
	free(F);
	return 0;
}

/* The guest's CID, in the device configuration. */
static void test_config(void **state)
{
	assert_int_equal(mmio_read(0x2000, 8), CID);
	assert_int_equal(mmio_read(0x2000, 4), CID);
}

/* Guest to host port 1234: RESPONSE, data both ways, SHUTDOWN answered by RST. */
static void test_guest_connect(void **state)
{
	struct pkt p;
	char buf[16];
	int fd;

	tx(VIRTIO_VSOCK_OP_REQUEST, 5000, HOST_PORT, NULL, 0, 65536, 0);
	rx_expect(&p, VIRTIO_VSOCK_OP_RESPONSE, HOST_PORT, 5000);
	assert_int_equal(p.h.buf_alloc, VSOCK_CONN_BUF);
	assert_int_equal(p.h.fwd_cnt, 0);
	assert_true(readable(F->port_listen, 5000));
	fd = accept(F->port_listen, NULL, NULL);
	assert_true(fd >= 0);

	tx(VIRTIO_VSOCK_OP_RW, 5000, HOST_PORT, "hello", 5, 65536, 0);
	assert_true(readable(fd, 5000));
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);

	assert_int_equal(write(fd, "world!", 6), 6);
	rx_expect(&p, VIRTIO_VSOCK_OP_RW, HOST_PORT, 5000);
	assert_int_equal(p.h.len, 6);
	assert_memory_equal(p.data, "world!", 6);
	assert_int_equal(p.h.fwd_cnt, 5); /* the guest's 5 bytes reached the socket */

	/* The host's half-close: SHUTDOWN SEND only, and the guest may still send. */
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	rx_expect(&p, VIRTIO_VSOCK_OP_SHUTDOWN, HOST_PORT, 5000);
	assert_int_equal(p.h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx(VIRTIO_VSOCK_OP_RW, 5000, HOST_PORT, "more", 4, 65536, 6);
	assert_true(readable(fd, 5000));
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "more", 4);
	/* The guest is done sending: the host sees EOF. */
	tx_flags(VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 5000, HOST_PORT, NULL, 0,
		 65536, 6);
	assert_true(readable(fd, 5000));
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	/* Both ways: the device closes the socket and answers RST, as Linux waits for. */
	tx_flags(VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND,
		 5000, HOST_PORT, NULL, 0, 65536, 6);
	rx_expect(&p, VIRTIO_VSOCK_OP_RST, HOST_PORT, 5000);
	close(fd);
	/* Gone: data for it now gets an RST. */
	tx(VIRTIO_VSOCK_OP_RW, 5000, HOST_PORT, "x", 1, 65536, 6);
	rx_expect(&p, VIRTIO_VSOCK_OP_RST, HOST_PORT, 5000);
	assert_false(rx_next(&p, 100));
}

/* Nothing listens at PATH_999: RST. */
static void test_guest_connect_refused(void **state)
{
	struct pkt p;

	tx(VIRTIO_VSOCK_OP_REQUEST, 5001, 999, NULL, 0, 65536, 0);
	rx_expect(&p, VIRTIO_VSOCK_OP_RST, 999, 5001);
	assert_false(rx_next(&p, 100));
}

/* A host program: CONNECT 77 -> REQUEST; the guest's RESPONSE -> "OK <port>"; then data. */
static void test_host_connect(void **state)
{
	struct pkt p;
	char buf[64], want[64];
	uint32_t port;
	int fd = unix_connect(F->path), n;

	/* The line and the first data in one write: the data is not lost. */
	assert_int_equal(write(fd, "CONNECT 77\nping", 15), 15);
	assert_true(rx_next(&p, 5000));
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.h.dst_port, 77);
	port = p.h.src_port;
	assert_true(port >= 1u << 30);
	assert_int_equal(p.h.buf_alloc, VSOCK_CONN_BUF);
	assert_false(readable(fd, 100)); /* no OK before the guest answers */
	tx(VIRTIO_VSOCK_OP_RESPONSE, 77, port, NULL, 0, 65536, 0);
	assert_true(readable(fd, 5000));
	n = snprintf(want, sizeof(want), "OK %u\n", port);
	assert_int_equal(read(fd, buf, (size_t)n), n);
	assert_memory_equal(buf, want, (size_t)n);
	rx_expect(&p, VIRTIO_VSOCK_OP_RW, port, 77);
	assert_int_equal(p.h.len, 4);
	assert_memory_equal(p.data, "ping", 4);
	tx(VIRTIO_VSOCK_OP_RW, 77, port, "pong", 4, 65536, 4);
	assert_true(readable(fd, 5000));
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
	/* The program hangs up: SHUTDOWN both ways (POLLHUP); the guest's RST ends it. */
	close(fd);
	rx_expect(&p, VIRTIO_VSOCK_OP_SHUTDOWN, port, 77);
	assert_int_equal(p.h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx(VIRTIO_VSOCK_OP_RST, 77, port, NULL, 0, 65536, 4);
	/* Another; the guest resets it: the host sees EOF. */
	fd = unix_connect(F->path);
	assert_int_equal(write(fd, "CONNECT 77\n", 11), 11);
	assert_true(rx_next(&p, 5000));
	port = p.h.src_port;
	tx(VIRTIO_VSOCK_OP_RESPONSE, 77, port, NULL, 0, 65536, 0);
	assert_true(readable(fd, 5000));
	n = snprintf(want, sizeof(want), "OK %u\n", port);
	assert_int_equal(read(fd, buf, (size_t)n), n);
	tx(VIRTIO_VSOCK_OP_RST, 77, port, NULL, 0, 65536, 0);
	assert_true(readable(fd, 5000));
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);

	/* A port nobody listens on in the guest: RST, and the host gets no OK. */
	fd = unix_connect(F->path);
	assert_int_equal(write(fd, "CONNECT 78\n", 11), 11);
	assert_true(rx_next(&p, 5000));
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	tx(VIRTIO_VSOCK_OP_RST, 78, p.h.src_port, NULL, 0, 0, 0);
	assert_true(readable(fd, 5000));
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);

	/* The program gives up before the guest answers: the guest gets an RST. */
	fd = unix_connect(F->path);
	assert_int_equal(write(fd, "CONNECT 79\n", 11), 11);
	assert_true(rx_next(&p, 5000));
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	port = p.h.src_port;
	close(fd);
	rx_expect(&p, VIRTIO_VSOCK_OP_RST, port, 79);

	/* Not a CONNECT line: closed, and the guest hears nothing. */
	fd = unix_connect(F->path);
	assert_int_equal(write(fd, "HELLO 1\n", 8), 8);
	assert_true(readable(fd, 5000));
	n = (int)read(fd, buf, sizeof(buf));
	assert_true(n >= 0 && (n == 0 || !memcmp(buf, "ERROR", 5)));
	close(fd);
	assert_false(rx_next(&p, 100));
}

/* Packets that break the protocol: RST, or dropped for a wrong CID. */
static void test_bad_headers(void **state)
{
	struct pkt p = {
		.h = { .src_cid = CID + 1, .dst_cid = VSOCK_HOST_CID, .src_port = 6000,
		       .dst_port = HOST_PORT, .type = VIRTIO_VSOCK_TYPE_STREAM,
		       .op = VIRTIO_VSOCK_OP_REQUEST, .buf_alloc = 65536 },
	};
	struct pkt r;

	/* Another guest's CID, or not to the host: dropped, no connection made. */
	tx_raw(&p.h, 44, 44);
	p.h.src_cid = CID;
	p.h.dst_cid = 7;
	tx_raw(&p.h, 44, 44);
	assert_false(rx_next(&r, 200));
	assert_false(readable(F->port_listen, 0));
	assert_int_equal(F->vs->stats.dropped, 2);
	/* A datagram type: RST. */
	p.h.dst_cid = VSOCK_HOST_CID;
	p.h.type = 2;
	tx_raw(&p.h, 44, 44);
	rx_expect(&r, VIRTIO_VSOCK_OP_RST, HOST_PORT, 6000);
	/* An unknown op: RST. */
	p.h.type = VIRTIO_VSOCK_TYPE_STREAM;
	p.h.op = 42;
	tx_raw(&p.h, 44, 44);
	rx_expect(&r, VIRTIO_VSOCK_OP_RST, HOST_PORT, 6000);
	/* A connection, then data longer than the chain: that connection is reset. */
	tx(VIRTIO_VSOCK_OP_REQUEST, 6000, HOST_PORT, NULL, 0, 65536, 0);
	rx_expect(&r, VIRTIO_VSOCK_OP_RESPONSE, HOST_PORT, 6000);
	int fd = accept(F->port_listen, NULL, NULL);

	assert_true(fd >= 0);
	p.h.op = VIRTIO_VSOCK_OP_RW;
	p.h.len = 100;
	memcpy(p.data, "0123456789", 10);
	tx_raw(&p, 44 + 10, 44);
	rx_expect(&r, VIRTIO_VSOCK_OP_RST, HOST_PORT, 6000);
	assert_true(readable(fd, 5000));
	char c;

	assert_int_equal(read(fd, &c, 1), 0); /* closed, nothing passed on */
	close(fd);
	/* A payload on a REQUEST, and one beyond the largest packet: RST. */
	p.h.op = VIRTIO_VSOCK_OP_REQUEST;
	p.h.len = 4;
	tx_raw(&p, 44 + 4, 44);
	rx_expect(&r, VIRTIO_VSOCK_OP_RST, HOST_PORT, 6000);
	p.h.op = VIRTIO_VSOCK_OP_RW;
	p.h.len = VSOCK_MAX_PAYLOAD + 1;
	tx_raw(&p, 44 + 10, 44);
	rx_expect(&r, VIRTIO_VSOCK_OP_RST, HOST_PORT, 6000);
	assert_false(readable(F->port_listen, 0));
	assert_false(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);

	/* A chain shorter than a header: the device needs a reset... */
	tx_raw_wait(&p.h, 20, 20, false);
	for (int t = 0; !(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET); t++) {
		assert_true(t < 5000);
		usleep(1000);
	}
	/* ...and works again after one. */
	driver_init(QSIZE);
	assert_false(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	tx(VIRTIO_VSOCK_OP_REQUEST, 6001, 999, NULL, 0, 65536, 0);
	rx_expect(&r, VIRTIO_VSOCK_OP_RST, 999, 6001);
}

/* A receive buffer too small for a header breaks the device; connections are closed. */
static void test_small_rx_buffer(void **state)
{
	struct virtq_desc d = { RX_BUFS, 20, VIRTQ_DESC_F_WRITE, 0 };
	struct pkt r;
	int fd;

	tx(VIRTIO_VSOCK_OP_REQUEST, 7000, HOST_PORT, NULL, 0, 65536, 0);
	rx_expect(&r, VIRTIO_VSOCK_OP_RESPONSE, HOST_PORT, 7000);
	fd = accept(F->port_listen, NULL, NULL);
	assert_true(fd >= 0);
	/* Every buffer but one is taken, then the guest posts a bad one. */
	driver_init(0);
	ram_put(F->q[0].desc, &d, sizeof(d));
	make_avail(VIRTIO_VSOCK_RX, 0);
	tx(VIRTIO_VSOCK_OP_REQUEST, 7001, 999, NULL, 0, 65536, 0);
	for (int t = 0; !(mmio_read(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET); t++) {
		assert_true(t < 5000);
		usleep(1000);
	}
	/* The earlier connection went with the driver's reset. */
	assert_true(readable(fd, 5000));
	assert_int_equal(read(fd, &d, 1), 0);
	close(fd);
}

/* The device sends no more than the guest's buf_alloc, asks for credit, and goes on when given. */
static void test_credit(void **state)
{
	static char big[20000];
	struct pkt p;
	uint32_t got = 0;
	int fd;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	tx(VIRTIO_VSOCK_OP_REQUEST, 8000, HOST_PORT, NULL, 0, 100, 0);
	rx_expect(&p, VIRTIO_VSOCK_OP_RESPONSE, HOST_PORT, 8000);
	fd = accept(F->port_listen, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, 1000), 1000);
	while (got < 100) {
		rx_expect(&p, VIRTIO_VSOCK_OP_RW, HOST_PORT, 8000);
		assert_memory_equal(p.data, big + got, p.h.len);
		got += p.h.len;
	}
	assert_int_equal(got, 100);
	rx_expect(&p, VIRTIO_VSOCK_OP_CREDIT_REQUEST, HOST_PORT, 8000);
	assert_false(rx_next(&p, 200));
	/* 60 bytes read by the guest's application: 60 more. */
	tx(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 8000, HOST_PORT, NULL, 0, 100, 60);
	while (got < 160) {
		rx_expect(&p, VIRTIO_VSOCK_OP_RW, HOST_PORT, 8000);
		assert_memory_equal(p.data, big + got, p.h.len);
		got += p.h.len;
	}
	assert_int_equal(got, 160);
	rx_expect(&p, VIRTIO_VSOCK_OP_CREDIT_REQUEST, HOST_PORT, 8000);
	assert_false(rx_next(&p, 200));
	/* A large buffer: the rest, no packet larger than a receive buffer. */
	tx(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 8000, HOST_PORT, NULL, 0, 1u << 20, 160);
	assert_int_equal(write(fd, big + 1000, sizeof(big) - 1000), sizeof(big) - 1000);
	while (got < sizeof(big)) {
		rx_expect(&p, VIRTIO_VSOCK_OP_RW, HOST_PORT, 8000);
		assert_true(p.h.len <= 4096);
		assert_memory_equal(p.data, big + got, p.h.len);
		got += p.h.len;
	}
	assert_false(rx_next(&p, 100));

	/* The guest's side: more than the 64 KiB it was given, unread by the host: RST. */
	static char chunk[4096];
	bool reset = false;

	for (unsigned i = 0; i < 200 && !reset; i++) {
		tx(VIRTIO_VSOCK_OP_RW, 8000, HOST_PORT, chunk, sizeof(chunk), 1u << 20, got);
		reset = rx_next(&p, 0) && p.h.op == VIRTIO_VSOCK_OP_RST;
	}
	/* The socket took what it could; the device held at most 64 KiB more. */
	while (!reset && rx_next(&p, 100))
		reset = p.h.op == VIRTIO_VSOCK_OP_RST;
	assert_true(reset);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_rx_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio_vsock", tests, NULL, NULL);
}

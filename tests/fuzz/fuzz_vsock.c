/*
 * virtio-vsock (devices/virtio/vsock.c) behind its PCI transport against
 * a guest that sends any packet, header and payload, and gives receive
 * buffers of any size, while host programs connect to PATH and write
 * CONNECT lines and data, and the echo server at PATH_1024 answers. Like
 * fuzz_vpci, the device is served in the harness's thread: the queues
 * with virtio_pci_serve(), the host sockets by a poll of the descriptors
 * the device watches and its host_event hook; KVM's routing is replaced
 * (-Wl,--wrap, fuzz.mk). The input is
 *
 *   then        operations, each an opcode byte (bits 0-2: what, bits
 *               3-7: an argument `a`):
 *
 *   0  guest    transmits a packet: 44 header bytes, a payload length
 *               byte n and n bytes; a bit 0: the CIDs made right, bit 1:
 *               type STREAM and len = n, bit 2: the header split over two
 *               descriptors at byte 20, bit 3: the chain is its first
 *               descriptor alone (20 or 44 bytes)
 *   1  guest    gives a % 8 + 1 receive buffers of 16 * (next byte) bytes
 *               (some smaller than a header), and the device serves them
 *   2  host     connects to PATH and writes "CONNECT <2 bytes>\n"
 *   3  host     a + 1 rounds of host events (accepting at PATH_1024, echoing)
 *   4  guest    writes a + 1 bytes at a RAM offset (2 bytes, times 16)
 *   5  guest    resets the device and sets it up again
 *   6  host     socket (next byte) of the harness's writes a * 64 bytes,
 *               or (a == 0) is closed
 *
 * Checked: nothing crashes or reads outside what it may (the sanitizers);
 * a device in NEEDS_RESET changes no byte of guest RAM; no connection
 * holds more than VSOCK_CONN_BUF bytes of the guest's, nor sends more
 * than the guest's credit (buf_alloc less what is in flight) while the
 * guest says nothing new; the device watches
 * no more descriptors than its cap; it leaves nothing on either bus.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/vsock_unix.h"
#include "devices/legacy/pci.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/vsock.h"
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

#define RAM 0x40000u
#define BAR 0xc0000000u
#define DEVNUM 23u
#define CID 3u
#define QSIZE 16u
#define ECHO_PORT 1024u
#define MAX_SOCKS 16u
/* Queue q's rings at 0x1000 * (3q + 1); buffers from 0x10000. */
#define RING(q) (0x1000u * (3u * (q) + 1u))
#define TX_BUF 0x10000u
#define RX_BUF 0x20000u

static _Alignas(4096) uint8_t ram[RAM], before[RAM];
static struct vm vm;
static struct vsock_unix host;
static char dir[64], echo_path[96];
static int echo_listen = -1;
/* The harness's own sockets: host programs at PATH, and what PATH_1024 accepted. */
static int socks[MAX_SOCKS];
static unsigned nr_socks;
static uint16_t avail_idx[2];

static void init(void)
{
	static char path[80]; /* kept by `host` */

	vm.kvm_fd = vm.vm_fd = -1;
	pthread_mutex_init(&vm.lock, NULL);
	iobus_init(&vm.pio);
	iobus_init(&vm.mmio);
	vm.unclaimed_io = VM_IO_IGNORE;
	vm.stats = &vm.own_stats;
	vm.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gmem_add_region(&vm.gmem, 0, RAM, ram))
		abort();
	strcpy(dir, "/tmp/shale-fuzz-vsock.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/v", dir);
	if (vsock_unix_open(&host, path, "fuzz"))
		abort();
	snprintf(echo_path, sizeof(echo_path), "%s_%u", path, ECHO_PORT);
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", echo_path);
	echo_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (echo_listen < 0 || bind(echo_listen, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(echo_listen, 64))
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

static void bar_w(uint32_t off, uint64_t v, unsigned size)
{
	uint8_t data[8];

	memcpy(data, &v, 8);
	FUZZ_CHECK(iobus_access(&vm.mmio, NULL, BAR + off, data, size, true) == 0);
}

static void cfg_w(uint8_t reg, uint32_t v, unsigned size)
{
	uint32_t addr = 0x80000000u | DEVNUM << 11 | reg;

	FUZZ_CHECK(iobus_access(&vm.pio, NULL, 0xcf8, (uint8_t *)&addr, 4, true) == 0);
	FUZZ_CHECK(iobus_access(&vm.pio, NULL, 0xcfc, (uint8_t *)&v, size, true) == 0);
}

static void driver_init(void)
{
	cfg_w(PCI_CFG_BAR0, BAR, 4);
	cfg_w(PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER, 2);
	bar_w(0x14, 0, 1);
	bar_w(0x14, 3, 1);
	bar_w(0x08, 0, 4);
	bar_w(0x0c, (uint32_t)VIRTIO_F_RING_INDIRECT_DESC, 4);
	bar_w(0x08, 1, 4);
	bar_w(0x0c, 1, 4);
	bar_w(0x14, 0x0b, 1);
	for (unsigned q = 0; q < 3; q++) {
		memset(ram + RING(q), 0, 0x3000);
		bar_w(0x16, q, 2);
		bar_w(0x18, QSIZE, 2);
		bar_w(0x20, RING(q), 8);
		bar_w(0x28, RING(q) + 0x1000, 8);
		bar_w(0x30, RING(q) + 0x2000, 8);
		bar_w(0x1c, 1, 2);
	}
	bar_w(0x14, 0x0f, 1);
	avail_idx[0] = avail_idx[1] = 0;
}

static void make_avail(unsigned q, uint16_t head)
{
	memcpy(ram + RING(q) + 0x1000 + 4 + 2 * (avail_idx[q] % QSIZE), &head, 2);
	avail_idx[q]++;
	memcpy(ram + RING(q) + 0x1000 + 2, &avail_idx[q], 2);
}

static bool broken(const struct virtio_vsock *vs)
{
	return vs->vp->status & VIRTIO_STATUS_NEEDS_RESET;
}

/* Serves queue q; a broken device may not touch guest RAM. */
static void serve(struct virtio_vsock *vs, unsigned q)
{
	bool was = broken(vs);

	memcpy(before, ram, RAM);
	virtio_pci_serve(vs->vp, q);
	if (was)
		FUZZ_CHECK(!memcmp(before, ram, RAM));
}

static void add_sock(int fd)
{
	if (nr_socks == MAX_SOCKS) {
		close(fd);
		return;
	}
	socks[nr_socks++] = fd;
}

/* The I/O thread's part, once: what is ready among the device's descriptors. */
static void host_round(struct virtio_vsock *vs)
{
	struct virtio_pci *vp = vs->vp;
	struct pollfd pfd[VIRTIO_PCI_MAX_HOST_FDS];
	unsigned n;
	bool was = broken(vs);
	int fd;

	while ((fd = accept4(echo_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		add_sock(fd);
	/* The echo: what a socket got goes back. */
	for (unsigned i = 0; i < nr_socks; i++) {
		char buf[512];
		ssize_t r = read(socks[i], buf, sizeof(buf));

		if (r > 0 && send(socks[i], buf, (size_t)r, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* full, or gone: dropped */
		}
	}
	pthread_mutex_lock(&vp->lock);
	n = vp->nr_host_fds;
	FUZZ_CHECK(n <= VSOCK_MAX_CONNS + 1);
	memcpy(pfd, vp->host_fd, n * sizeof(pfd[0]));
	pthread_mutex_unlock(&vp->lock);
	if (poll(pfd, n, 0) <= 0)
		return;
	memcpy(before, ram, RAM);
	for (unsigned i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		pthread_mutex_lock(&vp->lock);
		for (unsigned j = 0; j < vp->nr_host_fds; j++)
			if (vp->host_fd[j].fd == pfd[i].fd && (vp->host_fd[j].events & pfd[i].events)) {
				vp->ops->host_event(vp, pfd[i].fd, pfd[i].revents);
				break;
			}
		pthread_mutex_unlock(&vp->lock);
	}
	if (was)
		FUZZ_CHECK(!memcmp(before, ram, RAM));
}

/* What each connection may still send the guest, before an operation. */
static struct {
	uint32_t local, peer, tx_cnt, credit;
} snap[VSOCK_MAX_CONNS];

static void snapshot(const struct virtio_vsock *vs)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *c = &vs->conn[i];
		uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

		snap[i].local = c->local_port;
		snap[i].peer = c->peer_port;
		snap[i].tx_cnt = c->tx_cnt;
		snap[i].credit = c->state != VSOCK_CONNECTED || in_flight >= c->peer_buf_alloc ? 0 :
				 c->peer_buf_alloc - in_flight;
	}
}

/* After an operation that told the device nothing new of the guest's credit. */
static void check_credit(const struct virtio_vsock *vs)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *c = &vs->conn[i];

		if (c->state == VSOCK_CONNECTED && c->local_port == snap[i].local &&
		    c->peer_port == snap[i].peer && c->tx_cnt != snap[i].tx_cnt)
			FUZZ_CHECK(c->tx_cnt - snap[i].tx_cnt <= snap[i].credit);
	}
}

static void check(const struct virtio_vsock *vs)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *c = &vs->conn[i];

		if (c->state == VSOCK_FREE)
			continue;
		FUZZ_CHECK(c->fd >= 0 && c->buf);
		FUZZ_CHECK(c->buf_len <= VSOCK_CONN_BUF && c->buf_start < VSOCK_CONN_BUF);
		FUZZ_CHECK(c->line_len < VSOCK_LINE_MAX);
	}
	FUZZ_CHECK(vs->nr_rst <= VSOCK_MAX_RST);
}

static void guest_tx(struct virtio_vsock *vs, struct script *s, unsigned a)
{
	struct virtio_vsock_hdr h;
	uint8_t n;
	uint16_t head = (uint16_t)(2 * (avail_idx[1] % (QSIZE / 2)));
	uint32_t at = TX_BUF + 0x800u * (head / 2), split = (a & 4) ? 20 : 44;
	struct virtq_desc d[2] = {
		{ at, split, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1) },
		{ at + split, 0, 0, 0 },
	};

	if (!next_n(s, &h, sizeof(h)) || !next_n(s, &n, 1) || (size_t)(s->end - s->p) < n)
		return;
	if (a & 1) {
		h.src_cid = CID;
		h.dst_cid = VSOCK_HOST_CID;
	}
	if (a & 2) {
		h.type = VIRTIO_VSOCK_TYPE_STREAM;
		h.len = n;
	}
	memcpy(ram + at, &h, sizeof(h));
	memcpy(ram + at + sizeof(h), s->p, n);
	s->p += n;
	d[1].len = (uint32_t)sizeof(h) + n - split;
	if (a & 8)
		d[0].flags = 0;
	memcpy(ram + RING(1) + 16u * head, d, sizeof(d));
	make_avail(1, head);
	serve(vs, VIRTIO_VSOCK_TX);
}

static void guest_rx(struct virtio_vsock *vs, struct script *s, unsigned a)
{
	uint8_t size;

	if (!next_n(s, &size, 1))
		return;
	for (unsigned k = 0; k <= a % 8; k++) {
		uint16_t head = avail_idx[0] % QSIZE;
		struct virtq_desc d = { RX_BUF + 0x1000u * head, 16u * size, VIRTQ_DESC_F_WRITE, 0 };

		memcpy(ram + RING(0) + 16u * head, &d, sizeof(d));
		make_avail(0, head);
	}
	serve(vs, VIRTIO_VSOCK_RX);
}

static void host_connect(struct script *s)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint16_t port;
	char line[32];
	int fd, n;

	if (!next_n(s, &port, 2))
		return;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", host.path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return;
	}
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0) {
		/* refused: the device closed it */
	}
	add_sock(fd);
}

static void host_write(struct script *s, unsigned a)
{
	static char junk[31 * 64];
	uint8_t i;

	if (!next_n(s, &i, 1) || !nr_socks)
		return;
	i %= nr_socks;
	if (!a) {
		close(socks[i]);
		socks[i] = socks[--nr_socks];
		return;
	}
	memset(junk, 'x', sizeof(junk));
	if (send(socks[i], junk, 64u * a, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* full, or gone */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct script s = { data, data + size };
	struct pci_bus *bus;
	struct virtio_vsock *vs;
	uint8_t op;
	int fd;

	if (!ready) {
		init();
		ready = true;
	}
	memset(ram, 0, sizeof(ram));
	next_gsi = 0;
	if (pci_create(&vm, NULL, &bus) ||
	    virtio_vsock_create(&vm, bus, DEVNUM, CID, &host, &vs))
		abort();
	driver_init();

	while (next_n(&s, &op, 1)) {
		unsigned a = op >> 3;

		snapshot(vs);
		switch (op & 7) {
		case 0:
			guest_tx(vs, &s, a);
			break;
		case 1:
			guest_rx(vs, &s, a);
			break;
		case 2:
			host_connect(&s);
			break;
		case 3:
			for (unsigned k = 0; k <= a; k++)
				host_round(vs);
			break;
		case 4: {
			uint8_t buf[32];
			uint16_t off;

			if (!next_n(&s, &off, 2) || !next_n(&s, buf, a + 1))
				goto out;
			size_t at = (size_t)off * 16 % RAM;

			memcpy(ram + at, buf, MIN((size_t)a + 1, RAM - at));
			break;
		}
		case 5:
			driver_init();
			break;
		case 6:
			host_write(&s, a);
			break;
		default:
			break;
		}
		if ((op & 7) != 0 && (op & 7) != 5)
			check_credit(vs);
		check(vs);
	}
out:
	pci_destroy(bus);
	virtio_vsock_destroy(vs);
	while (nr_socks)
		close(socks[--nr_socks]);
	while ((fd = accept4(echo_listen, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	/* What the device's connections left at PATH's listener. */
	while ((fd = vsock_unix_accept(&host)) >= 0)
		close(fd);
	FUZZ_CHECK(vm.pio.nr == 0 && vm.mmio.nr == 0);
	return 0;
}

/*
 * virtio-vsock (virtio 1.2 §5.10): the device model. Packets from the
 * guest are taken from the transmit queue and answered through the
 * receive queue; host sockets are watched on the device's I/O thread
 * (virtio_pci_watch()). Control packets owed to the guest (RESPONSE,
 * RST, credit, SHUTDOWN) wait, bounded, until it gives receive buffers:
 * a flag per connection, and a small ring of RSTs for packets that had
 * none. Host sockets are read only while the guest has receive buffers
 * and credit for them, so a guest that stops reading stops the host
 * side, not the VMM.
 */
#include "devices/virtio/vsock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend/vsock_unix.h"
#include "devices/virtio/pci.h"
#include "util/util.h"
#include "vmm/vm.h"

#define VIRTIO_ID_VSOCK 19
#define VSOCK_CLASS 0x00ff00
#define VSOCK_CFG_SIZE 8 /* guest_cid, le64 (§5.10.4) */
#define HDR sizeof(struct virtio_vsock_hdr)
/* Host ports for host-initiated connections start here, as Firecracker's. */
#define VSOCK_FIRST_LOCAL_PORT (1u << 30)
/* Packets read from one host socket per wake-up: the others get their turn. */
#define VSOCK_READS_PER_EVENT 8u

/* Control packets owed, in the order they are sent. */
#define VSOCK_PEND_REQUEST 1u
#define VSOCK_PEND_RESPONSE 2u
#define VSOCK_PEND_CREDIT_UPDATE 4u
#define VSOCK_PEND_CREDIT_REQUEST 8u
#define VSOCK_PEND_SHUTDOWN 16u

static const struct {
	unsigned bit;
	uint16_t op;
} pend_ops[] = {
	{ VSOCK_PEND_REQUEST, VIRTIO_VSOCK_OP_REQUEST },
	{ VSOCK_PEND_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE },
	{ VSOCK_PEND_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_UPDATE },
	{ VSOCK_PEND_CREDIT_REQUEST, VIRTIO_VSOCK_OP_CREDIT_REQUEST },
	{ VSOCK_PEND_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN },
};

static bool live(const struct virtio_pci *vp)
{
	return (vp->status & VIRTIO_STATUS_DRIVER_OK) && !(vp->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* ---- connections ---------------------------------------------------------- */

static uint32_t credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	/* A guest that shrank its buffer, or claims more than it got, gets nothing. */
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* The events the I/O thread should watch the connection's socket for now. */
static void conn_watch(struct virtio_vsock *vs, struct vsock_conn *c)
{
	short ev = 0;

	if (c->state == VSOCK_LINE) {
		ev = POLLIN;
	} else if (c->state == VSOCK_REQUESTED) {
		ev = POLLRDHUP; /* the program gave up waiting for the guest */
	} else if (c->state == VSOCK_CONNECTED) {
		if (!c->host_eof && !c->peer_no_rcv && !vs->rx_starved &&
		    !(c->pending & VSOCK_PEND_RESPONSE) && credit(c))
			ev |= POLLIN;
		if (c->buf_len)
			ev |= POLLOUT;
	}
	if (ev == c->events)
		return;
	/* Every connection fits: VSOCK_MAX_CONNS + 1 < VIRTIO_PCI_MAX_HOST_FDS. */
	if (virtio_pci_watch(vs->vp, c->fd, ev))
		die("virtio-vsock: watching a connection");
	c->events = ev;
}

static void watch_all(struct virtio_vsock *vs)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vs->conn[i].state != VSOCK_FREE)
			conn_watch(vs, &vs->conn[i]);
}

static struct vsock_conn *conn_new(struct virtio_vsock *vs, int fd, enum vsock_conn_state state)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vs->conn[i];

		if (c->state != VSOCK_FREE)
			continue;
		*c = (struct vsock_conn){
			.state = state, .fd = fd, .buf = vs->bufs + (size_t)i * VSOCK_CONN_BUF,
		};
		return c;
	}
	return NULL;
}

static void conn_free(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->state == VSOCK_FREE)
		return;
	if (c->events)
		virtio_pci_watch(vs->vp, c->fd, 0);
	close(c->fd);
	/* Its pages go back; the range stays, for the next connection in this slot. */
	madvise(c->buf, VSOCK_CONN_BUF, MADV_DONTNEED);
	*c = (struct vsock_conn){ .state = VSOCK_FREE, .fd = -1 };
}

static void close_all(struct virtio_vsock *vs)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		conn_free(vs, &vs->conn[i]);
	vs->nr_rst = 0;
	vs->rx_held = false;
}

static struct vsock_conn *conn_find(struct virtio_vsock *vs, uint32_t local, uint32_t peer)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vs->conn[i];

		if (c->state >= VSOCK_REQUESTED && c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

/* An RST owed to the guest for (local, peer); dropped when too many are owed. */
static void rst_queue(struct virtio_vsock *vs, uint32_t local, uint32_t peer)
{
	if (vs->nr_rst == VSOCK_MAX_RST)
		return;
	vs->rst[vs->nr_rst].local = local;
	vs->rst[vs->nr_rst].peer = peer;
	vs->nr_rst++;
}

/* The device ends connection c: the socket is closed, the guest told. */
static void conn_reset(struct virtio_vsock *vs, struct vsock_conn *c)
{
	/* A REQUEST the guest never got needs no RST. */
	if (c->state >= VSOCK_REQUESTED && !(c->pending & VSOCK_PEND_REQUEST))
		rst_queue(vs, c->local_port, c->peer_port);
	conn_free(vs, c);
}

/* ---- the receive queue ------------------------------------------------------ */

/* The driver broke the device: nothing of it is kept. */
static void broken(struct virtio_vsock *vs, const char *why)
{
	close_all(vs);
	virtio_pci_needs_reset(vs->vp, why);
}

/* A receive buffer, or NULL: none (the device is starved), or the device broke. */
static struct virtq_chain *rx_get(struct virtio_vsock *vs)
{
	struct virtio_pci *vp = vs->vp;
	struct virtq *vq = &vp->vq[VIRTIO_VSOCK_RX];
	int ret;

	if (vs->rx_held)
		return &vs->rx_chain;
	if (!live(vp) || !vq->enabled) {
		vs->rx_starved = true;
		return NULL;
	}
	ret = virtq_pop(vq, &vp->vm->gmem, &vs->rx_chain);
	if (ret < 0) {
		broken(vs, vq->why);
		return NULL;
	}
	if (!ret) {
		if (!vs->rx_starved) {
			vs->rx_starved = true;
			watch_all(vs);
		}
		return NULL;
	}
	if (vs->rx_chain.in_len < HDR) {
		broken(vs, "a receive buffer smaller than a packet header");
		return NULL;
	}
	vs->rx_held = true;
	return &vs->rx_chain;
}

static void iov_write(const struct iovec *iov, unsigned nr, const void *src, size_t len)
{
	const uint8_t *p = src;

	for (unsigned i = 0; i < nr && len; i++) {
		size_t n = MIN(iov[i].iov_len, len);

		memcpy(iov[i].iov_base, p, n);
		p += n;
		len -= n;
	}
}

/* Fills the held buffer with a header for c (or none) and `len` bytes already there. */
static void rx_put(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t local, uint32_t peer,
		   uint16_t op, uint32_t flags, uint32_t len)
{
	struct virtq_chain *ch = &vs->rx_chain;
	struct virtio_vsock_hdr h = {
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = vs->cid,
		.src_port = local,
		.dst_port = peer,
		.len = len,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
	};

	if (c) {
		h.buf_alloc = VSOCK_CONN_BUF;
		h.fwd_cnt = c->fwd_cnt;
		c->fwd_cnt_told = c->fwd_cnt;
	}
	iov_write(&ch->iov[ch->nr_out], ch->nr_in, &h, HDR);
	virtq_push(&vs->vp->vq[VIRTIO_VSOCK_RX], ch->head, (uint32_t)HDR + len);
	vs->rx_held = false;
	vs->rx_pushed = true;
	vs->stats.rx_packets++;
	if (op == VIRTIO_VSOCK_OP_RST)
		vs->stats.resets++;
}

static bool send_ctl(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t local, uint32_t peer,
		     uint16_t op, uint32_t flags)
{
	if (!rx_get(vs))
		return false;
	rx_put(vs, c, local, peer, op, flags, 0);
	return true;
}

/* Sends what is owed, while there are buffers. */
static void rx_kick(struct virtio_vsock *vs)
{
	unsigned done = 0;

	while (done < vs->nr_rst &&
	       send_ctl(vs, NULL, vs->rst[done].local, vs->rst[done].peer, VIRTIO_VSOCK_OP_RST, 0))
		done++;
	if (!live(vs->vp))
		return;
	memmove(vs->rst, vs->rst + done, (vs->nr_rst - done) * sizeof(vs->rst[0]));
	vs->nr_rst -= done;
	if (vs->nr_rst)
		return;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vs->conn[i];

		for (unsigned k = 0; c->pending && k < ARRAY_SIZE(pend_ops); k++) {
			uint32_t flags = 0;

			if (!(c->pending & pend_ops[k].bit))
				continue;
			if (pend_ops[k].op == VIRTIO_VSOCK_OP_SHUTDOWN)
				flags = c->host_shut;
			if (!send_ctl(vs, c, c->local_port, c->peer_port, pend_ops[k].op, flags))
				return;
			c->pending &= ~pend_ops[k].bit;
			if (pend_ops[k].op == VIRTIO_VSOCK_OP_RESPONSE)
				conn_watch(vs, c);
		}
	}
}

/* After a hook's work: one interrupt for the buffers it returned, if wanted. */
static void rx_done(struct virtio_vsock *vs)
{
	if (!vs->rx_pushed || !live(vs->vp))
		return;
	vs->rx_pushed = false;
	if (virtq_need_interrupt(&vs->vp->vq[VIRTIO_VSOCK_RX]))
		virtio_pci_notify_queue(vs->vp, VIRTIO_VSOCK_RX);
}

/* ---- host sockets -------------------------------------------------------- */

/* Guest bytes buffered for c go to its socket, as far as it takes them. */
static void conn_flush(struct virtio_vsock *vs, struct vsock_conn *c)
{
	while (c->buf_len) {
		size_t n = MIN(c->buf_len, VSOCK_CONN_BUF - c->buf_start);
		ssize_t w = send(c->fd, c->buf + c->buf_start, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			conn_reset(vs, c);
			return;
		}
		c->buf_start = (c->buf_start + (uint32_t)w) % VSOCK_CONN_BUF;
		c->buf_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	if (!c->buf_len && c->peer_no_send) {
		/* The guest closed both ways: the last bytes are out; RST ends it (§5.10.6.5). */
		if (c->peer_no_rcv) {
			conn_reset(vs, c);
			return;
		}
		shutdown(c->fd, SHUT_WR);
	}
	/*
	 * The guest sends while its view of our free space, buf_alloc less
	 * what it sent since the last fwd_cnt it heard, lasts: tell it once
	 * half the buffer was passed on, so that it never waits on a buffer
	 * that has drained.
	 */
	if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_CONN_BUF / 2)
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
	conn_watch(vs, c);
}

/*
 * Host to guest: reads c's socket into receive buffers, within the guest's
 * credit. EOF is the host's SHUTDOWN of its sending side; with POLLHUP the
 * program is gone altogether, and it receives nothing more either.
 */
static void conn_read(struct virtio_vsock *vs, struct vsock_conn *c, short revents)
{
	struct iovec iov[VIRTQ_MAX_SIZE];

	for (unsigned k = 0; k < VSOCK_READS_PER_EVENT && c->state == VSOCK_CONNECTED; k++) {
		uint32_t cr = credit(c), want;
		struct virtq_chain *ch;
		ssize_t n;
		int nr;

		if (!cr) {
			if (!c->credit_asked)
				c->pending |= VSOCK_PEND_CREDIT_REQUEST;
			c->credit_asked = true;
			break;
		}
		ch = rx_get(vs);
		if (!ch || c->state != VSOCK_CONNECTED)
			break;
		want = (uint32_t)MIN((uint64_t)MIN(cr, VSOCK_MAX_PAYLOAD), ch->in_len - HDR);
		if (!want) {
			/* Room for a header only: a credit update fills it, the next may hold data. */
			rx_put(vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
			continue;
		}
		nr = virtq_iov_slice(&ch->iov[ch->nr_out], ch->nr_in, HDR, want, iov, VIRTQ_MAX_SIZE);
		if (nr <= 0)
			break;
		n = readv(c->fd, iov, nr);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			conn_reset(vs, c);
			break;
		}
		if (n == 0) {
			c->host_eof = true;
			c->host_shut = VIRTIO_VSOCK_SHUTDOWN_SEND;
			if (revents & POLLHUP)
				c->host_shut |= VIRTIO_VSOCK_SHUTDOWN_RCV;
			c->pending |= VSOCK_PEND_SHUTDOWN;
			break;
		}
		rx_put(vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RW, 0, (uint32_t)n);
		c->tx_cnt += (uint32_t)n;
		vs->stats.rx_bytes += (uint64_t)n;
	}
	if (c->state != VSOCK_FREE)
		conn_watch(vs, c);
}

/* "CONNECT <port>\n" from a host program: the port, or -1. */
static int64_t parse_connect(const char *line)
{
	const char *p = line + 8;
	uint64_t port = 0;

	if (strncmp(line, "CONNECT ", 8) || !*p)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		port = port * 10 + (uint64_t)(*p - '0');
		if (port > UINT32_MAX)
			return -1;
	}
	return *p ? -1 : (int64_t)port;
}

static uint32_t new_local_port(struct virtio_vsock *vs, uint32_t peer)
{
	uint32_t port;

	do {
		port = vs->next_port++;
		if (vs->next_port < VSOCK_FIRST_LOCAL_PORT)
			vs->next_port = VSOCK_FIRST_LOCAL_PORT;
	} while (conn_find(vs, port, peer));
	return port;
}

/* The line a host program writes first: read a byte at a time, so that no data is taken with it. */
static void conn_line(struct virtio_vsock *vs, struct vsock_conn *c)
{
	int64_t port;

	for (;;) {
		char ch;
		ssize_t n = read(c->fd, &ch, 1);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 || c->line_len == VSOCK_LINE_MAX - 1) {
			conn_free(vs, c);
			return;
		}
		if (ch == '\n')
			break;
		c->line[c->line_len++] = ch;
	}
	c->line[c->line_len] = '\0';
	if (c->line_len && c->line[c->line_len - 1] == '\r')
		c->line[--c->line_len] = '\0';
	port = parse_connect(c->line);
	if (port < 0) {
		static const char err[] = "ERROR want CONNECT <port>\n";

		if (send(c->fd, err, sizeof(err) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* closed below either way */
		}
		conn_free(vs, c);
		return;
	}
	c->peer_port = (uint32_t)port;
	c->local_port = new_local_port(vs, c->peer_port);
	c->state = VSOCK_REQUESTED;
	c->pending |= VSOCK_PEND_REQUEST;
	conn_watch(vs, c);
}

static void host_accept(struct virtio_vsock *vs)
{
	for (unsigned k = 0; k < VSOCK_MAX_CONNS; k++) {
		int fd = vsock_unix_accept(vs->host);
		struct vsock_conn *c;

		if (fd < 0)
			return;
		/* Not while the driver cannot answer, nor past the cap: closed at once. */
		c = live(vs->vp) ? conn_new(vs, fd, VSOCK_LINE) : NULL;
		if (!c) {
			vs->stats.refused++;
			close(fd);
			continue;
		}
		conn_watch(vs, c);
	}
}

static void vsock_host_event(struct virtio_pci *vp, int fd, short revents)
{
	struct virtio_vsock *vs = vp->opaque;

	if (fd == vs->host->listen_fd) {
		host_accept(vs);
	} else if (!live(vp)) {
		/* The device broke (its queue, in the transport): nothing is kept. */
		close_all(vs);
		return;
	} else {
		for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
			struct vsock_conn *c = &vs->conn[i];

			if (c->state == VSOCK_FREE || c->fd != fd)
				continue;
			if (c->state == VSOCK_LINE) {
				conn_line(vs, c);
				break;
			}
			if (c->state == VSOCK_REQUESTED) {
				if (revents & (POLLRDHUP | POLLHUP | POLLERR))
					conn_reset(vs, c);
				break;
			}
			rx_kick(vs);
			if ((revents & (POLLOUT | POLLERR | POLLHUP)) && c->buf_len)
				conn_flush(vs, c);
			if (c->state == VSOCK_CONNECTED && (revents & (POLLIN | POLLERR | POLLHUP)) &&
			    !(c->pending & VSOCK_PEND_RESPONSE))
				conn_read(vs, c, revents);
			break;
		}
	}
	rx_kick(vs);
	rx_done(vs);
}

/* ---- the transmit queue ----------------------------------------------------- */

/* Guest to host: the payload of an RW packet, after its header in chain ch. */
static void conn_write(struct virtio_vsock *vs, struct vsock_conn *c, const struct virtq_chain *ch,
		       uint32_t len)
{
	uint32_t tail = (c->buf_start + c->buf_len) % VSOCK_CONN_BUF;
	uint32_t first = MIN(len, VSOCK_CONN_BUF - tail);

	/* More than the credit the device gave: the guest broke the protocol. */
	if (c->peer_no_send || len > VSOCK_CONN_BUF - c->buf_len) {
		conn_reset(vs, c);
		return;
	}
	if (!virtq_iov_read(ch->iov, ch->nr_out, HDR, c->buf + tail, first) ||
	    !virtq_iov_read(ch->iov, ch->nr_out, HDR + first, c->buf, len - first)) {
		conn_reset(vs, c);
		return;
	}
	c->buf_len += len;
	vs->stats.tx_bytes += len;
	conn_flush(vs, c);
}

/* REQUEST from the guest: connect to PATH_port. */
static void guest_connect(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h)
{
	struct vsock_conn *c;
	int fd;

	fd = vsock_unix_connect(vs->host, h->dst_port);
	if (fd < 0) {
		rst_queue(vs, h->dst_port, h->src_port);
		return;
	}
	c = conn_new(vs, fd, VSOCK_CONNECTED);
	if (!c) {
		close(fd);
		rst_queue(vs, h->dst_port, h->src_port);
		return;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending = VSOCK_PEND_RESPONSE;
	conn_watch(vs, c);
}

/* The guest accepted a host-initiated connection. */
static void guest_accepted(struct virtio_vsock *vs, struct vsock_conn *c)
{
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

	c->state = VSOCK_CONNECTED;
	/* A fresh socket has room for a line; one that does not take it has gone. */
	if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		conn_reset(vs, c);
		return;
	}
	conn_watch(vs, c);
}

static void guest_packet(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h,
			 const struct virtq_chain *ch)
{
	struct vsock_conn *c = conn_find(vs, h->dst_port, h->src_port);
	bool bad = h->type != VIRTIO_VSOCK_TYPE_STREAM || h->len > VSOCK_MAX_PAYLOAD ||
		   h->len > ch->out_len - HDR || (h->len && h->op != VIRTIO_VSOCK_OP_RW) ||
		   (h->op == VIRTIO_VSOCK_OP_SHUTDOWN &&
		    (h->flags & ~(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)));

	if (h->op == VIRTIO_VSOCK_OP_RST) {
		if (c)
			conn_free(vs, c);
		return;
	}
	if (bad || h->op < VIRTIO_VSOCK_OP_REQUEST || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
		if (c)
			conn_reset(vs, c);
		else
			rst_queue(vs, h->dst_port, h->src_port);
		return;
	}
	if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
		/* One that exists already is a protocol error: both are reset. */
		if (c)
			conn_reset(vs, c);
		else
			guest_connect(vs, h);
		return;
	}
	if (!c) {
		rst_queue(vs, h->dst_port, h->src_port);
		return;
	}
	/* Every packet carries the guest's credit (§5.10.6.3). */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (credit(c))
		c->credit_asked = false;
	if (c->state == VSOCK_REQUESTED) {
		/* Only an answer to the REQUEST, once it went out. */
		if (h->op == VIRTIO_VSOCK_OP_RESPONSE && !(c->pending & VSOCK_PEND_REQUEST))
			guest_accepted(vs, c);
		else
			conn_reset(vs, c);
		return;
	}
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		conn_reset(vs, c);
		return;
	case VIRTIO_VSOCK_OP_RW:
		if (h->len) {
			conn_write(vs, c, ch, h->len);
			return;
		}
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->peer_no_rcv |= (h->flags & VIRTIO_VSOCK_SHUTDOWN_RCV) != 0;
		c->peer_no_send |= (h->flags & VIRTIO_VSOCK_SHUTDOWN_SEND) != 0;
		conn_flush(vs, c);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
		break;
	}
	conn_watch(vs, c); /* the credit may have opened */
}

int virtio_vsock_tx(struct virtio_vsock *vs, const struct virtq_chain *ch)
{
	struct virtio_vsock_hdr h;

	/* Read once (little endian, as the host): the guest may change its copy meanwhile. */
	if (ch->out_len < HDR || !virtq_iov_read(ch->iov, ch->nr_out, 0, &h, HDR))
		return -1;
	vs->stats.tx_packets++;
	if (h.src_cid != vs->cid || h.dst_cid != VSOCK_HOST_CID) {
		vs->stats.dropped++;
		return 0;
	}
	guest_packet(vs, &h, ch);
	rx_kick(vs);
	return 0;
}

/* ---- the device ------------------------------------------------------------ */

static int64_t vsock_serve(void *opaque, const struct virtq_chain *c)
{
	return virtio_vsock_tx(opaque, c) < 0 ? -1 : 0;
}

static bool vsock_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct virtio_vsock *vs = vp->opaque;
	bool more = false;

	if (q == VIRTIO_VSOCK_TX) {
		more = virtio_pci_serve_chains(vp, q, &vs->tx_chain, vsock_serve, vs,
					       "a vsock packet shorter than its header");
		if (!live(vp)) {
			close_all(vs);
			return false;
		}
	} else if (q == VIRTIO_VSOCK_RX) {
		/* New buffers: what is owed goes first, then the sockets are read again. */
		if (vs->rx_starved) {
			vs->rx_starved = false;
			rx_kick(vs);
			if (!vs->rx_starved)
				watch_all(vs);
		}
	}
	/* Event buffers wait: the device has no event to send (§5.10.6.7). */
	rx_kick(vs);
	rx_done(vs);
	return more;
}

static void vsock_config_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned size)
{
	struct virtio_vsock *vs = vp->opaque;
	uint8_t cfg[VSOCK_CFG_SIZE];

	memcpy(cfg, &vs->cid, sizeof(cfg));
	memcpy(data, cfg + off, size);
}

static void vsock_reset(struct virtio_pci *vp)
{
	struct virtio_vsock *vs = vp->opaque;

	close_all(vs);
	vs->rx_starved = false;
	vs->rx_pushed = false;
}

static const struct virtio_dev_ops vsock_ops = {
	.config_read = vsock_config_read,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
	.host_event = vsock_host_event,
};

int virtio_vsock_create(struct vm *vm, struct pci_bus *bus, unsigned devnum, uint64_t cid,
			struct vsock_unix *host, struct virtio_vsock **out)
{
	struct virtio_vsock *vs = calloc(1, sizeof(*vs));
	struct virtio_pci_config cfg = {
		.name = "virtio-vsock",
		.device_type = VIRTIO_ID_VSOCK,
		.class_code = VSOCK_CLASS,
		.features = VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_EVENT_IDX,
		.nr_queues = 3,
		.queue_size = VIRTIO_VSOCK_QUEUE_SIZE,
		.config_size = VSOCK_CFG_SIZE,
	};
	int ret;

	*out = vs;
	if (!vs)
		return -ENOMEM;
	vs->vm = vm;
	vs->cid = cid;
	vs->host = host;
	vs->next_port = VSOCK_FIRST_LOCAL_PORT;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		vs->conn[i].fd = -1;
	/*
	 * Every connection's buffer, made once (pages on first use): the I/O
	 * thread allocates and frees nothing, since glibc trimming a thread's
	 * heap reads /proc/sys/vm/overcommit_memory, which the sandbox forbids.
	 */
	vs->bufs = mmap(NULL, (size_t)VSOCK_MAX_CONNS * VSOCK_CONN_BUF, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vs->bufs == MAP_FAILED) {
		vs->bufs = NULL;
		log_err("virtio-vsock: connection buffers: %s", strerror(errno));
		return -ENOMEM;
	}
	ret = virtio_pci_create(vm, bus, devnum, &cfg, &vsock_ops, vs, &vs->vp);
	if (ret)
		return ret;
	pthread_mutex_lock(&vs->vp->lock);
	ret = virtio_pci_watch(vs->vp, host->listen_fd, POLLIN);
	pthread_mutex_unlock(&vs->vp->lock);
	return ret;
}

int virtio_vsock_start(struct virtio_vsock *vs)
{
	return vs->vp ? virtio_pci_start(vs->vp) : 0;
}

void virtio_vsock_destroy(struct virtio_vsock *vs)
{
	if (!vs)
		return;
	/* The I/O thread first: then nothing watches the sockets any more. */
	if (vs->vp)
		virtio_pci_destroy(vs->vp);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vs->conn[i].state != VSOCK_FREE)
			close(vs->conn[i].fd);
	if (vs->bufs)
		munmap(vs->bufs, (size_t)VSOCK_MAX_CONNS * VSOCK_CONN_BUF);
	free(vs);
}

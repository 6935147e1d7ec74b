/*
 * virtio-vsock (virtio 1.2 §5.10), stream sockets only, its host side on
 * Unix sockets (backend/vsock_unix.h): queues 0 (receive: device to
 * driver), 1 (transmit) and 2 (events, which this device never sends);
 * the configuration is the guest's CID.
 *
 * Connections: a guest connecting to the host's port P gets the socket
 * at PATH_P (RST when nothing listens there); a host program connecting
 * to PATH and writing "CONNECT P\n" gets the guest's port P, answered
 * "OK <host port>\n" once the guest accepted (closed when it refused).
 * Then bytes flow both ways, each side within the credit the other gave
 * (§5.10.6.3): the device sends the guest no more than its buf_alloc
 * allows, and keeps what the guest sent and the host socket did not take
 * yet in a buffer of VSOCK_CONN_BUF bytes per connection, the buf_alloc
 * it gives the guest. At most VSOCK_MAX_CONNS connections (host ones
 * still writing their CONNECT line included).
 *
 * What the guest controls: every byte of a transmitted packet, read once
 * into a local header; a packet with a wrong CID is dropped, one that
 * breaks the protocol (bad type, op or length, data beyond its credit,
 * an op out of turn) resets its connection (RST); a transmit chain too
 * short for a header, or a receive buffer too small for one, breaks the
 * device (NEEDS_RESET), which then closes every connection.
 *
 * Threads: everything runs under the transport's lock, on the device's
 * I/O thread (queue_notify, host_event), except set-up and reset.
 */
#ifndef SHALE_DEVICES_VIRTIO_VSOCK_H
#define SHALE_DEVICES_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/queue.h"

struct vm;
struct pci_bus;
struct virtio_pci;
struct vsock_unix;

#define VIRTIO_VSOCK_QUEUE_SIZE 128u
#define VIRTIO_VSOCK_RX 0u
#define VIRTIO_VSOCK_TX 1u
#define VIRTIO_VSOCK_EVENT 2u

#define VSOCK_HOST_CID 2u
#define VSOCK_MIN_GUEST_CID 3u
/* The largest guest CID: 0xffffffff is VMADDR_CID_ANY. */
#define VSOCK_MAX_GUEST_CID 0xfffffffeu
#define VSOCK_MAX_CONNS 32u /* one host descriptor each, and the listener: < 64 */
#define VSOCK_CONN_BUF 65536u /* the buf_alloc given the guest, per connection */
#define VSOCK_MAX_PAYLOAD 65536u /* of one packet, both ways */
#define VSOCK_MAX_RST 64u /* resets owed to the guest for no connection */
#define VSOCK_LINE_MAX 32u /* "CONNECT 4294967295\n" fits */

/* The packet header (§5.10.6), little endian. */
struct virtio_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_vsock_hdr) == 44, "virtio_vsock_hdr");

#define VIRTIO_VSOCK_TYPE_STREAM 1
#define VIRTIO_VSOCK_OP_REQUEST 1
#define VIRTIO_VSOCK_OP_RESPONSE 2
#define VIRTIO_VSOCK_OP_RST 3
#define VIRTIO_VSOCK_OP_SHUTDOWN 4
#define VIRTIO_VSOCK_OP_RW 5
#define VIRTIO_VSOCK_OP_CREDIT_UPDATE 6
#define VIRTIO_VSOCK_OP_CREDIT_REQUEST 7
#define VIRTIO_VSOCK_SHUTDOWN_RCV 1u
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2u

enum vsock_conn_state {
	VSOCK_FREE,
	VSOCK_LINE,        /* host-initiated: reading its CONNECT line */
	VSOCK_REQUESTED,   /* host-initiated: REQUEST owed or sent, no answer yet */
	VSOCK_CONNECTED,
};

struct vsock_conn {
	enum vsock_conn_state state;
	int fd;
	uint32_t local_port, peer_port; /* the host's and the guest's */
	/* Credit (§5.10.6.3): what the guest gave, and what it was told. */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt;       /* payload bytes sent to the guest */
	uint32_t fwd_cnt;      /* guest bytes the host socket took */
	uint32_t fwd_cnt_told; /* fwd_cnt in the last packet the guest got */
	unsigned pending;      /* control packets owed to the guest (VSOCK_PEND_*) */
	bool host_eof;         /* the host socket said EOF */
	uint32_t host_shut;    /* SHUTDOWN flags owed: SEND at EOF, RCV too if it hung up */
	bool peer_no_send, peer_no_rcv; /* the guest's SHUTDOWN flags */
	bool credit_asked;     /* CREDIT_REQUEST sent since the credit ran out */
	short events;          /* what the I/O thread watches the fd for */
	uint8_t *buf;          /* VSOCK_CONN_BUF in bufs: guest bytes not yet on the socket */
	uint32_t buf_start, buf_len;
	char line[VSOCK_LINE_MAX];
	unsigned line_len;
};

struct virtio_vsock_stats {
	uint64_t tx_packets, rx_packets;
	uint64_t tx_bytes, rx_bytes; /* payload from and to the guest */
	uint64_t dropped;            /* packets with a wrong CID */
	uint64_t resets;             /* RSTs the device sent */
	uint64_t refused;            /* host connections over the cap */
};

struct virtio_vsock {
	struct virtio_pci *vp;
	struct vm *vm;
	uint64_t cid;
	struct vsock_unix *host;
	struct vsock_conn conn[VSOCK_MAX_CONNS];
	struct { uint32_t local, peer; } rst[VSOCK_MAX_RST];
	unsigned nr_rst;
	uint32_t next_port; /* the next host port for a host-initiated connection */
	bool rx_starved;    /* no receive buffer: host sockets are not read */
	bool rx_held;       /* rx_chain was taken from the queue, not yet used */
	bool rx_pushed;     /* buffers returned since the last interrupt decision */
	struct virtio_vsock_stats stats;
	uint8_t *bufs; /* the connections' buffers, one mapping */
	struct virtq_chain rx_chain, tx_chain;
};

/*
 * The device at 00:devnum.0 of `bus`, guest CID `cid`, on `host` (the
 * caller's, open, outliving the device). 0 or -errno with a message;
 * virtio_vsock_destroy() also undoes a partial one.
 */
int virtio_vsock_create(struct vm *vm, struct pci_bus *bus, unsigned devnum, uint64_t cid,
			struct vsock_unix *host, struct virtio_vsock **out);
int virtio_vsock_start(struct virtio_vsock *vs);
/* Closes every connection; the bus must be gone first. */
void virtio_vsock_destroy(struct virtio_vsock *vs);

/*
 * One transmitted packet (lock held, device live): 0, or -1 when the
 * chain breaks the device's rules (the caller sets NEEDS_RESET). For the
 * queue and the fuzz harness.
 */
int virtio_vsock_tx(struct virtio_vsock *vs, const struct virtq_chain *c);

#endif

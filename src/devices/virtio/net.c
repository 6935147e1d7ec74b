/*
 * virtio-net (virtio 1.2 §5.1). Queue 0 receives, queue 1 transmits.
 * With VERSION_1 every packet starts with the 12-byte virtio_net_hdr
 * (§5.1.6), which may share descriptors with the frame however the
 * driver likes (§2.6.4), so both are addressed as byte ranges of the
 * chain. No offload feature is offered: a transmitted header carries
 * nothing this device may act on and is skipped unread; a received one
 * is all zeros but num_buffers, 1 (§5.1.6.4.1: no MRG_RXBUF).
 *
 * What the driver controls and what it gets for breaking the rules:
 * a transmit chain with less than a header, or a frame longer than
 * VIRTIO_NET_MAX_FRAME: NEEDS_RESET; a frame shorter than an Ethernet
 * header: dropped. A receive chain with readable buffers, or too short
 * for the header: NEEDS_RESET; one too short for the frame that came:
 * the frame is dropped and the chain kept for the next.
 */
#include "devices/virtio/net.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/pci.h"
#include "util/util.h"
#include "vmm/vm.h"

#define VIRTIO_ID_NET 1
#define NET_CLASS 0x020000 /* network controller, Ethernet */

/* §5.1.6: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
struct net_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};
_Static_assert(sizeof(struct net_hdr) == VIRTIO_NET_HDR_LEN, "virtio_net_hdr");

/* Copies `len` bytes to offset `off` of the vector; the caller checked its length. */
static void iov_write(const struct iovec *iov, unsigned nr, uint64_t off, const void *src,
		      uint64_t len)
{
	const uint8_t *p = src;

	for (unsigned i = 0; i < nr && len; i++) {
		uint64_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = MIN(len, iov[i].iov_len - off);
		memcpy((uint8_t *)iov[i].iov_base + off, p, n);
		p += n;
		len -= n;
		off = 0;
	}
}

static void watch(struct virtio_net *net, bool on)
{
	if (on == net->watching || (on && net->backend_gone))
		return;
	/* One descriptor: VIRTIO_PCI_MAX_HOST_FDS is never reached. */
	if (virtio_pci_watch(net->vp, net->fd, on ? POLLIN : 0))
		die("virtio-net: cannot watch its back end");
	net->watching = on;
}

static void backend_failed(struct virtio_net *net, const char *why)
{
	log_err("virtio-net at 00:%02x.0: the network back end %s; no more frames are received",
		net->vp->devnum, why);
	net->backend_gone = true;
	watch(net, false);
}

/* ---- transmit -------------------------------------------------------- */

static int64_t net_transmit(void *opaque, const struct virtq_chain *c)
{
	struct virtio_net *net = opaque;
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint64_t len;
	ssize_t n;
	int nr;

	if (c->out_len < VIRTIO_NET_HDR_LEN) {
		virtio_pci_needs_reset(net->vp, "a transmit chain without its 12-byte header");
		return -1;
	}
	len = c->out_len - VIRTIO_NET_HDR_LEN;
	if (len > VIRTIO_NET_MAX_FRAME) {
		virtio_pci_needs_reset(net->vp, "a transmitted frame longer than 65550 bytes");
		return -1;
	}
	nr = virtq_iov_slice(c->iov, c->nr_out, VIRTIO_NET_HDR_LEN, len, iov, VIRTQ_MAX_SIZE);
	if (nr < 0 || len < VIRTIO_NET_MIN_FRAME) {
		net->tx_dropped++;
		return 0;
	}
	do
		n = writev(net->fd, iov, nr);
	while (n < 0 && errno == EINTR);
	/* Full (EAGAIN), gone (EPIPE, ECONNREFUSED), or refused (EINVAL): dropped. */
	if (n != (ssize_t)len) {
		if (n < 0 && errno != EAGAIN && !net->said_tx_error) {
			log_err("virtio-net at 00:%02x.0: the back end refused a frame of %llu bytes (%s); "
				"dropped (said once)", net->vp->devnum, (unsigned long long)len,
				strerror(errno));
			net->said_tx_error = true;
		}
		net->tx_dropped++;
		return 0;
	}
	vm_stat_add(&net->vm->stats->net_tx_packets, 1);
	vm_stat_add(&net->vm->stats->net_tx_bytes, len);
	return 0;
}

/* ---- receive --------------------------------------------------------- */

static bool may_serve(const struct virtio_pci *vp, unsigned q)
{
	return (vp->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vp->status & VIRTIO_STATUS_NEEDS_RESET) && vp->vq[q].enabled;
}

/* The chain to receive into: held from before, or the next one. false: none. */
static bool rx_chain(struct virtio_net *net)
{
	struct virtq *vq = &net->vp->vq[VIRTIO_NET_RX];
	struct virtq_chain *c = &net->rx_chain;
	int ret;

	if (net->rx_held)
		return true;
	ret = virtq_pop(vq, &net->vp->vm->gmem, c);
	if (ret < 0) {
		virtio_pci_needs_reset(net->vp, vq->why);
		return false;
	}
	if (!ret)
		return false;
	if (c->nr_out || c->in_len < VIRTIO_NET_HDR_LEN) {
		virtio_pci_needs_reset(net->vp, "a receive chain with readable buffers or no room "
					       "for the 12-byte header");
		return false;
	}
	net->rx_held = true;
	return true;
}

/*
 * Reads one frame into the held chain. 1: returned to the driver; 0: no
 * frame (EAGAIN) or the back end is gone; -1: the frame was dropped,
 * the chain is still held.
 */
static int rx_one(struct virtio_net *net)
{
	struct virtq_chain *c = &net->rx_chain;
	const struct iovec *in = c->iov + c->nr_out;
	struct iovec iov[VIRTQ_MAX_SIZE + 1];
	uint64_t room = c->in_len - VIRTIO_NET_HDR_LEN;
	struct net_hdr hdr = { .num_buffers = 1 };
	ssize_t n;
	int nr;

	/* The frame's room in the chain, then the overflow: a longer frame is seen whole. */
	nr = virtq_iov_slice(in, c->nr_in, VIRTIO_NET_HDR_LEN, room, iov, VIRTQ_MAX_SIZE);
	if (nr < 0)
		die("virtio-net: a chain shorter than its length");
	iov[nr++] = (struct iovec){ net->overflow, VIRTIO_NET_MAX_FRAME };
	do
		n = readv(net->fd, iov, nr);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN)
			backend_failed(net, strerror(errno));
		return 0;
	}
	/* No tap reads 0, nor does shale-net send an empty frame: the end of the socket. */
	if (n == 0) {
		backend_failed(net, "closed (the user-mode network's helper ended?)");
		return 0;
	}
	/* A tap says how long a frame was even when it did not fit. */
	if ((uint64_t)n > room || n < VIRTIO_NET_MIN_FRAME) {
		/* A host side with a larger MTU than the guest's, most likely. */
		if ((uint64_t)n > room && !net->said_rx_long) {
			log_err("virtio-net at 00:%02x.0: a frame of %zd bytes does not fit the guest's "
				"receive buffer of %llu; dropped (said once)", net->vp->devnum, n,
				(unsigned long long)room);
			net->said_rx_long = true;
		}
		net->rx_dropped++;
		return -1;
	}
	iov_write(in, c->nr_in, 0, &hdr, sizeof(hdr));
	virtq_push(&net->vp->vq[VIRTIO_NET_RX], c->head, (uint32_t)(VIRTIO_NET_HDR_LEN + n));
	net->rx_held = false;
	vm_stat_add(&net->vm->stats->net_rx_packets, 1);
	vm_stat_add(&net->vm->stats->net_rx_bytes, (uint64_t)n);
	return 1;
}

/* The back end is readable: a queue's worth of frames at most, then the lock is dropped. */
static void net_host_event(struct virtio_pci *vp, int fd, short revents)
{
	struct virtio_net *net = vp->opaque;
	struct virtq *vq = &vp->vq[VIRTIO_NET_RX];
	bool pushed = false;

	if (!may_serve(vp, VIRTIO_NET_RX)) {
		watch(net, false);
		return;
	}
	for (unsigned i = 0; i < vq->size && !net->backend_gone; i++) {
		int ret;

		if (!rx_chain(net)) {
			/* Dry (or broken): wait for the driver's notification. */
			watch(net, false);
			break;
		}
		ret = rx_one(net);
		if (!ret)
			break;
		pushed |= ret > 0;
	}
	if (pushed && virtq_need_interrupt(vq))
		virtio_pci_notify_queue(vp, VIRTIO_NET_RX);
}

/* ---- the device ------------------------------------------------------ */

static bool net_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct virtio_net *net = vp->opaque;

	if (q == VIRTIO_NET_RX) {
		/* New buffers: frames are read when the back end has some. */
		watch(net, true);
		return false;
	}
	return virtio_pci_serve_chains(vp, q, &net->tx_chain, net_transmit, net,
				       "a transmit chain that is no frame");
}

static void net_config_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned size)
{
	struct virtio_net *net = vp->opaque;

	memcpy(data, net->config + off, size);
}

static void net_reset(struct virtio_pci *vp)
{
	struct virtio_net *net = vp->opaque;

	watch(net, false);
	net->rx_held = false;
}

static const struct virtio_dev_ops net_ops = {
	.config_read = net_config_read,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.host_event = net_host_event,
};

int virtio_net_create(struct vm *vm, struct pci_bus *bus, unsigned devnum, int fd,
		      const uint8_t mac[6], struct virtio_net **out)
{
	struct virtio_net *net = calloc(1, sizeof(*net));
	struct virtio_pci_config cfg = {
		.name = "virtio-net",
		.device_type = VIRTIO_ID_NET,
		.class_code = NET_CLASS,
		.features = VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VIRTIO_NET_F_MAC |
			    VIRTIO_NET_F_STATUS,
		.nr_queues = 2,
		.queue_size = VIRTIO_NET_QUEUE_SIZE,
		.config_size = VIRTIO_NET_CFG_SIZE,
	};
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1;

	*out = net;
	if (!net)
		return -ENOMEM;
	net->vm = vm;
	net->fd = fd;
	memcpy(net->mac, mac, 6);
	memcpy(net->config + VIRTIO_NET_CFG_MAC, mac, 6);
	memcpy(net->config + VIRTIO_NET_CFG_STATUS, &status, 2);
	memcpy(net->config + VIRTIO_NET_CFG_MAX_PAIRS, &pairs, 2);
	net->overflow = malloc(VIRTIO_NET_MAX_FRAME);
	if (!net->overflow)
		return -ENOMEM;
	return virtio_pci_create(vm, bus, devnum, &cfg, &net_ops, net, &net->vp);
}

int virtio_net_start(struct virtio_net *net)
{
	return virtio_pci_start(net->vp);
}

void virtio_net_destroy(struct virtio_net *net)
{
	if (!net)
		return;
	if (net->vp)
		virtio_pci_destroy(net->vp);
	free(net->overflow);
	free(net);
}

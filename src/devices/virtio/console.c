/*
 * virtio-console (virtio 1.2 §5.3) without VIRTIO_CONSOLE_F_MULTIPORT:
 * port 0 only, queues 0 (receive) and 1 (transmit). A transmit chain's
 * readable buffers are the bytes; writable ones mean nothing here. A
 * receive chain's writable buffers get input, as much as they hold; its
 * readable ones mean nothing. Receive chains are taken only when input
 * comes (on the console's thread), so a driver's buffers wait in the ring
 * meanwhile; its notification that it added some only wakes the input.
 */
#include "devices/virtio/console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio/pci.h"
#include "util/util.h"
#include "vmm/vm.h"

#define VIRTIO_ID_CONSOLE 3
#define CONSOLE_CLASS 0x078000 /* communication controller, other */
/* cols, rows, max_nr_ports, emerg_wr (§5.3.4): read only with features this device lacks. */
#define CONSOLE_CFG_SIZE 12

void virtio_console_transmit(struct virtio_console *con, const struct virtq_chain *c)
{
	for (unsigned i = 0; i < c->nr_out; i++) {
		if (!c->iov[i].iov_len)
			continue;
		con->out(con->out_opaque, c->iov[i].iov_base, c->iov[i].iov_len);
		con->bytes += c->iov[i].iov_len;
	}
}

size_t virtio_console_fill(const struct virtq_chain *c, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in && done < len; i++) {
		size_t n = MIN(c->iov[i].iov_len, len - done);

		memcpy(c->iov[i].iov_base, buf + done, n);
		done += n;
	}
	return done;
}

static void signal_room(struct virtio_console *con)
{
	uint64_t one = 1;

	if (write(con->room_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		die("virtio-console: eventfd write: %s", strerror(errno));
}

size_t virtio_console_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *con = opaque;
	struct virtio_pci *vp = con->vp;
	struct virtq *vq;
	size_t done = 0;
	bool used = false;

	if (!vp)
		return 0;
	pthread_mutex_lock(&vp->lock);
	vq = &vp->vq[VIRTIO_CONSOLE_RX];
	if (!(vp->status & VIRTIO_STATUS_DRIVER_OK) || (vp->status & VIRTIO_STATUS_NEEDS_RESET) ||
	    !vq->enabled || !con->tx_seen)
		goto out;
	/* At most a queue's worth of chains: the rest waits for the next room. */
	for (unsigned i = 0; i < vq->size && done < len; i++) {
		int ret = virtq_pop(vq, &vp->vm->gmem, &con->rx_chain);
		size_t n;

		if (ret < 0) {
			virtio_pci_needs_reset(vp, vq->why);
			break;
		}
		if (!ret)
			break;
		n = virtio_console_fill(&con->rx_chain, buf + done, len - done);
		virtq_push(vq, con->rx_chain.head, (uint32_t)n);
		done += n;
		used = true;
	}
	if (used && virtq_need_interrupt(vq))
		virtio_pci_notify_queue(vp, VIRTIO_CONSOLE_RX);
	con->in_bytes += done;
out:
	pthread_mutex_unlock(&vp->lock);
	return done;
}

int virtio_console_room_fd(const struct virtio_console *con)
{
	return con->room_fd;
}

static int64_t console_serve(void *opaque, const struct virtq_chain *c)
{
	struct virtio_console *con = opaque;

	virtio_console_transmit(con, c);
	/* The port is up: input that waited for it is wanted now. */
	if (!con->tx_seen && c->out_len) {
		con->tx_seen = true;
		signal_room(con);
	}
	return 0;
}

static bool console_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct virtio_console *con = vp->opaque;

	/* Receive buffers wait in the ring for input, which is told there is room. */
	if (q != VIRTIO_CONSOLE_TX) {
		signal_room(con);
		return false;
	}
	return virtio_pci_serve_chains(vp, q, &con->chain, console_serve, con, NULL);
}

static void console_config_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned size)
{
	memset(data, 0, size);
}

static void console_reset(struct virtio_pci *vp)
{
	struct virtio_console *con = vp->opaque;

	con->tx_seen = false;
}

static const struct virtio_dev_ops console_ops = {
	.config_read = console_config_read,
	.queue_notify = console_queue_notify,
	.reset = console_reset,
};

int virtio_console_create(struct vm *vm, struct pci_bus *bus, unsigned devnum,
			  virtio_console_out_fn out, void *out_opaque,
			  struct virtio_console **out_dev)
{
	struct virtio_console *con = calloc(1, sizeof(*con));
	struct virtio_pci_config cfg = {
		.name = "virtio-console",
		.device_type = VIRTIO_ID_CONSOLE,
		.class_code = CONSOLE_CLASS,
		.features = VIRTIO_F_RING_INDIRECT_DESC,
		.nr_queues = 2,
		.queue_size = VIRTIO_CONSOLE_QUEUE_SIZE,
		.config_size = CONSOLE_CFG_SIZE,
	};

	*out_dev = con;
	if (!con)
		return -ENOMEM;
	con->vm = vm;
	con->out = out;
	con->out_opaque = out_opaque;
	con->room_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (con->room_fd < 0) {
		int ret = -errno;

		log_err("virtio-console: eventfd: %s", strerror(errno));
		return ret;
	}
	if (!bus)
		return 0;
	return virtio_pci_create(vm, bus, devnum, &cfg, &console_ops, con, &con->vp);
}

int virtio_console_start(struct virtio_console *con)
{
	return con->vp ? virtio_pci_start(con->vp) : 0;
}

void virtio_console_destroy(struct virtio_console *con)
{
	if (!con)
		return;
	if (con->vp)
		virtio_pci_destroy(con->vp);
	if (con->room_fd >= 0)
		close(con->room_fd);
	free(con);
}

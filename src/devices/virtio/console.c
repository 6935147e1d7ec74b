/*
 * virtio-console (virtio 1.2 §5.3) without VIRTIO_CONSOLE_F_MULTIPORT:
 * port 0 only, queues 0 (receive) and 1 (transmit). A transmit chain's
 * readable buffers are the bytes; writable ones mean nothing here.
 */
#include "devices/virtio/console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static int64_t console_serve(void *opaque, const struct virtq_chain *c)
{
	virtio_console_transmit(opaque, c);
	return 0;
}

static bool console_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct virtio_console *con = vp->opaque;

	/* Receive buffers wait for input, which this device does not take yet. */
	if (q != VIRTIO_CONSOLE_TX)
		return false;
	return virtio_pci_serve_chains(vp, q, &con->chain, console_serve, con, NULL);
}

static void console_config_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned size)
{
	memset(data, 0, size);
}

static void console_reset(struct virtio_pci *vp)
{
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
	free(con);
}

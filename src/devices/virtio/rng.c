/*
 * virtio-rng (virtio 1.2 §5.4). Readable buffers in a chain carry nothing
 * for this device and are ignored; the writable ones are filled in order.
 */
#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "devices/virtio/pci.h"
#include "util/util.h"
#include "vmm/vm.h"

#define VIRTIO_ID_RNG 4
#define RNG_CLASS 0x00ff00 /* unclassified: what virtio's other devices use */

int64_t virtio_rng_request(struct virtio_rng *rng, const struct virtq_chain *c)
{
	uint64_t want = MIN(c->in_len, (uint64_t)VIRTIO_RNG_MAX_BYTES), done = 0;

	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in && done < want; i++) {
		size_t len = (size_t)MIN((uint64_t)c->iov[i].iov_len, want - done);
		uint8_t *p = c->iov[i].iov_base;

		while (len) {
			ssize_t n = getrandom(p, len, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -EIO;
			p += n;
			len -= (size_t)n;
			done += (uint64_t)n;
		}
	}
	rng->bytes += done;
	return (int64_t)done;
}

static int64_t rng_serve(void *opaque, const struct virtq_chain *c)
{
	int64_t n = virtio_rng_request(opaque, c);

	if (n < 0) {
		/* The host's fault, not the driver's: nothing given, said once. */
		static bool said;

		if (!said)
			log_err("virtio-rng: getrandom: %s", strerror(-(int)n));
		said = true;
		n = 0;
	}
	return n;
}

static bool rng_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct virtio_rng *rng = vp->opaque;

	return virtio_pci_serve_chains(vp, q, &rng->chain, rng_serve, rng, NULL);
}

static void rng_config_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned size)
{
	memset(data, 0, size);
}

static void rng_reset(struct virtio_pci *vp)
{
}

static const struct virtio_dev_ops rng_ops = {
	.config_read = rng_config_read,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
};

int virtio_rng_create(struct vm *vm, struct pci_bus *bus, unsigned devnum,
		      struct virtio_rng **out)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	struct virtio_pci_config cfg = {
		.name = "virtio-rng",
		.device_type = VIRTIO_ID_RNG,
		.class_code = RNG_CLASS,
		.features = VIRTIO_F_RING_INDIRECT_DESC,
		.nr_queues = 1,
		.queue_size = VIRTIO_RNG_QUEUE_SIZE,
		/* Nothing is defined (§5.4.4): no device configuration capability. */
		.config_size = 0,
	};

	*out = rng;
	if (!rng)
		return -ENOMEM;
	rng->vm = vm;
	if (!bus)
		return 0;
	return virtio_pci_create(vm, bus, devnum, &cfg, &rng_ops, rng, &rng->vp);
}

int virtio_rng_start(struct virtio_rng *rng)
{
	return rng->vp ? virtio_pci_start(rng->vp) : 0;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	if (!rng)
		return;
	if (rng->vp)
		virtio_pci_destroy(rng->vp);
	free(rng);
}

/*
 * virtio-rng (virtio 1.2 §5.4), the entropy device: the driver hands over
 * buffers, the device fills them from the host's getrandom(). One queue,
 * no features, no configuration. A request gets at most
 * VIRTIO_RNG_MAX_BYTES, whatever its buffers' size: a guest asking for
 * gigabytes costs the host no more than one asking for a page.
 */
#ifndef SHALE_DEVICES_VIRTIO_RNG_H
#define SHALE_DEVICES_VIRTIO_RNG_H

#include <stdint.h>

#include "devices/virtio/queue.h"

struct vm;
struct pci_bus;
struct virtio_pci;

#define VIRTIO_RNG_QUEUE_SIZE 64u
#define VIRTIO_RNG_MAX_BYTES (64u * 1024)

struct virtio_rng {
	struct virtio_pci *vp;
	struct vm *vm;
	uint64_t bytes; /* handed to the guest so far */
	struct virtq_chain chain; /* the request being served (I/O thread) */
};

/*
 * The device at 00:devnum.0 of `bus` (NULL: the request path alone, for
 * the tests). 0 or -errno with a message; virtio_rng_destroy() also undoes
 * a partial one.
 */
int virtio_rng_create(struct vm *vm, struct pci_bus *bus, unsigned devnum,
		      struct virtio_rng **out);
int virtio_rng_start(struct virtio_rng *rng);
void virtio_rng_destroy(struct virtio_rng *rng);

/*
 * Fills the writable buffers of chain `c` with random bytes, up to
 * VIRTIO_RNG_MAX_BYTES: the bytes written (the used length), or -EIO
 * when the host's getrandom() fails.
 */
int64_t virtio_rng_request(struct virtio_rng *rng, const struct virtq_chain *c);

#endif

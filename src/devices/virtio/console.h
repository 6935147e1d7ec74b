/*
 * virtio-console (virtio 1.2 §5.3), one port, no multiport: the guest's
 * hvc0. What the driver sends on the transmit queue goes to `out` (the
 * VM's console output, as the UART's does); console input goes into the
 * buffers the driver makes available on the receive queue, as far as
 * they take it (virtio_console_input()), the rest waiting for more.
 */
#ifndef SHALE_DEVICES_VIRTIO_CONSOLE_H
#define SHALE_DEVICES_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/queue.h"

struct vm;
struct pci_bus;
struct virtio_pci;

#define VIRTIO_CONSOLE_QUEUE_SIZE 64u
#define VIRTIO_CONSOLE_RX 0u
#define VIRTIO_CONSOLE_TX 1u

/* Where output goes: called on the device's I/O thread, in order. */
typedef void (*virtio_console_out_fn)(void *opaque, const uint8_t *buf, size_t len);

struct virtio_console {
	struct virtio_pci *vp;
	struct vm *vm;
	virtio_console_out_fn out;
	void *out_opaque;
	uint64_t bytes; /* sent by the guest so far */
	uint64_t in_bytes; /* given to the guest so far (under vp->lock) */
	bool tx_seen; /* the driver sent something since its reset (under vp->lock) */
	int room_fd; /* eventfd: the driver made receive buffers available */
	struct virtq_chain chain; /* the buffer being sent (I/O thread) */
	struct virtq_chain rx_chain; /* the buffer being filled (the input's thread) */
};

/*
 * The device at 00:devnum.0 of `bus` (NULL: the transmit path alone, for
 * the tests). 0 or -errno with a message; virtio_console_destroy() also
 * undoes a partial one.
 */
int virtio_console_create(struct vm *vm, struct pci_bus *bus, unsigned devnum,
			  virtio_console_out_fn out, void *out_opaque,
			  struct virtio_console **out_dev);
int virtio_console_start(struct virtio_console *con);
void virtio_console_destroy(struct virtio_console *con);

/* Sends the readable buffers of chain `c` to the output, in order. */
void virtio_console_transmit(struct virtio_console *con, const struct virtq_chain *c);

/*
 * Console input (a console_input_fn): copies what the receive queue's
 * buffers take of buf[0, len) into them, in order, and returns how much.
 * Less means: offer the rest again once virtio_console_room_fd() is
 * readable. Nothing is taken before the driver has sent something on the
 * transmit queue: Linux's driver offers receive buffers before its port
 * exists and drops what arrives in them meanwhile, so input waits for
 * the first sign of a port in use (a prompt, a login banner, a console
 * line). Any thread; takes the device lock.
 */
size_t virtio_console_input(void *con, const uint8_t *buf, size_t len);
int virtio_console_room_fd(const struct virtio_console *con);

/*
 * Fills the writable buffers of chain `c` from buf[0, len): the bytes
 * copied (the used length).
 */
size_t virtio_console_fill(const struct virtq_chain *c, const uint8_t *buf, size_t len);

#endif

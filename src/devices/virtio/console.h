/*
 * virtio-console (virtio 1.2 §5.3), one port, no multiport: the guest's
 * hvc0. What the driver sends on the transmit queue goes to `out` (the
 * VM's console output, as the UART's does); the receive queue is offered
 * but gets nothing yet: console input goes to the UART.
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
	struct virtq_chain chain; /* the buffer being sent (I/O thread) */
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

#endif

/*
 * virtio-net (virtio 1.2 §5.1) over the PCI transport, on a host network
 * back end (backend/tap.h: a tap device, or the user-mode network's
 * socket): one receive and one transmit queue, no control queue, no
 * offloads, so every packet is a plain Ethernet frame behind a 12-byte
 * struct virtio_net_hdr (VERSION_1's size, num_buffers included).
 *
 * Threads: the device's I/O thread does all of it. Transmit: on the
 * driver's notification each chain's frame goes to the back end with one
 * writev(); a back end that would block drops it (counted). Receive: the
 * I/O thread watches the back end (virtio_pci_watch()) only while the
 * receive queue may have buffers; it reads one frame per chain, straight
 * into the guest's buffer. When the queue runs dry it stops watching
 * until the driver notifies the queue, so frames wait in the back end
 * (which drops what does not fit) and the thread sleeps.
 */
#ifndef SHALE_DEVICES_VIRTIO_NET_H
#define SHALE_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/queue.h"

struct vm;
struct pci_bus;
struct virtio_pci;

#define VIRTIO_NET_QUEUE_SIZE 256u
#define VIRTIO_NET_RX 0u
#define VIRTIO_NET_TX 1u
#define VIRTIO_NET_HDR_LEN 12u
/* The longest frame taken either way: 64 KiB of IP plus Ethernet's header and a bit. */
#define VIRTIO_NET_MAX_FRAME 65550u
#define VIRTIO_NET_MIN_FRAME 14u /* an Ethernet header */

/* Feature bits (§5.1.3). */
#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_STATUS (1ull << 16)
#define VIRTIO_NET_S_LINK_UP 1u

/* The configuration layout (§5.1.4), as far as this device fills it. */
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MAX_PAIRS 8
#define VIRTIO_NET_CFG_SIZE 12

struct virtio_net {
	struct virtio_pci *vp;
	struct vm *vm;
	int fd; /* the back end: the caller's, outlives the device */
	uint8_t mac[6];
	uint8_t config[VIRTIO_NET_CFG_SIZE];

	/* I/O thread, under the device lock: */
	bool watching;     /* POLLIN on fd */
	bool backend_gone; /* end of file or a read error: said once, not watched again */
	bool rx_held;      /* rx_chain was popped and waits for a frame */
	struct virtq_chain rx_chain, tx_chain;
	/* Frames dropped: the back end could not take them, or they did not fit. */
	uint64_t tx_dropped, rx_dropped;
	bool said_rx_long, said_tx_error; /* the first of those drops that needs a word */
	uint8_t *overflow; /* what a frame has past its buffer (VIRTIO_NET_MAX_FRAME) */
};

/*
 * The device at 00:devnum.0 of `bus` on back end `fd` with address `mac`.
 * fd must be non-blocking (a blocking one would hold the I/O thread, and
 * with it the device): tap_open() and usernet_start() make it so, before
 * the sandbox, which lets a rebooting guest's devices be built again
 * without fcntl(). 0 or -errno with a message; virtio_net_destroy() also
 * undoes a partial one.
 */
int virtio_net_create(struct vm *vm, struct pci_bus *bus, unsigned devnum, int fd,
		      const uint8_t mac[6], struct virtio_net **out);
int virtio_net_start(struct virtio_net *net);
void virtio_net_destroy(struct virtio_net *net);

#endif

/*
 * The device side of a split virtqueue (virtio 1.2 §2.7), hardened: the
 * driver's memory is read through the checked translator only, each value
 * from it once, and every loop over it is bounded. The first thing that
 * no correct driver does breaks the queue for good (until the device is
 * reset): the transport then sets NEEDS_RESET.
 *
 * What the driver controls: the three ring areas' contents (checked as
 * they are used) and, before the queue is enabled, their addresses and
 * the queue size (checked by virtq_enable()). What it cannot: the
 * device's own indices (last_avail, used_idx), which are kept here and
 * never read back from guest memory.
 *
 * Not thread-safe: one thread (the device's I/O thread, or the vCPU
 * thread under the device lock during set-up and reset) at a time.
 */
#ifndef SHALE_DEVICES_VIRTIO_QUEUE_H
#define SHALE_DEVICES_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/gmem.h"

#define VIRTQ_MAX_SIZE 256u /* the largest queue a device offers */

/* Descriptor flags (§2.7.5). */
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u

/* Layout in guest memory (little endian; x86 hosts only). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc");

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/*
 * Size of each area for a queue of `size` entries; with the event index
 * (VIRTIO_F_EVENT_IDX) each ring has one more 16-bit field at its end:
 * used_event after the avail ring, avail_event after the used ring.
 */
#define VIRTQ_DESC_BYTES(size) (16ull * (size))
#define VIRTQ_AVAIL_BYTES(size) (4ull + 2ull * (size))
#define VIRTQ_USED_BYTES(size) (4ull + 8ull * (size))
#define VIRTQ_EVENT_BYTES 2ull

struct virtq {
	/* Set by the driver through the transport while the queue is off. */
	uint16_t size;
	gpa_t desc_gpa, avail_gpa, used_gpa;
	bool indirect; /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */

	/* From virtq_enable() on: */
	bool enabled;
	bool broken;
	const char *why; /* why it broke, a literal */
	struct virtq_desc *desc;
	uint16_t *avail;          /* flags, idx, ring[size] */
	uint8_t *used;            /* flags, idx, ring[size] of virtq_used_elem */
	uint16_t last_avail;      /* next avail ring entry to take */
	uint16_t used_idx;        /* next used ring entry to fill */
	uint16_t signalled_used;  /* used_idx when the last interrupt was decided */
};

/*
 * A descriptor chain, translated: iov[0, nr_out) the buffers the device
 * reads (driver to device), then iov[nr_out, nr_out + nr_in) those it
 * writes. Zero-length descriptors are dropped.
 */
struct virtq_chain {
	uint16_t head;
	unsigned nr_out, nr_in;
	uint64_t out_len, in_len;
	struct iovec iov[VIRTQ_MAX_SIZE];
};

/* The queue as after a device reset: off, size `max_size`. */
void virtq_reset(struct virtq *vq, uint16_t max_size);

/*
 * Turns the queue on with the addresses and size the driver set: the
 * size a power of two up to VIRTQ_MAX_SIZE, each area aligned (§2.7:
 * 16, 2, 4) and entirely guest RAM. false, with vq->why, when not.
 */
bool virtq_enable(struct virtq *vq, const struct gmem *gm);

/*
 * Takes the next available chain into `c`. 1: a chain; 0: none
 * available (with the event index, avail_event then asks the driver to
 * notify at its next chain, and the ring is looked at once more so that
 * a chain added meanwhile is not missed); -EIO: the queue is broken (now or before; vq->why says
 * why): an avail index more than `size` ahead, a head or next index out
 * of range, a chain longer than the queue, a readable descriptor after a
 * writable one, a bad indirect table (nested, chained, empty, not a
 * whole number of descriptors, not in RAM, longer than the queue), or a
 * buffer outside guest RAM.
 */
int virtq_pop(struct virtq *vq, const struct gmem *gm, struct virtq_chain *c);

/* Returns chain `head` to the driver with `len` bytes written. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * After a batch of virtq_push(): whether the driver wants an interrupt
 * for what was returned since the last call (§2.7.7.2): no NO_INTERRUPT
 * flag, or with the event index, used_event passed.
 */
bool virtq_need_interrupt(struct virtq *vq);

/*
 * Helpers over a chain's iovecs. virtq_iov_read() copies `len` bytes
 * from offset `off` of the vector into dst; false when the vector is
 * shorter. virtq_iov_slice() describes bytes [off, off + len) of `src`
 * with at most `max` entries of `dst`: their number, or -1 when `src`
 * is shorter.
 */
bool virtq_iov_read(const struct iovec *iov, unsigned nr, uint64_t off, void *dst,
		    uint64_t len);
int virtq_iov_slice(const struct iovec *src, unsigned nr, uint64_t off, uint64_t len,
		    struct iovec *dst, unsigned max);

#endif

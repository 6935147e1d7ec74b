/*
 * virtio-blk (virtio 1.2 §5.2) over the PCI transport, on a host disk
 * (backend/disk.h): one request queue served by the device's I/O thread,
 * reads and writes straight between the disk and guest RAM.
 */
#ifndef SHALE_DEVICES_VIRTIO_BLK_H
#define SHALE_DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/disk.h"
#include "devices/virtio/queue.h"

struct vm;
struct pci_bus;
struct virtio_pci;

#define VIRTIO_BLK_ID_BYTES 20 /* GET_ID answers at most this much (§5.2.6) */
#define VIRTIO_BLK_QUEUE_SIZE 256u
#define VIRTIO_BLK_SIZE_MAX (1u * 1024 * 1024) /* bytes per segment */
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2) /* header and status too */
/* The data of one read or write, at most: seg_max segments of size_max. */
#define VIRTIO_BLK_REQUEST_MAX ((uint64_t)VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX)
#define VIRTIO_BLK_DISCARD_SEG_MAX 16u
/* WRITE_ZEROES is done this much at a time, a stopping VM checked between. */
#define VIRTIO_BLK_ZEROES_CHUNK (16u * 1024 * 1024)

/* Request types and status values (§5.2.6). */
#define VIRTIO_BLK_T_IN 0u
#define VIRTIO_BLK_T_OUT 1u
#define VIRTIO_BLK_T_FLUSH 4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_T_DISCARD 11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u
#define VIRTIO_BLK_S_OK 0u
#define VIRTIO_BLK_S_IOERR 1u
#define VIRTIO_BLK_S_UNSUPP 2u

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX (1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX (1ull << 2)
#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ull << 6)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)
#define VIRTIO_BLK_F_DISCARD (1ull << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ull << 14)

/* The configuration layout (§5.2.4), as far as this device fills it. */
#define VIRTIO_BLK_CFG_CAPACITY 0
#define VIRTIO_BLK_CFG_SIZE_MAX 8
#define VIRTIO_BLK_CFG_SEG_MAX 12
#define VIRTIO_BLK_CFG_BLK_SIZE 20
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN 44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG 52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP 56
#define VIRTIO_BLK_CFG_SIZE 60

struct virtio_blk {
	struct virtio_pci *vp;
	struct disk *disk;   /* the caller's; outlives the device */
	struct vm *vm;
	char id[VIRTIO_BLK_ID_BYTES]; /* the serial, NUL-padded */
	uint8_t config[VIRTIO_BLK_CFG_SIZE];
	struct virtq_chain chain; /* the request being served (I/O thread) */
};

/*
 * The device at 00:devnum.0 on `disk` with serial `serial` (up to 20
 * bytes; NULL: none). 0 or -errno with a message. virtio_blk_destroy()
 * also undoes a partial one.
 */
int virtio_blk_create(struct vm *vm, struct pci_bus *bus, unsigned devnum, struct disk *disk,
		      const char *serial, struct virtio_blk **out);
int virtio_blk_start(struct virtio_blk *blk);
void virtio_blk_destroy(struct virtio_blk *blk);

/*
 * Serves one request chain (for the tests and the queue hook): the
 * status byte and the used length, or -EIO when the chain is no
 * virtio-blk request at all (no header, no status byte): the driver's
 * fault, the device then needs a reset.
 */
int virtio_blk_request(struct virtio_blk *blk, const struct virtq_chain *c, uint32_t *used);

#endif

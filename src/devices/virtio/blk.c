/*
 * virtio-blk (virtio 1.2 §5.2). A request is a chain: a 16-byte header
 * the device reads (type, reserved, sector), data, and one status byte
 * the device writes last. Framing is free (§2.6.4): the header and data
 * may be split over descriptors in any way, so they are addressed as
 * byte ranges of the chain's readable and writable parts.
 */
#include "devices/virtio/blk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/pci.h"
#include "util/util.h"
#include "vmm/vm.h"

#define VIRTIO_ID_BLOCK 2
#define BLK_CLASS 0x018000 /* mass storage, other */
#define SECTOR_SHIFT 9

struct blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_discard {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Whether [sector, sector + bytes) lies on the disk. */
static bool in_disk(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
	uint64_t cap = blk->disk->capacity >> SECTOR_SHIFT;

	return sector <= cap && bytes >> SECTOR_SHIFT <= cap - sector;
}

static uint8_t do_rw(struct virtio_blk *blk, const struct virtq_chain *c, uint64_t sector,
		     bool write, uint32_t *done)
{
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint64_t off, len;
	int n, ret;

	/* Data: the readable bytes after the header, or the writable ones before the status. */
	if (write) {
		off = sizeof(struct blk_header);
		len = c->out_len - off;
		n = virtq_iov_slice(c->iov, c->nr_out, off, len, iov, VIRTQ_MAX_SIZE);
	} else {
		len = c->in_len - 1;
		n = virtq_iov_slice(c->iov + c->nr_out, c->nr_in, 0, len, iov, VIRTQ_MAX_SIZE);
	}
	/*
	 * At most what seg_max and size_max allow (Linux never sends more):
	 * the buffers may name the same guest pages again and again, and the
	 * VM's stop waits for a request in progress.
	 */
	if (n < 0 || len % DISK_SECTOR || len > VIRTIO_BLK_REQUEST_MAX ||
	    !in_disk(blk, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (write && blk->disk->readonly)
		return VIRTIO_BLK_S_IOERR;
	off = sector << SECTOR_SHIFT;
	ret = write ? disk_pwritev(blk->disk, iov, (unsigned)n, off)
		    : disk_preadv(blk->disk, iov, (unsigned)n, off);
	if (ret)
		return VIRTIO_BLK_S_IOERR;
	if (write) {
		vm_stat_add(&blk->vm->stats->block_writes, 1);
		vm_stat_add(&blk->vm->stats->block_write_bytes, len);
	} else {
		vm_stat_add(&blk->vm->stats->block_reads, 1);
		vm_stat_add(&blk->vm->stats->block_read_bytes, len);
		*done = (uint32_t)len;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * Zeroes in chunks: where the file system cannot zero a range, each is
 * written, and one request may name 16 times the whole disk. A stopping
 * VM's stop waits for this thread: the request fails between chunks.
 */
static int write_zeroes(struct virtio_blk *blk, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t n = MIN(len, (uint64_t)VIRTIO_BLK_ZEROES_CHUNK);
		int ret;

		if (vm_stopping(blk->vm))
			return -ECANCELED;
		ret = disk_write_zeroes(blk->disk, off, n);
		if (ret)
			return ret;
		off += n;
		len -= n;
	}
	return 0;
}

/* DISCARD and WRITE_ZEROES: a table of segments after the header. */
static uint8_t do_ranges(struct virtio_blk *blk, const struct virtq_chain *c, uint32_t type)
{
	uint64_t len = c->out_len - sizeof(struct blk_header);
	uint64_t nr = len / sizeof(struct blk_discard);
	bool zeroes = type == VIRTIO_BLK_T_WRITE_ZEROES;

	if (blk->disk->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!nr || len % sizeof(struct blk_discard) || nr > VIRTIO_BLK_DISCARD_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	for (uint64_t i = 0; i < nr; i++) {
		struct blk_discard seg;
		uint64_t bytes;
		int ret;

		if (!virtq_iov_read(c->iov, c->nr_out, sizeof(struct blk_header) + i * sizeof(seg),
				    &seg, sizeof(seg)))
			return VIRTIO_BLK_S_IOERR;
		bytes = (uint64_t)seg.num_sectors << SECTOR_SHIFT;
		/* Only WRITE_ZEROES defines a flag (unmap, bit 0), and it is a hint. */
		if ((seg.flags & ~(zeroes ? 1u : 0u)) || !in_disk(blk, seg.sector, bytes))
			return VIRTIO_BLK_S_UNSUPP;
		if (zeroes) {
			ret = write_zeroes(blk, seg.sector << SECTOR_SHIFT, bytes);
		} else {
			ret = disk_discard(blk->disk, seg.sector << SECTOR_SHIFT, bytes);
			/* Discarding is advice; a file system that cannot is no error. */
			if (ret == -EOPNOTSUPP)
				ret = 0;
		}
		if (ret)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

int virtio_blk_request(struct virtio_blk *blk, const struct virtq_chain *c, uint32_t *used)
{
	struct blk_header h;
	uint32_t done = 0;
	uint8_t status;

	if (c->out_len < sizeof(h) || c->in_len < 1 ||
	    !virtq_iov_read(c->iov, c->nr_out, 0, &h, sizeof(h)))
		return -EIO;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		status = do_rw(blk, c, h.sector, h.type == VIRTIO_BLK_T_OUT, &done);
		break;
	case VIRTIO_BLK_T_FLUSH:
		vm_stat_add(&blk->vm->stats->block_flushes, 1);
		status = disk_flush(blk->disk) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		struct iovec iov[VIRTQ_MAX_SIZE];
		uint64_t len = MIN(c->in_len - 1, (uint64_t)VIRTIO_BLK_ID_BYTES);
		int n = virtq_iov_slice(c->iov + c->nr_out, c->nr_in, 0, len, iov, VIRTQ_MAX_SIZE);
		uint64_t at = 0;

		for (int i = 0; i < n; i++) {
			memcpy(iov[i].iov_base, blk->id + at, iov[i].iov_len);
			at += iov[i].iov_len;
		}
		done = (uint32_t)len;
		status = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = do_ranges(blk, c, h.type);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	/* The status is the chain's last writable byte. */
	{
		const struct iovec *last = &c->iov[c->nr_out + c->nr_in - 1];

		((uint8_t *)last->iov_base)[last->iov_len - 1] = status;
	}
	*used = done + 1;
	return status;
}

static int64_t blk_serve(void *opaque, const struct virtq_chain *c)
{
	uint32_t used;

	if (virtio_blk_request(opaque, c, &used) < 0)
		return -1;
	return used;
}

static bool blk_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct virtio_blk *blk = vp->opaque;

	return virtio_pci_serve_chains(vp, q, &blk->chain, blk_serve, blk,
				       "a block request without header or status");
}

static void blk_config_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned size)
{
	struct virtio_blk *blk = vp->opaque;

	memcpy(data, blk->config + off, size);
}

static const struct virtio_dev_ops blk_ops = {
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
};

static void build_config(struct virtio_blk *blk)
{
	uint8_t *c = blk->config;
	uint64_t sectors = blk->disk->capacity >> SECTOR_SHIFT;
	uint32_t max_sectors = (uint32_t)MIN(sectors, (uint64_t)UINT32_MAX);

	memcpy(c + VIRTIO_BLK_CFG_CAPACITY, &sectors, 8);
	put32(c + VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX);
	put32(c + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	put32(c + VIRTIO_BLK_CFG_BLK_SIZE, DISK_SECTOR);
	put32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, max_sectors);
	put32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_DISCARD_SEG_MAX);
	put32(c + VIRTIO_BLK_CFG_DISCARD_ALIGN, 1);
	put32(c + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, max_sectors);
	put32(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, VIRTIO_BLK_DISCARD_SEG_MAX);
	c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 0;
}

int virtio_blk_create(struct vm *vm, struct pci_bus *bus, unsigned devnum, struct disk *disk,
		      const char *serial, struct virtio_blk **out)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	struct virtio_pci_config cfg = {
		.name = "virtio-blk",
		.device_type = VIRTIO_ID_BLOCK,
		.class_code = BLK_CLASS,
		.features = VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VIRTIO_BLK_F_SIZE_MAX |
			    VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH,
		.nr_queues = 1,
		.queue_size = VIRTIO_BLK_QUEUE_SIZE,
		.config_size = VIRTIO_BLK_CFG_SIZE,
	};

	*out = blk;
	if (!blk)
		return -ENOMEM;
	blk->disk = disk;
	blk->vm = vm;
	if (serial)
		memcpy(blk->id, serial, MIN(strlen(serial), sizeof(blk->id)));
	if (disk->readonly)
		cfg.features |= VIRTIO_BLK_F_RO;
	else
		cfg.features |= VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
	build_config(blk);
	if (!bus) /* the tests: the request path alone */
		return 0;
	return virtio_pci_create(vm, bus, devnum, &cfg, &blk_ops, blk, &blk->vp);
}

int virtio_blk_start(struct virtio_blk *blk)
{
	return virtio_pci_start(blk->vp);
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	if (!blk)
		return;
	virtio_pci_destroy(blk->vp);
	free(blk);
}

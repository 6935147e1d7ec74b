/*
 * The para-virtual block device: a file or host block device given with
 * --disk. Requests are whole sectors inside the device and move straight
 * between the backing file and guest memory (no copy through the VMM).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <shale/abi/hypercall.h>
#include <shale/abi/queue.h>

#include "backend/disk.h"
#include "pv/pv.h"
#include "util/util.h"
#include "vmm/vm.h"

int pv_block_open(struct pv_block *blk, const char *path, bool readonly)
{
	_Static_assert(SHALE_BLOCK_SECTOR == DISK_SECTOR, "one sector size");
	return disk_open(&blk->disk, path, readonly, "--disk");
}

void pv_block_close(struct pv_block *blk)
{
	disk_close(&blk->disk);
}

void pv_block_info(struct pv_guest *pv, struct shale_hc_block_info *arg)
{
	memset(arg, 0, sizeof(*arg));
	if (pv->block.disk.fd < 0) {
		arg->ret = SHALE_ENODEV;
		return;
	}
	arg->capacity = pv->block.disk.capacity;
	arg->sector_size = SHALE_BLOCK_SECTOR;
	arg->flags = pv->block.disk.readonly ? SHALE_BLOCK_F_READONLY : 0;
	arg->max_io = SHALE_BLOCK_IO_MAX;
	arg->ret = SHALE_OK;
}

int64_t pv_block_check(const struct pv_block *blk, uint64_t offset, uint64_t len, bool is_write)
{
	if (blk->disk.fd < 0)
		return SHALE_ENODEV;
	if (is_write && blk->disk.readonly)
		return SHALE_EROFS;
	if (offset % SHALE_BLOCK_SECTOR || len % SHALE_BLOCK_SECTOR || len > SHALE_BLOCK_IO_MAX)
		return SHALE_EINVAL;
	if (offset > blk->disk.capacity || len > blk->disk.capacity - offset)
		return SHALE_ENOSPC;
	return SHALE_OK;
}

int64_t pv_block_transfer(const struct pv_block *blk, uint8_t *buf, uint64_t offset,
			  uint64_t len, bool is_write)
{
	struct iovec iov = { buf, len };
	int ret = is_write ? disk_pwritev(&blk->disk, &iov, 1, offset)
			   : disk_preadv(&blk->disk, &iov, 1, offset);

	/* -EIO also when the file shrank under us. */
	return ret ? SHALE_EIO : (int64_t)len;
}

void pv_block_rw(struct pv_guest *pv, struct shale_hc_block_io *arg, bool is_write)
{
	uint8_t *buf;

	arg->ret = pv_block_check(&pv->block, arg->offset, arg->len, is_write);
	if (arg->ret)
		return;
	/* A read writes guest memory, a write reads it. */
	buf = pv_guest_ptr(pv, arg->data, arg->len, !is_write);
	if (buf)
		pv_block_account(pv, is_write ? SHALE_OP_WRITE : SHALE_OP_READ, arg->len);
	arg->ret = buf ? pv_block_transfer(&pv->block, buf, arg->offset, arg->len, is_write)
		       : SHALE_EFAULT;
}

void pv_block_account(struct pv_guest *pv, unsigned op, uint64_t len)
{
	struct vm_stats *st = pv->vm->stats;

	switch (op) {
	case SHALE_OP_READ:
		vm_stat_add(&st->block_reads, 1);
		vm_stat_add(&st->block_read_bytes, len);
		break;
	case SHALE_OP_WRITE:
		vm_stat_add(&st->block_writes, 1);
		vm_stat_add(&st->block_write_bytes, len);
		break;
	case SHALE_OP_FLUSH:
		vm_stat_add(&st->block_flushes, 1);
		break;
	}
}

void pv_block_flush(struct pv_guest *pv, struct shale_hc_status *arg)
{
	if (pv->block.disk.fd >= 0)
		pv_block_account(pv, SHALE_OP_FLUSH, 0);
	if (pv->block.disk.fd < 0)
		arg->ret = SHALE_ENODEV;
	else if (pv->block.disk.readonly)
		arg->ret = SHALE_OK;
	else
		arg->ret = disk_flush(&pv->block.disk) ? SHALE_EIO : SHALE_OK;
}

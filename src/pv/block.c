/*
 * The para-virtual block device: a file or host block device given with
 * --disk. Requests are whole sectors inside the device and move straight
 * between the backing file and guest memory (no copy through the VMM).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shale/abi/hypercall.h>
#include <shale/abi/queue.h>

#include "backend/disk.h"
#include "pv/pv.h"
#include "util/util.h"
#include "vmm/vm.h"

int pv_block_open(struct pv_block *blk, const char *path, bool readonly)
{
	struct disk d;
	int ret;

	_Static_assert(SHALE_BLOCK_SECTOR == DISK_SECTOR, "one sector size");
	ret = disk_open(&d, path, readonly, "--disk");
	if (ret)
		return ret;
	blk->fd = d.fd;
	blk->capacity = d.capacity;
	blk->readonly = readonly;
	return 0;
}

void pv_block_close(struct pv_block *blk)
{
	if (blk->fd >= 0)
		close(blk->fd);
	blk->fd = -1;
}

void pv_block_info(struct pv_guest *pv, struct shale_hc_block_info *arg)
{
	memset(arg, 0, sizeof(*arg));
	if (pv->block.fd < 0) {
		arg->ret = SHALE_ENODEV;
		return;
	}
	arg->capacity = pv->block.capacity;
	arg->sector_size = SHALE_BLOCK_SECTOR;
	arg->flags = pv->block.readonly ? SHALE_BLOCK_F_READONLY : 0;
	arg->max_io = SHALE_BLOCK_IO_MAX;
	arg->ret = SHALE_OK;
}

int64_t pv_block_check(const struct pv_block *blk, uint64_t offset, uint64_t len, bool is_write)
{
	if (blk->fd < 0)
		return SHALE_ENODEV;
	if (is_write && blk->readonly)
		return SHALE_EROFS;
	if (offset % SHALE_BLOCK_SECTOR || len % SHALE_BLOCK_SECTOR || len > SHALE_BLOCK_IO_MAX)
		return SHALE_EINVAL;
	if (offset > blk->capacity || len > blk->capacity - offset)
		return SHALE_ENOSPC;
	return SHALE_OK;
}

int64_t pv_block_transfer(const struct pv_block *blk, uint8_t *buf, uint64_t offset,
			  uint64_t len, bool is_write)
{
	uint64_t done = 0;

	while (done < len) {
		off_t off = (off_t)(offset + done);
		ssize_t n = is_write ? pwrite(blk->fd, buf + done, len - done, off)
				     : pread(blk->fd, buf + done, len - done, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return SHALE_EIO; /* n == 0: the file shrank under us */
		done += (uint64_t)n;
	}
	return (int64_t)done;
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
	if (pv->block.fd >= 0)
		pv_block_account(pv, SHALE_OP_FLUSH, 0);
	if (pv->block.fd < 0)
		arg->ret = SHALE_ENODEV;
	else if (pv->block.readonly)
		arg->ret = SHALE_OK;
	else
		arg->ret = fdatasync(pv->block.fd) ? SHALE_EIO : SHALE_OK;
}
